"""Receive throughput and round trips through the event-loop adapters, zloop against pyzmq's own
integrations.

Run: ``zloop bench --adapters-only [--quick] [--loops asyncio,gevent] [--sizes 16,64k,1M]`` (or
``--adapters`` beside the socket rows), or in the checkout ``uv run python bench/bench_adapters.py
[--quick] [--count N] [--repeat N] [--loops asyncio] [--sizes 16,65536,1048576] [--no-rtt]
[--no-throughput]``.

For each loop, two rows in the same run:

* zloop's adapter (e.g. ``zloop.adapters.asyncio``) receiving on a **zloop** PULL socket;
* pyzmq's integration of the same loop (e.g. ``zmq.asyncio``) receiving on a **pyzmq** PULL socket.

The receiver process binds a PULL socket (tcp) and awaits ``recv()`` in a loop, one message per
call, as an application would. The sender is another process with a plain pyzmq PUSH socket (the
same fast sender for both rows, so the rows measure the receiving side) sending ``count``
messages of each size (16 B, 64 KiB and 1 MiB by default; larger sizes get proportionally fewer
messages, see :data:`SIZE_COUNTS`). Time runs from the first message received to the last;
rate = (count - 1) / elapsed. With ``--repeat N`` each row shows the median of N runs, the two
rows' runs interleaved (zloop, pyzmq, pyzmq, zloop, ...). The ratio column is zloop-adapter msg/s
divided by pyzmq-integration msg/s (>= 1.0: zloop is at least as fast).

Round trips (:data:`RTT_PAIRS`): a plain pyzmq PAIR echo process (the same fast peer for both rows)
and a client that sends 16 B and receives the echo through the adapter (awaiting, or blocking in
gevent's hub), plus the blocking sockets without a loop for reference; the median round trip in
microseconds, and the ratio zloop/pyzmq (<= 1.0: zloop is at least as quick).

A row whose loop or pyzmq integration is not installed (:data:`NEEDS`), or every row when pyzmq
itself is missing (it is the sender and the echo), is shown as skipped with the reason.

Adding a loop (trio, gevent, tornado): write two receiver functions with the signature of
:func:`recv_zloop_asyncio` (bind with :func:`_listen`, which emits ``READY endpoint``, receive
``count`` messages, ``emit("RESULT", json)`` via :func:`report`; :func:`_recv_awaiting` and
:func:`_recv_blocking` do all that for a loop whose ``recv()`` is awaited or blocks), register
them in :data:`RECEIVERS` and their packages in :data:`NEEDS`, and add a ``(loop, zloop_row,
pyzmq_row)`` entry to :data:`PAIRS`.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from zloop._bench.latency import timed_round_trips
from zloop._bench.proc import BenchError, emit, fmt_rate, fmt_size, render, run_pair

#: How a worker process runs this module.
SCRIPT = ["-m", "zloop._bench.adapters"]
SIZES = (16, 65536, 1 << 20)
DEFAULT_COUNT = 200_000
#: Messages per run for a size, as a fraction of the 16 B count (about the same seconds per run).
SIZE_COUNTS = {16: 1, 65536: 1 / 10, 1 << 20: 1 / 100}
#: Round trips per RTT run, and warm-up round trips before them.
RTT_COUNT = 5_000
RTT_WARMUP = 200
RTT_SIZE = 16
#: ``--quick``: messages per 16 B run and round trips per RTT run.
QUICK_COUNT = 20_000
QUICK_RTT_COUNT = 300
#: Seconds one run (both processes) may take before both are killed.
RUN_TIMEOUT = 120.0


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


def _recv_zmqstream(count: int, stream_cls: Callable[..., Any], sock: object) -> None:
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

        stream.on_recv(on_msg)
        await done.wait()
        stream.close(linger=0)

    loop.run_sync(main)
    loop.close(all_fds=False)
    report(times[0], times[1], count)


def _recv_tornado(
    new_context: Callable[[], Any], pull: int, stream_cls: Callable[..., Any], count: int
) -> None:
    """A PULL socket of ``new_context()``, bound, received from through ``stream_cls``."""
    ctx = new_context()
    sock = ctx.socket(pull)
    _listen(sock)
    _recv_zmqstream(count, stream_cls, sock)
    ctx.term()


def recv_zloop_tornado(count: int) -> None:
    import zloop
    from zloop.adapters.tornado import ZMQStream

    _recv_tornado(zloop.Context, zloop.PULL, ZMQStream, count)


def recv_pyzmq_tornado(count: int) -> None:
    import zmq
    from zmq.eventloop.zmqstream import ZMQStream

    _recv_tornado(zmq.Context, zmq.PULL, ZMQStream, count)


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


def _reactor() -> Any:
    """Twisted's global reactor (installed on first import)."""
    from twisted.internet import reactor

    return reactor


