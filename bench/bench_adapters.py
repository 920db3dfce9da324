"""Receive throughput through the event-loop adapters, zloop against pyzmq's own integrations.

Run: ``uv run python bench/bench_adapters.py [--quick] [--count N] [--repeat N] [--loops asyncio]``

For each loop, two rows in the same run:

* zloop's adapter (e.g. ``zloop.adapters.asyncio``) receiving on a **zloop** PULL socket;
* pyzmq's integration of the same loop (e.g. ``zmq.asyncio``) receiving on a **pyzmq** PULL socket.

The receiver process binds a PULL socket (tcp) and awaits ``recv()`` in a loop, one message per
call, as an application would. The sender is another process with a plain pyzmq PUSH socket (the
same fast sender for both rows, so the rows measure the receiving side) sending ``count`` 16-byte
messages. Time runs from the first message received to the last; rate = (count - 1) / elapsed.
The ratio column is zloop-adapter msg/s divided by pyzmq-integration msg/s (>= 1.0: zloop is at
least as fast).

Adding a loop (trio, gevent, tornado): write two receiver functions with the signature of
:func:`recv_zloop_asyncio` (bind with :func:`_listen`, which emits ``READY endpoint``, receive
``count`` messages, ``emit("RESULT", json)`` via :func:`report`; :func:`_recv_awaiting` and
:func:`_recv_blocking` do all that for a loop whose ``recv()`` is awaited or blocks), register
them in :data:`RECEIVERS`, and add a ``(loop, zloop_row, pyzmq_row)`` entry to :data:`PAIRS`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _proc import BenchError, emit, fmt_rate, render, run_pair

SCRIPT = Path(__file__).resolve()
SIZE = 16
DEFAULT_COUNT = 200_000


def report(first: float, last: float, count: int) -> None:
    emit("RESULT", json.dumps({"elapsed": last - first, "count": count}))


# -- receivers (run in the receiver worker process) ---------------------------------------------------


def _listen(sock: Any) -> None:
    """Bind ``sock`` to a free tcp port on 127.0.0.1 and tell the driver its endpoint (READY)."""
    if type(sock).__module__.split(".")[0] == "zmq":
        port = sock.bind_to_random_port("tcp://127.0.0.1")
        emit("READY", f"tcp://127.0.0.1:{port}")
    else:
        sock.bind("tcp://127.0.0.1:*")
        emit("READY", sock.last_endpoint.decode())


def _recv_blocking(new_context: Callable[[], Any], pull: int, count: int) -> None:
    """A PULL socket of ``new_context()`` receives ``count`` messages with a blocking ``recv()``."""
    ctx = new_context()
    sock = ctx.socket(pull)
    _listen(sock)
    recv = sock.recv
    recv()
    first = time.perf_counter()
    for _ in range(count - 1):
        recv()
    report(first, time.perf_counter(), count)
    sock.close(linger=0)
    ctx.term()


async def _recv_awaiting(new_context: Callable[[], Any], pull: int, count: int) -> None:
    """The same with ``await recv()`` (run it in the loop: the context is made there)."""
    ctx = new_context()
    sock = ctx.socket(pull)
    _listen(sock)
    recv = sock.recv
    await recv()
    first = time.perf_counter()
    for _ in range(count - 1):
        await recv()
    report(first, time.perf_counter(), count)
    sock.close(linger=0)
    ctx.term()


def recv_zloop_asyncio(count: int) -> None:
    import asyncio

    import zloop
    from zloop.adapters.asyncio import Context

    asyncio.run(_recv_awaiting(Context, zloop.PULL, count))


def recv_pyzmq_asyncio(count: int) -> None:
    import asyncio

    import zmq
    import zmq.asyncio

    asyncio.run(_recv_awaiting(zmq.asyncio.Context, zmq.PULL, count))


def recv_zloop_trio(count: int) -> None:
    import trio

    import zloop
    from zloop.adapters.trio import Context

    trio.run(_recv_awaiting, Context, zloop.PULL, count)


def recv_zloop_gevent(count: int) -> None:
    import zloop
    from zloop.adapters.gevent import Context

    _recv_blocking(Context, zloop.PULL, count)


def recv_pyzmq_green(count: int) -> None:
    import zmq.green as zmq

    _recv_blocking(zmq.Context, zmq.PULL, count)


def _recv_zmqstream(count: int, stream_cls: Callable[..., object], sock: object) -> None:
    """Receive ``count`` messages through a ZMQStream's on_recv callback on a fresh IOLoop."""
    from tornado.ioloop import IOLoop

    loop = IOLoop(make_current=False)
    times: list[float] = []

    async def main() -> None:
        import tornado.locks

        done = tornado.locks.Event()
        received = 0
        stream = stream_cls(sock, loop)

        def on_msg(msg: list[bytes]) -> None:
            nonlocal received
            received += 1
            if received == 1:
                times.append(time.perf_counter())
            if received == count:
                times.append(time.perf_counter())
                done.set()

        stream.on_recv(on_msg)  # type: ignore[attr-defined]
        await done.wait()
        stream.close(linger=0)  # type: ignore[attr-defined]

    loop.run_sync(main)
    loop.close(all_fds=False)
    report(times[0], times[1], count)


