"""The awaitable API returns Futures, as pyzmq's: the same asyncio program on ``zmq.asyncio`` and on
``zloop.adapters.asyncio`` (and on ``zmq.eventloop.future`` and ``zloop.adapters.tornado``).

Every operation (``send*``, ``recv*``, ``poll``, the conveniences, ``Poller.poll``, the monitor
helper) returns a Future registered at the call: a message that arrives before anyone awaits goes to
the earliest pending receive; a Future cancelled before completion takes nothing; one completed and
never awaited keeps its message. Each test runs on both implementations (``api`` fixture; pyzmq is
real libzmq, marked ``interop``); where zloop deliberately differs the test says so and why (the
README's list of differences says it too).

Nothing sleeps: tests wait on Futures (``asyncio.wait`` with a deadline) or count loop turns with a
deadline (``_turns_until``) where the point is that nobody awaits the Future.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from zl_testing import DEADLINE, DEADLINE_MS

_names = itertools.count()


@dataclass(frozen=True)
class Api:
    """One implementation: its awaitable module, its constants/errors module, its monitor helper."""

    name: str
    aio: Any
    z: Any
    recv_monitor_message: Callable[..., Any]


def _zloop_api() -> Api:
    import zloop
    import zloop.adapters.asyncio as aio
    from zloop.monitor import recv_monitor_message

    return Api("zloop", aio, zloop, recv_monitor_message)


def _pyzmq_api() -> Api:
    import zmq
    import zmq.asyncio
    from zmq.utils.monitor import recv_monitor_message

    return Api("pyzmq", zmq.asyncio, zmq, recv_monitor_message)


@pytest.fixture(
    params=[
        pytest.param("zloop", id="zloop"),
        pytest.param("pyzmq", id="pyzmq", marks=pytest.mark.interop),
    ]
)
def api(request: pytest.FixtureRequest) -> Api:
    return _zloop_api() if request.param == "zloop" else _pyzmq_api()


def run(api: Api, body: Callable[[Any], Awaitable[Any]]) -> Any:
    """Run ``body(ctx)`` in a fresh loop with a Context of ``api`` (destroyed afterwards)."""

    async def main() -> Any:
        ctx = api.aio.Context()
        try:
            return await asyncio.wait_for(body(ctx), DEADLINE * 2)
        finally:
            ctx.destroy(linger=0)

    return asyncio.run(main())


def pair(api: Api, ctx: Any, bind_type: int, connect_type: int) -> tuple[Any, Any]:
    """Two connected awaitable sockets of ``ctx`` over inproc (LINGER 0)."""
    a, b = ctx.socket(bind_type), ctx.socket(connect_type)
    a.linger = b.linger = 0
    name = f"inproc://futures-{next(_names)}"
    a.bind(name)
    b.connect(name)
    return a, b


async def settled(*futures: Any) -> None:
    """Wait (with a deadline) until every one of ``futures`` is done."""
    _, pending = await asyncio.wait(futures, timeout=DEADLINE)
    assert not pending, f"not done within the deadline: {pending}"


async def _turns_until(predicate: Callable[[], bool]) -> None:
    """Let the loop run, one turn at a time, until ``predicate()`` (nothing is awaited meanwhile)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE
    while not predicate():
        assert loop.time() < deadline, "condition not reached within the deadline"
        await asyncio.sleep(0)


async def _awaiting(awaitable: Any) -> Any:
    return await awaitable


# -- what the calls return ----------------------------------------------------------------------------


