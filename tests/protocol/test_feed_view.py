"""Connection.receive_data given a view of a buffer the caller reuses (the engine's shared receive
buffer): large frames are decoded straight from the view (FrameDecoder.feed_view), one copy each,
with the same events as bytes fed at once, and nothing keeps a reference to the view."""

from __future__ import annotations

from collections.abc import Iterable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from protocol_helpers import command, errors, frame, messages, peer_at_traffic

from zloop.protocol import Connection, Event, Message, Ping
from zloop.protocol.frames import LARGE_BODY, VIEW_FRAME_MIN, FrameDecoder

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

#: Frame sizes around every boundary the view path looks at.
SIZES = st.sampled_from(
    [
        0,
        1,
        255,
        256,
        VIEW_FRAME_MIN - 1,
        VIEW_FRAME_MIN,
        LARGE_BODY - 1,
        LARGE_BODY,
        LARGE_BODY + 1,
        20_000,
        65_536,
        150_000,
    ]
)
MESSAGE = st.lists(SIZES, min_size=1, max_size=3)


def wire(shapes: list[list[int]], ping_after: int = -1) -> tuple[bytes, list[list[bytes]]]:
    """The frames of ``shapes`` (each body distinct), a PING after message ``ping_after``."""
    data = bytearray()
    expected = []
    for index, shape in enumerate(shapes):
        msg = [bytes([(index * 7 + part) % 251]) * size for part, size in enumerate(shape)]
        expected.append(msg)
        for part, body in enumerate(msg):
            data += frame(1 if part < len(msg) - 1 else 0, body)
        if index == ping_after:
            data += command(b"\x04PING\x00\x00")
    return bytes(data), expected


def feed_through_shared(
    conn: Connection, data: bytes, reads: Iterable[int], scatter: bool = True
) -> list[Event]:
    """Feed ``data`` as the engine does: every read lands in one reused buffer (overwritten with
    junk once decoded), the rest of a large body in progress straight into its own buffer first
    when ``scatter`` (as the engine's scattered read)."""
    sizes = list(reads)
    shared = bytearray(max(sizes))
    view = memoryview(shared)
    events: list[Event] = []
    pos = 0
    turn = 0
    while pos < len(data):
        want = min(sizes[turn % len(sizes)], len(data) - pos)
        turn += 1
        target = conn.recv_buffer() if scatter else None
        if target is not None:
            into_body = min(want, len(target))
            target[:into_body] = data[pos : pos + into_body]
            target.release()
            conn.received_into(into_body)
            pos += into_body
            want -= into_body
        if want:
            view[:want] = data[pos : pos + want]
            conn.receive_data(view[:want])
            view[:want] = b"\xee" * want  # the next read overwrites it
            pos += want
        events += conn.events()
    return events


@FAST
@given(
    shapes=st.lists(MESSAGE, min_size=1, max_size=6),
    reads=st.lists(st.integers(1, 300_000), min_size=1, max_size=4),
    scatter=st.booleans(),
)
def test_views_decode_as_bytes_do(shapes: list[list[int]], reads: list[int], scatter: bool) -> None:
    data, expected = wire(shapes)
    conn = peer_at_traffic()
    events = feed_through_shared(conn, data, reads, scatter)
    assert messages(events) == expected
    assert conn.recv_buffer() is None


@pytest.mark.parametrize("lists", [False, True])
def test_a_read_of_large_frames_is_decoded_from_the_view(lists: bool) -> None:
    data, expected = wire([[65_536], [VIEW_FRAME_MIN], [10, 70_000], [5]])
    conn = peer_at_traffic()
    conn.message_lists = lists
    decoder = conn._decoder
    assert type(decoder) is FrameDecoder
    # Decoded from the view up to the small single-frame message, which feed() takes.
    stop = data.index(frame(0, bytes([3 * 7 % 251]) * 5))
    assert decoder.feed_view(memoryview(bytearray(data))) == stop
    conn.receive_data(memoryview(bytearray(data[stop:])))
    events = conn.events()
    got = [e if isinstance(e, list) else e.frames for e in events]
    assert got == expected
    assert all(type(part) is bytes for msg in got for part in msg)
    if not lists:
        assert all(isinstance(e, Message) for e in events)


def test_a_read_starting_small_is_left_to_feed() -> None:
    data, _ = wire([[100], [65_536]])
    conn = peer_at_traffic()
    decoder = conn._decoder
    assert type(decoder) is FrameDecoder
    assert decoder.feed_view(memoryview(data)) == 0


def test_a_command_between_large_messages() -> None:
    data, expected = wire([[65_536], [20_000], [65_536]], ping_after=0)
    for cut in (len(data), 70_000, 65_545, 65_550):
        conn = peer_at_traffic()
        events = feed_through_shared(conn, data, [cut])
        assert messages(events) == expected
        assert sum(isinstance(e, Ping) for e in events) == 1


def test_maxmsgsize_is_checked_on_the_view_path() -> None:
    data, _ = wire([[65_535], [65_536]])
    conn = peer_at_traffic(maxmsgsize=65_535)
    conn.receive_data(memoryview(bytearray(data)))
    events = conn.events()
    assert [len(m[0]) for m in messages(events)] == [65_535]
    (error,) = errors(events)
    assert "maxmsgsize" in error.reason


def test_reserved_flags_after_a_large_frame() -> None:
    data, _ = wire([[65_536]])
    conn = peer_at_traffic()
    conn.receive_data(memoryview(bytearray(data + bytes((0x80, 0)))))
    events = conn.events()
    assert len(messages(events)) == 1
    assert errors(events)


def test_a_view_that_is_not_of_bytes_is_copied_as_before() -> None:
    data, expected = wire([[65_536]])
    conn = peer_at_traffic()
    conn.receive_data(memoryview(bytearray(data)).cast("c"))
    assert messages(conn.events()) == expected