def recv_zloop_tornado(count: int) -> None:
    import zloop
    from zloop.adapters.tornado import ZMQStream

    ctx = zloop.Context()
    sock = ctx.socket(zloop.PULL)
    _listen(sock)
    _recv_zmqstream(count, ZMQStream, sock)
    ctx.term()


def recv_pyzmq_tornado(count: int) -> None:
    import zmq
    from zmq.eventloop.zmqstream import ZMQStream

    ctx = zmq.Context()
    sock = ctx.socket(zmq.PULL)
    _listen(sock)
    _recv_zmqstream(count, ZMQStream, sock)
    ctx.term()


def recv_zloop_anyio(count: int) -> None:
    import anyio

    import zloop
    from zloop.adapters.anyio import Context

    anyio.run(_recv_awaiting, Context, zloop.PULL, count)


def recv_zloop_anyio_trio(count: int) -> None:
    import anyio

    import zloop
    from zloop.adapters.anyio import Context

    anyio.run(_recv_awaiting, Context, zloop.PULL, count, backend="trio")


def _recv_twisted_callbacks(
    count: int, sock: Any, attach: Callable[[Callable[[Any], None]], Any]
) -> None:
    """Receive ``count`` messages through callbacks on the global reactor (this worker process
    runs it once): ``attach(on_msg)`` registers the callback."""
    from twisted.internet import reactor

    times: list[float] = []
    received = 0

    def on_msg(_msg: Any) -> None:
        nonlocal received
        received += 1
        if received == 1:
            times.append(time.perf_counter())
        if received == count:
            times.append(time.perf_counter())
            reactor.stop()  # type: ignore[attr-defined]

    attach(on_msg)
    reactor.run()  # type: ignore[attr-defined]
    report(times[0], times[1], count)


def recv_zloop_twisted(count: int) -> None:
    import zloop
    from zloop.adapters.twisted import Socket

    ctx = zloop.Context()
    raw = ctx.socket(zloop.PULL)
    _listen(raw)
    sock = Socket.from_socket(raw)
    _recv_twisted_callbacks(count, sock, sock.on_recv)
    sock.close(linger=0)
    ctx.term()


def recv_zloop_twisted_deferred(count: int) -> None:
    """``await sock.recv()`` in a coroutine (Deferred.fromCoroutine), one message per call."""
    from twisted.internet import defer, reactor

    import zloop
    from zloop.adapters.twisted import Context

    async def main() -> None:
        await _recv_awaiting(Context, zloop.PULL, count)
        reactor.stop()  # type: ignore[attr-defined]

    reactor.callWhenRunning(lambda: defer.Deferred.fromCoroutine(main()))  # type: ignore[attr-defined]
    reactor.run()  # type: ignore[attr-defined]


def recv_txzmq(count: int) -> None:
    """txZMQ's pull connection (its gotMessage hook) on the global reactor."""
    from txzmq import ZmqFactory, ZmqPullConnection

    factory = ZmqFactory()
    conn = ZmqPullConnection(factory)  # no endpoint: bound below to a free port
    _listen(conn.socket)

    def attach(on_msg: Callable[[Any], None]) -> None:
        conn.onPull = on_msg

    _recv_twisted_callbacks(count, conn, attach)
    conn.shutdown()


