"""PAIR round-trip latency, zloop against pyzmq (libzmq), over tcp and ipc, in two processes.

Run: ``uv run python bench/latency.py [--quick] [--count N] [--size 16]``

An echo process binds a PAIR socket and sends back every message it receives; a client process
connects a PAIR socket and, after a warm-up, times each blocking ``send`` + ``recv`` round trip with
``perf_counter_ns``. Reported: mean, median (p50) and p99 of the round trip in microseconds. (Like
libzmq's local_lat/remote_lat, but per-sample so percentiles are available; REQ/REP does not exist
in zloop yet, PAIR carries the same one-in-flight traffic.)
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from zloop._bench.proc import BenchError, emit, fmt_size, import_impl, median_run, render, run_pair

#: How a worker process runs this module.
SCRIPT = ["-m", "zloop._bench.latency"]

TRANSPORTS = ("tcp", "ipc")
IMPLS = ("zloop", "pyzmq")
#: Timed round trips per run and warm-up round trips before them.
COUNTS = {"zloop": 8_000, "pyzmq": 10_000}
WARMUP = 200
QUICK_COUNT = 300
QUICK_WARMUP = 20
SIZE = 16

RUN_TIMEOUT = 60.0
QUICK_RUN_TIMEOUT = 30.0
IO_TIMEOUT_MS = 20_000


@dataclass
class Result:
    transport: str
    impl: str
    size: int
    count: int
    mean: float = 0.0
    p50: float = 0.0
    p99: float = 0.0
    error: str = ""


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return 0.0
    rank = max(1, min(len(sorted_values), round(q / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


# -- workers (child processes) ---------------------------------------------------------------------


def _echo(impl: str, endpoint: str, total: int) -> None:
    zmq = import_impl(impl)
    ctx = zmq.Context()
    sock = ctx.socket(zmq.PAIR)
    sock.setsockopt(zmq.RCVTIMEO, IO_TIMEOUT_MS)
    sock.setsockopt(zmq.SNDTIMEO, IO_TIMEOUT_MS)
    sock.setsockopt(zmq.LINGER, IO_TIMEOUT_MS)
    sock.bind(endpoint)
    emit("READY", sock.getsockopt(zmq.LAST_ENDPOINT).decode())
    recv, send = sock.recv, sock.send
    for _ in range(total):
        send(recv())
    sock.close()
    ctx.term()


def timed_round_trips(
    send: Callable[[bytes], Any], recv: Callable[[], Any], payload: bytes, warmup: int, count: int
) -> tuple[list[int], Any]:
    """``count`` round trips (after ``warmup`` untimed ones) with a blocking ``send`` + ``recv``:
    each one's nanoseconds, and the last reply (for the caller to check)."""
    reply: Any = None
    for _ in range(warmup):
        send(payload)
        recv()
    clock = time.perf_counter_ns
    samples = [0] * count
    for i in range(count):
        t0 = clock()
        send(payload)
        reply = recv()
        samples[i] = clock() - t0
    return samples, reply


def _client(impl: str, endpoint: str, size: int, count: int, warmup: int) -> None:
    zmq = import_impl(impl)
    ctx = zmq.Context()
    sock = ctx.socket(zmq.PAIR)
    sock.setsockopt(zmq.RCVTIMEO, IO_TIMEOUT_MS)
    sock.setsockopt(zmq.SNDTIMEO, IO_TIMEOUT_MS)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    samples, reply = timed_round_trips(sock.send, sock.recv, b"x" * size, warmup, count)
    if len(reply) != size:
        raise SystemExit(f"expected a {size}-byte reply, got {len(reply)}")
    emit("RESULT", json.dumps({"samples_ns": samples}))
    sock.close()
    ctx.term()


def worker_main(args: argparse.Namespace) -> None:
    if args.worker == "echo":
        _echo(args.impl, args.endpoint, args.count + args.warmup)
    else:
        _client(args.impl, args.endpoint, args.size, args.count, args.warmup)


# -- parent ----------------------------------------------------------------------------------------


