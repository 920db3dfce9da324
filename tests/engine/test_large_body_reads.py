"""Who reads a large frame body, and when (zloop/io/engine.py, "Input" and "Reads in the
application thread").

* A body with ``DIRECT_MIN`` bytes or more still to come is read straight into its own buffer,
  by the I/O thread only. When a full read through the shared buffer begins such a body, the I/O
  thread reads its rest in the same turn (``StreamEngine._rest_ready``), not after another
  reactor round.
* A shorter rest goes through a buffer whichever thread reads, so the thread waiting in ``recv``
  reads it too (``app_read`` does not give up on it: a 64 KiB stream is read by the waiting
  thread, not handed to the I/O thread at every body that straddles two reads).

Each test holds the receiving context's I/O thread in a posted command while the sender (its own
context) writes the whole message into the kernel: ipc, whose send buffer zloop raises to 1 MiB,
holds it without the receiver reading. What the held thread or the waiting thread then reads is
therefore known exactly.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from zl_testing import DEADLINE, endpoint_for, with_deadlines

import zloop
from zloop.io.engine import APP_READ_BUSY, APP_READ_GOT, DIRECT_MIN, StreamEngine
from zloop.io.reactor import RECV_BUFFER_SIZE, IOThread
from zloop.socket import _app_read_buffer


class _Held:
    """The receiving context's I/O thread, held in a command until :meth:`release`."""

    def __init__(self, engine: StreamEngine) -> None:
        self._release = threading.Event()
        started = threading.Event()

        def hold() -> None:
            started.set()
            # Longer than any receive of these tests waits: a receive that needs this thread
            # fails (Again) before the thread would go on by itself.
            self._release.wait(DEADLINE * 4)

        engine._io.post(hold)
        assert started.wait(DEADLINE), "the I/O thread did not run the command"

    def release(self) -> None:
        self._release.set()


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[zloop.Socket, Callable[[list[bytes]], None]]]:
    """A PULL socket with one ipc connection (handshake done) and a function that sends a
    message from the peer (its own context) and returns once the whole message is in the kernel."""
    ctx = zloop.Context()
    peer_ctx = zloop.Context()
    pull = with_deadlines(ctx.socket(zloop.PULL))
    pull.bind(endpoint_for("ipc", tmp_path, "large-reads"))
    push = with_deadlines(peer_ctx.socket(zloop.PUSH))
    push.connect(pull.last_endpoint.decode())
    push.send(b"hello")
    assert pull.recv() == b"hello"

    def send_whole(frames: list[bytes]) -> None:
        push.send_multipart(frames)
        push.close(linger=int(DEADLINE * 1000))  # returns once everything is written
        peer_ctx.term()

    try:
        yield pull, send_whole
    finally:
        if not push.closed:
            push.close(linger=0)
            peer_ctx.term()
        pull.close(linger=0)
        ctx.term()


def _engine(pull: zloop.Socket) -> StreamEngine:
    found = pull._app_reader()
    assert found is not None
    return found[0]


def test_a_full_read_that_begins_a_large_body_reads_its_rest_at_once(
    pair: tuple[zloop.Socket, Callable[[list[bytes]], None]], monkeypatch: pytest.MonkeyPatch
) -> None:
    pull, send_whole = pair
    turns = [0]  # the I/O thread's reactor turns (one _run_timers each)
    reads: list[tuple[int, int]] = []  # (turn, body bytes still to come) after each read
    done = threading.Event()
    run_timers = IOThread._run_timers
    read_events = StreamEngine._read_events

    engine = _engine(pull)
    # Only this connection's engine and I/O thread count: other contexts of the process (an
    # earlier test's, not yet collected) may still turn and read meanwhile.

    def counting_turns(self: IOThread) -> float | None:
        if self is engine._io:
            turns[0] += 1
        return run_timers(self)

    def recording_reads(self: StreamEngine) -> list[Any]:
        events = read_events(self)
        if self is engine:
            reads.append((turns[0], self._conn.large_body_rest()))
            if events:
                done.set()
        return events

    monkeypatch.setattr(IOThread, "_run_timers", counting_turns)
    monkeypatch.setattr(StreamEngine, "_read_events", recording_reads)
    body = os.urandom(RECV_BUFFER_SIZE + DIRECT_MIN + 1000)
    held = _Held(engine)
    try:
        send_whole([body])
    finally:
        held.release()
    # The released thread's first read fills the shared buffer and begins the body, whose rest
    # (more than DIRECT_MIN) is in the kernel: a second read in that same turn takes all of it.
    assert done.wait(DEADLINE), "the I/O thread did not read the message"
    assert pull.recv() == body
    (turn, rest), (turn_after, rest_after) = reads[:2]
    assert rest == DIRECT_MIN + 1000 + 9  # 9: the long frame header the first read took
    assert (turn_after, rest_after) == (turn, 0)


def test_the_waiting_thread_reads_a_short_rest_of_a_large_body(
    pair: tuple[zloop.Socket, Callable[[list[bytes]], None]],
) -> None:
    pull, send_whole = pair
    # One read of the waiting thread's buffer ends inside the second body, with less than
    # DIRECT_MIN of it to come: that rest is the waiting thread's to read too.
    head = os.urandom(RECV_BUFFER_SIZE - 30_000)
    body = os.urandom(70_000)
    held = _Held(_engine(pull))
    try:
        send_whole([head, body])
        # The I/O thread is held: the message arrives only if this thread reads all of it.
        pull.rcvtimeo = int(DEADLINE * 1000)
        assert pull.recv_multipart() == [head, body]
    finally:
        held.release()


def test_a_long_rest_is_still_left_to_the_io_thread(
    pair: tuple[zloop.Socket, Callable[[list[bytes]], None]],
) -> None:
    pull, send_whole = pair
    body = os.urandom(RECV_BUFFER_SIZE + DIRECT_MIN + 1000)
    engine = _engine(pull)
    held = _Held(engine)
    try:
        send_whole([body])
        pull.rcvtimeo = 0  # one look: a NOBLOCK recv does not read the connection
        with pytest.raises(zloop.Again):
            pull.recv()
        # What a waiting recv would do first: read once, which begins the body; its rest is
        # DIRECT_MIN or more, so the next read is the I/O thread's.
        found = pull._app_reader()
        assert found is not None
        assert engine.app_read(_app_read_buffer(), found[1]) == APP_READ_GOT
        assert engine.reads_body_directly()
        assert engine.app_read(_app_read_buffer(), found[1]) == APP_READ_BUSY
    finally:
        held.release()
    pull.rcvtimeo = int(DEADLINE * 1000)
    assert pull.recv() == body
