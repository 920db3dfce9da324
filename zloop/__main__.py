"""``zloop demo`` and ``zloop selfcheck`` (``python -m zloop`` runs the ``zloop`` command).

The other tools of the command live in :mod:`zloop.cli`.

``zloop demo`` runs the protocol self-check, then starts a zloop ROUTER echo service in a thread
and talks to it through every path: the engine itself (PUSH -> PULL over inproc, tcp and ipc),
each event-loop adapter in its own idiom (selectors, gevent, tornado, trio, asyncio, anyio,
Twisted) and, when pyzmq is installed, libzmq in both directions -- and security: a libzmq CURVE client echoed by a
zloop CURVE server whose zloop ZAP handler admits only that client's key (a stranger's key is
refused). It prints one table row per path and exits 0 only if every path that ran passed. A library
that is not installed (a loop, pyzmq, PyNaCl) is reported as skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import zloop
from zloop import keys, selfcheck
from zloop._extras import MissingExtraError

#: Echoed messages per adapter path, sent in windows so no queue ever reaches its high-water mark.
ECHOES = 5_000
WINDOW = 100
#: A path that has not finished after this many seconds fails (nothing normally comes close).
DEADLINE = 10.0
ENGINE_MESSAGES = 20_000


class Skipped(Exception):
    """A path that cannot run here (its loop library is not installed)."""


@dataclass
class Row:
    path: str
    what: str
    messages: int = 0
    rate: float = 0.0
    status: str = "OK"
    detail: str = ""


def _selfcheck() -> bool:
    ok = True
    for passed, line in selfcheck.run():
        ok &= passed
        print(f"  [{'ok' if passed else 'FAIL'}] {line}")
    return ok


def _import_adapter(name: str) -> Any:
    """``zloop.adapters.<name>``, or :class:`Skipped` when its loop library is missing.

    (Imported by name: the adapters are typed where they live, and the demo only needs ``Any``.)
    """
    try:
        return importlib.import_module(f"zloop.adapters.{name}")
    except MissingExtraError as exc:
        raise Skipped(f'skipped: install the "{exc.extra}" extra') from None


def _payload(i: int) -> bytes:
    return b"%016d" % i  # 16 bytes, and the echo can be checked for order


def _check(i: int, got: bytes) -> None:
    if got != _payload(i):
        raise AssertionError(f"echo {i}: expected {_payload(i)!r}, got {got!r}")


# -- the service -----------------------------------------------------------------------------------


def _echo_service(ctx: zloop.Context, bound: list[str], ready: threading.Event) -> None:
    """A ROUTER that sends every message back to its sender, until the context is terminated."""
    router = ctx.socket(zloop.ROUTER)
    try:
        router.bind("tcp://127.0.0.1:*")
        bound.append(router.last_endpoint.decode())
        ready.set()
        while True:
            router.send_multipart(router.recv_multipart())
    except zloop.ContextTerminated:
        pass
    finally:
        ready.set()
        router.close(linger=0)


# -- the paths -------------------------------------------------------------------------------------


def _engine(ctx: zloop.Context, bind_addr: str) -> tuple[int, float]:
    """PUSH -> PULL of ENGINE_MESSAGES, the sender in a thread."""
    pull = ctx.socket(zloop.PULL)
    push = ctx.socket(zloop.PUSH)
    try:
        pull.bind(bind_addr)
        push.connect(pull.last_endpoint.decode())
        pull.setsockopt(zloop.RCVTIMEO, int(DEADLINE * 1000))
        payload = b"x" * 16

        def produce() -> None:
            for _ in range(ENGINE_MESSAGES):
                push.send(payload)

        start = time.perf_counter()
        sender = threading.Thread(target=produce, daemon=True)
        sender.start()
        for _ in range(ENGINE_MESSAGES):
            pull.recv()
        elapsed = time.perf_counter() - start
        sender.join()
        return ENGINE_MESSAGES, ENGINE_MESSAGES / elapsed
    finally:
        push.close(linger=0)
        pull.close(linger=0)


def _via_selectors(raw: zloop.Socket) -> None:
    """The Reactor calls ``on_reply`` while replies are pending; each full window sends the next."""
    reactor = _import_adapter("selectors").Reactor()
    state = {"sent": 0, "received": 0}
    failure: list[BaseException] = []

    def send_window() -> None:
        for _ in range(min(WINDOW, ECHOES - state["sent"])):
            raw.send(_payload(state["sent"]), zloop.NOBLOCK)
            state["sent"] += 1

    def on_reply(sock: zloop.Socket, _events: int) -> None:
        try:
            while True:
                try:
                    got = sock.recv(zloop.NOBLOCK)
                except zloop.Again:
                    return
                _check(state["received"], got)
                state["received"] += 1
                if state["received"] == ECHOES:
                    reactor.stop()
                    return
                if state["received"] == state["sent"]:
                    send_window()
        except Exception as exc:
            failure.append(exc)
            reactor.stop()

    def too_slow() -> None:
        failure.append(TimeoutError(f"{state['received']} of {ECHOES} echoes in {DEADLINE} s"))
        reactor.stop()

    reactor.register(raw, on_reply)
    timer = reactor.call_later(DEADLINE, too_slow)
    send_window()
    try:
        reactor.run()
    finally:
        timer.cancel()
        reactor.close()
    if failure:
        raise failure[0]


def _via_gevent(raw: zloop.Socket) -> None:
    """Blocking calls on a green socket, in a greenlet: they block only that greenlet."""
    zgreen = _import_adapter("gevent")
    gevent = importlib.import_module("gevent")
    sock = zgreen.Socket.from_socket(raw)

    def client() -> None:
        for base in range(0, ECHOES, WINDOW):
            for i in range(base, base + WINDOW):
                sock.send(_payload(i))
            for i in range(base, base + WINDOW):
                _check(i, sock.recv())

    greenlet = gevent.spawn(client)
    try:
        with gevent.Timeout(DEADLINE, TimeoutError(f"gevent path: no result in {DEADLINE} s")):
            greenlet.get()  # re-raises the greenlet's exception, if any
    finally:
        greenlet.kill()
        sock._release()  # stop watching; the demo closes the socket itself


def _via_tornado(raw: zloop.Socket) -> None:
    """A ZMQStream: ``on_recv`` callbacks from the IOLoop, each full window queues the next."""
    ztornado = _import_adapter("tornado")

    async def run() -> None:
        stream = ztornado.ZMQStream(raw)
        done = asyncio.get_running_loop().create_future()
        state = {"sent": 0, "received": 0}

        def send_window() -> None:
            for _ in range(min(WINDOW, ECHOES - state["sent"])):
                stream.send(_payload(state["sent"]))
                state["sent"] += 1

        def on_recv(msg: list[bytes]) -> None:
            if done.done():
                return
            try:
                _check(state["received"], msg[0])
            except AssertionError as exc:
                done.set_exception(exc)
                return
            state["received"] += 1
            if state["received"] == ECHOES:
                done.set_result(None)
            elif state["received"] == state["sent"]:
                send_window()

        stream.on_recv(on_recv)
        send_window()
        try:
            await asyncio.wait_for(done, DEADLINE)
        finally:
            stream._release()  # stop watching; the demo closes the socket itself

    asyncio.run(run())


def _via_trio(raw: zloop.Socket) -> None:
    """A nursery: a sender task and a receiver task on one socket, a semaphore as the window."""
    ztrio = _import_adapter("trio")
    trio = importlib.import_module("trio")

    async def run() -> None:
        sock = ztrio.Socket.from_socket(raw)
        window = trio.Semaphore(WINDOW)

        async def sender() -> None:
            for i in range(ECHOES):
                await window.acquire()
                await sock.send(_payload(i))

        async def receiver() -> None:
            for i in range(ECHOES):
                _check(i, await sock.recv())
                window.release()

        try:
            with trio.fail_after(DEADLINE):
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(sender)
                    nursery.start_soon(receiver)
        finally:
            sock._release()

    trio.run(run)


def _via_asyncio(raw: zloop.Socket) -> None:
    """``asyncio.gather`` of a sender and a receiver coroutine on one socket."""
    zasyncio = _import_adapter("asyncio")

    async def run() -> None:
        sock = zasyncio.Socket.from_socket(raw)
        window = asyncio.Semaphore(WINDOW)

        async def sender() -> None:
            for i in range(ECHOES):
                await window.acquire()
                await sock.send(_payload(i))

        async def receiver() -> None:
            for i in range(ECHOES):
                _check(i, await sock.recv())
                window.release()

        try:
            await asyncio.wait_for(asyncio.gather(sender(), receiver()), DEADLINE)
        finally:
            sock._release()

    asyncio.run(run())


def _via_anyio(raw: zloop.Socket) -> None:
    """An anyio task group (on its trio backend): a sender and a receiver task on one socket."""
    zanyio = _import_adapter("anyio")
    anyio = importlib.import_module("anyio")
    try:
        importlib.import_module("trio")
        backend = "trio"
    except ImportError:  # anyio runs on asyncio as well
        backend = "asyncio"

    async def run() -> None:
        sock = zanyio.Socket.from_socket(raw)
        window = anyio.Semaphore(WINDOW)

        async def sender() -> None:
            for i in range(ECHOES):
                await window.acquire()
                await sock.send(_payload(i))

        async def receiver() -> None:
            for i in range(ECHOES):
                _check(i, await sock.recv())
                window.release()

        try:
            with anyio.fail_after(DEADLINE):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(sender)
                    tg.start_soon(receiver)
        finally:
            sock._release()

    anyio.run(run, backend=backend)


def _via_twisted(raw: zloop.Socket) -> None:
    """Deferreds on a (fresh, never global) Twisted reactor: windows of sends, on_recv replies."""
    ztwisted = _import_adapter("twisted")
    reactor = importlib.import_module("twisted.internet.selectreactor").SelectReactor()
    sock = ztwisted.Socket.from_socket(raw, reactor)
    state = {"sent": 0, "received": 0}
    failure: list[BaseException] = []

    def send_window() -> None:
        for _ in range(min(WINDOW, ECHOES - state["sent"])):
            sock.send(_payload(state["sent"])).addErrback(lambda f: failure.append(f.value))
            state["sent"] += 1

    def on_reply(msg: list[bytes]) -> None:
        try:
            _check(state["received"], msg[0])
        except AssertionError as exc:
            failure.append(exc)
        state["received"] += 1
        if failure or state["received"] == ECHOES:
            sock.stop_on_recv()
            reactor.stop()
        elif state["received"] == state["sent"]:
            send_window()

    def too_slow() -> None:
        failure.append(TimeoutError(f"{state['received']} of {ECHOES} echoes in {DEADLINE} s"))
        reactor.stop()

    sock.on_recv(on_reply)
    reactor.callWhenRunning(send_window)
    timer = reactor.callLater(DEADLINE, too_slow)
    try:
        reactor.run(installSignalHandlers=False)
    finally:
        if timer.active():
            timer.cancel()
        sock._release()
    if failure:
        raise failure[0]


def _libzmq_module() -> Any:
    try:
        return importlib.import_module("zmq")
    except ImportError:
        raise Skipped('skipped: install pyzmq (the libzmq peer; the "demo" extra)') from None


def _libzmq_to_zloop(endpoint: str) -> tuple[int, float]:
    """A libzmq DEALER (pyzmq, blocking) talking to the zloop echo service."""
    zmq = _libzmq_module()
    zctx = zmq.Context()
    sock = zctx.socket(zmq.DEALER)
    sock.rcvtimeo = int(DEADLINE * 1000)
    try:
        sock.connect(endpoint)
        start = time.perf_counter()
        for base in range(0, ECHOES, WINDOW):
            for i in range(base, base + WINDOW):
                sock.send(_payload(i))
            for i in range(base, base + WINDOW):
                _check(i, sock.recv())
        return ECHOES, ECHOES / (time.perf_counter() - start)
    finally:
        sock.close(linger=0)
        zctx.term()


def _zloop_to_libzmq(ctx: zloop.Context) -> tuple[int, float]:
    """A zloop PUSH feeding a libzmq PULL over tcp, checked for order."""
    zmq = _libzmq_module()
    zctx = zmq.Context()
    theirs = zctx.socket(zmq.PULL)
    theirs.rcvtimeo = int(DEADLINE * 1000)
    ours = ctx.socket(zloop.PUSH)
    try:
        port = theirs.bind_to_random_port("tcp://127.0.0.1")
        ours.connect(f"tcp://127.0.0.1:{port}")
        start = time.perf_counter()
        for i in range(ECHOES):
            ours.send(_payload(i))
        for i in range(ECHOES):
            _check(i, theirs.recv())
        return ECHOES, ECHOES / (time.perf_counter() - start)
    finally:
        ours.close(linger=0)
        theirs.close(linger=0)
        zctx.term()


class _OneKey:
    """A CURVE credentials provider admitting one client key (Z85)."""

    def __init__(self, key: bytes) -> None:
        self.key = key

    def callback(self, domain: str, key: bytes) -> bool:
        return key == self.key


def _curve_with_libzmq(ctx: zloop.Context) -> tuple[int, float]:
    """A libzmq CURVE DEALER echoed by a zloop CURVE ROUTER whose ZAP handler (a zloop
    ThreadAuthenticator) admits only that client's key; a second libzmq client with an unknown
    key must be refused (HANDSHAKE_FAILED_AUTH on its own monitor) and never heard from."""
    zmq = _libzmq_module()
    if not keys.has_curve():
        raise Skipped('skipped: install the "curve" extra (PyNaCl)')
    from zloop.auth import ThreadAuthenticator

    server_public, server_secret = zloop.curve_keypair()
    client_public, client_secret = zloop.curve_keypair()
    zctx = zmq.Context()
    opened: list[zloop.Socket] = []
    try:
        with ThreadAuthenticator(ctx) as auth:
            auth.configure_curve_callback(credentials_provider=_OneKey(client_public))
            server = ctx.socket(zloop.ROUTER)
            opened.append(server)
            server.setsockopt(zloop.LINGER, 0)
            server.setsockopt(zloop.RCVTIMEO, int(DEADLINE * 1000))
            server.setsockopt(zloop.CURVE_SERVER, 1)
            server.setsockopt(zloop.CURVE_SECRETKEY, server_secret)
            endpoint = f"tcp://127.0.0.1:{server.bind_to_random_port('tcp://127.0.0.1')}"

            def client(public: bytes, secret: bytes) -> Any:
                sock = zctx.socket(zmq.DEALER)
                sock.linger = 0
                sock.rcvtimeo = int(DEADLINE * 1000)
                sock.curve_serverkey = server_public
                sock.curve_publickey, sock.curve_secretkey = public, secret
                return sock

            stranger = client(*zloop.curve_keypair())
            watch = stranger.get_monitor_socket()
            stranger.connect(endpoint)
            # NOBLOCK: a refusal is final, so a handshake already failed leaves no peer to queue for.
            with contextlib.suppress(zmq.Again):
                stranger.send(b"let me in", zmq.NOBLOCK)
            outcome = 0
            while outcome not in (zmq.EVENT_HANDSHAKE_FAILED_AUTH, zmq.EVENT_HANDSHAKE_SUCCEEDED):
                if not watch.poll(int(DEADLINE * 1000)):
                    raise AssertionError("no handshake outcome for the unknown client")
                outcome = int.from_bytes(watch.recv_multipart()[0][:2], sys.byteorder)
            if outcome != zmq.EVENT_HANDSHAKE_FAILED_AUTH:
                raise AssertionError("the client with an unknown key was admitted")
            good = client(client_public, client_secret)
            good.connect(endpoint)
            peers = set()
            start = time.perf_counter()
            for base in range(0, ECHOES, WINDOW):
                for i in range(base, base + WINDOW):
                    good.send(_payload(i))
                for _ in range(WINDOW):
                    peer, body = server.recv_multipart()
                    peers.add(peer)
                    server.send_multipart([peer, body])
                for i in range(base, base + WINDOW):
                    _check(i, good.recv())
            elapsed = time.perf_counter() - start
            if len(peers) != 1 or server.poll(0):
                raise AssertionError("the server heard from more than the admitted client")
        return ECHOES, ECHOES / elapsed
    finally:
        for sock in opened:
            sock.close(linger=0)
        zctx.destroy(linger=0)  # the libzmq sockets too, even when a step failed


def _run(row: Row, body: Callable[[], tuple[int, float]]) -> Row:
    try:
        row.messages, row.rate = body()
    except Skipped as exc:
        row.status = str(exc)
    except Exception as exc:
        row.status = "FAIL"
        row.detail = f"{type(exc).__name__}: {str(exc) or f'no result within {DEADLINE} s'}"
    return row


def _adapter_path(
    ctx: zloop.Context, endpoint: str, client: Callable[[zloop.Socket], None]
) -> Callable[[], tuple[int, float]]:
    """Run ``client`` on a fresh zloop DEALER connected to the echo service; time it."""

    def body() -> tuple[int, float]:
        raw = ctx.socket(zloop.DEALER)
        try:
            raw.connect(endpoint)
            start = time.perf_counter()
            client(raw)
            return ECHOES, ECHOES / (time.perf_counter() - start)
        finally:
            raw.close(linger=0)

    return body


def _print_row(row: Row) -> None:
    if row.status == "OK":
        print(f"  {row.path:<10} {row.what:<50} {row.messages:>8,} {row.rate:>10,.0f}  OK")
    elif row.status == "FAIL":
        print(f"  {row.path:<10} {row.what:<50} {'':>8} {'':>10}  FAIL")
        print(f"  {'':<10} {row.detail}")
    else:
        print(f"  {row.path:<10} {row.what:<50} {'':>8} {'':>10}  {row.status}")


def demo() -> int:
    print(
        f"zloop {zloop.__version__} — ZeroMQ in pure Python (wire protocol of libzmq {zloop.zmq_version()})"
    )
    print("protocol self-check:")
    ok = _selfcheck()
    print(f"paths (adapters: {ECHOES:,} echoes of 16 bytes from a zloop ROUTER echo service):")
    print(f"  {'path':<10} {'what ran':<50} {'messages':>8} {'msg/s':>10}  result")
    rows: list[Row] = []
    ctx = zloop.Context()
    bound: list[str] = []
    ready = threading.Event()
    service = threading.Thread(target=_echo_service, args=(ctx, bound, ready), daemon=True)
    service.start()
    ready.wait(DEADLINE)
    try:
        if not bound:
            raise SystemExit("the echo service did not start")
        endpoint = bound[0]
        for scheme, addr in (
            ("inproc", "inproc://demo"),
            ("tcp", "tcp://127.0.0.1:*"),
            ("ipc", "ipc://*"),
        ):
            rows.append(
                _run(
                    Row("engine", f"PUSH -> PULL over {scheme}, sender in a thread"),
                    functools.partial(_engine, ctx, addr),
                )
            )
            _print_row(rows[-1])
        adapters: list[tuple[str, str, Callable[[zloop.Socket], None]]] = [
            ("selectors", "Reactor callbacks on a DEALER, windows of 100", _via_selectors),
            ("gevent", "green DEALER, blocking calls in a greenlet", _via_gevent),
            ("tornado", "ZMQStream on_recv callbacks on the IOLoop", _via_tornado),
            ("trio", "nursery: sender + receiver tasks, one DEALER", _via_trio),
            ("asyncio", "gather(sender, receiver) on one DEALER", _via_asyncio),
            ("anyio", "task group (trio backend): sender + receiver", _via_anyio),
            ("twisted", "Deferred sends, on_recv replies on a reactor", _via_twisted),
        ]
        for path, what, client in adapters:
            rows.append(_run(Row(path, what), _adapter_path(ctx, endpoint, client)))
            _print_row(rows[-1])
        rows.append(
            _run(
                Row("libzmq", "pyzmq DEALER -> zloop ROUTER echo over tcp"),
                lambda: _libzmq_to_zloop(endpoint),
            )
        )
        _print_row(rows[-1])
        rows.append(
            _run(
                Row("libzmq", "zloop PUSH -> pyzmq PULL over tcp, in order"),
                lambda: _zloop_to_libzmq(ctx),
            )
        )
        _print_row(rows[-1])
        rows.append(
            _run(
                Row("curve", "libzmq CURVE DEALER -> zloop ROUTER + zloop ZAP"),
                lambda: _curve_with_libzmq(ctx),
            )
        )
        _print_row(rows[-1])
    finally:
        ctx.term()  # ends the echo service (ContextTerminated in its thread)
        service.join(DEADLINE)
    failed = [row for row in rows if row.status == "FAIL"]
    skipped = [row for row in rows if row.status not in ("OK", "FAIL")]
    passed = len(rows) - len(failed) - len(skipped)
    print(
        f"{passed} paths passed, {len(failed)} failed, {len(skipped)} skipped; "
        f"self-check {'passed' if ok else 'FAILED'}"
    )
    return 0 if ok and not failed else 1


def main(argv: Sequence[str] | None = None) -> int:
    """The ``zloop`` command (its tools live in :mod:`zloop.cli`)."""
    from zloop.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
