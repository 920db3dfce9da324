"""The gevent hub reads a waiting receive's tcp/ipc connection itself (adapters/gevent.py,
"Reading the connection in the hub"; ``_ConnReader``): the connection's fd is parked in the I/O
thread while a greenlet waits (and until the hub next runs its callbacks), and a connection the
I/O thread ends meanwhile keeps its fd open until the hub gives it back.

Each test checks what arrives, that the hub did read the connection in it (``StreamEngine.app_read``
delivered), and that the fd went back to the I/O thread -- or was closed -- once nobody waits:
a peer leaving or a context terminated while a greenlet waits, a greenlet killed or timed out
while it waits, a NOBLOCK receive in the window where the fd is still parked; against zloop and
pyzmq (libzmq) peers."""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conn_read_helpers import PEERS, TRANSPORTS, Reads, peer_socket
from zl_testing import DEADLINE, endpoint_for, with_deadlines

import zloop
from zloop.monitor import parse_monitor_message
from zloop.socket import _APP_READ_SIZE

gevent = pytest.importorskip("gevent")
from zloop.adapters import gevent as zgreen  # noqa: E402

DEADLINE_MS = int(DEADLINE * 1000)


def green(ctx: Any, kind: int) -> Any:
    return with_deadlines(zgreen.Socket(ctx.socket(kind)))


def hub_readers() -> dict[int, Any]:
    return zgreen.backend().readers


def settle() -> None:
    """Let the hub run its callbacks (where a reader nobody waits on gives its fd back)."""
    gevent.sleep(0)
    gevent.sleep(0)


@pytest.mark.parametrize("peer", PEERS)
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_round_trips_read_by_the_hub(
    transport: str, peer: str, ctx: Any, zctx: Any, tmp_path: Path, reads: Reads
) -> None:
    req = green(ctx, zloop.REQ)
    rep = peer_socket(peer, ctx, zctx, "REP")
    rep.bind(endpoint_for(transport, tmp_path))
    req.connect(rep.getsockopt(zloop.LAST_ENDPOINT).decode())
    count = 300

    def echo() -> None:
        for _ in range(count):
            rep.send(rep.recv() + b"!")

    thread = threading.Thread(target=echo, daemon=True)
    thread.start()
    try:
        got = []
        for i in range(count):
            req.send(b"%d" % i)
            got.append(req.recv())
        assert got == [b"%d!" % i for i in range(count)]
        assert reads.delivered > 0
        settle()
        assert not hub_readers()  # nobody waits: the fd is the I/O thread's again
    finally:
        thread.join(DEADLINE)
        req.close()
        rep.close()


@pytest.mark.parametrize("peer", PEERS)
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_peer_leaving_while_a_greenlet_waits(
    transport: str, peer: str, ctx: Any, zctx: Any, tmp_path: Path, reads: Reads
) -> None:
    pull = green(ctx, zloop.PULL)
    pull.bind(endpoint_for(transport, tmp_path))
    addr = pull.getsockopt(zloop.LAST_ENDPOINT).decode()
    first = peer_socket(peer, ctx, zctx, "PUSH")
    first.connect(addr)
    first.send(b"one")
    assert pull.recv() == b"one"
    engine, _ = pull._sock._app_reader()
    monitor = with_deadlines(zgreen.Socket(pull._sock.get_monitor_socket(zloop.EVENT_DISCONNECTED)))
    waiting = gevent.spawn(pull.recv)
    gevent.sleep(0)  # the greenlet waits, the connection parked for it
    assert hub_readers()
    first.close()  # the peer leaves: the hub reads the end of the stream, the I/O thread ends it
    second = peer_socket(peer, ctx, zctx, "PUSH")
    try:
        event = parse_monitor_message(monitor.recv_multipart())
        assert event["event"] == zloop.EVENT_DISCONNECTED
        assert not waiting.ready()
        # Ended while parked: its fd stays open as long as the hub holds it (the hub gives it
        # back once it reads the closed connection, or when the wait ends).
        assert engine._sock.fileno() != -1 or not hub_readers()
        second.connect(addr)
        second.send(b"two")
        assert waiting.get(timeout=DEADLINE) == b"two"
        settle()
        assert engine._sock.fileno() == -1  # closed once the hub gave it back
        second.send(b"three")
        assert pull.recv() == b"three"
    finally:
        waiting.kill()
        second.close()
        monitor.close()
        pull.close()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_context_terminated_while_a_greenlet_waits(transport: str, tmp_path: Path) -> None:
    own = zloop.Context()
    pull = green(own, zloop.PULL)
    push = with_deadlines(own.socket(zloop.PUSH))
    pull.bind(endpoint_for(transport, tmp_path))
    push.connect(pull.getsockopt(zloop.LAST_ENDPOINT).decode())
    push.send(b"one")
    assert pull.recv() == b"one"
    engine, _ = pull._sock._app_reader()

    outcome: list[BaseException] = []

    def wait() -> None:
        try:
            pull.recv()
        except zloop.ContextTerminated as exc:
            outcome.append(exc)
        finally:
            pull.close()

    waiting = gevent.spawn(wait)
    gevent.sleep(0)
    assert hub_readers()

    def close_and_term() -> None:
        push.close()
        own.term()

    term = threading.Thread(target=close_and_term, daemon=True)
    term.start()
    waiting.join(timeout=DEADLINE)
    term.join(DEADLINE)
    assert not term.is_alive()
    assert len(outcome) == 1
    assert not hub_readers()
    assert engine._sock.fileno() == -1


