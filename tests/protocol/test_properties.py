"""Property-based round trips (Hypothesis) and a fuzz test over mutated greetings and frames."""

from __future__ import annotations

import struct
import tracemalloc

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from protocol_helpers import command, greeting_v3, messages, peer_at_traffic, pump, ready, v1_frame

from zloop.constants import SocketType
from zloop.protocol import (
    AuthenticationFailed,
    Cancel,
    Connection,
    ConnectionClosed,
    Event,
    HandshakeComplete,
    Message,
    PeerError,
    Ping,
    Pong,
    ProtocolError,
    Subscribe,
    ZapRequest,
)
from zloop.protocol.metadata import encode_properties, parse_properties

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

frame_bodies = st.one_of(
    st.binary(max_size=300),
    st.builds(lambda n, b: b * n, st.integers(0, 20_000), st.binary(min_size=1, max_size=1)),
)
message_lists = st.lists(st.lists(frame_bodies, min_size=1, max_size=5), min_size=1, max_size=6)


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces, last = [], 0
    for p in points:
        pieces.append(data[last:p])
        last = p
    pieces.append(data[last:])
    return [p for p in pieces if p]


@FAST
@given(message_lists, st.lists(st.integers(0, 1 << 20), max_size=20))
def test_messages_round_trip_under_any_chunking(msgs: list[list[bytes]], cuts: list[int]) -> None:
    a = Connection(SocketType.DEALER)
    b = Connection(SocketType.ROUTER)
    pump(a, b)
    a.send_messages(msgs)
    for piece in _split(a.data_to_send(), cuts):
        b.receive_data(piece)
    assert messages(b.events()) == msgs


@FAST
@given(message_lists, st.lists(st.integers(0, 1 << 20), max_size=10))
def test_v1_messages_round_trip(msgs: list[list[bytes]], cuts: list[int]) -> None:
    receiver = Connection(SocketType.PULL)
    data = v1_frame(0, b"id") + b"".join(
        v1_frame(1 if i < len(m) - 1 else 0, f) for m in msgs for i, f in enumerate(m)
    )
    for piece in _split(data, cuts):
        receiver.receive_data(piece)
    events = receiver.events()
    assert events[0] == HandshakeComplete(None, (1, 0), {}, b"id")
    assert messages(events) == msgs

    sender = Connection(SocketType.PUSH)
    sender.receive_data(v1_frame(0, b""))
    sender.events()
    sender.data_to_send()
    sender.send_messages(msgs)
    assert sender.data_to_send() == data[len(v1_frame(0, b"id")) :]


names = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=255), min_size=1, max_size=40
).filter(lambda n: n not in ("Socket-Type", "Identity") and len(n.encode("latin-1")) <= 255)


@FAST
@given(st.dictionaries(names, st.binary(max_size=300), max_size=8))
def test_properties_round_trip(props: dict[str, bytes]) -> None:
    assert parse_properties(encode_properties(props.items())) == props
    a = Connection(SocketType.PAIR, metadata=props)
    b = Connection(SocketType.PAIR)
    _, events_b = pump(a, b)
    (hs,) = events_b
    assert isinstance(hs, HandshakeComplete)
    assert hs.peer_metadata == {"Socket-Type": b"PAIR", **props}


@FAST
@given(st.binary(max_size=200), st.integers(0, 0xFFFF), st.binary(max_size=16))
def test_commands_round_trip(topic: bytes, ttl: int, context: bytes) -> None:
    a, b = Connection(SocketType.XSUB), Connection(SocketType.XPUB)
    pump(a, b)
    a.send_subscribe(topic)
    a.send_cancel(topic)
    a.send_ping(ttl, context)
    events_a, events_b = pump(a, b)
    assert events_b == [Subscribe(topic), Cancel(topic), Ping(ttl, context)]
    assert events_a == [Pong(context)]


@FAST
@given(st.binary(max_size=400), st.lists(st.integers(0, 1000), max_size=8))
def test_bytewise_and_chunked_parsing_agree(tail: bytes, cuts: list[int]) -> None:
    stream = greeting_v3() + ready(b"ROUTER") + tail
    whole = Connection(SocketType.DEALER)
    whole.receive_data(stream)
    expected = whole.events()
    chunked = Connection(SocketType.DEALER)
    got: list[Event] = []
    for piece in _split(stream, cuts):
        chunked.receive_data(piece)
        got += chunked.events()
    assert got == expected
    bytewise = Connection(SocketType.DEALER)
    got = []
    for i in range(len(stream)):
        bytewise.receive_data(stream[i : i + 1])
        got += bytewise.events()
    assert got == expected


