"""PLAIN (RFC 24) as a sans-I/O mechanism, the security options, and PLAIN on the wire with libzmq."""

from __future__ import annotations

import threading
from typing import Any

import pytest

import zloop
from zloop.constants import ProtocolErrorCode, SocketType
from zloop.protocol import (
    AuthenticationFailed,
    Connection,
    HandshakeComplete,
    PeerError,
    ProtocolError,
    ZapRequest,
)
from zloop.protocol.null import NullMechanism
from zloop.protocol.plain import WELCOME, PlainMechanism, hello_body
from zloop.security import make_mechanism

PLAIN_GREETING = b"\xff" + bytes(8) + b"\x7f\x03\x01" + b"PLAIN" + bytes(15) + bytes(32)


def _pump(a: Connection, b: Connection) -> tuple[list[Any], list[Any]]:
    got_a: list[Any] = []
    got_b: list[Any] = []
    for _ in range(10):
        out_a, out_b = a.data_to_send(), b.data_to_send()
        if out_a:
            b.receive_data(out_a)
        if out_b:
            a.receive_data(out_b)
        got_a += a.events()
        got_b += b.events()
        if not out_a and not out_b:
            break
    return got_a, got_b


def _pair(user: bytes = b"admin", password: bytes = b"secret") -> tuple[Connection, Connection]:
    client = Connection(
        SocketType.DEALER,
        mechanism=PlainMechanism(server=False, username=user, password=password),
    )
    server = Connection(SocketType.ROUTER, mechanism=PlainMechanism(server=True))
    return client, server


def test_hello_body_layout() -> None:
    # RFC 24: %d5 "HELLO" username-size username password-size password
    assert hello_body(b"admin", b"secret") == b"\x05HELLO\x05admin\x06secret"
    assert hello_body(b"", b"") == b"\x05HELLO\x00\x00"


def test_handshake_asks_zap_with_the_credentials_then_completes() -> None:
    client, server = _pair()
    c_events, s_events = _pump(client, server)
    requests = [e for e in s_events if isinstance(e, ZapRequest)]
    assert requests == [ZapRequest(b"PLAIN", (b"admin", b"secret"))]
    assert not any(isinstance(e, HandshakeComplete) for e in c_events + s_events)
    server.zap_reply(b"200", b"OK", b"admin")
    c_events, s_events = _pump(client, server)
    c_done = [e for e in c_events if isinstance(e, HandshakeComplete)]
    s_done = [e for e in s_events if isinstance(e, HandshakeComplete)]
    assert c_done and c_done[0].peer_socket_type == "ROUTER"
    assert s_done and s_done[0].peer_socket_type == "DEALER"
    client.send_message([b"hello"])
    _, s_events = _pump(client, server)
    assert [e.frames for e in s_events if hasattr(e, "frames")] == [[b"hello"]]


@pytest.mark.parametrize("status", [b"400", b"500"])
def test_refusal_sends_error_with_the_status_code(status: bytes) -> None:
    client, server = _pair()
    _pump(client, server)
    server.zap_reply(status, b"no")
    c_events, s_events = _pump(client, server)
    assert AuthenticationFailed(status, status) in s_events
    assert PeerError(status) in c_events


def test_server_spells_error_as_libzmq_and_client_reads_both_forms() -> None:
    client, server = _pair()
    _pump(client, server)
    server.zap_reply(b"400", b"no")
    wire = server.data_to_send()
    # One command frame: libzmq's PLAIN "^RROR" prefix (its "\x05ERROR" C literal), length, reason.
    assert wire == bytes((0x04, 9)) + b"^RROR" + b"\x03400"
    assert PeerError(b"400") in _client_fed_error(wire)
    rfc = bytes((0x04, 10)) + b"\x05ERROR\x03400"
    assert PeerError(b"400") in _client_fed_error(rfc)
    # Every other mechanism keeps the RFC 37 form.
    assert NullMechanism().error_command(b"400") == b"\x05ERROR\x03400"
    assert PlainMechanism(server=False).error_command(b"400") == b"\x05ERROR\x03400"


