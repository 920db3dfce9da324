"""PUB/SUB/XSUB with zloop on both sides (inproc, tcp, ipc), the readiness contract for these types,
and interop with real libzmq (pyzmq) in both connection directions."""

from __future__ import annotations

import time
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
    recv_until,
    sync,
    sync_gone,
)
from pubsub_helpers import transport as transport
from zl_testing import link

import zloop


def pub_sub(
    ctx: zloop.Context, transport: str, tmp_path: Path, *, sub_binds: bool = False
) -> tuple[zloop.Socket, zloop.Socket]:
    pub = ctx.socket(zloop.PUB)
    sub = ctx.socket(zloop.SUB)
    binder, connecter = (sub, pub) if sub_binds else (pub, sub)
    binder.bind(endpoint(transport, tmp_path))
    connecter.connect(binder.last_endpoint.decode())
    return pub, sub


# -- filtering ------------------------------------------------------------------------------------


@pytest.mark.parametrize("sub_binds", [False, True], ids=["pub-binds", "sub-binds"])
def test_prefix_filter_on_first_frame(
    ctx: zloop.Context, transport: str, tmp_path: Path, sub_binds: bool
) -> None:
    pub, sub = pub_sub(ctx, transport, tmp_path, sub_binds=sub_binds)
    sub.subscribe("A")
    sub.setsockopt(zloop.SUBSCRIBE, b"\x00bin")
    sync(pub, sub, b"A-probe")
    for msg in (
        [b"B"],
        [b"A"],
        [b"", b"A"],
        [b"xA"],
        [b"AB", b"second", b""],
        [b"\x00bin!"],
        [b"\x00bi"],
        [b"A" * 70_000],
        [b"A-end"],
    ):
        pub.send_multipart(msg)
    got = recv_until(sub, [b"A-end"])
    assert got == [[b"A"], [b"AB", b"second", b""], [b"\x00bin!"], [b"A" * 70_000], [b"A-end"]]
    assert nothing_pending(sub)


def test_empty_subscription_matches_everything(
    ctx: zloop.Context, transport: str, tmp_path: Path
) -> None:
    pub, sub = pub_sub(ctx, transport, tmp_path)
    sub.subscribe(b"")
    sync(pub, sub, b"probe")
    for msg in ([b""], [b"x", b"y"], [b"end"]):
        pub.send_multipart(msg)
    assert recv_until(sub, [b"end"]) == [[b""], [b"x", b"y"], [b"end"]]


def test_no_subscription_receives_nothing(ctx: zloop.Context, tmp_path: Path) -> None:
    pub, sub = pub_sub(ctx, "inproc", tmp_path)
    pub.send(b"anything")
    sub.subscribe(b"Z")
    sync(pub, sub, b"Z")
    assert nothing_pending(sub)


def test_refcounted_unsubscribe(ctx: zloop.Context, transport: str, tmp_path: Path) -> None:
    pub, sub = pub_sub(ctx, transport, tmp_path)
    sub.subscribe(b"A")
    sub.subscribe(b"A")
    sub.subscribe(b"M")
    sync(pub, sub, b"A")
    sub.unsubscribe(b"A")  # one reference left: still subscribed
    sub.unsubscribe(b"nope")  # unknown: ignored
    sync(pub, sub, b"M")
    for _ in range(3):  # the publisher processed the cancel if any was sent; A still flows
        pub.send(b"A-still")
        pub.send(b"M-mark")
        assert recv_until(sub, [b"M-mark"]) == [[b"A-still"], [b"M-mark"]]
    sub.unsubscribe(b"A")  # the last reference: CANCEL goes out
    sync_gone(pub, sub, b"A", b"M")
    pub.send(b"A-after")
    pub.send(b"M-end")
    assert recv_until(sub, [b"M-end"]) == [[b"M-end"]]
    # and subscribing again works
    sub.subscribe(b"A")
    sync(pub, sub, b"A-again")


def test_sub_also_filters_on_receipt(ctx: zloop.Context, tmp_path: Path) -> None:
    # An XPUB in manual mode can send a SUB anything; the SUB still filters.
    xpub = ctx.socket(zloop.XPUB)
    xpub.setsockopt(zloop.XPUB_MANUAL, 1)
    xpub.bind(endpoint("inproc", tmp_path))
    sub = ctx.socket(zloop.SUB)
    sub.connect(xpub.last_endpoint.decode())
    sub.subscribe(b"A")
    assert recv(xpub) == [b"\x01A"]
    xpub.subscribe(b"")  # everything, to that subscriber
    for msg in ([b"B"], [b"A1"], [b"C"], [b"A2"]):
        xpub.send_multipart(msg)
    assert recv(sub) == [b"A1"]
    assert recv(sub) == [b"A2"]
    assert nothing_pending(sub)


