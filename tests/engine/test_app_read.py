"""Reads in the application thread: a ``recv`` about to block on a socket whose only pipe leads
to a tcp/ipc connection reads and decodes the OS socket itself (zloop/io/engine.py, "Reads in the
application thread"), the I/O thread keeping everything else. Each test checks what arrives
(order, completeness) on a path where application-thread reads and the I/O thread's reads mix,
and that the application thread did read (or handed over) in it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from zl_testing import DEADLINE, STRESS_SCALE, endpoint_for, link, with_deadlines

import zloop
from zloop.io.engine import (
    APP_READ_BUSY,
    APP_READ_EMPTY,
    APP_READ_GOT,
    APP_READ_WOKE,
    StreamEngine,
)
from zloop.pipe import Pipe

TRANSPORTS = ("tcp", "ipc")


class Counts:
    """What StreamEngine.app_read answered, and how often it handed events to the I/O thread."""

    def __init__(self) -> None:
        self.got = 0
        self.empty = 0
        self.busy = 0
        self.handed = 0


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counts]:
    counts = Counts()
    original = StreamEngine.app_read
    original_hand_over = StreamEngine._hand_over

    def counting(self: StreamEngine, buf: memoryview, reader: Pipe) -> int:
        result = original(self, buf, reader)
        if result in (APP_READ_GOT, APP_READ_WOKE):
            counts.got += 1
        elif result == APP_READ_EMPTY:
            counts.empty += 1
        else:
            assert result == APP_READ_BUSY
            counts.busy += 1
        return result

    def counting_hand_over(self: StreamEngine, events: list[Any]) -> None:
        counts.handed += 1
        original_hand_over(self, events)

    monkeypatch.setattr(StreamEngine, "app_read", counting)
    monkeypatch.setattr(StreamEngine, "_hand_over", counting_hand_over)
    yield counts


def _in_thread(target: Callable[[], None]) -> Callable[[], None]:
    """Run ``target`` in a thread; the returned join re-raises what it raised."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            target()
        except BaseException as exc:  # pragma: no cover - re-raised by join
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()

    def join() -> None:
        thread.join(DEADLINE * 4)
        assert not thread.is_alive(), "the thread did not finish"
        if errors:
            raise errors[0]

    return join


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("peer", ["zloop", pytest.param("pyzmq", marks=pytest.mark.interop)])
def test_round_trips_are_read_by_the_waiting_thread(
    ctx: zloop.Context, zctx: Any, transport: str, peer: str, tmp_path: Path, reads: Counts
) -> None:
    """REQ <-> REP: both zloop sides (or zloop against libzmq) read their replies/requests
    themselves, and every one arrives."""
    rep_ctx = ctx if peer == "zloop" else zctx
    rep = with_deadlines(rep_ctx.socket(zloop.REP))
    req = with_deadlines(ctx.socket(zloop.REQ))
    rep.bind(endpoint_for(transport, tmp_path, "rt"))
    req.connect(rep.getsockopt(zloop.LAST_ENDPOINT).decode())
    count = 300

    def serve() -> None:
        for _ in range(count):
            rep.send_multipart([b"re", *rep.recv_multipart()])

    join = _in_thread(serve)
    for i in range(count):
        req.send_multipart([b"q", b"%d" % i])
        assert req.recv_multipart() == [b"re", b"q", b"%d" % i]
    join()
    assert reads.got > 0


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("kind", ["DEALER", "PULL"])
def test_a_stream_read_by_both_threads_keeps_its_order(
    ctx: zloop.Context, zctx: Any, transport: str, kind: str, tmp_path: Path, reads: Counts
) -> None:
    """A libzmq peer sends numbered messages in bursts of 1 to 37, each burst asked for by the
    receiver (over a second link) before it blocks in recv: the start of a burst is read by the
    waiting thread, the rest by it or by the I/O thread (which reads whenever nobody waits), and
    some bursts are still arriving while the next is asked for. Nothing is lost, duplicated or
    reordered."""
    import zmq

    sender = with_deadlines(zctx.socket(zmq.DEALER if kind == "DEALER" else zmq.PUSH))
    receiver = with_deadlines(ctx.socket(getattr(zloop, kind)))
    link(sender, receiver, True, transport, tmp_path, "stream")
    control_in = with_deadlines(zctx.socket(zmq.PULL))
    control_out = with_deadlines(ctx.socket(zloop.PUSH))
    link(control_in, control_out, True, "tcp", tmp_path, "control")
    bursts = [k % 37 + 1 for k in range(max(60, int(300 * STRESS_SCALE)))]
    total = sum(bursts)

    def send_all() -> None:
        i = 0
        for burst in bursts:
            assert control_in.recv() == b"next"
            for _ in range(burst):
                sender.send(b"%d" % i)
                i += 1

    join = _in_thread(send_all)
    expected = 0
    for number, burst in enumerate(bursts):
        control_out.send(b"next")
        if number % 5 == 4:  # ask for the next one too: it arrives while this one is read
            control_out.send(b"next")
        for _ in range(burst):
            assert receiver.recv() == b"%d" % expected
            expected += 1
    join()
    assert expected == total
    assert reads.got > 0


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("kind", ["DEALER", "PULL"])
def test_a_continuous_stream_keeps_its_order(
    ctx: zloop.Context, zctx: Any, transport: str, kind: str, tmp_path: Path
) -> None:
    """The race itself: a libzmq peer streams numbered messages without pause while the receiver
    blocks whenever its pipe is empty, so the I/O thread's reads (it reads whenever nobody waits,
    and may be in the middle of one when a recv starts waiting) and the waiting thread's reads
    alternate at random points. Which thread reads what depends on timing and is not asserted;
    that nothing is lost, duplicated or reordered is."""
    import zmq

    sender = with_deadlines(zctx.socket(zmq.DEALER if kind == "DEALER" else zmq.PUSH))
    receiver = with_deadlines(ctx.socket(getattr(zloop, kind)))
    link(sender, receiver, True, transport, tmp_path, "race")
    total = max(2000, int(20_000 * STRESS_SCALE))

    def send_all() -> None:
        i = 0
        burst = 1
        while i < total:
            for _ in range(min(burst, total - i)):
                sender.send(b"%d" % i)
                i += 1
            burst = burst % 37 + 1

    join = _in_thread(send_all)
    for i in range(total):
        assert receiver.recv() == b"%d" % i
    join()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_small_rcvhwm_hands_a_large_read_to_the_io_thread(
    ctx: zloop.Context, zctx: Any, transport: str, tmp_path: Path, reads: Counts
) -> None:
    """With RCVHWM 2, one read of a burst decodes more messages than the pipe takes: the
    application thread hands them to the I/O thread, which delivers them in order as the pipe
    drains (and stops reading meanwhile, as it does for its own reads)."""
    import zmq

    sender = with_deadlines(zctx.socket(zmq.DEALER))
    receiver = with_deadlines(ctx.socket(zloop.DEALER))
    receiver.rcvhwm = 2
    link(sender, receiver, True, transport, tmp_path, "hwm")
    sender.send(b"hello")
    assert receiver.recv() == b"hello"
    # Whether one read takes more than the room depends on how the burst lands in the OS socket:
    # go on (a bounded number of rounds) until a read was handed over.
    for rnd in range(400):
        if rnd >= 20 and reads.handed:
            break
        burst = [b"%d-%d" % (rnd, k) for k in range(20)]

        def send_burst(burst: list[bytes] = burst) -> None:
            for msg in burst:
                sender.send(msg)

        join = _in_thread(send_burst)
        for msg in burst:
            assert receiver.recv() == msg
        join()
    assert reads.got > 0
    assert reads.handed > 0


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_second_peer_arriving_while_blocked(
    ctx: zloop.Context, transport: str, tmp_path: Path, reads: Counts
) -> None:
    """A REP blocked in recv reading its only connection itself: a second REQ connects and
    sends. The attach command ends the wait, and both peers are served (fair-queued, through
    the I/O thread while there are two pipes)."""
    rep = with_deadlines(ctx.socket(zloop.REP))
    rep.bind(endpoint_for(transport, tmp_path, "two"))
    endpoint = rep.getsockopt(zloop.LAST_ENDPOINT).decode()
    first = with_deadlines(ctx.socket(zloop.REQ))
    first.connect(endpoint)
    first.send(b"one")
    assert rep.recv() == b"one"
    rep.send(b"ok one")
    assert first.recv() == b"ok one"
    got: list[bytes] = []

    def serve() -> None:
        for _ in range(3):
            msg = rep.recv()  # the first call blocks with one pipe: read here
            got.append(msg)
            rep.send(b"ok " + msg)

    join = _in_thread(serve)
    second = with_deadlines(ctx.socket(zloop.REQ))
    second.connect(endpoint)
    second.send(b"two")
    assert second.recv() == b"ok two"
    first.send(b"three")
    second.send(b"four")
    assert first.recv() == b"ok three"
    assert second.recv() == b"ok four"
    join()
    assert got[0] == b"two" and sorted(got[1:]) == [b"four", b"three"]
    # The first recv waited on its connection's fd (EMPTY), unless the I/O thread still held the
    # engine at that instant (BUSY: it waited on its mailbox alone, as before).
    assert reads.empty + reads.busy > 0


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_peer_leaving_and_returning_while_blocked(
    ctx: zloop.Context, zctx: Any, transport: str, tmp_path: Path, reads: Counts
) -> None:
    """A DEALER blocked in recv on its connection: the libzmq peer closes (the end of the
    stream reaches the blocked thread's read and goes to the I/O thread), a new peer binds the
    same endpoint, the DEALER reconnects and the blocked recv returns the new peer's message."""
    import zmq

    endpoint = endpoint_for(transport, tmp_path, "back")
    first = with_deadlines(zctx.socket(zmq.ROUTER))
    if transport == "tcp":
        port = first.bind_to_random_port("tcp://127.0.0.1")
        endpoint = f"tcp://127.0.0.1:{port}"
    else:
        first.bind(endpoint)
    dealer = with_deadlines(ctx.socket(zloop.DEALER))
    dealer.reconnect_ivl = 10
    dealer.routing_id = b"dealer"  # the new peer addresses it by the same id
    monitor = dealer.get_monitor_socket(zloop.EVENT_DISCONNECTED)
    dealer.connect(endpoint)
    dealer.send(b"hi")
    rid, hi = first.recv_multipart()
    assert (rid, hi) == (b"dealer", b"hi")
    first.send_multipart([rid, b"one"])
    assert dealer.recv() == b"one"
    got: list[bytes] = []
    join = _in_thread(lambda: got.append(dealer.recv()))
    # Let the recv block (it reads its connection itself) before the peer leaves.
    assert _wait_for(lambda: reads.empty + reads.busy > 0)  # it waits (on the fd, or as before)
    first.close(linger=0)
    assert monitor.poll(int(DEADLINE * 1000))  # DISCONNECTED: the end was seen
    second = with_deadlines(zctx.socket(zmq.ROUTER))
    second.setsockopt(zmq.ROUTER_MANDATORY, 1)
    second.bind(endpoint)
    assert _wait_for(lambda: _try_send(second, rid, b"two"))
    join()
    assert got == [b"two"]