def _recv_twisted_callbacks(
    count: int, sock: Any, attach: Callable[[Callable[[Any], None]], Any]
) -> None:
    """Receive ``count`` messages through callbacks on the global reactor (this worker process
    runs it once): ``attach(on_msg)`` registers the callback."""
    reactor = _reactor()
    times: list[float] = []
    received = 0

    def on_msg(_msg: Any) -> None:
        nonlocal received
        received += 1
        if received == 1:
            times.append(time.perf_counter())
        if received == count:
            times.append(time.perf_counter())
            reactor.stop()

    attach(on_msg)
    reactor.run()
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
    from twisted.internet import defer

    import zloop
    from zloop.adapters.twisted import Context

    reactor = _reactor()

    async def main() -> None:
        await _recv_awaiting(Context, zloop.PULL, count)
        reactor.stop()

    reactor.callWhenRunning(lambda: defer.Deferred.fromCoroutine(main()))
    reactor.run()


def recv_txzmq(count: int) -> None:
    """txZMQ's pull connection (its gotMessage hook) on the global reactor."""
    from txzmq import ZmqFactory, ZmqPullConnection  # type: ignore[import-untyped]

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
    return max(50, int(count * SIZE_COUNTS.get(size, 16 / size if size else 1)))


def run_row(row: str, count: int, size: int, timeout: float) -> float:
    result = run_pair(
        SCRIPT,
        ["--worker", "recv", "--row", row, "--count", str(count)],
        ["--worker", "send", "--count", str(count), "--size", str(size)],
        timeout=timeout,
    )
    return float((result["count"] - 1) / max(result["elapsed"], 1e-9))


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


# -- the tables -----------------------------------------------------------------------------------------

#: The loops of the tables, in their order (``--loops`` picks among them). The round-trip table has
#: the blocking sockets ("none", always shown) and the loops of :data:`RTT_PAIRS`.
LOOPS = tuple(loop for loop, _, _ in PAIRS)

#: Packages a row needs besides zloop and the pyzmq peer (top-level import names).
NEEDS: dict[str, tuple[str, ...]] = {
    "zloop.adapters.asyncio": (),
    "zmq.asyncio": (),
    "zloop.adapters.trio": ("trio",),
    "zloop.adapters.gevent": ("gevent",),
    "zmq.green": ("gevent",),
    "zloop.adapters.tornado.ZMQStream": ("tornado",),
    "zmq ZMQStream": ("tornado",),
    "zloop.adapters.anyio (asyncio)": ("anyio",),
    "zloop.adapters.anyio (trio)": ("anyio", "trio"),
    "zloop.adapters.twisted on_recv": ("twisted",),
    "zloop.adapters.twisted await recv()": ("twisted",),
    "txZMQ": ("twisted", "txzmq"),
    "zloop (blocking)": (),
    "pyzmq (blocking)": (),
}

#: The rows that measure pyzmq (the reference column).
PYZMQ_ROWS = frozenset(p for _, _, p in PAIRS) | frozenset(p for _, _, p in RTT_PAIRS)


def skip_reason(row: str, no_pyzmq: bool = False) -> str:
    """Why ``row`` cannot run here ("" if it can): a package it needs is not installed (pyzmq is
    the sender and the echo peer of every row), or ``no_pyzmq`` leaves out the pyzmq rows."""
    if importlib.util.find_spec("zmq") is None:
        return "pyzmq is not installed"
    if no_pyzmq and row in PYZMQ_ROWS:
        return "--no-pyzmq"
    for name in NEEDS[row]:
        if importlib.util.find_spec(name) is None:
            return f"{name} is not installed"
    return ""


@dataclass
class Measure:
    """One cell: a row's median rate (msg/s) or round trip (microseconds), or why there is none."""

    row: str
    value: float | None = None
    error: str = ""
    skipped: str = ""

    def cell(self, fmt: Callable[[float], str]) -> str:
        if self.skipped:
            return f"{self.row}: skipped ({self.skipped})"
        return f"{self.row}: {fmt(self.value)}" if self.value is not None else f"{self.row}: FAILED"


@dataclass
class Line:
    """One line of a table: a loop's zloop adapter beside pyzmq's integration."""

    kind: str  # "throughput" or "rtt"
    loop: str
    size: int
    count: int
    zloop: Measure
    pyzmq: Measure

    @property
    def ratio(self) -> float | None:
        z, p = self.zloop.value, self.pyzmq.value
        return z / p if z is not None and p is not None and p else None