def test_every_operation_returns_a_future(api: Api) -> None:
    z = api.z

    async def body(ctx: Any) -> None:
        pull, push = pair(api, ctx, z.PULL, z.PUSH)
        poller = api.aio.Poller()
        poller.register(pull, z.POLLIN)
        pending = [
            pull.recv(),
            pull.recv_multipart(),
            pull.recv_string(),
            pull.recv_json(),
            pull.recv_pyobj(),
            pull.recv_serialized(lambda frames: frames),
            pull.poll(),
            poller.poll(),
        ]
        sent = [
            push.send(b"a"),
            push.send_multipart([b"b"]),
            push.send_string("c"),
            push.send_json({}),
            push.send_pyobj(None),
            push.send_serialized([b"f"], lambda m: m),
        ]
        for fut in pending + sent:
            assert isinstance(fut, asyncio.Future), type(fut)
        await settled(*sent, *pending[:6])
        assert [f.result() for f in pending[:6]] == [b"a", [b"b"], "c", {}, None, [b"f"]]
        await push.send(b"for the polls")
        await settled(*pending[6:])

    run(api, body)


# -- registered at the call ---------------------------------------------------------------------------


def test_a_recv_is_registered_at_the_call(api: Api) -> None:
    """A message sent after ``f = recv()`` but before anyone awaits ``f`` is ``f``'s."""
    z = api.z

    async def body(ctx: Any) -> tuple[Any, Any]:
        pull, push = pair(api, ctx, z.PULL, z.PUSH)
        first = pull.recv()
        assert not first.done()
        await push.send(b"a")
        await push.send(b"b")
        second = pull.recv()
        return await second, await first  # awaited in the other order

    assert run(api, body) == (b"b", b"a")


def test_pending_recvs_get_messages_in_call_order(api: Api) -> None:
    z = api.z

    async def body(ctx: Any) -> list[Any]:
        pull, push = pair(api, ctx, z.PULL, z.PUSH)
        futures = [pull.recv_multipart() for _ in range(3)]
        for i in range(3):
            await push.send_multipart([b"m", b"%d" % i])
        return [await futures[2], await futures[0], await futures[1]]

    assert run(api, body) == [[b"m", b"2"], [b"m", b"0"], [b"m", b"1"]]


def test_a_completed_future_never_awaited_keeps_its_message(api: Api) -> None:
    z = api.z

    async def body(ctx: Any) -> tuple[Any, bool, Any]:
        pull, push = pair(api, ctx, z.PULL, z.PUSH)
        kept = pull.recv()
        await push.send(b"kept")
        await push.send(b"next")
        nxt = await pull.recv()  # FIFO: ``kept`` completed first, though nobody awaited it
        return nxt, kept.cancel(), kept.result()

    assert run(api, body) == (b"next", False, b"kept")


# -- cancellation -------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["recv", "recv_multipart", "recv_string", "recv_json"])
def test_a_future_cancelled_before_completion_takes_nothing(api: Api, method: str) -> None:
    """Deliberate difference for pyzmq's decoding conveniences (recv_string, recv_json ...): their
    Future is chained to an inner recv that is cancelled one loop turn later, so a message that
    arrives in between is taken and dropped (pyzmq warns "A message has been dropped!"). zloop's
    conveniences are one queued receive: cancelled at once, they take nothing."""
    z = api.z

    async def body(ctx: Any) -> tuple[bool, Any]:
        pull, push = pair(api, ctx, z.PULL, z.PUSH)
        fut = getattr(pull, method)()
        assert fut.cancel()
        await push.send(b'"after"')
        pull.rcvtimeo = 50
        try:
            nxt = await pull.recv()
        except z.Again:
            nxt = None
        return fut.cancelled(), nxt

    pyzmq_drops = api.name == "pyzmq" and method in ("recv_string", "recv_json")
    if pyzmq_drops:
        with pytest.warns(RuntimeWarning, match="message has been dropped"):
            assert run(api, body) == (True, None)
    else:
        assert run(api, body) == (True, b'"after"')


def test_a_task_cancelled_while_awaiting_cancels_the_future(api: Api) -> None:
    z = api.z

    async def body(ctx: Any) -> tuple[bool, Any]:
        pull, push = pair(api, ctx, z.PULL, z.PUSH)
        fut = pull.recv_multipart()
        task = asyncio.ensure_future(_awaiting(fut))
        await _turns_until(lambda: bool(task._fut_waiter is fut))  # type: ignore[attr-defined]
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await push.send_multipart([b"x", b"y"])
        return fut.cancelled(), await pull.recv_multipart()

    assert run(api, body) == (True, [b"x", b"y"])


