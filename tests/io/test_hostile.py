"""Timers and hostile peers: handshake timeout, heartbeats, malformed peers, no reconnect on protocol errors."""

from __future__ import annotations

import contextlib
import errno
import logging
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
import zmq
from l3_helpers import DEADLINE, FakeSocket

from zloop.constants import Event, ProtocolErrorCode, SocketType
from zloop.io.endpoint import parse_endpoint
from zloop.io.reactor import IOThread
from zloop.io.transport import bind, connect

# ZMTP 3.1 NULL greeting (docs/wire.md §10) and a READY announcing a PUSH socket.
GREETING = b"\xff" + b"\x00" * 7 + b"\x01\x7f\x03\x01" + b"NULL".ljust(20, b"\x00") + b"\x00" * 32
_READY_BODY = b"\x05READY\x0bSocket-Type" + (4).to_bytes(4, "big") + b"PUSH"
READY_PUSH = b"\x04" + bytes([len(_READY_BODY)]) + _READY_BODY
PLAIN_GREETING = GREETING[:12] + b"PLAIN".ljust(20, b"\x00") + GREETING[32:]


def _bound(io: IOThread, sock: FakeSocket) -> Any:
    return bind(io, sock, parse_endpoint("tcp://127.0.0.1:*", bind=True), sock.options.snapshot())


def _raw_connect(endpoint: str) -> socket.socket:
    host, port = endpoint[len("tcp://") :].rsplit(":", 1)
    raw = socket.create_connection((host, int(port)), timeout=DEADLINE)
    return raw


def _read_until_eof(raw: socket.socket) -> bytes:
    data = b""
    while True:
        try:
            chunk = raw.recv(65536)
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk


@contextlib.contextmanager
def _raw_server() -> Iterator[tuple[socket.socket, str]]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(DEADLINE)
    try:
        yield server, f"tcp://127.0.0.1:{server.getsockname()[1]}"
    finally:
        server.close()


def test_handshake_timeout_bind_side(io: IOThread) -> None:
    sock = FakeSocket(SocketType.PULL, handshake_ivl=100)
    bound = _bound(io, sock)
    raw = _raw_connect(bound.last_endpoint)
    assert _read_until_eof(raw).startswith(b"\xff")  # zloop greeted, then gave up on us
    sock.wait_event(Event.DISCONNECTED)
    names = sock.event_names()
    assert names[-3:] == ["ACCEPTED", "HANDSHAKE_FAILED_NO_DETAIL", "DISCONNECTED"]
    assert sock.events_of(Event.HANDSHAKE_FAILED_NO_DETAIL)[0][1] == errno.ETIMEDOUT
    assert not sock.pipes
    raw.close()
    bound.close(0)


def test_handshake_timeout_connect_side_reconnects(io: IOThread) -> None:
    with _raw_server() as (server, addr):
        sock = FakeSocket(SocketType.PUSH, handshake_ivl=100, reconnect_ivl=20)
        endpoint, _ = connect(io, sock, parse_endpoint(addr, bind=False), sock.options.snapshot())
        first, _ = server.accept()
        assert _read_until_eof(first).startswith(b"\xff")
        second, _ = server.accept()  # it came back
        sock.wait_event(Event.CONNECTED, 2)
        names = sock.event_names()
        start = names.index("HANDSHAKE_FAILED_NO_DETAIL")
        assert names[start : start + 3] == [
            "HANDSHAKE_FAILED_NO_DETAIL",
            "DISCONNECTED",
            "CONNECT_RETRIED",
        ]
        endpoint.close(0)
        first.close()
        second.close()


def test_heartbeat_timeout_closes_silent_peer(io: IOThread) -> None:
    sock = FakeSocket(SocketType.PULL, heartbeat_ivl=50, heartbeat_timeout=200)
    bound = _bound(io, sock)
    raw = _raw_connect(bound.last_endpoint)
    raw.sendall(GREETING + READY_PUSH)
    sock.wait_pipe()
    started = time.monotonic()
    data = _read_until_eof(raw)  # we never answer: zloop must hang up
    assert time.monotonic() - started < DEADLINE
    assert b"\x04\x07\x04PING\x00\x00" in data  # PING with TTL 0 (HEARTBEAT_TTL unset)
    sock.wait_event(Event.DISCONNECTED)
    assert "HANDSHAKE_FAILED_NO_DETAIL" not in sock.event_names()
    # The bind side dropped its pipe: the socket sees the end of it.
    pipe = sock.pipes[0]
    sock.wait_until(lambda: pipe.read() is None and sock.terminated, what="pipe end")
    raw.close()
    bound.close(0)


