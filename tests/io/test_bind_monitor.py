"""Bind errors, ipc files, IPv6, and the monitor event sequences (compared with libzmq's own)."""

from __future__ import annotations

import errno
import os
import socket
from typing import Any

import pytest
import zmq
import zmq.utils.monitor
from l3_helpers import FakeSocket, free_port, subsequence

from zloop.constants import Event, SocketType
from zloop.errors import ZMQError
from zloop.io.endpoint import parse_endpoint
from zloop.io.reactor import IOThread
from zloop.io.transport import bind, connect


def _bind(io: IOThread, sock: FakeSocket, addr: str) -> Any:
    return bind(io, sock, parse_endpoint(addr, bind=True), sock.options.snapshot())


def test_tcp_address_in_use(io: IOThread) -> None:
    sock = FakeSocket()
    first = _bind(io, sock, "tcp://127.0.0.1:*")
    with pytest.raises(ZMQError) as info:
        _bind(io, sock, first.last_endpoint)
    assert info.value.errno == errno.EADDRINUSE
    assert sock.events_of(Event.BIND_FAILED)[0][1] == errno.EADDRINUSE
    first.close(0)
    again = _bind(io, sock, first.last_endpoint)  # unbind released the port at once
    again.close(0)


def test_wildcard_last_endpoint(io: IOThread) -> None:
    sock = FakeSocket()
    v4 = _bind(io, sock, "tcp://*:*")
    assert v4.last_endpoint.startswith("tcp://0.0.0.0:")
    v4.close(0)
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    sock6 = FakeSocket(ipv6=True)
    v6 = _bind(io, sock6, "tcp://*:*")
    assert v6.last_endpoint.startswith("tcp://[::]:")
    port = int(v6.last_endpoint.rsplit(":", 1)[1])
    # dual stack: an IPv4 client reaches the "::" listener
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        sock6.wait_event(Event.ACCEPTED)
    v6.close(0)


def test_ipc_files(io: IOThread, tmp_path: Any) -> None:
    sock = FakeSocket()
    path = str(tmp_path / "s.ipc")
    # A stale socket file (nothing listening) is replaced.
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(path)
    stale.close()
    bound = _bind(io, sock, f"ipc://{path}")
    assert bound.last_endpoint == f"ipc://{path}"
    # A live listener is not stolen.
    with pytest.raises(ZMQError) as info:
        _bind(io, sock, f"ipc://{path}")
    assert info.value.errno == errno.EADDRINUSE
    bound.close(0)
    assert not os.path.exists(path)
    wild = _bind(io, sock, "ipc://*")
    wild_path = wild.last_endpoint[len("ipc://") :]
    assert os.path.exists(wild_path)
    wild.close(0)
    assert not os.path.exists(os.path.dirname(wild_path))


@pytest.mark.interop
def test_ipc_abstract(io: IOThread, zmq_ctx: Any) -> None:
    sock = FakeSocket()
    name = f"ipc://@zloop-test-{os.getpid()}"
    bound = _bind(io, sock, name)
    assert bound.last_endpoint == name
    push = zmq_ctx.socket(zmq.PUSH)
    push.connect(name)
    push.send(b"abstract")
    assert sock.recv(sock.wait_pipe()) == [b"abstract"]
    push.close(0)
    bound.close(0)


def _libzmq_events(mon: Any) -> list[str]:
    names = []
    while mon.poll(50):
        names.append(zmq.utils.monitor.recv_monitor_message(mon)["event"].name)
    return names