def _wait_for(condition: Callable[[], bool]) -> bool:
    """Poll ``condition`` (a few ms apart) until it holds or the deadline passes."""
    done = threading.Event()
    for _ in range(int(DEADLINE * 200)):
        if condition():
            return True
        done.wait(0.005)
    return False


def _try_send(router: Any, rid: bytes, body: bytes) -> bool:
    """ROUTER_MANDATORY send to ``rid``: False while that peer has not (re)connected."""
    import zmq

    try:
        router.send_multipart([rid, body], zmq.NOBLOCK)
    except zmq.ZMQError:
        return False
    return True


def test_context_term_ends_a_recv_that_reads_its_connection(
    ctx: zloop.Context, tmp_path: Path, reads: Counts
) -> None:
    """Another thread terminates the context while a recv waits on its connection's fd: the
    recv raises ContextTerminated (the command ends the wait) and the connection is closed."""
    server = ctx.socket(zloop.PAIR)
    server.linger = 0
    server.bind(endpoint_for("ipc", tmp_path, "term"))
    client = ctx.socket(zloop.PAIR)
    client.linger = 0
    client.connect(server.getsockopt(zloop.LAST_ENDPOINT).decode())
    client.send(b"x")
    assert server.recv() == b"x"
    raised: list[BaseException] = []

    def blocked() -> None:
        try:
            server.recv()
        except zloop.ContextTerminated as exc:
            raised.append(exc)
        server.close()

    join = _in_thread(blocked)
    assert _wait_for(lambda: reads.empty + reads.busy > 0)  # it waits (on the fd, or as before)
    client.close()
    term = _in_thread(ctx.term)
    join()
    term()
    assert len(raised) == 1


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_large_messages_split_between_the_threads(
    ctx: zloop.Context, transport: str, tmp_path: Path, reads: Counts
) -> None:
    """Replies of 1 MiB and 200 KiB: the waiting thread reads the start, the large body in
    progress is left to the I/O thread (received into its own buffer); contents intact."""
    server = with_deadlines(ctx.socket(zloop.PAIR))
    client = with_deadlines(ctx.socket(zloop.PAIR))
    server.bind(endpoint_for(transport, tmp_path, "large"))
    client.connect(server.getsockopt(zloop.LAST_ENDPOINT).decode())
    bodies = [bytes([k]) * size for k, size in enumerate((1 << 20, 200_000, 17, 70_000))]

    def serve() -> None:
        for body in bodies * 3:
            assert server.recv() == b"go"
            server.send_multipart([b"head", body])

    join = _in_thread(serve)
    for body in bodies * 3:
        client.send(b"go")
        assert client.recv_multipart() == [b"head", body]
    join()
    assert reads.got > 0


