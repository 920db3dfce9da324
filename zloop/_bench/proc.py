"""Child-process plumbing shared by the benchmarks: start workers, read their lines, never hang.

Imports nothing of zloop at module level: ``bench/_proc.py`` loads this file by path, so the
benchmarks of ``bench/`` (``ab.py`` among them, which runs older zloop trees) use it whichever
``zloop`` their workers import.

A benchmark run is two worker processes of the same script or module (``--worker ...``). A worker talks to the
parent with whole lines on stdout: ``READY <endpoint>`` once it is bound, ``RESULT <json>`` at the
end. Every read has a deadline; a worker that is still alive when its ``with`` block ends (error,
timeout, Ctrl-C) is killed, by its own pid only.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar


class BenchError(RuntimeError):
    """A worker failed, said something unexpected or missed its deadline."""


#: What a worker runs: a script's path, or the arguments after ``python -u`` (``["-m", "mod"]``).
Script = Path | str | list[str]


def _command(script: Script) -> list[str]:
    return list(script) if isinstance(script, list) else [str(script)]


class Worker:
    """One child process running ``script --worker ...``; use it as a context manager."""

    def __init__(self, script: Script, args: list[str], name: str) -> None:
        self.name = name
        # Closed in kill(), which __exit__ always runs.
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
        self._buf = b""
        self.proc = subprocess.Popen(
            [sys.executable, "-u", *_command(script), *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
        )

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()

    def kill(self) -> None:
        proc = self.proc
        if proc.poll() is None:
            proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(5)
        if proc.stdout is not None:
            proc.stdout.close()
        self._stderr.close()

    def stderr_tail(self, limit: int = 2000) -> str:
        with contextlib.suppress(ValueError, OSError):
            self._stderr.seek(0)
            return self._stderr.read().decode(errors="replace")[-limit:]
        return ""

    def _fail(self, what: str) -> BenchError:
        tail = self.stderr_tail().strip()
        return BenchError(f"{self.name}: {what}" + (f"\n--- stderr ---\n{tail}" if tail else ""))

    def read_line(self, deadline: float) -> str:
        """The next stdout line (without the newline); BenchError at EOF or past ``deadline``."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._fail("timed out waiting for output")
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                code = self.proc.wait(5)
                raise self._fail(f"exited (code {code}) before finishing")
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return line.decode()

    def expect(self, tag: str, deadline: float) -> str:
        """Skip lines until one starting with ``tag``; return the rest of that line."""
        while True:
            line = self.read_line(deadline)
            if line.startswith(tag + " "):
                return line[len(tag) + 1 :]

    def wait_ok(self, deadline: float) -> None:
        """Wait for a clean exit (code 0) until ``deadline``."""
        try:
            code = self.proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            raise self._fail("did not exit in time") from None
        if code != 0:
            raise self._fail(f"exited with code {code}")


def run_pair(
    script: Script,
    server_args: list[str],
    client_args: list[str],
    timeout: float,
    result_from: str = "server",
) -> dict[str, Any]:
    """Start the server worker, then the client with ``--endpoint`` of the server's READY line.

    Returns the JSON of the RESULT line printed by ``result_from`` ("server" or "client"). Both
    children are killed if anything goes wrong or ``timeout`` seconds pass.
    """
    deadline = time.monotonic() + timeout
    with Worker(script, server_args, "server") as server:
        endpoint = server.expect("READY", deadline)
        with Worker(script, [*client_args, "--endpoint", endpoint], "client") as client:
            source = server if result_from == "server" else client
            result = json.loads(source.expect("RESULT", deadline))
            client.wait_ok(deadline)
        server.wait_ok(deadline)
    return result  # type: ignore[no-any-return]


class _Run(Protocol):
    error: str


_R = TypeVar("_R", bound=_Run)


def median_run(
    run: Callable[[], _R],
    repeat: int,
    key: Callable[[_R], float],
    label: str,
    note: Callable[[_R], str],
    progress: bool = True,
) -> _R:
    """Run one row ``repeat`` times (stopping at a failed run) and keep the failed run, or else the
    median by ``key``. With ``progress``, stderr gets ``label`` and each run's ``note`` (or FAILED)."""
    if progress:
        print(label, end="", file=sys.stderr, flush=True)
    runs = []
    for _ in range(max(1, repeat)):
        res = run()
        if progress:
            print(f" {'FAILED' if res.error else note(res)}", end="", file=sys.stderr, flush=True)
        runs.append(res)
        if res.error:
            break
    if progress:
        print(file=sys.stderr, flush=True)
    failed = [r for r in runs if r.error]
    runs.sort(key=key)
    return failed[0] if failed else runs[len(runs) // 2]


def import_impl(impl: str) -> Any:
    """The ``zmq`` module of an implementation: ``zloop`` or ``pyzmq``."""
    if impl == "zloop":
        import zloop

        return zloop
    if impl == "pyzmq":
        import zmq

        return zmq
    raise ValueError(f"unknown implementation {impl!r}")


def emit(tag: str, payload: str) -> None:
    """A worker's line to the parent."""
    sys.stdout.write(f"{tag} {payload}\n")
    sys.stdout.flush()


def fmt_rate(value: float) -> str:
    if value >= 1e6:
        return f"{value / 1e6:.2f}M"
    if value >= 1e3:
        return f"{value / 1e3:.1f}k"
    return f"{value:.0f}"


def fmt_size(size: int) -> str:
    if size >= 1 << 20 and size % (1 << 20) == 0:
        return f"{size >> 20} MiB"
    if size >= 1024 and size % 1024 == 0:
        return f"{size >> 10} KiB"
    return f"{size} B"


def render(headers: list[str], rows: list[list[str]]) -> str:
    """A plain-text table, first column left-aligned, the others right-aligned."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def line(cells: list[str]) -> str:
        out = [cells[0].ljust(widths[0])]
        out += [cell.rjust(widths[i + 1]) for i, cell in enumerate(cells[1:])]
        return "  ".join(out).rstrip()

    sep = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), sep, *(line(r) for r in rows)])
