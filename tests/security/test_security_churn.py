"""Security under churn (issue 7 follow-up): authenticated servers whose clients come and go, fail
authentication, vanish before or during the ZAP exchange, or send a greeting and fall silent.

After the churn settles the tests prove that nothing is left behind:

* the ZAP handler socket holds no pipes (every ZAP exchange ended, including those of connections
  that died while the handler held their request);
* the server socket holds exactly the pipes of the clients still connected;
* the server's I/O thread watches exactly the listener and the live connections' fds, and no
  ``StreamEngine``/``Session`` of a closed connection is still reachable (``gc`` count after a
  collection), nor any ``ZapClient``;
* the admitted clients still exchange messages.

Synchronisation, never sleeps: the server's monitor counts (ACCEPTED, HANDSHAKE_*, DISCONNECTED)
through an unlimited reader, a command posted to the server's I/O thread as a barrier (it runs
after everything that thread was doing), the clients' monitors, a counted ``ZapClient`` (started /
finished exchanges), the handler's decisions counted under a condition, the handler socket's
``pipe_terminated`` wrapped to notify a condition, then a command posted to the handler socket as
a barrier for its thread (the notification comes from inside the command that drops the pipe).

The clients live in a context of their own, so the server context's I/O thread serves the server
only. Counts are scaled by ZLOOP_STRESS_SCALE for the ``stress`` runs.

The churn runs with every authenticator: thread and asyncio (all scenarios), trio, gevent and
tornado IOLoop (the churn itself; each loop runs in a thread of its own), over tcp and ipc.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import gc
import itertools
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gevent
import gevent.event
import pytest
import trio
from test_curve_sockets import Keys, keys  # noqa: F401 (keys: the fixture, reused)
from tornado.ioloop import IOLoop
from zl_testing import (
    DEADLINE,
    DEADLINE_MS,
    STRESS_SCALE,
    CloseWhilePosting,
    endpoint_for,
    fd_readable,
)

import zloop
import zloop.io.engine
from zloop import z85
from zloop.auth import ThreadAuthenticator
from zloop.auth.asyncio import AsyncioAuthenticator
from zloop.auth.base import PendingVerdict
from zloop.auth.gevent import GeventAuthenticator
from zloop.auth.ioloop import IOLoopAuthenticator
from zloop.auth.trio import TrioAuthenticator
from zloop.constants import ContextOption, Event
from zloop.io.engine import StreamEngine
from zloop.io.session import Session
from zloop.security import ZapClient

POLLIN = zloop.POLLIN
SCALE = STRESS_SCALE

ACCEPTED = int(Event.ACCEPTED)
ACCEPT_FAILED = int(Event.ACCEPT_FAILED)
SUCCEEDED = int(Event.HANDSHAKE_SUCCEEDED)
FAILED_AUTH = int(Event.HANDSHAKE_FAILED_AUTH)
FAILED_PROTOCOL = int(Event.HANDSHAKE_FAILED_PROTOCOL)
NO_DETAIL = int(Event.HANDSHAKE_FAILED_NO_DETAIL)
DISCONNECTED = int(Event.DISCONNECTED)
CONNECTED = int(Event.CONNECTED)
SERVER_EVENTS = ACCEPTED | ACCEPT_FAILED | SUCCEEDED | FAILED_AUTH | FAILED_PROTOCOL
SERVER_EVENTS |= NO_DETAIL | DISCONNECTED
CLIENT_EVENTS = CONNECTED | SUCCEEDED | FAILED_AUTH | FAILED_PROTOCOL | NO_DETAIL | DISCONNECTED


def scaled(count: int) -> int:
    return max(1, round(count * SCALE))


# ----------------------------------------------------------------------------------- waiting


def wait_cond(cond: threading.Condition, predicate: Callable[[], bool], what: str) -> None:
    """Wait on ``cond`` (notified by whoever changes the state) until ``predicate`` holds."""
    with cond:
        assert cond.wait_for(predicate, DEADLINE), f"timed out waiting for {what}"


def io_barrier(ctx: zloop.Context) -> None:
    """Return once every I/O thread of ``ctx`` has finished what it was doing (a posted command
    runs after the callback in progress and every command posted before it)."""
    for io in list(ctx._io_threads):
        done = threading.Event()
        io.post(done.set)
        assert done.wait(DEADLINE), f"{io} did not run a posted command"


def owner_barrier(sock: zloop.Socket) -> None:
    """Return once the thread that owns ``sock`` ran a command posted now: the command it may have
    been running (say, the one that made it forget a pipe) has returned, and so have the calls
    that ran it."""
    done = threading.Event()
    sock._post(done.set, 0)
    assert done.wait(DEADLINE), f"{sock} did not run a posted command"


def live_objects(kind: type, owner: Callable[[Any], bool]) -> list[Any]:
    """The instances of exactly ``kind`` still reachable after a full collection."""
    gc.collect()
    return [obj for obj in gc.get_objects() if type(obj) is kind and owner(obj)]


# ------------------------------------------------------------------------ ZAP instrumentation


class ZapTally:
    """Counts the ZAP exchanges the server's engines start and finish (reply, or closed)."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.started = 0
        self.finished = 0

    def bump(self, name: str) -> None:
        with self.cond:
            setattr(self, name, getattr(self, name) + 1)
            self.cond.notify_all()

    def wait_all_finished(self) -> None:
        wait_cond(self.cond, lambda: self.finished == self.started, "every ZAP exchange to end")