def test_curve_round_trips_are_read_by_the_waiting_thread(
    ctx: zloop.Context, tmp_path: Path, reads: Counts
) -> None:
    """CURVE: the waiting thread decrypts what it reads (the connection is the I/O thread's
    between reads: handshake, and any frame it reads while nobody waits)."""
    server_public, server_secret = zloop.curve_keypair()
    client_public, client_secret = zloop.curve_keypair()
    rep = with_deadlines(ctx.socket(zloop.REP))
    rep.curve_server = True
    rep.curve_secretkey = server_secret
    rep.bind(endpoint_for("tcp", tmp_path, "curve"))
    req = with_deadlines(ctx.socket(zloop.REQ))
    req.curve_serverkey = server_public
    req.curve_publickey = client_public
    req.curve_secretkey = client_secret
    req.connect(rep.getsockopt(zloop.LAST_ENDPOINT).decode())

    def serve() -> None:
        for _ in range(200):
            rep.send(rep.recv()[::-1])

    join = _in_thread(serve)
    for i in range(200):
        req.send(b"curve %d" % i)
        assert req.recv() == (b"curve %d" % i)[::-1]
    join()
    assert reads.got > 0


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_heartbeats_keep_working_with_round_trips(
    ctx: zloop.Context, zctx: Any, transport: str, tmp_path: Path, reads: Counts
) -> None:
    """HEARTBEAT_IVL 5 ms on both sides: PINGs/PONGs (control events, the I/O thread's) mix with
    round trips for a while; no timeout ends the connection and every reply arrives."""
    import zmq

    peer = with_deadlines(zctx.socket(zmq.REP))
    peer.setsockopt(zmq.HEARTBEAT_IVL, 5)
    peer.setsockopt(zmq.HEARTBEAT_TIMEOUT, 2000)
    req = with_deadlines(ctx.socket(zloop.REQ))
    req.heartbeat_ivl = 5
    req.heartbeat_timeout = 2000
    monitor = req.get_monitor_socket(zloop.EVENT_DISCONNECTED)
    link(peer, req, False, transport, tmp_path, "hb")
    count = 600

    def serve() -> None:
        for _ in range(count):
            peer.send(peer.recv())

    join = _in_thread(serve)
    for i in range(count):
        req.send(b"%d" % i)
        assert req.recv() == b"%d" % i
    join()
    assert not monitor.poll(0)  # never disconnected
