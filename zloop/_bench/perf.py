"""libzmq's perf-tool roles: ``local_thr`` / ``remote_thr`` and ``local_lat`` / ``remote_lat``.

Each side speaks what libzmq's own ``perf/`` programs speak on the wire, so any side can be
libzmq's program, pyzmq, or zloop, on this machine or another:

* throughput: ``local_thr`` binds a PULL socket and receives COUNT messages of SIZE bytes, timing
  from the first to the last; ``remote_thr`` connects a PUSH socket and sends them.
* latency: ``local_lat`` binds a REP socket and sends every request back; ``remote_lat``
  connects a REQ socket and times COUNT round trips. The average latency it prints is half a
  round trip, as libzmq's program prints it; the median and 99th percentile of the round trips
  (which libzmq's does not measure) follow.

The receiving side checks the size of every message and fails on a wrong one. ``impl`` is the
module that makes the sockets: ``zloop`` or pyzmq's ``zmq`` (see :func:`~zloop._bench.proc.import_impl`).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from zloop._bench.proc import BenchError, import_impl

__all__ = [
    "LatencyResult",
    "ThroughputResult",
    "local_lat",
    "local_thr",
    "remote_lat",
    "remote_thr",
]

#: Called with (done, total) now and then on long runs (the CLI draws a progress line).
Progress = Callable[[int, int], None]


@dataclass
class ThroughputResult:
    """What ``local_thr`` measured."""

    size: int
    count: int
    seconds: float

    @property
    def rate(self) -> float:
        """Messages per second, first to last message (``count - 1`` intervals)."""
        return (self.count - 1) / self.seconds if self.seconds > 0 else 0.0

    @property
    def megabits(self) -> float:
        """Payload megabits per second (10^6 bits), libzmq's second figure."""
        return self.rate * self.size * 8 / 1e6

    def lines(self) -> list[str]:
        """libzmq's ``local_thr`` report."""
        return [
            f"message size: {self.size} [B]",
            f"message count: {self.count}",
            f"mean throughput: {self.rate:.0f} [msg/s]",
            f"mean throughput: {self.megabits:.3f} [Mb/s]",
        ]


@dataclass
class LatencyResult:
    """What ``remote_lat`` measured: every round trip, in nanoseconds."""

    size: int
    samples_ns: list[int]

    @property
    def average_us(self) -> float:
        """Half the mean round trip in microseconds (libzmq's "average latency")."""
        return sum(self.samples_ns) / len(self.samples_ns) / 2000 if self.samples_ns else 0.0

    def percentile_us(self, q: float) -> float:
        """Nearest-rank percentile of the round trips, in microseconds."""
        ordered = sorted(self.samples_ns)
        if not ordered:
            return 0.0
        rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
        return ordered[rank - 1] / 1000

    def lines(self) -> list[str]:
        """libzmq's ``remote_lat`` report, then the round-trip percentiles."""
        return [
            f"message size: {self.size} [B]",
            f"roundtrip count: {len(self.samples_ns)}",
            f"average latency: {self.average_us:.3f} [us]",
            f"round trip p50: {self.percentile_us(50):.3f} [us]",
            f"round trip p99: {self.percentile_us(99):.3f} [us]",
        ]


def _socket(zmq: Any, kind: str, timeout_ms: int | None) -> tuple[Any, Any]:
    ctx = zmq.Context()
    sock = ctx.socket(getattr(zmq, kind))
    if timeout_ms is not None:
        sock.setsockopt(zmq.RCVTIMEO, timeout_ms)
        sock.setsockopt(zmq.SNDTIMEO, timeout_ms)
    return ctx, sock


def _bind(zmq: Any, sock: Any, endpoint: str, on_bound: Callable[[str], None] | None) -> None:
    sock.bind(endpoint)
    if on_bound is not None:
        on_bound(sock.getsockopt(zmq.LAST_ENDPOINT).decode())