def _client_fed_error(wire: bytes) -> list[Any]:
    client, server = _pair()
    _pump(client, server)  # the client sent HELLO and waits for WELCOME
    client.receive_data(wire)
    return client.events()


def test_temporary_failure_closes_silently() -> None:
    client, server = _pair()
    _pump(client, server)
    server.zap_reply(b"300", b"later")
    assert server.data_to_send() == b""  # no ERROR for 300
    assert AuthenticationFailed(b"300", None) in server.events()


def _server_fed(*commands: bytes) -> list[Any]:
    server = Connection(SocketType.REP, mechanism=PlainMechanism(server=True))
    server.data_to_send()
    data = PLAIN_GREETING + b"".join(bytes((0x04, len(c))) + c for c in commands)
    server.receive_data(data)
    return server.events()


@pytest.mark.parametrize(
    "hello",
    [b"\x05HELLO", b"\x05HELLO\x05adm", b"\x05HELLO\x01a", b"\x05HELLO\x01a\x01bX"],
)
def test_malformed_hello(hello: bytes) -> None:
    errors = [e for e in _server_fed(hello) if isinstance(e, ProtocolError)]
    assert errors and errors[0].code == ProtocolErrorCode.ZMTP_MALFORMED_COMMAND_HELLO


def test_initiate_before_hello_is_unexpected() -> None:
    errors = [e for e in _server_fed(b"\x08INITIATE") if isinstance(e, ProtocolError)]
    assert errors and errors[0].code == ProtocolErrorCode.ZMTP_UNEXPECTED_COMMAND


def _client_fed(*commands: bytes) -> list[Any]:
    client = Connection(
        SocketType.REQ, mechanism=PlainMechanism(server=False, username=b"u", password=b"p")
    )
    client.data_to_send()
    client.receive_data(PLAIN_GREETING + b"".join(bytes((0x04, len(c))) + c for c in commands))
    return client.events()


def test_client_rejects_long_welcome_and_early_ready() -> None:
    errors = [e for e in _client_fed(WELCOME + b"x") if isinstance(e, ProtocolError)]
    assert errors[0].code == ProtocolErrorCode.ZMTP_MALFORMED_COMMAND_WELCOME
    errors = [e for e in _client_fed(b"\x05READY") if isinstance(e, ProtocolError)]
    assert errors[0].code == ProtocolErrorCode.ZMTP_UNEXPECTED_COMMAND


# -- options ------------------------------------------------------------------------------------


def _apply(sock: Any, steps: list[tuple[int, Any]]) -> tuple[int, int, int]:
    for option, value in steps:
        sock.setsockopt(option, value)
    return (
        sock.getsockopt(zloop.MECHANISM),
        sock.getsockopt(zloop.PLAIN_SERVER),
        sock.getsockopt(zloop.CURVE_SERVER),
    )


SEQUENCES = [
    [(zloop.PLAIN_SERVER, 1)],
    [(zloop.PLAIN_USERNAME, b"u")],
    [(zloop.PLAIN_PASSWORD, b"p")],
    [(zloop.PLAIN_SERVER, 1), (zloop.PLAIN_PASSWORD, b"p")],
    [(zloop.PLAIN_SERVER, 1), (zloop.PLAIN_SERVER, 0)],
    [(zloop.PLAIN_USERNAME, b"u"), (zloop.PLAIN_SERVER, 1)],
    [(zloop.CURVE_SERVER, 1), (zloop.PLAIN_SERVER, 0)],
]


@pytest.mark.interop
@pytest.mark.parametrize("steps", SEQUENCES)
def test_mechanism_switching_matches_libzmq(ctx: Any, zctx: Any, steps: Any) -> None:
    pytest.importorskip("nacl")
    ours = ctx.socket(zloop.REP)
    theirs = zctx.socket(zloop.REP)
    try:
        assert _apply(ours, steps) == _apply(theirs, steps)
    finally:
        ours.close(0)
        theirs.close(0)


