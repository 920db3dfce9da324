"""Memory held per idle or handshaking connection, and the I/O thread's shared receive buffer.

A peer that only connects (or starts a greeting, or completes a handshake and then idles) must not
make the accepting socket hold more than :data:`PER_CONNECTION_BOUND` bytes for it: connecting costs
the peer nothing. The bound is measured in-process with ``tracemalloc`` (every Python allocation of
the whole object graph of a connection: OS socket object, session, engine, connection, mechanism,
timers, reactor entries, pipes), which is deterministic, unlike RSS. zloop only: libzmq's memory is
not Python's (``bench/bench_memory.py`` compares the RSS of both: libzmq ~4 KiB per idle
connection, ~23 KiB per established one).
"""

from __future__ import annotations

import gc
import socket
import struct
import time
import tracemalloc
from typing import Any

import pytest
from zl_testing import DEADLINE_MS

import zloop

PER_CONNECTION_BOUND = 16 * 1024
#: What may stay per connection once its peer left (tables that do not shrink, not a leak).
LEFT_BOUND = 1024
N = 200
WARM_UP = 20

SIG = b"\xff" + b"\x00" * 8 + b"\x7f"
GREETING = SIG + b"\x03\x00" + b"NULL".ljust(20, b"\x00") + b"\x00" * 32
_READY_BODY = b"\x05READY\x0bSocket-Type" + struct.pack(">I", 6) + b"DEALER"
READY = bytes((0x04, len(_READY_BODY))) + _READY_BODY
#: What each client sends, and how many bytes of the server's answer prove the server handled it
#: (zloop sends 10 greeting bytes at once and the 11th once the peer's signature is in).
MODES = {
    "silent": (b"", 10),
    "partial": (SIG, 11),
    "ready": (GREETING + READY, 64),
}


def _recv_exactly(sock: socket.socket, count: int) -> None:
    got = 0
    while got < count:
        chunk = sock.recv(count - got)
        assert chunk, "the server closed the connection"
        got += len(chunk)


class _Server:
    """A ROUTER bound on tcp, with its monitor counting events."""

    def __init__(self, ctx: zloop.Context) -> None:
        self.sock = ctx.socket(zloop.ROUTER)
        self.sock.linger = 0
        self.sock.setsockopt(zloop.BACKLOG, 1024)
        self.monitor = self.sock.get_monitor_socket(
            zloop.EVENT_ACCEPTED | zloop.EVENT_HANDSHAKE_SUCCEEDED | zloop.EVENT_DISCONNECTED
        )
        self.sock.bind("tcp://127.0.0.1:*")
        host, port = self.sock.last_endpoint.decode()[len("tcp://") :].rsplit(":", 1)
        self.address = (host, int(port))
        self.counts: dict[int, int] = {}

    def wait_for(self, event: int, total: int) -> None:
        while self.counts.get(event, 0) < total:
            assert self.monitor.poll(DEADLINE_MS), f"monitor: {self.counts}"
            kind = struct.unpack("=H", bytes(self.monitor.recv_multipart()[0])[:2])[0]
            self.counts[kind] = self.counts.get(kind, 0) + 1

    def connect(self, clients: list[socket.socket], mode: str) -> None:
        payload, answer = MODES[mode]
        accepted = self.counts.get(zloop.EVENT_ACCEPTED, 0) + len(clients)
        handshaken = self.counts.get(zloop.EVENT_HANDSHAKE_SUCCEEDED, 0) + len(clients)
        for client in clients:
            client.connect(self.address)
            if payload:
                client.sendall(payload)
        for client in clients:
            _recv_exactly(client, answer)
        self.wait_for(zloop.EVENT_ACCEPTED, accepted)
        if mode == "ready":
            self.wait_for(zloop.EVENT_HANDSHAKE_SUCCEEDED, handshaken)
        self.sock.getsockopt(zloop.EVENTS)  # the socket takes the new pipes (commands)


def _clients(count: int) -> list[socket.socket]:
    clients = []
    for _ in range(count):
        client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        client.settimeout(DEADLINE_MS / 1000)
        clients.append(client)
    return clients