@dataclass
class Suite:
    lines: list[Line] = field(default_factory=list)
    #: The sizes of the throughput tables, in order, and their messages per run.
    sizes: list[tuple[int, int]] = field(default_factory=list)
    #: Round trips per RTT run; None: no round-trip table.
    rtt_count: int | None = None

    @property
    def failed(self) -> bool:
        return any(m.error for line in self.lines for m in (line.zloop, line.pyzmq))


def counts(quick: bool, count: int | None = None, rtt_count: int | None = None) -> tuple[int, int]:
    """Messages per 16 B throughput run and round trips per RTT run (``--quick``: smoke-run
    counts; ``count`` and ``rtt_count`` override)."""
    return (
        count or (QUICK_COUNT if quick else DEFAULT_COUNT),
        rtt_count or (QUICK_RTT_COUNT if quick else RTT_COUNT),
    )


def _measure_pair(
    runs: tuple[Callable[[], float], Callable[[], float]],
    repeat: int,
    rows: tuple[str, str],
    reasons: tuple[str, str],
    label: Callable[[], str],
    note: Callable[[float], str] | None,
) -> tuple[Measure, Measure]:
    """The zloop row and the pyzmq row of one line: the median of ``repeat`` runs each, the runs
    interleaved (zloop, pyzmq, pyzmq, zloop, ...) so that both rows see the same state of the
    machine -- run one after the other, a shared machine's drift between them moved the ratio
    more than the difference it measures. A row skipped for its ``reasons`` entry has no runs; a
    failed run ends its row's runs (reported on stderr), not the other row's. With a ``note``,
    stderr gets each row and its result, labelled by ``label()``."""
    values: tuple[list[float], list[float]] = ([], [])
    errors = ["", ""]
    for k in range(max(1, repeat)):
        for side in (0, 1) if k % 2 == 0 else (1, 0):
            if reasons[side] or errors[side]:
                continue
            try:
                values[side].append(runs[side]())
            except BenchError as exc:
                errors[side] = str(exc)
                print(f"FAILED {rows[side]}: {exc}", file=sys.stderr)
    out: list[Measure] = []
    for side in (0, 1):
        row = rows[side]
        if reasons[side]:
            result = Measure(row, skipped=reasons[side])
            shown = f"skipped ({reasons[side]})"
        elif errors[side]:
            result = Measure(row, error=errors[side])
            shown = "FAILED"
        else:
            median = statistics.median(values[side])
            result = Measure(row, median)
            shown = note(median) if note is not None else ""
        if note is not None:
            print(f"{label()} {row} ... {shown}", file=sys.stderr, flush=True)
        out.append(result)
    return out[0], out[1]


def run_suite(
    *,
    loops: Sequence[str] | None = None,
    sizes: Sequence[int] = SIZES,
    count: int = DEFAULT_COUNT,
    rtt_count: int | None = RTT_COUNT,
    repeat: int = 1,
    timeout: float = RUN_TIMEOUT,
    no_pyzmq: bool = False,
    progress: bool = True,
) -> Suite:
    """The throughput rows of each size and (unless ``rtt_count`` is None) the round-trip rows, for
    ``loops`` (None: all). Rows that cannot run here are skipped with the reason
    (:func:`skip_reason`). With ``progress``, stderr shows each row as it goes, numbered ``[k/n]``."""
    pairs = [p for p in PAIRS if loops is None or p[0] in loops]
    rtt_pairs = [p for p in RTT_PAIRS if loops is None or p[0] in loops or p[0] == "none"]
    total = 2 * len(pairs) * len(sizes) + (2 * len(rtt_pairs) if rtt_count is not None else 0)
    step = 0

    def label() -> str:
        nonlocal step
        step += 1
        return f"  [{step}/{total}] adapters"

    def line(kind: str, loop: str, size: int, n: int, rows: tuple[str, str], what: str) -> Line:
        """Measure the zloop row and the pyzmq row, interleaved (the pyzmq row is skipped too
        when the zloop row is)."""
        note: Callable[[float], str] = _fmt_msgs if kind == "throughput" else _fmt_us

        def run(row: str) -> Callable[[], float]:
            if kind == "throughput":
                return functools.partial(run_row, row, n, size, timeout)
            return functools.partial(run_rtt_row, row, n, timeout)

        z_reason = skip_reason(rows[0], no_pyzmq)
        p_reason = z_reason or skip_reason(rows[1], no_pyzmq)
        z, p = _measure_pair(
            (run(rows[0]), run(rows[1])),
            repeat,
            rows,
            (z_reason, p_reason),
            lambda: label() + what,
            note if progress else None,
        )
        return Line(kind, loop, size, n, z, p)

    suite = Suite(rtt_count=rtt_count)
    for size in sizes:
        n = count_for(size, count)
        suite.sizes.append((size, n))
        for loop, zrow, prow in pairs:
            what = f" {fmt_size(size)} x {n}"
            suite.lines.append(line("throughput", loop, size, n, (zrow, prow), what))
    if rtt_count is not None:
        for loop, zrow, prow in rtt_pairs:
            what = f" round trips x {rtt_count}"
            suite.lines.append(line("rtt", loop, RTT_SIZE, rtt_count, (zrow, prow), what))
    return suite


