"""Backpressure (RCVHWM) and LINGER through the I/O thread, against libzmq."""

from __future__ import annotations

from typing import Any

import pytest
import zmq
from l3_helpers import FakeSocket, free_port

from zloop.constants import Event, SocketType
from zloop.io.endpoint import parse_endpoint
from zloop.io.reactor import IOThread
from zloop.io.transport import bind, connect

pytestmark = pytest.mark.interop

CHUNK = 64 * 1024


def test_rcvhwm_backpressure_reaches_the_sender(io: IOThread, zmq_ctx: Any) -> None:
    sock = FakeSocket(SocketType.PULL, rcvhwm=4, rcvbuf=CHUNK)
    bound = bind(io, sock, parse_endpoint("tcp://127.0.0.1:*", bind=True), sock.options.snapshot())
    push = zmq_ctx.socket(zmq.PUSH)
    push.SNDHWM = 1
    push.SNDBUF = CHUNK
    push.connect(bound.last_endpoint)
    pipe = sock.wait_pipe()
    # The fake socket does not read: the pipe fills to RCVHWM, the engine stops reading, the
    # kernel buffers fill, and libzmq's send finally would block.
    sent = 0
    poller = zmq.Poller()
    poller.register(push, zmq.POLLOUT)
    while True:
        if not poller.poll(500):  # no room for 0.5 s: backpressure reached libzmq
            break
        push.send(b"%08d" % sent + b"x" * (CHUNK - 8), zmq.NOBLOCK)
        sent += 1
        assert sent < 10_000, "the sender was never pushed back"
    assert pipe.unread_count() == 4
    # Resume: read everything; the engine reads the OS socket again and all arrive in order.
    for i in range(sent):
        frame = sock.recv(pipe)[0]
        assert frame[:8] == b"%08d" % i
    assert sock.write_activations == 0  # the socket end never wrote; activations went the other way
    push.close(0)
    bound.close(0)


def _queue_then_close(io: IOThread, addr: str, linger: int, count: int) -> FakeSocket:
    sock = FakeSocket(SocketType.PUSH, reconnect_ivl=20)
    endpoint, pipe = connect(io, sock, parse_endpoint(addr, bind=False), sock.options.snapshot())
    assert pipe is not None
    for i in range(count):
        sock.send(pipe, [b"msg %d" % i])
    pipe.terminate()
    endpoint.close(linger)
    return sock


def test_linger_delivers_queued_messages(io: IOThread, zmq_ctx: Any) -> None:
    pull = zmq_ctx.socket(zmq.PULL)
    pull.RCVTIMEO = 10_000
    port = pull.bind_to_random_port("tcp://127.0.0.1")
    _queue_then_close(io, f"tcp://127.0.0.1:{port}", 5000, 500)
    assert [pull.recv() for _ in range(500)] == [b"msg %d" % i for i in range(500)]


def test_linger_waits_for_a_late_peer_and_stop_waits() -> None:
    io = IOThread("linger-io")
    io.start()
    ctx = zmq.Context()
    try:
        addr = f"tcp://127.0.0.1:{free_port()}"
        sock = _queue_then_close(io, addr, -1, 20)
        io.stop()
        io.join(0.1)
        assert io.is_running()  # still lingering: nobody to deliver to yet
        pull = ctx.socket(zmq.PULL)
        pull.RCVTIMEO = 10_000
        pull.bind(addr)
        assert [pull.recv() for _ in range(20)] == [b"msg %d" % i for i in range(20)]
        io.join(10)
        assert io.stopped
        assert sock.events_of(Event.CONNECTED)
    finally:
        ctx.destroy(0)


def test_linger_zero_drops(io: IOThread, zmq_ctx: Any) -> None:
    addr = f"tcp://127.0.0.1:{free_port()}"
    _queue_then_close(io, addr, 0, 20)
    sock2 = FakeSocket(SocketType.PUSH)
    # The session ended at once: the thread has nothing left alive.
    sock2.wait_until(lambda: io.load() == 0, what="session gone")
    pull = zmq_ctx.socket(zmq.PULL)
    pull.bind(addr)
    assert pull.poll(200) == 0


def test_linger_timeout_bounds_the_wait(io: IOThread) -> None:
    addr = f"tcp://127.0.0.1:{free_port()}"
    _queue_then_close(io, addr, 50, 5)
    FakeSocket().wait_until(lambda: io.load() == 0, what="linger expiry")
