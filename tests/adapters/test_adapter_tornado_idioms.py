"""tornado idioms on zloop.adapters.tornado, for zloop and pyzmq sockets.

``ZMQStream`` with the callback semantics pyzmq users expect (on_recv / on_recv_stream / on_send /
send / send_multipart / flush / close / stop_on_recv), and awaitable sockets inside an ``async def``
tornado request handler.
"""

from __future__ import annotations

from typing import Any

import pytest
from drivers_extra import FLAVOURS, sync_pair

import zloop

tornado = pytest.importorskip("tornado")
from tornado.ioloop import IOLoop  # noqa: E402

from zloop.adapters import tornado as ztornado  # noqa: E402

pytestmark = pytest.mark.parametrize("flavour", FLAVOURS)

DEADLINE = 10.0


def run(coro_fn: Any) -> Any:
    """Run ``coro_fn()`` on a fresh IOLoop with a deadline."""
    loop = IOLoop(make_current=False)
    try:
        return loop.run_sync(coro_fn, timeout=DEADLINE)
    finally:
        loop.close(all_fds=False)


class Done:
    """A future-like latch resolved when a condition holds (tornado Event with a check)."""

    def __init__(self) -> None:
        import tornado.locks

        self.event = tornado.locks.Event()

    def set(self) -> None:
        self.event.set()

    async def wait(self) -> None:
        await self.event.wait()


def test_on_recv_gets_every_message_in_order(flavour: str, ctx: Any, zctx: Any) -> None:
    pull, push = sync_pair(flavour, ctx, zctx, zloop.PULL, zloop.PUSH)
    count = 500

    async def main() -> list[list[bytes]]:
        stream = ztornado.ZMQStream(pull)
        got: list[list[bytes]] = []
        done = Done()

        def on_msg(msg: list[bytes]) -> None:
            got.append(msg)
            if len(got) == count:
                done.set()

        stream.on_recv(on_msg)
        assert stream.receiving() and not stream.sending()
        for i in range(count):
            push.send_multipart([b"%d" % i, b"x"])
        await done.wait()
        stream.close()
        return got

    got = run(main)
    assert got == [[b"%d" % i, b"x"] for i in range(count)]
    assert pull.closed
    push.close()


def test_on_recv_copy_false_gives_frames_and_on_recv_stream(
    flavour: str, ctx: Any, zctx: Any
) -> None:
    pull, push = sync_pair(flavour, ctx, zctx, zloop.PULL, zloop.PUSH)

    async def main() -> None:
        stream = ztornado.ZMQStream(pull)
        done = Done()
        seen: list[Any] = []

        def on_frames(msg: list[Any]) -> None:
            seen.append(msg)
            stream.on_recv_stream(on_stream)

        def on_stream(s: Any, msg: list[bytes]) -> None:
            seen.append((s, msg))
            done.set()

        stream.on_recv(on_frames, copy=False)
        push.send_multipart([b"frame", b"s"])
        push.send(b"second")
        await done.wait()
        frames = seen[0]
        assert [bytes(f.bytes) for f in frames] == [b"frame", b"s"]
        assert not isinstance(frames[0], bytes)
        assert seen[1] == (stream, [b"second"])
        stream.close()

    run(main)
    push.close()


def test_stop_on_recv_inside_callback_stops_at_once(flavour: str, ctx: Any, zctx: Any) -> None:
    """Messages not yet handed to a callback stay in the socket after stop_on_recv."""
    pull, push = sync_pair(flavour, ctx, zctx, zloop.PULL, zloop.PUSH)

    async def main() -> None:
        stream = ztornado.ZMQStream(pull)
        got: list[list[bytes]] = []
        done = Done()

        def once(msg: list[bytes]) -> None:
            got.append(msg)
            stream.stop_on_recv()
            done.set()

        for i in range(5):
            push.send(b"%d" % i)
        stream.on_recv(once)
        await done.wait()
        assert got == [[b"0"]]
        assert not stream.receiving()
        # the other four are still queued, whole and in order
        sock = stream.socket
        assert [sock.recv() for _ in range(4)] == [b"1", b"2", b"3", b"4"]
        stream.close()

    run(main)
    push.close()