def _fmt_msgs(rate: float) -> str:
    return f"{fmt_rate(rate)} msg/s"


def _fmt_us(us: float) -> str:
    return f"{us:.0f} us"


def _ratio(line: Line) -> str:
    ratio = line.ratio
    return "-" if ratio is None else f"{ratio:.2f}"


def format_suite(suite: Suite) -> str:
    """The throughput table of each size, then the round-trip table."""
    out: list[str] = []
    for size, n in suite.sizes:
        small = size < 1024
        unit = "msg/s" if small else "MB/s"

        def fmt(rate: float, size: int = size, small: bool = small) -> str:
            return fmt_rate(rate) if small else f"{rate * size / 1e6:,.0f} MB/s"

        out.append(
            f"== adapter receive throughput: {fmt_size(size)} messages over tcp, {n} per run =="
        )
        rows = [
            [line.loop, line.zloop.cell(fmt), line.pyzmq.cell(fmt), _ratio(line)]
            for line in suite.lines
            if line.kind == "throughput" and line.size == size
        ]
        headers = ["loop", f"zloop adapter {unit}", f"pyzmq integration {unit}", "zloop/pyzmq"]
        out.append(render(headers, rows) + "\n")
    if suite.rtt_count is not None:
        out.append(
            f"== round trips through the adapters: {RTT_SIZE} B over tcp to a pyzmq PAIR echo, "
            f"{suite.rtt_count} per run, median =="
        )
        rows = [
            [line.loop, line.zloop.cell(_fmt_us), line.pyzmq.cell(_fmt_us), _ratio(line)]
            for line in suite.lines
            if line.kind == "rtt"
        ]
        out.append(render(["loop", "zloop p50", "pyzmq p50", "zloop/pyzmq"], rows))
    return "\n".join(out)


def record(suite: Suite) -> dict[str, list[dict[str, Any]]]:
    """Every cell as JSON-ready dicts: ``throughput`` (msg/s and MB/s) and ``rtt`` (p50 in us)."""
    out: dict[str, list[dict[str, Any]]] = {"throughput": [], "rtt": []}
    for line in suite.lines:
        for impl, m in (("zloop", line.zloop), ("pyzmq", line.pyzmq)):
            entry: dict[str, Any] = {
                "loop": line.loop,
                "row": m.row,
                "impl": impl,
                "size": line.size,
                "count": line.count,
            }
            if line.kind == "throughput":
                entry["msg_per_s"] = m.value
                entry["mb_per_s"] = None if m.value is None else m.value * line.size / 1e6
            else:
                entry["p50_us"] = m.value
            entry["error"] = m.error
            entry["skipped"] = m.skipped
            out[line.kind].append(entry)
    return out


def run_tables(
    loops: list[str] | None,
    sizes: list[int],
    count: int,
    rtt_count: int | None,
    repeat: int = 1,
    timeout: float = RUN_TIMEOUT,
) -> tuple[str, bool]:
    """The tables of :func:`run_suite` as text, and whether any run failed."""
    suite = run_suite(
        loops=loops, sizes=sizes, count=count, rtt_count=rtt_count, repeat=repeat, timeout=timeout
    )
    return format_suite(suite), suite.failed


def parse_loops(text: str) -> list[str]:
    """``asyncio,gevent`` -> the loops; ValueError naming an unknown one."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    for name in names:
        if name not in LOOPS:
            raise ValueError(f"{name!r}: the loops are {', '.join(LOOPS)}")
    if not names:
        raise ValueError("no loop given")
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small counts (smoke run)")
    parser.add_argument("--count", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=1, help="runs per row; the median is shown")
    parser.add_argument("--loops", default=None, help="comma-separated loops (default: all)")
    parser.add_argument("--timeout", type=float, default=RUN_TIMEOUT)
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
    count, rtt_count = counts(args.quick, args.count, args.rtt_count)

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

    try:
        wanted = None if args.loops is None else parse_loops(args.loops)
    except ValueError as exc:
        parser.error(f"--loops: {exc}")
    sizes = [] if args.no_throughput else [int(s) for s in args.sizes.split(",")]
    suite = run_suite(
        loops=wanted,
        sizes=sizes,
        count=count,
        rtt_count=None if args.no_rtt else rtt_count,
        repeat=args.repeat,
        timeout=args.timeout,
    )
    print(format_suite(suite))
    return 1 if suite.failed else 0


if __name__ == "__main__":
    sys.exit(main())
