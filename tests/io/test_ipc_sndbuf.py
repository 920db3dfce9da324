"""The send buffer of ipc connections (zloop.io.sockopts.tune_socket).

Linux does not autotune AF_UNIX stream buffers, so with SNDBUF left at -1 zloop raises an ipc
connection's send buffer to at least ``IPC_SNDBUF`` where the kernel allows it (a deliberate
difference from libzmq, which leaves the OS default). An explicit SNDBUF always wins, tcp is
left to the kernel's autotuning, and ``getsockopt(SNDBUF)`` still reports what the user set.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import zloop
from zloop.constants import SocketType
from zloop.io.sockopts import IPC_SNDBUF, tune_socket
from zloop.monitor import recv_monitor_message
from zloop.options import Options

pytestmark = pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="no AF_UNIX sockets")

DEADLINE_MS = 10_000


def _sndbuf(sock: socket.socket) -> int:
    return int(sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF))


def _kernel_limit() -> int:
    """The largest SO_SNDBUF request the kernel grants (net.core.wmem_max), or IPC_SNDBUF."""
    try:
        return int(Path("/proc/sys/net/core/wmem_max").read_text())
    except (OSError, ValueError):
        return IPC_SNDBUF


def _expected_floor() -> int:
    # Linux doubles the granted request for its bookkeeping; other kernels may not.
    return min(IPC_SNDBUF, _kernel_limit())


def _options(sndbuf: int = -1) -> Options:
    return Options(SocketType.PAIR, sndbuf=sndbuf)


@pytest.fixture
def unix_pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        yield a, b
    finally:
        a.close()
        b.close()


def test_default_sndbuf_raises_an_ipc_socket(
    unix_pair: tuple[socket.socket, socket.socket],
) -> None:
    a, _ = unix_pair
    before = _sndbuf(a)
    tune_socket(a, _options())
    after = _sndbuf(a)
    assert after >= _expected_floor()
    assert after >= before


def test_explicit_sndbuf_wins_over_the_ipc_default(
    unix_pair: tuple[socket.socket, socket.socket],
) -> None:
    a, _ = unix_pair
    options = _options(sndbuf=8192)
    tune_socket(a, options)
    assert _sndbuf(a) < 64 * 1024  # what the user asked for (the kernel may double it)


def test_a_larger_buffer_is_never_shrunk(unix_pair: tuple[socket.socket, socket.socket]) -> None:
    a, _ = unix_pair
    a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * IPC_SNDBUF)
    big = _sndbuf(a)
    tune_socket(a, _options())
    assert _sndbuf(a) == big


def test_tcp_sockets_keep_the_kernel_default() -> None:
    # Setting SO_SNDBUF on tcp turns the kernel's autotuning off, so zloop leaves it alone.
    reference = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tuned = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        tune_socket(tuned, _options())
        assert _sndbuf(tuned) == _sndbuf(reference)
    finally:
        reference.close()
        tuned.close()


def _connection_fd(monitor: Any, event: int) -> int:
    while True:
        assert monitor.poll(DEADLINE_MS), "no monitor event"
        message = recv_monitor_message(monitor)
        if message["event"] == event:
            return int(message["value"])


def test_both_ends_of_an_ipc_connection_get_the_larger_buffer(
    ctx: zloop.Context, tmp_path: Path
) -> None:
    server = ctx.socket(zloop.PULL)
    client = ctx.socket(zloop.PUSH)
    server_monitor = server.get_monitor_socket(zloop.EVENT_ACCEPTED)
    client_monitor = client.get_monitor_socket(zloop.EVENT_CONNECTED)
    endpoint = f"ipc://{tmp_path / 'sndbuf'}"
    server.bind(endpoint)
    client.connect(endpoint)
    for monitor, event in (
        (server_monitor, zloop.EVENT_ACCEPTED),
        (client_monitor, zloop.EVENT_CONNECTED),
    ):
        fd = _connection_fd(monitor, event)
        # fromfd duplicates the descriptor: the buffer size is the connection's.
        view = socket.fromfd(fd, socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            assert _sndbuf(view) >= _expected_floor()
        finally:
            view.close()
    assert server.getsockopt(zloop.SNDBUF) == -1  # the option still says "the OS default"
    assert client.getsockopt(zloop.SNDBUF) == -1
    client.send(b"x" * (IPC_SNDBUF + 1))
    assert server.poll(DEADLINE_MS)
    assert server.recv() == b"x" * (IPC_SNDBUF + 1)


def _frames(seed: int) -> list[bytes]:
    big = os.urandom(256) * (4096 + seed)  # about 1 MiB, different for each direction
    return [b"head", big, b"", big[::-1][:300_000], b"tail"]


@pytest.mark.interop
@pytest.mark.parametrize("zloop_binds", [True, False], ids=["zloop-binds", "pyzmq-binds"])
def test_large_multipart_over_ipc_both_directions_with_libzmq(
    ctx: zloop.Context, zctx: Any, tmp_path: Path, zloop_binds: bool
) -> None:
    import zmq

    ours = ctx.socket(zloop.PAIR)
    theirs = zctx.socket(zmq.PAIR)
    endpoint = f"ipc://{tmp_path / 'pair'}"
    if zloop_binds:
        ours.bind(endpoint)
        theirs.connect(endpoint)
    else:
        theirs.bind(endpoint)
        ours.connect(endpoint)
    for round_ in range(3):
        to_them = _frames(2 * round_)
        to_us = _frames(2 * round_ + 1)
        ours.send_multipart(to_them)
        theirs.send_multipart(to_us)
        assert theirs.poll(DEADLINE_MS)
        assert theirs.recv_multipart() == to_them
        assert ours.poll(DEADLINE_MS)
        assert [bytes(f) for f in ours.recv_multipart()] == to_us