@pytest.fixture
def tally(monkeypatch: pytest.MonkeyPatch) -> ZapTally:
    """Count the engines' ZAP exchanges (``zloop.io.engine.ZapClient`` replaced by a counting
    subclass; behaviour unchanged)."""
    counts = ZapTally()

    class CountingZapClient(ZapClient):
        def __init__(
            self,
            post: Callable[[Callable[[], Any]], None],
            handler: Any,
            request: list[Any],
            on_reply: Callable[[Any], None],
        ) -> None:
            counts.bump("started")

            def reply(frames: Any) -> None:
                counts.bump("finished")
                on_reply(frames)

            super().__init__(post, handler, request, reply)

        def close(self) -> None:
            if not self._done:
                counts.bump("finished")
            super().close()

    monkeypatch.setattr(zloop.io.engine, "ZapClient", CountingZapClient)
    return counts


def watch_pipes(sock: Any) -> threading.Condition:
    """A condition notified whenever ``sock``'s pattern forgets a pipe (in the owner's thread)."""
    cond = threading.Condition()
    pattern = sock._pattern
    original = pattern.pipe_terminated

    def pipe_terminated(pipe: Any) -> None:
        original(pipe)
        with cond:
            cond.notify_all()

    pattern.pipe_terminated = pipe_terminated
    return cond


# ------------------------------------------------------------------------------ mechanisms


@dataclass
class Mech:
    """One mechanism's server options, client options per kind of client, and raw greeting."""

    name: str
    server_options: dict[str, Any]
    clients: dict[str, dict[str, Any]]
    gated_credential: bytes  # the first ZAP credential frame of the "gated" client
    configure: Callable[[Any], None]

    def greeting(self) -> bytes:
        """A client's 64-byte ZMTP 3.0 greeting for this mechanism (and nothing after it)."""
        return (
            b"\xff" + bytes(8) + b"\x7f" + b"\x03\x00" + self.name.encode().ljust(20, b"\0")
        ) + bytes(32)


def plain_mech() -> Mech:
    passwords = {"admin": "secret", "gated": "secret"}
    return Mech(
        name="PLAIN",
        server_options={"plain_server": True},
        clients={
            "admitted": {"plain_username": b"admin", "plain_password": b"secret"},
            "refused": {"plain_username": b"admin", "plain_password": b"wrong"},
            "gated": {"plain_username": b"gated", "plain_password": b"secret"},
        },
        gated_credential=b"gated",
        configure=lambda auth: auth.configure_plain("*", passwords),
    )


def curve_mech(k: Keys) -> Mech:
    def client(pair: tuple[bytes, bytes]) -> dict[str, Any]:
        return {
            "curve_serverkey": k.server[0],
            "curve_publickey": pair[0],
            "curve_secretkey": pair[1],
        }

    return Mech(
        name="CURVE",
        server_options={
            "curve_server": True,
            "curve_publickey": k.server[0],
            "curve_secretkey": k.server[1],
        },
        # ``client2`` is admitted too (its certificate is in k.admitted); ``stranger`` is not.
        clients={
            "admitted": client(k.client),
            "refused": client(k.stranger),
            "gated": client(k.client2),
        },
        gated_credential=z85.decode(k.client2[0]),
        configure=lambda auth: auth.configure_curve("*", str(k.admitted)),
    )


@pytest.fixture(params=["PLAIN", "CURVE"])
def mech(request: pytest.FixtureRequest) -> Mech:
    if request.param == "PLAIN":
        return plain_mech()
    return curve_mech(request.getfixturevalue("keys"))


# ---------------------------------------------------------------------------- authenticators


class Gate:
    """Holds the ZAP request of the "gated" client inside the handler until released.

    The thread authenticator waits on an inproc PAIR of a private context (so that terminating
    the server's context does not touch it); the asyncio one awaits a future (a pending verdict);
    the trio and gevent ones wait on an event of their loop, set through ``waker``.
    """

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.released = False
        self.future: asyncio.Future[bool] | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.waker: Callable[[], None] | None = None  # sets the held event, from any thread
        self.ctx = zloop.Context(io_threads=0)
        self.rx = self.ctx.socket(zloop.PAIR)
        self.rx.bind("inproc://gate")
        self.tx = self.ctx.socket(zloop.PAIR)
        self.tx.connect("inproc://gate")

    def release(self) -> None:
        """Let the held request (or the next one, if none is held yet) through, once."""
        if self.released:
            return
        self.released = True
        self.tx.send(b"go")
        fut, loop = self.future, self.loop
        if fut is not None and loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(lambda: fut.done() or fut.set_result(True))
        if self.waker is not None:
            self.waker()

    def rearm(self) -> None:
        """Hold the next gated request (call while none is held)."""
        self.entered.clear()
        self.released = False
        self.future = None
        self.waker = None

    def close(self) -> None:
        self.ctx.destroy(linger=0)


class Instrumented:
    """Mixed into an authenticator: counts decisions, holds gated requests."""

    gated_credential = b""
    gate: Gate
    decided: int
    decisions: threading.Condition

    def _setup(self, gated_credential: bytes) -> None:
        self.gated_credential = gated_credential
        self.gate = Gate()
        self.decided = 0
        self.decisions = threading.Condition()

    def _count(self) -> None:
        with self.decisions:
            self.decided += 1
            self.decisions.notify_all()

    def _is_gated(self, msg: Any) -> bool:
        frames = [bytes(f) for f in msg]
        return len(frames) > 6 and frames[6] == self.gated_credential


class ChurnThreadAuthenticator(Instrumented, ThreadAuthenticator):
    def decide(self, msg: Any, *, curve_verdict: bool | None = None) -> list[bytes] | None:
        if self._is_gated(msg):
            self.gate.entered.set()
            # Held until the test releases it, or until stop() sent TERMINATE (the thread's own
            # control socket, polled without reading: the serve loop sees it right after this).
            ready = dict(zloop.poll([(self.gate.rx, POLLIN), (self._stop_rx, POLLIN)], DEADLINE_MS))
            if self.gate.rx in ready:
                self.gate.rx.recv()
        self._count()
        return super().decide(msg, curve_verdict=curve_verdict)