@pytest.mark.interop
def test_monitor_sequence_bind_side(io: IOThread, zmq_ctx: Any) -> None:
    sock = FakeSocket()
    bound = _bind(io, sock, "tcp://127.0.0.1:*")
    push = zmq_ctx.socket(zmq.PUSH)
    push.connect(bound.last_endpoint)
    sock.wait_event(Event.HANDSHAKE_SUCCEEDED)
    push.close(0)
    sock.wait_event(Event.DISCONNECTED)
    bound.close(0)
    sock.wait_event(Event.CLOSED)
    expected = ["LISTENING", "ACCEPTED", "HANDSHAKE_SUCCEEDED", "DISCONNECTED", "CLOSED"]
    assert sock.event_names() == expected
    assert all(ep == bound.last_endpoint for _, _, ep in sock.events)
    # libzmq does exactly the same.
    pull = zmq_ctx.socket(zmq.PULL)
    mon = pull.get_monitor_socket()
    pull.bind("tcp://127.0.0.1:*")
    endpoint = pull.LAST_ENDPOINT.decode()
    push = zmq_ctx.socket(zmq.PUSH)
    push.connect(endpoint)
    push.send(b"x")
    pull.recv()
    push.close(0)
    names = _libzmq_events(mon)
    pull.unbind(endpoint)
    names += _libzmq_events(mon)
    assert names == expected


@pytest.mark.interop
def test_monitor_sequence_connect_side(io: IOThread, zmq_ctx: Any) -> None:
    addr = f"tcp://127.0.0.1:{free_port()}"
    sock = FakeSocket(SocketType.PUSH, reconnect_ivl=20)
    endpoint, _ = connect(io, sock, parse_endpoint(addr, bind=False), sock.options.snapshot())
    sock.wait_event(Event.CONNECT_RETRIED)
    pull = zmq_ctx.socket(zmq.PULL)
    pull.bind(addr)
    sock.wait_event(Event.HANDSHAKE_SUCCEEDED)
    pull.close(0)
    retried = len(sock.events_of(Event.CONNECT_RETRIED))
    sock.wait_event(Event.CONNECT_RETRIED, retried + 1)
    endpoint.close(0)
    names = sock.event_names()
    first = names[:3]
    assert first in (
        ["CONNECT_DELAYED", "CLOSED", "CONNECT_RETRIED"],  # as libzmq reports it
        ["CLOSED", "CONNECT_RETRIED", "CONNECT_DELAYED"],  # kernel refused synchronously
    )
    assert subsequence(
        ["CONNECTED", "HANDSHAKE_SUCCEEDED", "DISCONNECTED", "CONNECT_RETRIED"], names
    )
    retried_values = [v for _, v, _ in sock.events_of(Event.CONNECT_RETRIED)]
    assert all(20 <= v < 40 for v in retried_values)  # ivl + jitter in [0, ivl)
    assert all(ep == addr for _, _, ep in sock.events)


def test_reconnect_backoff_doubles_to_max(io: IOThread) -> None:
    addr = f"tcp://127.0.0.1:{free_port()}"
    sock = FakeSocket(SocketType.PUSH, reconnect_ivl=10, reconnect_ivl_max=40)
    endpoint, _ = connect(io, sock, parse_endpoint(addr, bind=False), sock.options.snapshot())
    sock.wait_event(Event.CONNECT_RETRIED, 5)
    values = [v for _, v, _ in sock.events_of(Event.CONNECT_RETRIED)][:5]
    assert values == [10, 20, 40, 40, 40]
    endpoint.close(0)


def test_no_reconnect_when_ivl_negative(io: IOThread) -> None:
    addr = f"tcp://127.0.0.1:{free_port()}"
    sock = FakeSocket(SocketType.PUSH, reconnect_ivl=-1)
    endpoint, _ = connect(io, sock, parse_endpoint(addr, bind=False), sock.options.snapshot())
    sock.wait_event(Event.CLOSED)
    probe = FakeSocket()
    # Give the connecter a chance to misbehave: a second connect cycle on the same thread.
    e2, _ = connect(io, probe, parse_endpoint(addr, bind=False), probe.options.snapshot())
    probe.wait_event(Event.CLOSED)
    e2.close(0)
    assert not sock.events_of(Event.CONNECT_RETRIED)
    endpoint.close(0)
