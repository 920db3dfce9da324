"""Every libzmq socket type against a compatible zloop Connection, with zloop connecting and with
zloop accepting: handshake (type, version 3.1, metadata as libzmq emits it) and messages in every
direction the pattern allows, including empty frames, 0 B, 300 B and 100 KiB+ frames."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import zmq
from zmtp_links import Link, Linker
from zmtp_raw import frame
from zmtp_wire import check_handshake

from zloop.constants import SocketType

pytestmark = pytest.mark.interop

MakeLink = Callable[..., Link]

BIG = 100 * 1024 + 17
PAYLOADS: list[list[bytes]] = [
    [b"hello"],
    [b""],  # one 0-byte frame
    [b"multi", b"", b"part", b"", b""],  # empty frames inside and at the end
    [b"s" * 255, b"l" * 256, b"m" * 300],  # around the short/long size boundary
    [bytes(range(256)) * (BIG // 256) + b"tail"],  # 100 KiB+
    [b"head", b"x" * BIG, b"y" * 300, b""],
]


def zloop_to_libzmq(link: Link, envelope: list[bytes] = []) -> None:  # noqa: B006
    """Send every payload from zloop (after ``envelope``) and check libzmq receives it."""
    for payload in PAYLOADS:
        link.wire.send([*envelope, *payload])
        assert link.zsock.recv_multipart() == payload


def libzmq_to_zloop(link: Link, envelope: list[bytes] = []) -> None:  # noqa: B006
    for payload in PAYLOADS:
        link.zsock.send_multipart(payload)
        assert link.wire.recv() == [*envelope, *payload]


# -- DEALER / ROUTER ------------------------------------------------------------------------------


def test_zloop_dealer_with_libzmq_router(make_link: MakeLink) -> None:
    link = make_link(
        zmq.ROUTER, SocketType.DEALER, routing_id=b"zloop-dealer", metadata={"X-Hello": b"world"}
    )
    check_handshake(link.wire, zmq.ROUTER)
    link.wire.send([b"first"])
    parts = link.zsock.recv_multipart(copy=False)
    # ROUTER uses the Identity property zloop sent as the routing id ...
    assert [p.bytes for p in parts] == [b"zloop-dealer", b"first"]
    # ... and libzmq exposes zloop's READY properties as message metadata.
    assert parts[1].get("Socket-Type") == "DEALER"
    assert parts[1].get("Identity") == "zloop-dealer"
    assert parts[1].get("X-Hello") == "world"
    for payload in PAYLOADS:
        link.wire.send(payload)
        assert link.zsock.recv_multipart() == [b"zloop-dealer", *payload]
        link.zsock.send_multipart([b"zloop-dealer", *payload])
        assert link.wire.recv() == payload


def test_libzmq_router_assigns_routing_id_to_anonymous_zloop_dealer(make_link: MakeLink) -> None:
    link = make_link(zmq.ROUTER, SocketType.DEALER)
    check_handshake(link.wire, zmq.ROUTER)
    link.wire.send([b"who am i"])
    routing_id, body = link.zsock.recv_multipart()
    # libzmq's generated id: a zero byte then a 4-byte counter
    assert len(routing_id) == 5 and routing_id[0] == 0
    assert body == b"who am i"
    link.zsock.send_multipart([routing_id, b"you are", routing_id])
    assert link.wire.recv() == [b"you are", routing_id]


def test_zloop_router_with_libzmq_dealer(make_link: MakeLink) -> None:
    link = make_link(zmq.DEALER, SocketType.ROUTER, options={zmq.ROUTING_ID: b"pyzmq-dealer"})
    check_handshake(link.wire, zmq.DEALER, routing_id=b"pyzmq-dealer")
    # The Connection is one pipe: the routing-id envelope is the pattern layer's job, not its own.
    libzmq_to_zloop(link)
    zloop_to_libzmq(link)


def test_zloop_dealer_with_libzmq_dealer(make_link: MakeLink) -> None:
    link = make_link(zmq.DEALER, SocketType.DEALER)
    check_handshake(link.wire, zmq.DEALER)
    zloop_to_libzmq(link)
    libzmq_to_zloop(link)


def test_zloop_router_with_libzmq_router(make_link: MakeLink) -> None:
    link = make_link(
        zmq.ROUTER, SocketType.ROUTER, routing_id=b"zr", options={zmq.ROUTING_ID: b"lr"}
    )
    check_handshake(link.wire, zmq.ROUTER, routing_id=b"lr")
    assert link.wire.conn.peer_metadata["Identity"] == b"lr"
    link.wire.send([b"hi"])
    assert link.zsock.recv_multipart() == [b"zr", b"hi"]
    link.zsock.send_multipart([b"zr", b"hello", b""])
    assert link.wire.recv() == [b"hello", b""]


# -- REQ / REP ------------------------------------------------------------------------------------


def test_zloop_req_with_libzmq_rep(make_link: MakeLink) -> None:
    link = make_link(zmq.REP, SocketType.REQ, routing_id=b"zreq")
    check_handshake(link.wire, zmq.REP)
    # zloop speaking REQ by hand: the empty delimiter is an ordinary frame we put on the wire.
    before = len(link.wire.sent)
    link.wire.send([b"", b"ping"])
    assert bytes(link.wire.sent[before:]) == frame(b"", more=True) + frame(b"ping")
    assert link.zsock.recv_multipart() == [b"ping"]
    link.zsock.send_multipart([b"pong", b""])
    assert link.wire.recv() == [b"", b"pong", b""]
    for payload in PAYLOADS:
        link.wire.send([b"", *payload])
        assert link.zsock.recv_multipart() == payload
        link.zsock.send_multipart(payload)
        assert link.wire.recv() == [b"", *payload]


def test_libzmq_rep_discards_a_request_without_delimiter(make_link: MakeLink) -> None:
    link = make_link(zmq.REP, SocketType.REQ)
    check_handshake(link.wire, zmq.REP)
    link.wire.send([b"no-delimiter", b"dropped"])
    link.wire.send([b"", b"kept"])
    # Both went through the same pipe in order, so REP has seen (and dropped) the first already.
    assert link.zsock.recv_multipart() == [b"kept"]


def test_zloop_rep_with_libzmq_req(make_link: MakeLink) -> None:
    link = make_link(zmq.REQ, SocketType.REP, options={zmq.ROUTING_ID: b"lreq"})
    check_handshake(link.wire, zmq.REQ, routing_id=b"lreq")
    for payload in PAYLOADS:
        link.zsock.send_multipart(payload)
        assert link.wire.recv() == [b"", *payload]  # libzmq REQ puts the delimiter on the wire
        link.wire.send([b"", *payload])
        assert link.zsock.recv_multipart() == payload


def test_zloop_dealer_with_libzmq_rep(make_link: MakeLink) -> None:
    link = make_link(zmq.REP, SocketType.DEALER)
    check_handshake(link.wire, zmq.REP)
    link.wire.send([b"hop", b"", b"request"])  # REP keeps the whole envelope up to the delimiter
    assert link.zsock.recv_multipart() == [b"request"]
    link.zsock.send_multipart([b"reply"])
    assert link.wire.recv() == [b"hop", b"", b"reply"]


def test_zloop_req_with_libzmq_router(make_link: MakeLink) -> None:
    link = make_link(zmq.ROUTER, SocketType.REQ, routing_id=b"zreq")
    check_handshake(link.wire, zmq.ROUTER)
    link.wire.send([b"", b"request"])
    assert link.zsock.recv_multipart() == [b"zreq", b"", b"request"]
    link.zsock.send_multipart([b"zreq", b"", b"reply"])
    assert link.wire.recv() == [b"", b"reply"]


def test_zloop_router_with_libzmq_req(make_link: MakeLink) -> None:
    link = make_link(zmq.REQ, SocketType.ROUTER)
    check_handshake(link.wire, zmq.REQ)
    link.zsock.send(b"request")
    assert link.wire.recv() == [b"", b"request"]
    link.wire.send([b"", b"reply"])
    assert link.zsock.recv_multipart() == [b"reply"]


# -- PUSH / PULL, PAIR ----------------------------------------------------------------------------


def test_zloop_push_with_libzmq_pull(make_link: MakeLink) -> None:
    link = make_link(zmq.PULL, SocketType.PUSH)
    check_handshake(link.wire, zmq.PULL)
    zloop_to_libzmq(link)


def test_zloop_pull_with_libzmq_push(make_link: MakeLink) -> None:
    link = make_link(zmq.PUSH, SocketType.PULL)
    check_handshake(link.wire, zmq.PUSH)
    libzmq_to_zloop(link)


def test_zloop_pair_with_libzmq_pair(make_link: MakeLink) -> None:
    link = make_link(zmq.PAIR, SocketType.PAIR)
    check_handshake(link.wire, zmq.PAIR)
    zloop_to_libzmq(link)
    libzmq_to_zloop(link)


def test_many_messages_in_one_burst(make_link: MakeLink) -> None:
    link = make_link(zmq.PAIR, SocketType.PAIR)
    check_handshake(link.wire, zmq.PAIR)
    count = 2000
    for i in range(count):
        link.zsock.send_multipart([b"%d" % i, b"x" * (i % 300)])
    for i in range(count):
        assert link.wire.recv() == [b"%d" % i, b"x" * (i % 300)]
    link.wire.conn.send_messages([[b"%d" % i] for i in range(count)])
    link.wire.flush()
    for i in range(count):
        assert link.zsock.recv() == b"%d" % i


# -- IPC ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("ipc_mode", ["zloop-connects", "zloop-accepts"])
def test_ipc_dealer_router(linker: Linker, ipc_mode: str) -> None:
    link = linker.link(zmq.ROUTER, SocketType.DEALER, ipc_mode, transport="ipc", routing_id=b"ipc")
    assert link.endpoint.startswith("ipc://")
    check_handshake(link.wire, zmq.ROUTER)
    for payload in PAYLOADS:
        link.wire.send(payload)
        assert link.zsock.recv_multipart() == [b"ipc", *payload]
        link.zsock.send_multipart([b"ipc", *payload])
        assert link.wire.recv() == payload
