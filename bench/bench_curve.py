"""CURVE cost: throughput with CURVE vs NULL, zloop vs pyzmq (libzmq).

Three measurements per message size:

* ``protocol``: two in-memory zloop ``Connection`` objects (no sockets, no threads) -- the pure
  CPU cost of framing plus, for CURVE, one crypto_box_easy_afternm and one open per frame.
* ``zloop tcp``: a zloop PUSH -> PULL pair over loopback TCP in this process (a sender thread, the
  receiver timed in the main thread, both connections served by one I/O thread).
* ``pyzmq tcp``: the same with pyzmq (libzmq 4.3, libsodium) for reference.

Each rate is receiver-timed over ``seconds`` (the median of ``repeat`` runs). Short runs measure
a transient: the sender may fill megabytes of kernel buffer before the receiver catches up, so
compare rows of the same run, not across machines. ``bench/run_all.py`` runs this as its section
"CURVE vs NULL" (``run_suite`` + ``format_table``).

Run: ``uv run python bench/bench_curve.py [--seconds 1] [--repeat 3] [--quick]``. Needs PyNaCl
(``zloop[curve]``); pyzmq rows appear when pyzmq has CURVE.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import zloop
from zloop.constants import SocketType
from zloop.protocol import Connection, Message
from zloop.protocol.curve import CurveMechanism

SIZES = (16, 1024, 65536)
PATHS = ("protocol", "zloop tcp", "pyzmq tcp")
#: Seconds per measurement with ``--quick`` (a smoke run: numbers are noisy).
QUICK_SECONDS = 0.1
#: Bound on the sender thread's exit after a measurement (it stops within 100 sends).
DRAIN_DEADLINE = 5.0


def _keys() -> tuple[tuple[bytes, bytes], tuple[bytes, bytes]]:
    return zloop.curve_keypair(), zloop.curve_keypair()


def _pump(a: Connection, b: Connection) -> None:
    for _ in range(10):
        moved = False
        for src, dst in ((a, b), (b, a)):
            data = src.data_to_send()
            if data:
                dst.receive_data(data)
                moved = True
        a.events()
        b.events()
        if not moved:
            return


def protocol_rate(curve: bool, size: int, seconds: float) -> float:
    """Messages per second through send_message -> bytes -> receive_data -> events."""
    if curve:
        (spub, ssec), (cpub, csec) = _keys()
        from zloop import z85

        client_mech: Any = CurveMechanism(
            server=False,
            public_key=z85.decode(cpub),
            secret_key=z85.decode(csec),
            server_key=z85.decode(spub),
        )
        server_mech: Any = CurveMechanism(
            server=True, public_key=z85.decode(spub), secret_key=z85.decode(ssec), zap=False
        )
    else:
        client_mech = server_mech = None
    sender = Connection(SocketType.PUSH, mechanism=client_mech)
    receiver = Connection(SocketType.PULL, mechanism=server_mech)
    _pump(sender, receiver)
    assert sender.handshake_complete and receiver.handshake_complete
    payload = b"x" * size
    batch = [[payload]] * 100
    count = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        sender.send_messages(batch)
        receiver.receive_data(sender.data_to_send())
        events = receiver.events()
        assert len(events) == 100 and isinstance(events[0], Message)
        count += 100
        now = time.perf_counter()
        if now >= deadline:
            return count / (now - start)


def _curve_options(mod: Any, server: Any, client: Any) -> None:
    (spub, ssec), (cpub, csec) = _keys()
    server.curve_server = True
    server.curve_secretkey = ssec
    server.curve_publickey = spub
    client.curve_serverkey = spub
    client.curve_publickey = cpub
    client.curve_secretkey = csec


def socket_rate(mod: Any, curve: bool, size: int, seconds: float) -> float:
    """PUSH -> PULL over loopback TCP in one process (a sender thread, the receiver here)."""
    ctx = mod.Context()
    pull = ctx.socket(mod.PULL)
    push = ctx.socket(mod.PUSH)
    try:
        for sock in (pull, push):
            sock.linger = 0
        pull.rcvtimeo = 5000
        push.sndtimeo = 1000  # the sender thread cannot block for good if the receiver stops
        if curve:
            _curve_options(mod, pull, push)
        pull.bind("tcp://127.0.0.1:0")
        push.connect(pull.last_endpoint.decode())
        push.send(b"warmup")
        assert pull.recv() == b"warmup"
        stop = threading.Event()
        payload = b"x" * size

        def send() -> None:
            try:
                while not stop.is_set():
                    for _ in range(100):
                        push.send(payload)
            except mod.Again:
                pass  # only once the receiver stopped reading

        thread = threading.Thread(target=send, daemon=True)
        thread.start()
        count = 0
        start = time.perf_counter()
        deadline = start + seconds
        recv: Callable[..., Any] = pull.recv
        while True:
            for _ in range(100):
                recv(copy=False)
            count += 100
            now = time.perf_counter()
            if now >= deadline:
                break
        stop.set()
        # Drain so the sender thread cannot stay blocked on a full queue.
        pull.rcvtimeo = 100
        drain_until = time.monotonic() + DRAIN_DEADLINE
        while thread.is_alive() and time.monotonic() < drain_until:
            with contextlib.suppress(mod.Again):
                pull.recv()
        thread.join(1)
        return count / (now - start)
    finally:
        ctx.destroy(linger=0)


@dataclass
class Row:
    """One (path, size): NULL and CURVE msg/s (medians), or the error that stopped it."""

    path: str
    size: int
    null: float = 0.0
    curve: float = 0.0
    error: str = ""

    @property
    def ratio(self) -> float:
        return self.curve / self.null if self.null else 0.0


def _measure(path: str, pyzmq: Any) -> Callable[[bool, int, float], float]:
    if path == "protocol":
        return protocol_rate
    mod = zloop if path == "zloop tcp" else pyzmq
    return lambda curve, size, seconds: socket_rate(mod, curve, size, seconds)


def pyzmq_with_curve() -> Any:
    """pyzmq when it is installed and its libzmq has CURVE, else None."""
    try:
        import zmq
    except ImportError:
        return None
    return zmq if zmq.has("curve") else None


def run_suite(
    *,
    seconds: float = 1.0,
    repeat: int = 1,
    sizes: tuple[int, ...] = SIZES,
    paths: tuple[str, ...] = PATHS,
    progress: bool = True,
) -> list[Row]:
    """Every (path, size), NULL then CURVE back to back (so a row shares the machine's mood);
    the median of ``repeat`` runs. A failing row records its error and the suite goes on."""
    pyzmq = pyzmq_with_curve()
    rows = []
    for path in paths:
        if path == "pyzmq tcp" and pyzmq is None:
            continue
        measure = _measure(path, pyzmq)
        for size in sizes:
            row = Row(path, size)
            if progress:
                print(f"  curve {path:9} {size:>6} B ...", end="", file=sys.stderr, flush=True)
            try:
                nulls, curves = [], []
                for _ in range(max(1, repeat)):
                    nulls.append(measure(False, size, seconds))
                    curves.append(measure(True, size, seconds))
                row.null = statistics.median(nulls)
                row.curve = statistics.median(curves)
            except Exception as exc:  # a broken run is reported in the table, not raised
                row.error = f"{type(exc).__name__}: {exc}"
            if progress:
                note = "FAILED" if row.error else f"{row.null:,.0f} / {row.curve:,.0f} msg/s"
                print(f" {note}", file=sys.stderr, flush=True)
            rows.append(row)
    return rows


def _fmt_size(size: int) -> str:
    return f"{size // 1024} KiB" if size >= 1024 and size % 1024 == 0 else f"{size} B"


def format_table(rows: list[Row]) -> str:
    """Per size: zloop and pyzmq side by side (msg/s, CURVE/NULL), the codec alone, and zloop's
    CURVE rate as a fraction of pyzmq's."""
    by = {(row.path, row.size): row for row in rows}
    sizes = sorted({row.size for row in rows})
    header = (
        f"{'size':>7}  {'zloop NULL':>11} {'zloop CURVE':>11} {'C/N':>5}  "
        f"{'pyzmq NULL':>11} {'pyzmq CURVE':>11} {'C/N':>5}  {'codec CURVE':>11}  {'CURVE zl/pz':>11}"
    )
    lines = [header]
    failures = []

    def cells(path: str, size: int) -> tuple[str, str, str]:
        row = by.get((path, size))
        if row is None:
            return "-", "-", "-"
        if row.error:
            failures.append(f"{path} {_fmt_size(size)}: FAILED {row.error}")
            return "FAILED", "FAILED", "-"
        return f"{row.null:,.0f}", f"{row.curve:,.0f}", f"{row.ratio:.2f}"

    for size in sizes:
        zl = cells("zloop tcp", size)
        pz = cells("pyzmq tcp", size)
        codec = by.get(("protocol", size))
        codec_cell = "-" if codec is None else "FAILED" if codec.error else f"{codec.curve:,.0f}"
        if codec is not None and codec.error:
            failures.append(f"protocol {_fmt_size(size)}: FAILED {codec.error}")
        zrow, prow = by.get(("zloop tcp", size)), by.get(("pyzmq tcp", size))
        versus = (
            f"{zrow.curve / prow.curve:.2f}"
            if zrow and prow and not zrow.error and not prow.error and prow.curve
            else "-"
        )
        lines.append(
            f"{_fmt_size(size):>7}  {zl[0]:>11} {zl[1]:>11} {zl[2]:>5}  "
            f"{pz[0]:>11} {pz[1]:>11} {pz[2]:>5}  {codec_cell:>11}  {versus:>11}"
        )
    return "\n".join(lines + failures)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    parser.add_argument("--repeat", type=int, default=1, help="runs per cell; the median is shown")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_SECONDS} s per measurement")
    args = parser.parse_args(argv)
    seconds = QUICK_SECONDS if args.quick else args.seconds
    rows = run_suite(seconds=seconds, repeat=args.repeat)
    print("== CURVE vs NULL throughput (msg/s, receiver-timed; C/N = CURVE/NULL) ==")
    print(format_table(rows))
    return 1 if any(row.error for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
