"""A 3.1 connection talking to simulated ZMTP 3.0, 2.0 and 1.0 peers (bytes built from RFC 23,
RFC 15 and RFC 13 by hand)."""

from __future__ import annotations

import pytest
from protocol_helpers import (
    errors,
    feed_all,
    feed_bytewise,
    frame,
    greeting_v3,
    messages,
    ready,
    v1_frame,
)

from zloop.constants import SocketType
from zloop.protocol import Connection, HandshakeComplete, Message

SIG_V2 = b"\xff" + bytes(8) + b"\x7f"


def test_zmtp30_peer_subscriptions_are_data_frames() -> None:
    conn = Connection(SocketType.XSUB)
    conn.receive_data(greeting_v3(minor=0) + ready(b"XPUB"))
    (event,) = conn.events()
    assert isinstance(event, HandshakeComplete) and event.peer_version == (3, 0)
    conn.data_to_send()
    conn.send_subscribe(b"topic")
    conn.send_cancel(b"topic")
    assert conn.data_to_send() == frame(0, b"\x01topic") + frame(0, b"\x00topic")
    conn.send_ping(1)  # PING is sent to any 3.x peer, as libzmq does
    assert conn.data_to_send() == b"\x04\x07\x04PING\x00\x01"


def test_zmtp20_peer() -> None:
    conn = Connection(SocketType.SUB, routing_id=b"me")
    assert conn.data_to_send() == b"\xff" + (3).to_bytes(8, "big") + b"\x7f"
    conn.receive_data(SIG_V2)
    assert conn.data_to_send() == b"\x03"
    # RFC 15: greeting = signature revision(01) socket-type; then the identity frame.
    conn.receive_data(b"\x01\x01")  # revision 1, PUB
    assert conn.data_to_send() == b"\x02" + b"\x00\x02me"  # our type byte (SUB), identity frame
    assert conn.peer_version == (2, 0) and not conn.handshake_complete
    events = feed_all(conn, b"\x00\x03pub" + b"\x01\x01A\x00\x02BC")
    assert events == [HandshakeComplete("PUB", (2, 0), {}, b"pub"), Message([b"A", b"BC"])]
    conn.send_subscribe(b"A")
    conn.send_ping(5)  # no PING in 2.0: nothing
    conn.send_message([b"x" * 300])
    assert conn.data_to_send() == b"\x00\x02\x01A" + frame(0, b"x" * 300)


def test_zmtp20_xpub_type_byte_and_compat() -> None:
    conn = Connection(SocketType.SUB)
    conn.receive_data(SIG_V2 + b"\x01\x09" + b"\x00\x00")
    (event,) = conn.events()
    assert isinstance(event, HandshakeComplete) and event.peer_socket_type == "XPUB"

    bad = Connection(SocketType.SUB)
    bad.receive_data(SIG_V2 + b"\x01\x08")  # PUSH
    (error,) = errors(bad.events())
    assert "not compatible" in error.reason
    unknown = Connection(SocketType.SUB)
    unknown.receive_data(SIG_V2 + b"\x01\x63")
    assert "unknown type byte 99" in errors(unknown.events())[0].reason


def test_zmtp20_reserved_command_bit_rejected() -> None:
    conn = Connection(SocketType.PAIR)
    conn.receive_data(SIG_V2 + b"\x01\x00" + b"\x00\x00" + b"\x04\x00")
    events = conn.events()
    assert isinstance(events[0], HandshakeComplete)
    assert "reserved" in errors(events)[0].reason


def test_zmtp10_unversioned_peer_short_identity() -> None:
    conn = Connection(SocketType.PULL, routing_id=b"abc")
    sig = conn.data_to_send()
    # RFC 13: identity frame = length(flags included) flags body; then messages.
    peer = v1_frame(0, b"peer") + v1_frame(1, b"m1") + v1_frame(0, b"m2") + v1_frame(0, b"y" * 400)
    events = feed_all(conn, peer)
    # RFC 15: "We continue by sending the body of the identity frame".
    assert sig + conn.data_to_send() == b"\xff" + (4).to_bytes(8, "big") + b"\x7f" + b"abc"
    assert events == [
        HandshakeComplete(None, (1, 0), {}, b"peer"),
        Message([b"m1", b"m2"]),
        Message([b"y" * 400]),
    ]
    conn.send_message([b"a", b"b" * 300])
    conn.send_subscribe(b"nothing for 1.0")
    assert conn.data_to_send() == v1_frame(1, b"a") + v1_frame(0, b"b" * 300)


def test_zmtp10_unversioned_peer_long_identity_header() -> None:
    conn = Connection(SocketType.SUB)
    conn.data_to_send()
    # A long-form identity header whose flags byte has LSB 0 (RFC 15 detection).
    peer = b"\xff" + (3).to_bytes(8, "big") + b"\x00" + b"id" + v1_frame(0, b"msg")
    assert feed_bytewise(conn, peer) == [
        HandshakeComplete(None, (1, 0), {}, b"id"),
        Message([b"msg"]),
    ]
    assert conn.data_to_send() == b""  # empty routing id: no identity body bytes


def test_zmtp10_revision0_peer_uses_v1_framing() -> None:
    conn = Connection(SocketType.DEALER, routing_id=b"r")
    conn.data_to_send()
    conn.receive_data(SIG_V2 + b"\x00\x05")
    assert conn.data_to_send() == b"\x03\x05" + v1_frame(0, b"r")
    assert conn.peer_version == (1, 0)
    events = feed_all(conn, v1_frame(0, b"") + v1_frame(0, b"hello"))
    assert events == [HandshakeComplete(None, (1, 0), {}, b""), Message([b"hello"])]


def test_zmtp10_zero_length_frame_is_an_error() -> None:
    conn = Connection(SocketType.PULL)
    conn.receive_data(v1_frame(0, b"") + b"\x00\x00")
    events = conn.events()
    assert "length 0" in errors(events)[0].reason


def test_zmtp10_reserved_flag_bits_ignored() -> None:
    conn = Connection(SocketType.PULL)
    events = feed_all(conn, v1_frame(0x7F, b"") + b"\x02\xffa" + b"\x02\x00b")
    assert messages(events) == [[b"a", b"b"]]


@pytest.mark.parametrize("maxmsgsize", [0, 3])
def test_legacy_identity_allowed_above_small_maxmsgsize(maxmsgsize: int) -> None:
    conn = Connection(SocketType.PULL, maxmsgsize=maxmsgsize)
    events = feed_all(conn, v1_frame(0, b"long-identity") + v1_frame(0, b"abcd"))
    assert isinstance(events[0], HandshakeComplete)
    assert "maxmsgsize" in errors(events)[0].reason
