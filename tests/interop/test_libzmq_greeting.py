"""What libzmq 4.3 really puts on the wire during the greeting, read through a raw socket.

These tests are the live check of docs/wire.md §1 and §10: the 10-byte signature with padding =
BE(routing-id length + 1), the staged send (10 bytes, then the major byte once it has our 10, then
the remaining 53 once it has our 11th), as-server always 00 (even for a PLAIN or CURVE server), the
READY bytes, the ZMTP 3.0 and 2.0 fallbacks, and that zloop's own greeting is byte-identical to
libzmq's.
"""

from __future__ import annotations

import struct
from typing import Any

import pytest
import zmq
from zmtp_links import Linker
from zmtp_raw import (
    greeting,
    nothing_pending,
    properties,
    read_frame,
    ready,
    recv_exactly,
    recv_some,
)

from zloop.constants import SocketType

pytestmark = pytest.mark.interop

CURVE_SERVER_SECRET = b"JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6"


def signature(routing_id_len: int) -> bytes:
    return b"\xff" + struct.pack(">Q", routing_id_len + 1) + b"\x7f"


def staged_greeting(linker: Linker, zsock: Any) -> tuple[bytes, bytes, bytes]:
    """Connect a raw socket to ``zsock`` and walk libzmq through its greeting stage by stage.

    Returns (first 10 bytes, the byte sent after our 10, the 53 bytes sent after our 11th)."""
    raw = linker.raw_connect(linker.bind(zsock))
    ours = greeting()
    first = recv_exactly(raw, 10)
    assert nothing_pending(raw), "libzmq sent more than 10 bytes before hearing from us"
    raw.sendall(ours[:10])
    major = recv_exactly(raw, 1)
    assert nothing_pending(raw), "libzmq sent more than the major byte before our 11th byte"
    raw.sendall(ours[10:11])
    rest = recv_exactly(raw, 53)
    return first, major, rest


@pytest.mark.parametrize("routing_id", [None, b"abc", b"r" * 255])
def test_dealer_signature_padding_is_routing_id_length_plus_one(
    linker: Linker, routing_id: bytes | None
) -> None:
    options = {} if routing_id is None else {zmq.ROUTING_ID: routing_id}
    first, major, rest = staged_greeting(linker, linker.zsocket(zmq.DEALER, options))
    assert first == signature(len(routing_id or b""))
    assert major == b"\x03"
    assert rest[0] == 0x01  # minor: libzmq always offers 3.1
    assert rest[1:21] == b"NULL".ljust(20, b"\x00")
    assert rest[21] == 0x00  # as-server
    assert rest[22:] == bytes(31)


@pytest.mark.parametrize(
    ("options", "mechanism"),
    [
        ({zmq.PLAIN_SERVER: 1}, b"PLAIN"),
        ({zmq.CURVE_SERVER: 1, zmq.CURVE_SECRETKEY: CURVE_SERVER_SECRET}, b"CURVE"),
    ],
    ids=["plain-server", "curve-server"],
)
def test_security_server_sends_as_server_zero(
    linker: Linker, options: dict[int, Any], mechanism: bytes
) -> None:
    # Digest §1 ⚠: libzmq writes as-server 00 even when it is the PLAIN/CURVE server.
    first, major, rest = staged_greeting(linker, linker.zsocket(zmq.DEALER, options))
    assert first == signature(0)
    assert major == b"\x03"
    assert rest[0] == 0x01
    assert rest[1:21] == mechanism.ljust(20, b"\x00")
    assert rest[21] == 0x00
    assert rest[22:] == bytes(31)


@pytest.mark.parametrize(
    ("zmq_type", "routing_id", "expected_hex"),
    [
        # docs/wire.md §10 test vector, byte for byte
        (
            zmq.DEALER,
            b"",
            "04 29 05 52 45 41 44 59 0b 53 6f 63 6b 65 74 2d 54 79 70 65 00 00 00 06 44 45 41 4c"
            " 45 52 08 49 64 65 6e 74 69 74 79 00 00 00 00",
        ),
        (
            zmq.ROUTER,
            b"",
            "04 29 05 52 45 41 44 59 0b 53 6f 63 6b 65 74 2d 54 79 70 65 00 00 00 06 52 4f 55 54"
            " 45 52 08 49 64 65 6e 74 69 74 79 00 00 00 00",
        ),
        (
            zmq.REQ,
            b"abc",
            "04 29 05 52 45 41 44 59 0b 53 6f 63 6b 65 74 2d 54 79 70 65 00 00 00 03 52 45 51"
            " 08 49 64 65 6e 74 69 74 79 00 00 00 03 61 62 63",
        ),
        # no Identity property for types other than REQ/DEALER/ROUTER
        (
            zmq.SUB,
            b"",
            "04 19 05 52 45 41 44 59 0b 53 6f 63 6b 65 74 2d 54 79 70 65 00 00 00 03 53 55 42",
        ),
        (
            zmq.PUSH,
            b"",
            "04 1a 05 52 45 41 44 59 0b 53 6f 63 6b 65 74 2d 54 79 70 65 00 00 00 04 50 55 53 48",
        ),
    ],
    ids=["dealer", "router", "req-with-id", "sub", "push"],
)
def test_ready_bytes(linker: Linker, zmq_type: int, routing_id: bytes, expected_hex: str) -> None:
    options = {zmq.ROUTING_ID: routing_id} if routing_id else {}
    zsock = linker.zsocket(zmq_type, options)
    raw = linker.raw_connect(linker.bind(zsock))
    raw.sendall(greeting())
    recv_exactly(raw, 64)
    flags, body = read_frame(raw)
    assert (bytes([flags, len(body)]) + body).hex(" ") == expected_hex


