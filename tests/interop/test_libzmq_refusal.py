"""Incompatible socket types are refused on both sides.

What happens, as observed against libzmq 4.3.5 (both connection directions):
* libzmq checks our READY's Socket-Type and closes the TCP connection without sending ERROR; its
  monitor reports only DISCONNECTED (no HANDSHAKE_FAILED_* event: the check fails inside metadata
  parsing, which raises none), never HANDSHAKE_SUCCEEDED. It sends its own READY only from its
  output path, so if our READY is read first it closes *before* sending its READY.
* zloop therefore sees one of two things, depending on that race: libzmq's READY (incompatible
  Socket-Type) -> ProtocolError with no ERROR queued; or just EOF -> ConnectionClosed. Never
  HandshakeComplete. The deterministic test below holds our READY back until libzmq's READY is in,
  so the ProtocolError path is always exercised.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import zmq
from zmq.utils.monitor import recv_monitor_message
from zmtp_links import Link, Linker
from zmtp_raw import read_frame, read_until_closed, recv_some

from zloop.constants import SocketType

pytestmark = pytest.mark.interop

MakeLink = Callable[..., Link]

INCOMPATIBLE = [
    (SocketType.PUSH, zmq.PUB),
    (SocketType.REQ, zmq.DEALER),
    (SocketType.SUB, zmq.PUSH),
    (SocketType.PAIR, zmq.DEALER),
    (SocketType.ROUTER, zmq.REP),
    (SocketType.PUB, zmq.PUB),
]


def check_refusal_error(error: Any) -> None:
    assert error.error_reason is None  # like libzmq: no ERROR command for a type mismatch
    assert "socket" in error.reason.lower() or "type" in error.reason.lower(), error.reason


def monitor_events_until(monitor: Any, last: int) -> list[int]:
    """Monitor events (numbers) up to and including ``last``; each wait is a bounded poll."""
    events: list[int] = []
    while last not in events:
        assert monitor.poll(5000), f"no {zmq.Event(last).name} event; got {events}"
        events.append(recv_monitor_message(monitor)["event"])
    return events


@pytest.mark.parametrize(
    ("own_type", "zmq_type"),
    INCOMPATIBLE,
    ids=[f"zloop-{o.name}-vs-libzmq-{zmq.SocketType(z).name}" for o, z in INCOMPATIBLE],
)
def test_incompatible_socket_types_are_refused(
    make_link: MakeLink, zctx: Any, own_type: SocketType, zmq_type: int
) -> None:
    from zloop.protocol import (
        ConnectionClosed,
        HandshakeComplete,
        LocalProtocolError,
        ProtocolError,
    )

    link = make_link(zmq_type, own_type)
    monitor = link.zsock.get_monitor_socket()
    try:
        wire = link.wire
        wire.wait_until(lambda: wire.terminal is not None)
        assert not any(isinstance(e, HandshakeComplete) for e in wire.seen), wire.seen
        assert isinstance(wire.terminal, (ProtocolError, ConnectionClosed)), wire.seen
        if isinstance(wire.terminal, ProtocolError):
            check_refusal_error(wire.terminal)
        conn: Any = wire.conn
        assert not conn.handshake_complete
        with pytest.raises(LocalProtocolError):
            conn.send_message([b"nope"])

        wire.wait_eof()  # libzmq closed its end
        # libzmq sent its greeting and READY, and nothing after (no ERROR command).
        assert b"\x05ERROR" not in wire.received
        assert b"\x05ERROR" not in wire.sent

        # The monitor may have missed ACCEPTED/CONNECTED (it was attached after the link was
        # made); DISCONNECTED is always there, HANDSHAKE_SUCCEEDED never.
        events = monitor_events_until(monitor, zmq.EVENT_DISCONNECTED)
        assert zmq.EVENT_HANDSHAKE_SUCCEEDED not in events
    finally:
        link.zsock.disable_monitor()
        monitor.close()


@pytest.mark.parametrize(
    ("own_type", "zmq_type"),
    INCOMPATIBLE,
    ids=[f"zloop-{o.name}-vs-libzmq-{zmq.SocketType(z).name}" for o, z in INCOMPATIBLE],
)
def test_zloop_refuses_incompatible_ready(
    linker: Linker, own_type: SocketType, zmq_type: int
) -> None:
    """Drive the Connection by hand and send only its greeting until libzmq's READY is in."""
    from zloop.protocol import Connection, HandshakeComplete, LocalProtocolError, ProtocolError

    zsock = linker.zsocket(zmq_type)
    raw = linker.raw_connect(linker.bind(zsock))
    conn = Connection(own_type)
    out = bytearray(conn.data_to_send())
    sent = 0
    theirs = bytearray()
    while len(theirs) < 64:  # greeting exchange, our bytes capped at the 64-byte greeting
        raw.sendall(out[sent:64])
        sent = min(len(out), 64)
        chunk = recv_some(raw, zsock=zsock)
        assert chunk, "libzmq closed during the greeting"
        theirs += chunk
        conn.receive_data(chunk)
        out += conn.data_to_send()
    # libzmq's last greeting bytes may arrive in the same read as its byte 11, before we sent the
    # rest of ours (our connection only produces it after seeing that byte): finish our greeting,
    # or libzmq never sends its READY.
    raw.sendall(out[sent:64])
    assert out[64:72] == b"\x04" + bytes([out[65]]) + b"\x05READY"  # our READY, held back
    flags, body = read_frame(raw, zsock=zsock, prefix=bytes(theirs[64:]))
    assert flags == 0x04 and body.startswith(b"\x05READY")
    conn.receive_data(bytes([flags, len(body)]) + body)
    events = conn.events()
    assert len(events) == 1 and isinstance(events[0], ProtocolError), events
    assert not any(isinstance(e, HandshakeComplete) for e in events)
    check_refusal_error(events[0])
    assert conn.failed and not conn.handshake_complete
    assert conn.data_to_send() == b""  # no ERROR command queued
    with pytest.raises(LocalProtocolError):
        conn.send_message([b"nope"])
    # And libzmq refuses our READY in turn: it closes without a word.
    raw.sendall(out[64:])
    assert read_until_closed(raw, zsock=zsock) == b""
