"""Framing and commands after the handshake: sizes, flags, limits, commands, hostile input."""

from __future__ import annotations

import struct
import tracemalloc

import pytest
from protocol_helpers import (
    command,
    errors,
    feed_bytewise,
    frame,
    greeting_v3,
    messages,
    peer_at_traffic,
    ready,
)

from zloop.constants import ProtocolErrorCode, SocketType
from zloop.protocol import (
    NEED_DATA,
    Cancel,
    Connection,
    Message,
    PeerError,
    Ping,
    ProtocolError,
    Subscribe,
)


def test_long_form_used_iff_body_over_255() -> None:
    conn = peer_at_traffic()
    conn.send_message([b"x" * 255])
    assert conn.data_to_send()[:2] == b"\x00\xff"
    conn.send_message([b"x" * 256, b"y"])
    out = conn.data_to_send()
    assert out[:9] == b"\x03" + struct.pack(">Q", 256)


def test_long_form_accepted_for_small_bodies() -> None:
    conn = peer_at_traffic()
    conn.receive_data(frame(0x01, b"a", force_long=True) + frame(0x00, b"", force_long=True))
    assert messages(conn.events()) == [[b"a", b""]]


@pytest.mark.parametrize("flags", [0x08, 0x10, 0x20, 0x40, 0x80, 0x09, 0xFF])
def test_reserved_flag_bits_rejected(flags: int) -> None:
    conn = peer_at_traffic()
    conn.receive_data(b"\x00\x01a" + bytes((flags, 0)) + b"\x00\x01b")
    events = conn.events()
    assert messages(events) == [[b"a"]]
    (error,) = errors(events)
    assert error.reason == f"frame flags 0x{flags:02x} have reserved bits set"
    assert conn.next_event() is error  # terminal and sticky


@pytest.mark.parametrize("flags", [0x05, 0x07])
def test_command_with_more_rejected(flags: int) -> None:
    conn = peer_at_traffic()
    conn.receive_data(frame(flags, b"\x04PING\x00\x00"))
    (error,) = errors(conn.events())
    assert "MORE" in error.reason


def test_maxmsgsize_per_frame() -> None:
    conn = peer_at_traffic(maxmsgsize=10)
    conn.receive_data(frame(0x01, b"x" * 10) + frame(0x00, b"y" * 10))
    assert messages(conn.events()) == [[b"x" * 10, b"y" * 10]]
    conn.receive_data(frame(0x00, b"z" * 11))
    (error,) = conn.events()
    assert isinstance(error, ProtocolError) and "exceeds maxmsgsize 10" in error.reason


def test_maxmsgsize_checked_from_header_alone() -> None:
    conn = peer_at_traffic(maxmsgsize=1000)
    conn.receive_data(b"\x02" + struct.pack(">Q", 1001))
    (error,) = conn.events()
    assert isinstance(error, ProtocolError)


def test_frame_over_2_63_rejected() -> None:
    conn = peer_at_traffic()
    conn.receive_data(b"\x02" + b"\xff" * 8)
    (error,) = conn.events()
    assert isinstance(error, ProtocolError) and "2^63-1" in error.reason


def test_huge_announced_frame_does_not_allocate() -> None:
    conn = peer_at_traffic()
    tracemalloc.start()
    try:
        conn.receive_data(b"\x02" + struct.pack(">Q", 1 << 62) + b"abc")
        conn.receive_data(b"d" * 1000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 256 * 1024
    assert conn.next_event() is NEED_DATA


def test_large_frame_in_many_chunks() -> None:
    conn = peer_at_traffic()
    body = bytes(range(256)) * 5000  # 1.28 MB: beyond the preallocation limit
    data = frame(0x01, body) + frame(0x00, b"tail")
    for i in range(0, len(data), 4099):
        conn.receive_data(data[i : i + 4099])
    assert messages(conn.events()) == [[body, b"tail"]]


def test_medium_frame_bytewise() -> None:
    body = b"m" * 10000
    data = frame(0x00, body) + frame(0x00, b"n" * 300)
    assert messages(feed_bytewise(peer_at_traffic(), data)) == [[body], [b"n" * 300]]


def test_commands_interleaved_within_a_message() -> None:
    conn = peer_at_traffic(SocketType.PUB, b"SUB")
    data = (
        frame(0x01, b"part1")
        + command(b"\x04PING\x00\x05")
        + command(b"\x09SUBSCRIBE" + b"t")
        + frame(0x00, b"part2")
    )
    conn.receive_data(data)
    events = conn.events()
    assert events == [Ping(5, b""), Subscribe(b"t"), Message([b"part1", b"part2"])]
    assert conn.data_to_send() == command(b"\x04PONG")


def test_cancel_and_unknown_commands() -> None:
    conn = peer_at_traffic(SocketType.XPUB, b"XSUB")
    conn.receive_data(
        command(b"\x06CANCEL" + b"abc") + command(b"\x05HELLO" + b"x") + command(b"\x05READY")
    )
    assert conn.events() == [Cancel(b"abc")]
    assert conn.data_to_send() == b""


def test_long_ping_context_truncated_to_16_like_libzmq() -> None:
    conn = peer_at_traffic()
    conn.receive_data(command(b"\x04PING\x00\x01" + b"c" * 20))
    assert conn.events() == [Ping(1, b"c" * 16)]
    assert conn.data_to_send() == command(b"\x04PONG" + b"c" * 16)


def test_error_after_handshake_is_peer_error() -> None:
    conn = peer_at_traffic()
    conn.receive_data(command(b"\x05ERROR\x03bye"))
    assert conn.events() == [PeerError(b"bye")]
    assert conn.failed and conn.next_event() == PeerError(b"bye")


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"", "empty command"),
        (b"\x00", "length 0"),
        (b"\x09PING", "exceeds"),
        (b"\x04PING\x00", "TTL"),
        (b"\x05ERROR", "no reason"),
        (b"\x05ERROR\x05abc", "announces 5"),
    ],
)
def test_malformed_commands_after_handshake(body: bytes, fragment: str) -> None:
    conn = peer_at_traffic()
    conn.receive_data(command(body))
    (error,) = conn.events()
    assert isinstance(error, ProtocolError) and fragment in error.reason


