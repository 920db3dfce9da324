"""Test doubles for layer 3: a tiny fake SocketCore whose thread is the test thread.

``FakeSocket.post`` queues commands; the test drains them with :meth:`FakeSocket.wait_until`, which
blocks on the queue (never sleeps) until a predicate holds or a deadline passes. Monitor events are
recorded and also wake the waiting test thread.
"""

from __future__ import annotations

import contextlib
import queue
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from zloop.constants import Event, SocketType
from zloop.options import Options
from zloop.pipe import Pipe

DEADLINE = 10.0
POLL_SLICE = 0.02


def _noop() -> None:
    pass


class FakeSocket:
    """Implements SocketCore and PipeOwner for the test thread."""

    def __init__(self, socket_type: SocketType = SocketType.PULL, **options: Any) -> None:
        options.setdefault("linger", 0)  # tests must not hang in IOThread.stop by default
        self.options = Options(socket_type, **options)
        self._commands: queue.SimpleQueue[Callable[[], Any]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self.events: list[tuple[int, int, str]] = []
        self.pipes: list[Pipe] = []
        self.updates: list[tuple[Pipe, bytes, dict[str, bytes]]] = []
        self.terminated: list[Pipe] = []
        self.read_activations = 0
        self.write_activations = 0

    # -- SocketCore ------------------------------------------------------------------------------

    def post(self, command: Callable[[], Any], hint: int = 0) -> None:
        self._commands.put(command)

    def attach_pipe(self, pipe: Pipe) -> None:
        self.pipes.append(pipe)

    def update_pipe(self, pipe: Pipe, routing_id: bytes, metadata: dict[str, bytes]) -> None:
        self.updates.append((pipe, routing_id, metadata))

    def event(self, event: int, value: int, endpoint: str) -> None:
        with self._lock:
            self.events.append((int(event), value, endpoint))
        self._commands.put(_noop)

    # -- PipeOwner -------------------------------------------------------------------------------

    def read_activated(self, pipe: Pipe) -> None:
        self.read_activations += 1

    def write_activated(self, pipe: Pipe) -> None:
        self.write_activations += 1

    def pipe_terminated(self, pipe: Pipe) -> None:
        self.terminated.append(pipe)

    # -- test helpers ----------------------------------------------------------------------------

    def run_commands(self, timeout: float) -> None:
        """Run queued commands, waiting up to ``timeout`` for the first one."""
        try:
            command = (
                self._commands.get(timeout=timeout) if timeout > 0 else self._commands.get_nowait()
            )
        except queue.Empty:
            return
        command()
        while True:
            try:
                command = self._commands.get_nowait()
            except queue.Empty:
                return
            command()

    def wait_until(
        self, predicate: Callable[[], Any], timeout: float = DEADLINE, what: str = ""
    ) -> Any:
        deadline = time.monotonic() + timeout
        self.run_commands(0)
        while True:
            result = predicate()
            if result:
                return result
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"timed out waiting for {what or predicate}; events={self.event_names()}"
                )
            # Short slices: some predicates watch state of other threads that posts no command.
            self.run_commands(min(remaining, POLL_SLICE))

    def event_names(self) -> list[str]:
        with self._lock:
            return [Event(e).name or str(e) for e, _, _ in self.events]

    def events_of(self, kind: Event) -> list[tuple[int, int, str]]:
        with self._lock:
            return [item for item in self.events if item[0] == kind]

    def wait_event(
        self, kind: Event, count: int = 1, timeout: float = DEADLINE
    ) -> tuple[int, int, str]:
        self.wait_until(
            lambda: len(self.events_of(kind)) >= count, timeout, f"{kind.name} x{count}"
        )
        return self.events_of(kind)[count - 1]

    def wait_pipe(self, index: int = 0, timeout: float = DEADLINE) -> Pipe:
        self.wait_until(lambda: len(self.pipes) > index, timeout, f"pipe #{index}")
        return self.pipes[index]

    def recv(self, pipe: Pipe, timeout: float = DEADLINE) -> list[Any]:
        box: list[Any] = []

        def ready() -> bool:
            msg = pipe.read()
            if msg is None:
                return False
            box.append(msg)
            return True

        self.wait_until(ready, timeout, "a message in the pipe")
        return [bytes(f) for f in box[0]]

    def send(self, pipe: Pipe, frames: list[bytes], timeout: float = DEADLINE) -> None:
        self.wait_until(lambda: pipe.write(list(frames)), timeout, "room in the pipe")
        pipe.flush()


def free_port() -> int:
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def subsequence(needle: list[str], haystack: list[str]) -> bool:
    it: Iterator[str] = iter(haystack)
    return all(any(x == y for y in it) for x in needle)
