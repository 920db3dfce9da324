"""Connection.recv_buffer / received_into: large bodies received straight into their own buffer,
and Connection.message_lists (messages as plain frame lists)."""

from __future__ import annotations

import struct
import tracemalloc
from collections.abc import Iterable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from protocol_helpers import (
    command,
    errors,
    frame,
    greeting_v3,
    messages,
    peer_at_traffic,
    ready,
    v1_frame,
)

from zloop.constants import SocketType
from zloop.protocol import (
    Connection,
    ConnectionClosed,
    Event,
    HandshakeComplete,
    LocalProtocolError,
    Message,
    Ping,
    ProtocolError,
)
from zloop.protocol.frames import GROW_STEP, LARGE_BODY, PREALLOC_LIMIT

FAST = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def engine_feed(conn: Connection, data: bytes, reads: Iterable[int]) -> tuple[list[Event], int]:
    """Feed *data* the way the engine does: into recv_buffer() whenever it offers room, else
    through receive_data. ``reads`` cycles through the sizes of each read (a short "recv").
    Returns the events and how many bytes went through recv_buffer."""
    sizes = list(reads)
    events: list[Event] = []
    pos = 0
    direct = 0
    turn = 0
    while pos < len(data):
        want = sizes[turn % len(sizes)]
        turn += 1
        view = conn.recv_buffer()
        if view is None:
            conn.receive_data(data[pos : pos + want])
            pos += want
        else:
            n = min(want, len(view), len(data) - pos)
            view[:n] = data[pos : pos + n]
            view.release()
            conn.received_into(n)
            pos += n
            direct += n
        events += conn.events()
    return events, direct


def test_large_body_goes_into_the_frames_own_buffer() -> None:
    conn = peer_at_traffic()
    body = bytes(range(256)) * 400  # 102400 bytes
    data = frame(0, body)
    conn.receive_data(data[:1000])  # header and the first bytes
    assert conn.events() == []
    view = conn.recv_buffer()
    assert view is not None and not view.readonly
    assert len(view) == len(body) - (1000 - 9)  # exactly the rest of this body
    target = view.obj
    view[:] = data[1000:]
    view.release()
    conn.received_into(len(body) - 991)
    (event,) = conn.events()
    assert isinstance(event, Message)
    (delivered,) = event.frames
    assert delivered is target  # the buffer recv_into filled is the frame: no copy after it
    assert delivered == body
    assert conn.recv_buffer() is None


def test_no_buffer_for_small_or_complete_frames() -> None:
    conn = peer_at_traffic()
    assert conn.recv_buffer() is None
    conn.receive_data(frame(0, b"x" * (LARGE_BODY - 1))[:100])  # small: stays in the leftover
    assert conn.recv_buffer() is None
    conn.receive_data(b"x" * (LARGE_BODY - 1 - 91))
    assert messages(conn.events()) == [[b"x" * (LARGE_BODY - 1)]]
    assert conn.recv_buffer() is None


@pytest.mark.parametrize("reads", [[1], [7, 1, 4096], [65536], [3, 100_000]])
def test_partial_fills_mixed_with_small_frames_and_commands(reads: list[int]) -> None:
    big = bytes(range(251)) * 300  # 75300 bytes, not a multiple of any read size
    data = (
        frame(0, b"first")
        + frame(1, b"a")
        + frame(1, big)
        + command(b"\x04PING\x00\x07")  # a command between the frames of a message
        + frame(0, b"z" * 300)
        + frame(0, big[:LARGE_BODY])
        + frame(0, b"last")
    )
    conn = peer_at_traffic()
    events, direct = engine_feed(conn, data, reads)
    assert messages(events) == [
        [b"first"],
        [b"a", big, b"z" * 300],
        [big[:LARGE_BODY]],
        [b"last"],
    ]
    assert Ping(7, b"") in events
    assert not errors(events)
    if max(reads) < len(big) // 2:  # otherwise most of a body may arrive with its header
        assert direct > len(big) // 2


def test_byte_at_a_time_through_the_buffer() -> None:
    body = b"q" * (LARGE_BODY + 5)
    data = frame(1, body) + frame(0, b"end")
    conn = peer_at_traffic()
    events, direct = engine_feed(conn, data, [1])
    assert messages(events) == [[body, b"end"]]
    assert direct == len(body)  # every body byte after the header went through recv_buffer


@FAST
@given(
    st.lists(
        st.lists(
            st.one_of(
                st.binary(max_size=40),
                st.integers(LARGE_BODY, 3 * LARGE_BODY).map(lambda n: bytes([n % 251]) * n),
            ),
            min_size=1,
            max_size=3,
        ),
        min_size=1,
        max_size=4,
    ),
    st.lists(st.integers(1, 20_000), min_size=1, max_size=5),
)
def test_equivalent_to_receive_data(msgs: list[list[bytes]], reads: list[int]) -> None:
    data = b"".join(
        frame(1 if i < len(m) - 1 else 0, part) for m in msgs for i, part in enumerate(m)
    )
    reference = peer_at_traffic()
    reference.receive_data(data)
    expected = reference.events()
    events, _ = engine_feed(peer_at_traffic(), data, reads)
    assert messages(events) == messages(expected) == msgs