def run_one(
    impl: str, transport: str, size: int, count: int, warmup: int, tmpdir: str, timeout: float
) -> Result:
    result = Result(transport, impl, size, count)
    endpoint = "tcp://127.0.0.1:*" if transport == "tcp" else f"ipc://{tmpdir}/lat-{impl}.ipc"
    common = ["--impl", impl, "--size", str(size), "--count", str(count), "--warmup", str(warmup)]
    try:
        data = run_pair(
            SCRIPT,
            ["--worker", "echo", "--endpoint", endpoint, *common],
            ["--worker", "client", *common],
            timeout,
            result_from="client",
        )
    except BenchError as exc:
        result.error = str(exc)
        return result
    us = sorted(ns / 1000 for ns in data["samples_ns"])
    result.mean = statistics.fmean(us)
    result.p50 = percentile(us, 50)
    result.p99 = percentile(us, 99)
    return result


def run_suite(
    *,
    quick: bool = False,
    count: int | None = None,
    size: int = SIZE,
    transports: tuple[str, ...] = TRANSPORTS,
    repeat: int = 1,
    progress: bool = True,
    impls: tuple[str, ...] = IMPLS,
) -> list[Result]:
    """Every (transport, implementation); with ``repeat`` > 1 the run with the median p50 is kept."""
    results = []
    timeout = QUICK_RUN_TIMEOUT if quick else RUN_TIMEOUT
    warmup = QUICK_WARMUP if quick else WARMUP
    total = len(transports) * len(impls)
    step = 0
    with tempfile.TemporaryDirectory(prefix="zloop-bench-") as tmpdir:
        for transport in transports:
            for impl in impls:
                step += 1
                n = count if count is not None else QUICK_COUNT if quick else COUNTS[impl]
                n = max(1, n)
                result = median_run(
                    functools.partial(run_one, impl, transport, size, n, warmup, tmpdir, timeout),
                    repeat,
                    key=lambda r: r.p50,
                    label=f"  [{step}/{total}] latency {impl:5} {transport} "
                    f"{fmt_size(size):>6} x {n} ...",
                    note=lambda r: f"p50 {r.p50:.1f} us",
                    progress=progress,
                )
                results.append(result)
    return results


def format_results(results: list[Result]) -> str:
    headers = [
        "transport/size",
        "impl",
        "mean us",
        "p50 us",
        "p99 us",
        "zloop/pyzmq mean",
        "p50",
        "p99",
    ]
    rows = []
    by_key = {(r.transport, r.impl): r for r in results}
    for r in results:
        cells = [f"{r.transport} {fmt_size(r.size)}", r.impl]
        if r.error:
            cells += ["FAILED", "-", "-"]
        else:
            cells += [f"{r.mean:.1f}", f"{r.p50:.1f}", f"{r.p99:.1f}"]
        p = by_key.get((r.transport, "pyzmq"))
        if r.impl == "zloop" and p is not None and not p.error and not r.error and p.mean:
            cells += [f"{r.mean / p.mean:.2f}", f"{r.p50 / p.p50:.2f}", f"{r.p99 / p.p99:.2f}"]
        else:
            cells += ["", "", ""]
        rows.append(cells)
    out = render(headers, rows)
    for r in results:
        if r.error:
            out += f"\n\nFAILED {r.impl} {r.transport}: {r.error}"
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="few round trips: a smoke run")
    parser.add_argument("--count", type=int, help="timed round trips per run")
    parser.add_argument("--size", type=int, default=SIZE, help="message size in bytes")
    parser.add_argument("--transports", help="comma-separated: tcp,ipc (default both)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per row; the median is shown")
    # worker mode (internal)
    parser.add_argument("--worker", choices=("echo", "client"), help=argparse.SUPPRESS)
    parser.add_argument("--impl", choices=IMPLS, help=argparse.SUPPRESS)
    parser.add_argument("--endpoint", help=argparse.SUPPRESS)
    parser.add_argument("--warmup", type=int, default=WARMUP, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        worker_main(args)
        return 0
    transports = tuple(args.transports.split(",")) if args.transports else TRANSPORTS
    results = run_suite(
        quick=args.quick,
        count=args.count,
        size=args.size,
        transports=transports,
        repeat=args.repeat,
    )
    print("PAIR round-trip latency (client-timed send + recv)")
    print(format_results(results))
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
