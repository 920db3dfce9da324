"""Every socket benchmark in one invocation: throughput and latency, zloop against pyzmq.

Run: ``uv run python bench/run_all.py [--quick]`` (or ``uv run python -m bench``)

Prints the machine (CPU model, cores, Python, pyzmq/libzmq and zloop versions), then the PUSH/PULL
throughput table (with the raw-Python-socket ceiling), the PAIR round-trip latency table and the
CURVE vs NULL table (``bench/bench_curve.py``: zloop and pyzmq over loopback tcp in this process,
plus zloop's codec alone; a fixed time per measurement, skipped without PyNaCl) and the memory per
idle connection (``bench/bench_memory.py``: server RSS growth for 10,000 connections that stay
silent, send half a greeting, announce a large handshake frame or complete a handshake; ``--quick``:
500 connections over tcp, silent and handshaken only), and the asyncio and gevent adapters against
pyzmq's ``zmq.asyncio`` / ``zmq.green`` (``zloop/_bench/adapters.py``, as ``zloop bench --adapters
--loops asyncio,gevent``: receive throughput at 16 B, 64 KiB and 1 MiB, round trips; skipped with
``--quick`` unless ``--adapters``). Exits non-zero if any run failed. Each run has its own deadline
and kills its worker processes on any error, so the suite always ends by itself. (``bench/bench_protocol.py``, the sans-I/O codec
benchmark, is separate: it runs in one process and has nothing to compare against.)
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_curve
import bench_memory
import latency
import throughput

from zloop._bench import adapters

HEADER = "zloop benchmark suite"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> list[str]:
    import zmq

    import zloop

    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    cores = f"{os.cpu_count()} logical" + (f" ({affinity} usable)" if affinity else "")
    return [
        f"cpu:     {cpu_model()}, {cores}",
        f"os:      {platform.system()} {platform.release()} ({platform.machine()})",
        f"python:  {platform.python_implementation()} {platform.python_version()}",
        f"pyzmq:   {zmq.pyzmq_version()} (libzmq {zmq.zmq_version()})",
        f"zloop:   {getattr(zloop, '__version__', '?')} ({Path(zloop.__file__).parent})",
    ]


def curve_section(quick: bool, repeat: int) -> str:
    """The "CURVE vs NULL" table, or why it was skipped."""
    title = (
        "CURVE vs NULL (PUSH->PULL over loopback tcp in one process, receiver-timed msg/s; "
        "C/N = CURVE/NULL; codec = two in-memory zloop Connections)\n"
    )
    try:
        from zloop.keys import require_nacl

        require_nacl()
    except ImportError:
        return title + "skipped: PyNaCl is not installed (zloop[curve])"
    seconds = bench_curve.QUICK_SECONDS if quick else 1.0
    rows = bench_curve.run_suite(seconds=seconds, repeat=repeat)
    return title + bench_curve.format_table(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke run")
    parser.add_argument("--count", type=int, help="messages per throughput run (override)")
    parser.add_argument("--lat-count", type=int, help="round trips per latency run (override)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per row; the median is shown")
    parser.add_argument("--no-latency", action="store_true")
    parser.add_argument("--no-throughput", action="store_true")
    parser.add_argument("--no-curve", action="store_true")
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument(
        "--adapters",
        action="store_true",
        help="also the asyncio and gevent adapters against pyzmq's (always on without --quick)",
    )
    parser.add_argument("--no-adapters", action="store_true")
    args = parser.parse_args(argv)

    started = time.monotonic()
    print(
        f"== {HEADER} ==" + (" (quick: smoke-run counts, numbers are noisy)" if args.quick else "")
    )
    for line in machine_info():
        print(line)
    sys.stdout.flush()

    failed = False
    sections = []
    if not args.no_throughput:
        suite = throughput.run_suite(quick=args.quick, count=args.count, repeat=args.repeat)
        failed |= bool(suite.failed)
        sections.append(
            "PUSH/PULL throughput (receiver-timed, first to last message; ratio = zloop/pyzmq msg/s)\n"
            + throughput.format_suite(suite)
        )
    if not args.no_latency:
        results = latency.run_suite(quick=args.quick, count=args.lat_count, repeat=args.repeat)
        failed |= any(r.error for r in results)
        sections.append(
            "PAIR round-trip latency (client-timed blocking send + recv)\n"
            + latency.format_results(results)
        )
    if not args.no_curve:
        sections.append(curve_section(args.quick, args.repeat))
        failed |= "FAILED" in sections[-1]
    if not args.no_adapters and (args.adapters or not args.quick):
        # The rows: asyncio and gevent at 16 B, 64 KiB and 1 MiB, and their round trips
        # (zloop bench --adapters and bench/bench_adapters.py have every loop).
        count, rtt_count = adapters.counts(args.quick)
        adapter_suite = adapters.run_suite(
            loops=["asyncio", "gevent"], count=count, rtt_count=rtt_count, repeat=args.repeat
        )
        failed |= adapter_suite.failed
        sections.append(adapters.format_suite(adapter_suite))
    if not args.no_memory:
        if args.quick:
            rows = bench_memory.run_suite(
                bench_memory.QUICK_COUNT, ["silent", "ready"], ["tcp"], list(bench_memory.IMPLS)
            )
        else:
            rows = bench_memory.run_suite(
                bench_memory.COUNT,
                list(bench_memory.MODES),
                list(bench_memory.TRANSPORTS),
                list(bench_memory.IMPLS),
            )
        failed |= any(r.error for r in rows)
        sections.append(bench_memory.TITLE + "\n" + bench_memory.format_rows(rows))
    for section in sections:
        print()
        print(section)
    print(f"\ntotal {time.monotonic() - started:.1f} s" + ("; SOME RUNS FAILED" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
