"""How many messages a ROUTER queues towards a peer that has not read yet before it drops, on
libzmq (pyzmq) and on zloop (``impl``), and the mechanism behind zloop's answer over tcp/ipc.

inproc: one pipe joins the two sockets and holds SNDHWM + RCVHWM messages (libzmq adds the two).
The ROUTER takes exactly that many and drops the rest, or with ROUTER_MANDATORY says EAGAIN there:
the same on both, to the message.

tcp/ipc: a pipe to the I/O thread (SNDHWM), the kernel's socket buffers, a pipe to the reader
(RCVHWM). libzmq's I/O thread moves messages from the first pipe into the kernel while the sender
runs; a sender faster than that (a tight NOBLOCK loop) finds the pipe full and drops, so how many
arrive varies between SNDHWM and the whole burst. zloop deliberately does better than that race: a
write that finds its pipe to a connection full drains the pipe into the OS socket itself
(zloop/io/engine.py, "Draining a full pipe"), so a burst the kernel's buffers can take arrives
whole, every time. Before, zloop's pipe filled long before its I/O thread (a Python thread sharing
the GIL) had a turn: SNDHWM + 1 of the burst arrived, and a broker lost replies libzmq delivers
(tests/devices/test_broker_bursts.py).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from zl_testing import DEADLINE, DEADLINE_MS, endpoint_for

import zloop
from zloop.io.engine import StreamEngine
from zloop.pipe import Pipe

HWM = 100


def _pair(impl: Any, ctx: Any, transport: str, tmp_path: Path) -> tuple[Any, Any]:
    """A ROUTER (SNDHWM ``HWM``) and a connected DEALER ``d`` (RCVHWM ``HWM``) that said hello."""
    router = ctx.socket(impl.ROUTER)
    router.sndhwm = HWM
    router.linger = 0
    router.bind(endpoint_for(transport, tmp_path, "capacity"))
    dealer = ctx.socket(impl.DEALER)
    dealer.routing_id = b"d"
    dealer.rcvhwm = HWM
    dealer.linger = 0
    dealer.connect(router.last_endpoint.decode())
    dealer.send(b"hi")
    assert router.poll(DEADLINE_MS)
    assert router.recv_multipart() == [b"d", b"hi"]
    return router, dealer


def _burst_then_collect(impl: Any, router: Any, dealer: Any, count: int) -> list[int]:
    """Send ``count`` numbered messages NOBLOCK (a full pipe drops them), then an end marker with
    ROUTER_MANDATORY (it waits for room instead: there is some once the I/O thread moved messages
    into the kernel's buffer); return the numbers the dealer received."""
    for i in range(count):
        router.send_multipart([b"d", b"%d" % i], impl.NOBLOCK)
    router.router_mandatory = 1
    router.send_multipart([b"d", b"end"])
    got: list[int] = []
    while True:
        assert dealer.poll(DEADLINE_MS), "the end marker never arrived"
        frame = dealer.recv()
        if frame == b"end":
            return got
        got.append(int(frame))


def test_inproc_router_holds_sndhwm_plus_rcvhwm(impl: Any, impl_ctx: Any, tmp_path: Path) -> None:
    router, dealer = _pair(impl, impl_ctx, "inproc", tmp_path)
    for i in range(3 * HWM):
        router.send_multipart([b"d", b"%d" % i], impl.NOBLOCK)
    # Nothing is in flight on inproc: what the pipe took is there, the rest was dropped.
    got = []
    while dealer.poll(0):
        got.append(int(dealer.recv()))
    assert got == list(range(2 * HWM))

    router, dealer = _pair(impl, impl_ctx, "inproc", tmp_path)
    router.router_mandatory = 1
    sent = 0
    with pytest.raises(impl.Again):
        for _ in range(3 * HWM):
            router.send_multipart([b"d", b"%d" % sent], impl.NOBLOCK)
            sent += 1
    assert sent == 2 * HWM


@pytest.mark.parametrize("transport", ["tcp", "ipc"])
def test_burst_towards_a_reader_that_has_not_read_yet(
    impl: Any, impl_ctx: Any, transport: str, tmp_path: Path
) -> None:
    router, dealer = _pair(impl, impl_ctx, transport, tmp_path)
    got = _burst_then_collect(impl, router, dealer, 2 * HWM)
    # Both: in order, and at least what the pipe holds before its reader takes anything.
    assert got == sorted(got)
    assert len(got) >= HWM
    if impl is zloop:
        # zloop: the kernel's buffer has room for the lot, so nothing is dropped (see above).
        assert got == list(range(2 * HWM))


# -- the drain itself (zloop) -----------------------------------------------------------------------


@pytest.fixture
def drains(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Counts the drains of full pipes run by application threads."""
    counts = [0]
    original = StreamEngine.drain

    def counting(self: StreamEngine, pipe: Pipe) -> None:
        counts[0] += 1
        original(self, pipe)

    monkeypatch.setattr(StreamEngine, "drain", counting)
    yield counts


@pytest.mark.parametrize("transport", ["tcp", "ipc"])
@pytest.mark.parametrize("mechanism", ["null", "curve"])
def test_drained_stream_arrives_whole_and_in_order(
    ctx: zloop.Context, transport: str, mechanism: str, tmp_path: Path, drains: list[int]
) -> None:
    """A blocking PUSH with a small SNDHWM drains its own full pipe while the I/O thread also
    writes from it (and encrypts, with CURVE): one encoder, one byte stream, nothing lost or
    reordered, large messages between small ones."""
    push = ctx.socket(zloop.PUSH)
    pull = ctx.socket(zloop.PULL)
    for sock in (push, pull):
        sock.linger = 0
        sock.sndhwm = sock.rcvhwm = 8
        sock.sndtimeo = sock.rcvtimeo = DEADLINE_MS
    if mechanism == "curve":
        public, secret = zloop.curve_keypair()
        pull.curve_server = True
        pull.curve_secretkey = secret
        push.curve_serverkey = public
        push.curve_publickey, push.curve_secretkey = zloop.curve_keypair()
    pull.bind(endpoint_for(transport, tmp_path, "drained"))
    push.connect(pull.last_endpoint.decode())
    count = 3000
    big = bytes(range(256)) * 256  # 64 KiB
    sent = [b"%d" % i + (big if i % 100 == 0 else b"") for i in range(count)]
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.extend(pull.recv() for _ in range(count)))
    reader.start()
    for msg in sent:
        push.send(msg)
    reader.join(DEADLINE * 4)
    assert not reader.is_alive(), f"only {len(received)} of {count} arrived"
    assert received == sent
    assert drains[0] > 0  # the full pipe was drained by the sender at least once