def test_invert_matching(ctx: zloop.Context, tmp_path: Path) -> None:
    pub, sub = pub_sub(ctx, "inproc", tmp_path)
    pub.setsockopt(zloop.INVERT_MATCHING, 1)
    sub.setsockopt(zloop.INVERT_MATCHING, 1)
    assert sub.getsockopt(zloop.INVERT_MATCHING) == 1
    sub.subscribe(b"A")
    sync(pub, sub, b"B-probe")
    for msg in (b"A1", b"B1", b"A2", b"C1"):
        pub.send(msg)
    assert recv_until(sub, [b"C1"]) == [[b"B1"], [b"C1"]]


# -- several subscribers, HWM ----------------------------------------------------------------------


def test_fan_out_to_matching_subscribers_only(
    ctx: zloop.Context, transport: str, tmp_path: Path
) -> None:
    pub = ctx.socket(zloop.PUB)
    pub.bind(endpoint(transport, tmp_path))
    addr = pub.last_endpoint.decode()
    subs = [ctx.socket(zloop.SUB) for _ in range(3)]
    for sub, topic in zip(subs, (b"A", b"B", b""), strict=True):
        sub.connect(addr)
        sub.subscribe(topic)
        sub.subscribe(b"sync")
        sync(pub, sub, b"sync")
    for msg in (b"A1", b"B1", b"C1", b"sync-end"):
        pub.send(msg)

    def data(sub: zloop.Socket) -> list[list[bytes]]:
        # Probes of the later syncs may still reach the earlier subscribers: skip them.
        return [m for m in recv_until(sub, [b"sync-end"]) if m[0] != b"sync"]

    assert data(subs[0]) == [[b"A1"], [b"sync-end"]]
    assert data(subs[1]) == [[b"B1"], [b"sync-end"]]
    assert data(subs[2]) == [[b"A1"], [b"B1"], [b"C1"], [b"sync-end"]]


def test_slow_subscriber_misses_whole_messages_inproc(ctx: zloop.Context) -> None:
    pub = ctx.socket(zloop.PUB)
    pub.setsockopt(zloop.SNDHWM, 5)
    pub.bind("inproc://hwm")
    slow = ctx.socket(zloop.SUB)
    slow.setsockopt(zloop.RCVHWM, 5)  # inproc pipe limit = SNDHWM + RCVHWM = 10
    fast = ctx.socket(zloop.SUB)
    fast.setsockopt(zloop.RCVHWM, 0)  # unlimited
    for sub in (slow, fast):
        sub.connect("inproc://hwm")
        sub.subscribe(b"")
        sync(pub, sub, b"sync")
    while slow.poll(0):
        slow.recv_multipart()
    for i in range(100):
        pub.send_multipart([b"m", b"%d" % i], zloop.NOBLOCK)  # never blocks, never Again
    assert pub.EVENTS == zloop.POLLOUT
    assert [recv(fast) for _ in range(100)] == [[b"m", b"%d" % i] for i in range(100)]
    got = []
    while slow.poll(0):
        got.append(slow.recv_multipart())
    # The first ones, whole, up to the pipe's limit (10; the writer learns of reads every
    # lwm = 5 messages, so the sync probes read just before may still count against it).
    assert 5 <= len(got) <= 10
    assert got == [[b"m", b"%d" % i] for i in range(len(got))]
    pub.send(b"after")  # room again: delivered
    assert recv(slow) == [b"after"]
    assert recv(fast) == [b"after"]


