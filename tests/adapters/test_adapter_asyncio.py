"""asyncio-specific behaviour of zloop.adapters.asyncio (the shared scenarios are in the conformance suite)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from zl_testing import DEADLINE, DEADLINE_MS

import zloop
from zloop.adapters.asyncio import Context, Poller, Socket


def _pair(context: Any, a_type: int, b_type: int, name: str) -> tuple[Any, Any]:
    a, b = context.socket(a_type), context.socket(b_type)
    a.setsockopt(zloop.LINGER, 0)
    b.setsockopt(zloop.LINGER, 0)
    a.bind(f"inproc://{name}")
    b.connect(f"inproc://{name}")
    return a, b


def test_context_sockets_are_awaitable() -> None:
    async def main() -> list[bytes]:
        ctx = Context()
        try:
            pull, push = _pair(ctx, zloop.PULL, zloop.PUSH, "ctx-await")
            assert isinstance(pull, Socket)
            waiting = asyncio.ensure_future(pull.recv_multipart())
            await asyncio.sleep(0)
            await push.send_multipart([b"a", b"b"])
            await push.send_string("s")
            got = await asyncio.wait_for(waiting, DEADLINE)
            assert await pull.recv_string() == "s"
            return got
        finally:
            ctx.destroy(linger=0)

    assert asyncio.run(main()) == [b"a", b"b"]


@pytest.mark.interop
def test_from_socket_wraps_pyzmq_and_json_pyobj(zctx: Any) -> None:
    import zmq

    raw_pull, raw_push = _pair(zctx, zmq.PULL, zmq.PUSH, "pyzmq-wrap")

    async def main() -> tuple[Any, Any]:
        pull, push = Socket.from_socket(raw_pull), Socket.from_socket(raw_push)
        await push.send_json({"k": 1})
        await push.send_pyobj((1, 2))
        return await pull.recv_json(), await pull.recv_pyobj()

    assert asyncio.run(main()) == ({"k": 1}, (1, 2))


async def _awaiting(awaitable: Any) -> Any:
    return await awaitable


def test_same_tick_cancel_gives_the_message_back(ctx: zloop.Context) -> None:
    """#14: the Future completes and its awaiting task is cancelled in the same loop tick: the next
    recv gets the message, and the Future reports itself cancelled (it does not hold it too)."""
    raw_pull, raw_push = _pair(ctx, zloop.PULL, zloop.PUSH, "same-tick")

    async def main() -> tuple[bool, bool, Any]:
        pull = Socket.from_socket(raw_pull)
        fut = pull.recv_multipart()
        task = asyncio.ensure_future(_awaiting(fut))
        await asyncio.sleep(0)  # task now waits on the future
        watcher = pull._watcher
        assert watcher is not None and watcher.waiting() == 1
        raw_push.send_multipart([b"x", b"y"])
        watcher.refresh()  # completes the future: the task is scheduled, not yet resumed
        task.cancel()  # ... and cancelled before it runs
        try:
            await task
            cancelled = False
        except asyncio.CancelledError:
            cancelled = True
        return cancelled, fut.cancelled(), await asyncio.wait_for(pull.recv_multipart(), DEADLINE)

    assert asyncio.run(main()) == (True, True, [b"x", b"y"])


def test_rcvtimeo_raises_again_and_keeps_later_messages(ctx: zloop.Context) -> None:
    raw_pull, raw_push = _pair(ctx, zloop.PULL, zloop.PUSH, "rcvtimeo")
    raw_pull.setsockopt(zloop.RCVTIMEO, 20)

    async def main() -> bytes:
        pull = Socket.from_socket(raw_pull)
        with pytest.raises(zloop.Again):
            await pull.recv()
        raw_push.send(b"later")
        raw_pull.setsockopt(zloop.RCVTIMEO, -1)
        return await asyncio.wait_for(pull.recv(), DEADLINE)

    assert asyncio.run(main()) == b"later"


def test_noblock_raises_again(ctx: zloop.Context) -> None:
    raw_pull, _ = _pair(ctx, zloop.PULL, zloop.PUSH, "noblock")

    async def main() -> None:
        with pytest.raises(zloop.Again):
            await Socket.from_socket(raw_pull).recv(zloop.NOBLOCK)

    asyncio.run(main())


def test_poll_timeout_and_poller_with_plain_fd(ctx: zloop.Context) -> None:
    import socket as pysocket

    raw_pull, raw_push = _pair(ctx, zloop.PULL, zloop.PUSH, "poller")
    left, right = pysocket.socketpair()

    async def main() -> tuple[Any, Any, Any]:
        pull = Socket.from_socket(raw_pull)
        assert await pull.poll(timeout=10) == 0
        poller = Poller()
        poller.register(pull, zloop.POLLIN)
        poller.register(left, zloop.POLLIN)
        assert await poller.poll(timeout=10) == []
        loop = asyncio.get_running_loop()
        loop.call_soon(right.send, b"!")
        first = await poller.poll(timeout=int(DEADLINE * 1000))
        left.recv(1)
        loop.call_soon(raw_push.send, b"m")
        second = await poller.poll(timeout=int(DEADLINE * 1000))
        return first, second, await pull.recv()

    try:
        first, second, msg = asyncio.run(main())
    finally:
        left.close()
        right.close()
    assert first == [(left, zloop.POLLIN)]
    assert [(s.socket, ev) for s, ev in second] == [(raw_pull, zloop.POLLIN)]
    assert msg == b"m"


def test_async_for_yields_multipart_messages(ctx: zloop.Context) -> None:
    raw_pull, raw_push = _pair(ctx, zloop.PULL, zloop.PUSH, "aiter")
    for i in range(3):
        raw_push.send_multipart([b"m", b"%d" % i])

    async def main() -> list[list[bytes]]:
        got = []
        async for msg in Socket.from_socket(raw_pull):
            got.append(msg)
            if len(got) == 3:
                break
        return got

    assert asyncio.run(main()) == [[b"m", b"%d" % i] for i in range(3)]


def test_loop_without_add_reader_is_refused_clearly(ctx: zloop.Context) -> None:
    """#17: a loop lacking add_reader (like Windows' Proactor) gets a clear RuntimeError."""

    class NoReaderLoop(asyncio.BaseEventLoop):
        pass

    from zloop.adapters.asyncio import _Backend

    loop = NoReaderLoop()
    try:
        with pytest.raises(RuntimeError, match="add_reader"):
            _Backend(loop)
    finally:
        loop.close()