def test_hostile_announced_size_allocates_in_bounded_steps() -> None:
    conn = peer_at_traffic()
    conn.receive_data(b"\x02" + struct.pack(">Q", 1 << 62) + b"abc")
    tracemalloc.start()
    try:
        view = conn.recv_buffer()
        assert view is not None
        first = len(view)
        view.release()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Room for what arrived plus one bounded step, never the announced 2^62.
    assert first <= GROW_STEP
    assert peak < 2 * GROW_STEP + 64 * 1024
    received = 3
    for _ in range(3):
        view = conn.recv_buffer()
        assert view is not None
        # Growth is bounded by what the peer actually sent so far.
        assert len(view) <= max(received, GROW_STEP)
        n = len(view)
        view.release()
        conn.received_into(n)
        received += n
        assert conn.events() == []


def test_body_above_prealloc_limit_grows_and_arrives_intact() -> None:
    body = bytes(range(256)) * ((PREALLOC_LIMIT + 3 * GROW_STEP) // 256 + 7)
    conn = peer_at_traffic()
    events, direct = engine_feed(conn, frame(0, body) + frame(0, b"after"), [9, 300_000])
    assert messages(events) == [[body], [b"after"]]
    assert direct == len(body)


def test_maxmsgsize_is_checked_before_any_buffer() -> None:
    conn = peer_at_traffic(maxmsgsize=LARGE_BODY * 2)
    conn.receive_data(b"\x02" + struct.pack(">Q", LARGE_BODY * 2 + 1) + b"x")
    assert conn.recv_buffer() is None
    (error,) = conn.events()
    assert isinstance(error, ProtocolError) and "maxmsgsize" in error.reason
    ok = peer_at_traffic(maxmsgsize=LARGE_BODY * 2)
    events, direct = engine_feed(ok, frame(0, b"y" * LARGE_BODY * 2), [50])
    assert messages(events) == [[b"y" * LARGE_BODY * 2]] and direct > 0


def test_received_into_misuse_raises() -> None:
    conn = peer_at_traffic()
    with pytest.raises(LocalProtocolError):
        conn.received_into(5)  # no large body in progress
    conn.receive_data(frame(0, b"k" * LARGE_BODY)[:20])
    view = conn.recv_buffer()
    assert view is not None
    size = len(view)
    view[:] = b"k" * size
    view.release()
    with pytest.raises(LocalProtocolError):
        conn.received_into(size + 1)
    with pytest.raises(LocalProtocolError):
        conn.received_into(-1)
    conn.received_into(size)  # still usable after refused calls
    assert messages(conn.events()) == [[b"k" * LARGE_BODY]]


def test_received_into_zero_is_eof() -> None:
    conn = peer_at_traffic()
    conn.receive_data(frame(0, b"e" * LARGE_BODY)[:100])
    assert conn.recv_buffer() is not None
    conn.received_into(0)
    assert conn.events() == [ConnectionClosed()]
    assert conn.recv_buffer() is None
    conn.received_into(10)  # ignored after the end, like receive_data


def test_large_body_from_zmtp10_peer() -> None:
    conn = Connection(SocketType.PULL)
    conn.data_to_send()
    body = b"v" * (LARGE_BODY * 3)
    events, direct = engine_feed(conn, v1_frame(0, b"peer") + v1_frame(0, body), [64, 5000])
    assert isinstance(events[0], HandshakeComplete)
    assert messages(events) == [[body]]
    assert direct > 0


def test_message_lists_deliver_plain_frame_lists() -> None:
    conn = peer_at_traffic()
    conn.message_lists = True
    big = b"L" * (LARGE_BODY + 1)
    data = frame(0, b"one") + frame(1, b"a") + frame(0, b"b") + command(b"\x04PING\x00\x01")
    events, _ = engine_feed(conn, data + frame(0, big), [len(data) + 20, 4096])
    assert events[0] == [b"one"]
    assert events[1] == [b"a", b"b"]
    assert events[2] == Ping(1, b"")
    assert events[3] == [big] and type(events[3][0]) is bytearray
    conn.message_lists = False
    conn.receive_data(frame(0, b"back"))
    assert conn.events() == [Message([b"back"])]


def test_handshake_body_grows_only_as_its_bytes_arrive() -> None:
    """Until the handshake is over nobody vouched for the peer: a command announcing a large body
    reserves nothing ahead (no preallocation, no recv_buffer room), so one frame header cannot make
    a connection hold PREALLOC_LIMIT bytes. The body still arrives intact, and after the handshake
    large bodies are received straight into their own buffer again."""
    big = bytes(range(256)) * (PREALLOC_LIMIT // 256)
    data = greeting_v3() + ready(b"DEALER", X_Big=big)
    header_end = len(greeting_v3()) + 9 + 20  # the greeting, a long command header, 20 bytes
    conn = Connection(SocketType.ROUTER)
    conn.data_to_send()
    tracemalloc.start()
    try:
        conn.receive_data(data[:header_end])
        assert conn.recv_buffer() is None
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert held < 16 * 1024
    events, direct = engine_feed(conn, data[header_end:], [65536])
    assert direct == 0  # every byte through receive_data: no room was offered ahead
    (done,) = [e for e in events if isinstance(e, HandshakeComplete)]
    assert done.peer_metadata["X-Big"] == big
    events, direct = engine_feed(conn, frame(0, big), [65536])
    assert messages(events) == [[big]] and direct > 0
