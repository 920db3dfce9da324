"""Long-form frames (8-byte size, RFC 23 "Framing") on the hot paths: the decoder's branch for a
long single-frame message, the leftover of a partial frame joined with the next received view,
and the sender's reuse of a long header while the size repeats."""

from __future__ import annotations

import struct

import pytest
from protocol_helpers import connected, errors, feed_bytewise, frame, peer_at_traffic

from zloop.constants import SocketType
from zloop.protocol import Connection, Event, Message

#: Messages around the 255/256 boundary, long and short frames mixed within a message, a long
#: header announcing a short body (allowed; libzmq never sends it), and an empty long frame.
SHAPES: list[tuple[list[bytes], bool]] = [
    ([b"a" * 300], False),
    ([b"b" * 10], False),
    ([b"c" * 1024, b"d" * 5], False),
    ([b"e" * 255], False),
    ([b"f" * 256], False),
    ([b"g" * 4, b"h" * 700, b"i" * 2], False),
    ([b"j" * 257, b"k" * 256], False),
    ([b"l" * 7], True),
    ([b""], True),
    ([b"m" * 1024], False),
]


def wire(shapes: list[tuple[list[bytes], bool]]) -> bytes:
    data = b""
    for parts, force_long in shapes:
        for index, body in enumerate(parts):
            data += frame(1 if index < len(parts) - 1 else 0, body, force_long)
    return data


EXPECTED = [parts for parts, _ in SHAPES]
WIRE = wire(SHAPES)


def received(events: list[Event]) -> list[list[bytes]]:
    """The messages among ``events`` (Message events or, with message_lists, frames lists)."""
    out = []
    for event in events:
        if isinstance(event, Message):
            out.append([bytes(f) for f in event.frames])
        elif isinstance(event, list):
            out.append([bytes(f) for f in event])
    return out


def feed_reused_buffer(conn: Connection, pieces: list[bytes]) -> list[Event]:
    """Feed each piece as a view of one buffer that is overwritten right after, as the engine's
    shared receive buffer is: nothing may keep a reference to it. Empty pieces are skipped (an
    empty read means EOF)."""
    pieces = [piece for piece in pieces if piece]
    scratch = bytearray(max(map(len, pieces), default=0))
    events: list[Event] = []
    for piece in pieces:
        scratch[: len(piece)] = piece
        conn.receive_data(memoryview(scratch)[: len(piece)])
        scratch[:] = b"\xee" * len(scratch)
        events += conn.events()
    return events


@pytest.mark.parametrize("lists", [True, False])
@pytest.mark.parametrize("as_view", [True, False])
def test_split_at_every_byte_boundary(lists: bool, as_view: bool) -> None:
    for cut in range(len(WIRE) + 1):
        conn = peer_at_traffic(SocketType.PULL, b"PUSH")
        conn.message_lists = lists
        pieces = [WIRE[:cut], WIRE[cut:]]
        if as_view:
            events = feed_reused_buffer(conn, pieces)
        else:
            events = []
            for piece in filter(None, pieces):
                conn.receive_data(piece)
                events += conn.events()
        assert received(events) == EXPECTED, cut
        assert not errors(events)


def test_split_at_two_boundaries_in_long_frames() -> None:
    """Three reads: a leftover joined with a view that again ends in the middle of a frame."""
    long_start = len(frame(0, b"a" * 300)) + len(frame(0, b"b" * 10))
    for first in range(long_start, long_start + 12):
        for second in range(first, first + 1040, 13):
            conn = peer_at_traffic(SocketType.PULL, b"PUSH")
            conn.message_lists = True
            events = feed_reused_buffer(conn, [WIRE[:first], WIRE[first:second], WIRE[second:]])
            assert received(events) == EXPECTED, (first, second)


def test_bytewise() -> None:
    conn = peer_at_traffic(SocketType.PULL, b"PUSH")
    assert received(feed_bytewise(conn, WIRE)) == EXPECTED


@pytest.mark.parametrize("lists", [True, False])
def test_long_single_frame_over_maxmsgsize_fails(lists: bool) -> None:
    conn = peer_at_traffic(SocketType.PULL, b"PUSH", maxmsgsize=299)
    conn.message_lists = lists
    conn.receive_data(frame(0, b"x" * 299) + frame(0, b"y" * 300))
    events = conn.events()
    assert received(events) == [[b"x" * 299]]
    assert errors(events)


def test_long_header_of_a_huge_size_fails_without_allocating() -> None:
    conn = peer_at_traffic(SocketType.PULL, b"PUSH")
    conn.message_lists = True
    conn.receive_data(struct.pack(">BQ", 0x02, 1 << 63))
    assert errors(conn.events())


def sent_wire(conn: Connection, batches: list[list[list[bytes]]]) -> bytes:
    data = b""
    for batch in batches:
        conn.send_messages(batch)
        data += conn.data_to_send()
    return data


def test_equal_size_header_reuse_then_size_change() -> None:
    """Within a batch and across batches: the header always announces the frame's own size."""
    push, pull = connected(SocketType.PUSH, SocketType.PULL)
    sizes = [[300, 300, 300, 301, 300], [300], [301, 301], [255, 256, 255, 256], [8191, 8192, 300]]
    batches = [[[bytes([n % 251]) * size] for n, size in enumerate(batch)] for batch in sizes]
    data = sent_wire(push, batches)
    expected = [msg for batch in batches for msg in batch]
    assert data == b"".join(frame(0, msg[0]) for msg in expected)
    pull.message_lists = True
    pull.receive_data(data)
    assert received(pull.events()) == expected


def test_header_reuse_does_not_leak_into_multipart_or_short() -> None:
    push, _ = connected(SocketType.PUSH, SocketType.PULL)
    batch = [[b"a" * 400], [b"b" * 400, b"c" * 400], [b"d" * 3], [b"e" * 400], [b"f" * 401]]
    data = sent_wire(push, [batch])
    expected = b""
    for msg in batch:
        expected += b"".join(
            frame(1 if i < len(msg) - 1 else 0, body) for i, body in enumerate(msg)
        )
    assert data == expected


@pytest.mark.parametrize("size", [254, 255, 256, 257])
def test_255_256_boundary_round_trip(size: int) -> None:
    push, pull = connected(SocketType.PUSH, SocketType.PULL)
    body = b"q" * size
    data = sent_wire(push, [[[body], [body, body], [body]]])
    header = bytes((0, size)) if size <= 255 else struct.pack(">BQ", 0x02, size)
    assert data.startswith(header + body)
    assert data.endswith(header + body)
    pull.message_lists = True
    pull.receive_data(data)
    assert received(pull.events()) == [[body], [body, body], [body]]


def test_leftover_joined_with_a_strided_view() -> None:
    """A non-contiguous view after a leftover is copied as before (``bytes + view`` refuses it)."""
    conn = peer_at_traffic(SocketType.PULL, b"PUSH")
    conn.message_lists = True
    rest = frame(0, b"r" * 300)
    conn.receive_data(rest[:5])
    spaced = bytearray(2 * (len(rest) - 5))
    spaced[::2] = rest[5:]
    conn.receive_data(memoryview(spaced)[::2])
    assert received(conn.events()) == [[b"r" * 300]]