def test_zloop_greeting_is_byte_identical_to_libzmq(linker: Linker) -> None:
    from zloop.protocol import Connection

    zsock = linker.zsocket(zmq.DEALER, {zmq.ROUTING_ID: b"abc"})
    first, major, rest = staged_greeting(linker, zsock)
    libzmq_greeting = first + major + rest

    conn = Connection(SocketType.DEALER, routing_id=b"abc")
    ours = conn.data_to_send()
    assert ours == libzmq_greeting[:10]  # the first 10 bytes, right after construction
    conn.receive_data(libzmq_greeting[:11])
    ours += conn.data_to_send()
    conn.receive_data(libzmq_greeting[11:])
    ours += conn.data_to_send()
    assert ours[:64] == libzmq_greeting


@pytest.mark.parametrize(
    ("minor", "expected"),
    [
        (0, b"\x00\x02\x01A"),  # 3.0 peer: a data frame \x01 + topic
        (1, b"\x04\x0b\x09SUBSCRIBEA"),  # 3.1 peer: a SUBSCRIBE command
    ],
    ids=["zmtp-3.0", "zmtp-3.1"],
)
def test_sub_encodes_subscription_per_peer_minor_version(
    linker: Linker, minor: int, expected: bytes
) -> None:
    zsock = linker.zsocket(zmq.SUB, {zmq.SUBSCRIBE: b"A"})
    raw = linker.raw_connect(linker.bind(zsock))
    raw.sendall(greeting(minor=minor) + ready(b"PUB"))
    theirs = recv_exactly(raw, 64, zsock=zsock)
    assert theirs[10:12] == b"\x03\x01"  # libzmq still offers 3.1 to a 3.0 peer
    read_frame(raw, zsock=zsock)  # READY
    flags, body = read_frame(raw, zsock=zsock)
    assert bytes([flags, len(body)]) + body == expected


def test_zmtp20_peer_gets_socket_type_byte_and_v2_framing(linker: Linker) -> None:
    zsock = linker.zsocket(zmq.DEALER)
    raw = linker.raw_connect(linker.bind(zsock))
    assert recv_exactly(raw, 10) == signature(0)
    # ZMTP 2.0 greeting: signature, revision 01, socket type byte (DEALER = 5), identity frame
    raw.sendall(signature(0) + b"\x01")
    assert recv_exactly(raw, 2) == b"\x03\x05"  # libzmq's major byte, then its own type byte
    raw.sendall(b"\x05" + b"\x00\x00")
    assert recv_exactly(raw, 2) == b"\x00\x00"  # libzmq's (empty) identity frame
    raw.sendall(b"\x01\x00" + b"\x00\x05hello")
    assert zsock.recv_multipart() == [b"", b"hello"]
    zsock.send_multipart([b"a", b"b" * 300])
    assert recv_exactly(raw, 3) == b"\x01\x01a"
    assert recv_exactly(raw, 9 + 300) == b"\x02" + struct.pack(">Q", 300) + b"b" * 300


def test_plain_server_closes_a_null_client_without_error(linker: Linker) -> None:
    zsock = linker.zsocket(zmq.DEALER, {zmq.PLAIN_SERVER: 1})
    raw = linker.raw_connect(linker.bind(zsock))
    ours = greeting()
    recv_exactly(raw, 10)
    raw.sendall(ours[:11])
    assert recv_exactly(raw, 54)[2:7] == b"PLAIN"
    raw.sendall(ours[11:])
    # mechanism mismatch: libzmq closes at once, without an ERROR command
    assert recv_some(raw) == b""


def test_properties_helper_matches_digest_vector() -> None:
    body = b"\x05READY" + properties([(b"Socket-Type", b"DEALER"), (b"Identity", b"")])
    assert len(body) == 0x29
