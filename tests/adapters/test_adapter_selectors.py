"""zloop.adapters.selectors: the libevent-style Reactor and the selectors-compatible ZMQSelector."""

from __future__ import annotations

import selectors
import socket as pysocket
from typing import Any

import pytest
from zl_testing import DEADLINE

import zloop
from zloop.adapters._core import Op
from zloop.adapters.selectors import Reactor, ZMQSelector

FLAVOURS = [
    pytest.param("zloop", id="zloop"),
    pytest.param("pyzmq", id="pyzmq", marks=pytest.mark.interop),
]


def _pair(context: Any, name: str) -> tuple[Any, Any]:
    pull, push = context.socket(zloop.PULL), context.socket(zloop.PUSH)
    for s in (pull, push):
        s.setsockopt(zloop.LINGER, 0)
    pull.bind(f"inproc://sel-{name}")
    push.connect(f"inproc://sel-{name}")
    return pull, push


@pytest.fixture(params=FLAVOURS)
def fctx(request: pytest.FixtureRequest, ctx: Any, zctx: Any) -> Any:
    return ctx if request.param == "zloop" else zctx


def _run_until(reactor: Reactor, done: Any) -> None:
    import time

    end = time.monotonic() + DEADLINE
    while not done():
        assert time.monotonic() < end, "reactor did not get there in time"
        reactor.run_once(timeout=0.1)


def test_reactor_callback_fires_while_messages_pending(fctx: Any) -> None:
    """EV_PERSIST-like: one message read per callback, called again while EVENTS has POLLIN."""
    pull, push = _pair(fctx, "persist")
    reactor = Reactor()
    got: list[bytes] = []
    calls = [0]

    def on_readable(sock: Any, events: int) -> None:
        calls[0] += 1
        assert events & zloop.POLLIN
        got.append(sock.recv(zloop.NOBLOCK))  # only one per call: the reactor calls again

    reactor.register(pull, on_readable)
    for i in range(5):
        push.send(b"%d" % i)
    _run_until(reactor, lambda: len(got) == 5)
    for i in range(5, 8):  # later messages wake it again
        push.send(b"%d" % i)
    _run_until(reactor, lambda: len(got) == 8)
    reactor.unregister(pull)
    reactor.close()
    assert got == [b"%d" % i for i in range(8)]
    assert calls[0] == 8


def test_reactor_mixes_zmq_sockets_plain_sockets_and_timers(fctx: Any) -> None:
    pull, push = _pair(fctx, "mix")
    left, right = pysocket.socketpair()
    reactor = Reactor()
    log: list[Any] = []

    def on_zmq(sock: Any, events: int) -> None:
        log.append(("zmq", sock.recv(zloop.NOBLOCK)))
        if len(log) == 3:
            reactor.stop()

    def on_plain(sock: Any, events: int) -> None:
        log.append(("fd", sock.recv(16)))

    reactor.register(pull, on_zmq)
    reactor.register(left, on_plain)
    reactor.call_later(0.001, lambda: right.send(b"ping"))
    reactor.call_later(0.002, lambda: push.send(b"one"))
    reactor.call_soon(lambda: push.send(b"zero"))
    guard = reactor.call_later(DEADLINE, reactor.stop)
    try:
        reactor.run()
    finally:
        guard.cancel()
        reactor.close()
        left.close()
        right.close()
    assert sorted(log) == sorted([("zmq", b"zero"), ("fd", b"ping"), ("zmq", b"one")])


def test_reactor_submit_and_cancel_give_message_back(ctx: zloop.Context) -> None:
    pull, push = _pair(ctx, "submit")
    reactor = Reactor()
    results: list[Any] = []
    pending = reactor.submit(pull, Op.recv_multipart(), lambda v, e: results.append((v, e)))
    reactor.run_once(timeout=0)
    push.send_multipart([b"a", b"b"])
    watcher = reactor.watcher(pull)
    watcher.refresh()  # served: the callback is scheduled but has not run
    assert reactor.cancel(pull, pending) == "reclaimed"
    reactor.submit(pull, Op.recv_multipart(), lambda v, e: results.append((v, e)))
    _run_until(reactor, lambda: bool(results))
    reactor.close()
    assert results == [([b"a", b"b"], None)]


def test_zmqselector_is_level_triggered_for_selectors_code(fctx: Any) -> None:
    """Code written for ``selectors`` (one recv per select) sees every message."""
    pull, push = _pair(fctx, "selector")
    left, right = pysocket.socketpair()
    sel = ZMQSelector()
    sel.register(pull, selectors.EVENT_READ, "zmq")
    sel.register(left, selectors.EVENT_READ, "plain")
    assert sel.select(0) == []
    for i in range(3):
        push.send(b"%d" % i)
    right.send(b"x")
    got: list[Any] = []
    while len(got) < 4:
        ready = sel.select(DEADLINE)
        assert ready, "select timed out"
        for key, mask in ready:
            assert mask == selectors.EVENT_READ
            if key.data == "zmq":
                got.append(key.fileobj.recv(zloop.NOBLOCK))  # one per select: level-triggered
            else:
                got.append(key.fileobj.recv(16))
    assert sorted(got) == sorted([b"0", b"1", b"2", b"x"])
    assert sel.select(0) == []
    assert sel.get_key(pull).data == "zmq"
    assert set(sel.get_map()) == {pull, left}
    sel.unregister(pull)
    sel.close()
    left.close()
    right.close()


def test_zmqselector_blocks_until_message_from_other_thread(fctx: Any) -> None:
    import threading

    pull, push = _pair(fctx, "selector-thread")
    sel = ZMQSelector()
    sel.register(pull, selectors.EVENT_READ)
    go = threading.Event()

    def sender() -> None:
        go.wait(DEADLINE)
        push.send(b"late")

    thread = threading.Thread(target=sender)
    thread.start()
    try:
        assert sel.select(0) == []
        go.set()
        ready = sel.select(DEADLINE)
    finally:
        go.set()
        thread.join(DEADLINE)
    assert [(k.fileobj, m) for k, m in ready] == [(pull, selectors.EVENT_READ)]
    assert pull.recv(zloop.NOBLOCK) == b"late"
    sel.close()


def test_zmqselector_write_interest(fctx: Any) -> None:
    _pull, push = _pair(fctx, "selector-write")
    sel = ZMQSelector()
    sel.register(push, selectors.EVENT_WRITE)
    assert [(k.fileobj, m) for k, m in sel.select(DEADLINE)] == [(push, selectors.EVENT_WRITE)]
    sel.close()