def test_peer_ping_ttl_expires_and_pong_is_sent(io: IOThread) -> None:
    sock = FakeSocket(SocketType.PULL)
    bound = _bound(io, sock)
    raw = _raw_connect(bound.last_endpoint)
    raw.sendall(GREETING + READY_PUSH + b"\x04\x09\x04PING\x00\x02ab")  # TTL 0.2 s, context "ab"
    data = _read_until_eof(raw)
    assert data.endswith(b"\x04\x07\x04PONGab")
    sock.wait_event(Event.DISCONNECTED)
    raw.close()
    bound.close(0)


@pytest.mark.interop
def test_heartbeats_keep_a_live_libzmq_peer(io: IOThread, zmq_ctx: Any) -> None:
    sock = FakeSocket(SocketType.PULL, heartbeat_ivl=20, heartbeat_timeout=100, heartbeat_ttl=300)
    bound = _bound(io, sock)
    push = zmq_ctx.socket(zmq.PUSH)
    push.HEARTBEAT_IVL = 20
    push.connect(bound.last_endpoint)
    pipe = sock.wait_pipe()
    deadline = time.monotonic() + 0.5  # 25 heartbeat intervals
    i = 0
    while time.monotonic() < deadline:
        push.send(b"%d" % i)
        assert sock.recv(pipe) == [b"%d" % i]
        i += 1
        push.poll(10)  # pace the loop on a deadline, not a sleep
    assert not sock.events_of(Event.DISCONNECTED)
    push.close(0)
    bound.close(0)


@pytest.mark.interop
def test_malformed_peer_is_closed_alone(
    io: IOThread, zmq_ctx: Any, caplog: pytest.LogCaptureFixture
) -> None:
    sock = FakeSocket(SocketType.PULL)
    bound = _bound(io, sock)
    push = zmq_ctx.socket(zmq.PUSH)
    push.connect(bound.last_endpoint)
    push.send(b"before")
    good = sock.wait_pipe()
    assert sock.recv(good) == [b"before"]
    with caplog.at_level(logging.DEBUG, logger="zloop"):
        mismatch = _raw_connect(bound.last_endpoint)
        mismatch.sendall(PLAIN_GREETING)
        _read_until_eof(mismatch)
        event = sock.wait_event(Event.HANDSHAKE_FAILED_PROTOCOL)
        assert event[1] == ProtocolErrorCode.ZMTP_MECHANISM_MISMATCH
        # After a good handshake, a frame with reserved flag bits: closed, no handshake event.
        bad = _raw_connect(bound.last_endpoint)
        bad.sendall(GREETING + READY_PUSH + b"\x00\x01A" + b"\xf0\x01Z")
        _read_until_eof(bad)
        sock.wait_event(Event.DISCONNECTED, 2)
        assert len(sock.events_of(Event.HANDSHAKE_FAILED_PROTOCOL)) == 1
    # Logged for debugging, never above DEBUG: a peer must not write to the application's log.
    noted = [r for r in caplog.records if "protocol error" in r.getMessage()]
    assert len(noted) == 2 and {r.levelno for r in noted} == {logging.DEBUG}
    push.send(b"after")
    assert sock.recv(good) == [b"after"]
    second = sock.pipes[1]
    assert sock.recv(second) == [b"A"]  # what came before the bad frame was delivered
    mismatch.close()
    bad.close()
    push.close(0)
    bound.close(0)


def test_protocol_error_on_connect_side_does_not_reconnect(io: IOThread) -> None:
    with _raw_server() as (server, addr):
        sock = FakeSocket(SocketType.PUSH, reconnect_ivl=20)
        endpoint, pipe = connect(
            io, sock, parse_endpoint(addr, bind=False), sock.options.snapshot()
        )
        assert pipe is not None
        peer, _ = server.accept()
        peer.sendall(PLAIN_GREETING)
        _read_until_eof(peer)
        sock.wait_event(Event.HANDSHAKE_FAILED_PROTOCOL)
        sock.wait_until(lambda: pipe.read() is None and pipe in sock.terminated, what="pipe end")
        sock.wait_until(lambda: io.load() == 0, what="session gone")
        assert not sock.events_of(Event.CONNECT_RETRIED)
        peer.close()
        endpoint.close(0)