class ChurnAsyncioAuthenticator(Instrumented, AsyncioAuthenticator):
    def decide(self, msg: Any, *, curve_verdict: bool | None = None) -> list[bytes] | None:
        if curve_verdict is None and self._is_gated(msg):
            # The in-loop authenticators await a pending verdict without blocking the loop.
            loop = asyncio.get_running_loop()
            self.gate.loop = loop
            self.gate.future = fut = loop.create_future()
            if self.gate.released:
                fut.set_result(True)
            self.gate.entered.set()
            raise PendingVerdict("*", fut)
        self._count()
        return super().decide(msg, curve_verdict=curve_verdict)


class ChurnIOLoopAuthenticator(ChurnAsyncioAuthenticator, IOLoopAuthenticator):
    """The tornado flavour: an asyncio authenticator built with tornado's signature."""


class ChurnTrioAuthenticator(Instrumented, TrioAuthenticator):
    def decide(self, msg: Any, *, curve_verdict: bool | None = None) -> list[bytes] | None:
        if curve_verdict is None and self._is_gated(msg):
            event = trio.Event()
            token = trio.lowlevel.current_trio_token()

            def wake() -> None:
                with contextlib.suppress(trio.RunFinishedError):
                    trio.from_thread.run_sync(event.set, trio_token=token)

            async def verdict() -> bool:
                await event.wait()
                return True

            self.gate.waker = wake
            if self.gate.released:
                event.set()
            self.gate.entered.set()
            raise PendingVerdict("*", verdict())
        self._count()
        return super().decide(msg, curve_verdict=curve_verdict)


class ChurnGeventAuthenticator(Instrumented, GeventAuthenticator):
    def decide(self, msg: Any, *, curve_verdict: bool | None = None) -> list[bytes] | None:
        if self._is_gated(msg):
            # Blocks this greenlet only (the hub keeps serving); killed by stop() meanwhile.
            event = gevent.event.Event()
            loop = gevent.get_hub().loop
            self.gate.waker = lambda: loop.run_callback_threadsafe(event.set)
            if self.gate.released:
                event.set()
            self.gate.entered.set()
            event.wait(DEADLINE)
        self._count()
        return super().decide(msg, curve_verdict=curve_verdict)


