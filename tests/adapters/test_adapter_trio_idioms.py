"""trio idioms on zloop.adapters.trio, for zloop and pyzmq sockets.

A nursery of many tasks sending and receiving on one socket; every call is a checkpoint (trio's own
``assert_checkpoints``), including the fast path; ``move_on_after`` / cancel scopes cancel a recv
without losing the message; ``async for``; close wakes parked tasks.
"""

from __future__ import annotations

from typing import Any

import pytest
from drivers_extra import FLAVOURS, sync_pair

import zloop

trio = pytest.importorskip("trio")
trio_testing = pytest.importorskip("trio.testing")

from zloop.adapters import trio as ztrio  # noqa: E402

pytestmark = pytest.mark.parametrize("flavour", FLAVOURS)


def wrap_pair(
    flavour: str, ctx: Any, zctx: Any, bind_type: int, connect_type: int
) -> tuple[Any, Any]:
    a, b = sync_pair(flavour, ctx, zctx, bind_type, connect_type)
    return ztrio.Socket.from_socket(a), ztrio.Socket.from_socket(b)


def test_nursery_many_tasks_send_and_recv_on_one_socket(flavour: str, ctx: Any, zctx: Any) -> None:
    """40 tasks share one DEALER (20 send, 20 receive); a ROUTER echoes: all arrive exactly once."""
    senders, per_sender = 20, 50
    total = senders * per_sender

    async def main() -> None:
        router, dealer = wrap_pair(flavour, ctx, zctx, zloop.ROUTER, zloop.DEALER)
        received: list[bytes] = []
        echoed_order: dict[int, list[int]] = {}

        async def echo() -> None:
            for _ in range(total):
                ident, body = await router.recv_multipart()
                s, i = body.split(b":")
                echoed_order.setdefault(int(s), []).append(int(i))
                await router.send_multipart([ident, body])

        async def sender(s: int) -> None:
            for i in range(per_sender):
                await dealer.send(b"%d:%d" % (s, i))

        async def receiver(count: int) -> None:
            for _ in range(count):
                received.append(await dealer.recv())

        with trio.fail_after(30):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(echo)
                for _ in range(senders):
                    nursery.start_soon(receiver, per_sender)
                for s in range(senders):
                    nursery.start_soon(sender, s)
        assert len(received) == total
        assert sorted(received) == sorted(
            b"%d:%d" % (s, i) for s in range(senders) for i in range(per_sender)
        )
        # one task's sends leave in its call order
        for s in range(senders):
            assert echoed_order[s] == list(range(per_sender))
        router.close()
        dealer.close()

    trio.run(main)


def test_every_call_is_a_checkpoint(flavour: str, ctx: Any, zctx: Any) -> None:
    """Even when the operation completes at once (fast path) the call yields and checks cancellation."""

    async def main() -> None:
        a, b = wrap_pair(flavour, ctx, zctx, zloop.PAIR, zloop.PAIR)
        with trio_testing.assert_checkpoints():
            await b.send(b"one")
        with trio_testing.assert_checkpoints():
            await b.send_multipart([b"two", b"parts"])
        with trio.fail_after(10), trio_testing.assert_checkpoints():
            assert await a.poll(flags=zloop.POLLIN) & zloop.POLLIN
        with trio_testing.assert_checkpoints():
            assert await a.recv() == b"one"
        with trio_testing.assert_checkpoints():
            assert await a.recv_multipart() == [b"two", b"parts"]
        with trio_testing.assert_checkpoints():
            assert await a.poll(timeout=0) == 0
        a.close()
        b.close()

    trio.run(main)


def test_cancelled_scope_takes_nothing_even_when_ready(flavour: str, ctx: Any, zctx: Any) -> None:
    """A recv in an already-cancelled scope raises Cancelled and leaves the ready message queued."""

    async def main() -> None:
        a, b = wrap_pair(flavour, ctx, zctx, zloop.PAIR, zloop.PAIR)
        await b.send_multipart([b"x", b"y"])
        with trio.fail_after(10):
            await a.poll()
        with trio.CancelScope() as scope:
            scope.cancel()
            await a.recv_multipart()
        assert scope.cancelled_caught
        with trio.CancelScope() as scope:
            scope.cancel()
            await b.send_multipart([b"never", b"sent"])
        assert scope.cancelled_caught
        with trio.fail_after(10):
            assert await a.recv_multipart() == [b"x", b"y"]
            await b.send(b"after")
            assert await a.recv() == b"after"
        a.close()
        b.close()

    trio.run(main)


