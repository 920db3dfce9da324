"""Helpers shared by the protocol tests: pumping two in-memory connections, byte-wise feeding,
and hand-built peer bytes for ZMTP 3.0 / 2.0 / 1.0 (from RFC 23, RFC 15 and RFC 13)."""

from __future__ import annotations

import struct
from collections.abc import Iterable

from zloop.constants import SocketType
from zloop.protocol import Connection, Event, Message, ProtocolError

NULL_MECH = b"NULL" + bytes(16)


def greeting_v3(minor: int = 1, mechanism: bytes = NULL_MECH, major: int = 3) -> bytes:
    """A full 64-byte ZMTP 3.x greeting (zero padding, as libzmq's own tests send it)."""
    return b"\xff" + bytes(8) + b"\x7f" + bytes((major, minor)) + mechanism + bytes(32)


def frame(flags: int, body: bytes, force_long: bool = False) -> bytes:
    """A ZMTP 2.0/3.x frame."""
    if len(body) > 255 or force_long:
        return struct.pack(">BQ", flags | 0x02, len(body)) + body
    return bytes((flags, len(body))) + body


def command(body: bytes) -> bytes:
    return frame(0x04, body)


def prop(name: bytes, value: bytes) -> bytes:
    return bytes((len(name),)) + name + struct.pack(">I", len(value)) + value


def ready(socket_type: bytes | None = None, **extra: bytes) -> bytes:
    body = b"\x05READY"
    if socket_type is not None:
        body += prop(b"Socket-Type", socket_type)
    for name, value in extra.items():
        body += prop(name.replace("_", "-").encode(), value)
    return command(body)


def v1_frame(more: int, body: bytes) -> bytes:
    """An RFC 13 frame: length (flags included), flags, body."""
    length = len(body) + 1
    if length < 255:
        return bytes((length, more)) + body
    return b"\xff" + struct.pack(">Q", length) + bytes((more,)) + body


def pump(a: Connection, b: Connection, rounds: int = 10) -> tuple[list[Event], list[Event]]:
    """Exchange bytes between two connections until both are quiet; return their events."""
    events_a: list[Event] = []
    events_b: list[Event] = []
    for _ in range(rounds):
        moved = False
        data = a.data_to_send()
        if data:
            b.receive_data(data)
            moved = True
        data = b.data_to_send()
        if data:
            a.receive_data(data)
            moved = True
        events_a += a.events()
        events_b += b.events()
        if not moved:
            break
    return events_a, events_b


def connected(own: SocketType, peer: SocketType, **kwargs: object) -> tuple[Connection, Connection]:
    a = Connection(own, **kwargs)  # type: ignore[arg-type]
    b = Connection(peer)
    pump(a, b)
    assert a.handshake_complete and b.handshake_complete
    return a, b


def feed_all(conn: Connection, data: bytes) -> list[Event]:
    conn.receive_data(data)
    return conn.events()


def feed_bytewise(conn: Connection, data: bytes) -> list[Event]:
    events: list[Event] = []
    for i in range(len(data)):
        conn.receive_data(data[i : i + 1])
        events += conn.events()
    return events


def chunks(data: bytes, size: int) -> Iterable[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def messages(events: Iterable[Event]) -> list[list[bytes]]:
    return [[bytes(f) for f in e.frames] for e in events if isinstance(e, Message)]


def errors(events: Iterable[Event]) -> list[ProtocolError]:
    return [e for e in events if isinstance(e, ProtocolError)]


def peer_at_traffic(
    own: SocketType = SocketType.DEALER, peer_type: bytes = b"DEALER", **kwargs: object
) -> Connection:
    """A Connection that completed a NULL handshake with a hand-built 3.1 peer."""
    conn = Connection(own, **kwargs)  # type: ignore[arg-type]
    conn.receive_data(greeting_v3() + ready(peer_type))
    events = conn.events()
    assert conn.handshake_complete, events
    conn.data_to_send()
    return conn