# --------------------------------------------------------------------------- fuzz

ALLOWED = (
    HandshakeComplete,
    Message,
    Subscribe,
    Cancel,
    Ping,
    Pong,
    PeerError,
    ProtocolError,
    ConnectionClosed,
    ZapRequest,
    AuthenticationFailed,
)
TERMINAL = (ProtocolError, PeerError, ConnectionClosed, AuthenticationFailed)

SEEDS = [
    greeting_v3()
    + ready(b"ROUTER", Identity=b"x")
    + b"\x01\x00\x00\x05hello"
    + command(b"\x04PING\x00\x01ab"),
    greeting_v3(minor=0) + ready(b"DEALER") + b"\x02" + struct.pack(">Q", 3) + b"abc",
    b"\xff" + bytes(8) + b"\x7f\x01\x05" + b"\x00\x02id" + b"\x01\x01a\x00\x00",
    b"\xff" + bytes(8) + b"\x7f\x00\x05" + v1_frame(0, b"id") + v1_frame(0, b"m"),
    v1_frame(0, b"identity") + v1_frame(1, b"a") + v1_frame(0, b"b" * 300),
    greeting_v3()
    + command(b"\x05READY\x0bSocket-Type\x00\x00\x00\x06ROUTER\x03X-a\x00\x00\x00\x01z"),
    greeting_v3() + command(b"\x05ERROR\x03abc"),
]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.integers(0, 3))
        pos = draw(st.integers(0, len(data)))
        if kind == 0 and pos < len(data):
            data[pos] = draw(st.integers(0, 255))
        elif kind == 1:
            data[pos:pos] = draw(st.binary(min_size=1, max_size=12))
        elif kind == 2:
            del data[pos : pos + draw(st.integers(1, 8))]
        else:
            data[pos:pos] = b"\x02" + struct.pack(">Q", draw(st.integers(0, (1 << 64) - 1)))
    return bytes(data)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    mutated(),
    st.lists(st.integers(0, 200), max_size=6),
    st.sampled_from([-1, 0, 100]),
    st.booleans(),
)
def test_fuzz_only_events_never_exceptions(
    data: bytes, cuts: list[int], maxmsgsize: int, eof: bool
) -> None:
    conn = Connection(SocketType.DEALER, maxmsgsize=maxmsgsize)
    events: list[Event] = []
    tracemalloc.start()
    try:
        for piece in _split(data, cuts):
            conn.receive_data(piece)
            events += conn.events()
        if eof:
            conn.receive_data(b"")
            events += conn.events()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 * 1024 * 1024  # nothing allocates a peer-announced size
    assert all(isinstance(e, ALLOWED) for e in events)
    terminal = [e for e in events if isinstance(e, TERMINAL)]
    assert len(terminal) <= 1
    if terminal:
        assert events[-1] is terminal[0]
    for e in events:
        if isinstance(e, ProtocolError):
            assert "internal error" not in e.reason
            assert e.reason
    conn.data_to_send()


@FAST
@given(st.integers(256, (1 << 63) - 1), st.binary(max_size=64))
def test_announced_sizes_never_preallocated(size: int, tail: bytes) -> None:
    conn = peer_at_traffic()
    tracemalloc.start()
    try:
        conn.receive_data(b"\x02" + struct.pack(">Q", size) + tail)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1024 * 1024 + 64 * 1024  # at most the bounded preallocation chunk


def test_every_seed_parses_the_same_bytewise_and_at_once() -> None:
    for seed in SEEDS:
        whole = Connection(SocketType.DEALER)
        whole.receive_data(seed)
        expected = whole.events()
        bytewise = Connection(SocketType.DEALER)
        got: list[Event] = []
        for i in range(len(seed)):
            bytewise.receive_data(seed[i : i + 1])
            got += bytewise.events()
        assert got == expected, seed
        assert whole.data_to_send() == bytewise.data_to_send()
