"""A hostile peer closes its own connection only: libzmq as the reference for zloop's engine.

A raw socket sends malformed ZMTP to a libzmq ROUTER (MAXMSGSIZE 1024) that is also serving a
zloop Connection. libzmq must close the raw connection (and only that one): the zloop Connection
made before keeps working, and a new one is accepted afterwards. The monitor event libzmq raises
for each case is checked as well, as a reference for zloop's own monitor.

Also recorded here: what libzmq 4.3.5 tolerates after the handshake (reserved flag bits, ERROR,
unknown or empty commands, a second READY are all ignored or delivered, not fatal), and that a frame
sent right behind our READY, before libzmq's READY has arrived, is taken as a handshake command.
"""

from __future__ import annotations

import struct
from typing import Any

import pytest
import zmq
from zmq.utils.monitor import recv_monitor_message
from zmtp_links import Linker
from zmtp_raw import (
    command,
    frame,
    greeting,
    properties,
    read_frame,
    read_until_closed,
    ready,
    recv_exactly,
)
from zmtp_wire import check_handshake

from zloop.constants import ProtocolErrorCode, SocketType

pytestmark = pytest.mark.interop

MAXMSGSIZE = 1024
NONE = None  # no HANDSHAKE_FAILED_* event, only DISCONNECTED

# name: (bytes sent with the greeting, bytes sent after libzmq's READY, expected monitor event)
FATAL: dict[str, tuple[bytes, bytes, tuple[int, int] | None]] = {
    "mechanism-mismatch": (
        greeting(mechanism=b"BOGUS"),
        b"",
        (zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL, ProtocolErrorCode.ZMTP_MECHANISM_MISMATCH),
    ),
    "signature-lsb-0": (b"\xff" + bytes(8) + b"\x7e" + b"\x03\x01", b"", NONE),
    "data-frame-in-handshake": (
        greeting() + frame(b"hello"),
        b"",
        (zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL, ProtocolErrorCode.ZMTP_UNEXPECTED_COMMAND),
    ),
    "unknown-command-in-handshake": (
        greeting() + command(b"HELLO"),
        b"",
        (zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL, ProtocolErrorCode.ZMTP_UNEXPECTED_COMMAND),
    ),
    "truncated-property": (
        greeting() + command(b"READY", b"\x0bSocket-Type\x00\x00\x00\x09DEA"),
        b"",
        NONE,
    ),
    "stray-byte-after-properties": (
        greeting() + command(b"READY", properties([(b"Socket-Type", b"DEALER")]) + b"\x01"),
        b"",
        NONE,
    ),
    "incompatible-socket-type": (greeting() + ready(b"PUB"), b"", NONE),
    # A frame right behind READY, before libzmq's own READY went out, is still a handshake command.
    "ready-twice-in-handshake": (
        greeting() + ready(b"DEALER") + ready(b"DEALER"),
        b"",
        (zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL, ProtocolErrorCode.ZMTP_UNEXPECTED_COMMAND),
    ),
    "frame-over-maxmsgsize": (
        greeting() + ready(b"DEALER"),
        b"\x02" + struct.pack(">Q", MAXMSGSIZE + 1),
        NONE,
    ),
    "frame-size-2**63-1": (
        greeting() + ready(b"DEALER"),
        b"\x02" + struct.pack(">Q", 2**63 - 1),
        NONE,
    ),
    "frame-size-all-ones": (greeting() + ready(b"DEALER"), b"\x02" + b"\xff" * 8, NONE),
    "command-over-maxmsgsize": (
        greeting() + ready(b"DEALER"),
        b"\x06" + struct.pack(">Q", 1 << 20),
        NONE,
    ),
}

# Sent after the handshake, each followed by frame(b"after"): libzmq carries on.
TOLERATED: dict[str, tuple[bytes, list[bytes]]] = {
    "reserved-flag-bits": (b"\x08\x01a", [b"a"]),  # delivered as a data frame
    "error-command": (command(b"ERROR", b"\x03abc"), []),
    "unknown-command": (command(b"FOO", b"x"), []),
    "empty-command": (b"\x04\x00", []),
    "bad-command-name-length": (b"\x04\x02\x09P", []),
    "second-ready": (ready(b"DEALER"), []),
    # libzmq hands a SUBSCRIBE command to a non-PUB socket as a data message, name included.
    "subscribe-to-router": (command(b"SUBSCRIBE", b"x"), [b"\x09SUBSCRIBEx"]),
}