def test_plain_option_values(ctx: Any) -> None:
    sock = ctx.socket(zloop.REQ)
    sock.plain_username = b"admin"
    sock.plain_password = b"secret"
    assert sock.plain_username == b"admin" and sock.plain_password == b"secret"
    assert sock.mechanism == zloop.PLAIN and sock.plain_server == 0
    for bad in (b"", b"x" * 256):
        with pytest.raises(zloop.ZMQError):
            sock.plain_username = bad
    with pytest.raises(zloop.ZMQError):
        sock.setsockopt(zloop.MECHANISM, 1)
    mech = make_mechanism(sock._options)
    assert isinstance(mech, PlainMechanism) and not mech.server
    assert mech.username == b"admin"


# -- on the wire, with libzmq on the other side --------------------------------------------------


def _zloop_zap_handler(ctx: Any, replies: list[list[bytes]], count: int) -> threading.Thread:
    """A bare REP handler (no zloop.auth) answering ``count`` requests, recording them."""
    handler = ctx.socket(zloop.REP)
    handler.linger = 0
    handler.bind("inproc://zeromq.zap.01")

    def run() -> None:
        try:
            for _ in range(count):
                if not handler.poll(5000):
                    return
                req = handler.recv_multipart()
                replies.append(req)
                ok = req[5] == b"PLAIN" and req[6:] == [b"admin", b"secret"]
                status = [b"200", b"OK", b"the-admin"] if ok else [b"400", b"bad", b""]
                handler.send_multipart([b"1.0", req[1], *status, b""])
        finally:
            handler.close(0)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@pytest.mark.interop
def test_zloop_plain_server_libzmq_client(ctx: Any, zctx: Any) -> None:
    import zmq

    seen: list[list[bytes]] = []
    thread = _zloop_zap_handler(ctx, seen, 1)
    server = ctx.socket(zloop.REP)
    server.plain_server = True
    server.zap_domain = b"test"
    server.linger = 0
    server.bind("tcp://127.0.0.1:*")
    client = zctx.socket(zmq.REQ)
    client.linger = 0
    client.plain_username = b"admin"
    client.plain_password = b"secret"
    client.connect(server.last_endpoint.decode())
    client.send(b"ping")
    assert server.poll(5000)
    frame = server.recv(copy=False)
    assert frame.bytes == b"ping"
    assert frame.get("User-Id") == "the-admin"
    assert frame.get("Peer-Address") == "127.0.0.1"
    assert frame.get("Socket-Type") == "REQ"
    server.send(b"pong")
    assert client.poll(5000) and client.recv() == b"pong"
    thread.join(5)
    # The request as libzmq builds it: delimiter stripped by REP, then version, id "1", domain,
    # numeric address without port, our (empty) routing id, mechanism, username, password.
    assert seen == [[b"1.0", b"1", b"test", b"127.0.0.1", b"", b"PLAIN", b"admin", b"secret"]]
    server.close(0)
    client.close(0)


@pytest.mark.interop
def test_zloop_plain_client_libzmq_server(ctx: Any, zctx: Any) -> None:
    import zmq
    import zmq.auth.thread

    auth = zmq.auth.thread.ThreadAuthenticator(zctx)
    auth.start()
    try:
        auth.configure_plain(domain="*", passwords={"admin": "secret"})
        server = zctx.socket(zmq.REP)
        server.linger = 0
        server.plain_server = True
        port = server.bind_to_random_port("tcp://127.0.0.1")
        client = ctx.socket(zloop.REQ)
        client.linger = 0
        client.plain_username = b"admin"
        client.plain_password = b"secret"
        client.connect(f"tcp://127.0.0.1:{port}")
        client.send(b"hello")
        assert server.poll(5000)
        frame = server.recv(copy=False)
        assert frame.bytes == b"hello" and frame.get("User-Id") == "admin"
        server.send(b"world")
        assert client.poll(5000) and client.recv() == b"world"
        client.close(0)
        server.close(0)
    finally:
        auth.stop()
