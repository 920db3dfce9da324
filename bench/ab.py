"""Interleaved A/B throughput of two zloop trees (PUSH -> PULL), with CPU time per message.

Run: ``uv run python bench/ab.py A_DIR B_DIR [--rounds 5] [--sizes 16,1048576] [--transports tcp,ipc]
[--receiver blocking|asyncio|gevent]``
or, for round trips, ``uv run python bench/ab.py A_DIR B_DIR --rtt [--roles req,rep] [--gevent|--asyncio]``

``A_DIR`` and ``B_DIR`` are folders that each contain a ``zloop`` package (e.g. a copy of the tree
before a change, and the checkout). Every round runs A then B (then B then A on the next round, so
neither always goes first) for each transport and size, in fresh processes with ``PYTHONPATH``
pointing at that folder. On a shared, noisy machine wall-clock rates swing by 30 %; the CPU time
each process spent per message (all of its threads, ``time.process_time``) is much steadier and is
what a code change moves. Printed per configuration: the median rate and the median receiver /
sender CPU microseconds per message, and the receiver's context switches per message (``rsw``, all
threads, from ``/proc``: the thread hand-offs a change adds or saves). ``--receiver`` picks how
the PULL side receives: a blocking ``recv()`` (the default), ``await recv()`` through
``zloop.adapters.asyncio``, or ``recv()`` in a greenlet through ``zloop.adapters.gevent``; the
sender is always a blocking PUSH.

With ``--rtt`` the pairs are REQ <-> REP round trips of 16 B between a zloop socket of the tree
and a pyzmq (libzmq) peer, so only one side's code changes: role ``req`` is a zloop REQ timing
each round trip against a pyzmq REP echo, role ``rep`` a zloop REP echo answering a pyzmq REQ
that times them. Printed: the median round trip p50 (microseconds, as the REQ side timed it),
the zloop process's CPU microseconds (all threads) and voluntary context switches per round
trip. ``--gevent`` runs the zloop side on the gevent adapter (``zloop.adapters.gevent``; its peer
then is ``zmq.green``, in the same roles); ``--asyncio`` runs it as a coroutine that awaits each
``send``/``recv`` of ``zloop.adapters.asyncio`` (its peer: plain pyzmq).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _proc import BenchError, emit, fmt_rate, fmt_size, render

SCRIPT = Path(__file__).resolve()
COUNTS = {16: 300_000, 1024: 200_000, 64 * 1024: 15_000, 1024 * 1024: 1_500}
TIMEOUT = 90.0
RTT_COUNT = 6_000
RTT_WARMUP = 500
RTT_SIZE = 16


def _receiver(endpoint: str, size: int, count: int, mode: str) -> None:
    if mode == "asyncio":
        import asyncio

        asyncio.run(_receive_awaiting(endpoint, size, count))
        return
    if mode == "gevent":
        import zloop
        from zloop.adapters import gevent as zgevent

        _receive(zgevent.Context(), zloop.PULL, endpoint, size, count)
        return
    import zloop

    _receive(zloop.Context(), zloop.PULL, endpoint, size, count)


def _receive(ctx: Any, pull: int, endpoint: str, size: int, count: int) -> None:
    import zloop as zmq

    sock = ctx.socket(pull)
    sock.setsockopt(zmq.RCVTIMEO, 20_000)
    sock.setsockopt(zmq.LINGER, 0)
    sock.bind(endpoint)
    emit("READY", sock.getsockopt(zmq.LAST_ENDPOINT).decode())
    recv = sock.recv
    first = recv()
    start, cpu0, sw0 = time.perf_counter(), time.process_time(), _switches()
    for _ in range(count - 1):
        recv()
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu0
    _result(first, size, elapsed, cpu, _switches() - sw0)
    sock.close()
    ctx.term()


async def _receive_awaiting(endpoint: str, size: int, count: int) -> None:
    import zloop as zmq
    from zloop.adapters.asyncio import Context

    ctx = Context()
    sock = ctx.socket(zmq.PULL)
    sock.setsockopt(zmq.RCVTIMEO, 20_000)
    sock.setsockopt(zmq.LINGER, 0)
    sock.bind(endpoint)
    emit("READY", sock.getsockopt(zmq.LAST_ENDPOINT).decode())
    recv = sock.recv
    first = await recv()
    start, cpu0, sw0 = time.perf_counter(), time.process_time(), _switches()
    for _ in range(count - 1):
        await recv()
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu0
    _result(first, size, elapsed, cpu, _switches() - sw0)
    sock.close()
    ctx.term()


def _switches() -> int:
    """Context switches (voluntary + not) of every thread of this process so far (Linux; else 0)."""
    total = 0
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return 0
    for task in tasks:
        try:
            with open(f"/proc/self/task/{task}/status") as status:
                for line in status:
                    if "ctxt_switches:" in line:  # voluntary_... and nonvoluntary_...
                        total += int(line.split()[1])
        except OSError:
            continue
    return total


def _result(first: bytes, size: int, elapsed: float, cpu: float, switches: int) -> None:
    import zloop

    if len(first) != size:
        raise SystemExit(f"expected {size}-byte messages, got {len(first)}")
    result = {"seconds": elapsed, "cpu": cpu, "switches": switches, "where": zloop.__file__}
    emit("RESULT", json.dumps(result))


def _sender(endpoint: str, size: int, count: int) -> None:
    import zloop as zmq

    ctx = zmq.Context()
    sock = ctx.socket(zmq.PUSH)
    sock.setsockopt(zmq.SNDTIMEO, 20_000)
    sock.setsockopt(zmq.LINGER, 20_000)
    sock.connect(endpoint)
    payload = b"x" * size
    send = sock.send
    cpu0 = time.process_time()
    for _ in range(count):
        send(payload)
    sock.close()
    ctx.term()
    emit("SENT", json.dumps({"cpu": time.process_time() - cpu0}))


def _rtt_modules(impl: str, green: bool) -> Any:
    if impl == "zloop":
        if green:
            from gevent import monkey

            monkey.patch_all()
            import zloop
            from zloop.adapters.gevent import Context

            return zloop, Context
        import zloop

        return zloop, zloop.Context
    if green:
        import zmq.green

        return zmq.green, zmq.green.Context
    import zmq

    return zmq, zmq.Context


async def _rtt_awaiting(role: str, endpoint: str, count: int) -> None:
    """The zloop side of the round trips as a coroutine on the asyncio adapter."""
    import zloop as zmq
    from zloop.adapters.asyncio import Context

    ctx = Context()
    sock = ctx.socket(zmq.REQ if role == "req" else zmq.REP)
    sock.setsockopt(zmq.RCVTIMEO, 20_000)
    sock.setsockopt(zmq.SNDTIMEO, 20_000)
    sock.setsockopt(zmq.LINGER, 0 if role == "req" else 5_000)
    recv, send = sock.recv, sock.send
    samples: list[int] = []
    if role == "rep":
        sock.bind(endpoint)
        emit("READY", sock.getsockopt(zmq.LAST_ENDPOINT).decode())
        for _ in range(RTT_WARMUP):
            await send(await recv())
        cpu0, sw0 = time.process_time(), _vcsw()
        for _ in range(count):
            await send(await recv())
        cpu, sw = time.process_time() - cpu0, _vcsw() - sw0
    else:
        sock.connect(endpoint)
        payload = b"x" * RTT_SIZE
        for _ in range(RTT_WARMUP):
            await send(payload)
            await recv()
        clock = time.perf_counter_ns
        samples = [0] * count
        cpu0, sw0 = time.process_time(), _vcsw()
        for i in range(count):
            t0 = clock()
            await send(payload)
            await recv()
            samples[i] = clock() - t0
        cpu, sw = time.process_time() - cpu0, _vcsw() - sw0
    emit("RESULT", json.dumps({"samples_ns": samples, "cpu": cpu, "vcsw": sw}))
    sock.close()
    ctx.term()


def _rtt_worker(
    impl: str, role: str, endpoint: str, count: int, green: bool, aio: bool = False
) -> None:
    """One side of the round trips: ``role`` req (times them) or rep (echoes)."""
    if aio and impl == "zloop":
        import asyncio

        asyncio.run(_rtt_awaiting(role, endpoint, count))
        return
    zmq, new_context = _rtt_modules(impl, green)
    ctx = new_context()
    sock = ctx.socket(zmq.REQ if role == "req" else zmq.REP)
    sock.setsockopt(zmq.RCVTIMEO, 20_000)
    sock.setsockopt(zmq.SNDTIMEO, 20_000)
    sock.setsockopt(zmq.LINGER, 0 if role == "req" else 5_000)
    if role == "rep":
        sock.bind(endpoint)
        emit("READY", sock.getsockopt(zmq.LAST_ENDPOINT).decode())
        recv, send = sock.recv, sock.send
        for _ in range(RTT_WARMUP):
            send(recv())
        cpu0, sw0 = time.process_time(), _vcsw()
        for _ in range(count):
            send(recv())
        cpu, sw = time.process_time() - cpu0, _vcsw() - sw0
        samples: list[int] = []
    else:
        sock.connect(endpoint)
        payload = b"x" * RTT_SIZE
        recv, send = sock.recv, sock.send
        for _ in range(RTT_WARMUP):
            send(payload)
            recv()
        clock = time.perf_counter_ns
        samples = [0] * count
        cpu0, sw0 = time.process_time(), _vcsw()
        for i in range(count):
            t0 = clock()
            send(payload)
            recv()
            samples[i] = clock() - t0
        cpu, sw = time.process_time() - cpu0, _vcsw() - sw0
    emit("RESULT", json.dumps({"samples_ns": samples, "cpu": cpu, "vcsw": sw}))
    sock.close()
    ctx.term()


def _vcsw() -> int:
    """Voluntary context switches of this process so far (all its threads)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_nvcsw


