"""A receive's Future completed with a large result lets go of it once the only task awaiting it
took it (adapters/asyncio.py, ``_LargeResultFuture``), and keeps it for anyone else who holds it.

asyncio's wake-up of the task holds the Future until the task's step ends; a task receiving in a
loop takes its next message within that step, so a Future that kept the previous megabyte made
two copies alive at once, and the allocator's heap trim then cost page faults per message
(issue 13). These tests check that the awaiting task is the result's only holder, and that every
other way to reach the Future (a variable, gather, wait_for, shield, a done callback, the
cancellation window of pyzmq #1925) still sees the whole message.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from typing import Any

import pytest
from zl_testing import DEADLINE

import zloop
from zloop.adapters.asyncio import _HANDS_OVER, Context, Socket

BIG = 1 << 20


# Only reference counting frees anything while a test runs (the fixture is in conftest.py).
pytestmark = pytest.mark.usefixtures("no_cyclic_gc")


def _pair(ctx: Context, endpoint: str) -> tuple[Socket, Socket]:
    pull, push = ctx.socket(zloop.PULL), ctx.socket(zloop.PUSH)
    for s in (pull, push):
        s.setsockopt(zloop.LINGER, 0)
    pull.bind(endpoint)
    push.connect(pull.last_endpoint.decode())
    return pull, push


def _run(main: Callable[[Context], Any]) -> Any:
    async def bounded() -> Any:
        ctx = Context()
        try:
            return await asyncio.wait_for(main(ctx), DEADLINE)
        finally:
            ctx.destroy(linger=0)

    return asyncio.run(bounded())


def _send_soon(push: Socket, frames: list[bytes]) -> None:
    """Send once the calling task waits (its receive is then queued, not done at the call)."""
    asyncio.get_running_loop().call_soon(push.send_multipart, frames)


def test_the_awaiting_task_is_the_only_holder_of_a_large_result() -> None:
    payload = os.urandom(BIG)

    async def main(ctx: Context) -> None:
        pull, push = _pair(ctx, "tcp://127.0.0.1:*")  # inproc would hand over payload itself
        _send_soon(push, [payload])
        data = await pull.recv()
        assert data == payload
        if _HANDS_OVER:  # where zloop trusts reference counts (adapters/asyncio.py)
            # Still in the step the Future's wake-up runs: only this variable holds the bytes.
            assert sys.getrefcount(data) == 2
        _send_soon(push, [payload, b"tail"])
        parts = await pull.recv_multipart()
        assert parts == [payload, b"tail"]
        if _HANDS_OVER:
            assert sys.getrefcount(parts) == 2

    _run(main)


def test_a_future_held_by_the_program_keeps_its_large_result() -> None:
    payload = os.urandom(BIG)

    async def main(ctx: Context) -> None:
        pull, push = _pair(ctx, "inproc://large-held")
        fut = pull.recv()
        assert not fut.done()
        _send_soon(push, [payload])
        data = await fut
        assert data == payload
        assert fut.result() is data
        del data
        await asyncio.sleep(0)
        assert fut.result() == payload
        futs = [pull.recv_multipart()]
        _send_soon(push, [b"head", payload])
        assert await futs[0] == [b"head", payload]
        assert futs[0].result() == [b"head", payload]

    _run(main)


def test_a_future_completed_before_it_is_awaited_keeps_its_large_result() -> None:
    """Awaited after it completed, the Future does not wake the task (no hand-over): the program's
    variable may ask it again."""
    payload = os.urandom(BIG)

    async def main(ctx: Context) -> None:
        pull, push = _pair(ctx, "tcp://127.0.0.1:*")
        fut = pull.recv()
        assert not fut.done()
        await push.send(payload)
        while not fut.done():  # loop turns, not a time: the receive completes in one of them
            await asyncio.sleep(0)
        assert await fut == payload
        assert fut.result() == payload

    _run(main)


def test_only_asyncio_own_wake_up_lets_a_future_hand_over() -> None:
    """The reference count the hand-over relies on is that of asyncio's own Handle: a loop that
    schedules callbacks its own way (uvloop, a custom call_soon) never hands over."""
    from zloop.adapters.asyncio import _Backend

    class OwnCallSoon(asyncio.SelectorEventLoop):
        def call_soon(self, callback: Any, *args: Any, context: Any = None) -> Any:
            return super().call_soon(callback, *args, context=context)

    for loop_class, expected in ((asyncio.SelectorEventLoop, True), (OwnCallSoon, False)):
        loop = loop_class()
        try:
            assert _Backend(loop).hands_over is expected
        finally:
            loop.close()

    payload = os.urandom(BIG)

    async def main() -> None:
        ctx = Context()
        try:
            pull, push = _pair(ctx, "tcp://127.0.0.1:*")
            fut = pull.recv()
            _send_soon(push, [payload])
            assert await fut == payload
            assert fut.result() == payload
            _send_soon(push, [payload])
            assert await asyncio.wait_for(pull.recv(), DEADLINE) == payload
        finally:
            ctx.destroy(linger=0)

    loop = OwnCallSoon()
    try:
        loop.run_until_complete(main())
    finally:
        loop.close()


@pytest.mark.parametrize("way", ["gather", "wait_for", "shield", "task", "callback"])
def test_other_consumers_see_the_whole_large_result(way: str) -> None:
    payload = os.urandom(BIG)

    async def main(ctx: Context) -> None:
        pull, push = _pair(ctx, f"inproc://large-{way}")
        _send_soon(push, [payload])
        if way == "gather":
            assert await asyncio.gather(pull.recv()) == [payload]
        elif way == "wait_for":
            assert await asyncio.wait_for(pull.recv(), DEADLINE) == payload
        elif way == "shield":
            assert await asyncio.shield(pull.recv()) == payload
        elif way == "task":
            assert await asyncio.ensure_future(pull.recv()) == payload
        else:
            seen: list[bytes] = []
            fut = pull.recv()
            fut.add_done_callback(lambda f: seen.append(f.result()))
            assert await fut == payload
            await asyncio.sleep(0)
            assert seen == [payload]
            assert fut.result() == payload

    _run(main)


def test_large_result_goes_back_when_its_task_is_cancelled_after_completion() -> None:
    """pyzmq #1925's window with a large message: the task is cancelled after its Future completed
    and before it resumed; the message goes back to the socket whole."""
    payload = os.urandom(BIG)

    async def main(ctx: Context) -> None:
        pull, push = _pair(ctx, "inproc://large-cancelled")

        async def take() -> bytes:
            return await pull.recv()

        task = asyncio.ensure_future(take())
        await asyncio.sleep(0)  # the task's receive is queued
        await push.send(payload)
        watcher = pull._watcher
        assert watcher is not None
        watcher.refresh()  # completes the queued Future now, before the task resumes
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await pull.recv() == payload

    _run(main)


@pytest.mark.parametrize("transport", ["tcp", "ipc"])
def test_a_stream_of_large_messages_keeps_every_content(transport: str, tmp_path: Any) -> None:
    sizes = [BIG, 65536, 700_000, BIG, 200_000, BIG] * 4
    payloads = [os.urandom(size) for size in sizes]
    endpoint = "tcp://127.0.0.1:*" if transport == "tcp" else f"ipc://{tmp_path}/large.ipc"

    async def main(ctx: Context) -> None:
        pull, push = _pair(ctx, endpoint)

        async def send_all() -> None:
            for index, payload in enumerate(payloads):
                if index % 3 == 2:
                    await push.send_multipart([payload, b"%d" % index])
                else:
                    await push.send(payload)

        sender = asyncio.ensure_future(send_all())
        for index, payload in enumerate(payloads):
            if index % 3 == 2:
                assert await pull.recv_multipart() == [payload, b"%d" % index]
            else:
                assert await pull.recv() == payload
        await sender

    _run(main)
