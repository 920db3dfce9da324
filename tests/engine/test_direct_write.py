"""Direct writes: an application thread sending a reply on an idle tcp/ipc connection encodes and
writes it itself (zloop/io/engine.py, "Direct writes"), interleaved with the I/O thread's own
batched writes. Order, completeness, HWM accounting, partial writes, linger and reconnect."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from zl_testing import DEADLINE_MS, endpoint_for, with_deadlines

import zloop
from zloop.io.engine import StreamEngine
from zloop.pipe import Pipe

NOBLOCK = zloop.NOBLOCK
TRANSPORTS = ("tcp", "ipc")


@pytest.fixture
def direct_count(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Counts direct writes that took the messages (``[taken, declined]``)."""
    counts = [0, 0]
    original = StreamEngine.try_direct_write

    def counting(self: StreamEngine, pipe: Pipe) -> bool:
        took = original(self, pipe)
        counts[0 if took else 1] += 1
        return took

    monkeypatch.setattr(StreamEngine, "try_direct_write", counting)
    yield counts


@pytest.fixture
def finish_count(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Counts I/O-thread completions of direct writes that left bytes behind."""
    counts = [0]
    original = StreamEngine._finish_write

    def counting(self: StreamEngine) -> None:
        counts[0] += 1
        original(self)

    monkeypatch.setattr(StreamEngine, "_finish_write", counting)
    yield counts


def _pair(ctx: zloop.Context, transport: str, tmp_path: Path, **opts: Any) -> tuple[Any, Any]:
    server = with_deadlines(ctx.socket(zloop.PAIR))
    client = with_deadlines(ctx.socket(zloop.PAIR))
    for sock in (server, client):
        for name, value in opts.items():
            setattr(sock, name, value)
    server.bind(endpoint_for(transport, tmp_path, "direct"))
    client.connect(server.last_endpoint.decode())
    client.send(b"hello")
    assert server.recv() == b"hello"
    return server, client


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_ping_pong_replies_take_the_direct_path(
    ctx: zloop.Context, transport: str, tmp_path: Path, direct_count: list[int]
) -> None:
    server, client = _pair(ctx, transport, tmp_path)
    for i in range(300):
        client.send(b"ping %d" % i)
        assert server.recv() == b"ping %d" % i
        server.send_multipart([b"pong", b"%d" % i])
        assert client.recv_multipart() == [b"pong", b"%d" % i]
    # Every send here follows a receive on the same connection: at least some skipped the I/O
    # thread (one may find the engine busy, e.g. still finishing the read that woke us).
    assert direct_count[0] > 0


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_sndhwm_is_not_consumed_by_direct_writes(
    ctx: zloop.Context, transport: str, tmp_path: Path, direct_count: list[int]
) -> None:
    server, client = _pair(ctx, transport, tmp_path, sndhwm=2, rcvhwm=2)
    for i in range(500):
        client.send(b"%d" % i, NOBLOCK)  # never Again: each message is read before the next
        assert server.recv() == b"%d" % i
        server.send(b"r%d" % i, NOBLOCK)
        assert client.recv() == b"r%d" % i
    assert direct_count[0] > 0
    assert client.EVENTS & zloop.POLLOUT and server.EVENTS & zloop.POLLOUT


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_bursts_interleave_direct_and_io_thread_writes_in_order(
    ctx: zloop.Context,
    transport: str,
    tmp_path: Path,
    direct_count: list[int],
    finish_count: list[int],
) -> None:
    """After each request the server answers with a burst: the first reply may go directly, the
    rest through the pipe and the I/O thread, large ones partially written (small SNDBUF)."""
    server, client = _pair(ctx, transport, tmp_path, sndbuf=65536)
    big = bytes(range(256)) * 4096  # 1 MiB: never fits one send with a 64 KiB buffer
    for rnd in range(30):
        client.send(b"req %d" % rnd)
        assert server.recv() == b"req %d" % rnd
        burst = [[b"%d" % rnd, b"%d" % k, big if (rnd + k) % 4 == 0 else b"s"] for k in range(6)]
        for msg in burst:
            server.send_multipart(msg)
        for msg in burst:
            assert client.recv_multipart() == msg
    assert direct_count[0] > 0
    assert finish_count[0] > 0  # some direct writes were partial and finished by the I/O thread


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_partial_direct_write_completes_during_linger(
    ctx: zloop.Context,
    transport: str,
    tmp_path: Path,
    direct_count: list[int],
    finish_count: list[int],
) -> None:
    """A 4 MiB reply written directly by the application thread, partially (64 KiB send buffer),
    then the socket closed with LINGER -1: the I/O thread finishes it, and both replies arrive
    whole and in order. Whether a reply takes the direct path depends on the I/O thread being
    idle at that instant (a loaded machine may have it still finishing the read of the request),
    so the round is repeated on fresh pairs until one did; every round checks the delivery."""
    big = b"\xab" * (4 * 1024 * 1024)
    for attempt in range(20):
        (tmp_path / str(attempt)).mkdir()
        server, client = _pair(ctx, transport, tmp_path / str(attempt), sndbuf=65536)
        before = direct_count[0], finish_count[0]
        client.send(b"go")
        assert server.recv() == b"go"
        server.send(big)  # a reply: direct, partially written, the rest left to the I/O thread
        server.send(b"after")
        server.close(linger=-1)  # linger: both must still arrive whole and in order
        assert client.recv() == big
        assert client.recv() == b"after"
        client.close(linger=0)
        if direct_count[0] > before[0] and finish_count[0] > before[1]:
            break
    else:
        pytest.fail("no reply took the direct path and was finished by the I/O thread")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_concurrent_requests_from_another_thread_keep_order(
    ctx: zloop.Context, transport: str, tmp_path: Path, direct_count: list[int]
) -> None:
    """The peer's requests keep arriving (the I/O thread is busy reading and may hold the engine)
    while the server replies; every reply arrives once, in order."""
    server, client = _pair(ctx, transport, tmp_path)
    count = 2000
    got: list[bytes] = []
    errors: list[BaseException] = []

    def client_side() -> None:
        try:
            for i in range(count):
                client.send(b"%d" % i)
                if i >= 8:  # up to 8 requests in flight
                    got.append(client.recv())
            while len(got) < count:
                got.append(client.recv())
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=client_side)
    thread.start()
    try:
        for i in range(count):
            assert server.recv() == b"%d" % i
            server.send(b"%d" % i)
    finally:
        thread.join(DEADLINE_MS / 1000)
    assert not thread.is_alive()
    assert not errors
    assert got == [b"%d" % i for i in range(count)]


def test_reconnect_after_peer_vanishes_while_replying(
    ctx: zloop.Context, tmp_path: Path, direct_count: list[int]
) -> None:
    """The peer closes while we reply directly; we reconnect to a new peer on the same endpoint,
    and from the first message it receives on, nothing is lost or reordered."""
    endpoint = endpoint_for("ipc", tmp_path, "again")
    first = with_deadlines(ctx.socket(zloop.PAIR))
    first.bind(endpoint)
    client = with_deadlines(ctx.socket(zloop.PAIR))
    client.reconnect_ivl = 10
    client.connect(endpoint)
    client.send(b"hello")
    assert first.recv() == b"hello"
    first.send(b"welcome")
    assert client.recv() == b"welcome"
    first.close(linger=0)
    second = with_deadlines(ctx.socket(zloop.PAIR))
    second.bind(endpoint)
    # Replies written into the dying connection may be lost (as in libzmq); later ones queue
    # in the pipe and go to the new peer.
    sent = 0
    received: list[int] = []
    while not received:
        client.send(b"%d" % sent)
        sent += 1
        if second.poll(20, zloop.POLLIN):
            received.append(int(second.recv()))
        assert sent < 2000, "the new peer never received anything"
    while received[-1] < sent - 1:
        received.append(int(second.recv()))
    assert received == list(range(received[0], sent))
    # The new connection serves replies directly again.
    before = direct_count[0]
    for i in range(50):
        second.send(b"q%d" % i)
        assert client.recv() == b"q%d" % i
        client.send(b"a%d" % i)
        assert second.recv() == b"a%d" % i
    assert direct_count[0] > before


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_direct_writes_interleave_with_io_thread_heartbeats(
    ctx: zloop.Context, transport: str, tmp_path: Path, direct_count: list[int]
) -> None:
    """PINGs/PONGs written by the I/O thread (every millisecond) and replies written directly
    share one encoder and one socket: nothing is corrupted (the peer would drop the connection),
    lost or reordered."""
    server, client = _pair(ctx, transport, tmp_path, heartbeat_ivl=1, heartbeat_timeout=DEADLINE_MS)
    monitor = client.get_monitor_socket(zloop.EVENT_DISCONNECTED)
    for i in range(1000):
        client.send_multipart([b"c", b"%d" % i])
        assert server.recv_multipart() == [b"c", b"%d" % i]
        server.send(b"s%d" % i)
        assert client.recv() == b"s%d" % i
    assert direct_count[0] > 0
    assert not monitor.poll(0, zloop.POLLIN)  # the connection never dropped
