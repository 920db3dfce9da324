"""Two in-memory Connections for every socket-type pair: compatible ones talk, others refuse."""

from __future__ import annotations

import itertools

import pytest
from protocol_helpers import chunks, errors, messages, pump

from zloop.constants import ProtocolErrorCode, SocketType
from zloop.protocol import (
    COMPATIBLE,
    Connection,
    HandshakeComplete,
    is_compatible,
    socket_type_name,
)

ZMTP_TYPES = sorted(COMPATIBLE, key=int)
COMPATIBLE_PAIRS = [
    (a, b)
    for a, b in itertools.product(ZMTP_TYPES, repeat=2)
    if socket_type_name(b) in COMPATIBLE[a]
]
INCOMPATIBLE_PAIRS = [
    (a, b)
    for a, b in itertools.product(ZMTP_TYPES, repeat=2)
    if socket_type_name(b) not in COMPATIBLE[a]
]

MESSAGES: list[list[bytes | bytearray | memoryview]] = [
    [b"single"],
    [b"", b"after empty delimiter"],
    [b"", b"", b""],
    [b"x" * 256, b"y" * 255],
    [b"z" * 70000, b"tail", bytearray(b"ba" * 10), memoryview(b"mv" * 5000)],
]


def test_table_is_symmetric_like_libzmq() -> None:
    assert len(COMPATIBLE_PAIRS) == 21
    for a, b in COMPATIBLE_PAIRS:
        assert socket_type_name(a) in COMPATIBLE[b]
    assert is_compatible(SocketType.PUSH, None)
    assert not is_compatible(SocketType.PUSH, "pull")


@pytest.mark.parametrize(("own", "peer"), COMPATIBLE_PAIRS, ids=lambda t: t.name)
def test_compatible_pair_exchanges_messages(own: SocketType, peer: SocketType) -> None:
    a = Connection(own, routing_id=b"id-a", metadata={"X-Who": b"a"})
    b = Connection(peer)
    events_a, events_b = pump(a, b)
    assert events_a == [
        HandshakeComplete(
            socket_type_name(peer),
            (3, 1),
            {"Socket-Type": socket_type_name(peer).encode()}
            | (
                {"Identity": b""}
                if peer in (SocketType.REQ, SocketType.DEALER, SocketType.ROUTER)
                else {}
            ),
            b"",
        )
    ]
    (hs_b,) = events_b
    assert isinstance(hs_b, HandshakeComplete) and hs_b.peer_metadata["X-Who"] == b"a"
    expected_id = b"id-a" if own in (SocketType.REQ, SocketType.DEALER, SocketType.ROUTER) else b""
    assert hs_b.peer_routing_id == expected_id

    a.send_messages(MESSAGES)
    b.send_message([b"reply", b"r" * 300])
    wire = a.data_to_send()
    for piece in chunks(wire, 1000):
        b.receive_data(piece)
    assert messages(b.events()) == [[bytes(f) for f in m] for m in MESSAGES]
    a.receive_data(b.data_to_send())
    assert messages(a.events()) == [[b"reply", b"r" * 300]]


@pytest.mark.parametrize(("own", "peer"), INCOMPATIBLE_PAIRS, ids=lambda t: t.name)
def test_incompatible_pair_refused_on_both_sides(own: SocketType, peer: SocketType) -> None:
    a, b = Connection(own), Connection(peer)
    events_a, events_b = pump(a, b)
    for conn, events in ((a, events_a), (b, events_b)):
        (error,) = errors(events)
        assert error.code == ProtocolErrorCode.ZMTP_INVALID_METADATA
        assert error.error_reason is None  # libzmq closes without ERROR
        assert "not compatible" in error.reason
        assert not conn.handshake_complete and conn.failed