@pytest.mark.parametrize("transport", ["tcp", "ipc"])
def test_slow_subscriber_does_not_block_publisher_stream(
    ctx: zloop.Context, transport: str, tmp_path: Path
) -> None:
    pub = ctx.socket(zloop.PUB)
    pub.setsockopt(zloop.SNDHWM, 10)
    pub.bind(endpoint(transport, tmp_path))
    addr = pub.last_endpoint.decode()
    slow = ctx.socket(zloop.SUB)
    slow.setsockopt(zloop.RCVHWM, 10)
    fast = ctx.socket(zloop.SUB)
    for sub in (slow, fast):
        sub.connect(addr)
        sub.subscribe(b"")
        sync(pub, sub, b"sync")
    while slow.poll(0):
        slow.recv_multipart()
    n = 3000
    body = b"x" * 8192  # 24 MB in all: far beyond what the kernel buffers for the slow one
    for i in range(n):
        pub.send_multipart([b"%d" % i, body], zloop.NOBLOCK)
        assert recv(fast) == [b"%d" % i, body]
    got = []
    while slow.poll(200):
        msg = slow.recv_multipart()
        if msg[0] != b"sync":  # probes of the second sync may still have been in flight
            got.append(msg)
    assert 10 <= len(got) < n
    numbers = [int(m[0]) for m in got]
    assert numbers == sorted(numbers) and all(m[1] == body for m in got)


# -- reconnect -------------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["tcp", "ipc"])
def test_resubscribe_after_publisher_restart(
    ctx: zloop.Context, transport: str, tmp_path: Path
) -> None:
    pub = ctx.socket(zloop.PUB)
    pub.bind(endpoint(transport, tmp_path))
    addr = pub.last_endpoint.decode()
    sub = ctx.socket(zloop.SUB)
    sub.setsockopt(zloop.RECONNECT_IVL, 10)
    sub.connect(addr)
    sub.subscribe(b"A")
    sub.subscribe(b"A")
    sub.subscribe(b"B")
    sub.unsubscribe(b"B")
    sync(pub, sub, b"A")
    pub.close(linger=0)
    # The restarted peer is an XPUB, to see exactly what the SUB re-sends: each distinct topic once.
    xpub = ctx.socket(zloop.XPUB)
    xpub.setsockopt(zloop.XPUB_VERBOSE, 1)
    xpub.bind(addr)
    # The re-send is a command to the SUB: it runs while the application waits in the SUB.
    deadline = time.monotonic() + 10
    while not xpub.poll(0):
        assert time.monotonic() < deadline, "the subscriptions were not re-sent"
        assert not sub.poll(20)
    assert recv(xpub) == [b"\x01A"]
    sync(xpub, sub, b"A-back")
    assert nothing_pending(xpub)


def test_xsub_resends_cached_subscriptions_to_new_publishers(
    ctx: zloop.Context, transport: str, tmp_path: Path
) -> None:
    xsub = ctx.socket(zloop.XSUB)
    xsub.send(b"\x01A")
    xsub.send(b"\x01A")
    xsub.send(b"\x01B")
    xsub.send(b"\x01C")
    xsub.send(b"\x00C")
    xsub.send(b"\x00B")  # cancelled: not re-sent
    xpub = ctx.socket(zloop.XPUB)
    xpub.setsockopt(zloop.XPUB_VERBOSE, 1)
    xpub.bind(endpoint(transport, tmp_path))
    xsub.connect(xpub.last_endpoint.decode())
    assert recv(xpub) == [b"\x01A"]
    sync(xpub, xsub, b"A")
    assert nothing_pending(xpub)


# -- XSUB ------------------------------------------------------------------------------------------


def test_xsub_no_filter_and_upstream_messages(
    ctx: zloop.Context, transport: str, tmp_path: Path
) -> None:
    xpub = ctx.socket(zloop.XPUB)
    xpub.bind(endpoint(transport, tmp_path))
    xsub = ctx.socket(zloop.XSUB)
    xsub.connect(xpub.last_endpoint.decode())
    xsub.send(b"\x01A")
    assert recv(xpub) == [b"\x01A"]
    xsub.send_multipart([b"hello", b"upstream"])
    assert recv(xpub) == [b"hello", b"upstream"]
    xsub.send(b"\x00A")
    assert recv(xpub) == [b"\x00A"]
    xsub.send(b"\x00A")  # not subscribed any more: not forwarded
    xsub.send(b"\x01")
    assert recv(xpub) == [b"\x01"]
    # XPUB filters for XSUB; XSUB itself does not filter (it subscribed to everything here).
    xpub.send(b"whatever")
    assert recv(xsub) == [b"whatever"]


