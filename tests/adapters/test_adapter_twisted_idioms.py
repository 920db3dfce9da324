"""Twisted idioms on zloop.adapters.twisted, for zloop and pyzmq sockets, on a fresh reactor per
test (epoll and asyncio reactors): Deferreds with callbacks and ``inlineCallbacks``, ``on_recv``
streams (``stop_on_recv`` inside the callback leaves the rest in the socket), cancelling a Deferred
takes nothing (queued, or already performed but not yet fired), a send at HWM waits, NOBLOCK,
RCVTIMEO, ``Poller``, ``close`` failing waiting Deferreds, the global reactor (in a subprocess) and
the missing-extra message.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from drivers_extra import FLAVOURS, sync_pair

import zloop

pytest.importorskip("twisted")

from twisted.internet import defer, task

from zloop.adapters import twisted as ztw

REACTORS = ["epoll", "asyncio"]


def run_on_reactor(kind: str, main: Callable[[Any], Coroutine[Any, Any, Any]]) -> Any:
    """Run ``main(reactor)`` on a fresh reactor of ``kind`` until it returns (10 s at most)."""
    if kind == "epoll":
        from twisted.internet.epollreactor import EPollReactor

        reactor: Any = EPollReactor()
    else:
        from twisted.internet.asyncioreactor import AsyncioSelectorReactor

        reactor = AsyncioSelectorReactor(asyncio.new_event_loop())
    outcome: dict[str, Any] = {}

    def start() -> None:
        d = defer.Deferred.fromCoroutine(main(reactor))
        d.addTimeout(10, reactor)

        def done(result: Any) -> None:
            outcome["result"] = result
            reactor.stop()

        d.addBoth(done)

    reactor.callWhenRunning(start)
    reactor.run(installSignalHandlers=False)
    if kind == "asyncio":
        reactor._asyncioEventloop.close()
    else:
        reactor.removeReader(reactor.waker)
        reactor.waker.connectionLost(None)
        reactor._poller.close()
    result = outcome["result"]
    if isinstance(result, Exception) or hasattr(result, "raiseException"):
        result.raiseException()
    return result


@pytest.fixture(params=REACTORS)
def reactor_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def wrap_pair(
    flavour: str, ctx: Any, zctx: Any, reactor: Any, bind_type: int, connect_type: int
) -> tuple[Any, Any]:
    a, b = sync_pair(flavour, ctx, zctx, bind_type, connect_type)
    return ztw.Socket.from_socket(a, reactor), ztw.Socket.from_socket(b, reactor)


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_request_reply_with_deferreds(reactor_kind: str, flavour: str, ctx: Any, zctx: Any) -> None:
    """A REP served by callbacks chained on Deferreds; a REQ driven by inlineCallbacks."""

    async def main(reactor: Any) -> list[bytes]:
        rep, req = wrap_pair(flavour, ctx, zctx, reactor, zloop.REP, zloop.REQ)

        def serve(_: Any = None) -> None:
            rep.recv().addCallback(lambda m: rep.send(m.upper())).addCallback(serve)

        serve()

        @defer.inlineCallbacks
        def client() -> Any:
            replies = []
            for i in range(50):
                yield req.send(b"hello %d" % i)
                replies.append((yield req.recv()))
            return replies

        replies: list[bytes] = await client()
        rep.close(linger=0)
        req._release()
        return replies

    assert run_on_reactor(reactor_kind, main) == [b"HELLO %d" % i for i in range(50)]


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_on_recv_stream_and_stop_inside_the_callback(
    reactor_kind: str, flavour: str, ctx: Any, zctx: Any
) -> None:
    """on_recv hands over messages in order; stop_on_recv() in the callback takes effect at once:
    the messages after it stay in the socket for the next recv."""

    async def main(reactor: Any) -> tuple[list[Any], list[Any]]:
        pull, push = wrap_pair(flavour, ctx, zctx, reactor, zloop.PULL, zloop.PUSH)
        for i in range(10):
            await push.send_multipart([b"m", b"%d" % i])
        got: list[Any] = []
        three = defer.Deferred()

        def on_msg(msg: list[bytes]) -> None:
            got.append(msg)
            if len(got) == 3:
                pull.stop_on_recv()
                three.callback(None)

        pull.on_recv(on_msg)
        await three
        await task.deferLater(reactor, 0.02)  # the stream really stopped: nothing more arrives
        rest = [await pull.recv_multipart() for _ in range(7)]
        pull._release()
        push._release()
        return got, rest

    got, rest = run_on_reactor(reactor_kind, main)
    everything = [[b"m", b"%d" % i] for i in range(10)]
    assert got == everything[:3]
    assert rest == everything[3:]


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_cancelled_deferreds_take_nothing(
    reactor_kind: str, flavour: str, ctx: Any, zctx: Any
) -> None:
    """A queued recv cancelled: CancelledError, nothing taken. A recv performed by the core but
    cancelled before its Deferred fired (cancel from inside the refresh's batch): the message goes
    back, whole. A send_multipart cancelled while waiting at HWM: sent not at all."""

    async def main(reactor: Any) -> list[Any]:
        pull, push = wrap_pair(flavour, ctx, zctx, reactor, zloop.PULL, zloop.PUSH)
        trace: list[Any] = []
        d = pull.recv_multipart()
        d.cancel()
        try:
            await d
        except defer.CancelledError:
            trace.append("cancelled")
        # two queued receives; the first one's callback cancels the second, which the same
        # refresh had already completed (its Deferred is fired after the core returns)
        first, second = pull.recv_multipart(), pull.recv_multipart()
        first.addCallback(lambda msg: (second.cancel(), msg)[1])
        second.addErrback(lambda f: f.trap(defer.CancelledError) and "second cancelled")
        push.socket.send_multipart([b"one", b"1"])
        push.socket.send_multipart([b"two", b"2"])
        trace.append(await first)
        trace.append(await second)
        trace.append(await pull.recv_multipart())
        return trace

    assert run_on_reactor(reactor_kind, main) == [
        "cancelled",
        [b"one", b"1"],
        "second cancelled",
        [b"two", b"2"],
    ]


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_send_waits_at_hwm_and_cancel_sends_nothing(
    reactor_kind: str, flavour: str, ctx: Any, zctx: Any
) -> None:
    async def main(reactor: Any) -> tuple[int, list[Any]]:
        pull, push = wrap_pair(flavour, ctx, zctx, reactor, zloop.PULL, zloop.PUSH)
        filled = 0
        while await push.poll(0, zloop.POLLOUT):
            await push.send_multipart([b"fill"])
            filled += 1
        blocked = push.send_multipart([b"x", b"y"])
        assert not blocked.called  # it waits for room
        blocked.cancel()
        blocked.addErrback(lambda f: f.trap(defer.CancelledError))
        waiting = push.send_multipart([b"after"])  # this one waits, then goes
        got = [await pull.recv_multipart() for _ in range(filled + 1)]
        await waiting
        return filled, got

    filled, got = run_on_reactor(reactor_kind, main)
    assert got == [[b"fill"]] * filled + [[b"after"]]


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_noblock_rcvtimeo_poller_and_close(
    reactor_kind: str, flavour: str, ctx: Any, zctx: Any
) -> None:
    async def main(reactor: Any) -> list[Any]:
        a, b = wrap_pair(flavour, ctx, zctx, reactor, zloop.PAIR, zloop.PAIR)
        trace: list[Any] = []
        d = a.recv(zloop.NOBLOCK)
        trace.append(d.called)
        try:
            await d
        except a._zmod.Again:
            trace.append("Again")
        a.rcvtimeo = 20
        try:
            await a.recv()
        except a._zmod.Again:
            trace.append("timed out")
        a.rcvtimeo = -1
        poller = ztw.Poller(reactor)
        poller.register(a, zloop.POLLIN)
        trace.append(await poller.poll(0))
        reactor.callLater(0.01, b.socket.send, b"ping")
        trace.append([(s is a, ev) for s, ev in await poller.poll(5000)])
        trace.append(await a.recv())
        waiting = [a.recv(), a.recv_multipart(), a.poll()]
        a.close(linger=0)
        for w in waiting:
            try:
                await w
            except Exception as exc:
                trace.append(getattr(exc, "errno", None) == a._zmod.ENOTSOCK)
        b._release()
        return trace

    assert run_on_reactor(reactor_kind, main) == [
        True,
        "Again",
        "timed out",
        [],
        [(True, zloop.POLLIN)],
        b"ping",
        True,
        True,
        True,
    ]


def test_global_reactor_and_context() -> None:
    """The default: the global reactor, found when first needed (a fresh interpreter: it cannot be
    restarted), with ``task.react`` and ``Context()``."""
    program = textwrap.dedent(
        """
        from twisted.internet import defer, task
        import zloop
        from zloop.adapters.twisted import Context

        async def main(reactor):
            ctx = Context()
            rep, req = ctx.socket(zloop.REP), ctx.socket(zloop.REQ)
            rep.bind("tcp://127.0.0.1:*")
            req.connect(rep.last_endpoint.decode())
            rep.on_recv(lambda msg: rep.send_multipart([msg[0] + b" pong"]))
            await req.send_string("ping")
            print(await req.recv_string())
            ctx.destroy(linger=0)

        task.react(lambda reactor: defer.Deferred.fromCoroutine(main(reactor)))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=30
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ping pong"
