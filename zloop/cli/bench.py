"""``zloop bench``: throughput and latency, zloop beside pyzmq, and libzmq's perf-tool roles.

``zloop bench`` (no role) measures PUSH -> PULL throughput for each message size and transport and
PAIR round-trip latency, each row in two fresh processes, zloop and -- when pyzmq is installed --
libzmq through pyzmq, side by side with their ratio; a table on stdout, each run's progress on
stderr, and ``--plot FILE.svg`` (or ``.png`` with the ``plot`` extra) draws throughput for sizes x
transports. ``--json FILE`` keeps the numbers.

The roles of libzmq's ``perf/`` programs, one side each, for two machines or against libzmq's own
programs (same wire behaviour, same arguments, same report)::

    zloop bench local-thr tcp://*:5555 SIZE COUNT      # PULL, binds, prints the throughput
    zloop bench remote-thr tcp://HOST:5555 SIZE COUNT  # PUSH, connects, sends
    zloop bench local-lat tcp://*:5556 SIZE COUNT      # REP, binds, echoes
    zloop bench remote-lat tcp://HOST:5556 SIZE COUNT  # REQ, connects, prints the latency

``--impl pyzmq`` plays the role with libzmq instead of zloop.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from typing import Any

from zloop._bench import adapters, latency, perf, throughput
from zloop._bench.plot import Series, write_plot
from zloop._bench.proc import BenchError
from zloop._extras import MissingExtraError
from zloop.cli._sockets import CliError

__all__ = ["add_parser", "run"]

ROLES = ("local-thr", "remote-thr", "local-lat", "remote-lat")


def _int_list(text: str) -> tuple[int, ...]:
    try:
        values = tuple(_size(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: sizes are integers (16,1k,64k,1M)") from None
    if not values:
        raise argparse.ArgumentTypeError("no size given")
    return values


def _size(text: str) -> int:
    text = text.strip().lower()
    for suffix, scale in (("k", 1 << 10), ("m", 1 << 20)):
        if text.endswith(suffix):
            return int(text[:-1]) * scale
    value = int(text)
    if value < 0:
        raise ValueError(text)
    return value


def _transports(text: str) -> tuple[str, ...]:
    names = tuple(t.strip() for t in text.split(",") if t.strip())
    for name in names:
        if name not in throughput.TRANSPORTS:
            raise argparse.ArgumentTypeError(f"{name!r}: transports are tcp and ipc")
    return names


def _loops(text: str) -> list[str]:
    try:
        return adapters.parse_loops(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``bench`` and its roles."""
    parser = sub.add_parser(
        "bench",
        help="throughput and latency, zloop beside pyzmq; libzmq's perf-tool roles",
        description="Without a role: measure throughput (PUSH->PULL) and latency (PAIR round "
        "trips), zloop beside pyzmq, as a table (and a plot with --plot); --adapters adds the "
        "event-loop adapters beside pyzmq's integrations. With a role: play one side of "
        "libzmq's perf tools (local-thr, remote-thr, local-lat, remote-lat).",
    )
    parser.add_argument("--quick", action="store_true", help="small counts: a fast, noisy run")
    parser.add_argument(
        "--sizes",
        type=_int_list,
        default=None,
        metavar="N,N",
        help="message sizes for throughput (default 16,1k,64k,1M; adapter rows 16,64k,1M)",
    )
    parser.add_argument(
        "--transports",
        type=_transports,
        default=throughput.TRANSPORTS,
        metavar="tcp,ipc",
        help="transports (default tcp,ipc; the adapter rows are tcp)",
    )
    parser.add_argument(
        "--count",
        type=int,
        help="messages per throughput run (override; adapter rows: at 16 B, larger sizes "
        "proportionally fewer)",
    )
    parser.add_argument(
        "--lat-count", type=int, help="round trips per latency run (override; adapter rows too)"
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs per row; the median is shown")
    parser.add_argument("--no-latency", action="store_true", help="throughput only")
    parser.add_argument("--no-throughput", action="store_true", help="latency only")
    parser.add_argument(
        "--adapters",
        action="store_true",
        help="also the event-loop adapters beside pyzmq's integrations (receive throughput, "
        "round trips; the sender and echo peer are pyzmq)",
    )
    parser.add_argument(
        "--adapters-only", action="store_true", help="only the adapter rows (implies --adapters)"
    )
    parser.add_argument(
        "--loops",
        type=_loops,
        metavar="LOOP,LOOP",
        help="adapter rows of these loops (implies --adapters; default all: "
        + ",".join(adapters.LOOPS)
        + ")",
    )
    parser.add_argument(
        "--no-pyzmq",
        action="store_true",
        help="zloop only, even when pyzmq is installed (adapter rows: their peer stays pyzmq)",
    )
    parser.add_argument(
        "--raw", action="store_true", help="add the raw Python socket ceiling (16 B)"
    )
    parser.add_argument("--plot", metavar="FILE", help="write the throughput plot (.svg or .png)")
    parser.add_argument("--json", metavar="FILE", help="write every measured number as JSON")
    parser.set_defaults(run=run)
    roles = parser.add_subparsers(dest="role", metavar="ROLE")
    for role, what in (
        ("local-thr", "bind PULL, receive COUNT messages, print the throughput (libzmq local_thr)"),
        ("remote-thr", "connect PUSH, send COUNT messages of SIZE bytes (libzmq remote_thr)"),
        ("local-lat", "bind REP, send COUNT requests back (libzmq local_lat)"),
        ("remote-lat", "connect REQ, time COUNT round trips, print the latency (remote_lat)"),
    ):
        p = roles.add_parser(role, help=what, description=what)
        p.add_argument("endpoint", help="e.g. tcp://*:5555 (bind) or tcp://host:5555 (connect)")
        p.add_argument("size", type=_size, help="message size in bytes")
        p.add_argument("count", type=_size, help="messages (thr) or round trips (lat)")
        p.add_argument(
            "--impl",
            choices=("zloop", "pyzmq"),
            default="zloop",
            help="whose sockets play the role (pyzmq = libzmq)",
        )
        p.add_argument(
            "--timeout",
            type=float,
            metavar="SECONDS",
            help="give up when the peer is silent this long (default: wait, as libzmq's tools)",
        )
        p.set_defaults(run=run)


def _have_pyzmq() -> bool:
    return importlib.util.find_spec("zmq") is not None


def run(args: argparse.Namespace) -> int:
    """``zloop bench`` and its roles."""
    if getattr(args, "role", None):
        return _role(args)
    return _suite(args)


def _role(args: argparse.Namespace) -> int:
    role: str = args.role
    timeout_ms = None if args.timeout is None else int(args.timeout * 1000)
    if args.impl == "pyzmq" and not _have_pyzmq():
        raise CliError("--impl pyzmq: pyzmq is not installed")
    if args.size < 0 or args.count < 1:
        raise CliError("SIZE must be >= 0 and COUNT >= 1")

    def bound(endpoint: str) -> None:
        print(f"zloop bench {role}: bound {endpoint}", file=sys.stderr, flush=True)

    progress = perf.progress_line(f"zloop bench {role}")
    try:
        if role == "local-thr":
            result = perf.local_thr(
                args.endpoint,
                args.size,
                args.count,
                impl=args.impl,
                timeout_ms=timeout_ms,
                on_bound=bound,
                progress=progress,
            )
            print("\n".join(result.lines()), flush=True)
        elif role == "remote-thr":
            perf.remote_thr(
                args.endpoint,
                args.size,
                args.count,
                impl=args.impl,
                timeout_ms=timeout_ms,
                progress=progress,
            )
        elif role == "local-lat":
            perf.local_lat(
                args.endpoint,
                args.size,
                args.count,
                impl=args.impl,
                timeout_ms=timeout_ms,
                on_bound=bound,
            )
        else:
            lat = perf.remote_lat(
                args.endpoint,
                args.size,
                args.count,
                impl=args.impl,
                timeout_ms=timeout_ms,
                progress=progress,
            )
            print("\n".join(lat.lines()), flush=True)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    except BenchError as exc:
        print(f"zloop bench {role}: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        # The sockets' own errors (a bad endpoint, an address in use): one line, no traceback.
        if type(exc).__name__ == "ZMQError":
            raise CliError(f"{args.endpoint}: {exc}") from None
        raise
    return 0


def _suite(args: argparse.Namespace) -> int:
    impls = ("zloop",) if args.no_pyzmq or not _have_pyzmq() else ("zloop", "pyzmq")
    if args.plot and not args.plot.lower().endswith((".svg", ".png")):
        raise CliError(f"--plot {args.plot}: the plot is written as .svg or .png")
    if (
        args.plot
        and args.plot.lower().endswith(".png")
        and importlib.util.find_spec("matplotlib") is None
    ):
        raise CliError(str(MissingExtraError("--plot FILE.png", "matplotlib", "plot")))
    if args.no_throughput and args.no_latency:
        raise CliError("--no-throughput and --no-latency leave nothing to measure")
    with_adapters = bool(args.adapters or args.adapters_only or args.loops)
    sockets = not args.adapters_only
    if args.plot and args.adapters_only:
        raise CliError(f"--plot {args.plot}: the plot draws the socket throughput rows")
    print(
        "zloop bench: "
        + (
            "zloop beside pyzmq (libzmq)"
            if len(impls) == 2
            else "zloop only (pyzmq is not installed: pip install pyzmq to compare)"
            if not args.no_pyzmq
            else "zloop only"
        )
        + (" -- quick: small counts, noisy numbers" if args.quick else ""),
        flush=True,
    )
    print("progress on stderr; every row runs two fresh processes", file=sys.stderr, flush=True)
    failed = False
    record: dict[str, Any] = {}
    if sockets and not args.no_throughput:
        suite = throughput.run_suite(
            quick=args.quick,
            count=args.count,
            sizes=args.sizes or throughput.SIZES,
            transports=args.transports,
            raw=args.raw,
            repeat=args.repeat,
            impls=impls,
        )
        failed |= bool(suite.failed)
        print()
        print("PUSH -> PULL throughput (receiver-timed, first to last message)")
        print(throughput.format_suite(suite), flush=True)
        record["throughput"] = [
            {
                "impl": r.impl,
                "transport": r.transport,
                "size": r.size,
                "count": r.count,
                "seconds": r.seconds,
                "msg_per_s": r.rate,
                "mb_per_s": r.mbps,
                "error": r.error,
            }
            for r in suite.results
        ]
        if args.plot:
            series = _series(suite)
            title = "zloop bench: PUSH -> PULL throughput"
            try:
                path = write_plot(series, args.plot, title)
            except (OSError, ImportError) as exc:
                raise CliError(f"--plot {args.plot}: {exc}") from None
            print(f"plot written to {path}", flush=True)
    if sockets and not args.no_latency:
        results = latency.run_suite(
            quick=args.quick,
            count=args.lat_count,
            transports=args.transports,
            repeat=args.repeat,
            impls=impls,
        )
        failed |= any(r.error for r in results)
        print()
        print("PAIR round-trip latency (client-timed blocking send + recv)")
        print(latency.format_results(results), flush=True)
        record["latency"] = [
            {
                "impl": r.impl,
                "transport": r.transport,
                "size": r.size,
                "count": r.count,
                "mean_us": r.mean,
                "p50_us": r.p50,
                "p99_us": r.p99,
                "error": r.error,
            }
            for r in results
        ]
    if with_adapters:
        count, rtt_count = adapters.counts(args.quick, args.count, args.lat_count)
        adapter_suite = adapters.run_suite(
            loops=args.loops,
            sizes=() if args.no_throughput else args.sizes or adapters.SIZES,
            count=count,
            rtt_count=None if args.no_latency else rtt_count,
            repeat=args.repeat,
            no_pyzmq=args.no_pyzmq,
        )
        failed |= adapter_suite.failed
        print()
        print(
            "Event-loop adapters beside pyzmq's integrations (receiver-timed; the sender and "
            "the echo peer are pyzmq)"
        )
        print(adapters.format_suite(adapter_suite), flush=True)
        record["adapters"] = adapters.record(adapter_suite)
    if args.json:
        try:
            with open(args.json, "w", encoding="utf-8") as handle:
                json.dump(record, handle, indent=2)
        except OSError as exc:
            raise CliError(f"--json {args.json}: {exc.strerror or exc}") from None
    if failed:
        print("\nSOME RUNS FAILED (see above)")
    return 1 if failed else 0


def _series(suite: throughput.Suite) -> list[Series]:
    lines: dict[tuple[str, str], Series] = {}
    for r in suite.results:
        if r.error or r.impl == "raw":
            continue
        key = (r.impl, r.transport)
        lines.setdefault(key, Series(r.impl, r.transport, [])).points.append((r.size, r.rate))
    return list(lines.values())