#: row name -> receiver function (called in the receiver worker with the message count).
RECEIVERS: dict[str, Callable[[int], None]] = {
    "zloop.adapters.asyncio": recv_zloop_asyncio,
    "zmq.asyncio": recv_pyzmq_asyncio,
    "zloop.adapters.trio": recv_zloop_trio,
    "zloop.adapters.gevent": recv_zloop_gevent,
    "zmq.green": recv_pyzmq_green,
    "zloop.adapters.tornado.ZMQStream": recv_zloop_tornado,
    "zmq ZMQStream": recv_pyzmq_tornado,
    "zloop.adapters.anyio (asyncio)": recv_zloop_anyio,
    "zloop.adapters.anyio (trio)": recv_zloop_anyio_trio,
    "zloop.adapters.twisted on_recv": recv_zloop_twisted,
    "zloop.adapters.twisted await recv()": recv_zloop_twisted_deferred,
    "txZMQ": recv_txzmq,
}

#: (loop, zloop adapter row, pyzmq integration row): one line of the table each.
PAIRS: list[tuple[str, str, str]] = [
    ("asyncio", "zloop.adapters.asyncio", "zmq.asyncio"),
    # pyzmq has no trio integration: its nearest, zmq.asyncio, is the reference row.
    ("trio", "zloop.adapters.trio", "zmq.asyncio"),
    ("gevent", "zloop.adapters.gevent", "zmq.green"),
    ("tornado", "zloop.adapters.tornado.ZMQStream", "zmq ZMQStream"),
    ("anyio-asyncio", "zloop.adapters.anyio (asyncio)", "zmq.asyncio"),
    # anyio on trio: pyzmq has no trio integration; zmq.asyncio is again the reference row.
    ("anyio-trio", "zloop.adapters.anyio (trio)", "zmq.asyncio"),
    ("twisted", "zloop.adapters.twisted on_recv", "txZMQ"),
    ("twisted-deferred", "zloop.adapters.twisted await recv()", "txZMQ"),
]


# -- sender -------------------------------------------------------------------------------------------


def send_pyzmq(endpoint: str, count: int) -> None:
    import zmq

    ctx = zmq.Context()
    sock = ctx.socket(zmq.PUSH)
    sock.connect(endpoint)
    payload = b"x" * SIZE
    send = sock.send
    for _ in range(count):
        send(payload)
    sock.close()  # linger -1: returns once everything was handed to the peer
    ctx.term()
    emit("RESULT", json.dumps({"sent": count}))


# -- driver -------------------------------------------------------------------------------------------


def run_row(row: str, count: int, timeout: float) -> float:
    result = run_pair(
        SCRIPT,
        ["--worker", "recv", "--row", row, "--count", str(count)],
        ["--worker", "send", "--count", str(count)],
        timeout=timeout,
    )
    return (result["count"] - 1) / max(result["elapsed"], 1e-9)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small counts (smoke run)")
    parser.add_argument("--count", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=1, help="runs per row; the median is shown")
    parser.add_argument("--loops", default=None, help="comma-separated loops (default: all)")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--worker", choices=("recv", "send"), help=argparse.SUPPRESS)
    parser.add_argument("--row", help=argparse.SUPPRESS)
    parser.add_argument("--endpoint", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    count = args.count or (20_000 if args.quick else DEFAULT_COUNT)

    if args.worker == "recv":
        RECEIVERS[args.row](count)
        return 0
    if args.worker == "send":
        send_pyzmq(args.endpoint, count)
        return 0

    wanted = None if args.loops is None else set(args.loops.split(","))
    rows: list[list[str]] = []
    failed = False
    print(f"== adapter receive throughput: {SIZE} B messages over tcp, {count} per run ==")
    for loop, zrow, prow in PAIRS:
        if wanted is not None and loop not in wanted:
            continue
        rates: dict[str, float | None] = {}
        for row in (zrow, prow):
            samples = []
            try:
                for _ in range(max(1, args.repeat)):
                    samples.append(run_row(row, count, args.timeout))
                rates[row] = statistics.median(samples)
            except BenchError as exc:
                print(f"FAILED {row}: {exc}", file=sys.stderr)
                rates[row] = None
                failed = True
        z, p = rates[zrow], rates[prow]
        rows.append(
            [
                loop,
                f"{zrow}: {fmt_rate(z)}" if z is not None else f"{zrow}: FAILED",
                f"{prow}: {fmt_rate(p)}" if p is not None else f"{prow}: FAILED",
                f"{z / p:.2f}" if z is not None and p is not None else "-",
            ]
        )
    print(render(["loop", "zloop adapter msg/s", "pyzmq integration msg/s", "zloop/pyzmq"], rows))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
