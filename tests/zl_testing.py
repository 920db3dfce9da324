"""Helpers shared by every test folder (importable as ``zl_testing``: tests/ is on sys.path).

Everything here synchronises on fds, polls and deadlines; nothing sleeps.
"""

from __future__ import annotations

import itertools
import os
import select
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: How long a test waits for something that should happen (seconds / ms).
DEADLINE = 5.0
DEADLINE_MS = 5000

#: Multiplier for the counts of ``stress`` tests (``ZLOOP_STRESS_SCALE``; CI uses 0.2).
STRESS_SCALE = float(os.environ.get("ZLOOP_STRESS_SCALE", "1"))


_names = itertools.count()


def endpoint_for(transport: str, tmp_path: Path, name: str = "ep") -> str:
    """A fresh bindable endpoint: ``tcp`` (port chosen at bind), ``ipc`` (in ``tmp_path``), ``inproc``."""
    n = next(_names)
    if transport == "tcp":
        return "tcp://127.0.0.1:*"
    if transport == "ipc":
        path = f"{tmp_path}/{name}{n}.ipc"
        assert len(path.encode()) < 100, f"ipc path too long for AF_UNIX: {path}"
        return f"ipc://{path}"
    if transport == "inproc":
        return f"inproc://{name}-{n}"
    raise ValueError(f"unknown transport {transport!r}")


def fd_readable(fd: int, timeout: float = 0.0) -> bool:
    """Is ``fd`` readable within ``timeout`` seconds?"""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(max(0, int(timeout * 1000))))


def link(
    theirs: Any, ours: Any, zloop_binds: bool, transport: str, path: Path, name: str = "link"
) -> None:
    """Join a pyzmq socket and a zloop socket over tcp or ipc, zloop binding or connecting."""
    if transport == "ipc":
        addr = f"ipc://{path / (name + '.ipc')}"
        (ours if zloop_binds else theirs).bind(addr)
        (theirs if zloop_binds else ours).connect(addr)
    elif zloop_binds:
        ours.bind("tcp://127.0.0.1:*")
        theirs.connect(ours.last_endpoint.decode())
    else:
        port = theirs.bind_to_random_port("tcp://127.0.0.1")
        ours.connect(f"tcp://127.0.0.1:{port}")


def with_deadlines(sock: Any, timeout_ms: int = DEADLINE_MS) -> Any:
    """LINGER 0 and send/recv timeouts on a zloop or pyzmq socket (same option numbers in both)."""
    sock.setsockopt(17, 0)  # LINGER
    sock.setsockopt(28, timeout_ms)  # SNDTIMEO
    sock.setsockopt(27, timeout_ms)  # RCVTIMEO
    return sock


def fd_wakes_until(sock: Any, event: int, timeout_ms: int = DEADLINE_MS) -> bool:
    """The edge-triggered loop: sleep on FD, read EVENTS on each wake-up, until ``event`` is set.

    False if the FD stayed quiet while EVENTS still lacked ``event`` (a lost wake-up), or on the
    deadline. Spurious wake-ups (an attach, another command) are allowed, as in libzmq.
    """
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not fd_readable(sock.FD, remaining):
            return False
        if sock.EVENTS & event:
            return True


def monitor_events_until(
    monitor: Any, wanted: int, timeout_ms: int = DEADLINE_MS
) -> list[tuple[int, int]]:
    """``(event, value)`` pairs read from a zloop or pyzmq monitor socket (libzmq's version-1
    messages) up to and including the first ``wanted`` event; fails if any one of them takes
    longer than ``timeout_ms`` to come."""
    seen: list[tuple[int, int]] = []
    while True:
        assert monitor.poll(timeout_ms), f"no event {wanted} within {timeout_ms} ms; saw {seen}"
        header = monitor.recv_multipart()[0]
        event, value = struct.unpack("=HI", bytes(header)[:6])
        seen.append((event, value))
        if event == wanted:
            return seen


class WatchedLock:
    """A lock that reports an acquire that has to wait (once ``armed``), and then waits."""

    def __init__(self, on_wait: Callable[[], None]) -> None:
        self._lock = threading.Lock()
        self._on_wait = on_wait
        self.armed = False

    def __enter__(self) -> WatchedLock:
        if not self._lock.acquire(blocking=False):
            if self.armed:
                self._on_wait()
            self._lock.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


class CloseWhilePosting:
    """Force the interleaving "``sock`` closes while a command is being posted to it".

    The first command posted to ``sock`` after this is set up (typically the attach of a pipe,
    posted by whoever found ``sock`` bound under a name) is held: ``sock`` is closed in a thread
    of its own, and the post goes on once that ``close()`` returned -- or once it waits for the
    context's inproc registry lock, which the poster may hold to keep the name bound meanwhile.
    Call :meth:`join` at the end (it checks that the close happened and ended).
    """

    def __init__(self, sock: Any, monkeypatch: Any) -> None:
        self.flags: set[str] = set()
        self._cond = threading.Condition()
        self._sock = sock
        self._closer = threading.Thread(target=self._close, name="close-while-posting")
        registry = sock.context._inproc
        self._lock = WatchedLock(lambda: self._note("close waits"))
        monkeypatch.setattr(registry, "_lock", self._lock)
        # Posters hold the socket's core (zloop.socket_core), never the Socket handle.
        core = sock._core
        post = core.post

        def post_while_closing(command: Callable[[], Any], hint: int) -> None:
            if "posting" not in self.flags:
                self._note("posting")
                self._lock.armed = True
                self._closer.start()
                with self._cond:
                    done = self._cond.wait_for(
                        lambda: self.flags & {"closed", "close waits"}, DEADLINE
                    )
                    assert done, "the close neither ended nor waited"
            post(command, hint)

        monkeypatch.setattr(core, "post", post_while_closing)

    def _note(self, flag: str) -> None:
        with self._cond:
            self.flags.add(flag)
            self._cond.notify_all()

    def _close(self) -> None:
        self._sock.close()
        self._note("closed")

    def wait_posting(self) -> None:
        """Until the held post began (the socket is being closed from then on)."""
        with self._cond:
            assert self._cond.wait_for(lambda: "posting" in self.flags, DEADLINE), "no post came"

    def join(self) -> None:
        assert "posting" in self.flags, "nothing was posted to the socket"
        self._closer.join(DEADLINE)
        assert not self._closer.is_alive(), "close() hung"
