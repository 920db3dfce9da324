"""A loop that stops running while one of its receives waits must not hold back the connection.

The gevent hub and the asyncio loop read a waiting receive's tcp/ipc connection themselves, with
the connection's fd parked in the I/O thread ("Reads in the application thread" in
zloop/io/engine.py). Their thread may then block -- in a raw blocking zloop or pyzmq call, a busy
greenlet, a slow callback -- and nobody would read the connection; libzmq's I/O thread reads on
regardless. Each test blocks the loop's thread in such a call while a receive waits, in a wait
that ends only if the I/O thread did read the connection meanwhile:

* a handshake still in progress is never parked (the conformance scenario p08 hung this way: a
  plain PUSH's ``send`` in the hub waited for a handshake the hub itself held back);
* the peer's PINGs are answered, and zloop's own PINGs get their PONG, while the loop is blocked
  (no heartbeat timeout of a healthy connection);
* a message that arrives while the loop is blocked reaches the socket (its FD fires).

Run on the gevent hub and on asyncio, against raw ZMTP bytes and against libzmq (pyzmq) peers.
"""

from __future__ import annotations

import asyncio
import select
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from zl_testing import DEADLINE, endpoint_for

import zloop

zmq = pytest.importorskip("zmq")
gevent = pytest.importorskip("gevent")
from zloop.adapters import asyncio as zaio  # noqa: E402
from zloop.adapters import gevent as zgreen  # noqa: E402

LOOPS = ("gevent", "asyncio")
HEARTBEAT_IVL_MS = 50
HEARTBEAT_TIMEOUT_MS = 1000
#: How long the loop stays blocked in the heartbeat tests: two heartbeat timeouts.
BLOCKED_MS = 2 * HEARTBEAT_TIMEOUT_MS


def receive_while_blocked(loop: str, raw: Any, block: Callable[[], Any]) -> tuple[Any, bytes]:
    """Start a receive on ``raw`` through ``loop``'s adapter that waits, then call ``block()`` on
    the loop's thread without letting the loop run; then let the receive finish. Returns what
    ``block()`` returned and the message received."""
    if loop == "gevent":
        green = zgreen.Socket.from_socket(raw)
        try:
            waiter = gevent.spawn(green.recv)
            gevent.sleep(0)  # the greenlet now waits in recv
            assert not waiter.dead
            result = block()
            waiter.join(DEADLINE)
            assert waiter.successful()
            return result, waiter.value
        finally:
            green._release()

    async def main() -> tuple[Any, bytes]:
        sock = zaio.Socket.from_socket(raw)
        try:
            pending = sock.recv()  # registered (and waiting) from the call on
            assert not pending.done()
            result = block()
            return result, await asyncio.wait_for(pending, DEADLINE)
        finally:
            sock._release()

    return asyncio.run(main())


# -- the handshake ---------------------------------------------------------------------------------

NULL_GREETING = b"\xff" + bytes(8) + b"\x7f" + b"\x03\x01" + b"NULL".ljust(20, b"\x00") + bytes(32)


def _command(name: bytes, body: bytes) -> bytes:
    data = bytes([len(name)]) + name + body
    return bytes([0x04, len(data)]) + data


READY_PUSH = _command(b"READY", b"\x0bSocket-Type" + (4).to_bytes(4, "big") + b"PUSH")