class LoopThread:
    """An asyncio loop running in a thread of its own; ``call`` runs a function in it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="churn-asyncio")
        self.thread.start()

    def call(self, fn: Callable[[], Any]) -> Any:
        async def run() -> Any:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(DEADLINE)

    def serve(self, auth: Any) -> None:
        self.call(auth.start)

    def close(self) -> None:
        if self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(DEADLINE)
        assert not self.thread.is_alive()
        self.loop.close()


class TrioThread:
    """``trio.run`` in a thread of its own, with a nursery for the serving tasks."""

    def __init__(self) -> None:
        self.ready = threading.Event()
        self.thread = threading.Thread(target=trio.run, args=(self._main,), name="churn-trio")
        self.thread.start()
        assert self.ready.wait(DEADLINE), "trio did not start"

    async def _main(self) -> None:
        self.token = trio.lowlevel.current_trio_token()
        self.stopped = trio.Event()
        async with trio.open_nursery() as nursery:
            self.nursery = nursery
            self.ready.set()
            await self.stopped.wait()
            nursery.cancel_scope.cancel()

    def call(self, fn: Callable[[], Any]) -> Any:
        return trio.from_thread.run_sync(fn, trio_token=self.token)

    def serve(self, auth: Any) -> None:
        async def start() -> None:
            await self.nursery.start(auth.serve)

        trio.from_thread.run(start, trio_token=self.token)

    def close(self) -> None:
        with contextlib.suppress(trio.RunFinishedError):
            trio.from_thread.run_sync(self.stopped.set, trio_token=self.token)
        self.thread.join(DEADLINE)
        assert not self.thread.is_alive()


class GeventThread:
    """A gevent hub in a thread of its own; ``call`` runs a function in a new greenlet there."""

    def __init__(self) -> None:
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._main, name="churn-gevent")
        self.thread.start()
        assert self.ready.wait(DEADLINE), "gevent did not start"

    def _main(self) -> None:
        self.hub = gevent.get_hub()
        stopped = gevent.event.Event()
        # An active async watcher keeps the loop alive while nothing else is watched; send()
        # (thread-safe) ends the thread.
        self.stopper = self.hub.loop.async_()
        self.stopper.start(stopped.set)
        self.ready.set()
        stopped.wait()
        self.stopper.close()
        self.hub.destroy(destroy_loop=True)

    def call(self, fn: Callable[[], Any]) -> Any:
        done = threading.Event()
        box: dict[str, Any] = {}

        def job() -> None:
            try:
                box["result"] = fn()
            except BaseException as exc:  # re-raised in the caller
                box["error"] = exc
            finally:
                done.set()

        self.hub.loop.run_callback_threadsafe(lambda: gevent.spawn(job))
        assert done.wait(DEADLINE), "the gevent thread did not run a call"
        if "error" in box:
            raise box["error"]
        return box.get("result")

    def serve(self, auth: Any) -> None:
        self.call(auth.start)

    def close(self) -> None:
        if self.thread.is_alive():
            self.stopper.send()
            self.thread.join(DEADLINE)
        assert not self.thread.is_alive()


RUNNERS: dict[str, Callable[[], Any]] = {
    "thread": lambda: None,
    "asyncio": LoopThread,
    "ioloop": LoopThread,
    "trio": TrioThread,
    "gevent": GeventThread,
}


@dataclass
class AuthKind:
    """How to start/stop one kind of authenticator from the test thread."""

    name: str
    loop: Any = None  # the runner of the loop the authenticator serves in (None: a thread)
    made: list[Any] = field(default_factory=list)

    def start(self, ctx: zloop.Context, mech: Mech) -> Any:
        auth: Any
        if self.name == "thread":
            auth = ChurnThreadAuthenticator(ctx)
        elif self.name == "asyncio":
            auth = ChurnAsyncioAuthenticator(ctx, loop=self.loop.loop)
        elif self.name == "ioloop":
            auth = ChurnIOLoopAuthenticator(ctx, io_loop=self.loop.call(IOLoop.current))
        elif self.name == "trio":
            auth = ChurnTrioAuthenticator(ctx)
        else:
            auth = ChurnGeventAuthenticator(ctx)
        auth._setup(mech.gated_credential)
        mech.configure(auth)
        if self.loop is None:
            auth.start()
        else:
            self.loop.serve(auth)
        self.made.append(auth)
        return auth

    def stop(self, auth: Any) -> None:
        auth.gate.release()
        if self.loop is None:
            auth.stop()
        else:
            self.loop.call(auth.stop)

    def close(self) -> None:
        for auth in self.made:
            with contextlib.suppress(Exception):
                self.stop(auth)
            auth.gate.close()
        if self.loop is not None:
            self.loop.close()


def make_auth_kind(name: str) -> Iterator[AuthKind]:
    kind = AuthKind(name, RUNNERS[name]())
    try:
        yield kind
    finally:
        kind.close()


@pytest.fixture(params=["thread", "asyncio"])
def auth_kind(request: pytest.FixtureRequest) -> Iterator[AuthKind]:
    yield from make_auth_kind(request.param)


@pytest.fixture(params=["trio", "gevent", "ioloop"])
def loop_auth_kind(request: pytest.FixtureRequest) -> Iterator[AuthKind]:
    """The other in-loop authenticators (churn coverage only)."""
    yield from make_auth_kind(request.param)


@pytest.fixture
def cctx() -> Iterator[zloop.Context]:
    """The clients' context (the server context's I/O thread then serves the server only)."""
    context = zloop.Context()
    context.set(ContextOption.MAX_SOCKETS, 8192)
    try:
        yield context
    finally:
        context.destroy(linger=0)


# --------------------------------------------------------------------------------- the server


class Server:
    """A ROUTER server with the mechanism's options, its monitor counted through an unlimited
    reader, and the introspection the leak checks need."""

    def __init__(
        self, ctx: zloop.Context, mech: Mech, endpoint: str = "tcp://127.0.0.1:*", **options: Any
    ) -> None:
        self.ctx = ctx
        sock = ctx.socket(zloop.ROUTER)
        sock.linger = 0
        for name, value in {**mech.server_options, **options}.items():
            setattr(sock, name, value)
        addr = f"inproc://churn-monitor-{id(sock):x}"
        sock.monitor(addr, SERVER_EVENTS)
        reader = ctx.socket(zloop.PAIR)
        reader.linger = 0
        reader.rcvhwm = 0  # with the monitor's pipe unlimited, no event is ever dropped
        reader.connect(addr)
        sock.bind(endpoint)
        self.sock = sock
        self.reader = reader
        self.endpoint = sock.last_endpoint.decode()
        self.counts: collections.Counter[int] = collections.Counter()

    def _read_ready(self) -> None:
        while self.reader.poll(0):
            header = self.reader.recv_multipart()[0]
            event, _ = struct.unpack("=HI", bytes(header)[:6])
            self.counts[event] += 1

    def wait(self, predicate: Callable[[collections.Counter[int]], bool], what: str) -> None:
        deadline = time.monotonic() + DEADLINE
        self._read_ready()
        while not predicate(self.counts):
            remaining = deadline - time.monotonic()
            assert remaining > 0 and self.reader.poll(int(remaining * 1000) + 1), (
                f"server: timed out waiting for {what}; events {self.named_counts()}"
            )
            self._read_ready()

    def named_counts(self) -> dict[str, int]:
        return {Event(e).name or str(e): n for e, n in self.counts.items()}

    def wait_settled(self, connections: int, live: int) -> None:
        """Every one of ``connections`` was accepted, all but ``live`` ended; then the I/O thread
        finished its work on them (barrier) and the socket ran the commands it was sent."""
        self.wait(
            lambda c: c[ACCEPTED] + c[ACCEPT_FAILED] >= connections,
            f"{connections} connections accepted",
        )
        self.wait(lambda c: c[DISCONNECTED] >= connections - live, f"{connections - live} ended")
        io_barrier(self.ctx)
        self.sock.getsockopt(zloop.EVENTS)  # runs the attach / pipe_term commands
        self._read_ready()
        assert self.counts[ACCEPTED] + self.counts[ACCEPT_FAILED] == connections, (
            self.named_counts()
        )
        assert self.counts[DISCONNECTED] == connections - live, self.named_counts()

    def bound(self) -> Any:
        (handle,) = {id(h): h for hs in self.sock._endpoints.values() for h in hs}.values()
        return handle

    def check_no_leaks(self, live: int, pipes: int) -> None:
        """After :meth:`wait_settled`: exactly ``live`` connections' worth of objects remain."""
        assert len(self.sock._pattern.pipes()) == pipes, self.sock._pattern.pipes()
        bound = self.bound()
        sessions = list(bound._sessions)
        assert len(sessions) == live, sessions
        engine_fds = {s.engine.fd for s in sessions if s.engine is not None}
        assert len(engine_fds) == live, [(s, s.engine) for s in sessions]
        (io,) = self.ctx._io_threads
        assert set(io._fds) == {bound._fd, *engine_fds}
        engines = live_objects(StreamEngine, lambda e: e._core is self.sock._core)
        assert len(engines) == live, f"{len(engines) - live} engines of closed connections remain"
        assert all(not e._closed for e in engines)
        owned = live_objects(Session, lambda s: s.socket is self.sock._core)
        assert len(owned) == live, f"{len(owned) - live} sessions of closed connections remain"
        assert [obj for obj in gc.get_objects() if isinstance(obj, ZapClient)] == []

    def echo(self, client: Client, body: bytes) -> None:
        """A request from ``client`` reaches the server and its answer comes back."""
        sock = client.sock
        sock.send(body)
        assert self.sock.poll(DEADLINE_MS), f"the server never got {body!r}"
        rid, empty, got = self.sock.recv_multipart()
        assert (empty, got) == (b"", body)
        self.sock.send_multipart([rid, b"", b"re:" + body])
        assert sock.poll(DEADLINE_MS), f"no answer to {body!r}"
        assert sock.recv() == b"re:" + body

    def close(self) -> None:
        self.sock.close(0)
        self.reader.close(0)


