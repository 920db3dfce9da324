from __future__ import annotations

import logging
import queue
import socket
import threading
from typing import Any

import pytest

from zloop.io.reactor import IOThread


def _ask(io: IOThread, fn: Any) -> Any:
    """Run fn in the I/O thread and return its result."""
    box: queue.SimpleQueue[Any] = queue.SimpleQueue()
    io.post(lambda: box.put(fn()))
    return box.get(timeout=5)


def test_post_runs_in_io_thread(io: IOThread) -> None:
    assert _ask(io, io.in_io_thread) is True
    assert not io.in_io_thread()
    assert _ask(io, threading.current_thread).name == "zloop-test-io"


def test_timers_fire_in_order_and_cancel(io: IOThread) -> None:
    fired: queue.SimpleQueue[str] = queue.SimpleQueue()

    def arm() -> None:
        io.call_later(0.03, lambda: fired.put("late"))
        io.call_later(0.0, lambda: fired.put("now"))
        io.call_later(0.01, lambda: fired.put("soon"))
        io.call_later(0.02, lambda: fired.put("cancelled")).cancel()

    io.post(arm)
    assert [fired.get(timeout=5) for _ in range(3)] == ["now", "soon", "late"]
    assert _ask(io, lambda: 1) == 1
    assert fired.empty()


def test_many_cancelled_timers_do_not_accumulate(io: IOThread) -> None:
    def churn() -> int:
        for _ in range(10_000):
            io.call_later(60, lambda: None).cancel()
        return len(io._timers)

    assert _ask(io, churn) < 1000


def test_reader_and_writer_callbacks(io: IOThread) -> None:
    a, b = socket.socketpair()
    a.setblocking(False)
    got: queue.SimpleQueue[bytes] = queue.SimpleQueue()
    writable: queue.SimpleQueue[bool] = queue.SimpleQueue()

    def on_read() -> None:
        got.put(a.recv(100))

    def on_write() -> None:
        io.remove_writer(a.fileno())
        writable.put(True)

    io.post(lambda: io.add_reader(a.fileno(), on_read))
    io.post(lambda: io.add_writer(a.fileno(), on_write))
    assert writable.get(timeout=5)
    b.send(b"hello")
    assert got.get(timeout=5) == b"hello"
    _ask(io, lambda: io.remove_fd(a.fileno()))
    a.close()
    b.close()


def test_exception_in_callback_is_logged_and_loop_survives(
    io: IOThread, caplog: pytest.LogCaptureFixture
) -> None:
    def boom() -> None:
        raise RuntimeError("boom")

    # Every error is logged with its traceback; at most one per minute above DEBUG (zloop.io.logs),
    # so the record at ERROR may already have been spent by an earlier test of this process.
    timers_ran: queue.SimpleQueue[bool] = queue.SimpleQueue()

    def schedule() -> None:
        io.call_later(0, boom)
        io.call_later(0, lambda: timers_ran.put(True))  # fires after the boom timer

    with caplog.at_level(logging.DEBUG, logger="zloop"):
        io.post(boom)
        io.post(schedule)
        assert timers_ran.get(timeout=5)
        assert _ask(io, lambda: 42) == 42
    assert sum("boom" in r.exc_text for r in caplog.records if r.exc_text) == 2
    assert io.is_running()


class _Lingerer:
    def __init__(self, io: IOThread) -> None:
        self.io = io
        self.asked = threading.Event()

    def io_stop(self) -> None:
        self.asked.set()

    def done(self) -> None:
        self.io.unregister(self)


def test_stop_waits_for_registered_objects() -> None:
    io = IOThread("stop-test")
    io.start()
    obj = _Lingerer(io)
    io.post(lambda: io.register(obj))
    assert _ask(io, io.load) == 1
    io.stop()
    assert obj.asked.wait(5)
    io.join(0.05)
    assert io.is_running()  # still lingering
    io.post(obj.done)
    io.join(5)
    assert io.stopped
    io.post(lambda: None)  # harmless after the end
