"""In-loop ZAP authenticators: asyncio, tornado (IOLoop), trio and gevent.

The asyncio, tornado and trio cases run the same async scenarios through a small per-loop harness
(how to run, how to serve an echo server in the same loop, which authenticator, how to start and
cancel it); gevent's are the same scenarios written for greenlets. Every server is a zloop server
of the test's context; the refusals are observed on the *client* side (the monitor event
HANDSHAKE_FAILED_AUTH carries the ZAP status) and by the server receiving nothing from that client.
Everything synchronises on monitor events, polls and events with deadlines.
"""

from __future__ import annotations

import asyncio
import struct
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from zl_testing import DEADLINE, DEADLINE_MS

import zloop
from zloop.auth import Authenticator, ThreadAuthenticator, create_certificates, load_certificate
from zloop.auth.base import PendingVerdict
from zloop.constants import Event

FAILED_AUTH = int(Event.HANDSHAKE_FAILED_AUTH)


# -- sockets and keys (loop-neutral, synchronous set-up) ----------------------------------------------


def bound_server(ctx: Any, **options: Any) -> tuple[Any, str]:
    """A zloop REP with ``options`` (attribute names), bound to a fresh tcp port."""
    server = ctx.socket(zloop.REP)
    server.linger = 0
    for name, value in options.items():
        setattr(server, name, value)
    server.bind("tcp://127.0.0.1:*")
    return server, server.last_endpoint.decode()


def client_for(ctx: Any, endpoint: str, **options: Any) -> tuple[Any, Any]:
    """A zloop REQ with ``options``, monitored from before it connects: ``(client, monitor)``."""
    client = ctx.socket(zloop.REQ)
    client.linger = 0
    for name, value in options.items():
        setattr(client, name, value)
    monitor = client.get_monitor_socket()
    client.connect(endpoint)
    return client, monitor


def parse_event(msg: list[Any]) -> tuple[int, int]:
    event, value = struct.unpack("=HI", bytes(msg[0])[:6])
    return int(event), int(value)


class Keys:
    """A CURVE server pair, a client whose certificate is in ``cert_dir`` and one whose is not."""

    def __init__(self, tmp_path: Path) -> None:
        pytest.importorskip("nacl")
        self.cert_dir = tmp_path / "known"
        self.cert_dir.mkdir()
        secrets = tmp_path / "secrets"
        secrets.mkdir()
        self.server = load_certificate(create_certificates(secrets, "server")[1])
        self.known = load_certificate(create_certificates(self.cert_dir, "known")[1])
        self.known_b = load_certificate(create_certificates(self.cert_dir, "known_b")[1])
        self.unknown = load_certificate(create_certificates(secrets, "unknown")[1])

    def server_options(self) -> dict[str, Any]:
        public, secret = self.server
        return {"curve_server": True, "curve_publickey": public, "curve_secretkey": secret}

    def client_options(self, pair: tuple[bytes, bytes | None]) -> dict[str, Any]:
        public, secret = pair
        return {
            "curve_serverkey": self.server[0],
            "curve_publickey": public,
            "curve_secretkey": secret,
        }


PLAIN_GOOD = {"plain_username": b"admin", "plain_password": b"secret"}
PLAIN_BAD = {"plain_username": b"admin", "plain_password": b"wrong"}


# -- harnesses for the async loops ----------------------------------------------------------------------


