"""``zloop.poll``, ``zloop.Poller`` and ``zloop.select``: level-triggered like ``zmq_poll``.

Timeouts are milliseconds (select: seconds); None and -1 wait for ever. Items may be zloop sockets,
pyzmq sockets (duck-typed by getsockopt + FD), raw fds and objects with ``fileno()``. Only lower
bounds are asserted on timing.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from engine_helpers import (
    DEADLINE,
    NOBLOCK,
    POLLIN,
    POLLOUT,
    Pair,
    Worker,
    drain,
    fill,
)

import zloop

_MS = int(DEADLINE * 1000)


def _inproc(ctx: zloop.Context, name: str, a: int, b: int) -> tuple[zloop.Socket, zloop.Socket]:
    x = ctx.socket(a)
    y = ctx.socket(b)
    x.bind(f"inproc://{name}")
    y.connect(f"inproc://{name}")
    return x, y


@pytest.fixture
def raw_pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    yield a, b
    a.close()
    b.close()


class _Tripwire:
    """A duck-typed socket delegating to a real one, that sets ``event`` the first time its EVENTS
    is read: poll's first pass reads EVENTS before it blocks, so a thread waiting on ``event``
    sends only once the poll is under way (no sleeps)."""

    def __init__(self, sock: zloop.Socket, event: threading.Event) -> None:
        self._sock = sock
        self._event = event

    @property
    def FD(self) -> int:
        return self._sock.FD

    def getsockopt(self, option: int) -> Any:
        value = self._sock.getsockopt(option)
        if option == zloop.EVENTS:
            self._event.set()
        return value


def _send_when(event: threading.Event, sock: zloop.Socket, data: bytes) -> Worker:
    def run() -> None:
        assert event.wait(DEADLINE), "the poll never read EVENTS"
        sock.send(data)

    worker = Worker(run)
    worker.start()
    return worker


# -- level-triggered -------------------------------------------------------------------------------


def test_poll_is_level_triggered(pair: Pair) -> None:
    """Three queued messages: ready on three consecutive polls while one is received each time,
    and polling again without receiving reports it again (the poll consumed nothing)."""
    s, r = pair.sender, pair.receiver
    drain(r)
    for i in range(3):
        s.send(b"%d" % i)
    # inproc: all three are queued already, so a zero timeout must do; tcp/ipc: may be in flight.
    first = 0 if pair.transport == "inproc" else _MS
    for i in range(3):
        assert zloop.poll([(r, POLLIN)], first) == [(r, POLLIN)]
        assert zloop.poll([(r, POLLIN)], 0) == [(r, POLLIN)], "level-triggered: still ready"
        assert r.recv(NOBLOCK) == b"%d" % i
    assert zloop.poll([(r, POLLIN)], 0) == []


def test_poller_is_level_triggered(pair: Pair) -> None:
    s, r = pair.sender, pair.receiver
    drain(r)
    poller = zloop.Poller()
    poller.register(r, POLLIN)
    for i in range(3):
        s.send(b"%d" % i)
    first = 0 if pair.transport == "inproc" else _MS
    for i in range(3):
        assert poller.poll(first) == [(r, POLLIN)]
        assert poller.poll(0) == [(r, POLLIN)]
        assert r.recv(NOBLOCK) == b"%d" % i
    assert poller.poll(0) == []


# -- timeouts -------------------------------------------------------------------------------------


def test_poll_timeout_is_milliseconds(ctx: zloop.Context) -> None:
    pull = ctx.socket(zloop.PULL)
    pull.bind("inproc://timeout")
    start = time.monotonic()
    assert zloop.poll([(pull, POLLIN)], timeout=50) == []
    assert time.monotonic() - start >= 0.040


def test_poller_timeout_is_milliseconds(ctx: zloop.Context) -> None:
    pull = ctx.socket(zloop.PULL)
    pull.bind("inproc://ptimeout")
    poller = zloop.Poller()
    poller.register(pull, POLLIN)
    start = time.monotonic()
    assert poller.poll(50) == []
    assert time.monotonic() - start >= 0.040


def test_poll_zero_timeout_returns_at_once(ctx: zloop.Context) -> None:
    pull = ctx.socket(zloop.PULL)
    pull.bind("inproc://zero")
    assert zloop.poll([(pull, POLLIN)], 0) == []
    assert zloop.poll([], 0) == []


@pytest.mark.parametrize("forever", [None, -1])
@pytest.mark.parametrize("api", ["poll", "Poller"])
def test_poll_forever_waits_for_a_later_send(
    ctx: zloop.Context, forever: int | None, api: str
) -> None:
    push, pull = _inproc(ctx, f"forever-{api}-{forever}", zloop.PUSH, zloop.PULL)
    polling = threading.Event()
    item = _Tripwire(pull, polling)
    worker = _send_when(polling, push, b"late")
    if api == "poll":
        ready = zloop.poll([(item, POLLIN)], forever)
    else:
        poller = zloop.Poller()
        poller.register(item, POLLIN)
        ready = poller.poll(forever)
    worker.join_checked()
    assert ready == [(item, POLLIN)]
    assert pull.recv(NOBLOCK) == b"late"


def test_select_forever_waits_for_a_later_send(ctx: zloop.Context) -> None:
    push, pull = _inproc(ctx, "select-forever", zloop.PUSH, zloop.PULL)
    polling = threading.Event()
    item = _Tripwire(pull, polling)
    worker = _send_when(polling, push, b"late")
    assert zloop.select([item], [], [], None) == ([item], [], [])
    worker.join_checked()
    assert pull.recv(NOBLOCK) == b"late"


# -- raw fds and fileno() objects ---------------------------------------------------------------------


def test_poll_mixes_sockets_raw_fds_and_fileno_objects(
    ctx: zloop.Context, raw_pair: tuple[socket.socket, socket.socket]
) -> None:
    a, b = raw_pair
    push, pull = _inproc(ctx, "mixed", zloop.PUSH, zloop.PULL)
    items: list[tuple[Any, int]] = [(pull, POLLIN), (a, POLLIN), (b.fileno(), POLLIN)]
    assert zloop.poll(items, 0) == []

    b.send(b"ping")  # a (an object with fileno()) becomes readable: reported by fd, as pyzmq
    assert zloop.poll(items, _MS) == [(a.fileno(), POLLIN)]
    push.send(b"zmq")
    assert dict(zloop.poll(items, 0)) == {pull: POLLIN, a.fileno(): POLLIN}
    a.recv(16)
    assert zloop.poll(items, 0) == [(pull, POLLIN)]
    pull.recv()
    assert zloop.poll(items, 0) == []

    # POLLOUT on a raw fd, reported under the int it was registered with.
    assert zloop.poll([(b.fileno(), POLLOUT)], 0) == [(b.fileno(), POLLOUT)]


def test_blocking_poll_woken_by_a_raw_fd(
    ctx: zloop.Context, raw_pair: tuple[socket.socket, socket.socket]
) -> None:
    a, b = raw_pair
    pull = ctx.socket(zloop.PULL)
    pull.bind("inproc://raw-wake")

    def write() -> None:
        b.send(b"x")

    # The raw fd becomes ready while poll blocks; the zloop socket never does.
    poller = zloop.Poller()
    poller.register(pull, POLLIN)
    poller.register(a.fileno(), POLLIN)
    worker = Worker(write)
    worker.start()
    assert poller.poll(_MS) == [(a.fileno(), POLLIN)]
    worker.join_checked()


def test_poll_rejects_unpollable_items() -> None:
    with pytest.raises(TypeError):
        zloop.poll([(object(), POLLIN)], 0)
    poller = zloop.Poller()
    with pytest.raises(TypeError):
        poller.register(object(), POLLIN)


# -- Poller registration -----------------------------------------------------------------------------


def test_poller_register_modify_unregister(ctx: zloop.Context) -> None:
    push, pull = _inproc(ctx, "register", zloop.PUSH, zloop.PULL)
    push.send(b"x")
    poller = zloop.Poller()
    poller.register(push, POLLIN)  # a PUSH is never readable
    poller.register(pull)  # default: POLLIN | POLLOUT
    assert push in poller
    assert pull in poller
    assert dict(poller.poll(0)) == {pull: POLLIN}

    poller.modify(push, POLLOUT)
    assert dict(poller.poll(0)) == {push: POLLOUT, pull: POLLIN}
    poller.register(push, POLLIN | POLLOUT)  # register again = modify
    assert dict(poller.poll(0)) == {push: POLLOUT, pull: POLLIN}
    assert len(poller.sockets) == 2

    poller.unregister(pull)
    assert pull not in poller
    assert poller.poll(0) == [(push, POLLOUT)]
    with pytest.raises(KeyError):
        poller.unregister(pull)

    poller.register(push, 0)  # flags 0 unregisters
    assert push not in poller
    assert poller.sockets == []
    poller.register(pull, 0)  # and is a no-op for an unknown socket
    assert pull not in poller


def test_poller_unregister_keeps_the_others(
    ctx: zloop.Context, raw_pair: tuple[socket.socket, socket.socket]
) -> None:
    a, b = raw_pair
    push, pull = _inproc(ctx, "unreg", zloop.PUSH, zloop.PULL)
    push.send(b"x")
    b.send(b"y")
    poller = zloop.Poller()
    for item in (push, pull, a):
        poller.register(item, POLLIN)
    poller.unregister(push)
    assert dict(poller.poll(0)) == {pull: POLLIN, a.fileno(): POLLIN}
    poller.unregister(pull)
    assert dict(poller.poll(0)) == {a.fileno(): POLLIN}


def test_dict_of_poller_poll(ctx: zloop.Context) -> None:
    push, pull = _inproc(ctx, "dict", zloop.PUSH, zloop.PULL)
    a, b = _inproc(ctx, "dict-pair", zloop.PAIR, zloop.PAIR)
    push.send(b"x")
    b.send(b"y")
    poller = zloop.Poller()
    poller.register(pull, POLLIN)
    poller.register(a, POLLIN | POLLOUT)
    poller.register(push, POLLOUT)
    events = dict(poller.poll(_MS))
    assert events == {pull: POLLIN, a: POLLIN | POLLOUT, push: POLLOUT}
    assert events.get(pull) == POLLIN
    assert pull.recv() == b"x"


# -- POLLOUT --------------------------------------------------------------------------------------------


def test_pollout_reporting(ctx: zloop.Context) -> None:
    push = ctx.socket(zloop.PUSH)
    push.bind("inproc://pollout")
    push.sndhwm = 2
    assert zloop.poll([(push, POLLOUT)], 0) == []  # no peer: a PUSH cannot send
    pull = ctx.socket(zloop.PULL)
    pull.rcvhwm = 2
    pull.connect("inproc://pollout")
    assert zloop.poll([(push, POLLOUT)], _MS) == [(push, POLLOUT)]
    assert zloop.poll([(push, POLLIN | POLLOUT)], 0) == [(push, POLLOUT)]

    sent = fill(push, b"m")
    assert zloop.poll([(push, POLLOUT)], 0) == []
    start = time.monotonic()
    assert zloop.poll([(push, POLLOUT)], 30) == []
    assert time.monotonic() - start >= 0.020

    for _ in range(sent):
        pull.recv(NOBLOCK)
    assert zloop.poll([(push, POLLOUT)], _MS) == [(push, POLLOUT)]


def test_blocking_poll_woken_by_pollout(ctx: zloop.Context) -> None:
    """A full PUSH is polled for POLLOUT in this thread; another thread drains the PULL."""
    push = ctx.socket(zloop.PUSH)
    pull = ctx.socket(zloop.PULL)
    push.sndhwm = pull.rcvhwm = 3
    push.bind("inproc://pollout-wake")
    pull.connect("inproc://pollout-wake")
    sent = fill(push, b"m")
    polling = threading.Event()
    item = _Tripwire(push, polling)

    def drain_later() -> None:
        assert polling.wait(DEADLINE)
        pull.rcvtimeo = _MS
        for _ in range(sent):
            pull.recv()

    worker = Worker(drain_later)
    worker.start()
    assert zloop.poll([(item, POLLOUT)], _MS) == [(item, POLLOUT)]
    worker.join_checked()


# -- select ------------------------------------------------------------------------------------------


def test_select_uses_seconds(ctx: zloop.Context) -> None:
    push, pull = _inproc(ctx, "select", zloop.PUSH, zloop.PULL)
    start = time.monotonic()
    assert zloop.select([pull], [], [], 0.05) == ([], [], [])
    assert time.monotonic() - start >= 0.040
    assert zloop.select([pull], [push], [], 0) == ([], [push], [])
    push.send(b"x")
    assert zloop.select([pull], [push], [], 0) == ([pull], [push], [])
    assert zloop.select([pull, push], [], [], 1.0) == ([pull], [], [])
    pull.recv()


def test_select_with_raw_fds(
    ctx: zloop.Context, raw_pair: tuple[socket.socket, socket.socket]
) -> None:
    a, b = raw_pair
    pull = ctx.socket(zloop.PULL)
    pull.bind("inproc://select-raw")
    b.send(b"x")
    assert zloop.select([pull, a], [b.fileno()], [], 0) == ([a.fileno()], [b.fileno()], [])


# -- pyzmq sockets -----------------------------------------------------------------------------------


@pytest.fixture
def pyzmq_pair() -> Iterator[tuple[Any, Any]]:
    zmq = pytest.importorskip("zmq")
    zctx = zmq.Context()
    push = zctx.socket(zmq.PUSH)
    pull = zctx.socket(zmq.PULL)
    for sock in (push, pull):
        sock.linger = 0
    port = pull.bind_to_random_port("tcp://127.0.0.1")
    push.connect(f"tcp://127.0.0.1:{port}")
    try:
        yield push, pull
    finally:
        zctx.destroy(linger=0)


@pytest.mark.interop
def test_poller_polls_a_pyzmq_socket(ctx: zloop.Context, pyzmq_pair: tuple[Any, Any]) -> None:
    push, pull = pyzmq_pair
    zpush, zpull = _inproc(ctx, "with-pyzmq", zloop.PUSH, zloop.PULL)
    poller = zloop.Poller()
    poller.register(pull, zloop.POLLIN)
    poller.register(zpull, zloop.POLLIN)

    start = time.monotonic()
    assert poller.poll(50) == []
    assert time.monotonic() - start >= 0.040

    push.send(b"a")
    push.send(b"b")
    assert poller.poll(_MS) == [(pull, POLLIN)]
    assert poller.poll(0) == [(pull, POLLIN)], "level-triggered for pyzmq sockets too"
    assert pull.recv() == b"a"
    assert poller.poll(_MS) == [(pull, POLLIN)]
    zpush.send(b"z")
    assert dict(poller.poll(0)) == {pull: POLLIN, zpull: POLLIN}
    assert pull.recv() == b"b"
    assert zpull.recv() == b"z"
    assert poller.poll(0) == []
    assert zloop.poll([(push, zloop.POLLOUT)], 0) == [(push, POLLOUT)]


@pytest.mark.interop
def test_poll_blocks_until_a_pyzmq_message(pyzmq_pair: tuple[Any, Any]) -> None:
    push, pull = pyzmq_pair
    polling = threading.Event()
    item = _Tripwire(pull, polling)  # the wrapper needs only getsockopt and FD

    def send_later() -> None:
        assert polling.wait(DEADLINE)
        push.send(b"late")

    worker = Worker(send_later)
    worker.start()
    assert zloop.poll([(item, POLLIN)], None) == [(item, POLLIN)]
    worker.join_checked()
    assert pull.recv() == b"late"