@pytest.mark.parametrize("mode", list(MODES))
def test_idle_and_handshaking_connections_hold_little_memory(ctx: zloop.Context, mode: str) -> None:
    server = _Server(ctx)
    warm = _clients(WARM_UP)
    clients = _clients(N)  # made before tracing: the peers' objects are not the server's
    try:
        # Warm up first: lazily made things (imports, table growth, the I/O thread's receive
        # buffer: made by the first read, so one warm-up peer sends something) are per process.
        server.connect(warm[:1], "partial")
        server.connect(warm[1:], mode)
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            server.connect(clients, mode)
            gc.collect()
            per_connection = (tracemalloc.get_traced_memory()[0] - before) / N
            assert per_connection < PER_CONNECTION_BOUND, f"{per_connection:.0f} B per connection"
            # Once the peers are gone, (almost) nothing of them stays: the socket ends their
            # pipes through commands, processed by its EVENTS; wait for that with a deadline.
            for client in clients:
                client.close()
            server.wait_for(zloop.EVENT_DISCONNECTED, N)
            deadline = time.monotonic() + DEADLINE_MS / 1000
            while True:
                server.sock.getsockopt(zloop.EVENTS)
                gc.collect()
                left = (tracemalloc.get_traced_memory()[0] - before) / N
                if left < LEFT_BOUND or time.monotonic() > deadline:
                    break
                server.sock.poll(10)  # wakes early when a command arrives
            assert left < LEFT_BOUND, f"{left:.0f} B per connection left after the peers left"
        finally:
            tracemalloc.stop()
    finally:
        for client in warm + clients:
            client.close()
        server.monitor.close()


def test_idle_stream_connections_hold_little_memory(ctx: zloop.Context) -> None:
    """The same for a STREAM socket (raw engine): each connection shows up as a connect
    notification, and holds no receive buffer of its own."""
    stream = ctx.socket(zloop.STREAM)
    stream.linger = 0
    stream.setsockopt(zloop.BACKLOG, 1024)
    stream.bind("tcp://127.0.0.1:*")
    host, port = stream.last_endpoint.decode()[len("tcp://") :].rsplit(":", 1)
    warm = _clients(WARM_UP)
    clients = _clients(N)

    def connect(batch: list[socket.socket]) -> None:
        for client in batch:
            client.connect((host, int(port)))
        for _ in batch:
            assert stream.poll(DEADLINE_MS)
            assert stream.recv_multipart()[1] == b""  # the connect notification

    try:
        connect(warm)
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            connect(clients)
            gc.collect()
            per_connection = (tracemalloc.get_traced_memory()[0] - before) / N
        finally:
            tracemalloc.stop()
        assert per_connection < PER_CONNECTION_BOUND, f"{per_connection:.0f} bytes per connection"
    finally:
        for client in warm + clients:
            client.close()
        stream.close()


def test_messages_survive_reads_of_other_connections_into_the_shared_buffer(
    ctx: zloop.Context,
) -> None:
    """Every connection of an I/O thread is read into one buffer: what a read decoded must not
    change when the next read (of this or another connection) reuses it. Messages stay queued,
    unread, while many more reads happen; then every one is checked."""
    pull = ctx.socket(zloop.PULL)
    pull.linger = 0
    pull.rcvhwm = 0
    pull.bind("tcp://127.0.0.1:*")
    endpoint = pull.last_endpoint.decode()
    pushes: list[Any] = []
    expected: set[bytes] = set()
    sizes = (5, 300, 9000, 70_000)  # short and long frames, in and out of the receive buffer
    for index in range(8):
        push = ctx.socket(zloop.PUSH)
        push.linger = 0
        push.connect(endpoint)
        pushes.append(push)
        for count in range(40):
            size = sizes[count % len(sizes)]
            body = (b"%d/%d:" % (index, count)).ljust(size, bytes([65 + (index + count) % 26]))
            expected.add(body)
            push.send(body)
    received = set()
    while len(received) < len(expected):
        assert pull.poll(DEADLINE_MS)
        received.add(pull.recv())
    assert received == expected
    for push in pushes:
        push.close()
    pull.close()
