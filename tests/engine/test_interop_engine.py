"""The whole engine (Context, Socket, I/O thread, sessions, ZMTP) against real libzmq via pyzmq.

Every pairing runs over tcp and ipc, with zloop binding and with zloop connecting: PUSH/PULL in both
directions and PAIR/PAIR both ways. Synchronisation is by blocking calls with deadlines (SNDTIMEO,
RCVTIMEO, ``threading.Event.wait(timeout)``), never by sleeping.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from zl_testing import with_deadlines

import zloop

zmq = pytest.importorskip("zmq")
zmq_monitor = pytest.importorskip("zmq.utils.monitor")

pytestmark = pytest.mark.interop

#: Every blocking call in these tests gives up (and fails the test) after this many ms.
DEADLINE_MS = 15_000
DEADLINE_S = DEADLINE_MS / 1000

TRANSPORTS = ("tcp", "ipc")
BINDERS = ("zloop-binds", "zloop-connects")
#: (pattern, direction): who sends. PAIR runs both ways.
FLOWS = (
    ("pushpull", "zloop->libzmq"),
    ("pushpull", "libzmq->zloop"),
    ("pair", "zloop->libzmq"),
    ("pair", "libzmq->zloop"),
)


def _free_tcp_endpoint() -> str:
    """A tcp endpoint nobody listens on, for tests that must connect before anyone binds."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"tcp://127.0.0.1:{port}"


def _ipc_endpoint(tmp_path: Path, name: str) -> str:
    path = str(tmp_path / name)
    assert len(os.fsencode(path)) < 100, path  # sun_path limit
    return f"ipc://{path}"


def _bind_fresh(sock: Any, transport: str, tmp_path: Path, ipc_name: str) -> str:
    """Bind ``sock`` (zloop or pyzmq) to a new endpoint: any free tcp port on 127.0.0.1, or the ipc
    path ``tmp_path / ipc_name``. Returns the endpoint to connect to."""
    if transport == "tcp":
        sock.bind("tcp://127.0.0.1:*")
        return str(sock.last_endpoint.decode())
    endpoint = _ipc_endpoint(tmp_path, ipc_name)
    sock.bind(endpoint)
    return endpoint


@dataclass
class Link:
    zsock: Any  # the zloop socket
    lsock: Any  # the libzmq (pyzmq) socket
    endpoint: str
    sender: Any
    receiver: Any


def _types(pattern: str, direction: str) -> tuple[int, int]:
    """(zloop type, libzmq type) for a pattern and direction."""
    if pattern == "pair":
        return zloop.PAIR, zmq.PAIR
    if direction == "zloop->libzmq":
        return zloop.PUSH, zmq.PULL
    return zloop.PULL, zmq.PUSH


@pytest.fixture
def make_link(ctx: zloop.Context, zctx: Any, tmp_path: Path) -> Callable[..., Link]:
    count = 0

    def make(pattern: str, direction: str, transport: str, binder: str) -> Link:
        nonlocal count
        count += 1
        ztype, ltype = _types(pattern, direction)
        zsock = with_deadlines(ctx.socket(ztype), DEADLINE_MS)
        lsock = with_deadlines(zctx.socket(ltype), DEADLINE_MS)
        zloop_binds = binder == "zloop-binds"
        binding, connecting = (zsock, lsock) if zloop_binds else (lsock, zsock)
        endpoint = _bind_fresh(binding, transport, tmp_path, f"link{count}.ipc")
        connecting.connect(endpoint)
        if direction == "zloop->libzmq":
            return Link(zsock, lsock, endpoint, sender=zsock, receiver=lsock)
        return Link(zsock, lsock, endpoint, sender=lsock, receiver=zsock)

    return make


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=BINDERS)
def binder(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=FLOWS, ids=lambda f: f"{f[0]}-{f[1]}")
def flow(request: pytest.FixtureRequest) -> tuple[str, str]:
    pattern, direction = request.param
    return str(pattern), str(direction)


@pytest.fixture
def link(
    make_link: Callable[..., Link], flow: tuple[str, str], transport: str, binder: str
) -> Link:
    return make_link(flow[0], flow[1], transport, binder)


