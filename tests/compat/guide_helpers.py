"""Helpers of the guide-program tests: peers in threads, with deadlines, whose failures fail the test.

The ZeroMQ guide's programs run as separate processes that sleep to let peers connect; the tests
run the same shapes as threads of one process and synchronise on messages and polls instead.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

import pytest
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


#: Seconds the reference's (libzmq's) ``term()`` may take once every socket of the scenario is closed.
REFERENCE_TERM_S = 3 * DEADLINE


def term(ctx: Any) -> None:
    """``ctx.term()`` at the end of a scenario, every socket closed.

    zloop's must return (else the test's timeout fails it). libzmq's own ``term()`` was seen, in
    about one full suite run in four and never in a run of the compat tests alone, to wait for
    ever with every socket of the context closed with LINGER 0 -- the symptom of libzmq's issue
    2586 (the reaper's "done" never reaches ``term``). The reference run then ends as an expected
    failure that says so, with what each thread of the process is blocked in, instead of the suite
    failing on a libzmq hang; the zloop run of the same scenario is unaffected."""
    if type(ctx).__module__.split(".")[0] != "zmq":
        ctx.term()
        return
    done = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            ctx.term()
        except BaseException as exc:
            errors.append(exc)
        done.set()

    threading.Thread(target=run, name="libzmq-term", daemon=True).start()
    if not done.wait(REFERENCE_TERM_S):
        pytest.xfail(
            f"libzmq's term() did not return within {REFERENCE_TERM_S:.0f} s although every socket "
            f"was closed (libzmq issue 2586's symptom); threads: {_thread_states()}"
        )
    if errors:
        raise errors[0]


def _thread_states() -> str:
    """Each thread of this process: its name, state and the kernel function it waits in."""
    states = []
    for task in sorted(os.listdir("/proc/self/task")):
        try:
            with open(f"/proc/self/task/{task}/comm") as f:
                name = f.read().strip()
            with open(f"/proc/self/task/{task}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
            with open(f"/proc/self/task/{task}/wchan") as f:
                wchan = f.read().strip()
        except OSError:
            continue
        states.append(f"{name}[{state} {wchan}]")
    return ", ".join(states)
