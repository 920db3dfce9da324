"""A queued asyncio Future and its core ``Pending`` form no reference cycle (adapters/_core.py,
``release_waiters``): what a receive returned is freed as soon as the application drops it, with
the cyclic garbage collector switched off -- also for cancelled and timed-out receives, send
futures and poll futures.

A large message kept alive until the next ``gc`` run is memory churn and page faults per message
(issue 13); these tests hold weak references (or reference counts) and never call ``gc.collect``.
"""

from __future__ import annotations

import asyncio
import sys
import weakref
from typing import Any

import pytest
from zl_testing import DEADLINE

import zloop
from zloop.adapters.asyncio import Context, Socket

BIG = 1 << 20


# Only reference counting frees anything while a test runs (the fixture is in conftest.py).
pytestmark = pytest.mark.usefixtures("no_cyclic_gc")


def _pair(ctx: Context, name: str) -> tuple[Socket, Socket]:
    pull, push = ctx.socket(zloop.PULL), ctx.socket(zloop.PUSH)
    for s in (pull, push):
        s.setsockopt(zloop.LINGER, 0)
    pull.bind(f"inproc://{name}")
    push.connect(f"inproc://{name}")
    return pull, push


async def _next_turn() -> None:
    """The loop's handle that resumed this task holds the awaited Future until the task yields."""
    await asyncio.sleep(0)


def _run(main: Any) -> None:
    async def bounded() -> None:
        await asyncio.wait_for(main(), DEADLINE)

    asyncio.run(bounded())


def test_received_frame_dies_with_its_future() -> None:
    async def main() -> None:
        ctx = Context()
        try:
            pull, push = _pair(ctx, "rel-frame")
            fut = pull.recv(copy=False)
            assert not fut.done()  # queued: the core completes it
            await push.send(b"x" * BIG)
            frame = await fut
            assert len(frame.bytes) == BIG
            frame_ref, fut_ref = weakref.ref(frame), weakref.ref(fut)
            del frame, fut
            await _next_turn()
            assert fut_ref() is None
            assert frame_ref() is None
        finally:
            ctx.destroy(linger=0)

    _run(main)


@pytest.mark.parametrize("multipart", [False, True])
def test_received_bytes_held_only_by_the_application(multipart: bool) -> None:
    async def main() -> None:
        ctx = Context()
        try:
            pull, push = _pair(ctx, f"rel-bytes-{multipart}")
            fut: Any = pull.recv_multipart() if multipart else pull.recv()
            await push.send_multipart([b"h", b"y" * BIG] if multipart else [b"y" * BIG])
            got = await fut
            data = got[-1] if multipart else got
            fut_ref = weakref.ref(fut)
            del fut, got
            await _next_turn()
            assert fut_ref() is None
            assert len(data) == BIG
            assert sys.getrefcount(data) == 2  # ``data`` and getrefcount's argument
        finally:
            ctx.destroy(linger=0)

    _run(main)


def test_a_stream_of_large_messages_is_freed_as_it_goes() -> None:
    async def main() -> None:
        ctx = Context()
        try:
            pull, push = _pair(ctx, "rel-stream")
            refs: list[weakref.ref[Any]] = []
            for _ in range(8):
                fut = pull.recv(copy=False)
                await push.send(b"z" * BIG)
                frame = await fut
                refs.append(weakref.ref(frame))
                del frame, fut
                await _next_turn()
            assert all(r() is None for r in refs)
        finally:
            ctx.destroy(linger=0)

    _run(main)


def test_cancelled_receive_is_freed() -> None:
    async def main() -> None:
        ctx = Context()
        try:
            pull, push = _pair(ctx, "rel-cancel")
            fut = pull.recv()
            fut.cancel()
            await asyncio.sleep(0)
            ref = weakref.ref(fut)
            del fut
            await _next_turn()
            assert ref() is None
            # A task cancelled while it awaits: same thing.
            task = asyncio.ensure_future(pull.recv())
            await asyncio.sleep(0)
            inner = next(iter(pull._watcher._recvq)).waiter  # type: ignore[union-attr]
            inner_ref = weakref.ref(inner)
            del inner
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            del task
            await _next_turn()
            assert inner_ref() is None
            await push.send(b"after")
            assert await pull.recv() == b"after"
        finally:
            ctx.destroy(linger=0)

    _run(main)