class SenderThread:
    """Sends ``messages`` (lists of frames) from another thread; ``join`` re-raises its error."""

    def __init__(self, sock: Any, messages: list[list[bytes]]) -> None:
        self.error: BaseException | None = None
        self._sock = sock
        self._messages = messages
        self._thread = threading.Thread(target=self._run, name="interop-sender", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for msg in self._messages:
                self._sock.send_multipart(msg)
        except BaseException as exc:  # handed to the test thread
            self.error = exc

    def join(self) -> None:
        self._thread.join(DEADLINE_S * 2)
        assert not self._thread.is_alive(), "sender thread did not finish"
        if self.error is not None:
            raise self.error


def _pattern_bytes(size: int, seed: int) -> bytes:
    """Deterministic, non-repeating-looking content so that corruption or reordering shows."""
    block = bytes((seed * 31 + i * 7 + (i >> 8)) & 0xFF for i in range(4096))
    reps, rest = divmod(size, len(block))
    return block * reps + block[:rest]


# -- content -----------------------------------------------------------------------------------

FRAME_SIZES = (0, 1, 255, 256, 64 * 1024, 1024 * 1024, 4 * 1024 * 1024)


def test_engine_frame_sizes(link: Link) -> None:
    # 255/256 straddle the short/long frame header boundary; the large ones exercise the
    # preallocated receive path and the sendmsg path.
    messages = [[_pattern_bytes(size, i)] for i, size in enumerate(FRAME_SIZES)]
    for msg in messages:
        link.sender.send_multipart(msg)
    for msg in messages:
        got = link.receiver.recv_multipart()
        assert len(got) == 1
        assert len(got[0]) == len(msg[0])
        assert got == msg


def test_engine_multipart_and_empty_frames(link: Link) -> None:
    messages = [
        [b""],
        [b"", b""],
        [b"", b"a", b""],
        [b"head", b"", b"x" * 255, b"y" * 256, b"", _pattern_bytes(64 * 1024, 3)],
        [_pattern_bytes(1024 * 1024, 5), b"", b"tail"],
        [bytes([i]) for i in range(100)],
    ]
    for msg in messages:
        link.sender.send_multipart(msg)
    for msg in messages:
        assert link.receiver.recv_multipart() == msg


def test_engine_frame_by_frame_rcvmore(link: Link) -> None:
    link.sender.send_multipart([b"one", b"", b"three"])
    got = []
    while True:
        got.append(link.receiver.recv())
        if not link.receiver.getsockopt(zmq.RCVMORE):
            break
    assert got == [b"one", b"", b"three"]


def test_engine_ordered_stream_10k(link: Link) -> None:
    count = 10_000
    messages = [[i.to_bytes(4, "big"), b"payload-%d" % i] for i in range(count)]
    sender = SenderThread(link.sender, messages)
    try:
        for i in range(count):
            msg = link.receiver.recv_multipart()
            assert msg == messages[i], f"message {i} lost or out of order: got {msg!r}"
    finally:
        sender.join()
    with pytest.raises((zmq.Again, zloop.Again)):
        link.receiver.recv(zmq.NOBLOCK)


def test_engine_pair_ping_pong_both_ways(
    make_link: Callable[..., Link], transport: str, binder: str
) -> None:
    link = make_link("pair", "zloop->libzmq", transport, binder)
    for i in range(200):
        link.zsock.send_multipart([b"ping", b"%d" % i])
        assert link.lsock.recv_multipart() == [b"ping", b"%d" % i]
        link.lsock.send_multipart([b"pong", b"%d" % i, b""])
        assert link.zsock.recv_multipart() == [b"pong", b"%d" % i, b""]


# -- connect before bind -------------------------------------------------------------------------


@pytest.mark.parametrize("first", ["zloop-connects-first", "libzmq-connects-first"])
@pytest.mark.parametrize("pattern", ["pushpull", "pair"])
def test_engine_connect_before_bind(
    ctx: zloop.Context,
    zctx: Any,
    tmp_path: Path,
    transport: str,
    first: str,
    pattern: str,
) -> None:
    endpoint = _free_tcp_endpoint() if transport == "tcp" else _ipc_endpoint(tmp_path, "late.ipc")
    zloop_first = first == "zloop-connects-first"
    # The connecting side sends before any peer exists: its messages must queue, then arrive.
    direction = "zloop->libzmq" if zloop_first else "libzmq->zloop"
    ztype, ltype = _types(pattern, direction)
    zsock = with_deadlines(ctx.socket(ztype), DEADLINE_MS)
    lsock = with_deadlines(zctx.socket(ltype), DEADLINE_MS)
    connecter, binder = (zsock, lsock) if zloop_first else (lsock, zsock)
    connecter.connect(endpoint)
    messages = [[b"early", i.to_bytes(2, "big")] for i in range(100)]
    for msg in messages:
        connecter.send_multipart(msg, zmq.NOBLOCK)  # queued: never blocks below the HWM
    binder.bind(endpoint)
    for msg in messages:
        assert binder.recv_multipart() == msg
    connecter.send(b"after-bind")
    assert binder.recv() == b"after-bind"
    if pattern == "pair":
        binder.send(b"reply")
        assert connecter.recv() == b"reply"


# -- peer restart ----------------------------------------------------------------------------------


def _seq(msg: list[bytes]) -> int:
    return int.from_bytes(msg[0], "big")


def _numbered(lo: int, hi: int) -> list[list[bytes]]:
    return [[i.to_bytes(4, "big"), b"body"] for i in range(lo, hi)]


def _close_libzmq_and_wait(sock: Any) -> None:
    """Close a pyzmq socket and wait until libzmq has really released its listener.

    ``zmq_close`` is asynchronous: the listening fd is closed later by libzmq's I/O thread, so an
    immediate re-bind of the same address may fail with EADDRINUSE. The socket's monitor reports
    MONITOR_STOPPED only when the socket object is destroyed, i.e. after all its listeners closed.
    """
    monitor = sock.get_monitor_socket(zmq.EVENT_CLOSED | zmq.EVENT_MONITOR_STOPPED)
    try:
        sock.close(linger=0)
        while True:
            assert monitor.poll(DEADLINE_MS), "libzmq socket never finished closing"
            event = zmq_monitor.recv_monitor_message(monitor)
            if event["event"] == zmq.EVENT_MONITOR_STOPPED:
                return
    finally:
        monitor.close(linger=0)


@pytest.mark.parametrize("pattern", ["pushpull", "pair"])
def test_engine_libzmq_receiver_restart(
    ctx: zloop.Context, zctx: Any, tmp_path: Path, transport: str, pattern: str
) -> None:
    """zloop connects and sends; the libzmq receiver is closed and a new one bound mid-stream."""
    ztype, ltype = _types(pattern, "zloop->libzmq")
    old = with_deadlines(zctx.socket(ltype), DEADLINE_MS)
    endpoint = _bind_fresh(old, transport, tmp_path, "restart.ipc")
    zsock = with_deadlines(ctx.socket(ztype), DEADLINE_MS)
    disconnected = threading.Event()

    def monitor(event: int, value: int, addr: str) -> None:
        if event == zloop.EVENT_DISCONNECTED:
            disconnected.set()

    # zloop has no public socket monitor yet; this is the hook its engine reports events to.
    zsock._monitor = monitor
    zsock.connect(endpoint)

    # 1. Before the restart: everything arrives.
    for msg in _numbered(0, 100):
        zsock.send_multipart(msg)
    for i in range(100):
        assert _seq(old.recv_multipart()) == i

    # 2. In flight at the moment of the restart: may be lost (libzmq guarantees nothing here).
    for msg in _numbered(100, 200):
        zsock.send_multipart(msg)
    _close_libzmq_and_wait(old)
    assert disconnected.wait(DEADLINE_S), "zloop never noticed the peer going away"

    # 3. Queued on zloop's connect side while disconnected: must all arrive after reconnecting.
    for msg in _numbered(200, 300):
        zsock.send_multipart(msg, zmq.NOBLOCK)

    new = with_deadlines(zctx.socket(ltype), DEADLINE_MS)
    new.bind(endpoint)

    # 4. Sent after the restart: must all arrive.
    for msg in _numbered(300, 400):
        zsock.send_multipart(msg)

    received: list[int] = []
    while not received or received[-1] != 399:
        received.append(_seq(new.recv_multipart()))
    assert received == sorted(set(received)), f"order broken or duplicates: {received}"
    assert received[0] >= 100
    assert set(range(200, 400)) <= set(received)


@pytest.mark.parametrize("pattern", ["pushpull", "pair"])
def test_engine_libzmq_sender_restart(
    ctx: zloop.Context, zctx: Any, tmp_path: Path, transport: str, pattern: str
) -> None:
    """zloop connects and receives; the libzmq sender is closed and a new one bound mid-stream."""
    ztype, ltype = _types(pattern, "libzmq->zloop")
    old = with_deadlines(zctx.socket(ltype), DEADLINE_MS)
    endpoint = _bind_fresh(old, transport, tmp_path, "restart.ipc")
    zsock = with_deadlines(ctx.socket(ztype), DEADLINE_MS)
    zsock.connect(endpoint)
    for msg in _numbered(0, 100):
        old.send_multipart(msg)
    for i in range(100):
        assert _seq(zsock.recv_multipart()) == i
    _close_libzmq_and_wait(old)

    new = with_deadlines(zctx.socket(ltype), DEADLINE_MS)
    new.bind(endpoint)
    # A libzmq PUSH/PAIR blocks on send until zloop has reconnected (SNDTIMEO is the deadline).
    for msg in _numbered(100, 300):
        new.send_multipart(msg)
    for i in range(100, 300):
        assert _seq(zsock.recv_multipart()) == i


# -- metadata --------------------------------------------------------------------------------------


@pytest.mark.parametrize("pattern", ["pushpull", "pair"])
def test_engine_frame_metadata_from_libzmq(
    make_link: Callable[..., Link], zctx: Any, transport: str, binder: str, pattern: str
) -> None:
    link = make_link(pattern, "libzmq->zloop", transport, binder)
    link.lsock.send_multipart([b"first", b"second"])
    first = link.zsock.recv(copy=False)
    assert isinstance(first, zloop.Frame)
    assert first.bytes == b"first"
    assert first.more and first.get(zloop.MORE) == 1
    expected_type = "PUSH" if pattern == "pushpull" else "PAIR"
    assert first.get("Socket-Type") == expected_type
    if transport == "tcp":
        assert first.get("Peer-Address") == "127.0.0.1"
    second = link.zsock.recv(copy=False)
    assert second.bytes == b"second"
    assert not second.more and second.get(zloop.MORE) == 0
    assert second.get("Socket-Type") == expected_type
    with pytest.raises(zloop.ZMQError) as info:
        first.get("No-Such-Property")
    assert info.value.errno == zloop.EINVAL


def test_engine_libzmq_metadata_property_visible_on_zloop(
    ctx: zloop.Context, zctx: Any, transport: str, tmp_path: Path
) -> None:
    zsock = with_deadlines(ctx.socket(zloop.PULL), DEADLINE_MS)
    lsock = with_deadlines(zctx.socket(zmq.PUSH), DEADLINE_MS)
    lsock.setsockopt(zmq.METADATA, b"X-Sender:libzmq")
    lsock.connect(_bind_fresh(zsock, transport, tmp_path, "meta.ipc"))
    lsock.send(b"m")
    frame = zsock.recv(copy=False)
    assert frame.get("X-Sender") == "libzmq"


def _libzmq_view_of(sender: Any, receiver: Any) -> dict[str, str | None]:
    """The properties ``receiver`` (pyzmq) sees on one message from ``sender``."""
    sender.send(b"probe")
    frame = receiver.recv(copy=False)
    assert frame.bytes == b"probe"
    seen: dict[str, str | None] = {}
    for name in ("Socket-Type", "Identity", "Peer-Address", "X-Hello"):
        try:
            seen[name] = frame.get(name)
        except zmq.ZMQError:
            seen[name] = None
    return seen


@pytest.mark.parametrize("pattern", ["pushpull", "pair"])
def test_engine_zloop_properties_seen_by_libzmq(
    ctx: zloop.Context, zctx: Any, pattern: str
) -> None:
    """What libzmq sees of a zloop sender with ROUTING_ID and METADATA set is what it sees of a
    libzmq sender configured the same way (Identity is only announced by REQ/DEALER/ROUTER)."""
    ztype, ltype = _types(pattern, "zloop->libzmq")
    sender_ltype = zmq.PUSH if pattern == "pushpull" else zmq.PAIR

    def receiver() -> tuple[Any, str]:
        sock = with_deadlines(zctx.socket(ltype), DEADLINE_MS)
        sock.bind("tcp://127.0.0.1:*")
        return sock, sock.last_endpoint.decode()

    zrecv, zendpoint = receiver()
    zsock = with_deadlines(ctx.socket(ztype), DEADLINE_MS)
    zsock.setsockopt(zloop.ROUTING_ID, b"zloop-id")
    assert zsock.getsockopt(zloop.ROUTING_ID) == b"zloop-id"
    zsock.setsockopt(zloop.METADATA, b"X-Hello:world")
    zsock.connect(zendpoint)
    seen_from_zloop = _libzmq_view_of(zsock, zrecv)

    lrecv, lendpoint = receiver()
    lsender = with_deadlines(zctx.socket(sender_ltype), DEADLINE_MS)
    lsender.setsockopt(zmq.ROUTING_ID, b"zloop-id")
    lsender.setsockopt(zmq.METADATA, b"X-Hello:world")
    lsender.connect(lendpoint)
    seen_from_libzmq = _libzmq_view_of(lsender, lrecv)

    assert seen_from_zloop["Socket-Type"] == ("PUSH" if pattern == "pushpull" else "PAIR")
    assert seen_from_zloop["X-Hello"] == "world"
    assert seen_from_zloop["Peer-Address"] == "127.0.0.1"
    assert seen_from_zloop == seen_from_libzmq