def test_send_multipart_on_send_callbacks_and_flush(flavour: str, ctx: Any, zctx: Any) -> None:
    pull, push = sync_pair(flavour, ctx, zctx, zloop.PULL, zloop.PUSH)

    async def main() -> None:
        stream = ztornado.ZMQStream(push)
        sent: list[Any] = []
        done = Done()

        def on_send(msg: list[Any], status: Any) -> None:
            sent.append(msg)
            if len(sent) == 3:
                done.set()

        stream.on_send(on_send)
        stream.send(b"a")
        stream.send_multipart([b"b", b"c"])
        stream.send_string("d")
        assert stream.sending()
        await done.wait()
        assert sent == [[b"a"], [b"b", b"c"], ["d"]] or sent == [[b"a"], [b"b", b"c"], [b"d"]]
        assert not stream.sending()
        assert pull.recv_multipart() == [b"a"]
        assert pull.recv_multipart() == [b"b", b"c"]
        assert pull.recv_multipart() == [b"d"]
        # flush sends queued messages synchronously, calling on_send
        stream.send(b"e")
        stream.send(b"f")
        assert stream.flush() == 2
        assert len(sent) == 5 and not stream.sending()
        assert pull.recv() == b"e" and pull.recv() == b"f"
        # send with a callback: pyzmq makes it the stream's on_send callback
        latest: list[Any] = []
        stream.send(b"g", callback=lambda msg, status: latest.append(msg))
        assert stream.flush() == 1
        assert latest == [[b"g"]]
        stream.close()
        assert stream.closed()
        assert push.closed

    run(main)
    pull.close()


def test_flush_recv_calls_on_recv(flavour: str, ctx: Any, zctx: Any) -> None:
    pull, push = sync_pair(flavour, ctx, zctx, zloop.PULL, zloop.PUSH)

    async def main() -> None:
        stream = ztornado.ZMQStream(pull)
        got: list[list[bytes]] = []
        stream.on_recv(got.append)
        for i in range(3):
            push.send(b"%d" % i)
        # wait (edge-safely, through the socket's own poll) until all three arrived
        for _ in range(100):
            if stream.socket.poll(100):
                break
        n = 0
        while n < 3:
            n += stream.flush(zloop.POLLIN)
            if n < 3:
                stream.socket.poll(100)
        assert got == [[b"0"], [b"1"], [b"2"]]
        stream.close()

    run(main)
    push.close()


def test_close_callback_and_closed(flavour: str, ctx: Any, zctx: Any) -> None:
    pull, push = sync_pair(flavour, ctx, zctx, zloop.PULL, zloop.PUSH)

    async def main() -> None:
        stream = ztornado.ZMQStream(pull)
        calls: list[str] = []
        stream.set_close_callback(lambda: calls.append("closed"))
        stream.on_recv(lambda msg: calls.append("recv"))
        assert not stream.closed()
        stream.close()
        assert stream.closed() and calls == ["closed"]
        stream.close()  # idempotent
        assert calls == ["closed"]

    run(main)
    push.close()


def test_req_rep_through_streams(flavour: str, ctx: Any, zctx: Any) -> None:
    """A REP served by a ZMQStream echo callback, a REQ stream driving round trips from on_recv."""
    rep, req = sync_pair(flavour, ctx, zctx, zloop.REP, zloop.REQ)
    rounds = 200

    async def main() -> None:
        server = ztornado.ZMQStream(rep)
        client = ztornado.ZMQStream(req)
        server.on_recv_stream(lambda s, msg: s.send_multipart(msg))
        replies: list[bytes] = []
        done = Done()

        def on_reply(msg: list[bytes]) -> None:
            replies.append(msg[0])
            if len(replies) == rounds:
                done.set()
            else:
                client.send(b"%d" % len(replies))

        client.on_recv(on_reply)
        client.send(b"0")
        await done.wait()
        assert replies == [b"%d" % i for i in range(rounds)]
        server.close()
        client.close()

    run(main)


def test_awaitable_sockets_in_async_handler(flavour: str, ctx: Any, zctx: Any) -> None:
    """A tornado web handler awaits a REQ socket; the REP backend is a ZMQStream."""
    import tornado.httpclient
    import tornado.httpserver
    import tornado.netutil
    import tornado.web

    rep, req = sync_pair(flavour, ctx, zctx, zloop.REP, zloop.REQ)

    async def main() -> None:
        backend = ztornado.ZMQStream(rep)
        backend.on_recv_stream(lambda s, msg: s.send_multipart([msg[0].upper()]))
        areq = ztornado.Socket.from_socket(req)
        lock = tornado.locks.Lock()

        class Handler(tornado.web.RequestHandler):
            async def get(self, word: str) -> None:
                async with lock:  # one REQ socket: one request at a time
                    await areq.send_string(word)
                    reply = await areq.recv_string()
                self.write(reply)

        app = tornado.web.Application([(r"/(\w+)", Handler)])
        sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
        port = sockets[0].getsockname()[1]
        server = tornado.httpserver.HTTPServer(app)
        server.add_sockets(sockets)
        client = tornado.httpclient.AsyncHTTPClient()
        try:
            import asyncio

            words = ["alpha", "beta", "gamma", "delta"]
            responses = await asyncio.gather(
                *(client.fetch(f"http://127.0.0.1:{port}/{w}") for w in words)
            )
            assert [r.body for r in responses] == [w.upper().encode() for w in words]
        finally:
            server.stop()
            client.close()
            areq.close()
            backend.close()

    import tornado.locks

    run(main)