@pytest.mark.parametrize("method", ["recv", "recv_multipart", "recv_string", "recv_json"])
def test_cancellation_racing_completion(api: Api, method: str) -> None:
    """docs/pitfalls.md §1 #14 / pyzmq #1925: the Future completes and the task awaiting it is cancelled
    before it resumed (what ``asyncio.timeout`` or a TaskGroup does when both land in one turn).

    Deliberate difference: pyzmq leaves the message in the Future, which nobody reads (the next
    recv does not get it: lost to the program). zloop gives it back to the socket, the next recv
    gets it, and the Future reports itself cancelled (so the message is delivered once).
    """
    z = api.z

    async def body(ctx: Any) -> tuple[bool, Any, Any]:
        pull, push = pair(api, ctx, z.PULL, z.PUSH)
        fut = getattr(pull, method)()
        task = asyncio.ensure_future(_awaiting(fut))
        await _turns_until(lambda: bool(task._fut_waiter is fut))  # type: ignore[attr-defined]
        await push.send(b'"raced"')
        # The completion and the task's wake-up are loop callbacks; this task checks between them.
        await _turns_until(fut.done)
        assert not task.done()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        held = None if fut.cancelled() else fut.result()
        pull.rcvtimeo = 50
        try:
            nxt = await pull.recv()
        except z.Again:
            nxt = None
        return fut.cancelled(), held, nxt

    cancelled, held, nxt = run(api, body)
    if api.name == "zloop":
        assert (cancelled, held, nxt) == (True, None, b'"raced"')
    else:
        assert not cancelled and held is not None and nxt is None


def test_a_future_with_other_consumers_keeps_its_message(api: Api) -> None:
    """The task awaiting it is cancelled after completion, but ``gather`` also consumes it: the
    Future keeps its message for that consumer, on zloop as on pyzmq."""
    z = api.z

    async def body(ctx: Any) -> tuple[Any, Any, Any]:
        pull, push = pair(api, ctx, z.PULL, z.PUSH)
        fut = pull.recv()
        gathered = asyncio.gather(fut)
        task = asyncio.ensure_future(_awaiting(fut))
        await _turns_until(lambda: bool(task._fut_waiter is fut))  # type: ignore[attr-defined]
        await push.send(b"shared")
        await _turns_until(fut.done)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        pull.rcvtimeo = 50
        try:
            nxt = await pull.recv()
        except z.Again:
            nxt = None
        return fut.result(), await gathered, nxt

    assert run(api, body) == (b"shared", [b"shared"], None)


# -- composing with asyncio -----------------------------------------------------------------------------


def test_wait_gather_and_done_callbacks(api: Api) -> None:
    z = api.z

    async def body(ctx: Any) -> tuple[Any, ...]:
        pull, push = pair(api, ctx, z.PULL, z.PUSH)
        never = asyncio.ensure_future(asyncio.Event().wait())
        recv = pull.recv()
        await push.send(b"w")
        done, _ = await asyncio.wait(
            [recv, never], timeout=DEADLINE, return_when=asyncio.FIRST_COMPLETED
        )
        never.cancel()
        both = asyncio.gather(pull.recv(), pull.recv())
        await push.send(b"g1")
        await push.send(b"g2")
        seen: list[Any] = []
        last = pull.recv()
        last.add_done_callback(seen.append)
        await push.send(b"cb")
        got = await last
        return done == {recv}, recv.result(), await both, got, seen == [last]

    assert run(api, body) == (True, b"w", [b"g1", b"g2"], b"cb", True)


def test_recv_multipart_copy_false_gives_frames(api: Api) -> None:
    z = api.z

    async def body(ctx: Any) -> list[Any]:
        pull, push = pair(api, ctx, z.PULL, z.PUSH)
        fut = pull.recv_multipart(copy=False)
        await push.send_multipart([b"f", b"rames"])
        frames = await fut
        assert all(isinstance(f, z.Frame) for f in frames)
        return [f.bytes for f in frames]

    assert run(api, body) == [b"f", b"rames"]