# -------------------------------------------------------------------------------- the clients


_ids = itertools.count()


class Client:
    """A zloop REQ client (no reconnect: one client = one TCP connection) with its monitor."""

    def __init__(self, cctx: zloop.Context, options: dict[str, Any], endpoint: str) -> None:
        sock = cctx.socket(zloop.REQ)
        sock.linger = 0
        sock.reconnect_ivl = -1
        for name, value in options.items():
            setattr(sock, name, value)
        # A name of our own: the default one is derived from the socket's mailbox fd, which a
        # later client may reuse while this monitor still waits for the connection to end.
        self.monitor = sock.get_monitor_socket(CLIENT_EVENTS, f"inproc://churn-client-{next(_ids)}")
        self.sock = sock
        self.seen: list[tuple[int, int]] = []
        sock.connect(endpoint)

    def wait_for(self, *wanted: int) -> tuple[int, int]:
        """The first of ``wanted`` events (others are recorded on the way)."""
        while True:
            assert self.monitor.poll(DEADLINE_MS), f"client: none of {wanted}; saw {self.seen}"
            header = self.monitor.recv_multipart()[0]
            event, value = struct.unpack("=HI", bytes(header)[:6])
            self.seen.append((event, value))
            if event in wanted:
                return event, value

    def close(self) -> None:
        self.sock.close(0)
        self.monitor.close(0)


def raw_greeter(endpoint: str, mech: Mech) -> socket.socket:
    """A plain TCP (or ipc) client that sends a client greeting and then nothing."""
    if endpoint.startswith("ipc://"):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(DEADLINE)
        sock.connect(endpoint.removeprefix("ipc://"))
        sock.sendall(mech.greeting())
        return sock
    host, port = endpoint.removeprefix("tcp://").rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=DEADLINE)
    sock.sendall(mech.greeting())
    return sock


@dataclass
class Churn:
    """One churn session against one server; remembers what must still be alive."""

    server: Server
    mech: Mech
    cctx: zloop.Context
    auth: Any
    connections: int = 0
    kept: list[Client] = field(default_factory=list)
    raws: list[socket.socket] = field(default_factory=list)
    base_requests: int = 0  # ZAP requests made before this churn (another authenticator's)

    def client(self, kind: str) -> Client:
        self.connections += 1
        return Client(self.cctx, self.mech.clients[kind], self.server.endpoint)

    def admitted(self, index: int, keep: bool) -> Client:
        client = self.client("admitted")
        assert client.wait_for(SUCCEEDED, FAILED_AUTH, NO_DETAIL, FAILED_PROTOCOL)[0] == SUCCEEDED
        self.server.echo(client, b"hello %d" % index)
        if keep:
            self.kept.append(client)
        else:
            client.close()
        return client

    def refused(self) -> Client:
        client = self.client("refused")
        event, value = client.wait_for(SUCCEEDED, FAILED_AUTH, NO_DETAIL, FAILED_PROTOCOL)
        assert (event, value) == (FAILED_AUTH, 400), client.seen
        client.close()
        return client

    def quitter(self) -> Client:
        """Closes as soon as its connection is made (before or during the ZAP exchange)."""
        client = self.client("admitted")
        client.wait_for(CONNECTED)
        client.close()
        return client

    def gated(self) -> None:
        """Closes while the handler holds its ZAP request (released once the server saw it go)."""
        gate = self.auth.gate
        gate.rearm()
        before = self.server.counts[DISCONNECTED]
        client = self.client("gated")
        assert gate.entered.wait(DEADLINE), "the handler never got the gated request"
        client.close()
        self.server.wait(lambda c: c[DISCONNECTED] > before, "the gated connection to end")
        gate.release()

    def raw(self) -> None:
        self.connections += 1
        self.raws.append(raw_greeter(self.server.endpoint, self.mech))

    def live(self) -> int:
        return len(self.kept) + len(self.raws)

    def settle_and_check(self, handler_pipes: threading.Condition, tally: ZapTally) -> None:
        self.server.wait_settled(self.connections, self.live())
        tally.wait_all_finished()
        wait_cond(
            self.auth.decisions,
            lambda: self.auth.decided == tally.started - self.base_requests,
            f"the handler to answer all {tally.started - self.base_requests} requests",
        )
        handler = self.auth.zap_socket
        pattern = handler._pattern
        wait_cond(handler_pipes, lambda: not pattern.pipes(), "the ZAP handler to drop its pipes")
        # The handler forgot its last pipe inside a command that its thread may still be running:
        # until that returns, its stack holds the pipe and so the ZapClient at the other end. And
        # before forgetting a pipe it may have woken that ZapClient through the server's I/O
        # thread (a reply written for an exchange that had already ended). Both are in flight,
        # not left behind: let the two threads finish them before counting what remains.
        owner_barrier(handler)
        io_barrier(self.server.ctx)
        self.server.check_no_leaks(self.live(), pipes=len(self.kept))
        for index, client in enumerate(self.kept):
            self.server.echo(client, b"still there %d" % index)

    def close_raws(self) -> None:
        for raw in self.raws:
            raw.close()
        self.raws.clear()


