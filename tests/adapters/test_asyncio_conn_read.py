"""The asyncio loop reads a waiting receive's tcp/ipc connection itself (adapters/asyncio.py,
"Reading the connection in the loop"; ``_ConnReader``): the connection's fd is parked in the I/O
thread while a task waits (and until the loop's next turn after the last wait ended), and a
connection the I/O thread ends meanwhile keeps its fd open until the loop gives it back.

Each test checks what arrives, that the loop did read the connection in it (``StreamEngine.app_read``
delivered) where it should, and that the fd went back to the I/O thread -- or was closed -- once
nobody waits: a peer leaving or a context terminated while a task waits, a task cancelled or timed
out while it waits, NOBLOCK / poll / EVENTS in the window where the fd is still parked, large frames
(left to the I/O thread), multipart messages, two peers; against zloop and pyzmq (libzmq) peers.
The gevent hub does the same (tests/adapters/test_gevent_conn_read.py)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from conn_read_helpers import PEERS, TRANSPORTS, Reads, peer_socket
from zl_testing import DEADLINE, endpoint_for, with_deadlines

import zloop
from zloop.adapters import asyncio as zaio
from zloop.io.engine import DIRECT_MIN
from zloop.monitor import parse_monitor_message
from zloop.socket import _APP_READ_SIZE


def aio(ctx: Any, kind: int) -> zaio.Socket:
    raw = ctx.socket(kind)
    raw.setsockopt(zloop.LINGER, 0)
    return zaio.Socket.from_socket(raw)


def readers(sock: zaio.Socket) -> dict[int, Any]:
    watcher = sock._watcher
    return {} if watcher is None else watcher.backend.readers  # type: ignore[attr-defined,no-any-return]


async def settle() -> None:
    """Let the loop run a turn or two (where a reader nobody waits on gives its fd back)."""
    await asyncio.sleep(0)
    await asyncio.sleep(0)


def run(main: Callable[[], Awaitable[Any]]) -> Any:
    async def bounded() -> Any:
        return await asyncio.wait_for(main(), DEADLINE)

    return asyncio.run(bounded())


def in_thread(target: Callable[[], Any]) -> None:
    """Run ``target`` in a thread and wait for it (a peer that must act while the loop is parked
    in a receive, or before it next looks)."""
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(DEADLINE)
    assert not thread.is_alive()


@pytest.mark.parametrize("peer", PEERS)
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_round_trips_read_by_the_loop(
    transport: str, peer: str, ctx: Any, zctx: Any, tmp_path: Path, reads: Reads
) -> None:
    rep = peer_socket(peer, ctx, zctx, "REP")
    rep.bind(endpoint_for(transport, tmp_path))
    count = 300

    def echo() -> None:
        for _ in range(count):
            rep.send(rep.recv() + b"!")

    thread = threading.Thread(target=echo, daemon=True)
    thread.start()

    async def main() -> list[bytes]:
        req = aio(ctx, zloop.REQ)
        req.connect(rep.getsockopt(zloop.LAST_ENDPOINT).decode())
        try:
            got = []
            for i in range(count):
                await req.send(b"%d" % i)
                got.append(await req.recv())
            await settle()
            assert not readers(req)  # nobody waits: the fd is the I/O thread's again
            return got
        finally:
            req.close()

    try:
        assert run(main) == [b"%d!" % i for i in range(count)]
        assert reads.delivered > 0
    finally:
        thread.join(DEADLINE)
        rep.close()


@pytest.mark.parametrize("peer", PEERS)
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_stream_with_multipart_messages(
    transport: str, peer: str, ctx: Any, zctx: Any, tmp_path: Path, reads: Reads
) -> None:
    push = peer_socket(peer, ctx, zctx, "PUSH")

    async def main() -> None:
        pull = aio(ctx, zloop.PULL)
        pull.bind(endpoint_for(transport, tmp_path))
        push.connect(pull.getsockopt(zloop.LAST_ENDPOINT).decode())
        try:
            push.send(b"hello")
            assert await pull.recv() == b"hello"  # connected
            io = pull._sock._app_reader()[0]._io
            for i in range(200):
                fut = pull.recv_multipart()
                if i % 10 == 0:  # now and then the loop waits for the next one
                    assert not fut.done()
                    # The loop reads the connection -- unless, the loop having been blocked
                    # in in_thread long enough on a loaded machine, the I/O thread's park
                    # audit took it back (the loop then leaves it alone for a while).
                    assert readers(pull) or io.revocations > 0
                    in_thread(lambda i=i: push.send_multipart([b"a%d" % i, b"", b"z" * (i % 7)]))
                elif not fut.done():
                    push.send_multipart([b"a%d" % i, b"", b"z" * (i % 7)])
                else:  # pragma: no cover - a message cannot be there before it is sent
                    raise AssertionError("received before it was sent")
                assert await fut == [b"a%d" % i, b"", b"z" * (i % 7)]
            await settle()
            assert not readers(pull)
        finally:
            pull.close()

    try:
        run(main)
        assert reads.delivered > 0
    finally:
        push.close()


@pytest.mark.parametrize("peer", PEERS)
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_peer_leaving_while_a_task_waits(
    transport: str, peer: str, ctx: Any, zctx: Any, tmp_path: Path, reads: Reads
) -> None:
    first = peer_socket(peer, ctx, zctx, "PUSH")
    second = peer_socket(peer, ctx, zctx, "PUSH")

    async def main() -> None:
        pull = aio(ctx, zloop.PULL)
        pull.bind(endpoint_for(transport, tmp_path))
        addr = pull.getsockopt(zloop.LAST_ENDPOINT).decode()
        monitor = pull.get_monitor_socket(zloop.EVENT_DISCONNECTED)
        try:
            first.connect(addr)
            first.send(b"one")
            assert await pull.recv() == b"one"
            engine, _ = pull._sock._app_reader()
            waiting = pull.recv()
            assert readers(pull)  # the task waits, the connection parked for it
            first.close()  # the peer leaves: the loop reads the end, the I/O thread ends it
            event = parse_monitor_message(await monitor.recv_multipart())
            assert event["event"] == zloop.EVENT_DISCONNECTED
            assert not waiting.done()
            await settle()
            # Given back once the loop read the closed connection: closed by the I/O thread then.
            assert not readers(pull) or engine._sock.fileno() != -1
            second.connect(addr)
            second.send(b"two")
            assert await waiting == b"two"
            await settle()
            assert not readers(pull)
            assert engine._sock.fileno() == -1  # closed once the loop gave it back
            second.send(b"three")
            assert await pull.recv() == b"three"
        finally:
            monitor.close()
            pull.close()

    try:
        run(main)
    finally:
        second.close()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_context_terminated_while_a_task_waits(transport: str, tmp_path: Path) -> None:
    own = zloop.Context()
    push = with_deadlines(own.socket(zloop.PUSH))

    async def main() -> None:
        pull = aio(own, zloop.PULL)
        pull.bind(endpoint_for(transport, tmp_path))
        push.connect(pull.getsockopt(zloop.LAST_ENDPOINT).decode())
        push.send(b"one")
        assert await pull.recv() == b"one"
        engine, _ = pull._sock._app_reader()
        waiting = pull.recv()
        assert readers(pull)
        backend = pull._watcher.backend  # type: ignore[union-attr]

        def close_and_term() -> None:
            push.close()
            own.term()

        term = threading.Thread(target=close_and_term, daemon=True)
        term.start()
        try:
            with pytest.raises(zloop.ContextTerminated):
                await waiting
        finally:
            pull.close()
        await settle()
        term.join(DEADLINE)
        assert not term.is_alive()
        assert not backend.readers
        assert engine._sock.fileno() == -1

    run(main)


@pytest.mark.parametrize("peer", PEERS)
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_task_cancelled_or_timed_out_while_waiting_takes_nothing(
    transport: str, peer: str, ctx: Any, zctx: Any, tmp_path: Path, reads: Reads
) -> None:
    push = peer_socket(peer, ctx, zctx, "PUSH")

    async def main() -> None:
        pull = aio(ctx, zloop.PULL)
        pull.bind(endpoint_for(transport, tmp_path))
        push.connect(pull.getsockopt(zloop.LAST_ENDPOINT).decode())
        try:
            push.send(b"zero")
            assert await pull.recv() == b"zero"
            # Cancelled while it waits.
            task = asyncio.ensure_future(pull.recv())
            await asyncio.sleep(0)
            assert readers(pull)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await settle()
            assert not readers(pull)
            # Timed out (RCVTIMEO, then asyncio.wait_for) while it waits.
            pull.setsockopt(zloop.RCVTIMEO, 20)
            with pytest.raises(zloop.Again):
                await pull.recv()
            pull.setsockopt(zloop.RCVTIMEO, -1)
            await settle()
            assert not readers(pull)
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(pull.recv(), 0.02)
            await settle()
            assert not readers(pull)
            # Nothing was taken: every message arrives, in order, read by the I/O thread or the loop.
            for i in range(5):
                push.send(b"%d" % i)
            assert [await pull.recv() for _ in range(5)] == [b"%d" % i for i in range(5)]
        finally:
            pull.close()

    try:
        run(main)
    finally:
        push.close()


@pytest.mark.parametrize("how", ["noblock", "poll", "events", "poller"])
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_non_blocking_looks_while_the_fd_is_still_parked(
    transport: str, how: str, ctx: Any, tmp_path: Path, reads: Reads
) -> None:
    """Right after a receive the loop keeps the connection parked until its next turn: a task
    that never yields and looks with NOBLOCK / poll(0) / EVENTS / Poller.poll(0) must still see
    what the peer sent (the loop reads it first, as the I/O thread would have)."""
    push = with_deadlines(ctx.socket(zloop.PUSH))

    async def main() -> None:
        pull = aio(ctx, zloop.PULL)
        pull.bind(endpoint_for(transport, tmp_path))
        push.connect(pull.getsockopt(zloop.LAST_ENDPOINT).decode())
        poller = zaio.Poller()
        poller.register(pull, zloop.POLLIN)
        try:
            push.send(b"one")
            assert await pull.recv() == b"one"  # connected
            waiting = pull.recv()
            assert readers(pull)
            in_thread(lambda: push.send(b"two"))
            assert await waiting == b"two"
            assert reads.delivered > 0  # the loop read it
            assert readers(pull)  # still parked: the loop has not had its turn since
            in_thread(lambda: push.send(b"three"))
            got = None
            end = time.monotonic() + DEADLINE
            while got is None and time.monotonic() < end:  # no await: the loop never runs
                if how == "noblock":
                    fut = pull.recv(zloop.NOBLOCK)
                    if not isinstance(fut.exception(), zloop.Again):
                        got = fut.result()
                elif how == "poll":
                    if pull.poll(0).result() == zloop.POLLIN:
                        got = pull.recv().result()
                elif how == "events":
                    if pull.getsockopt(zloop.EVENTS) & zloop.POLLIN:
                        got = pull.recv().result()
                elif poller.poll(0).result() == [(pull, zloop.POLLIN)]:
                    got = pull.recv().result()
            assert got == b"three"
        finally:
            pull.close()

    try:
        run(main)
    finally:
        push.close()


@pytest.mark.parametrize("peer", PEERS)
@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("size", [9000, 65536, 1 << 20])
def test_large_frames_are_left_to_the_io_thread(
    transport: str, peer: str, size: int, ctx: Any, zctx: Any, tmp_path: Path
) -> None:
    push = peer_socket(peer, ctx, zctx, "PUSH")
    bodies = [bytes([i]) * size for i in range(6)]

    async def main() -> None:
        pull = aio(ctx, zloop.PULL)
        pull.bind(endpoint_for(transport, tmp_path))
        push.connect(pull.getsockopt(zloop.LAST_ENDPOINT).decode())
        try:
            push.send(b"hello")
            assert await pull.recv() == b"hello"
            waiting = pull.recv()
            assert readers(pull)
            in_thread(lambda: push.send_multipart([b"head", bodies[0]]))
            assert await waiting == b"head"
            assert await pull.recv() == bodies[0]
            await settle()
            # A body larger than the loop's read buffer made the loop give the connection back;
            # the next waits leave reading to the I/O thread. (A smaller frame may come whole in
            # one read of that buffer: then the loop may go on reading.)
            large = size > _APP_READ_SIZE
            if large:
                assert not readers(pull)
            for body in bodies[1:]:
                waiting = pull.recv()
                if large:
                    assert not readers(pull)
                push.send(body)
                assert await waiting == body
            for i in range(70):  # small messages after the skipped waits: read by the loop again
                push.send(b"%d" % i)
                assert await pull.recv() == b"%d" % i
        finally:
            pull.close()

    try:
        run(main)
    finally:
        push.close()


@pytest.mark.parametrize("peer", PEERS)
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_bodies_under_direct_min_stay_with_the_loop(
    transport: str,
    peer: str,
    ctx: Any,
    zctx: Any,
    tmp_path: Path,
    reads: Reads,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Bodies shorter than DIRECT_MIN (a 64 KiB stream) that straddle the loop's reads are read by
    the loop to their end: such a rest goes through a buffer whoever reads it, so the loop never
    gives the connection back to the I/O thread for them."""
    gave_back: list[int] = []
    original = zaio._ConnReader._give_back

    def spy(self: zaio._ConnReader) -> None:
        gave_back.append(self._fd)
        original(self)

    monkeypatch.setattr(zaio._ConnReader, "_give_back", spy)
    push = peer_socket(peer, ctx, zctx, "PUSH")
    # Together more than one read of the loop's buffer, each body shorter than DIRECT_MIN.
    bodies = [bytes([i]) * (DIRECT_MIN - 1000) for i in range(2 * _APP_READ_SIZE // DIRECT_MIN + 2)]

    async def main() -> None:
        pull = aio(ctx, zloop.PULL)
        pull.bind(endpoint_for(transport, tmp_path))
        push.connect(pull.getsockopt(zloop.LAST_ENDPOINT).decode())
        try:
            push.send(b"hello")
            assert await pull.recv() == b"hello"
            waiting = pull.recv()
            assert readers(pull)

            def send_all() -> None:
                for body in bodies:
                    push.send(body)

            in_thread(send_all)
            assert await waiting == bodies[0]
            for body in bodies[1:]:
                assert await pull.recv() == body
            waiting = pull.recv()
            assert readers(pull)
            push.send(b"end")
            assert await waiting == b"end"
        finally:
            pull.close()

    try:
        run(main)
    finally:
        push.close()
    assert not gave_back
    assert reads.delivered > 0


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_two_peers(transport: str, ctx: Any, zctx: Any, tmp_path: Path) -> None:
    """With a second connection the socket has two pipes: no reader starts, and a reader started
    while there was one still lets the other connection's messages through the I/O thread."""
    first = with_deadlines(ctx.socket(zloop.PUSH))
    import zmq

    second = with_deadlines(zctx.socket(zmq.PUSH))

    async def main() -> None:
        pull = aio(ctx, zloop.PULL)
        pull.bind(endpoint_for(transport, tmp_path))
        addr = pull.getsockopt(zloop.LAST_ENDPOINT).decode()
        try:
            first.connect(addr)
            first.send(b"one")
            assert await pull.recv() == b"one"
            waiting = pull.recv()
            assert readers(pull)  # one pipe: the loop reads it
            second.connect(addr)
            in_thread(lambda: second.send(b"from-second"))
            assert await waiting == b"from-second"  # through the I/O thread and the socket's FD
            in_thread(lambda: first.send(b"from-first"))
            assert await pull.recv() == b"from-first"
            await settle()
            assert not readers(pull)
            got = set()
            for i in range(20):
                fut = pull.recv()
                assert not readers(pull)  # two pipes: the I/O thread reads both
                (first if i % 2 else second).send(b"%d" % i)
                got.add(await fut)
            assert got == {b"%d" % i for i in range(20)}
        finally:
            pull.close()

    try:
        run(main)
    finally:
        first.close()
        second.close()


def test_pyzmq_socket_is_never_read_by_the_loop(zctx: Any, tmp_path: Path) -> None:
    import zmq

    raw = zctx.socket(zmq.PULL)
    raw.setsockopt(zmq.LINGER, 0)
    push = with_deadlines(zctx.socket(zmq.PUSH))

    async def main() -> None:
        pull = zaio.Socket.from_socket(raw)
        pull.bind("tcp://127.0.0.1:*")
        push.connect(pull.getsockopt(zmq.LAST_ENDPOINT).decode())
        try:
            fut = pull.recv()
            assert not readers(pull)
            push.send(b"x")
            assert await fut == b"x"
        finally:
            pull.close()

    try:
        run(main)
    finally:
        push.close()


@pytest.mark.parametrize("peer", PEERS)
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_read_the_io_thread_holds_up_gives_back_this_wait_only(
    transport: str, peer: str, ctx: Any, zctx: Any, tmp_path: Path
) -> None:
    """The loop's read finds the I/O thread reading the same connection at that moment (its input
    lock taken: APP_READ_BUSY). That wait goes to the I/O thread; the next one parks again (only a
    large body leaves the next waits to the I/O thread)."""
    push = peer_socket(peer, ctx, zctx, "PUSH")

    async def main() -> None:
        pull = aio(ctx, zloop.PULL)
        pull.bind(endpoint_for(transport, tmp_path))
        push.connect(pull.getsockopt(zloop.LAST_ENDPOINT).decode())
        try:
            push.send(b"one")
            assert await pull.recv() == b"one"
            engine, _ = pull._sock._app_reader()
            waiting = pull.recv()
            assert readers(pull)
            held, release = threading.Event(), threading.Event()

            def hold_input_lock() -> None:  # what the I/O thread's read holds
                with engine._input_lock:
                    held.set()
                    release.wait(DEADLINE)

            holder = threading.Thread(target=hold_input_lock, daemon=True)
            holder.start()
            try:
                assert held.wait(DEADLINE)
                in_thread(lambda: push.send(b"two"))
                for _ in range(100_000):  # the loop's read answers busy: it gives the fd back
                    if not readers(pull):
                        break
                    await asyncio.sleep(0)
                assert not readers(pull)
            finally:
                release.set()
                holder.join(DEADLINE)
            assert await waiting == b"two"  # read by the I/O thread
            waiting = pull.recv()
            assert readers(pull)  # parked again at once
            in_thread(lambda: push.send(b"three"))
            assert await waiting == b"three"
        finally:
            pull.close()

    try:
        run(main)
    finally:
        push.close()