def test_conveniences_decode_when_they_complete(api: Api) -> None:
    z = api.z

    async def body(ctx: Any) -> tuple[Any, ...]:
        pull, push = pair(api, ctx, z.PULL, z.PUSH)
        as_json, as_str, as_obj = pull.recv_json(), pull.recv_string(), pull.recv_pyobj()
        as_frames = pull.recv_serialized(lambda frames: b"+".join(frames))
        await push.send_json({"k": [1]})
        await push.send_string("s")
        await push.send_pyobj((1, 2))
        await push.send_multipart([b"a", b"b"])
        bad = pull.recv_json()
        await push.send(b"{not json")
        await settled(bad)
        assert isinstance(bad.exception(), ValueError)  # the message is consumed, as in pyzmq
        await push.send(b"next")
        return await as_json, await as_str, await as_obj, await as_frames, await pull.recv()

    assert run(api, body) == ({"k": [1]}, "s", (1, 2), b"a+b", b"next")


# -- polling ------------------------------------------------------------------------------------------


def test_poll_futures(api: Api) -> None:
    z = api.z

    async def body(ctx: Any) -> tuple[Any, ...]:
        pull, push = pair(api, ctx, z.PULL, z.PUSH)
        expired = await pull.poll(timeout=10)
        now = pull.poll(0)
        assert now.done()
        waiting = pull.poll(timeout=DEADLINE_MS)
        assert not waiting.done()
        poller = api.aio.Poller()
        poller.register(pull, z.POLLIN)
        cancelled = poller.poll()
        assert cancelled.cancel()
        await push.send(b"p")
        ready = await waiting
        writable = await push.poll(0, z.POLLOUT)
        at_once = poller.poll(0)
        assert at_once.done()
        msg = await pull.recv()
        polling = poller.poll(timeout=DEADLINE_MS)
        assert not polling.done()
        await push.send(b"q")
        events = await polling
        return expired, now.result(), ready, writable, at_once.result(), msg, events

    expired, now, ready, writable, at_once, msg, events = run(api, body)
    assert (expired, now, ready, writable, msg) == (0, 0, 1, 2, b"p")
    assert len(at_once) == 1 and at_once[0][1] == 1
    assert len(events) == 1 and events[0][1] == 1


def test_poller_poll_times_out_with_an_empty_list(api: Api) -> None:
    z = api.z

    async def body(ctx: Any) -> Any:
        pull, _ = pair(api, ctx, z.PULL, z.PUSH)
        poller = api.aio.Poller()
        poller.register(pull, z.POLLIN)
        return await poller.poll(timeout=10)

    assert run(api, body) == []


# -- sending ------------------------------------------------------------------------------------------


def test_send_futures_wait_for_a_peer_in_order_and_cancel_sends_nothing(api: Api) -> None:
    z = api.z

    async def body(ctx: Any) -> tuple[Any, ...]:
        push = ctx.socket(z.PUSH)
        push.linger = 0
        name = f"inproc://futures-{next(_names)}"
        push.bind(name)
        first, second, third = push.send(b"1"), push.send_multipart([b"2"]), push.send(b"3")
        assert not first.done()
        assert second.cancel()
        pull = ctx.socket(z.PULL)
        pull.linger = 0
        pull.connect(name)
        results = (await first, await third)
        got = [await pull.recv(), await pull.recv()]
        pull.rcvtimeo = 50
        with pytest.raises(z.Again):
            await pull.recv()
        return results, got

    assert run(api, body) == ((None, None), [b"1", b"3"])