KINDS = ("admitted", "refused", "quitter", "gated", "raw", "admitted", "refused", "quitter")


def run_churn(
    ctx: zloop.Context,
    cctx: zloop.Context,
    mech: Mech,
    auth_kind: AuthKind,
    tally: ZapTally,
    sequential: int,
    concurrent: int,
    endpoint: str = "tcp://127.0.0.1:*",
) -> dict[str, Any]:
    started = time.monotonic()
    auth = auth_kind.start(ctx, mech)
    handler_pipes = watch_pipes(auth.zap_socket)
    server = Server(ctx, mech, endpoint)
    churn = Churn(server, mech, cctx, auth)
    try:
        # -- N clients one after the other, every kind in turn (every 5th admitted one stays).
        for index in range(sequential):
            kind = KINDS[index % len(KINDS)]
            if kind == "admitted":
                churn.admitted(index, keep=index % 5 == 0)
            elif kind == "refused":
                churn.refused()
            elif kind == "quitter":
                churn.quitter()
            elif kind == "gated":
                churn.gated()
            else:
                churn.raw()
        churn.settle_and_check(handler_pipes, tally)

        # -- M clients at once: admitted, refused, quitters and raw greeters interleaved.
        kinds = [("admitted", "refused", "quitter", "raw")[i % 4] for i in range(concurrent)]
        clients: list[tuple[str, Client]] = []
        for kind in kinds:
            if kind == "raw":
                churn.raw()
            else:
                clients.append((kind, churn.client("admitted" if kind == "quitter" else kind)))
        for kind, client in clients:
            if kind == "quitter":
                client.wait_for(CONNECTED)
                client.close()
        for index, (kind, client) in enumerate(clients):
            if kind == "admitted":
                event = client.wait_for(SUCCEEDED, FAILED_AUTH, NO_DETAIL, FAILED_PROTOCOL)
                assert event[0] == SUCCEEDED, client.seen
                server.echo(client, b"crowd %d" % index)
                if index % 2:
                    client.close()
                else:
                    churn.kept.append(client)
            elif kind == "refused":
                event = client.wait_for(SUCCEEDED, FAILED_AUTH, NO_DETAIL, FAILED_PROTOCOL)
                assert event == (FAILED_AUTH, 400), client.seen
                client.close()
        churn.settle_and_check(handler_pipes, tally)

        # -- the silent greeters go; the server forgets them too.
        churn.close_raws()
        churn.settle_and_check(handler_pipes, tally)
        return {
            "connections": churn.connections,
            "zap_requests": tally.started,
            "seconds": round(time.monotonic() - started, 2),
            "server_events": server.named_counts(),
        }
    finally:
        churn.close_raws()
        for client in churn.kept:
            client.close()
        server.close()


# ----------------------------------------------------------------------------------- 1. churn


def test_churn_leaves_nothing_behind(
    ctx: zloop.Context, cctx: zloop.Context, mech: Mech, auth_kind: AuthKind, tally: ZapTally
) -> None:
    stats = run_churn(ctx, cctx, mech, auth_kind, tally, sequential=len(KINDS) * 2, concurrent=12)
    assert stats["zap_requests"] > 0


@pytest.mark.stress
def test_churn_soak(
    ctx: zloop.Context, cctx: zloop.Context, mech: Mech, auth_kind: AuthKind, tally: ZapTally
) -> None:
    stats = run_churn(
        ctx, cctx, mech, auth_kind, tally, sequential=scaled(1000), concurrent=scaled(300)
    )
    print(f"\nchurn soak {mech.name}/{auth_kind.name} scale={SCALE}: {stats}")


# ------------------------------- 1b. the other in-loop authenticators: trio, gevent, tornado


def test_churn_leaves_nothing_behind_other_loops(
    ctx: zloop.Context, cctx: zloop.Context, mech: Mech, loop_auth_kind: AuthKind, tally: ZapTally
) -> None:
    """The same churn served by TrioAuthenticator, GeventAuthenticator and IOLoopAuthenticator
    (each in its loop's own thread): the same nothing-left-behind checks hold."""
    stats = run_churn(
        ctx, cctx, mech, loop_auth_kind, tally, sequential=len(KINDS) * 2, concurrent=12
    )
    assert stats["zap_requests"] > 0


@pytest.mark.stress
def test_churn_soak_other_loops(
    ctx: zloop.Context, cctx: zloop.Context, loop_auth_kind: AuthKind, tally: ZapTally
) -> None:
    mech = plain_mech()  # CURVE's soak runs with the thread/asyncio authenticators
    stats = run_churn(
        ctx, cctx, mech, loop_auth_kind, tally, sequential=scaled(1000), concurrent=scaled(300)
    )
    print(f"\nchurn soak {mech.name}/{loop_auth_kind.name} scale={SCALE}: {stats}")


# ----------------------------------------------------------------------- 1c. churn over ipc


def test_churn_over_ipc_leaves_nothing_behind(
    ctx: zloop.Context, cctx: zloop.Context, mech: Mech, tally: ZapTally, tmp_path: Path
) -> None:
    """The churn (raw greeters included, as AF_UNIX connections) against a server bound to an
    ipc endpoint, with the thread authenticator."""
    for kind in make_auth_kind("thread"):
        stats = run_churn(
            ctx,
            cctx,
            mech,
            kind,
            tally,
            sequential=len(KINDS) * 2,
            concurrent=12,
            endpoint=endpoint_for("ipc", tmp_path, "churn"),
        )
        assert stats["zap_requests"] > 0


# ----------------------------------------------- a slow handler answering in reverse order


