"""Memory per connection: RSS growth of one bound socket holding N idle connections, zloop vs pyzmq.

Run: ``uv run python bench/bench_memory.py [--count 10000] [--modes silent,partial,ready]
[--transports tcp,ipc] [--impls zloop,pyzmq] [--quick]``

A server process binds one ROUTER socket (BACKLOG 4096) and watches its monitor; a client process
(plain Python sockets, so its own memory is not counted) opens ``count`` connections to it and
keeps them open doing nothing more. The server reads its RSS (``/proc/self/statm``) after binding
and again once its monitor reported every connection (and, for ``ready``, every handshake), after
a ``gc.collect()``; the row shows the growth per connection. Then the client goes away (its
process is killed: the kernel resets or closes every connection) and the server reports how much
of the growth is still held once its monitor saw every DISCONNECTED ("kept": freed memory that the
allocator keeps for reuse counts there too, so it is not a leak by itself; zloop's traced Python
allocations go back to ~0.3 KiB per connection, ``tests/engine/test_connection_memory.py``).

Modes, what each client connection does after ``connect``:

* ``silent``: nothing (an unauthenticated peer that only connects);
* ``partial``: the first 10 bytes of a ZMTP greeting (the signature), then nothing: the handshake
  is left half done until ``HANDSHAKE_IVL`` (30 s by default) would drop it;
* ``announce``: a whole greeting, then the header of a handshake command announcing a 1 MiB body
  and the first bytes of it, then nothing (what a peer costs that promises a large frame);
* ``ready``: a whole ZMTP 3.0 NULL greeting and a READY command as a DEALER, then nothing: an
  established, idle connection (zloop and libzmq then also hold the pipe to the socket).

The soft ``RLIMIT_NOFILE`` of each process is raised to the hard limit (``count`` + a margin must
fit). Kernel socket buffers are not part of a process's RSS; this measures the library only.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import resource
import socket
import struct
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from _proc import BenchError, Worker, emit, import_impl, render

SCRIPT = Path(__file__).resolve()
MODES = ("silent", "partial", "announce", "ready")
TRANSPORTS = ("tcp", "ipc")
IMPLS = ("zloop", "pyzmq")
COUNT = 10_000
QUICK_COUNT = 500
#: Seconds one row (both processes) may take before both are killed.
ROW_TIMEOUT = 240.0
#: The server gives up waiting for its monitor after this many seconds.
SERVER_WAIT = 200.0
FD_MARGIN = 64

# ZMTP 3.0 greeting (RFC 23): signature, version 3.0, mechanism NULL, as-server 0, filler.
GREETING = b"\xff" + b"\0" * 8 + b"\x7f" + b"\x03\x00" + b"NULL".ljust(20, b"\0") + b"\0" * 32
_READY_BODY = b"\x05READY" + b"\x0bSocket-Type" + struct.pack(">I", 6) + b"DEALER"
#: READY as a short command frame (flags 0x04).
READY = bytes((0x04, len(_READY_BODY))) + _READY_BODY
#: A long command frame header announcing a 1 MiB body, and the first bytes of that body.
ANNOUNCE = struct.pack(">BQ", 0x06, 1 << 20) + b"\x05READY"
PAYLOADS = {
    "silent": b"",
    "partial": GREETING[:10],
    "announce": GREETING + ANNOUNCE,
    "ready": GREETING + READY,
}

_EVENT_ACCEPTED = 0x0020
_EVENT_DISCONNECTED = 0x0200
_EVENT_HANDSHAKE_SUCCEEDED = 0x1000


def _raise_fd_limit(need: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < need:
        target = hard if hard == resource.RLIM_INFINITY else min(hard, max(need, soft))
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft != resource.RLIM_INFINITY and soft < need:
        raise SystemExit(f"need {need} file descriptors, the limit is {soft} (ulimit -n)")


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


# -- workers -------------------------------------------------------------------------------------


def _server(impl: str, transport: str, mode: str, count: int) -> None:
    _raise_fd_limit(count + FD_MARGIN)
    zmq = import_impl(impl)
    ctx = zmq.Context()
    sock = ctx.socket(zmq.ROUTER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.BACKLOG, 4096)
    monitor_addr = f"inproc://memory-monitor-{os.getpid()}"
    sock.monitor(monitor_addr, _EVENT_ACCEPTED | _EVENT_DISCONNECTED | _EVENT_HANDSHAKE_SUCCEEDED)
    mon = ctx.socket(zmq.PAIR)
    mon.setsockopt(zmq.LINGER, 0)
    mon.connect(monitor_addr)
    tmp = tempfile.mkdtemp(prefix="zloop-bench-memory-")
    sock.bind("tcp://127.0.0.1:*" if transport == "tcp" else f"ipc://{tmp}/socket")
    endpoint = sock.getsockopt(zmq.LAST_ENDPOINT).decode()
    counts = {_EVENT_ACCEPTED: 0, _EVENT_DISCONNECTED: 0, _EVENT_HANDSHAKE_SUCCEEDED: 0}

    def wait_for(event: int, target: int, deadline: float) -> bool:
        while counts[event] < target:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not mon.poll(int(remaining * 1000) + 1):
                return False
            while True:
                try:
                    frames = mon.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                kind = struct.unpack_from("=H", frames[0])[0]
                if kind in counts:
                    counts[kind] += 1
        return True

    gc.collect()
    before = _rss()
    emit("READY", endpoint)
    deadline = time.monotonic() + SERVER_WAIT
    done = wait_for(_EVENT_ACCEPTED, count, deadline)
    if done and mode == "ready":
        done = wait_for(_EVENT_HANDSHAKE_SUCCEEDED, count, deadline)
    if not done:
        raise SystemExit(f"only {counts} monitor events of {count} connections in time")
    if mode != "ready":
        # The accepting side has read what the peers sent (libzmq answers with its greeting):
        # give the I/O thread a moment to have handled every readable event before measuring.
        time.sleep(1.0)
    sock.getsockopt(zmq.EVENTS)  # the socket processes its commands (new pipes)
    gc.collect()
    held = _rss()
    emit("MEASURED", json.dumps({"before": before, "held": held}))
    wait_for(_EVENT_DISCONNECTED, count, time.monotonic() + 30.0)
    # Ending a pipe takes a command each way between the socket and the I/O thread.
    for _ in range(3):
        sock.getsockopt(zmq.EVENTS)  # the socket processes its commands (ended pipes)
        time.sleep(0.2)
    gc.collect()
    after = _rss()
    emit(
        "RESULT",
        json.dumps(
            {
                "before": before,
                "held": held,
                "after": after,
                "disconnected": counts[_EVENT_DISCONNECTED],
            }
        ),
    )
    sock.close()
    mon.close()
    ctx.term()
    with contextlib.suppress(OSError):
        os.rmdir(tmp)


def _client(endpoint: str, mode: str, count: int, hold: float) -> None:
    _raise_fd_limit(count + FD_MARGIN)
    payload = PAYLOADS[mode]
    if endpoint.startswith("tcp://"):
        host, port = endpoint[len("tcp://") :].rsplit(":", 1)
        family, address = socket.AF_INET, (host, int(port))
    else:
        family, address = socket.AF_UNIX, endpoint[len("ipc://") :]  # type: ignore[assignment]
    socks = []
    for _ in range(count):
        # A blocking connect (no timeout: with one, an AF_UNIX connect fails with EAGAIN) waits
        # while the listen backlog is full; the parent kills this process at its deadline.
        s = socket.socket(family, socket.SOCK_STREAM)
        s.connect(address)
        if payload:
            s.sendall(payload)
        socks.append(s)
    emit("CONNECTED", str(len(socks)))
    # Hold the connections until the parent kills this process (after the server measured).
    time.sleep(hold)


# -- parent --------------------------------------------------------------------------------------


@dataclass
class Row:
    transport: str
    mode: str
    impl: str
    count: int
    per_conn: float = 0.0  # bytes of RSS growth per connection
    kept: float = 0.0  # bytes per connection still held after every peer left
    error: str = ""


def run_row(impl: str, transport: str, mode: str, count: int) -> Row:
    row = Row(transport, mode, impl, count)
    deadline = time.monotonic() + ROW_TIMEOUT
    try:
        server_args = ["--worker", "server", impl, transport, mode, str(count)]
        with Worker(SCRIPT, server_args, f"{impl} server") as server:
            endpoint = server.expect("READY", deadline)
            client_args = ["--worker", "client", endpoint, mode, str(count), str(ROW_TIMEOUT)]
            with Worker(SCRIPT, client_args, "client") as client:
                measured = json.loads(server.expect("MEASURED", deadline))
                client.kill()
            result = json.loads(server.expect("RESULT", deadline))
            server.wait_ok(deadline)
    except BenchError as exc:
        row.error = str(exc)
        return row
    row.per_conn = (measured["held"] - measured["before"]) / count
    row.kept = (result["after"] - result["before"]) / count
    return row


def _kib(value: float) -> str:
    return f"{value / 1024:.1f}"


def format_rows(rows: list[Row]) -> str:
    """One line per transport and mode: KiB of RSS per connection for each implementation."""
    impls = list(dict.fromkeys(r.impl for r in rows))
    headers = ["transport/mode", "N"]
    for impl in impls:
        headers += [f"{impl} KiB/conn", f"{impl} kept"]
    table: dict[tuple[str, str], dict[str, Row]] = {}
    for r in rows:
        table.setdefault((r.transport, r.mode), {})[r.impl] = r
    lines = []
    errors = []
    for (transport, mode), by_impl in table.items():
        line = [f"{transport} {mode}", str(next(iter(by_impl.values())).count)]
        for impl in impls:
            r = by_impl.get(impl)
            if r is None:
                line += ["-", "-"]
            elif r.error:
                line += ["FAILED", "-"]
                errors.append(f"{impl} {transport} {mode}: {r.error}")
            else:
                line += [_kib(r.per_conn), _kib(r.kept)]
        lines.append(line)
    text = render(headers, lines)
    if errors:
        text += "\n" + "\n".join(errors)
    return text


def run_suite(
    count: int, modes: list[str], transports: list[str], impls: list[str], progress: bool = True
) -> list[Row]:
    rows = []
    for transport in transports:
        for mode in modes:
            for impl in impls:
                if progress:
                    print(
                        f"{impl} {transport} {mode} x{count}", end="", file=sys.stderr, flush=True
                    )
                row = run_row(impl, transport, mode, count)
                if progress:
                    note = "FAILED" if row.error else f"{_kib(row.per_conn)} KiB/conn"
                    print(f": {note}", file=sys.stderr, flush=True)
                rows.append(row)
    return rows


TITLE = "Memory per connection (server RSS growth / N; 'kept' = still held after every peer left)"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--worker"]:
        role, rest = argv[1], argv[2:]
        if role == "server":
            _server(rest[0], rest[1], rest[2], int(rest[3]))
        else:
            _client(rest[0], rest[1], int(rest[2]), float(rest[3]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--count", type=int, help=f"connections per row (default {COUNT})")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_COUNT} connections per row")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--transports", default=",".join(TRANSPORTS))
    parser.add_argument("--impls", default=",".join(IMPLS))
    args = parser.parse_args(argv)
    count = args.count or (QUICK_COUNT if args.quick else COUNT)
    rows = run_suite(
        count, args.modes.split(","), args.transports.split(","), args.impls.split(",")
    )
    print(TITLE)
    print(format_rows(rows))
    return 1 if any(r.error for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