def test_send_future_blocked_at_hwm_completes_when_there_is_room(api: Api) -> None:
    z = api.z

    async def body(ctx: Any) -> tuple[int, bool, list[Any]]:
        pull, push = ctx.socket(z.PULL), ctx.socket(z.PUSH)
        for s in (pull, push):
            s.linger = 0
        pull.rcvhwm = push.sndhwm = 1
        name = f"inproc://futures-{next(_names)}"
        pull.bind(name)
        push.connect(name)
        filled = 0
        while True:
            attempt = push.send(b"fill", z.NOBLOCK)
            assert attempt.done()
            if attempt.exception() is not None:
                assert isinstance(attempt.exception(), z.Again)
                break
            filled += 1
        blocked = push.send(b"last")
        was_pending = not blocked.done()
        got = [await pull.recv() for _ in range(filled)]
        await blocked
        got.append(await pull.recv())
        return filled, was_pending, got

    filled, was_pending, got = run(api, body)
    assert filled >= 1 and was_pending
    assert got == [b"fill"] * filled + [b"last"]


def test_send_with_track_resolves_to_a_message_tracker(api: Api) -> None:
    z = api.z

    async def body(ctx: Any) -> tuple[Any, Any]:
        pull, push = pair(api, ctx, z.PULL, z.PUSH)
        tracker = await push.send(b"t" * 100_000, copy=False, track=True)
        plain = await push.send(b"u")
        await pull.recv()
        return tracker, plain

    tracker, plain = run(api, body)
    assert isinstance(tracker, api.z.MessageTracker) and plain is None


# -- timeouts, NOBLOCK --------------------------------------------------------------------------------


def test_rcvtimeo_and_sndtimeo_fail_the_future_with_again(api: Api) -> None:
    z = api.z

    async def body(ctx: Any) -> tuple[Any, Any]:
        pull, push = pair(api, ctx, z.PULL, z.PUSH)
        pull.rcvtimeo = 10
        with pytest.raises(z.Again):
            await pull.recv()
        await push.send(b"later")
        pull.rcvtimeo = -1
        later = await pull.recv()  # the timed-out recv took nothing
        lonely = ctx.socket(z.PUSH)
        lonely.linger = 0
        name = f"inproc://futures-{next(_names)}"
        lonely.bind(name)
        lonely.sndtimeo = 10
        with pytest.raises(z.Again):
            await lonely.send(b"expired")
        peer = ctx.socket(z.PULL)
        peer.linger = 0
        peer.connect(name)
        await lonely.send(b"real")
        return later, await peer.recv()  # the expired send sent nothing

    assert run(api, body) == (b"later", b"real")


def test_noblock_gives_a_finished_future(api: Api) -> None:
    z = api.z

    async def body(ctx: Any) -> None:
        pull, _ = pair(api, ctx, z.PULL, z.PUSH)
        fut = pull.recv(z.NOBLOCK)
        assert fut.done()
        with pytest.raises(z.Again):
            await fut

    run(api, body)


# -- closing ------------------------------------------------------------------------------------------


def test_close_cancels_pending_futures(api: Api) -> None:
    z = api.z

    async def body(ctx: Any) -> None:
        pull, _ = pair(api, ctx, z.PULL, z.PUSH)
        poller = api.aio.Poller()
        poller.register(pull, z.POLLIN)
        pending = [pull.recv(), pull.recv_multipart(), pull.poll(), poller.poll()]
        lonely = ctx.socket(z.PUSH)
        lonely.bind(f"inproc://futures-{next(_names)}")
        send = lonely.send(b"never")
        pull.close(linger=0)
        lonely.close(linger=0)
        await settled(*pending, send)
        assert all(f.cancelled() for f in [*pending, send])
        with pytest.raises(z.ZMQError) as closed:
            pull.recv()
        assert closed.value.errno == z.ENOTSOCK
        with pytest.raises(z.ZMQError) as polled:
            pull.poll()
        assert polled.value.errno == z.ENOTSUP

    run(api, body)


def test_context_destroy_cancels_pending_futures(api: Api) -> None:
    z = api.z

    async def body(ctx: Any) -> None:
        other = api.aio.Context()
        pull = other.socket(z.PULL)
        pull.bind(f"inproc://futures-{next(_names)}")
        fut = pull.recv()
        other.destroy(linger=0)
        await settled(fut)
        assert fut.cancelled()

    run(api, body)