def test_receive_cancelled_after_completion_gives_back_and_is_freed() -> None:
    """The reclaim window: the Future completed, its task is cancelled before it resumed."""

    async def main() -> None:
        ctx = Context()
        try:
            pull, push = _pair(ctx, "rel-reclaim")
            refs: list[weakref.ref[Any]] = []

            async def consumer() -> Any:
                fut = pull.recv()
                refs.append(weakref.ref(fut))
                return await fut

            task = asyncio.ensure_future(consumer())
            await asyncio.sleep(0)
            await push.send(b"w" * BIG)
            watcher = pull._watcher
            assert watcher is not None
            watcher.refresh()  # completes the Future; the task has not resumed yet
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            del task
            await _next_turn()
            assert refs[0]() is None
            again = await pull.recv()  # the message was given back whole
            assert len(again) == BIG
            assert sys.getrefcount(again) == 2
        finally:
            ctx.destroy(linger=0)

    _run(main)


def test_timed_out_receive_is_freed() -> None:
    async def main() -> None:
        ctx = Context()
        try:
            pull, _push = _pair(ctx, "rel-timeout")
            pull.setsockopt(zloop.RCVTIMEO, 1)
            fut = pull.recv()
            # Waited for without raising: a raised exception's traceback would hold the Future.
            await asyncio.wait([fut])
            assert isinstance(fut.exception(), zloop.Again)
            ref = weakref.ref(fut)
            del fut
            await _next_turn()
            assert ref() is None
        finally:
            ctx.destroy(linger=0)

    _run(main)


def test_send_future_is_freed() -> None:
    async def main() -> None:
        ctx = Context()
        try:
            push = ctx.socket(zloop.PUSH)
            push.setsockopt(zloop.LINGER, 0)
            payload = b"s" * BIG
            fut = push.send(payload)
            assert not fut.done()  # no peer yet
            cancelled = push.send(b"never")
            cancelled.cancel()
            pull = ctx.socket(zloop.PULL)
            pull.setsockopt(zloop.LINGER, 0)
            pull.bind("inproc://rel-send")
            push.connect("inproc://rel-send")
            await fut
            refs = [weakref.ref(fut), weakref.ref(cancelled)]
            del fut, cancelled
            await _next_turn()
            assert all(r() is None for r in refs)
            got = await pull.recv()
            assert got == payload
        finally:
            ctx.destroy(linger=0)

    _run(main)


def test_poll_futures_are_freed() -> None:
    async def main() -> None:
        ctx = Context()
        try:
            pull, push = _pair(ctx, "rel-poll")
            fut = pull.poll()
            await push.send(b"p")
            assert await fut == zloop.POLLIN
            expired = pull.poll(timeout=1, flags=zloop.POLLOUT)  # a PULL never can send
            assert await expired == 0
            refs = [weakref.ref(fut), weakref.ref(expired)]
            del fut, expired
            await _next_turn()
            assert all(r() is None for r in refs)
            assert await pull.recv() == b"p"
        finally:
            ctx.destroy(linger=0)

    _run(main)


def test_close_cancels_and_frees() -> None:
    async def main() -> None:
        ctx = Context()
        try:
            pull, _push = _pair(ctx, "rel-close")
            futs = [pull.recv(), pull.poll()]
            refs = [weakref.ref(f) for f in futs]
            pull.close()
            assert all(f.cancelled() for f in futs)
            del futs
            await _next_turn()
            assert all(r() is None for r in refs)
        finally:
            ctx.destroy(linger=0)

    _run(main)
