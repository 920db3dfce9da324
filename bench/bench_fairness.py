"""Fairness of one I/O thread: round trips of a quiet connection next to a bulk stream.

In one process and one context (zloop: one I/O thread by default; pyzmq: libzmq's one I/O thread)
a PUSH -> PULL stream of small messages runs flat out (a sender thread and a receiver thread),
NULL or CURVE, while a separate PAIR pair (NULL, tcp) does blocking round trips (an echo thread on
one end, the timed loop in the main thread). Reported per case: the round-trip p50 / p99 / max of
the PAIR pair and the bulk stream's msg/s (receiver-counted over the same window). The "idle" case
runs the round trips with no bulk stream, as the baseline.

What it shows (measured when it was written, 2-vCPU VM): next to a 16 B bulk stream zloop's quiet
round trips go from ~0.23 ms to ~5 ms p50 (NULL) and ~25 ms (CURVE), where libzmq stays near
0.15-0.25 ms. The cause is mostly the GIL: five Python threads take turns, and each wake-up may wait
a switch interval (5 ms by default; try ``--switch-interval 0.0005``). Bounding how much one read
of the bulk connection decodes (fewer CURVE frames per turn) only helped measurably at a 0.5 ms
switch interval (p99 -30 %), so it was not landed.

Run: ``uv run python bench/bench_fairness.py [--seconds 2] [--repeat 3] [--size 16]
[--lib zloop|pyzmq|both]``. CURVE cases need PyNaCl (zloop) / a libzmq with CURVE (pyzmq).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

import zloop

MODES = ("idle", "null", "curve")
#: Bound on helper threads' exit after a measurement.
JOIN_DEADLINE = 5.0


@dataclass
class Result:
    lib: str
    mode: str
    p50_us: float
    p99_us: float
    max_us: float
    round_trips: int
    bulk_rate: float


def _curve(mod: Any, server: Any, client: Any) -> None:
    spub, ssec = mod.curve_keypair()
    cpub, csec = mod.curve_keypair()
    server.curve_server = True
    server.curve_secretkey = ssec
    server.curve_publickey = spub
    client.curve_serverkey = spub
    client.curve_publickey = cpub
    client.curve_secretkey = csec


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, int(q * len(sorted_values)))
    return sorted_values[index]


def run_case(mod: Any, lib: str, mode: str, seconds: float, size: int) -> Result:
    """One measurement: ``mode`` is "idle" (no bulk stream), "null" or "curve"."""
    ctx = mod.Context()
    socks: list[Any] = []

    def make(kind: int) -> Any:
        sock = ctx.socket(kind)
        sock.linger = 0
        socks.append(sock)
        return sock

    stop = threading.Event()
    threads: list[threading.Thread] = []
    received = [0]
    counting = threading.Event()
    try:
        # The quiet pair.
        a = make(mod.PAIR)
        b = make(mod.PAIR)
        a.rcvtimeo = b.rcvtimeo = 5000
        a.bind("tcp://127.0.0.1:0")
        b.connect(a.last_endpoint.decode())

        def echo() -> None:
            with contextlib.suppress(mod.Again, mod.ZMQError):
                while True:
                    msg = b.recv()
                    if msg == b"stop":
                        return
                    b.send(msg)

        threads.append(threading.Thread(target=echo, daemon=True))

        if mode != "idle":
            pull = make(mod.PULL)
            push = make(mod.PUSH)
            pull.rcvtimeo = 200
            push.sndtimeo = 200
            if mode == "curve":
                _curve(mod, pull, push)
            pull.bind("tcp://127.0.0.1:0")
            push.connect(pull.last_endpoint.decode())
            push.send(b"warmup")
            assert pull.recv() == b"warmup"
            payload = b"x" * size

            def send() -> None:
                with contextlib.suppress(mod.Again, mod.ZMQError):
                    while not stop.is_set():
                        for _ in range(100):
                            push.send(payload)

            def receive() -> None:
                recv = pull.recv
                with contextlib.suppress(mod.ZMQError):
                    while not stop.is_set():
                        try:
                            for _ in range(100):
                                recv(copy=False)
                        except mod.Again:
                            continue
                        if counting.is_set():
                            received[0] += 100

            threads.append(threading.Thread(target=send, daemon=True))
            threads.append(threading.Thread(target=receive, daemon=True))

        for thread in threads:
            thread.start()
        ping = b"p"
        for _ in range(50):  # warm up the pair (and let the bulk stream reach steady state)
            a.send(ping)
            a.recv()
        rtts: list[float] = []
        clock = time.perf_counter
        counting.set()
        start = clock()
        deadline = start + seconds
        now = start
        while now < deadline:
            t0 = clock()
            a.send(ping)
            a.recv()
            now = clock()
            rtts.append(now - t0)
        elapsed = now - start
        counting.clear()
        bulk = received[0] / elapsed if mode != "idle" else 0.0
        stop.set()
        a.send(b"stop")
        for thread in threads:
            thread.join(JOIN_DEADLINE)
        rtts.sort()
        return Result(
            lib,
            mode,
            _percentile(rtts, 0.5) * 1e6,
            _percentile(rtts, 0.99) * 1e6,
            rtts[-1] * 1e6 if rtts else 0.0,
            len(rtts),
            bulk,
        )
    finally:
        stop.set()
        ctx.destroy(linger=0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--size", type=int, default=16)
    parser.add_argument("--lib", choices=("zloop", "pyzmq", "both"), default="both")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument(
        "--switch-interval", type=float, default=0.0, help="sys.setswitchinterval (s), if > 0"
    )
    args = parser.parse_args(argv)
    if args.switch_interval > 0:
        sys.setswitchinterval(args.switch_interval)
    libs: list[tuple[str, Any]] = []
    if args.lib in ("zloop", "both"):
        libs.append(("zloop", zloop))
    if args.lib in ("pyzmq", "both"):
        try:
            import zmq
        except ImportError:
            print("pyzmq not installed: skipped", file=sys.stderr)
        else:
            libs.append(("pyzmq", zmq))
    modes = [m for m in args.modes.split(",") if m]
    print(
        f"{'lib':6} {'bulk':6} {'rtt p50 us':>11} {'p99 us':>9} {'max us':>9} "
        f"{'n':>7} {'bulk msg/s':>11}   (size {args.size} B, {args.seconds} s, "
        f"switch interval {sys.getswitchinterval()} s)"
    )
    for lib, mod in libs:
        for mode in modes:
            if mode == "curve" and lib == "pyzmq" and not mod.has("curve"):
                continue
            for _ in range(args.repeat):
                r = run_case(mod, lib, mode, args.seconds, args.size)
                print(
                    f"{r.lib:6} {r.mode:6} {r.p50_us:11.0f} {r.p99_us:9.0f} {r.max_us:9.0f} "
                    f"{r.round_trips:7d} {r.bulk_rate:11.0f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