def test_term_from_another_thread_fails_pending_futures() -> None:
    """zloop only, deliberately: a context terminated from another thread fails the Futures of
    its sockets with ContextTerminated (ETERM), as a blocking recv would raise. pyzmq's stay pending
    (its FD callback raises ContextTerminated into the loop's exception handler)."""
    api = _zloop_api()
    z = api.z

    async def body(ctx: Any) -> None:
        other = api.aio.Context()
        pull = other.socket(z.PULL)
        pull.bind(f"inproc://futures-{next(_names)}")
        fut = pull.recv()
        terminating = threading.Thread(target=other.term)
        terminating.start()
        try:
            await settled(fut)
            assert isinstance(fut.exception(), z.ContextTerminated)
        finally:
            pull.close(linger=0)
            await asyncio.get_running_loop().run_in_executor(None, terminating.join, DEADLINE)
        assert not terminating.is_alive()

    run(api, body)


# -- monitor helpers ----------------------------------------------------------------------------------


def test_monitor_socket_and_recv_monitor_message_are_awaitable(api: Api) -> None:
    z = api.z

    async def body(ctx: Any) -> Any:
        sock = ctx.socket(z.PULL)
        sock.linger = 0
        monitor = sock.get_monitor_socket()
        assert isinstance(monitor, api.aio.Socket)
        assert sock.get_monitor_socket() is monitor
        event = api.recv_monitor_message(monitor)  # registered now, before the event happens
        sock.bind("tcp://127.0.0.1:*")
        got = await event
        sock.disable_monitor()
        monitor.close(linger=0)
        return got

    got = run(api, body)
    assert got["event"] == api.z.EVENT_LISTENING
    assert got["endpoint"].startswith(b"tcp://127.0.0.1:")


# -- recv_into ----------------------------------------------------------------------------------------


def test_recv_into_returns_a_future_of_the_size(api: Api) -> None:
    z = api.z

    async def body(ctx: Any) -> tuple[Any, ...]:
        pull, push = pair(api, ctx, z.PULL, z.PUSH)
        if not hasattr(pull.socket if api.name == "zloop" else pull, "recv_into"):
            pytest.skip("zloop.Socket.recv_into is not there yet (the Socket-surface work adds it)")
        buf = bytearray(8)
        fut = pull.recv_into(buf)
        assert not fut.done()
        await push.send(b"12345")
        small = bytearray(2)
        size = await fut
        await push.send(b"abcdef")
        truncated = await pull.recv_into(small)
        return size, bytes(buf[:5]), truncated, bytes(small)

    assert run(api, body) == (5, b"12345", 6, b"ab")


# -- outside a running loop ---------------------------------------------------------------------------


def test_a_call_outside_the_running_loop_binds_the_current_loop(api: Api) -> None:
    """pyzmq allows ``f = s.recv()`` before the loop runs (``run_until_complete(f)``), warning."""
    z = api.z
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    ctx = api.aio.Context()
    try:
        pull, push = pair(api, ctx, z.PULL, z.PUSH)
        with pytest.warns(RuntimeWarning, match="No running event"):
            fut = pull.recv()
            sent = push.send(b"x")
        assert sent.done()
        assert loop.run_until_complete(asyncio.wait_for(fut, DEADLINE)) == b"x"
    finally:
        ctx.destroy(linger=0)
        asyncio.set_event_loop(None)
        loop.close()


# -- tornado: zmq.eventloop.future and zloop.adapters.tornado -----------------------------------------


@pytest.fixture(
    params=[
        pytest.param("zloop", id="zloop"),
        pytest.param("pyzmq", id="pyzmq", marks=pytest.mark.interop),
    ]
)
def tornado_api(request: pytest.FixtureRequest) -> Api:
    pytest.importorskip("tornado")
    if request.param == "zloop":
        import zloop
        import zloop.adapters.tornado as zloop_tornado

        return Api("zloop", zloop_tornado, zloop, _zloop_api().recv_monitor_message)
    import zmq
    import zmq.eventloop.future as zmq_future

    return Api("pyzmq", zmq_future, zmq, _pyzmq_api().recv_monitor_message)