class AsyncioHarness:
    """asyncio: tasks, zloop.adapters.asyncio, AsyncioAuthenticator."""

    def __init__(self) -> None:
        self.tasks: list[asyncio.Task[Any]] = []
        self.closers: list[Callable[[], Any]] = []

    def run(self, scenario: Callable[[Any], Awaitable[None]]) -> None:
        async def main() -> None:
            try:
                await asyncio.wait_for(scenario(self), 4 * DEADLINE)
            finally:
                for task in self.tasks:
                    task.cancel()
                await asyncio.gather(*self.tasks, return_exceptions=True)
                for close in self.closers:
                    close()

        asyncio.run(main())

    def wrap(self, raw: Any) -> Any:
        from zloop.adapters.asyncio import Socket

        return Socket.from_socket(raw)

    def event(self) -> Any:
        return asyncio.Event()

    async def wait(self, event: Any) -> None:
        await asyncio.wait_for(event.wait(), DEADLINE)

    def make_auth(self, ctx: Any) -> Any:
        from zloop.auth.asyncio import AsyncioAuthenticator

        return AsyncioAuthenticator(ctx)

    async def start(self, auth: Any) -> None:
        auth.start()

    async def cancel(self, auth: Any) -> None:
        """Cancel the authenticator's task (not stop()) and wait until it has ended."""
        task = auth.task
        task.cancel()
        done, _ = await asyncio.wait([task], timeout=DEADLINE)
        assert task in done

    def serve_echo(self, server: Any) -> list[tuple[bytes, str]]:
        """Echo every request on ``server`` from this loop; returns (body, User-Id) records."""
        received: list[tuple[bytes, str]] = []

        async def echo() -> None:
            sock = self.wrap(server)
            while True:
                frame = await sock.recv(copy=False)
                received.append((frame.bytes, frame.get("User-Id")))
                await sock.send(frame.bytes)

        self.tasks.append(asyncio.ensure_future(echo()))
        return received


class TornadoHarness(AsyncioHarness):
    """tornado: the echo server is a ZMQStream on the IOLoop, IOLoopAuthenticator."""

    def make_auth(self, ctx: Any) -> Any:
        from zloop.auth.ioloop import IOLoopAuthenticator

        return IOLoopAuthenticator(ctx)

    def serve_echo(self, server: Any) -> list[tuple[bytes, str]]:
        from zloop.adapters.tornado import ZMQStream

        received: list[tuple[bytes, str]] = []
        stream = ZMQStream(server)

        def on_recv(msg: list[Any]) -> None:
            received.append((msg[0].bytes, msg[0].get("User-Id")))
            stream.send_multipart([msg[0].bytes])

        stream.on_recv(on_recv, copy=False)
        self.closers.append(stream._release)
        return received