def test_move_on_after_cancels_recv_without_losing_the_message(
    flavour: str, ctx: Any, zctx: Any
) -> None:
    async def main() -> None:
        pull, push = wrap_pair(flavour, ctx, zctx, zloop.PULL, zloop.PUSH)
        with trio.move_on_after(0.05) as scope:
            await pull.recv_multipart()
        assert scope.cancelled_caught
        # a parked recv cancelled by another task, then the message arrives
        got: list[Any] = []
        async with trio.open_nursery() as nursery:
            inner = trio.CancelScope()

            async def parked() -> None:
                with inner:
                    got.append(await pull.recv_multipart())

            nursery.start_soon(parked)
            await trio_testing.wait_all_tasks_blocked()
            inner.cancel()
        assert got == []
        await push.send_multipart([b"kept", b"whole"])
        with trio.fail_after(10):
            assert await pull.recv_multipart() == [b"kept", b"whole"]
        pull.close()
        push.close()

    trio.run(main)


def test_cancel_while_messages_race_in(flavour: str, ctx: Any, zctx: Any) -> None:
    """Receivers with tiny timeouts while a producer sends: every message received exactly once."""
    count = 300

    async def main() -> None:
        pull, push = wrap_pair(flavour, ctx, zctx, zloop.PULL, zloop.PUSH)
        received: list[list[bytes]] = []

        async def producer() -> None:
            for i in range(count):
                await push.send_multipart([b"%d" % i, b"tail"])
                if i % 7 == 0:
                    await trio.sleep(0)

        async def consumer() -> None:
            while len(received) < count:
                with trio.move_on_after(0.0005):
                    received.append(await pull.recv_multipart())

        with trio.fail_after(30):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(producer)
                nursery.start_soon(consumer)
                nursery.start_soon(consumer)
        assert sorted(int(m[0]) for m in received) == list(range(count))
        assert all(m[1] == b"tail" and len(m) == 2 for m in received)
        pull.close()
        push.close()

    trio.run(main)


def test_async_for_yields_multipart_messages(flavour: str, ctx: Any, zctx: Any) -> None:
    async def main() -> None:
        pull, push = wrap_pair(flavour, ctx, zctx, zloop.PULL, zloop.PUSH)
        for i in range(5):
            await push.send_multipart([b"m", b"%d" % i])
        seen = []
        with trio.fail_after(10):
            async for msg in pull:
                seen.append(msg)
                if len(seen) == 5:
                    break
        assert seen == [[b"m", b"%d" % i] for i in range(5)]
        pull.close()
        push.close()

    trio.run(main)


def test_close_wakes_parked_tasks(flavour: str, ctx: Any, zctx: Any) -> None:
    async def main() -> None:
        pull, push = wrap_pair(flavour, ctx, zctx, zloop.PULL, zloop.PUSH)
        errors: list[BaseException] = []

        async def parked() -> None:
            try:
                await pull.recv()
            except trio.ClosedResourceError as exc:
                errors.append(exc)

        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                for _ in range(3):
                    nursery.start_soon(parked)
                await trio_testing.wait_all_tasks_blocked()
                pull.close()
        assert len(errors) == 3
        assert pull.closed
        with pytest.raises(trio.ClosedResourceError):
            await pull.recv()
        push.close()

    trio.run(main)


def test_poller_waits_for_any_socket(flavour: str, ctx: Any, zctx: Any) -> None:
    async def main() -> None:
        p1, s1 = wrap_pair(flavour, ctx, zctx, zloop.PULL, zloop.PUSH)
        p2, s2 = wrap_pair(flavour, ctx, zctx, zloop.PULL, zloop.PUSH)
        poller = ztrio.Poller()
        poller.register(p1, zloop.POLLIN)
        poller.register(p2, zloop.POLLIN)
        assert await poller.poll(0) == []
        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                result: list[Any] = []

                async def waiter() -> None:
                    result.extend(await poller.poll())

                nursery.start_soon(waiter)
                await trio_testing.wait_all_tasks_blocked()
                await s2.send(b"go")
        assert result == [(p2, zloop.POLLIN)]
        assert await p2.recv() == b"go"
        with trio.move_on_after(0.02) as scope:
            await poller.poll()
        assert scope.cancelled_caught
        assert await poller.poll(timeout=10) == []
        for s in (p1, s1, p2, s2):
            s.close()

    trio.run(main)
