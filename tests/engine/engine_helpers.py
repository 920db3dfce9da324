"""Helpers for the readiness-contract tests (docs/readiness.md): socket pairs over every transport, fd
checks with deadlines, and the drain/fill loops the contract prescribes.

Nothing here sleeps to synchronise: every wait is a ``poll`` on an fd or a socket with a deadline.
"""

from __future__ import annotations

import select
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zl_testing import endpoint_for, fd_readable

import zloop

NOBLOCK = zloop.NOBLOCK
POLLIN = zloop.POLLIN
POLLOUT = zloop.POLLOUT

#: Upper bound for anything that must happen "eventually" (generous: CI machines can be slow).
DEADLINE = 10.0

TRANSPORTS = ("tcp", "ipc", "inproc")
#: sender->receiver, and which side binds: PUSH binds / PULL connects, PULL binds / PUSH connects,
#: PAIR binds / PAIR connects (sender = the binding PAIR).
KINDS = ("push->pull", "pull<-push", "pair<->pair")

_TYPES = {
    "push->pull": (zloop.PUSH, zloop.PULL, True),
    "pull<-push": (zloop.PUSH, zloop.PULL, False),
    "pair<->pair": (zloop.PAIR, zloop.PAIR, True),
}


def wait_readable(fd: int, timeout: float = DEADLINE) -> bool:
    return fd_readable(fd, timeout)


def recv_within(sock: zloop.Socket, timeout: float = DEADLINE) -> bytes:
    """One message, waiting (through ``Socket.poll``) at most ``timeout`` seconds."""
    assert sock.poll(int(timeout * 1000), POLLIN), "no message arrived before the deadline"
    data: bytes = sock.recv(NOBLOCK)
    return data


def send_within(sock: zloop.Socket, data: bytes, timeout: float = DEADLINE) -> None:
    assert sock.poll(int(timeout * 1000), POLLOUT), "socket did not become writable in time"
    sock.send(data, NOBLOCK)


def recv_n(sock: zloop.Socket, n: int, timeout: float = DEADLINE) -> list[bytes]:
    deadline = time.monotonic() + timeout
    got: list[bytes] = []
    while len(got) < n:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"only {len(got)} of {n} messages arrived before the deadline"
        if sock.poll(max(1, int(remaining * 1000)), POLLIN):
            got.extend(drain(sock))
    return got


def drain(sock: zloop.Socket) -> list[bytes]:
    """recv(NOBLOCK) until Again (the contract's drain step)."""
    got: list[bytes] = []
    while True:
        try:
            got.append(sock.recv(NOBLOCK))
        except zloop.Again:
            return got


def arm_in(sock: zloop.Socket) -> list[bytes]:
    """Drain to Again and check EVENTS has no POLLIN: from now on the FD must fire on a message."""
    got = drain(sock)
    assert not sock.EVENTS & POLLIN
    return got


def fill(sock: zloop.Socket, payload: bytes, timeout: float = DEADLINE) -> int:
    """Send with NOBLOCK until Again *and* the EVENTS read right after it lacks POLLOUT.

    Over tcp/ipc the I/O thread keeps moving messages into kernel buffers for a while, so an Again
    can be followed by POLLOUT again; keep going until both observations hold back to back. Returns
    the number of messages sent.
    """
    deadline = time.monotonic() + timeout
    sent = 0
    while True:
        while True:
            try:
                sock.send(payload, NOBLOCK)
            except zloop.Again:
                break
            sent += 1
            assert time.monotonic() < deadline, f"never became full after {sent} messages"
        if not sock.EVENTS & POLLOUT:
            return sent
        assert time.monotonic() < deadline, f"never became full after {sent} messages"


@dataclass
class Pair:
    sender: zloop.Socket  # PUSH, or the binding PAIR
    receiver: zloop.Socket  # PULL, or the connecting PAIR
    transport: str
    kind: str


def make_pair(
    ctx: zloop.Context,
    transport: str,
    kind: str,
    tmp_path: Path,
    *,
    warm_up: bool = True,
    **options: Any,
) -> Pair:
    """Connected sender/receiver of ``kind`` over ``transport``; ``options`` are set on both sides
    before bind/connect (e.g. ``sndhwm=5, rcvhwm=5``). With ``warm_up`` one message travels each
    way the pattern allows, so the connection is fully established when this returns."""
    stype, rtype, sender_binds = _TYPES[kind]
    sender = ctx.socket(stype)
    receiver = ctx.socket(rtype)
    for sock in (sender, receiver):
        sock.linger = 0
        for name, value in options.items():
            setattr(sock, name, value)
    binder, connecter = (sender, receiver) if sender_binds else (receiver, sender)
    binder.bind(endpoint_for(transport, tmp_path))
    connecter.connect(binder.last_endpoint.decode())
    pair = Pair(sender, receiver, transport, kind)
    if warm_up:
        send_within(sender, b"warm-up")
        assert recv_within(receiver) == b"warm-up"
        if kind == "pair<->pair":
            send_within(receiver, b"warm-up back")
            assert recv_within(sender) == b"warm-up back"
    return pair


class Worker(threading.Thread):
    """A thread running ``fn``; ``join_checked`` re-raises what it raised (daemon: never blocks exit)."""

    def __init__(self, fn: Callable[[], Any]) -> None:
        super().__init__(daemon=True)
        self._fn = fn
        self.error: BaseException | None = None
        self.result: Any = None

    def run(self) -> None:
        try:
            self.result = self._fn()
        except BaseException as exc:  # reported by join_checked
            self.error = exc

    def join_checked(self, timeout: float = DEADLINE) -> Any:
        self.join(timeout)
        assert not self.is_alive(), "worker thread did not finish before the deadline"
        if self.error is not None:
            raise self.error
        return self.result


class EdgeLoop:
    """A raw ``select.epoll`` loop in EDGE-triggered mode (EPOLLET) on a socket's ``FD``."""

    def __init__(self, sock: zloop.Socket) -> None:
        self.sock = sock
        self.epoll = select.epoll()
        self.epoll.register(sock.FD, select.EPOLLIN | select.EPOLLET)
        self.wakeups = 0

    def sleep(self, deadline: float, what: str) -> None:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"hang: {what}"
        if self.epoll.poll(remaining):
            self.wakeups += 1

    def close(self) -> None:
        self.epoll.close()