def test_data_after_error_is_ignored() -> None:
    conn = peer_at_traffic()
    conn.receive_data(b"\xf0\x00")
    conn.receive_data(b"\x00\x01a")
    assert len(conn.events()) == 1
    assert conn.events() == []


def test_eof_gives_connection_closed_and_is_sticky() -> None:
    from zloop.protocol import ConnectionClosed

    conn = peer_at_traffic()
    conn.receive_data(b"\x00\x01a\x01")
    conn.receive_data(b"")
    assert conn.events() == [Message([b"a"]), ConnectionClosed()]
    assert conn.next_event() == ConnectionClosed() and conn.closed and not conn.failed


def test_frames_before_handshake_complete_are_fatal() -> None:
    conn = Connection(SocketType.DEALER)
    conn.receive_data(greeting_v3() + frame(0x00, b"\x05READY"))
    (error,) = conn.events()
    assert isinstance(error, ProtocolError) and "before the handshake" in error.reason


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"\x05HELLO", ProtocolErrorCode.ZMTP_UNEXPECTED_COMMAND),
        (b"\x05READY\x0bSocket-Type\x00\x00\x00", ProtocolErrorCode.ZMTP_INVALID_METADATA),
        (b"\x05READY\x0bSocket-Type\x00\x00\x00\x09PUSH", ProtocolErrorCode.ZMTP_INVALID_METADATA),
        (b"\x05READY\x00\x00\x00\x00\x00", ProtocolErrorCode.ZMTP_INVALID_METADATA),
        (b"\x05READY\x03", ProtocolErrorCode.ZMTP_INVALID_METADATA),
        (b"\x05READY\x0bSocket-Type\x00\x00\x00\x04PUSH", ProtocolErrorCode.ZMTP_INVALID_METADATA),
        (
            b"\x05READY\x0bSocket-Type\x00\x00\x00\x06dealer",
            ProtocolErrorCode.ZMTP_INVALID_METADATA,
        ),
        (b"\x05ERROR\x09", ProtocolErrorCode.ZMTP_MALFORMED_COMMAND_ERROR),
    ],
)
def test_bad_handshake_commands(body: bytes, code: ProtocolErrorCode) -> None:
    conn = Connection(SocketType.DEALER)
    conn.receive_data(greeting_v3() + command(body))
    (error,) = conn.events()
    assert isinstance(error, ProtocolError) and error.code == code
    assert error.error_reason is None


def test_second_command_after_ready_in_handshake_is_fatal() -> None:
    # Only possible while our READY waits for ZAP: otherwise READY completes the handshake.
    from zloop.protocol import NullMechanism

    conn = Connection(SocketType.DEALER, mechanism=NullMechanism(zap=True))
    conn.receive_data(greeting_v3() + ready(b"ROUTER") + command(b"\x04PING\x00\x00"))
    events = conn.events()
    error = events[-1]
    assert isinstance(error, ProtocolError)
    assert error.code == ProtocolErrorCode.ZMTP_UNEXPECTED_COMMAND and "PING" in error.reason


def test_peer_error_during_handshake() -> None:
    conn = Connection(SocketType.DEALER)
    conn.receive_data(greeting_v3() + command(b"\x05ERROR\x03400"))
    assert conn.events() == [PeerError(b"400")]
    assert not conn.handshake_complete


def test_missing_socket_type_accepted_and_duplicates_keep_first() -> None:
    conn = Connection(SocketType.DEALER)
    conn.receive_data(
        greeting_v3() + command(b"\x05READY\x05X-Foo\x00\x00\x00\x01a\x05X-Foo\x00\x00\x00\x01b")
    )
    (event,) = conn.events()
    assert event.peer_socket_type is None and event.peer_metadata == {"X-Foo": b"a"}  # type: ignore[union-attr]