def test_slow_handler_answering_in_reverse_order_mixes_no_replies(
    ctx: zloop.Context, cctx: zloop.Context, tally: ZapTally
) -> None:
    """A ROUTER handler holds every request, then answers them last-first: each connection still
    gets its own verdict and User-Id (the replies travel by pipe, the request ids are all "1")."""
    count = 6
    handler = ctx.socket(zloop.ROUTER)
    handler.linger = 0
    handler.bind("inproc://zeromq.zap.01")
    outcome: list[BaseException] = []

    def serve() -> None:
        try:
            held = []
            while len(held) < count:
                assert handler.poll(DEADLINE_MS), f"only {len(held)} requests came"
                held.append(handler.recv_multipart())
            for rid, empty, version, request_id, *rest in reversed(held):
                user, password = rest[4], rest[5]
                good = password == b"pw-" + user
                status = (b"200", b"OK", user) if good else (b"400", b"no", b"")
                handler.send_multipart([rid, empty, version, request_id, *status, b""])
            # Every ZapClient drops its pipe once it read its reply: wait for the handler to
            # forget them all (woken by its FD edge, commands run by EVENTS).
            deadline = time.monotonic() + DEADLINE
            while handler._pattern.pipes():
                handler.getsockopt(zloop.EVENTS)
                remaining = deadline - time.monotonic()
                if not handler._pattern.pipes():
                    break
                assert remaining > 0 and fd_readable(handler.FD, remaining), "handler pipes stay"
        except BaseException as exc:  # reported by the test thread
            outcome.append(exc)

    thread = threading.Thread(target=serve, name="reverse-zap")
    thread.start()
    server = Server(ctx, plain_mech())
    clients = []
    try:
        for i in range(count):
            user = b"user-%d" % i
            password = b"pw-" + user if i % 2 == 0 else b"wrong"
            options = {"plain_username": user, "plain_password": password}
            clients.append(Client(cctx, options, server.endpoint))
        for i, client in enumerate(clients):
            event = client.wait_for(SUCCEEDED, FAILED_AUTH, NO_DETAIL, FAILED_PROTOCOL)
            if i % 2:
                assert event == (FAILED_AUTH, 400), client.seen
                continue
            assert event[0] == SUCCEEDED, client.seen
            client.sock.send(b"who am I")
            assert server.sock.poll(DEADLINE_MS)
            frames = server.sock.recv_multipart(copy=False)
            assert frames[-1].get("User-Id") == f"user-{i}"
        thread.join(DEADLINE)
        assert not thread.is_alive() and not outcome, outcome
        admitted = (count + 1) // 2
        server.wait_settled(count, live=admitted)
        tally.wait_all_finished()
        assert tally.started == count
        server.check_no_leaks(admitted, pipes=admitted)
    finally:
        for client in clients:
            client.close()
        server.close()
        thread.join(DEADLINE)
        handler.close(0)


# ------------------------------------------------- 2. stopping with requests pending


def test_stopping_the_authenticator_with_pending_requests(
    ctx: zloop.Context, cctx: zloop.Context, mech: Mech, auth_kind: AuthKind, tally: ZapTally
) -> None:
    """The handler holds one request and four more wait behind it when it is stopped: stop()
    returns, every pending handshake ends (the held one may still be answered by the thread
    authenticator), nothing leaks, and a new authenticator serves new clients."""
    auth = auth_kind.start(ctx, mech)
    old_zap = auth.zap_socket
    old_pipes = watch_pipes(old_zap)
    server = Server(ctx, mech)
    clients = [Client(cctx, mech.clients["gated"], server.endpoint)]
    try:
        assert auth.gate.entered.wait(DEADLINE)
        clients += [Client(cctx, mech.clients["admitted"], server.endpoint) for _ in range(4)]
        wait_cond(tally.cond, lambda: tally.started == 5, "five ZAP requests")

        stopper = threading.Thread(
            target=auth.stop if auth_kind.loop is None else lambda: auth_kind.loop.call(auth.stop)
        )
        stopper.start()
        stopper.join(DEADLINE)
        assert not stopper.is_alive(), "stop() hung with requests pending"
        assert old_zap.closed and auth.zap_socket is None
        tally.wait_all_finished()

        # The thread authenticator answers the request it holds before it sees TERMINATE; the
        # asyncio one is cancelled while awaiting that verdict. Nobody reads the other four.
        admitted = 1 if auth_kind.name == "thread" else 0
        outcomes = [c.wait_for(SUCCEEDED, DISCONNECTED)[0] for c in clients]
        assert outcomes == [SUCCEEDED] * admitted + [DISCONNECTED] * (5 - admitted)
        server.wait_settled(5, live=admitted)
        assert server.counts[SUCCEEDED] == admitted
        assert server.counts[NO_DETAIL] == 5 - admitted  # ECONNREFUSED: the handler went away
        # The closed handler socket terminated every pipe it had; once it is dropped (the
        # authenticator let go of it), nothing of those connections is reachable any more.
        assert all(pipe.terminated for pipe in old_zap._pattern.pipes())
        del old_zap, old_pipes
        server.check_no_leaks(admitted, pipes=admitted)

        for client in clients:
            client.close()
        clients.clear()
        server.wait_settled(5, live=0)

        # A new authenticator binds the name again and serves new clients.
        auth2 = auth_kind.start(ctx, mech)
        churn = Churn(server, mech, cctx, auth2, connections=5, base_requests=tally.started)
        churn.admitted(1, keep=True)
        churn.refused()
        churn.gated()
        churn.admitted(2, keep=False)
        churn.settle_and_check(watch_pipes(auth2.zap_socket), tally)
        for client in churn.kept:
            client.close()
    finally:
        for client in clients:
            client.close()
        server.close()


# ------------------------------------------------- 3. context end with requests pending