def _ticks(total: int) -> int:
    return max(1, total // 100)


def local_thr(
    endpoint: str,
    size: int,
    count: int,
    *,
    impl: str = "zloop",
    timeout_ms: int | None = None,
    on_bound: Callable[[str], None] | None = None,
    progress: Progress | None = None,
) -> ThroughputResult:
    """Bind PULL at ``endpoint`` and receive ``count`` messages of ``size`` bytes."""
    if count < 2:
        raise ValueError("local_thr needs a count of at least 2 (it times first to last)")
    zmq = import_impl(impl)
    ctx, sock = _socket(zmq, "PULL", timeout_ms)
    try:
        _bind(zmq, sock, endpoint, on_bound)
        recv = sock.recv
        try:
            first = recv()
            start = time.perf_counter()
            if len(first) != size:
                raise BenchError(f"expected {size}-byte messages, got {len(first)} bytes")
            step = _ticks(count) if progress is not None else count
            done = 1
            while done < count:
                batch = min(step, count - done)
                for _ in range(batch):
                    if len(recv()) != size:
                        raise BenchError(f"a message of another size than {size} bytes arrived")
                done += batch
                if progress is not None:
                    progress(done, count)
            elapsed = time.perf_counter() - start
        except zmq.Again:
            raise BenchError(f"no message for {timeout_ms} ms") from None
        return ThroughputResult(size, count, elapsed)
    finally:
        sock.close(linger=0)
        ctx.term()


def remote_thr(
    endpoint: str,
    size: int,
    count: int,
    *,
    impl: str = "zloop",
    timeout_ms: int | None = None,
    progress: Progress | None = None,
) -> None:
    """Connect PUSH to ``endpoint`` and send ``count`` messages of ``size`` bytes, then wait
    (LINGER: ``timeout_ms``, or for ever) until they have left."""
    zmq = import_impl(impl)
    ctx, sock = _socket(zmq, "PUSH", timeout_ms)
    sock.setsockopt(zmq.LINGER, -1 if timeout_ms is None else timeout_ms)
    try:
        sock.connect(endpoint)
        payload = b"x" * size
        send = sock.send
        step = _ticks(count) if progress is not None else count
        done = 0
        try:
            while done < count:
                batch = min(step, count - done)
                for _ in range(batch):
                    send(payload)
                done += batch
                if progress is not None:
                    progress(done, count)
        except zmq.Again:
            raise BenchError(
                f"could not send for {timeout_ms} ms (is local-thr running?)"
            ) from None
    finally:
        sock.close()
        ctx.term()


def local_lat(
    endpoint: str,
    size: int,
    count: int,
    *,
    impl: str = "zloop",
    timeout_ms: int | None = None,
    on_bound: Callable[[str], None] | None = None,
) -> None:
    """Bind REP at ``endpoint`` and send back ``count`` requests of ``size`` bytes."""
    zmq = import_impl(impl)
    ctx, sock = _socket(zmq, "REP", timeout_ms)
    sock.setsockopt(zmq.LINGER, -1 if timeout_ms is None else timeout_ms)
    try:
        _bind(zmq, sock, endpoint, on_bound)
        recv, send = sock.recv, sock.send
        try:
            for _ in range(count):
                msg = recv()
                if len(msg) != size:
                    raise BenchError(f"expected {size}-byte requests, got {len(msg)} bytes")
                send(msg)
        except zmq.Again:
            raise BenchError(f"no request for {timeout_ms} ms") from None
    finally:
        sock.close()
        ctx.term()


def remote_lat(
    endpoint: str,
    size: int,
    count: int,
    *,
    impl: str = "zloop",
    timeout_ms: int | None = None,
    progress: Progress | None = None,
) -> LatencyResult:
    """Connect REQ to ``endpoint`` and time ``count`` round trips of ``size`` bytes."""
    zmq = import_impl(impl)
    ctx, sock = _socket(zmq, "REQ", timeout_ms)
    sock.setsockopt(zmq.LINGER, 0)
    try:
        sock.connect(endpoint)
        payload = b"x" * size
        recv, send = sock.recv, sock.send
        clock = time.perf_counter_ns
        samples = [0] * count
        step = _ticks(count)
        try:
            for i in range(count):
                t0 = clock()
                send(payload)
                reply = recv()
                samples[i] = clock() - t0
                if len(reply) != size:
                    raise BenchError(f"expected {size}-byte replies, got {len(reply)} bytes")
                if progress is not None and (i + 1) % step == 0:
                    progress(i + 1, count)
        except zmq.Again:
            raise BenchError(f"no reply for {timeout_ms} ms (is local-lat running?)") from None
        return LatencyResult(size, samples)
    finally:
        sock.close()
        ctx.term()


def progress_line(label: str, stream: Any = None) -> Progress:
    """A :data:`Progress` that redraws ``label: 42%`` on a terminal (nothing when piped)."""
    out = stream if stream is not None else sys.stderr
    if not out.isatty():
        return lambda done, total: None
    last = [-1]

    def show(done: int, total: int) -> None:
        percent = done * 100 // total
        if percent != last[0]:
            last[0] = percent
            end = "\n" if done >= total else ""
            out.write(f"\r{label}: {percent:3d}%{end}")
            out.flush()

    return show