def test_pub_drops_upstream_data(ctx: zloop.Context, transport: str, tmp_path: Path) -> None:
    pub = ctx.socket(zloop.PUB)
    pub.bind(endpoint(transport, tmp_path))
    xsub = ctx.socket(zloop.XSUB)
    xsub.connect(pub.last_endpoint.decode())
    xsub.send(b"junk")
    xsub.send_multipart([b"", b"more junk"])
    xsub.send(b"\x01T")
    sync(pub, xsub, b"T")


# -- errors ----------------------------------------------------------------------------------------


def test_enotsup(ctx: zloop.Context) -> None:
    pub = ctx.socket(zloop.PUB)
    sub = ctx.socket(zloop.SUB)
    with pytest.raises(zloop.ZMQError) as err:
        pub.recv(zloop.NOBLOCK)
    assert err.value.errno == zloop.ENOTSUP
    for send in (
        lambda: sub.send(b"x"),
        lambda: sub.send(b"x", zloop.SNDMORE),
        lambda: sub.send_multipart([b"x", b"y"]),
    ):
        with pytest.raises(zloop.ZMQError) as err:
            send()
        assert err.value.errno == zloop.ENOTSUP
    with pytest.raises(zloop.ZMQError) as err:
        pub.setsockopt(zloop.SUBSCRIBE, b"x")
    assert err.value.errno == zloop.EINVAL
    with pytest.raises(TypeError):
        sub.setsockopt(zloop.SUBSCRIBE, "str")
    with pytest.raises(zloop.ZMQError) as err:
        sub.getsockopt(zloop.SUBSCRIBE)
    assert err.value.errno == zloop.EINVAL
    assert pub.EVENTS == zloop.POLLOUT
    assert sub.EVENTS == 0


# -- readiness (docs/readiness.md) -------------------------------------------------------------------------


def test_sub_edge_fd_fires_for_matching_message(
    ctx: zloop.Context, transport: str, tmp_path: Path
) -> None:
    pub, sub = pub_sub(ctx, transport, tmp_path)
    sub.subscribe(b"A")
    sync(pub, sub, b"A")
    assert not sub.EVENTS & zloop.POLLIN  # "not ready": the FD must fire when that changes
    pub.send(b"B-filtered")
    pub.send(b"A-wanted")
    assert fd_fires(sub.FD)
    deadline_hits = 0
    while not sub.EVENTS & zloop.POLLIN:  # the filtered one may have woken us first
        assert fd_fires(sub.FD)
        deadline_hits += 1
        assert deadline_hits < 100
    assert sub.recv(zloop.NOBLOCK) == b"A-wanted"
    with pytest.raises(zloop.Again):
        sub.recv(zloop.NOBLOCK)
    pub.send(b"A-next")
    assert fd_fires(sub.FD)
    assert sub.EVENTS & zloop.POLLIN
    assert sub.recv(zloop.NOBLOCK) == b"A-next"


def test_sub_events_truthful_when_only_filtered_messages_arrive(ctx: zloop.Context) -> None:
    # An XPUB in manual mode that subscribes the SUB to everything: SUB's own filter decides.
    pub = ctx.socket(zloop.XPUB)
    pub.setsockopt(zloop.XPUB_MANUAL, 1)
    pub.bind("inproc://truth")
    sub = ctx.socket(zloop.SUB)
    sub.connect("inproc://truth")
    sub.subscribe(b"A")
    assert recv(pub) == [b"\x01A"]
    pub.subscribe(b"")
    assert sub.EVENTS == 0
    pub.send(b"B")
    assert fd_fires(sub.FD)
    assert sub.EVENTS == 0  # a filtered message does not make SUB readable
    pub.send(b"A")
    assert fd_fires(sub.FD)  # and the wake-up was re-armed
    assert sub.EVENTS == zloop.POLLIN


def test_xsub_edge_fd(ctx: zloop.Context, transport: str, tmp_path: Path) -> None:
    pub = ctx.socket(zloop.PUB)
    pub.bind(endpoint(transport, tmp_path))
    xsub = ctx.socket(zloop.XSUB)
    xsub.connect(pub.last_endpoint.decode())
    assert xsub.EVENTS == zloop.POLLOUT
    xsub.send(b"\x01")
    sync(pub, xsub, b"x")
    assert xsub.EVENTS == zloop.POLLOUT
    pub.send(b"y")
    assert fd_fires(xsub.FD)
    assert xsub.EVENTS == zloop.POLLIN | zloop.POLLOUT
    assert xsub.recv(zloop.NOBLOCK) == b"y"