def router(linker: Linker) -> tuple[Any, Any, str]:
    zsock = linker.zsocket(zmq.ROUTER, {zmq.MAXMSGSIZE: MAXMSGSIZE})
    monitor = zsock.get_monitor_socket()
    return zsock, monitor, linker.bind(zsock)


def next_monitor_events(monitor: Any, until: int) -> list[tuple[int, int]]:
    events: list[tuple[int, int]] = []
    while not events or events[-1][0] != until:
        assert monitor.poll(5000), f"no {zmq.Event(until).name}; got {events}"
        event = recv_monitor_message(monitor)
        events.append((event["event"], event["value"]))
    return events


def raw_handshake(linker: Linker, zsock: Any, endpoint: str, first: bytes) -> Any:
    raw = linker.raw_connect(endpoint)
    raw.sendall(first)
    return raw


def check_served(zsock: Any, wire: Any, routing_id: bytes, tag: bytes) -> None:
    wire.send([tag, b"x" * 300])
    assert zsock.recv_multipart() == [routing_id, tag, b"x" * 300]
    zsock.send_multipart([routing_id, tag])
    assert wire.recv() == [tag]


@pytest.mark.parametrize("case", list(FATAL))
def test_hostile_peer_closes_only_its_own_connection(linker: Linker, case: str) -> None:
    first, later, expected_failure = FATAL[case]
    zsock, monitor, endpoint = router(linker)
    try:
        good = linker.connect_to(endpoint, SocketType.DEALER, zsockets=[zsock], routing_id=b"good")
        check_handshake(good, zmq.ROUTER)
        check_served(zsock, good, b"good", b"before")
        assert (zmq.EVENT_HANDSHAKE_SUCCEEDED, 0) in next_monitor_events(
            monitor, zmq.EVENT_HANDSHAKE_SUCCEEDED
        )

        raw = raw_handshake(linker, zsock, endpoint, first)
        if later:
            recv_exactly(raw, 64, zsock=zsock)
            read_frame(raw, zsock=zsock)  # libzmq's READY: now the handshake is over on its side
            raw.sendall(later)
        read_until_closed(raw, zsock=zsock)
        events = next_monitor_events(monitor, zmq.EVENT_DISCONNECTED)
        failures = [e for e in events if e[0] & 0x6800]  # HANDSHAKE_FAILED_* bits
        assert failures == ([] if expected_failure is None else [expected_failure]), events
        assert events[-1][0] == zmq.EVENT_DISCONNECTED

        check_served(zsock, good, b"good", b"after")
        newcomer = linker.connect_to(
            endpoint, SocketType.DEALER, zsockets=[zsock], routing_id=b"new"
        )
        check_handshake(newcomer, zmq.ROUTER)
        check_served(zsock, newcomer, b"new", b"newcomer")
        check_served(zsock, good, b"good", b"still")
    finally:
        zsock.disable_monitor()
        monitor.close()


@pytest.mark.parametrize("case", list(TOLERATED))
def test_libzmq_tolerates_after_handshake(linker: Linker, case: str) -> None:
    sent, delivered = TOLERATED[case]
    # No monitor here: closing a monitor's PAIR without disable_monitor() first makes libzmq's I/O
    # thread block on the next event it reports, which stalls every connection of the context.
    zsock = linker.zsocket(zmq.ROUTER, {zmq.MAXMSGSIZE: MAXMSGSIZE})
    raw = linker.raw_connect(linker.bind(zsock))
    raw.sendall(greeting() + ready(b"DEALER", (b"Identity", b"raw")))
    recv_exactly(raw, 64, zsock=zsock)
    read_frame(raw, zsock=zsock)
    raw.sendall(sent + frame(b"after"))
    for body in delivered:
        assert zsock.recv_multipart() == [b"raw", body]
    assert zsock.recv_multipart() == [b"raw", b"after"]
    # Still open in both directions:
    zsock.send_multipart([b"raw", b"back"])
    assert read_frame(raw, zsock=zsock) == (0x00, b"back")


def test_libzmq_truncates_pong_context_to_16_bytes(linker: Linker) -> None:
    zsock = linker.zsocket(zmq.ROUTER)
    raw = linker.raw_connect(linker.bind(zsock))
    raw.sendall(greeting() + ready(b"DEALER"))
    recv_exactly(raw, 64, zsock=zsock)
    read_frame(raw, zsock=zsock)
    raw.sendall(command(b"PING", b"\x00\x00" + bytes(range(40))))
    assert read_frame(raw, zsock=zsock) == (0x04, b"\x04PONG" + bytes(range(16)))
