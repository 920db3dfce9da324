"""Helpers for the request-reply tests: endpoints per transport, bound+connected socket pairs, and
deadline-bounded waits (every wait is a poll with a deadline; nothing sleeps)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zl_testing import endpoint_for

import zloop

NOBLOCK = zloop.NOBLOCK
POLLIN = zloop.POLLIN
POLLOUT = zloop.POLLOUT
#: Upper bound for anything that must happen "eventually".
DEADLINE_MS = 10_000
#: How long "nothing arrives" is observed for negative checks.
QUIET_MS = 200


def make_socket(ctx: zloop.Context, stype: int, **options: Any) -> zloop.Socket:
    sock = ctx.socket(stype)
    sock.linger = 0
    for name, value in options.items():
        setattr(sock, name, value)
    return sock


def bind(sock: zloop.Socket, transport: str, tmp_path: Path) -> str:
    sock.bind(endpoint_for(transport, tmp_path))
    return str(sock.last_endpoint.decode())


def recv_mp(sock: zloop.Socket, timeout_ms: int = DEADLINE_MS) -> list[bytes]:
    """One whole message, waiting at most ``timeout_ms``."""
    assert sock.poll(timeout_ms, POLLIN), "no message arrived before the deadline"
    msg: list[bytes] = sock.recv_multipart(NOBLOCK)
    return msg


def nothing_arrives(sock: zloop.Socket, timeout_ms: int = QUIET_MS) -> bool:
    return not sock.poll(timeout_ms, POLLIN)


def wait_writable(sock: zloop.Socket, timeout_ms: int = DEADLINE_MS) -> None:
    assert sock.poll(timeout_ms, POLLOUT), "socket did not become writable in time"