def test_level_fd_for_sub(ctx: zloop.Context) -> None:
    pub = ctx.socket(zloop.PUB)
    pub.bind("inproc://level")
    sub = ctx.socket(zloop.SUB)
    sub.connect("inproc://level")
    level = sub.level_fd(zloop.POLLIN)
    sub.subscribe(b"A")
    sync(pub, sub, b"A")
    assert not fd_fires(level, 0)
    pub.send(b"A1")
    assert fd_fires(level)
    assert sub.recv() == b"A1"
    assert not fd_fires(level, 0)


# -- interop with libzmq ---------------------------------------------------------------------------


@pytest.mark.interop
@pytest.mark.parametrize(
    ("zloop_binds", "transport"),
    [*INTEROP_MODES, pytest.param(True, "ipc", id="zloop-binds-ipc")],
)
def test_zloop_sub_libzmq_pub(
    ctx: zloop.Context, zctx: Any, tmp_path: Path, zloop_binds: bool, transport: str
) -> None:
    pub = zctx.socket(zmq.PUB)
    sub = ctx.socket(zloop.SUB)
    link(pub, sub, zloop_binds, transport, tmp_path)
    sub.subscribe("A")
    sub.subscribe("A")
    sub.subscribe("B")
    sync(pub, sub, b"A")
    sub.unsubscribe("A")
    sub.unsubscribe("B")
    sync_gone(pub, sub, b"B", b"A")  # B cancelled at libzmq; A still referenced once
    for msg in ([b"B1"], [b"C1"], [b"A1", b"x"], [b"A-end"]):
        pub.send_multipart(msg)
    assert recv_until(sub, [b"A-end"]) == [[b"A1", b"x"], [b"A-end"]]


@pytest.mark.interop
@pytest.mark.parametrize(
    ("zloop_binds", "transport"),
    [*INTEROP_MODES, pytest.param(False, "ipc", id="zloop-connects-ipc")],
)
def test_libzmq_sub_zloop_pub(
    ctx: zloop.Context, zctx: Any, tmp_path: Path, zloop_binds: bool, transport: str
) -> None:
    sub = zctx.socket(zmq.SUB)
    pub = ctx.socket(zloop.PUB)
    link(sub, pub, zloop_binds, transport, tmp_path)
    sub.subscribe(b"A")
    sub.subscribe(b"")
    sync(pub, sub, b"A")
    sub.unsubscribe(b"")
    sync_gone(pub, sub, b"Z", b"A")
    for msg in ([b"B"], [b"A1", b"y"], [b"A-end"]):
        pub.send_multipart(msg)
    assert recv_until(sub, [b"A-end"]) == [[b"A1", b"y"], [b"A-end"]]


@pytest.mark.interop
@pytest.mark.parametrize(("zloop_binds", "transport"), INTEROP_MODES)
def test_zloop_pub_libzmq_xsub(
    ctx: zloop.Context, zctx: Any, tmp_path: Path, zloop_binds: bool, transport: str
) -> None:
    # libzmq's XSUB forwards "\x01A" from its application as a data frame, even over ZMTP 3.1.
    xsub = zctx.socket(zmq.XSUB)
    pub = ctx.socket(zloop.PUB)
    link(xsub, pub, zloop_binds, transport, tmp_path)
    xsub.send(b"junk")  # PUB drops non-subscriptions
    xsub.send(b"\x01A")
    xsub.send(b"\x01M")
    sync(pub, xsub, b"A")
    sync(pub, xsub, b"M")
    xsub.send(b"\x00A")
    sync_gone(pub, xsub, b"A", b"M")


@pytest.mark.interop
@pytest.mark.parametrize(("zloop_binds", "transport"), INTEROP_MODES)
def test_libzmq_pub_zloop_xsub(
    ctx: zloop.Context, zctx: Any, tmp_path: Path, zloop_binds: bool, transport: str
) -> None:
    pub = zctx.socket(zmq.PUB)
    xsub = ctx.socket(zloop.XSUB)
    link(pub, xsub, zloop_binds, transport, tmp_path)
    xsub.send(b"\x01A")
    sync(pub, xsub, b"A")
    for msg in ([b"B"], [b"A1"], [b"A-end"]):
        pub.send_multipart(msg)
    assert recv_until(xsub, [b"A-end"]) == [[b"A1"], [b"A-end"]]
