"""anyio idioms on zloop.adapters.anyio, on both of anyio's backends, for zloop and pyzmq sockets.

Task groups sharing a socket; cancel scopes (``move_on_after``, ``fail_after``, ``cancel()``) that
take nothing; every call a checkpoint; ``pump`` into a memory object stream (nothing lost when the
stream's reader goes away or the pump is cancelled while the stream is full); ``Poller`` over
sockets and plain fds; ``RCVTIMEO``; ``close`` waking waiting tasks; the missing-extra message.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from drivers_extra import FLAVOURS, sync_pair

import zloop

anyio = pytest.importorskip("anyio")

from zloop.adapters import anyio as zanyio  # noqa: E402

BACKENDS = [pytest.param("asyncio", id="asyncio"), pytest.param("trio", id="trio")]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def wrap_pair(flavour: str, ctx: Any, zctx: Any, bind_type: int, connect_type: int) -> Any:
    a, b = sync_pair(flavour, ctx, zctx, bind_type, connect_type)
    return zanyio.Socket.from_socket(a), zanyio.Socket.from_socket(b)


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_task_group_shares_one_socket(backend: str, flavour: str, ctx: Any, zctx: Any) -> None:
    """20 tasks send and 20 receive on one DEALER; a ROUTER echoes: each message exactly once."""
    senders, per_sender = 20, 50
    total = senders * per_sender

    async def main() -> list[bytes]:
        router, dealer = wrap_pair(flavour, ctx, zctx, zloop.ROUTER, zloop.DEALER)
        received: list[bytes] = []

        async def echo() -> None:
            for _ in range(total):
                await router.send_multipart(await router.recv_multipart())

        async def sender(s: int) -> None:
            for i in range(per_sender):
                await dealer.send(b"%d:%d" % (s, i))

        async def receiver() -> None:
            for _ in range(per_sender):
                received.append(await dealer.recv())

        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                tg.start_soon(echo)
                for s in range(senders):
                    tg.start_soon(sender, s)
                    tg.start_soon(receiver)
        router._release()
        dealer._release()
        return received

    received = anyio.run(main, backend=backend)
    assert sorted(received) == sorted(b"%d:%d" % (s, i) for s in range(20) for i in range(50))


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_cancel_scopes_take_nothing(backend: str, flavour: str, ctx: Any, zctx: Any) -> None:
    """move_on_after, fail_after and an explicit cancel() around a waiting recv / recv_multipart /
    send_multipart at HWM: each is cancelled, and the next call sees every message whole."""

    async def main() -> list[Any]:
        a, b = sync_pair(flavour, ctx, zctx, zloop.PAIR, zloop.PAIR)
        pa, pb = zanyio.Socket.from_socket(a), zanyio.Socket.from_socket(b)
        trace: list[Any] = []
        with anyio.move_on_after(0.05) as scope:
            await pa.recv()
        trace.append(scope.cancelled_caught)
        with pytest.raises(TimeoutError), anyio.fail_after(0.05):
            await pa.recv_multipart()
        async with anyio.create_task_group() as tg:
            with anyio.CancelScope() as scope:
                tg.start_soon(lambda: _cancel_soon(scope))
                await pa.recv()
        trace.append(scope.cancelled_caught)
        # fill b's pipe, then a send_multipart that must wait, cancelled: all or nothing
        while await pb.poll(0, zloop.POLLOUT):
            await pb.send_multipart([b"fill"])
        with anyio.move_on_after(0.05) as scope:
            await pb.send_multipart([b"x", b"y", b"z"])
        trace.append(scope.cancelled_caught)
        async with anyio.create_task_group() as tg:
            tg.start_soon(pb.send_multipart, [b"last", b"one"])  # waits for room: read meanwhile
            while True:
                msg = await pa.recv_multipart()
                trace.append(msg)
                if msg == [b"last", b"one"]:
                    break
        pa._release()
        pb._release()
        return trace

    trace = anyio.run(main, backend=backend)
    assert trace[:3] == [True, True, True]
    assert [b"x", b"y", b"z"] not in trace
    assert trace[-1] == [b"last", b"one"] and all(m == [b"fill"] for m in trace[3:-1])


async def _cancel_soon(scope: Any) -> None:
    await anyio.sleep(0.01)
    scope.cancel()


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_cancelled_scope_is_honoured_even_when_a_message_is_ready(
    backend: str, flavour: str, ctx: Any, zctx: Any
) -> None:
    """Every call is a checkpoint: in a cancelled scope recv raises and takes nothing."""

    async def main() -> tuple[bool, bytes]:
        push, pull = wrap_pair(flavour, ctx, zctx, zloop.PUSH, zloop.PULL)
        await push.send(b"ready")
        assert await pull.poll(5000) == zloop.POLLIN
        with anyio.CancelScope() as scope:
            scope.cancel()
            await pull.recv()
        got = await pull.recv()
        push._release()
        pull._release()
        return scope.cancelled_caught, got

    assert anyio.run(main, backend=backend) == (True, b"ready")


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_pump_into_memory_object_stream(backend: str, flavour: str, ctx: Any, zctx: Any) -> None:
    """pump feeds a stream with room for 2; the reader closes after 5 messages: the pump ends and
    the message it held goes back to the socket, then everything else is still there, in order."""

    async def main() -> tuple[list[Any], int, list[Any]]:
        push, pull = wrap_pair(flavour, ctx, zctx, zloop.PUSH, zloop.PULL)
        for i in range(10):
            await push.send_multipart([b"m", b"%d" % i])
        send, receive = anyio.create_memory_object_stream[list[bytes]](2)
        delivered: list[int] = []
        seen: list[Any] = []

        async def run_pump() -> None:
            delivered.append(await zanyio.pump(pull, send))

        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(run_pump)
                async with receive:
                    for _ in range(5):
                        seen.append(await receive.receive())
            rest = [await pull.recv_multipart() for _ in range(10 - delivered[0])]
        push._release()
        pull._release()
        return seen, delivered[0], rest

    seen, delivered, rest = anyio.run(main, backend=backend)
    everything = [[b"m", b"%d" % i] for i in range(10)]
    assert seen == everything[:5]
    assert 5 <= delivered <= 7  # 5 read, up to 2 still buffered in the stream when it closed
    assert rest == everything[delivered:]


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_cancelled_pump_gives_the_held_message_back(
    backend: str, flavour: str, ctx: Any, zctx: Any
) -> None:
    """A pump blocked on a full stream (size 0, nobody reading) is cancelled: the message it had
    received goes back to the socket, and its stream is closed."""

    async def main() -> tuple[list[Any], bool]:
        push, pull = wrap_pair(flavour, ctx, zctx, zloop.PUSH, zloop.PULL)
        await push.send_multipart([b"held", b"message"])
        send, receive = anyio.create_memory_object_stream[list[bytes]](0)
        async with anyio.create_task_group() as tg:
            tg.start_soon(zanyio.pump, pull, send)
            await anyio.wait_all_tasks_blocked()
            tg.cancel_scope.cancel()
        closed = False
        try:
            receive.receive_nowait()
        except anyio.EndOfStream:
            closed = True
        got = [await pull.recv_multipart()]
        push._release()
        pull._release()
        return got, closed

    got, closed = anyio.run(main, backend=backend)
    assert got == [[b"held", b"message"]]
    assert closed


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_poller_sockets_and_fds(backend: str, flavour: str, ctx: Any, zctx: Any) -> None:
    async def main() -> list[Any]:
        push, pull = wrap_pair(flavour, ctx, zctx, zloop.PUSH, zloop.PULL)
        r, w = os.pipe()
        poller = zanyio.Poller()
        poller.register(pull, zloop.POLLIN)
        poller.register(r, zloop.POLLIN)
        trace: list[Any] = [await poller.poll(0)]

        async def later() -> None:
            await anyio.sleep(0.01)
            await push.send(b"x")

        async with anyio.create_task_group() as tg:
            tg.start_soon(later)
            trace.append([(s is pull, ev) for s, ev in await poller.poll(5000)])
        await pull.recv()
        os.write(w, b"!")
        trace.append([(s == r, ev) for s, ev in await poller.poll(5000)])
        os.read(r, 1)
        trace.append(await poller.poll(20))
        os.close(r)
        os.close(w)
        push._release()
        pull._release()
        return trace

    assert anyio.run(main, backend=backend) == [[], [(True, 1)], [(True, 1)], []]


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_rcvtimeo_and_close_wake_waiters(backend: str, flavour: str, ctx: Any, zctx: Any) -> None:
    async def main() -> list[Any]:
        a, _b = sync_pair(flavour, ctx, zctx, zloop.PAIR, zloop.PAIR)
        pa = zanyio.Socket.from_socket(a)
        a.rcvtimeo = 20
        trace: list[Any] = []
        try:
            await pa.recv()
        except Exception as exc:
            trace.append(type(exc).__name__)
        a.rcvtimeo = -1

        async def waiter() -> None:
            try:
                await pa.recv()
            except anyio.ClosedResourceError:
                trace.append("closed")

        async with anyio.create_task_group() as tg:
            for _ in range(3):
                tg.start_soon(waiter)
            await anyio.wait_all_tasks_blocked()
            pa.close(linger=0)
        return trace

    assert anyio.run(main, backend=backend) == ["Again", "closed", "closed", "closed"]


def test_async_for_and_conveniences(backend: str, ctx: Any) -> None:
    async def main() -> list[Any]:
        actx = zanyio.Context.shadow(ctx)
        pull, push = actx.socket(zloop.PULL), actx.socket(zloop.PUSH)
        pull.bind("inproc://anyio-iter")
        push.connect("inproc://anyio-iter")
        await push.send_json({"a": 1})
        await push.send_string("é")
        got: list[Any] = [await pull.recv_json(), await pull.recv_string()]
        await push.send_multipart([b"1", b"2"])
        async for msg in pull:
            got.append(msg)
            break
        push.close(linger=0)
        pull.close(linger=0)
        return got

    assert anyio.run(main, backend=backend) == [{"a": 1}, "é", [b"1", b"2"]]
