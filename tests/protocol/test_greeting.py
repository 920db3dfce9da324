"""Greeting send order (libzmq's), version detection and refusals."""

from __future__ import annotations

import pytest
from protocol_helpers import NULL_MECH, errors, feed_bytewise, greeting_v3, ready

from zloop.constants import ProtocolErrorCode, SocketType
from zloop.protocol import Connection, Event, HandshakeComplete, NullMechanism, ProtocolError

PEER_SIGNATURE = b"\xff" + bytes(8) + b"\x7f"


def test_first_ten_bytes_at_construction() -> None:
    assert Connection(SocketType.DEALER).data_to_send() == b"\xff" + bytes(7) + b"\x01\x7f"
    conn = Connection(SocketType.DEALER, routing_id=b"abc")
    assert conn.data_to_send() == b"\xff" + (4).to_bytes(8, "big") + b"\x7f"


def test_send_order_follows_peer_progress() -> None:
    conn = Connection(SocketType.PUSH)
    conn.data_to_send()
    conn.receive_data(PEER_SIGNATURE[:9])
    assert conn.data_to_send() == b""  # signature not complete: nothing more
    conn.receive_data(PEER_SIGNATURE[9:])
    assert conn.data_to_send() == b"\x03"  # major once the signature is in
    conn.receive_data(b"\x03")
    rest = conn.data_to_send()
    assert len(rest) == 53 and rest[:5] == b"\x01NULL" and rest[5:] == bytes(48)
    conn.receive_data(greeting_v3()[11:63])
    assert conn.data_to_send() == b"" and not conn.events()
    conn.receive_data(greeting_v3()[63:])
    assert _version(conn) == (3, 1)
    assert conn.data_to_send().startswith(b"\x04\x1a\x05READY")


def _version(conn: Connection) -> tuple[int, int] | None:
    return conn.peer_version


def test_two_connections_never_deadlock_byte_by_byte() -> None:
    a, b = Connection(SocketType.PAIR), Connection(SocketType.PAIR)
    events_a: list[Event] = []
    events_b: list[Event] = []
    for _ in range(500):
        for src, dst, sink in ((a, b, events_b), (b, a, events_a)):
            data = src.data_to_send()
            for i in range(len(data)):
                dst.receive_data(data[i : i + 1])
            sink += dst.events()
        if a.handshake_complete and b.handshake_complete:
            break
    assert isinstance(events_a[0], HandshakeComplete) and isinstance(events_b[0], HandshakeComplete)


@pytest.mark.parametrize(
    ("major", "minor", "version"),
    [
        (3, 0, (3, 0)),
        (3, 1, (3, 1)),
        (3, 7, (3, 1)),
        (4, 0, (3, 1)),
        (2, 0, (3, 1)),
        (255, 0, (3, 1)),
    ],
)
def test_version_mapping(major: int, minor: int, version: tuple[int, int]) -> None:
    conn = Connection(SocketType.PAIR)
    conn.receive_data(greeting_v3(minor=minor, major=major) + ready(b"PAIR"))
    (event,) = conn.events()
    assert isinstance(event, HandshakeComplete) and event.peer_version == version


def test_padding_and_signature_end_bits_not_validated() -> None:
    conn = Connection(SocketType.PAIR)
    odd = b"\xff" + b"\xde\xad\xbe\xef" * 2 + b"\x01" + greeting_v3()[10:]
    conn.receive_data(odd + ready(b"PAIR"))
    assert conn.handshake_complete


def test_peer_as_server_ignored_for_null() -> None:
    greeting = bytearray(greeting_v3())
    greeting[32] = 1
    conn = Connection(SocketType.PAIR)
    conn.receive_data(bytes(greeting) + ready(b"PAIR"))
    assert conn.handshake_complete


@pytest.mark.parametrize(
    "mechanism",
    [
        b"PLAIN" + bytes(15),
        b"null" + bytes(16),
        b"NULL" + bytes(15) + b"\x01",
        b"NULL ".ljust(20, b"\0"),
    ],
)
def test_mechanism_mismatch(mechanism: bytes) -> None:
    conn = Connection(SocketType.PAIR)
    conn.data_to_send()
    conn.receive_data(greeting_v3(mechanism=mechanism) + ready(b"PAIR"))
    (event,) = conn.events()
    assert isinstance(event, ProtocolError)
    assert event.code == ProtocolErrorCode.ZMTP_MECHANISM_MISMATCH and event.error_reason is None
    assert b"ERROR" not in conn.data_to_send()
    assert not conn.handshake_complete and conn.failed


def test_whole_greeting_and_ready_bytewise_equals_at_once() -> None:
    data = greeting_v3() + ready(b"ROUTER", Identity=b"") + b"\x01\x00\x00\x02hi"
    at_once = Connection(SocketType.DEALER)
    at_once.receive_data(data)
    assert feed_bytewise(Connection(SocketType.DEALER), data) == at_once.events()


@pytest.mark.parametrize(
    "peer_start",
    [
        b"\x01\x00",
        b"\xff" + bytes(8) + b"\x00",
        b"\xff" + bytes(8) + b"\x7f\x01\x05",
        b"\xff" + bytes(8) + b"\x7f\x00\x05",
    ],
    ids=["v1-short", "v1-long", "v2", "v1-revision"],
)
def test_legacy_refused_when_disabled(peer_start: bytes) -> None:
    for conn in (
        Connection(SocketType.DEALER, legacy=False),
        Connection(SocketType.DEALER, mechanism=NullMechanism(zap=True)),
    ):
        conn.receive_data(peer_start)
        (error,) = errors(conn.events())
        assert "legacy" in error.reason and error.error_reason is None


def test_mechanism_name_validation() -> None:
    class Long(NullMechanism):
        name = b"X" * 21

    with pytest.raises(ValueError, match="1 to 20"):
        Connection(SocketType.PAIR, mechanism=Long())


def test_greeting_bytes_are_not_swallowed_with_first_frames() -> None:
    conn = Connection(SocketType.PULL)
    conn.receive_data(greeting_v3(mechanism=NULL_MECH) + ready(b"PUSH") + b"\x00\x01x")
    events = conn.events()
    assert isinstance(events[0], HandshakeComplete)
    assert events[1].frames == [b"x"]  # type: ignore[union-attr]
