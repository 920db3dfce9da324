"""Receive throughput and round trips through the event-loop adapters, zloop against pyzmq's own
integrations.

Run: ``uv run python bench/bench_adapters.py [--quick] [--count N] [--repeat N] [--loops asyncio]
[--sizes 16,65536,1048576] [--no-rtt] [--no-throughput]``

For each loop, two rows in the same run:

* zloop's adapter (e.g. ``zloop.adapters.asyncio``) receiving on a **zloop** PULL socket;
* pyzmq's integration of the same loop (e.g. ``zmq.asyncio``) receiving on a **pyzmq** PULL socket.

The receiver process binds a PULL socket (tcp) and awaits ``recv()`` in a loop, one message per
call, as an application would. The sender is another process with a plain pyzmq PUSH socket (the
same fast sender for both rows, so the rows measure the receiving side) sending ``count``
messages of each size (16 B, 64 KiB and 1 MiB by default; larger sizes get proportionally fewer
messages, see :data:`SIZE_COUNTS`). Time runs from the first message received to the last;
rate = (count - 1) / elapsed. The ratio column is zloop-adapter msg/s divided by
pyzmq-integration msg/s (>= 1.0: zloop is at least as fast).

Round trips (:data:`RTT_PAIRS`): a plain pyzmq PAIR echo process (the same fast peer for both rows)
and a client that sends 16 B and receives the echo through the adapter (awaiting, or blocking in
gevent's hub), plus the blocking sockets without a loop for reference; the median round trip in
microseconds, and the ratio zloop/pyzmq (<= 1.0: zloop is at least as quick).

Adding a loop (trio, gevent, tornado): write two receiver functions with the signature of
:func:`recv_zloop_asyncio` (bind with :func:`_listen`, which emits ``READY endpoint``, receive
``count`` messages, ``emit("RESULT", json)`` via :func:`report`; :func:`_recv_awaiting` and
:func:`_recv_blocking` do all that for a loop whose ``recv()`` is awaited or blocks), register
them in :data:`RECEIVERS`, and add a ``(loop, zloop_row, pyzmq_row)`` entry to :data:`PAIRS`.
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _proc import BenchError, emit, fmt_rate, fmt_size, render, run_pair

from zloop._bench.latency import timed_round_trips

SCRIPT = Path(__file__).resolve()
SIZES = (16, 65536, 1 << 20)
DEFAULT_COUNT = 200_000
#: Messages per run for a size, as a fraction of the 16 B count (about the same seconds per run).
SIZE_COUNTS = {16: 1, 65536: 1 / 10, 1 << 20: 1 / 100}
#: Round trips per RTT run, and warm-up round trips before them.
RTT_COUNT = 5_000
RTT_WARMUP = 200
RTT_SIZE = 16


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


def send_pyzmq(endpoint: str, count: int, size: int) -> None:
    import zmq

    ctx = zmq.Context()
    sock = ctx.socket(zmq.PUSH)
    sock.connect(endpoint)
    payload = b"x" * size
    send = sock.send
    for _ in range(count):
        send(payload)
    sock.close()  # linger -1: returns once everything was handed to the peer
    ctx.term()
    emit("RESULT", json.dumps({"sent": count}))


# -- driver -------------------------------------------------------------------------------------------


def count_for(size: int, count: int) -> int:
    """Messages per throughput run of ``size`` bytes when 16 B runs take ``count``."""
    return max(50, int(count * SIZE_COUNTS.get(size, 16 / size)))


def run_row(row: str, count: int, size: int, timeout: float) -> float:
    result = run_pair(
        SCRIPT,
        ["--worker", "recv", "--row", row, "--count", str(count)],
        ["--worker", "send", "--count", str(count), "--size", str(size)],
        timeout=timeout,
    )
    return (result["count"] - 1) / max(result["elapsed"], 1e-9)


# -- round trips ---------------------------------------------------------------------------------------


def echo_pyzmq(count: int) -> None:
    """The echo peer of every RTT row: a pyzmq PAIR socket sending back what it receives."""
    import zmq

    ctx = zmq.Context()
    sock = ctx.socket(zmq.PAIR)
    sock.setsockopt(zmq.LINGER, 2000)
    _listen(sock)
    recv, send = sock.recv, sock.send
    for _ in range(count):
        send(recv())
    sock.close()
    ctx.term()


def _report_rtt(samples: list[int]) -> None:
    emit("RESULT", json.dumps({"p50_us": statistics.median(samples) / 1000}))


def _rtt_blocking(new_context: Callable[[], Any], pair: int, endpoint: str, count: int) -> None:
    """``count`` timed round trips (after a warm-up) with a blocking send and recv."""
    ctx = new_context()
    sock = ctx.socket(pair)
    sock.connect(endpoint)
    samples, _ = timed_round_trips(sock.send, sock.recv, b"x" * RTT_SIZE, RTT_WARMUP, count)
    sock.close(linger=0)
    ctx.term()
    _report_rtt(samples)


async def _rtt_awaiting(
    new_context: Callable[[], Any], pair: int, endpoint: str, count: int
) -> None:
    """The same with ``await send()`` and ``await recv()`` (run it in the loop)."""
    ctx = new_context()
    sock = ctx.socket(pair)
    sock.connect(endpoint)
    payload = b"x" * RTT_SIZE
    send, recv = sock.send, sock.recv
    for _ in range(RTT_WARMUP):
        await send(payload)
        await recv()
    clock = time.perf_counter_ns
    samples = [0] * count
    for i in range(count):
        t0 = clock()
        await send(payload)
        await recv()
        samples[i] = clock() - t0
    sock.close(linger=0)
    ctx.term()
    _report_rtt(samples)


def rtt_zloop_blocking(endpoint: str, count: int) -> None:
    import zloop

    _rtt_blocking(zloop.Context, zloop.PAIR, endpoint, count)


def rtt_pyzmq_blocking(endpoint: str, count: int) -> None:
    import zmq

    _rtt_blocking(zmq.Context, zmq.PAIR, endpoint, count)


def rtt_zloop_gevent(endpoint: str, count: int) -> None:
    import zloop
    from zloop.adapters.gevent import Context

    _rtt_blocking(Context, zloop.PAIR, endpoint, count)


def rtt_pyzmq_green(endpoint: str, count: int) -> None:
    import zmq.green as zmq

    _rtt_blocking(zmq.Context, zmq.PAIR, endpoint, count)


def rtt_zloop_asyncio(endpoint: str, count: int) -> None:
    import asyncio

    import zloop
    from zloop.adapters.asyncio import Context

    asyncio.run(_rtt_awaiting(Context, zloop.PAIR, endpoint, count))


def rtt_pyzmq_asyncio(endpoint: str, count: int) -> None:
    import asyncio

    import zmq
    import zmq.asyncio

    asyncio.run(_rtt_awaiting(zmq.asyncio.Context, zmq.PAIR, endpoint, count))


#: RTT row name -> client function (called in the client worker with the echo's endpoint).
RTT_CLIENTS: dict[str, Callable[[str, int], None]] = {
    "zloop (blocking)": rtt_zloop_blocking,
    "pyzmq (blocking)": rtt_pyzmq_blocking,
    "zloop.adapters.gevent": rtt_zloop_gevent,
    "zmq.green": rtt_pyzmq_green,
    "zloop.adapters.asyncio": rtt_zloop_asyncio,
    "zmq.asyncio": rtt_pyzmq_asyncio,
}

#: (loop, zloop row, pyzmq row) of the round-trip table ("none": the blocking sockets).
RTT_PAIRS: list[tuple[str, str, str]] = [
    ("none", "zloop (blocking)", "pyzmq (blocking)"),
    ("gevent", "zloop.adapters.gevent", "zmq.green"),
    ("asyncio", "zloop.adapters.asyncio", "zmq.asyncio"),
]


def run_rtt_row(row: str, count: int, timeout: float) -> float:
    result = run_pair(
        SCRIPT,
        ["--worker", "echo", "--count", str(count + RTT_WARMUP)],
        ["--worker", "rtt", "--row", row, "--count", str(count)],
        timeout=timeout,
        result_from="client",
    )
    return float(result["p50_us"])


def _median(run: Callable[[], float], repeat: int, row: str) -> float | None:
    """The median of ``repeat`` runs, or None (reported on stderr) if one failed."""
    try:
        return statistics.median(run() for _ in range(max(1, repeat)))
    except BenchError as exc:
        print(f"FAILED {row}: {exc}", file=sys.stderr)
        return None


def _cell(row: str, value: float | None, fmt: Callable[[float], str]) -> str:
    return f"{row}: {fmt(value)}" if value is not None else f"{row}: FAILED"


def _fmt_us(us: float) -> str:
    return f"{us:.0f} us"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small counts (smoke run)")
    parser.add_argument("--count", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=1, help="runs per row; the median is shown")
    parser.add_argument("--loops", default=None, help="comma-separated loops (default: all)")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument(
        "--sizes", default=",".join(map(str, SIZES)), help="message sizes of the throughput rows"
    )
    parser.add_argument("--rtt-count", type=int, default=None, help="round trips per RTT run")
    parser.add_argument("--no-rtt", action="store_true", help="throughput rows only")
    parser.add_argument("--no-throughput", action="store_true", help="round-trip rows only")
    parser.add_argument("--worker", choices=("recv", "send", "echo", "rtt"), help=argparse.SUPPRESS)
    parser.add_argument("--row", help=argparse.SUPPRESS)
    parser.add_argument("--endpoint", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, default=16, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    count = args.count or (20_000 if args.quick else DEFAULT_COUNT)
    rtt_count = args.rtt_count or (300 if args.quick else RTT_COUNT)

    if args.worker == "recv":
        RECEIVERS[args.row](count)
        return 0
    if args.worker == "send":
        send_pyzmq(args.endpoint, count, args.size)
        return 0
    if args.worker == "echo":
        echo_pyzmq(count)
        return 0
    if args.worker == "rtt":
        RTT_CLIENTS[args.row](args.endpoint, count)
        return 0

    wanted = None if args.loops is None else args.loops.split(",")
    sizes = [] if args.no_throughput else [int(s) for s in args.sizes.split(",")]
    text, failed = run_tables(
        wanted, sizes, count, None if args.no_rtt else rtt_count, args.repeat, args.timeout
    )
    print(text)
    return 1 if failed else 0


def run_tables(
    loops: list[str] | None,
    sizes: list[int],
    count: int,
    rtt_count: int | None,
    repeat: int = 1,
    timeout: float = 120.0,
) -> tuple[str, bool]:
    """The throughput table of each size and (unless ``rtt_count`` is None) the round-trip table,
    for ``loops`` (None: all); the text and whether any run failed (``run_all.py`` uses it)."""
    out: list[str] = []
    failed = False
    for size in sizes:
        n = count_for(size, count)
        small = size < 1024
        unit = "msg/s" if small else "MB/s"

        def fmt(rate: float, size: int = size, small: bool = small) -> str:
            return fmt_rate(rate) if small else f"{rate * size / 1e6:,.0f} MB/s"

        out.append(
            f"== adapter receive throughput: {fmt_size(size)} messages over tcp, {n} per run =="
        )
        rows: list[list[str]] = []
        for loop, zrow, prow in PAIRS:
            if loops is not None and loop not in loops:
                continue
            z, p = (
                _median(functools.partial(run_row, row, n, size, timeout), repeat, row)
                for row in (zrow, prow)
            )
            failed |= z is None or p is None
            ratio = f"{z / p:.2f}" if z is not None and p is not None else "-"
            rows.append([loop, _cell(zrow, z, fmt), _cell(prow, p, fmt), ratio])
        headers = ["loop", f"zloop adapter {unit}", f"pyzmq integration {unit}", "zloop/pyzmq"]
        out.append(render(headers, rows) + "\n")
    if rtt_count is not None:
        out.append(
            f"== round trips through the adapters: {RTT_SIZE} B over tcp to a pyzmq PAIR echo, "
            f"{rtt_count} per run, median =="
        )
        rows = []
        for loop, zrow, prow in RTT_PAIRS:
            if loops is not None and loop not in loops and loop != "none":
                continue
            z, p = (
                _median(functools.partial(run_rtt_row, row, rtt_count, timeout), repeat, row)
                for row in (zrow, prow)
            )
            failed |= z is None or p is None
            ratio = f"{z / p:.2f}" if z is not None and p is not None else "-"
            rows.append([loop, _cell(zrow, z, _fmt_us), _cell(prow, p, _fmt_us), ratio])
        out.append(render(["loop", "zloop p50", "pyzmq p50", "zloop/pyzmq"], rows))
    return "\n".join(out), failed


if __name__ == "__main__":
    sys.exit(main())
