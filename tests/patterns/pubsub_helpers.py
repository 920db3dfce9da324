"""Helpers for the publish-subscribe tests: endpoints, and the slow-joiner synchronisation.

A subscription takes effect at the publisher some time after ``subscribe`` returns, and nothing
outside the publisher says when. So the helpers publish numbered probes in rounds until the first
one arrives, then drain the copies of the later rounds (one pipe: FIFO, so they come in order).
Nothing sleeps: every wait is a poll with a deadline. The helpers take zloop or pyzmq sockets.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from zl_testing import endpoint_for, fd_readable

#: Upper bound for anything that must happen "eventually".
DEADLINE = 10.0
#: One round: publish a probe, then wait this long (ms) for it.
ROUND_MS = 20


TRANSPORTS = ("inproc", "tcp", "ipc")

#: zloop binding and connecting over tcp, against libzmq (ids say which side binds).
INTEROP_MODES = [
    pytest.param(True, "tcp", id="zloop-binds-tcp"),
    pytest.param(False, "tcp", id="zloop-connects-tcp"),
]


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> str:
    """Every transport (import it into a test module as ``transport as transport``)."""
    return str(request.param)


def endpoint(transport: str, tmp_path: Path) -> str:
    return endpoint_for(transport, tmp_path, "ps")


def fd_fires(fd: int, timeout: float = DEADLINE) -> bool:
    """Does ``fd`` become readable within ``timeout`` seconds (default :data:`DEADLINE`)?"""
    return fd_readable(fd, timeout)


def recv(sock: Any, timeout: float = DEADLINE) -> list[bytes]:
    """One whole message within ``timeout`` seconds."""
    assert sock.poll(int(timeout * 1000)), "no message before the deadline"
    msg: list[bytes] = sock.recv_multipart()
    return msg


def nothing_pending(sock: Any) -> bool:
    return not sock.poll(0)


def sync(pub: Any, sub: Any, probe: bytes, *, publish: Callable[[int], None] | None = None) -> None:
    """Publish ``[probe, round]`` until one arrives at ``sub``; leave nothing queued at ``sub``.

    ``publish(round)`` (default: ``pub.send_multipart([probe, b"%d" % round])``) may publish other
    messages before the probe; ``sub`` must only see the probes (asserted)."""
    deadline = time.monotonic() + DEADLINE
    for rnd in itertools.count():
        assert time.monotonic() < deadline, f"subscription {probe!r} never took effect"
        if publish is None:
            pub.send_multipart([probe, b"%d" % rnd])
        else:
            publish(rnd)
        if sub.poll(ROUND_MS):
            got = sub.recv_multipart()
            assert got[0] == probe, got
            for later in range(int(got[1]) + 1, rnd + 1):
                assert recv(sub) == [probe, b"%d" % later]
            return


def sync_gone(pub: Any, sub: Any, gone: bytes, marker: bytes) -> None:
    """Publish ``gone`` then ``marker`` in rounds until a round's marker arrives without ``gone``
    before it: the cancel of ``gone`` took effect (``marker`` must stay subscribed)."""
    deadline = time.monotonic() + DEADLINE
    for rnd in itertools.count():
        assert time.monotonic() < deadline, f"cancel of {gone!r} never took effect"
        number = b"%d" % rnd
        pub.send_multipart([gone, number])
        pub.send_multipart([marker, number])
        got = recv_until(sub, [marker, number])
        if got == [[marker, number]]:
            return
        assert got == [[gone, number], [marker, number]], got


def recv_until(sock: Any, last: list[bytes]) -> list[list[bytes]]:
    """Every message up to and including ``last``."""
    got: list[list[bytes]] = []
    while True:
        msg = recv(sock)
        got.append(msg)
        if msg == last:
            return got


def recv_pumping(sock: Any, *others: Any, timeout: float = DEADLINE) -> list[bytes]:
    """One message from ``sock``, while letting ``others`` process their commands.

    A bound socket learns of a new connection through a command that only runs when its
    application calls into it (libzmq too): a SUB that binds sends its subscriptions then."""
    deadline = time.monotonic() + timeout
    while not sock.poll(ROUND_MS):
        assert time.monotonic() < deadline, "no message before the deadline"
        for other in others:
            other.poll(0)
    msg: list[bytes] = sock.recv_multipart()
    return msg