def test_tornado_future_sockets(tornado_api: Api) -> None:
    """The same program on ``zmq.eventloop.future`` and ``zloop.adapters.tornado``, on an IOLoop."""
    from tornado.concurrent import Future as TornadoFuture
    from tornado.ioloop import IOLoop

    api = tornado_api
    z = api.z

    async def body() -> tuple[Any, ...]:
        ctx = api.aio.Context()
        try:
            pull, push = pair(api, ctx, z.PULL, z.PUSH)
            first, cancelled, second = pull.recv(), pull.recv(), pull.recv_multipart()
            assert all(isinstance(f, TornadoFuture) for f in (first, cancelled, second))
            assert cancelled.cancel() and cancelled.cancelled()
            polled = pull.poll(timeout=DEADLINE_MS)
            await push.send(b"1")
            await push.send_multipart([b"2", b"3"])
            poller = api.aio.Poller()
            poller.register(pull, z.POLLIN)
            ready_later = poller.poll(timeout=DEADLINE_MS)
            await push.send(b"4")
            return (
                await second,
                await first,
                await polled,
                [ev for _, ev in await ready_later],
                await pull.recv(),
            )
        finally:
            ctx.destroy(linger=0)

    loop = IOLoop(make_current=False)
    try:
        got = loop.run_sync(body, timeout=DEADLINE * 2)
    finally:
        loop.close(all_fds=False)
    assert got == ([b"2", b"3"], b"1", 1, [1], b"4")


def test_tornado_cancelled_future_raises_the_modules_cancelled_error(tornado_api: Api) -> None:
    from tornado.ioloop import IOLoop

    api = tornado_api
    z = api.z

    async def body() -> bool:
        ctx = api.aio.Context()
        try:
            pull, _ = pair(api, ctx, z.PULL, z.PUSH)
            fut = pull.recv()
            assert fut.cancel()
            with pytest.raises(api.aio.CancelledError):
                await fut
            return bool(fut.cancelled())
        finally:
            ctx.destroy(linger=0)

    loop = IOLoop(make_current=False)
    try:
        assert loop.run_sync(body, timeout=DEADLINE * 2)
    finally:
        loop.close(all_fds=False)


def test_tornado_context_takes_the_deprecated_io_loop(tornado_api: Api) -> None:
    from tornado.ioloop import IOLoop

    loop = IOLoop(make_current=False)
    try:
        with pytest.warns(DeprecationWarning, match="io_loop"):
            ctx = tornado_api.aio.Context(io_loop=loop)
        ctx.term()
    finally:
        loop.close(all_fds=False)


# -- the contexts -------------------------------------------------------------------------------------


def test_context_instance_is_its_own(api: Api) -> None:
    """``Context.instance()`` of the awaitable module is not the blocking module's instance."""
    shared = api.z.Context.instance()
    mine = api.aio.Context.instance()
    try:
        assert isinstance(mine, api.aio.Context) and mine is not shared
        assert api.aio.Context.instance() is mine
    finally:
        mine.term()


def test_a_noblock_send_behind_queued_sends_waits_its_turn(api: Api) -> None:
    """NOBLOCK is tried at once only when no earlier send waits; behind one it queues (order)."""
    z = api.z

    async def body(ctx: Any) -> tuple[bool, Any]:
        push = ctx.socket(z.PUSH)
        push.linger = 0
        name = f"inproc://futures-{next(_names)}"
        push.bind(name)
        alone = push.send(b"0", z.NOBLOCK)
        await settled(alone)
        assert isinstance(alone.exception(), z.Again)
        first = push.send(b"1")
        second = push.send(b"2", z.NOBLOCK)
        queued = not second.done()
        pull = ctx.socket(z.PULL)
        pull.linger = 0
        pull.connect(name)
        await first
        await second
        return queued, [await pull.recv(), await pull.recv()]

    assert run(api, body) == (True, [b"1", b"2"])