@pytest.mark.parametrize("how", ["destroy", "term"])
def test_context_end_with_pending_zap_requests(
    how: str, cctx: zloop.Context, mech: Mech, auth_kind: AuthKind, tally: ZapTally
) -> None:
    """``destroy()``, or ``term()`` in another thread while the application closes its sockets
    (and stops the authenticator, as a ``finally`` would), with requests held and queued in the
    handler: no hang, and the context's I/O threads and the authenticator's thread are gone."""
    ctx = zloop.Context()
    try:
        auth = auth_kind.start(ctx, mech)
        server = Server(ctx, mech)
        clients = [Client(cctx, mech.clients["gated"], server.endpoint)]
        assert auth.gate.entered.wait(DEADLINE)
        clients += [Client(cctx, mech.clients["admitted"], server.endpoint) for _ in range(3)]
        wait_cond(tally.cond, lambda: tally.started == 4, "four ZAP requests")
        io_threads = list(ctx._io_threads)
        auth_thread = getattr(auth, "_thread", None)

        if how == "destroy":
            ender = threading.Thread(target=ctx.destroy, kwargs={"linger": 0})
            ender.start()
            ender.join(DEADLINE)
            assert not ender.is_alive(), "destroy() hung"
            auth.gate.release()  # the handler finishes its decision on a closed socket
            auth_kind.stop(auth)  # and a later stop() is harmless
        else:
            ender = threading.Thread(target=ctx.term)
            ender.start()
            server.close()
            auth_kind.stop(auth)
            ender.join(DEADLINE)
            assert not ender.is_alive(), "term() hung"
        assert ctx.closed
        if auth_thread is not None:
            auth_thread.join(DEADLINE)
            assert not auth_thread.is_alive()
        for io in io_threads:
            io.join(DEADLINE)
            assert not io.is_running()
        tally.wait_all_finished()
        for client in clients:
            client.close()
    finally:
        ctx.destroy(linger=0)


# ------------------------------------------------------------------- the ZAP client itself


def test_a_busy_handler_does_not_keep_closed_connections_alive(
    ctx: zloop.Context, cctx: zloop.Context, tally: ZapTally
) -> None:
    """A handler that has not got round to a request holds that exchange's pipe (its attach is
    still in the handler's mailbox). A connection that closes meanwhile is freed at once -- its
    engine (with its receive buffer) and session are not kept until the handler runs its
    commands: the finished ZapClient lets go of the engine.

    zloop-only (what stays reachable in the process). Under load the churn saw this chain
    (handler pipe -> ZapClient -> engine) held for a moment by a handler thread still inside
    the command that dropped the pipe."""
    handler = ctx.socket(zloop.REP)
    handler.linger = 0
    handler.bind("inproc://zeromq.zap.01")  # bound, never served until the end
    mech = plain_mech()
    server = Server(ctx, mech)
    client = Client(cctx, mech.clients["admitted"], server.endpoint)
    try:
        wait_cond(tally.cond, lambda: tally.started == 1, "the ZAP request")
        client.close()
        server.wait_settled(1, live=0)
        tally.wait_all_finished()
        engines = live_objects(StreamEngine, lambda e: e._core is server.sock)
        assert engines == [], "the handler's pending request keeps the closed engine alive"
        assert live_objects(Session, lambda s: s.socket is server.sock) == []
        # Only the exchange itself waits for the handler: closing it ends that too.
        handler.close()
        io_barrier(ctx)
        gc.collect()
        assert [obj for obj in gc.get_objects() if isinstance(obj, ZapClient)] == []
    finally:
        client.close()
        server.close()
        handler.close()


def test_zap_request_racing_the_handler_close_ends_at_once(
    ctx: zloop.Context, cctx: zloop.Context, tally: ZapTally, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server's engine finds the handler, and the handler closes before the request's pipe
    has been posted to it. The exchange still ends at once, as for a handler that went away while
    holding a request (HANDSHAKE_FAILED_NO_DETAIL): never at the handshake timeout -- and, with no
    handshake timeout, never (the attach landed in the mailbox of a socket that had already run
    its last commands). The interleaving is forced (``CloseWhilePosting``)."""
    handler = ctx.socket(zloop.REP)
    handler.linger = 0
    handler.bind("inproc://zeromq.zap.01")
    race = CloseWhilePosting(handler, monkeypatch)
    mech = plain_mech()
    server = Server(ctx, mech, handshake_ivl=0)
    client = Client(cctx, mech.clients["admitted"], server.endpoint)
    try:
        race.wait_posting()
        server.wait(lambda c: c[DISCONNECTED] == 1, "the connection to end")
        assert server.counts[NO_DETAIL] == 1, server.named_counts()
        assert client.wait_for(SUCCEEDED, DISCONNECTED)[0] == DISCONNECTED
        tally.wait_all_finished()
        race.join()
    finally:
        client.close()
        server.close()
        handler.close()


def test_zap_client_never_replies_from_its_constructor() -> None:
    """A handler that answers before ``ZapClient()`` returns (another thread can) gets its reply
    delivered by a command of the I/O thread, after the engine has stored the client."""
    commands: list[Callable[[], Any]] = []
    replies: list[Any] = []
    reply = [b"", b"1.0", b"1", b"200", b"OK", b"", b""]

    class InstantHandler:
        socket_type = zloop.REP

        def post(self, command: Callable[[], Any], hint: int = 0) -> None:
            command()

        def attach_pipe(self, pipe: Any) -> None:
            assert pipe.read() is not None  # the request
            pipe.write(list(reply))
            pipe.flush()

        def read_activated(self, pipe: Any) -> None:
            pass

        def write_activated(self, pipe: Any) -> None:
            pass

        def pipe_terminated(self, pipe: Any) -> None:
            pass

    client = ZapClient(commands.append, InstantHandler(), [b"request"], replies.append)
    assert replies == []
    while commands:
        commands.pop(0)()
    assert replies == [reply]
    client.close()
    assert replies == [reply]
