"""asyncio-specific behaviour of zloop.adapters.asyncio (the shared scenarios are in the conformance suite)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from zl_testing import DEADLINE
from zloop.adapters.asyncio import Context, Poller, Socket

import zloop


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


def test_same_tick_cancel_gives_the_message_back(ctx: zloop.Context) -> None:
    """#14: completion and cancellation in one loop tick: the next recv gets the message."""
    raw_pull, raw_push = _pair(ctx, zloop.PULL, zloop.PUSH, "same-tick")

    async def main() -> tuple[bool, Any]:
        pull = Socket.from_socket(raw_pull)
        task = asyncio.ensure_future(pull.recv_multipart())
        await asyncio.sleep(0)  # task now waits on its future
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
        return cancelled, await asyncio.wait_for(pull.recv_multipart(), DEADLINE)

    assert asyncio.run(main()) == (True, [b"x", b"y"])


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


def test_close_fails_pending_waiters(ctx: zloop.Context) -> None:
    raw_pull, _ = _pair(ctx, zloop.PULL, zloop.PUSH, "close")

    async def main() -> None:
        pull = Socket.from_socket(raw_pull)
        task = asyncio.ensure_future(pull.recv())
        await asyncio.sleep(0)
        pull.close(linger=0)
        with pytest.raises(zloop.ZMQError) as info:
            await asyncio.wait_for(task, DEADLINE)
        assert info.value.errno == zloop.ENOTSOCK
        assert raw_pull.closed

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
