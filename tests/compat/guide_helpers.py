"""Helpers of the guide-program tests: peers in threads, with deadlines, whose failures fail the test.

The ZeroMQ guide's programs run as separate processes that sleep to let peers connect; the tests
run the same shapes as threads of one process and synchronise on messages and polls instead.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from zl_testing import DEADLINE

#: Timeout (ms) of one poll in a loop that also watches a stop condition.
TICK_MS = 10


class Peers:
    """Threads running peers of a scenario; :meth:`join` re-raises the first failure."""

    def __init__(self) -> None:
        self._threads: list[threading.Thread] = []
        self.errors: list[BaseException] = []

    def start(self, target: Callable[..., Any], *args: Any, name: str = "peer") -> None:
        thread = threading.Thread(target=self._run, args=(target, args), name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _run(self, target: Callable[..., Any], args: tuple[Any, ...]) -> None:
        try:
            target(*args)
        except BaseException as exc:
            self.errors.append(exc)

    def join(self, timeout: float = DEADLINE) -> None:
        for thread in self._threads:
            thread.join(timeout)
            assert not thread.is_alive(), f"{thread.name} did not finish"
        if self.errors:
            raise self.errors[0]


def ends_with_term(impl: Any, body: Callable[[], None], *sockets: Any) -> None:
    """Run ``body`` until the context is terminated (the guide's workers run for ever), then
    close ``sockets``: what a worker thread does so that ``ctx.term()`` can return."""
    try:
        body()
    except impl.ContextTerminated:
        pass
    finally:
        for sock in sockets:
            sock.close(linger=0)
