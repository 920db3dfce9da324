"""XPUB: subscription notifications (default, VERBOSE, VERBOSER, on disconnect), MANUAL, WELCOME_MSG,
NODROP with its readiness, and interop with libzmq XPUB/SUB/XSUB."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import zmq
from pubsub_helpers import (
    INTEROP_MODES,
    endpoint,
    fd_fires,
    nothing_pending,
    recv,
    recv_pumping,
    sync,
)
from pubsub_helpers import transport as transport
from zl_testing import link

import zloop


def xpub_and_subs(
    ctx: zloop.Context, transport: str, tmp_path: Path, n: int, **options: int
) -> tuple[zloop.Socket, list[zloop.Socket]]:
    xpub = ctx.socket(zloop.XPUB)
    for option, value in options.items():
        xpub.setsockopt(getattr(zloop, option), value)
    xpub.bind(endpoint(transport, tmp_path))
    subs = []
    for _ in range(n):
        sub = ctx.socket(zloop.SUB)
        sub.connect(xpub.last_endpoint.decode())
        subs.append(sub)
    return xpub, subs


def marker(xpub: zloop.Socket, sub: zloop.Socket, topic: bytes) -> None:
    """Subscribe ``sub`` to a fresh ``topic`` and receive its notification: everything ``sub`` sent
    before has been processed by ``xpub`` (one pipe, in order)."""
    sub.subscribe(topic)
    assert recv(xpub) == [b"\x01" + topic]


def test_notifies_first_subscribe_and_last_unsubscribe(
    ctx: zloop.Context, transport: str, tmp_path: Path
) -> None:
    xpub, (s1, s2) = xpub_and_subs(ctx, transport, tmp_path, 2)
    s1.subscribe(b"A")
    assert recv(xpub) == [b"\x01A"]
    s1.subscribe(b"A")  # same pipe again: idempotent at the XPUB
    s2.subscribe(b"A")  # not the first subscriber
    marker(xpub, s1, b"m1")
    marker(xpub, s2, b"m2")
    s1.unsubscribe(b"A")  # s1 still holds one reference: no CANCEL on the wire
    s1.unsubscribe(b"A")  # CANCEL, but s2 still wants A: no notification
    marker(xpub, s1, b"m3")
    s2.unsubscribe(b"A")
    assert recv(xpub) == [b"\x00A"]
    assert nothing_pending(xpub)


def test_verbose_reports_every_subscribe(
    ctx: zloop.Context, transport: str, tmp_path: Path
) -> None:
    xpub, (s1, s2) = xpub_and_subs(ctx, transport, tmp_path, 2, XPUB_VERBOSE=1)
    s1.subscribe(b"A")
    assert recv(xpub) == [b"\x01A"]
    s1.subscribe(b"A")
    assert recv(xpub) == [b"\x01A"]
    s2.subscribe(b"A")
    assert recv(xpub) == [b"\x01A"]
    s1.unsubscribe(b"A")
    s1.unsubscribe(b"A")  # CANCEL from s1; s2 remains: not reported with VERBOSE
    marker(xpub, s1, b"m")
    s2.unsubscribe(b"A")
    assert recv(xpub) == [b"\x00A"]


def test_verboser_reports_every_unsubscribe(
    ctx: zloop.Context, transport: str, tmp_path: Path
) -> None:
    xpub, (s1, s2) = xpub_and_subs(ctx, transport, tmp_path, 2, XPUB_VERBOSER=1)
    s1.subscribe(b"A")
    s2.subscribe(b"A")
    assert recv(xpub) == [b"\x01A"]
    assert recv(xpub) == [b"\x01A"]
    s1.unsubscribe(b"A")
    assert recv(xpub) == [b"\x00A"]
    s2.unsubscribe(b"A")
    assert recv(xpub) == [b"\x00A"]


def test_disconnect_cancels_topics_nobody_wants(
    ctx: zloop.Context, transport: str, tmp_path: Path
) -> None:
    xpub, (s1, s2) = xpub_and_subs(ctx, transport, tmp_path, 2)
    s1.subscribe(b"A")
    s1.subscribe(b"B")
    s2.subscribe(b"A")
    assert recv(xpub) == [b"\x01A"]
    assert recv(xpub) == [b"\x01B"]
    marker(xpub, s2, b"m")
    s1.close(linger=0)
    assert recv(xpub) == [b"\x00B"]  # A is still wanted by s2
    s2.close(linger=0)
    assert sorted([recv(xpub), recv(xpub)]) == [[b"\x00A"], [b"\x00m"]]
    assert nothing_pending(xpub)


def test_disconnect_with_verboser_reports_every_topic(ctx: zloop.Context) -> None:
    xpub, (s1, s2) = xpub_and_subs(ctx, "inproc", Path("."), 2, XPUB_VERBOSER=1)
    s1.subscribe(b"A")
    s2.subscribe(b"A")
    assert [recv(xpub), recv(xpub)] == [[b"\x01A"], [b"\x01A"]]
    s1.close(linger=0)
    assert recv(xpub) == [b"\x00A"]


def test_manual_mode(ctx: zloop.Context, transport: str, tmp_path: Path) -> None:
    xpub, (s1, s2) = xpub_and_subs(ctx, transport, tmp_path, 2, XPUB_MANUAL=1)
    s1.subscribe(b"A")
    assert recv(xpub) == [b"\x01A"]
    xpub.subscribe(b"A")  # applies to s1, the pipe the last subscription came from
    s2.subscribe(b"A")
    assert recv(xpub) == [b"\x01A"]  # manual: every subscription is delivered
    # s2 is not subscribed at the XPUB: only s1 gets A traffic.
    sync(xpub, s1, b"A")
    s2.subscribe(b"A")
    assert recv(xpub) == [b"\x01A"]
    xpub.setsockopt(zloop.SUBSCRIBE, b"A-late")  # now s2, for A-late only
    sync(xpub, s2, b"A-late")  # s2 saw none of the earlier A probes: sync asserts it
    # unsubscribe in manual mode removes the topic for the last pipe
    xpub.unsubscribe(b"A-late")
    s1.close(linger=0)  # manual: every topic s1 asked for is reported
    assert recv(xpub) == [b"\x00A"]
    assert nothing_pending(xpub)


def test_xpub_subscribe_needs_manual(ctx: zloop.Context) -> None:
    xpub = ctx.socket(zloop.XPUB)
    with pytest.raises(zloop.ZMQError) as err:
        xpub.subscribe(b"A")
    assert err.value.errno == zloop.EINVAL
    with pytest.raises(zloop.ZMQError) as err:
        xpub.getsockopt(zloop.XPUB_VERBOSE)  # write-only, as in libzmq
    assert err.value.errno == zloop.EINVAL


def test_welcome_message(ctx: zloop.Context, transport: str, tmp_path: Path) -> None:
    xpub = ctx.socket(zloop.XPUB)
    xpub.setsockopt(zloop.XPUB_WELCOME_MSG, b"WELCOME")
    xpub.bind(endpoint(transport, tmp_path))
    for _ in range(2):  # each new subscriber gets it
        sub = ctx.socket(zloop.SUB)
        sub.subscribe(b"W")
        sub.connect(xpub.last_endpoint.decode())
        # the XPUB queues it when it processes the new pipe (a command: pump it)
        assert recv_pumping(sub, xpub) == [b"WELCOME"]
    xpub.setsockopt(zloop.XPUB_WELCOME_MSG, None)
    sub = ctx.socket(zloop.SUB)
    sub.subscribe(b"")
    sub.connect(xpub.last_endpoint.decode())
    sync(xpub, sub, b"probe")  # no welcome before the probes


def test_upstream_messages_reach_the_application(
    ctx: zloop.Context, transport: str, tmp_path: Path
) -> None:
    xpub = ctx.socket(zloop.XPUB)
    xpub.bind(endpoint(transport, tmp_path))
    xsub = ctx.socket(zloop.XSUB)
    xsub.connect(xpub.last_endpoint.decode())
    xsub.send_multipart([b"data", b"two"])
    xsub.send(b"")
    xsub.send(b"\x01T")
    assert recv(xpub) == [b"data", b"two"]
    assert recv(xpub) == [b""]
    assert recv(xpub) == [b"\x01T"]


def test_nodrop_blocks_and_pollout_follows(ctx: zloop.Context) -> None:
    xpub = ctx.socket(zloop.XPUB)
    xpub.setsockopt(zloop.XPUB_NODROP, 1)
    xpub.setsockopt(zloop.SNDHWM, 4)
    xpub.bind("inproc://nodrop")
    sub = ctx.socket(zloop.SUB)
    sub.setsockopt(zloop.RCVHWM, 4)  # inproc pipe limit 8
    sub.connect("inproc://nodrop")
    sub.subscribe(b"")
    assert recv(xpub) == [b"\x01"]
    sent = 0
    with pytest.raises(zloop.Again):
        while True:
            xpub.send(b"%d" % sent, zloop.NOBLOCK)
            sent += 1
    assert sent == 8
    assert not xpub.EVENTS & zloop.POLLOUT
    with pytest.raises(zloop.Again):
        xpub.send(b"x", zloop.NOBLOCK)
    with pytest.raises(zloop.Again):
        xpub.send(b"x", zloop.SNDMORE | zloop.NOBLOCK)
    xpub.setsockopt(zloop.SNDTIMEO, 50)
    with pytest.raises(zloop.Again):
        xpub.send(b"x")
    assert [recv(sub) for _ in range(4)] == [[b"%d" % i] for i in range(4)]  # lwm reached
    assert fd_fires(xpub.FD)
    assert xpub.EVENTS & zloop.POLLOUT
    xpub.send(b"again", zloop.NOBLOCK)
    assert [recv(sub) for _ in range(5)] == [*([b"%d" % i] for i in range(4, 8)), [b"again"]]


def test_pub_without_nodrop_is_always_writable(ctx: zloop.Context) -> None:
    xpub = ctx.socket(zloop.XPUB)
    xpub.setsockopt(zloop.SNDHWM, 2)
    xpub.bind("inproc://drop")
    sub = ctx.socket(zloop.SUB)
    sub.setsockopt(zloop.RCVHWM, 2)
    sub.connect("inproc://drop")
    sub.subscribe(b"")
    assert recv(xpub) == [b"\x01"]
    for i in range(50):
        xpub.send(b"%d" % i, zloop.NOBLOCK)
    assert xpub.EVENTS == zloop.POLLOUT
    assert [recv(sub) for _ in range(4)] == [[b"%d" % i] for i in range(4)]


def test_xpub_edge_fd_fires_on_subscription(
    ctx: zloop.Context, transport: str, tmp_path: Path
) -> None:
    xpub, (sub,) = xpub_and_subs(ctx, transport, tmp_path, 1)
    assert xpub.EVENTS == zloop.POLLOUT  # no subscription yet: armed
    sub.subscribe(b"A")
    assert fd_fires(xpub.FD)
    while not xpub.EVENTS & zloop.POLLIN:  # an earlier command (the attach) may wake us first
        assert fd_fires(xpub.FD)
    assert xpub.recv(zloop.NOBLOCK) == b"\x01A"
    with pytest.raises(zloop.Again):
        xpub.recv(zloop.NOBLOCK)
    sub.subscribe(b"B")
    assert fd_fires(xpub.FD)
    assert xpub.EVENTS & zloop.POLLIN
    assert xpub.recv(zloop.NOBLOCK) == b"\x01B"


# -- interop with libzmq ---------------------------------------------------------------------------


@pytest.mark.interop
@pytest.mark.parametrize(
    ("zloop_binds", "transport"),
    [*INTEROP_MODES, pytest.param(False, "ipc", id="zloop-connects-ipc")],
)
def test_zloop_xpub_sees_libzmq_sub(
    ctx: zloop.Context, zctx: Any, tmp_path: Path, zloop_binds: bool, transport: str
) -> None:
    xpub = ctx.socket(zloop.XPUB)
    xpub.setsockopt(zloop.XPUB_VERBOSE, 1)
    sub = zctx.socket(zmq.SUB)
    link(sub, xpub, zloop_binds, transport, tmp_path)
    peer = sub
    sub.subscribe(b"A")
    assert recv_pumping(xpub, peer) == [b"\x01A"]
    sub.subscribe(b"A")  # libzmq's SUB forwards duplicates too
    assert recv_pumping(xpub, peer) == [b"\x01A"]
    sync(xpub, sub, b"A")
    sub.unsubscribe(b"A")
    sub.unsubscribe(b"A")
    assert recv_pumping(xpub, peer) == [b"\x00A"]
    sub.close(linger=0)  # the XPUB reports nothing more: A was cancelled already


@pytest.mark.interop
@pytest.mark.parametrize(
    ("zloop_binds", "transport"), [*INTEROP_MODES, pytest.param(True, "ipc", id="zloop-binds-ipc")]
)
def test_libzmq_xpub_sees_zloop_sub(
    ctx: zloop.Context, zctx: Any, tmp_path: Path, zloop_binds: bool, transport: str
) -> None:
    xpub = zctx.socket(zmq.XPUB)
    xpub.setsockopt(zmq.XPUB_VERBOSE, 1)
    sub = ctx.socket(zloop.SUB)
    link(xpub, sub, zloop_binds, transport, tmp_path)
    peer = sub
    sub.subscribe(b"A")  # (sent when the connection is there: a new pipe gets each topic once)
    assert recv_pumping(xpub, peer) == [b"\x01A"]
    sub.subscribe(b"A")  # forwarded each time
    assert recv_pumping(xpub, peer) == [b"\x01A"]
    sync(xpub, sub, b"A")
    sub.unsubscribe(b"A")  # still one reference: nothing on the wire
    sub.subscribe(b"M")
    assert recv_pumping(xpub, peer) == [b"\x01M"]
    sub.unsubscribe(b"A")
    assert recv_pumping(xpub, peer) == [b"\x00A"]


@pytest.mark.interop
@pytest.mark.parametrize(("zloop_binds", "transport"), INTEROP_MODES)
def test_zloop_xpub_libzmq_xsub(
    ctx: zloop.Context, zctx: Any, tmp_path: Path, zloop_binds: bool, transport: str
) -> None:
    xpub = ctx.socket(zloop.XPUB)
    xsub = zctx.socket(zmq.XSUB)
    link(xsub, xpub, zloop_binds, transport, tmp_path)
    peer = xsub
    xsub.send(b"\x01A")
    assert recv_pumping(xpub, peer) == [b"\x01A"]
    xsub.send_multipart([b"up", b"stream"])
    assert recv_pumping(xpub, peer) == [b"up", b"stream"]
    sync(xpub, xsub, b"A")
    xsub.send(b"\x00A")
    assert recv_pumping(xpub, peer) == [b"\x00A"]


@pytest.mark.interop
@pytest.mark.parametrize(("zloop_binds", "transport"), INTEROP_MODES)
def test_libzmq_xpub_zloop_xsub(
    ctx: zloop.Context, zctx: Any, tmp_path: Path, zloop_binds: bool, transport: str
) -> None:
    xpub = zctx.socket(zmq.XPUB)
    xsub = ctx.socket(zloop.XSUB)
    link(xpub, xsub, zloop_binds, transport, tmp_path)
    peer = xsub
    xsub.send(b"\x01A")
    assert recv_pumping(xpub, peer) == [b"\x01A"]
    xsub.send_multipart([b"up", b"stream"])
    assert recv_pumping(xpub, peer) == [b"up", b"stream"]
    sync(xpub, xsub, b"A")
    xsub.send(b"\x00A")
    assert recv_pumping(xpub, peer) == [b"\x00A"]