def run_rtt(
    tree: str, role: str, transport: str, tmp: str, green: bool, aio: bool = False
) -> dict[str, float]:
    endpoint = "tcp://127.0.0.1:*" if transport == "tcp" else f"ipc://{tmp}/ab-rtt.ipc"
    extra = ["--count", str(RTT_COUNT)] + (["--gevent"] if green else [])
    extra += ["--asyncio"] if aio else []
    zl_role, py_role = role, "rep" if role == "req" else "req"
    zl_args = ["--worker", "rtt", "--impl", "zloop", "--role", zl_role, *extra]
    py_args = ["--worker", "rtt", "--impl", "pyzmq", "--role", py_role, *extra]
    first_args, second_args = (py_args, zl_args) if role == "req" else (zl_args, py_args)
    first = _start(tree, [*first_args, "--endpoint", endpoint])
    second = None
    try:
        bound = _line(first, "READY")
        second = _start(tree, [*second_args, "--endpoint", bound])
        res_first = json.loads(_line(first, "RESULT"))
        res_second = json.loads(_line(second, "RESULT"))
        second.wait(TIMEOUT)
        first.wait(TIMEOUT)
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
    zl, py = (res_second, res_first) if role == "req" else (res_first, res_second)
    timed = zl if role == "req" else py
    us = sorted(ns / 1000 for ns in timed["samples_ns"])
    return {
        "p50": us[len(us) // 2],
        "cpu": zl["cpu"] / RTT_COUNT * 1e6,
        "vcsw": zl["vcsw"] / RTT_COUNT,
    }


def main_rtt(
    trees: list[str],
    rounds: int,
    roles: list[str],
    transports: list[str],
    green: bool,
    aio: bool = False,
) -> None:
    runs: dict[tuple[str, str, int], list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="zloop-ab-") as tmp:
        for rnd in range(rounds):
            for transport in transports:
                for role in roles:
                    order = (0, 1) if rnd % 2 == 0 else (1, 0)
                    for which in order:
                        res = run_rtt(trees[which], role, transport, tmp, green, aio)
                        runs.setdefault((transport, role, which), []).append(res)
                        print(
                            f"  round {rnd} {transport} zloop {role} {'AB'[which]}: "
                            f"p50 {res['p50']:.1f} us cpu {res['cpu']:.1f} us "
                            f"vcsw {res['vcsw']:.2f}",
                            file=sys.stderr,
                            flush=True,
                        )
    rows = []
    for transport in transports:
        for role in roles:
            flavour = " gevent" if green else " asyncio" if aio else ""
            cells = [f"{transport} zloop {role}{flavour}"]
            meds = []
            for which in (0, 1):
                rs = runs[(transport, role, which)]
                med = {k: statistics.median(r[k] for r in rs) for k in ("p50", "cpu", "vcsw")}
                meds.append(med)
                cells += [f"{med['p50']:.1f}", f"{med['cpu']:.1f}", f"{med['vcsw']:.2f}"]
            cells.append(f"{meds[1]['p50'] / meds[0]['p50']:.2f}")
            cells.append(f"{meds[1]['cpu'] / meds[0]['cpu']:.2f}")
            rows.append(cells)
    headers = ["round trip", "A p50 us", "A cpu us", "A vcsw", "B p50 us", "B cpu us", "B vcsw"]
    headers += ["B/A p50", "B/A cpu"]
    print(render(headers, rows))


def _start(tree: str, args: list[str]) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=tree)
    return subprocess.Popen(
        [sys.executable, "-u", str(SCRIPT), *args],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _line(proc: subprocess.Popen[bytes], tag: str) -> str:
    assert proc.stdout is not None
    for raw in proc.stdout:
        line = raw.decode()
        if line.startswith(tag + " "):
            return line[len(tag) + 1 :].strip()
    err = proc.stderr.read().decode() if proc.stderr else ""
    raise BenchError(f"worker ended without {tag}: {err[-1500:]}")


def run_one(
    tree: str, transport: str, size: int, count: int, tmp: str, receiver: str = "blocking"
) -> dict[str, float]:
    endpoint = "tcp://127.0.0.1:*" if transport == "tcp" else f"ipc://{tmp}/ab-{size}.ipc"
    common = ["--size", str(size), "--count", str(count)]
    recv = _start(
        tree, ["--worker", "recv", "--endpoint", endpoint, "--receiver", receiver, *common]
    )
    send = None
    try:
        bound = _line(recv, "READY")
        send = _start(tree, ["--worker", "send", "--endpoint", bound, *common])
        result = json.loads(_line(recv, "RESULT"))
        sent = json.loads(_line(send, "SENT"))
        send.wait(TIMEOUT)
        recv.wait(TIMEOUT)
    finally:
        for proc in (recv, send):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
    return {
        "rate": (count - 1) / result["seconds"],
        "rcpu": result["cpu"] / count * 1e6,
        "scpu": sent["cpu"] / count * 1e6,
        "rsw": result.get("switches", 0) / count,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("trees", nargs="*")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sizes", default="16,1048576")
    parser.add_argument("--transports", default="tcp,ipc")
    parser.add_argument("--count", type=int)
    parser.add_argument("--rtt", action="store_true", help="REQ <-> REP round trips (see above)")
    parser.add_argument("--roles", default="req,rep", help="with --rtt: the zloop side's roles")
    parser.add_argument("--gevent", action="store_true", help="with --rtt: the gevent adapter")
    parser.add_argument("--asyncio", action="store_true", help="with --rtt: the asyncio adapter")
    parser.add_argument("--worker", choices=("recv", "send", "rtt"), help=argparse.SUPPRESS)
    parser.add_argument("--impl", choices=("zloop", "pyzmq"), help=argparse.SUPPRESS)
    parser.add_argument("--role", choices=("req", "rep"), help=argparse.SUPPRESS)
    parser.add_argument("--receiver", choices=("blocking", "asyncio", "gevent"), default="blocking")
    parser.add_argument("--endpoint", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker == "rtt":
        _rtt_worker(args.impl, args.role, args.endpoint, args.count, args.gevent, args.asyncio)
        return 0
    if args.worker:
        if args.worker == "recv":
            _receiver(args.endpoint, args.size, args.count, args.receiver)
        else:
            _sender(args.endpoint, args.size, args.count)
        return 0
    if len(args.trees) != 2:
        parser.error("give two trees: A_DIR B_DIR")
    trees = [str(Path(t).resolve()) for t in args.trees]
    if args.rtt:
        roles, transports = args.roles.split(","), args.transports.split(",")
        main_rtt(trees, args.rounds, roles, transports, args.gevent, args.asyncio)
        return 0
    sizes = [int(s) for s in args.sizes.split(",")]
    transports = args.transports.split(",")
    runs: dict[tuple[str, int, int], list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="zloop-ab-") as tmp:
        for rnd in range(args.rounds):
            for transport in transports:
                for size in sizes:
                    count = args.count or COUNTS.get(size, 10_000)
                    order = (0, 1) if rnd % 2 == 0 else (1, 0)
                    for which in order:
                        res = run_one(trees[which], transport, size, count, tmp, args.receiver)
                        runs.setdefault((transport, size, which), []).append(res)
                        print(
                            f"  round {rnd} {transport} {fmt_size(size)} {'AB'[which]}: "
                            f"{fmt_rate(res['rate'])} msg/s rcpu {res['rcpu']:.2f} us "
                            f"scpu {res['scpu']:.2f} us rsw {res['rsw']:.3f}",
                            file=sys.stderr,
                            flush=True,
                        )
    rows = []
    for transport in transports:
        for size in sizes:
            cells = [f"{transport} {fmt_size(size)}"]
            meds = []
            for which in (0, 1):
                rs = runs[(transport, size, which)]
                keys = ("rate", "rcpu", "scpu", "rsw")
                med = {k: statistics.median(r[k] for r in rs) for k in keys}
                meds.append(med)
                cells += [fmt_rate(med["rate"]), f"{med['rcpu']:.2f}", f"{med['scpu']:.2f}"]
                cells.append(f"{med['rsw']:.3f}")
            cells.append(f"{meds[1]['rate'] / meds[0]['rate']:.2f}")
            cells.append(f"{meds[1]['rcpu'] / meds[0]['rcpu']:.2f}")
            rows.append(cells)
    headers = ["config", "A msg/s", "A rcpu us", "A scpu us", "A rsw", "B msg/s", "B rcpu us"]
    headers += ["B scpu us", "B rsw", "B/A rate", "B/A rcpu"]
    print(render(headers, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
