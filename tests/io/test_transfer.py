"""Message transfer between zloop's I/O thread and libzmq (pyzmq), both directions, tcp and ipc."""

from __future__ import annotations

from typing import Any

import pytest
import zmq
from l3_helpers import FakeSocket, free_port

from zloop.constants import Event, SocketType
from zloop.io.endpoint import parse_endpoint
from zloop.io.reactor import IOThread
from zloop.io.transport import bind, connect
from zloop.pipe import Pipe

pytestmark = pytest.mark.interop

MiB = 1024 * 1024


def _bind(io: IOThread, sock: FakeSocket, addr: str) -> Any:
    return bind(io, sock, parse_endpoint(addr, bind=True), sock.options.snapshot())


def _connect(io: IOThread, sock: FakeSocket, addr: str) -> tuple[Any, Pipe | None]:
    return connect(io, sock, parse_endpoint(addr, bind=False), sock.options.snapshot())


@pytest.mark.parametrize("transport", ["tcp", "ipc"])
def test_bind_pyzmq_push_connects(io: IOThread, zmq_ctx: Any, transport: str) -> None:
    sock = FakeSocket(SocketType.PULL)
    bound = _bind(io, sock, "tcp://127.0.0.1:*" if transport == "tcp" else "ipc://*")
    assert bound.last_endpoint.startswith(f"{transport}://")
    push = zmq_ctx.socket(zmq.PUSH)
    push.connect(bound.last_endpoint)
    messages = [[b"hello"], [b"a", b"", b"c"], [b""], [b"x" * MiB, b"tail"]]
    for msg in messages:
        push.send_multipart(msg)
    pipe = sock.wait_pipe()
    assert pipe.metadata["Socket-Type"] == b"PUSH"
    assert "Peer-Address" in pipe.metadata
    got = [sock.recv(pipe) for _ in messages]
    assert got == messages
    push.close(0)
    bound.close(0)


@pytest.mark.parametrize("transport", ["tcp", "ipc"])
def test_connect_to_pyzmq_pull(io: IOThread, zmq_ctx: Any, transport: str) -> None:
    pull = zmq_ctx.socket(zmq.PULL)
    if transport == "tcp":
        port = pull.bind_to_random_port("tcp://127.0.0.1")
        addr = f"tcp://127.0.0.1:{port}"
    else:
        pull.bind("ipc://*")
        addr = pull.getsockopt_string(zmq.LAST_ENDPOINT)
    sock = FakeSocket(SocketType.PUSH)
    endpoint, pipe = _connect(io, sock, addr)
    assert pipe is not None
    messages = [[b"%d" % i] for i in range(2000)]
    messages += [[b"m1", b"", b"m3"], [b""], [b"y" * MiB], [b"z" * MiB, b"", b"z" * 3]]
    for msg in messages:
        sock.send(pipe, msg)
    pull.RCVTIMEO = 10_000
    got = [pull.recv_multipart() for _ in messages]
    assert got == messages
    sock.wait_until(lambda: sock.updates, what="update_pipe")
    upd_pipe, rid, md = sock.updates[0]
    assert upd_pipe is pipe and rid == b"" and md["Socket-Type"] == b"PULL"
    endpoint.close(0)
    pull.close(0)


def test_connect_before_bind_queues(io: IOThread, zmq_ctx: Any) -> None:
    port = free_port()
    addr = f"tcp://127.0.0.1:{port}"
    sock = FakeSocket(SocketType.PUSH, reconnect_ivl=20)
    endpoint, pipe = _connect(io, sock, addr)
    assert pipe is not None
    for i in range(10):
        sock.send(pipe, [b"early %d" % i])
    sock.wait_event(Event.CONNECT_RETRIED)
    pull = zmq_ctx.socket(zmq.PULL)
    pull.RCVTIMEO = 10_000
    pull.bind(addr)
    assert [pull.recv() for _ in range(10)] == [b"early %d" % i for i in range(10)]
    endpoint.close(0)


def test_reconnect_after_peer_rebinds(io: IOThread, zmq_ctx: Any) -> None:
    pull = zmq_ctx.socket(zmq.PULL)
    port = pull.bind_to_random_port("tcp://127.0.0.1")
    addr = f"tcp://127.0.0.1:{port}"
    sock = FakeSocket(SocketType.PUSH, reconnect_ivl=20)
    endpoint, pipe = _connect(io, sock, addr)
    assert pipe is not None
    pull.RCVTIMEO = 10_000
    sock.send(pipe, [b"one"])
    assert pull.recv() == b"one"
    pull.close(0)
    sock.wait_event(Event.DISCONNECTED)
    sock.wait_event(Event.CONNECT_RETRIED)
    pull2 = zmq_ctx.socket(zmq.PULL)
    pull2.RCVTIMEO = 10_000
    pull2.bind(addr)
    sock.send(pipe, [b"two"])
    sock.send(pipe, [b"three"])
    assert pull2.recv() == b"two"
    assert pull2.recv() == b"three"
    sock.wait_until(lambda: len(sock.updates) == 2, what="second handshake")
    assert sock.updates[1][0] is pipe
    endpoint.close(0)


def test_subscriptions_both_ways(io: IOThread, zmq_ctx: Any) -> None:
    from zloop.pipe import SubscriptionMsg

    # zloop XSUB connects to a libzmq XPUB: a SubscriptionMsg becomes a SUBSCRIBE.
    xpub = zmq_ctx.socket(zmq.XPUB)
    xpub.RCVTIMEO = 10_000
    port = xpub.bind_to_random_port("tcp://127.0.0.1")
    sub = FakeSocket(SocketType.XSUB)
    endpoint, pipe = _connect(io, sub, f"tcp://127.0.0.1:{port}")
    assert pipe is not None
    sub.wait_until(lambda: pipe.write(SubscriptionMsg(True, b"topic")))
    pipe.flush()
    assert xpub.recv() == b"\x01topic"
    xpub.send_multipart([b"topic", b"data"])
    assert sub.recv(pipe) == [b"topic", b"data"]
    sub.wait_until(lambda: pipe.write(SubscriptionMsg(False, b"topic")))
    pipe.flush()
    assert xpub.recv() == b"\x00topic"
    endpoint.close(0)

    # A libzmq SUB connects to zloop's bound XPUB: its subscription arrives as b"\x01topic".
    pub = FakeSocket(SocketType.XPUB)
    bound = _bind(io, pub, "tcp://127.0.0.1:*")
    zsub = zmq_ctx.socket(zmq.SUB)
    zsub.subscribe(b"abc")
    zsub.connect(bound.last_endpoint)
    ppipe = pub.wait_pipe()
    assert pub.recv(ppipe) == [b"\x01abc"]
    bound.close(0)


def test_null_with_zap_domain_and_no_handler_proceeds(io: IOThread, zmq_ctx: Any) -> None:
    sock = FakeSocket(SocketType.PULL, zap_domain=b"global")
    bound = _bind(io, sock, "tcp://127.0.0.1:*")
    push = zmq_ctx.socket(zmq.PUSH)
    push.connect(bound.last_endpoint)
    push.send(b"unauthenticated but allowed")
    assert sock.recv(sock.wait_pipe()) == [b"unauthenticated but allowed"]
    push.close(0)
    bound.close(0)