class TrioHarness:
    """trio: a nursery, zloop.adapters.trio, TrioAuthenticator (started with nursery.start)."""

    def __init__(self) -> None:
        self.nursery: Any = None
        self.scopes: dict[int, Any] = {}

    def run(self, scenario: Callable[[Any], Awaitable[None]]) -> None:
        import trio

        async def main() -> None:
            with trio.fail_after(4 * DEADLINE):
                async with trio.open_nursery() as nursery:
                    self.nursery = nursery
                    await scenario(self)
                    nursery.cancel_scope.cancel()

        trio.run(main)

    def wrap(self, raw: Any) -> Any:
        from zloop.adapters.trio import Socket

        return Socket.from_socket(raw)

    def event(self) -> Any:
        import trio

        return trio.Event()

    async def wait(self, event: Any) -> None:
        import trio

        with trio.fail_after(DEADLINE):
            await event.wait()

    def make_auth(self, ctx: Any) -> Any:
        from zloop.auth.trio import TrioAuthenticator

        return TrioAuthenticator(ctx)

    async def start(self, auth: Any) -> None:
        """``serve`` in a task of its own cancel scope (so :meth:`cancel` can cancel just it)."""
        import trio

        async def run(task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
            with trio.CancelScope() as scope:
                self.scopes[id(auth)] = scope
                await auth.serve(task_status=task_status)

        await self.nursery.start(run)

    async def cancel(self, auth: Any) -> None:
        """Cancel the scope around the serving task and wait until serving has ended."""
        import trio

        self.scopes.pop(id(auth)).cancel()
        with trio.fail_after(DEADLINE):
            while auth.is_alive() or auth.zap_socket is not None:
                await trio.sleep(0)

    def serve_echo(self, server: Any) -> list[tuple[bytes, str]]:
        received: list[tuple[bytes, str]] = []

        async def echo() -> None:
            sock = self.wrap(server)
            while True:
                frame = await sock.recv(copy=False)
                received.append((frame.bytes, frame.get("User-Id")))
                await sock.send(frame.bytes)

        self.nursery.start_soon(echo)
        return received


def _harness(name: str) -> Any:
    if name == "asyncio":
        return AsyncioHarness()
    if name == "tornado":
        pytest.importorskip("tornado")
        return TornadoHarness()
    pytest.importorskip("trio")
    return TrioHarness()


@pytest.fixture(params=["asyncio", "tornado", "trio"])
def h(request: pytest.FixtureRequest) -> Any:
    return _harness(request.param)


async def events_until(h: Any, monitor: Any, wanted: int) -> list[tuple[int, int]]:
    sock = h.wrap(monitor)
    seen: list[tuple[int, int]] = []
    while not seen or seen[-1][0] != wanted:
        assert await sock.poll(DEADLINE_MS), f"no event {wanted} within the deadline; saw {seen}"
        seen.append(parse_event(await sock.recv_multipart()))
    return seen


async def request(h: Any, client: Any, body: bytes) -> bytes:
    sock = h.wrap(client)
    await sock.send(body)
    assert await sock.poll(DEADLINE_MS), f"no reply to {body!r}"
    reply: bytes = await sock.recv()
    return reply


# -- the async scenarios ------------------------------------------------------------------------------


def test_plain_right_password_admitted_wrong_refused(h: Any, ctx: Any) -> None:
    async def scenario(h: Any) -> None:
        async with h.make_auth(ctx) as auth:
            assert auth.is_alive()
            auth.configure_plain("*", {"admin": "secret"})
            server, endpoint = bound_server(ctx, plain_server=True)
            received = h.serve_echo(server)
            bad, bad_mon = client_for(ctx, endpoint, **PLAIN_BAD)
            await h.wrap(bad).send(b"from bad")
            assert (FAILED_AUTH, 400) in await events_until(h, bad_mon, FAILED_AUTH)
            good, _ = client_for(ctx, endpoint, **PLAIN_GOOD)
            assert await request(h, good, b"from good") == b"from good"
            assert received == [(b"from good", "admin")]
        assert not auth.is_alive()

    h.run(scenario)


def test_curve_certificate_directory_admits_known_refuses_unknown(
    h: Any, ctx: Any, tmp_path: Path
) -> None:
    keys = Keys(tmp_path)

    async def scenario(h: Any) -> None:
        async with h.make_auth(ctx) as auth:
            auth.configure_curve("*", keys.cert_dir)
            server, endpoint = bound_server(ctx, **keys.server_options())
            received = h.serve_echo(server)
            stranger, mon = client_for(ctx, endpoint, **keys.client_options(keys.unknown))
            await h.wrap(stranger).send(b"stranger")
            assert (FAILED_AUTH, 400) in await events_until(h, mon, FAILED_AUTH)
            friend, _ = client_for(ctx, endpoint, **keys.client_options(keys.known))
            assert await request(h, friend, b"friend") == b"friend"
            assert received == [(b"friend", keys.known[0].decode())]

    h.run(scenario)


def test_ip_deny_refuses_null_with_a_zap_domain(h: Any, ctx: Any) -> None:
    async def scenario(h: Any) -> None:
        async with h.make_auth(ctx) as auth:
            auth.deny("127.0.0.1")
            server, endpoint = bound_server(ctx, zap_domain=b"global")  # NULL asks ZAP only then
            received = h.serve_echo(server)
            client, mon = client_for(ctx, endpoint)
            await h.wrap(client).send(b"denied")
            assert (FAILED_AUTH, 400) in await events_until(h, mon, FAILED_AUTH)
            # The same address passes once the domain is decided by an allow list instead (a list
            # is allow or deny, as in pyzmq: allow() after deny() raises, so clear it first).
            auth.deny_addresses.clear()
            auth.allow("127.0.0.1")
            other, _ = client_for(ctx, endpoint)
            assert await request(h, other, b"allowed") == b"allowed"
            assert received == [(b"allowed", "anonymous")]

    h.run(scenario)


def test_the_loop_keeps_serving_while_the_handler_awaits(h: Any, ctx: Any, tmp_path: Path) -> None:
    """An async CURVE callback holds one request; meanwhile the echo server in the same loop
    answers another client, then the held request is admitted."""
    keys = Keys(tmp_path)
    early, late = keys.known[0], keys.known_b[0]
    entered, release = h.event(), h.event()

    class Provider:
        async def callback(self, domain: str, key: bytes) -> bool:
            if key == late:
                entered.set()
                await release.wait()
            return key in (early, late)

    async def scenario(h: Any) -> None:
        async with h.make_auth(ctx) as auth:
            auth.configure_curve_callback("*", Provider())
            server, endpoint = bound_server(ctx, **keys.server_options())
            received = h.serve_echo(server)
            first, _ = client_for(ctx, endpoint, **keys.client_options(keys.known))
            assert await request(h, first, b"ping") == b"ping"
            second, _ = client_for(ctx, endpoint, **keys.client_options(keys.known_b))
            await h.wrap(second).send(b"late")
            await h.wait(entered)  # the handler holds the second client's request
            assert await request(h, first, b"while pending") == b"while pending"
            assert await h.wrap(second).poll(0) == 0
            release.set()
            assert await h.wrap(second).poll(DEADLINE_MS)
            assert await h.wrap(second).recv() == b"late"
            assert received == [
                (b"ping", early.decode()),
                (b"while pending", early.decode()),
                (b"late", late.decode()),
            ]

    h.run(scenario)


def test_stop_unbinds_so_a_new_authenticator_can_start(h: Any, ctx: Any) -> None:
    async def scenario(h: Any) -> None:
        auth = h.make_auth(ctx)
        await h.start(auth)
        assert auth.is_alive()
        with pytest.raises(zloop.ZMQError) as info:
            h.make_auth(ctx).start()  # the name is taken while the first one serves
        assert info.value.errno == zloop.EADDRINUSE
        auth.stop()
        assert not auth.is_alive() and auth.zap_socket is None
        auth.stop()  # idempotent
        again = h.make_auth(ctx)
        await h.start(again)
        again.configure_plain("*", {"admin": "secret"})
        server, endpoint = bound_server(ctx, plain_server=True)
        received = h.serve_echo(server)
        good, _ = client_for(ctx, endpoint, **PLAIN_GOOD)
        assert await request(h, good, b"after restart") == b"after restart"
        assert received == [(b"after restart", "admin")]
        again.stop()

    h.run(scenario)


def test_cancelling_the_handler_answers_the_held_request_and_unbinds(
    h: Any, ctx: Any, tmp_path: Path
) -> None:
    """Cancelled while an async callback decides: that request is answered 500 (the REP is not
    left half-way), the ZAP name is free again, and a new authenticator serves."""
    keys = Keys(tmp_path)
    entered = h.event()

    class Forever:
        async def callback(self, domain: str, key: bytes) -> bool:
            entered.set()
            await h.event().wait()  # never set
            return True

    async def scenario(h: Any) -> None:
        auth = h.make_auth(ctx)
        await h.start(auth)
        auth.configure_curve_callback("*", Forever())
        server, endpoint = bound_server(ctx, **keys.server_options())
        received = h.serve_echo(server)
        client, mon = client_for(ctx, endpoint, **keys.client_options(keys.known))
        await h.wrap(client).send(b"held")
        await h.wait(entered)
        await h.cancel(auth)
        assert not auth.is_alive() and auth.zap_socket is None
        assert (FAILED_AUTH, 500) in await events_until(h, mon, FAILED_AUTH)
        again = h.make_auth(ctx)
        await h.start(again)
        again.configure_curve("*", keys.cert_dir)
        # A refused client does not reconnect (libzmq 4.3); a new one is served by the new handler.
        newcomer, _ = client_for(ctx, endpoint, **keys.client_options(keys.known))
        assert await request(h, newcomer, b"after cancel") == b"after cancel"
        assert received == [(b"after cancel", keys.known[0].decode())]
        again.stop()

    h.run(scenario)


# -- loop-specific shapes ------------------------------------------------------------------------------


def test_trio_cancel_scope_around_async_with_stops_cleanly(ctx: Any) -> None:
    trio = pytest.importorskip("trio")
    from zloop.auth.trio import TrioAuthenticator

    async def main() -> None:
        with trio.fail_after(DEADLINE):
            with trio.CancelScope() as scope:
                async with TrioAuthenticator(ctx) as auth:
                    assert auth.is_alive()
                    scope.cancel()
                    await trio.sleep_forever()
            assert scope.cancelled_caught
            assert not auth.is_alive() and auth.zap_socket is None
            async with trio.open_nursery() as nursery:  # the name is free: bind it again
                again = TrioAuthenticator(zloop_trio_context(ctx))
                await nursery.start(again.serve)
                assert again.is_alive() and again.context is ctx
                again.stop()
            assert not again.is_alive()

    trio.run(main)


def zloop_trio_context(ctx: Any) -> Any:
    from zloop.adapters.trio import Context

    return Context.shadow(ctx)


def test_tornado_authenticator_started_before_the_ioloop_runs(ctx: Any) -> None:
    pytest.importorskip("tornado")
    from tornado.ioloop import IOLoop

    from zloop.auth.ioloop import IOLoopAuthenticator

    io_loop = IOLoop(make_current=False)
    try:
        auth = IOLoopAuthenticator(ctx, io_loop=io_loop)
        auth.start()  # bound now, served once the loop runs
        auth.configure_plain("*", {"admin": "secret"})
        server, endpoint = bound_server(ctx, plain_server=True)
        harness = TornadoHarness()

        async def scenario() -> None:
            received = harness.serve_echo(server)
            good, _ = client_for(ctx, endpoint, **PLAIN_GOOD)
            assert await request(harness, good, b"tornado") == b"tornado"
            assert received == [(b"tornado", "admin")]
            auth.stop()
            for close in harness.closers:
                close()

        io_loop.run_sync(scenario, timeout=4 * DEADLINE)
    finally:
        io_loop.close()
    assert not auth.is_alive() and auth.zap_socket is None


def test_asyncio_start_needs_a_loop(ctx: Any) -> None:
    from zloop.auth.asyncio import AsyncioAuthenticator

    auth = AsyncioAuthenticator(ctx)
    with pytest.raises(RuntimeError, match="running event loop"):
        auth.start()
    assert auth.zap_socket is None  # nothing was bound
    with ThreadAuthenticator(ctx):  # proof: the name is free
        pass


@pytest.mark.interop
def test_libzmq_plain_client_against_asyncio_authenticator(ctx: Any, zctx: Any) -> None:
    import zmq

    from zloop.auth.asyncio import AsyncioAuthenticator

    harness = AsyncioHarness()

    async def scenario(h: Any) -> None:
        async with AsyncioAuthenticator(ctx) as auth:
            auth.configure_plain("*", {"admin": "secret"})
            server, endpoint = bound_server(ctx, plain_server=True)
            received = h.serve_echo(server)
            bad = zctx.socket(zmq.REQ)
            bad.linger = 0
            bad.plain_username, bad.plain_password = b"admin", b"wrong"
            bad_mon = bad.get_monitor_socket()
            bad.connect(endpoint)
            await h.wrap(bad).send(b"from libzmq, wrong")
            assert (FAILED_AUTH, 400) in await events_until(h, bad_mon, FAILED_AUTH)
            good = zctx.socket(zmq.REQ)
            good.linger = 0
            good.plain_username, good.plain_password = b"admin", b"secret"
            good.connect(endpoint)
            assert await request(h, good, b"from libzmq") == b"from libzmq"
            assert received == [(b"from libzmq", "admin")]

    harness.run(scenario)


# -- gevent ---------------------------------------------------------------------------------------------


@pytest.fixture
def green() -> Any:
    """gevent without monkey-patching (as tests/adapters): only the hub and green sockets."""
    pytest.importorskip("gevent")
    from zloop.adapters import gevent as zgreen

    return zgreen


def green_echo(green: Any, server: Any) -> tuple[Any, list[tuple[bytes, str]]]:
    import gevent

    received: list[tuple[bytes, str]] = []
    sock = green.Socket.from_socket(server)

    def echo() -> None:
        while True:
            frame = sock.recv(copy=False)
            received.append((frame.bytes, frame.get("User-Id")))
            sock.send(frame.bytes)

    return gevent.spawn(echo), received


def green_events_until(green: Any, monitor: Any, wanted: int) -> list[tuple[int, int]]:
    sock = green.Socket.from_socket(monitor)
    seen: list[tuple[int, int]] = []
    while not seen or seen[-1][0] != wanted:
        assert sock.poll(DEADLINE_MS), f"no event {wanted} within the deadline; saw {seen}"
        seen.append(parse_event(sock.recv_multipart()))
    return seen


def green_request(green: Any, client: Any, body: bytes) -> bytes:
    sock = green.Socket.from_socket(client)
    sock.send(body)
    assert sock.poll(DEADLINE_MS), f"no reply to {body!r}"
    reply: bytes = sock.recv()
    return reply


def test_gevent_plain_curve_and_ip_deny(green: Any, ctx: Any, tmp_path: Path) -> None:
    from zloop.auth.gevent import GeventAuthenticator

    keys = Keys(tmp_path)
    with GeventAuthenticator(green.Context.shadow(ctx)) as auth:
        assert auth.context is ctx and auth.is_alive()
        auth.configure_plain("*", {"admin": "secret"})
        auth.configure_curve("global", keys.cert_dir)
        plain_srv, plain_ep = bound_server(ctx, plain_server=True)
        curve_srv, curve_ep = bound_server(ctx, zap_domain=b"global", **keys.server_options())
        null_srv, null_ep = bound_server(ctx, zap_domain=b"null")
        echoes = [green_echo(green, s) for s in (plain_srv, curve_srv, null_srv)]
        try:
            bad, bad_mon = client_for(ctx, plain_ep, **PLAIN_BAD)
            green.Socket.from_socket(bad).send(b"bad")
            assert (FAILED_AUTH, 400) in green_events_until(green, bad_mon, FAILED_AUTH)
            good, _ = client_for(ctx, plain_ep, **PLAIN_GOOD)
            assert green_request(green, good, b"good") == b"good"
            assert echoes[0][1] == [(b"good", "admin")]

            stranger, mon = client_for(ctx, curve_ep, **keys.client_options(keys.unknown))
            green.Socket.from_socket(stranger).send(b"stranger")
            assert (FAILED_AUTH, 400) in green_events_until(green, mon, FAILED_AUTH)
            friend, _ = client_for(ctx, curve_ep, **keys.client_options(keys.known))
            assert green_request(green, friend, b"friend") == b"friend"
            assert echoes[1][1] == [(b"friend", keys.known[0].decode())]

            auth.deny("127.0.0.1")
            null_client, mon = client_for(ctx, null_ep)
            green.Socket.from_socket(null_client).send(b"denied")
            assert (FAILED_AUTH, 400) in green_events_until(green, mon, FAILED_AUTH)
            assert echoes[2][1] == []
        finally:
            for greenlet, _ in echoes:
                greenlet.kill()
    assert not auth.is_alive() and auth.zap_socket is None


def test_gevent_hub_keeps_serving_while_a_callback_blocks_its_greenlet(
    green: Any, ctx: Any, tmp_path: Path
) -> None:
    import gevent.event

    from zloop.auth.gevent import GeventAuthenticator

    keys = Keys(tmp_path)
    early, late = keys.known[0], keys.known_b[0]
    entered, release = gevent.event.Event(), gevent.event.Event()

    class Provider:
        def callback(self, domain: str, key: bytes) -> bool:
            if key == late:
                entered.set()
                release.wait()  # blocks the handler's greenlet only
            return key in (early, late)

    with GeventAuthenticator(ctx) as auth:
        auth.configure_curve_callback("*", Provider())
        server, endpoint = bound_server(ctx, **keys.server_options())
        echo, received = green_echo(green, server)
        try:
            first, _ = client_for(ctx, endpoint, **keys.client_options(keys.known))
            assert green_request(green, first, b"ping") == b"ping"
            second, _ = client_for(ctx, endpoint, **keys.client_options(keys.known_b))
            green.Socket.from_socket(second).send(b"late")
            assert entered.wait(DEADLINE)
            assert green_request(green, first, b"while pending") == b"while pending"
            auth.allow("127.0.0.1")  # the policy lock is not held against other greenlets
            assert green.Socket.from_socket(second).poll(0) == 0
            release.set()
            assert green.Socket.from_socket(second).poll(DEADLINE_MS)
            assert green.Socket.from_socket(second).recv() == b"late"
            assert [body for body, _ in received] == [b"ping", b"while pending", b"late"]
        finally:
            echo.kill()


def test_gevent_kill_answers_the_held_request_and_unbinds(
    green: Any, ctx: Any, tmp_path: Path
) -> None:
    import gevent.event

    from zloop.auth.gevent import GeventAuthenticator

    keys = Keys(tmp_path)
    entered = gevent.event.Event()

    class Forever:
        def callback(self, domain: str, key: bytes) -> bool:
            entered.set()
            gevent.event.Event().wait()
            return True

    auth = GeventAuthenticator(ctx)
    auth.start()
    auth.configure_curve_callback("*", Forever())
    server, endpoint = bound_server(ctx, **keys.server_options())
    echo, received = green_echo(green, server)
    try:
        client, mon = client_for(ctx, endpoint, **keys.client_options(keys.known))
        green.Socket.from_socket(client).send(b"held")
        assert entered.wait(DEADLINE)
        auth.greenlet.kill()  # the user's cancellation, not stop()
        assert not auth.is_alive() and auth.zap_socket is None
        assert (FAILED_AUTH, 500) in green_events_until(green, mon, FAILED_AUTH)
        with GeventAuthenticator(ctx) as again:  # the name is free again
            again.configure_curve("*", keys.cert_dir)
            with pytest.raises(RuntimeError, match="already running"):
                again.start()
            newcomer, _ = client_for(ctx, endpoint, **keys.client_options(keys.known))
            assert green_request(green, newcomer, b"after kill") == b"after kill"
        assert received == [(b"after kill", keys.known[0].decode())]
    finally:
        echo.kill()
        auth.stop()


def test_gevent_refuses_an_async_callback(green: Any, ctx: Any, tmp_path: Path) -> None:
    from zloop.auth.gevent import GeventAuthenticator

    keys = Keys(tmp_path)

    class AsyncProvider:
        async def callback(self, domain: str, key: bytes) -> bool:
            return True

    with GeventAuthenticator(ctx) as auth:
        auth.configure_curve_callback("*", AsyncProvider())
        server, endpoint = bound_server(ctx, **keys.server_options())
        echo, received = green_echo(green, server)
        try:
            client, mon = client_for(ctx, endpoint, **keys.client_options(keys.known))
            green.Socket.from_socket(client).send(b"x")
            assert (FAILED_AUTH, 500) in green_events_until(green, mon, FAILED_AUTH)
            assert received == []
        finally:
            echo.kill()


# -- shared pieces ----------------------------------------------------------------------------------------


def test_an_awaitable_verdict_is_never_a_yes(ctx: Any) -> None:
    class AsyncProvider:
        async def callback(self, domain: str, key: bytes) -> bool:
            return False

    auth = Authenticator(ctx)
    auth.configure_curve_callback("*", AsyncProvider())
    request = [b"1.0", b"7", b"", b"127.0.0.1", b"", b"CURVE", bytes(32)]
    with pytest.raises(PendingVerdict) as info:
        auth.decide(request)
    assert auth.error_reply(request, info.value) == [
        b"1.0",
        b"7",
        b"500",
        b"Internal error",
        b"",
        b"",
    ]
    assert auth.decide(request, curve_verdict=False)[2:4] == [b"400", b"Unknown key"]
    assert auth.decide(request, curve_verdict=True)[2] == b"200"


def test_contexts_accepted_and_refused(ctx: Any, zctx: Any) -> None:
    from zloop.adapters.asyncio import Context as AsyncContext
    from zloop.auth.asyncio import AsyncioAuthenticator

    actx = AsyncContext()
    try:
        assert AsyncioAuthenticator(actx).context is actx
        # The thread authenticator also gets a plain zloop ZAP socket from an asyncio Context.
        with ThreadAuthenticator(actx) as auth:
            assert type(auth.zap_socket) is zloop.Socket
    finally:
        actx.destroy(linger=0)
    with pytest.raises(TypeError, match="zloop Context"):
        AsyncioAuthenticator(zctx)


def test_import_zloop_auth_imports_no_event_loop() -> None:
    code = (
        "import sys, zloop.auth\n"
        "loaded = [m for m in sys.modules if m.split('.')[0] in ('trio', 'gevent', 'tornado',"
        " 'asyncio') or m.startswith('zloop.adapters') or m.startswith('zloop.auth.')"
        " and m.split('.')[2] in ('asyncio', 'ioloop', 'trio', 'gevent')]\n"
        "assert not loaded, loaded\n"
        "from zloop.auth import AsyncioAuthenticator, IOLoopAuthenticator\n"
        "import zloop.auth.asyncio, zloop.auth.ioloop\n"
        "assert AsyncioAuthenticator is zloop.auth.asyncio.AsyncioAuthenticator\n"
        "assert issubclass(IOLoopAuthenticator, AsyncioAuthenticator)\n"
        "print('ok')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    with pytest.raises(AttributeError):
        zloop.auth.NoSuchAuthenticator  # noqa: B018
