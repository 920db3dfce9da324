"""Subscriptions across the wire: zloop SUB -> libzmq PUB/XPUB (3.1 SUBSCRIBE/CANCEL commands),
libzmq SUB -> zloop PUB (arriving as Subscribe/Cancel events), in both connection directions."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import zmq
from zmtp_links import Link
from zmtp_raw import command
from zmtp_wire import check_handshake

from zloop.constants import SocketType

pytestmark = pytest.mark.interop

MakeLink = Callable[..., Link]

# How long one round of "publish, then look for it" waits before publishing again. libzmq's PUB
# applies a subscription only once its application thread has read it from the pipe, which no
# event outside libzmq reveals; so the test republishes until the first matching message arrives.
ROUND = 0.02


def publish_until_received(link: Link, wanted: list[bytes], unwanted: list[list[bytes]]) -> None:
    """Publish ``unwanted`` messages then ``wanted`` (plus a round-number frame) until ``wanted``
    arrives at zloop, then drain the copies from later rounds. Nothing else may arrive: the
    unwanted ones go first in every round, so one slipping through would arrive first."""
    for rnd in range(int(link.wire.timeout / ROUND)):
        for message in unwanted:
            link.zsock.send_multipart(message)
        link.zsock.send_multipart([*wanted, b"%d" % rnd])
        got = link.wire.poll_message(ROUND)
        if got is not None:
            assert got[:-1] == wanted
            # Every round from the first delivered one on is delivered, in order.
            for later in range(int(got[-1]) + 1, rnd + 1):
                assert link.wire.recv() == [*wanted, b"%d" % later]
            return
    raise AssertionError("the subscription never took effect")


def test_zloop_sub_with_libzmq_pub_filters_by_topic(make_link: MakeLink) -> None:
    link = make_link(zmq.PUB, SocketType.SUB)
    check_handshake(link.wire, zmq.PUB)
    before = len(link.wire.sent)
    link.wire.conn.send_subscribe(b"A")
    link.wire.flush()
    # ZMTP 3.1: a SUBSCRIBE command, not the 3.0 "\x01A" data frame
    assert bytes(link.wire.sent[before:]) == b"\x04\x0b\x09SUBSCRIBEA"

    publish_until_received(link, [b"A-match", b"x" * 300], [[b"B-no", b"y"]])
    # From now on only A-topics may arrive, in order, multipart and large frames intact.
    for message in ([b"B"], [b"A", b""], [b"nope", b"A"], [b"A" + b"z" * 100_000], [b"A-last"]):
        link.zsock.send_multipart(message)
    assert link.wire.recv() == [b"A", b""]
    assert link.wire.recv() == [b"A" + b"z" * 100_000]
    assert link.wire.recv() == [b"A-last"]

    # CANCEL A, SUBSCRIBE C: once a C arrives the cancel has been applied too (same pipe, in order).
    before = len(link.wire.sent)
    link.wire.conn.send_cancel(b"A")
    link.wire.conn.send_subscribe(b"C")
    link.wire.flush()
    assert bytes(link.wire.sent[before:]) == command(b"CANCEL", b"A") + command(b"SUBSCRIBE", b"C")
    publish_until_received(link, [b"C-first"], [])
    # An A published before this C arrived would already have been received before it.
    link.zsock.send_multipart([b"A-cancelled"])
    link.zsock.send_multipart([b"C-last"])
    assert link.wire.recv() == [b"C-last"]


def test_zloop_sub_with_libzmq_xpub_sees_subscriptions(make_link: MakeLink) -> None:
    link = make_link(zmq.XPUB, SocketType.SUB, options={zmq.XPUB_VERBOSER: 1})
    check_handshake(link.wire, zmq.XPUB)
    link.wire.conn.send_subscribe(b"topic")
    link.wire.conn.send_subscribe(b"")
    link.wire.flush()
    # XPUB hands the 3.1 commands to its application in the 3.0 form
    assert link.zsock.recv() == b"\x01topic"
    assert link.zsock.recv() == b"\x01"
    link.zsock.send_multipart([b"topic", b"body", b"b" * 300])
    assert link.wire.recv() == [b"topic", b"body", b"b" * 300]
    link.wire.conn.send_cancel(b"topic")
    link.wire.flush()
    assert link.zsock.recv() == b"\x00topic"


def test_libzmq_sub_with_zloop_pub(make_link: MakeLink) -> None:
    from zloop.protocol import Cancel, Subscribe

    link = make_link(zmq.SUB, SocketType.PUB, options={zmq.SUBSCRIBE: b"news"})
    check_handshake(link.wire, zmq.SUB)
    # libzmq 4.3.5 sends SUBSCRIBE commands to a 3.1 peer
    assert link.wire.wait_for(Subscribe) == Subscribe(b"news")
    link.wire.send([b"weather", b"sunny"])
    link.wire.send([b"news", b"x" * 300])
    link.wire.send([b"newsletter" + b"y" * 100_000])
    assert link.zsock.recv_multipart() == [b"news", b"x" * 300]  # SUB filtered "weather" itself
    assert link.zsock.recv_multipart() == [b"newsletter" + b"y" * 100_000]

    link.zsock.setsockopt(zmq.SUBSCRIBE, b"")
    assert link.wire.wait_for(Subscribe) == Subscribe(b"")
    link.zsock.setsockopt(zmq.UNSUBSCRIBE, b"news")
    assert link.wire.wait_for(Cancel) == Cancel(b"news")
    link.wire.send([b"weather"])
    assert link.zsock.recv_multipart() == [b"weather"]


def test_libzmq_sub_with_zloop_xpub(make_link: MakeLink) -> None:
    from zloop.protocol import Subscribe

    link = make_link(zmq.SUB, SocketType.XPUB, options={zmq.SUBSCRIBE: b""})
    check_handshake(link.wire, zmq.SUB)
    assert link.wire.wait_for(Subscribe) == Subscribe(b"")
    link.wire.send([b"anything", b""])
    assert link.zsock.recv_multipart() == [b"anything", b""]
