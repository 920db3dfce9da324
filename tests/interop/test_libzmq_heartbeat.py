"""ZMTP 3.1 heartbeats against libzmq: libzmq's PINGs are answered by the Connection's automatic
PONG (the connection survives many heartbeat timeouts), and libzmq answers zloop's PING with a PONG
carrying the same context (truncated to 16 bytes by libzmq)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import zmq
from zmtp_links import Link, Linker
from zmtp_raw import command, greeting, read_frame, read_until_closed, ready, recv_exactly
from zmtp_wire import check_handshake

from zloop.constants import SocketType

pytestmark = pytest.mark.interop

MakeLink = Callable[..., Link]

HEARTBEATS = {zmq.HEARTBEAT_IVL: 30, zmq.HEARTBEAT_TIMEOUT: 100, zmq.HEARTBEAT_TTL: 2000}


def test_libzmq_ping_is_answered_by_zloop_pong(make_link: MakeLink) -> None:
    from zloop.protocol import Ping

    link = make_link(zmq.DEALER, SocketType.DEALER, options=HEARTBEATS)
    check_handshake(link.wire, zmq.DEALER)
    # Eight PINGs span more than twice HEARTBEAT_TIMEOUT: without our PONGs libzmq would have
    # closed the connection (see the raw control test below) and wait_for would see EOF.
    pings = [link.wire.wait_for(Ping, ignore=()) for _ in range(8)]
    assert {(p.ttl, p.context) for p in pings} == {(20, b"")}  # TTL in deciseconds
    link.wire.flush()  # the PONG for the last PING may still be queued
    assert bytes(link.wire.received).count(b"\x04\x07\x04PING\x00\x14") >= 8
    assert bytes(link.wire.sent).count(command(b"PONG")) >= 8
    link.zsock.send(b"still there")
    assert link.wire.recv() == [b"still there"]
    link.wire.send([b"yes"])
    assert link.zsock.recv() == b"yes"


def test_control_libzmq_drops_a_peer_that_never_pongs(linker: Linker) -> None:
    zsock = linker.zsocket(zmq.DEALER, HEARTBEATS)
    raw = linker.raw_connect(linker.bind(zsock))
    raw.sendall(greeting() + ready(b"DEALER", (b"Identity", b"")))
    recv_exactly(raw, 64, zsock=zsock)
    read_frame(raw, zsock=zsock)  # READY
    assert read_frame(raw, zsock=zsock) == (0x04, b"\x04PING\x00\x14")
    read_until_closed(raw, zsock=zsock)  # HEARTBEAT_TIMEOUT after the unanswered PING


@pytest.mark.parametrize(
    ("context", "echoed"),
    [(b"", b""), (b"zloop-ctx", b"zloop-ctx"), (b"c" * 16, b"c" * 16)],
    ids=["empty", "short", "16-bytes"],
)
def test_zloop_ping_gets_pong_with_same_context(
    make_link: MakeLink, context: bytes, echoed: bytes
) -> None:
    # (A context longer than 16 bytes is answered with its first 16: see test_hostile.py.)
    from zloop.protocol import Pong

    link = make_link(zmq.ROUTER, SocketType.DEALER)  # no heartbeat options on the libzmq side
    check_handshake(link.wire, zmq.ROUTER)
    before = len(link.wire.sent)
    link.wire.conn.send_ping(10, context)
    link.wire.flush()
    assert bytes(link.wire.sent[before:]) == command(b"PING", b"\x00\x0a" + context)
    assert link.wire.wait_for(Pong, ignore=()) == Pong(echoed)