@pytest.mark.parametrize("peer", PEERS)
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_greenlet_killed_or_timed_out_while_waiting_takes_nothing(
    transport: str, peer: str, ctx: Any, zctx: Any, tmp_path: Path, reads: Reads
) -> None:
    pull = green(ctx, zloop.PULL)
    pull.bind(endpoint_for(transport, tmp_path))
    push = peer_socket(peer, ctx, zctx, "PUSH")
    push.connect(pull.getsockopt(zloop.LAST_ENDPOINT).decode())
    try:
        push.send(b"zero")
        assert pull.recv() == b"zero"
        # Killed while it waits.
        waiting = gevent.spawn(pull.recv)
        gevent.sleep(0)
        assert hub_readers()
        waiting.kill()
        assert isinstance(waiting.value, gevent.GreenletExit)
        settle()
        assert not hub_readers()
        # Timed out (RCVTIMEO, then gevent.Timeout) while it waits.
        pull.setsockopt(zloop.RCVTIMEO, 20)
        with pytest.raises(zloop.Again):
            pull.recv()
        pull.setsockopt(zloop.RCVTIMEO, DEADLINE_MS)
        with pytest.raises(gevent.Timeout), gevent.Timeout(0.02):
            pull.recv()
        settle()
        assert not hub_readers()
        # Nothing was taken: every message arrives, in order, read by the I/O thread or the hub.
        for i in range(5):
            push.send(b"%d" % i)
        assert [pull.recv() for _ in range(5)] == [b"%d" % i for i in range(5)]
    finally:
        push.close()
        pull.close()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_noblock_receive_while_the_fd_is_still_parked(
    transport: str, ctx: Any, tmp_path: Path
) -> None:
    """Right after a receive the hub keeps the connection parked until it runs its callbacks: a
    greenlet that never yields and polls with NOBLOCK must still see what the peer sends."""
    pull = green(ctx, zloop.PULL)
    pull.bind(endpoint_for(transport, tmp_path))
    push = with_deadlines(ctx.socket(zloop.PUSH))
    push.connect(pull.getsockopt(zloop.LAST_ENDPOINT).decode())
    try:
        push.send(b"one")
        assert pull.recv() == b"one"  # connected
        gevent.spawn(push.send, b"two")  # runs once this greenlet waits (parked)
        assert pull.recv() == b"two"
        assert hub_readers()  # still parked: the hub has not run its callbacks since
        sender = threading.Thread(target=push.send, args=(b"three",), daemon=True)
        sender.start()
        sender.join(DEADLINE)
        got = None
        end = time.monotonic() + DEADLINE
        while got is None and time.monotonic() < end:
            with contextlib.suppress(zloop.Again):
                got = pull.recv(zloop.NOBLOCK)
        assert got == b"three"  # no gevent call in the loop: the hub never ran
    finally:
        push.close()
        pull.close()


@pytest.mark.parametrize("peer", PEERS)
@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("size", [9000, 65536, 1 << 20])
def test_large_frames_are_left_to_the_io_thread(
    transport: str, peer: str, size: int, ctx: Any, zctx: Any, tmp_path: Path, reads: Reads
) -> None:
    """A large body read by the hub gives the connection back to the I/O thread (which reads large
    bodies into their own buffers) and the socket's next waits leave it there; then the hub reads
    again. Every message arrives whole and in order, whoever read it."""
    pull = green(ctx, zloop.PULL)
    pull.bind(endpoint_for(transport, tmp_path))
    push = peer_socket(peer, ctx, zctx, "PUSH")
    push.connect(pull.getsockopt(zloop.LAST_ENDPOINT).decode())
    bodies = [bytes([i]) * size for i in range(6)]
    fd = pull.getsockopt(zloop.FD)
    skips = zgreen.backend().read_skips

    def send_from_a_thread(parts: list[bytes]) -> None:
        sender = threading.Thread(target=push.send_multipart, args=(parts,), daemon=True)
        sender.start()
        sender.join(DEADLINE)
        assert not sender.is_alive()

    def waited(body: bytes, parked: bool | None) -> None:
        """Receive ``body`` in a greenlet that waits for it (parked: whether the hub holds the fd)."""
        waiting = gevent.spawn(pull.recv)
        gevent.sleep(0)
        assert not waiting.ready()
        if parked is not None:
            assert bool(hub_readers()) is parked
        push.send(body)
        assert waiting.get(timeout=DEADLINE) == body

    try:
        push.send(b"hello")
        assert pull.recv() == b"hello"
        waiting = gevent.spawn(pull.recv)
        gevent.sleep(0)
        assert hub_readers()
        send_from_a_thread([b"head", bodies[0]])
        assert waiting.get(timeout=DEADLINE) == b"head"
        assert pull.recv() == bodies[0]
        settle()
        # A body larger than the hub's read buffer made the hub give the connection back and
        # leave the next waits to the I/O thread. (A smaller frame may come whole in one read of
        # that buffer: then the hub may go on reading.)
        large = size > _APP_READ_SIZE
        if large:
            assert not hub_readers()
            assert skips.get(fd, 0) > 0
        for body in bodies[1:]:
            waited(body, False if large else None)
        for i in range(70):  # small messages: the skipped waits run out, the hub reads again
            waited(b"%d" % i, None)
        assert skips.get(fd, 0) == 0
        reads.delivered = 0
        waited(b"read by the hub", True)
        assert reads.delivered > 0
    finally:
        push.close()
        pull.close()
    assert fd not in skips  # forgotten with the socket
