"""Run the ``zloop`` command as a subprocess and read its output with deadlines (never sleep).

``Tool(args)`` starts ``python -m zloop ARGS``; ``bound()`` waits for the tool's ``... bound
ENDPOINT`` line on stderr and returns the endpoint (the real port of a ``*``); ``lines(n)`` reads n
stdout lines; ``stop()`` sends SIGTERM and returns the exit status. Every wait has a deadline and
the process is killed (by its own pid) when the ``with`` block ends.
"""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import time
from typing import Any

DEADLINE = 20.0


def zloop_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "zloop", *args]


def run(*args: str, stdin: bytes = b"", timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run the command to its end; text output."""
    return subprocess.run(
        zloop_command(*args),
        input=stdin.decode(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class Tool:
    def __init__(self, *args: str, stdin: bool = False) -> None:
        self.args = args
        self.proc = subprocess.Popen(
            zloop_command(*args),
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self._buf: dict[int, bytes] = {1: b"", 2: b""}
        self.stderr_seen: list[str] = []

    def __enter__(self) -> Tool:
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()

    def _line(self, which: int, deadline: float) -> str:
        stream = self.proc.stdout if which == 1 else self.proc.stderr
        assert stream is not None
        fd = stream.fileno()
        while b"\n" not in self._buf[which]:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{self.args}: no output line in time; stderr: {self.err()}")
            ready, _, _ = select.select([fd], [], [], remaining)
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise AssertionError(
                        f"{self.args}: exited ({self.proc.wait(10)}) early; stderr: {self.err()}"
                    )
                self._buf[which] += chunk
        line, self._buf[which] = self._buf[which].split(b"\n", 1)
        return line.decode(errors="replace")

    def err(self) -> str:
        """What stderr said so far (lines read plus what is buffered)."""
        return "\n".join(self.stderr_seen) + self._buf[2].decode(errors="replace")

    def stderr_until(self, pattern: str, timeout: float = DEADLINE) -> re.Match[str]:
        """Read stderr lines until one matches ``pattern``."""
        deadline = time.monotonic() + timeout
        while True:
            line = self._line(2, deadline)
            self.stderr_seen.append(line)
            found = re.search(pattern, line)
            if found:
                return found

    def bound(self, role: str = "", timeout: float = DEADLINE) -> str:
        """The endpoint of the next ``... bound ENDPOINT`` line (of ``role``, if given)."""
        prefix = rf"{role} \w+ " if role else ""
        return self.stderr_until(rf"{prefix}bound (\S+)", timeout).group(1)

    def lines(self, count: int, timeout: float = DEADLINE) -> list[str]:
        deadline = time.monotonic() + timeout
        return [self._line(1, deadline) for _ in range(count)]

    def write(self, data: bytes, close: bool = False) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()
        if close:
            self.proc.stdin.close()

    def wait(self, timeout: float = DEADLINE) -> int:
        return self.proc.wait(timeout)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = DEADLINE) -> int:
        self.proc.send_signal(sig)
        return self.proc.wait(timeout)

    def rest(self) -> tuple[str, str]:
        """Everything left on stdout and stderr once the process has exited."""
        assert self.proc.stdout is not None and self.proc.stderr is not None
        out = self._buf[1] + self.proc.stdout.read()
        err = self._buf[2] + self.proc.stderr.read()
        self._buf = {1: b"", 2: b""}
        return out.decode(errors="replace"), err.decode(errors="replace")
