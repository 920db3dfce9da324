"""The public surface: NEED_DATA, terminal events, local misuse, output buffers, the mechanism
interface (ZAP pause, frame wrapping) exercised with NULL and a toy wrapping mechanism."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import pytest
from protocol_helpers import command, errors, greeting_v3, messages, peer_at_traffic, pump, ready

from zloop.constants import ProtocolErrorCode, SocketType
from zloop.protocol import (
    NEED_DATA,
    AuthenticationFailed,
    Connection,
    HandshakeComplete,
    HandshakeContext,
    LocalProtocolError,
    Mechanism,
    NullMechanism,
    PeerError,
    Ping,
    Pong,
    ProtocolError,
    Subscribe,
    ZapRequest,
)
from zloop.protocol.commands import READY_PREFIX, ready_body
from zloop.protocol.errors import MechanismError


def test_need_data_and_next_event_order() -> None:
    conn = Connection(SocketType.DEALER)
    assert conn.next_event() is NEED_DATA
    assert repr(NEED_DATA) == "NEED_DATA"
    conn.receive_data(greeting_v3() + ready(b"ROUTER") + b"\x00\x01a\x00\x01b")
    assert isinstance(conn.next_event(), HandshakeComplete)
    assert conn.next_event().frames == [b"a"]  # type: ignore[union-attr]
    assert conn.events() == [messages_event(b"b")]
    assert conn.next_event() is NEED_DATA and conn.events() == []


def messages_event(frame: bytes) -> object:
    from zloop.protocol import Message

    return Message([frame])


def test_sending_before_handshake_or_after_failure_raises() -> None:
    conn = Connection(SocketType.DEALER)
    with pytest.raises(LocalProtocolError, match="before the handshake"):
        conn.send_message([b"x"])
    with pytest.raises(LocalProtocolError, match="greeting"):
        conn.send_error(b"no")
    conn.receive_data(
        b"\xff" + bytes(8) + b"\x7f\x03" + b"\x00" + b"PLAIN".ljust(20, b"\0") + bytes(32)
    )
    assert conn.failed
    calls: list[Callable[[], None]] = [
        lambda: conn.send_message([b"x"]),
        lambda: conn.send_subscribe(b"x"),
        lambda: conn.send_ping(1),
        lambda: conn.send_error(b"x"),
    ]
    for call in calls:
        with pytest.raises(LocalProtocolError, match="finished"):
            call()
    conn.receive_data(b"ignored")
    assert isinstance(conn.next_event(), ProtocolError)
    assert isinstance(conn.next_event(), ProtocolError)


def test_local_argument_validation() -> None:
    with pytest.raises(LocalProtocolError, match="do not speak ZMTP"):
        Connection(SocketType.STREAM)
    with pytest.raises(LocalProtocolError, match="routing_id"):
        Connection(SocketType.DEALER, routing_id=b"x" * 256)
    with pytest.raises(LocalProtocolError, match="maxmsgsize"):
        Connection(SocketType.DEALER, maxmsgsize=-2)
    with pytest.raises(LocalProtocolError, match="reserved"):
        Connection(SocketType.DEALER, metadata={"Socket-Type": b"PUB"})
    with pytest.raises(LocalProtocolError, match="1 to 255"):
        Connection(SocketType.DEALER, metadata={"": b"x"})
    conn = peer_at_traffic()
    with pytest.raises(LocalProtocolError, match="at least one frame"):
        conn.send_message([])
    with pytest.raises(LocalProtocolError, match="ttl"):
        conn.send_ping(70000)
    with pytest.raises(LocalProtocolError, match="16"):
        conn.send_ping(1, b"x" * 17)
    with pytest.raises(LocalProtocolError, match="255"):
        conn.send_error(b"x" * 256)


def test_metadata_str_values_and_order() -> None:
    conn = Connection(SocketType.REQ, routing_id=b"me", metadata={"X-A": "é", "X-B": b"2"})
    conn.receive_data(greeting_v3())
    out = conn.data_to_send()
    body = out[64 + 2 :]
    assert (
        body.index(b"Socket-Type")
        < body.index(b"Identity")
        < body.index(b"X-A")
        < body.index(b"X-B")
    )
    assert "é".encode() in body


def test_send_error_then_no_traffic() -> None:
    conn = peer_at_traffic()
    conn.send_error(b"bye")
    assert conn.data_to_send() == command(b"\x05ERROR\x03bye")
    with pytest.raises(LocalProtocolError, match="ERROR"):
        conn.send_message([b"x"])


def test_pong_and_error_exchange_between_connections() -> None:
    a = Connection(SocketType.PAIR)
    b = Connection(SocketType.PAIR)
    pump(a, b)
    a.send_ping(30, b"ctx")
    events_a, events_b = pump(a, b)
    assert events_b == [Ping(30, b"ctx")] and events_a == [Pong(b"ctx")]
    b.send_pong(b"unsolicited")
    a.send_error(b"done")
    events_a, events_b = pump(a, b)
    assert events_a == [Pong(b"unsolicited")] and events_b == [PeerError(b"done")]


def test_buffers_to_send_coalesces_small_and_keeps_large_zero_copy() -> None:
    conn = peer_at_traffic()
    big = bytearray(b"B" * 100_000)
    conn.send_messages([[b"a", b"b"], [b"c", big], [b"d"]])
    buffers = conn.buffers_to_send()
    assert len(buffers) == 3
    assert isinstance(buffers[1], memoryview) and buffers[1].obj is big
    assert b"".join(buffers) == (
        b"\x01\x01a\x00\x01b\x01\x01c"
        + b"\x02"
        + (100_000).to_bytes(8, "big")
        + bytes(big)
        + b"\x00\x01d"
    )
    assert conn.buffers_to_send() == [] and conn.data_to_send() == b""


def test_small_bytearray_frames_are_copied() -> None:
    conn = peer_at_traffic()
    frame = bytearray(b"abc")
    conn.send_message([frame])
    frame[:] = b"xyz"
    assert conn.data_to_send() == b"\x00\x03abc"


# --------------------------------------------------------------------------- ZAP


def _zap_conn() -> Connection:
    conn = Connection(SocketType.ROUTER, mechanism=NullMechanism(zap=True))
    conn.data_to_send()
    conn.receive_data(greeting_v3() + ready(b"DEALER", Identity=b"peer"))
    assert b"READY" not in conn.data_to_send()
    return conn


def test_null_zap_pauses_before_ready_then_completes() -> None:
    conn = _zap_conn()
    assert conn.events() == [ZapRequest(b"NULL", ())]
    assert not conn.handshake_complete
    conn.zap_reply(b"200", b"OK", b"user")
    assert conn.data_to_send().startswith(b"\x04")
    (event,) = conn.events()
    assert isinstance(event, HandshakeComplete) and event.peer_routing_id == b"peer"
    with pytest.raises(LocalProtocolError):
        conn.zap_reply(b"200")


@pytest.mark.parametrize(("status", "sent"), [(b"400", b"400"), (b"500", b"500"), (b"300", None)])
def test_null_zap_refusal(status: bytes, sent: bytes | None) -> None:
    conn = _zap_conn()
    conn.events()
    conn.zap_reply(status)
    assert conn.events() == [AuthenticationFailed(status, sent)]
    expected = command(b"\x05ERROR\x03" + sent) if sent else b""
    assert conn.data_to_send() == expected
    assert conn.failed


def test_null_zap_invalid_status() -> None:
    conn = _zap_conn()
    conn.events()
    conn.zap_reply(b"201")
    (error,) = conn.events()
    assert (
        isinstance(error, ProtocolError) and error.code == ProtocolErrorCode.ZAP_INVALID_STATUS_CODE
    )


def test_zap_reply_without_request_raises() -> None:
    conn = Connection(SocketType.DEALER)
    with pytest.raises(LocalProtocolError):
        conn.zap_reply(b"200")


# --------------------------------------------------------------------------- wrapping


class XorMechanism(Mechanism):
    """A toy mechanism proving the wrapping hook: like CURVE, every frame after the handshake
    becomes a MESSAGE command-like body sent with outer flags 00/02, inner flags MORE=01,
    COMMAND=02."""

    name: ClassVar[bytes] = b"X-XOR"
    wraps_frames: ClassVar[bool] = True

    def __init__(self) -> None:
        super().__init__()
        self._ctx: HandshakeContext | None = None
        self._done = False
        self._peer: dict[str, bytes] = {}

    @property
    def complete(self) -> bool:
        return self._done

    @property
    def peer_properties(self) -> dict[str, bytes]:
        return self._peer

    def start(self, ctx: HandshakeContext) -> list[bytes]:
        self._ctx = ctx
        return [ready_body(ctx.own_properties())]

    def receive_command(self, body: bytes) -> list[bytes]:
        assert self._ctx is not None
        if not body.startswith(READY_PREFIX) or self._done:
            raise MechanismError(ProtocolErrorCode.ZMTP_UNEXPECTED_COMMAND, "want READY")
        self._peer = self._ctx.peer_properties(body, len(READY_PREFIX))
        self._done = True
        return []

    def encode_frame(self, flags: int, body: bytes) -> tuple[int, bytes]:
        inner = (1 if flags & 0x01 else 0) | (2 if flags & 0x04 else 0)
        return 0, b"\x07MESSAGE" + bytes((inner,)) + bytes(b ^ 0x55 for b in body)

    def decode_frame(self, flags: int, body: bytes) -> tuple[int, bytes]:
        if not body.startswith(b"\x07MESSAGE") or len(body) < 9:
            raise MechanismError(ProtocolErrorCode.ZMTP_MALFORMED_COMMAND_MESSAGE, "not a MESSAGE")
        inner = body[8]
        zmtp = (0x01 if inner & 1 else 0) | (0x04 if inner & 2 else 0)
        return zmtp, bytes(b ^ 0x55 for b in body[9:])


def test_wrapping_mechanism_carries_messages_and_commands() -> None:
    a = Connection(SocketType.XPUB, mechanism=XorMechanism())
    b = Connection(SocketType.XSUB, mechanism=XorMechanism(), legacy=False)
    events_a, events_b = pump(a, b)
    assert isinstance(events_a[0], HandshakeComplete) and isinstance(events_b[0], HandshakeComplete)
    b.send_subscribe(b"top")
    b.send_ping(3, b"c")
    b.send_message([b"up", b"x" * 300])
    wire = b.data_to_send()
    assert b"top" not in wire and b"PING" not in wire and wire[:1] != b"\x04"
    a.receive_data(wire)
    events_a = a.events()
    _, events_b = pump(a, b)
    assert events_a[:2] == [Subscribe(b"top"), Ping(3, b"c")]
    assert messages(events_a) == [[b"up", b"x" * 300]]
    assert events_b == [Pong(b"c")]


def test_wrapping_mechanism_decode_error_is_protocol_error() -> None:
    a = Connection(SocketType.PAIR, mechanism=XorMechanism())
    b = Connection(SocketType.PAIR, mechanism=XorMechanism())
    pump(a, b)
    a.receive_data(b"\x00\x03abc")
    (error,) = errors(a.events())
    assert error.code == ProtocolErrorCode.ZMTP_MALFORMED_COMMAND_MESSAGE


def test_wrapping_mechanism_refuses_legacy_peers() -> None:
    conn = Connection(SocketType.PAIR, mechanism=XorMechanism())
    conn.receive_data(b"\x01\x00")
    assert "legacy" in errors(conn.events())[0].reason


def test_small_maxmsgsize_does_not_break_the_handshake() -> None:
    a = Connection(SocketType.DEALER, maxmsgsize=4)
    b = Connection(SocketType.ROUTER, maxmsgsize=4, metadata={"X-Big": b"m" * 1000})
    events_a, _ = pump(a, b)
    assert isinstance(events_a[0], HandshakeComplete)
    b.send_message([b"12345"])
    events_a, _ = pump(a, b)
    assert "exceeds maxmsgsize 4" in errors(events_a)[0].reason
    huge = Connection(SocketType.DEALER, maxmsgsize=4)
    huge.receive_data(greeting_v3() + b"\x06" + (70000).to_bytes(8, "big"))
    assert "exceeds maxmsgsize 65536" in errors(huge.events())[0].reason