def test_import_does_not_pull_other_loops() -> None:
    import subprocess
    import sys

    code = (
        "import sys, zloop.adapters, zloop.adapters.asyncio, zloop.adapters.selectors;"
        "bad=[m for m in ('trio','gevent','tornado') if m in sys.modules];"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=DEADLINE * 6)


def test_timer_racing_completion_keeps_the_message(ctx: zloop.Context) -> None:
    """RCVTIMEO's timer fires after the core completed the Future in the same tick: the Future
    keeps its message (the timer only fails a still-queued operation)."""
    from zloop.adapters.asyncio import _expire

    raw_pull, raw_push = _pair(ctx, zloop.PULL, zloop.PUSH, "timer-race")
    raw_pull.setsockopt(zloop.RCVTIMEO, DEADLINE_MS)

    async def main() -> Any:
        pull = Socket.from_socket(raw_pull)
        fut = pull.recv()
        assert not fut.done()
        raw_push.send(b"first")
        watcher = pull._watcher
        assert watcher is not None
        watcher.refresh()
        _expire(fut, zloop.Again)  # type: ignore[arg-type]
        return await fut

    assert asyncio.run(main()) == b"first"


@pytest.mark.interop
def test_recv_into_given_back_when_its_awaiting_task_is_cancelled(zctx: Any) -> None:
    """recv_into (on a pyzmq socket, which has it) in the cancellation race: the frame written into
    the buffer goes back to the socket; the next recv_into or recv gets it."""
    import zmq

    raw_pull, raw_push = _pair(zctx, zmq.PULL, zmq.PUSH, "recv-into-race")

    async def main() -> tuple[bool, int, bytes, bytes]:
        pull = Socket.from_socket(raw_pull)
        fut = pull.recv_into(bytearray(16))
        task = asyncio.ensure_future(_awaiting(fut))
        await asyncio.sleep(0)
        raw_push.send(b"12345", zmq.SNDMORE)
        raw_push.send(b"tail")
        watcher = pull._watcher
        assert watcher is not None
        watcher.refresh()
        assert fut.done()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        again = bytearray(3)
        size = await asyncio.wait_for(pull.recv_into(again), DEADLINE)
        tail = await asyncio.wait_for(pull.recv(), DEADLINE)
        return fut.cancelled(), size, bytes(again), tail

    assert asyncio.run(main()) == (True, 5, b"123", b"tail")