def _recv_exactly(conn: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = conn.recv(count - len(data))
        if not chunk:
            raise AssertionError(f"peer closed after {data!r}")
        data += chunk
    return data


@pytest.mark.parametrize("loop", LOOPS)
def test_a_handshake_completes_while_the_loop_is_blocked(loop: str, ctx: Any) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    pull = ctx.socket(zloop.PULL)
    pull.setsockopt(zloop.LINGER, 0)
    try:
        pull.connect(f"tcp://127.0.0.1:{listener.getsockname()[1]}")
        listener.settimeout(DEADLINE)
        conn, _ = listener.accept()
        conn.settimeout(DEADLINE)
        # zloop's signature: its engine runs (the receive below could park its fd).
        assert _recv_exactly(conn, 10)[:1] == b"\xff"

        def peer_handshake() -> bytes:
            # On the loop's thread, blocking it: our greeting, READY and a message; then wait
            # for zloop's READY, which it sends only once it has read our greeting.
            conn.sendall(NULL_GREETING + READY_PUSH + b"\x00\x05hello")
            _recv_exactly(conn, 64 - 10)
            header = _recv_exactly(conn, 2)
            return _recv_exactly(conn, header[1])

        ready, msg = receive_while_blocked(loop, pull, peer_handshake)
        assert ready.startswith(b"\x05READY")
        assert msg == b"hello"
        conn.close()
    finally:
        pull.close()
        listener.close()


# -- heartbeats ------------------------------------------------------------------------------------


def _heartbeats(sock: Any) -> None:
    sock.setsockopt(zloop.HEARTBEAT_IVL, HEARTBEAT_IVL_MS)
    sock.setsockopt(zloop.HEARTBEAT_TIMEOUT, HEARTBEAT_TIMEOUT_MS)


def _connected_pair(
    ctx: Any, zctx: Any, transport: str, tmp_path: Path, pinger: str
) -> tuple[Any, Any, Any]:
    """A zloop PULL bound, a pyzmq PUSH connected (heartbeats on the ``pinger`` side), one message
    through; and a monitor of the PUSH for its DISCONNECTED events."""
    pull = ctx.socket(zloop.PULL)
    pull.setsockopt(zloop.LINGER, 0)
    push = zctx.socket(zmq.PUSH)
    push.setsockopt(zmq.LINGER, 0)
    _heartbeats(pull if pinger == "zloop" else push)
    pull.bind(endpoint_for(transport, tmp_path))
    monitor = push.get_monitor_socket(zmq.EVENT_DISCONNECTED)
    push.connect(pull.getsockopt(zloop.LAST_ENDPOINT).decode())
    push.send(b"first")
    assert pull.poll(int(DEADLINE * 1000)) == zloop.POLLIN
    assert pull.recv() == b"first"
    return pull, push, monitor


@pytest.mark.interop
@pytest.mark.parametrize("pinger", ["zloop", "pyzmq"])
@pytest.mark.parametrize("transport", ["tcp", "ipc"])
@pytest.mark.parametrize("loop", LOOPS)
def test_heartbeats_are_answered_while_the_loop_is_blocked(
    loop: str, transport: str, pinger: str, ctx: Any, zctx: Any, tmp_path: Path
) -> None:
    pull, push, monitor = _connected_pair(ctx, zctx, transport, tmp_path, pinger)
    try:

        def busy() -> int:
            # The loop's thread blocks in a raw libzmq poll: on a DISCONNECTED of the PUSH
            # (a heartbeat timed out on either side: the bug), or for two timeouts.
            return int(monitor.poll(BLOCKED_MS))

        disconnected, msg = receive_while_blocked(
            loop, pull, lambda: (busy(), push.send(b"after"))[0]
        )
        assert disconnected == 0, "the connection timed out while the loop was blocked"
        assert msg == b"after"
    finally:
        push.disable_monitor()
        monitor.close()
        push.close()
        pull.close()


# -- messages --------------------------------------------------------------------------------------


@pytest.mark.parametrize("peer", ["zloop", "pyzmq"])
@pytest.mark.parametrize("transport", ["tcp", "ipc"])
@pytest.mark.parametrize("loop", LOOPS)
def test_a_message_reaches_the_socket_while_the_loop_is_blocked(
    loop: str, transport: str, peer: str, ctx: Any, zctx: Any, tmp_path: Path
) -> None:
    pull = ctx.socket(zloop.PULL)
    pull.setsockopt(zloop.LINGER, 0)
    pull.bind(endpoint_for(transport, tmp_path))
    push = ctx.socket(zloop.PUSH) if peer == "zloop" else zctx.socket(zmq.PUSH)
    push.setsockopt(zloop.LINGER, 0)
    push.connect(pull.getsockopt(zloop.LAST_ENDPOINT).decode())
    try:
        push.send(b"first")
        assert pull.poll(int(DEADLINE * 1000)) == zloop.POLLIN
        assert pull.recv() == b"first"
        fd = pull.getsockopt(zloop.FD)

        def blocked_until_delivered() -> bool:
            # Nothing of the socket is processed on this thread meanwhile: its FD fires only if
            # the I/O thread read the connection and delivered the message.
            push.send(b"second")
            readable, _, _ = select.select([fd], [], [], DEADLINE)
            return bool(readable)

        delivered, msg = receive_while_blocked(loop, pull, blocked_until_delivered)
        assert delivered, "nobody read the connection while the loop was blocked"
        assert msg == b"second"
    finally:
        push.close()
        pull.close()
