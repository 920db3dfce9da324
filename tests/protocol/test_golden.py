"""Golden vectors from docs/wire.md §10 (libzmq's own tests and RFC 23's example)."""

from __future__ import annotations

from protocol_helpers import greeting_v3, peer_at_traffic, ready

from zloop.constants import SocketType
from zloop.protocol import Connection, HandshakeComplete, Message, Ping, Pong, Subscribe

LIBZMQ_NULL_GREETING = bytes.fromhex("ff00000000000000017f03014e554c4c" + "00" * 16 + "00" * 32)
DEALER_READY = bytes.fromhex(
    "04290552454144590b536f636b65742d54797065000000064445414c4552084964656e7469747900000000"
)
ROUTER_READY_LIBZMQ = DEALER_READY.replace(b"DEALER", b"ROUTER")
ROUTER_READY_SPEC = bytes.fromhex(
    "041c0552454144590b536f636b65742d547970650000000652 4f55544552".replace(" ", "")
)
SUB_READY = (
    bytes.fromhex("041905") + b"READY" + b"\x0bSocket-Type" + bytes.fromhex("00000003") + b"SUB"
)
XPUB_READY = (
    bytes.fromhex("041a05") + b"READY" + b"\x0bSocket-Type" + bytes.fromhex("00000004") + b"XPUB"
)


def _greeted(socket_type: SocketType, routing_id: bytes = b"") -> tuple[Connection, bytes]:
    conn = Connection(socket_type, routing_id=routing_id)
    out = conn.data_to_send()
    conn.receive_data(greeting_v3())
    return conn, out + conn.data_to_send()


def test_null_greeting_is_libzmqs() -> None:
    conn, out = _greeted(SocketType.DEALER)
    assert out[:64] == LIBZMQ_NULL_GREETING
    assert conn.peer_version == (3, 1)


def test_dealer_ready_is_43_bytes() -> None:
    _, out = _greeted(SocketType.DEALER)
    assert out[64:] == DEALER_READY
    assert len(DEALER_READY) == 43


def test_router_ready_includes_empty_identity_like_libzmq() -> None:
    _, out = _greeted(SocketType.ROUTER)
    assert out[64:] == ROUTER_READY_LIBZMQ


def test_sub_and_xpub_ready_have_no_identity() -> None:
    assert _greeted(SocketType.SUB)[1][64:] == SUB_READY
    assert _greeted(SocketType.XPUB)[1][64:] == XPUB_READY


def test_spec_style_router_ready_is_accepted() -> None:
    conn = Connection(SocketType.DEALER)
    conn.receive_data(greeting_v3() + ROUTER_READY_SPEC)
    (event,) = conn.events()
    assert event == HandshakeComplete("ROUTER", (3, 1), {"Socket-Type": b"ROUTER"}, b"")


def test_libzmq_dealer_ready_gives_identity() -> None:
    conn = Connection(SocketType.ROUTER)
    conn.receive_data(LIBZMQ_NULL_GREETING + DEALER_READY)
    (event,) = conn.events()
    assert isinstance(event, HandshakeComplete)
    assert event.peer_socket_type == "DEALER" and event.peer_routing_id == b""


def test_ping_with_context_gets_pong() -> None:
    conn = peer_at_traffic()
    conn.receive_data(bytes.fromhex("040a0450494e4700004c4f4c"))
    assert conn.events() == [Ping(0, b"LOL")]
    assert conn.data_to_send() == bytes.fromhex("040804504f4e474c4f4c")


def test_send_ping_libzmq_form() -> None:
    conn = peer_at_traffic()
    conn.send_ping(0x1234)
    assert conn.data_to_send() == bytes.fromhex("04070450494e471234")


def test_pong_event() -> None:
    conn = peer_at_traffic()
    conn.receive_data(bytes.fromhex("040804504f4e474c4f4c"))
    assert conn.events() == [Pong(b"LOL")]


def test_subscribe_31_and_30_forms() -> None:
    sub31 = peer_at_traffic(SocketType.SUB, b"PUB")
    sub31.send_subscribe(b"A")
    assert sub31.data_to_send() == bytes.fromhex("040b09") + b"SUBSCRIBE" + b"A"

    sub30 = Connection(SocketType.SUB)
    sub30.receive_data(greeting_v3(minor=0) + ready(b"PUB"))
    assert sub30.peer_version == (3, 0)
    sub30.data_to_send()
    sub30.send_subscribe(b"A")
    assert sub30.data_to_send() == bytes.fromhex("00020141")


def test_subscribe_command_received() -> None:
    pub = peer_at_traffic(SocketType.PUB, b"SUB")
    pub.receive_data(bytes.fromhex("040b0953554253435249424541"))
    assert pub.events() == [Subscribe(b"A")]


def test_data_frames() -> None:
    conn = peer_at_traffic()
    conn.send_message([b"ALOL"])
    assert conn.data_to_send() == bytes.fromhex("0004414c4f4c")
    conn.send_message([b"", b"ALOL"])
    assert conn.data_to_send() == bytes.fromhex("0100") + bytes.fromhex("0004414c4f4c")
    conn.receive_data(bytes.fromhex("01000004414c4f4c"))
    assert conn.events() == [Message([b"", b"ALOL"])]
