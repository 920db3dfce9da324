"""Socket monitors: libzmq's event sequences and two-frame messages, read by zloop and by pyzmq."""

from __future__ import annotations

import errno
import socket
import struct
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from zl_testing import DEADLINE, DEADLINE_MS

import zloop
from zloop.errors import ZMQError

pytestmark = pytest.mark.timeout(60)


def _next(mon: Any) -> dict[str, Any]:
    assert mon.poll(DEADLINE_MS), "no monitor event within the deadline"
    return zloop.parse_monitor_message(mon.recv_multipart())  # type: ignore[return-value]


def _until(mon: Any, last: int, count: int = 1) -> list[dict[str, Any]]:
    """Events up to and including the ``count``-th ``last`` event."""
    seen: list[dict[str, Any]] = []
    while True:
        event = _next(mon)
        seen.append(event)
        if event["event"] == last:
            count -= 1
            if not count:
                return seen


def _names(events: list[dict[str, Any]]) -> list[str]:
    return [zloop.Event(e["event"]).name or "" for e in events]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _bind_side(mod: Any, ctx: Any, endpoint: str) -> list[dict[str, Any]]:
    """Bind, accept one peer, handshake, peer leaves, unbind, stop: the monitor's events."""
    pull = ctx.socket(mod.PULL)
    mon = pull.get_monitor_socket()
    pull.bind(endpoint)
    bound = pull.last_endpoint.decode()
    push = ctx.socket(mod.PUSH)
    push.connect(bound)
    push.send(b"x")
    assert pull.poll(DEADLINE_MS)
    assert pull.recv() == b"x"
    events = _until(mon, mod.EVENT_HANDSHAKE_SUCCEEDED)
    push.close(linger=0)
    events += _until(mon, mod.EVENT_DISCONNECTED)
    pull.unbind(bound)
    events += _until(mon, mod.EVENT_CLOSED)
    pull.disable_monitor()
    events += _until(mon, mod.EVENT_MONITOR_STOPPED)
    for event in events[:-1]:
        assert event["endpoint"] == bound.encode()
    mon.close(linger=0)
    pull.close(linger=0)
    return events


BIND_SIDE = [
    "LISTENING",
    "ACCEPTED",
    "HANDSHAKE_SUCCEEDED",
    "DISCONNECTED",
    "CLOSED",
    "MONITOR_STOPPED",
]


@pytest.mark.parametrize("transport", ["tcp", "ipc"])
def test_bind_side_sequence(ctx: zloop.Context, tmp_path: Path, transport: str) -> None:
    endpoint = "tcp://127.0.0.1:*" if transport == "tcp" else f"ipc://{tmp_path / 'mon.ipc'}"
    events = _bind_side(zloop, ctx, endpoint)
    assert _names(events) == BIND_SIDE
    listening, accepted, handshake, disconnected, closed, stopped = events
    assert listening["value"] == closed["value"]  # the listening fd
    assert accepted["value"] == disconnected["value"]  # the connection's fd
    assert handshake["value"] == 0
    assert stopped["value"] == 0 and stopped["endpoint"] == b""


@pytest.mark.interop
def test_bind_side_sequence_is_libzmqs(ctx: zloop.Context, zctx: Any) -> None:
    import zmq

    assert _names(_bind_side(zmq, zctx, "tcp://127.0.0.1:*")) == BIND_SIDE


def _connect_side(mod: Any, ctx: Any) -> list[str]:
    """Connect, handshake, the peer goes away (reconnects follow), then close the socket."""
    pull = ctx.socket(mod.PULL)
    pull.bind("tcp://127.0.0.1:*")
    endpoint = pull.last_endpoint.decode()
    push = ctx.socket(mod.PUSH)
    push.setsockopt(mod.RECONNECT_IVL, 20)
    mon = push.get_monitor_socket(mod.EVENT_ALL & ~mod.EVENT_CONNECT_DELAYED)
    push.connect(endpoint)
    events = _until(mon, mod.EVENT_HANDSHAKE_SUCCEEDED)
    pull.close(linger=0)
    events += _until(mon, mod.EVENT_CONNECT_RETRIED, 2)
    push.close(linger=0)
    events += _until(mon, mod.EVENT_MONITOR_STOPPED)
    mon.close(linger=0)
    names = _names(events)
    assert all(e["endpoint"] == endpoint.encode() for e in events[:-1])
    # The refused reconnect attempts repeat (CLOSED, CONNECT_RETRIED) a timing-dependent number of
    # times; keep the shape: the first round, and what closing the socket adds.
    return names[:6] + names[-1:]


CONNECT_SIDE = [
    "CONNECTED",
    "HANDSHAKE_SUCCEEDED",
    "DISCONNECTED",
    "CONNECT_RETRIED",
    "CLOSED",
    "CONNECT_RETRIED",
    "MONITOR_STOPPED",
]


def test_connect_side_sequence(ctx: zloop.Context) -> None:
    assert _connect_side(zloop, ctx) == CONNECT_SIDE


@pytest.mark.interop
def test_connect_side_sequence_is_libzmqs(zctx: Any) -> None:
    import zmq

    assert _connect_side(zmq, zctx) == CONNECT_SIDE


def test_refused_peer(ctx: zloop.Context) -> None:
    endpoint = f"tcp://127.0.0.1:{_free_port()}"
    push = ctx.socket(zloop.PUSH)
    push.setsockopt(zloop.RECONNECT_IVL, 30)
    mon = push.get_monitor_socket()
    push.connect(endpoint)
    events = _until(mon, zloop.EVENT_CONNECT_RETRIED, 2)
    names = _names(events)
    # CONNECT_DELAYED when the kernel answers asynchronously (loopback usually does not wait).
    assert [n for n in names if n != "CONNECT_DELAYED"] == [
        "CLOSED",
        "CONNECT_RETRIED",
        "CLOSED",
        "CONNECT_RETRIED",
    ]
    delayed = [e for e in events if e["event"] == zloop.EVENT_CONNECT_DELAYED]
    assert all(e["value"] == errno.EINPROGRESS for e in delayed)
    retried = [e["value"] for e in events if e["event"] == zloop.EVENT_CONNECT_RETRIED]
    assert all(30 <= v < 60 for v in retried)  # RECONNECT_IVL plus jitter in [0, ivl)
    assert all(e["endpoint"] == endpoint.encode() for e in events)
    assert not [e for e in events if e["event"] == zloop.EVENT_CONNECTED]


def test_bind_failed(ctx: zloop.Context) -> None:
    first = ctx.socket(zloop.PULL)
    first.bind("tcp://127.0.0.1:*")
    endpoint = first.last_endpoint.decode()
    second = ctx.socket(zloop.PULL)
    mon = second.get_monitor_socket()
    with pytest.raises(ZMQError) as info:
        second.bind(endpoint)
    assert info.value.errno == errno.EADDRINUSE
    event = _next(mon)
    assert event["event"] == zloop.EVENT_BIND_FAILED
    assert event["value"] == errno.EADDRINUSE
    assert event["endpoint"] == endpoint.encode()


def _mechanism_mismatch(mod: Any, ctx: Any) -> list[tuple[str, int]]:
    """A raw peer greets with CURVE; the NULL socket refuses it during the handshake."""
    pull = ctx.socket(mod.PULL)
    mon = pull.get_monitor_socket()
    pull.bind("tcp://127.0.0.1:*")
    port = int(pull.last_endpoint.decode().rsplit(":", 1)[1])
    greeting = b"\xff" + b"\0" * 8 + b"\x7f" + b"\x03\x00" + b"CURVE".ljust(20, b"\0") + b"\0" * 32
    with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as raw:
        raw.sendall(greeting)
        events = _until(mon, mod.EVENT_DISCONNECTED)
    mon.close(linger=0)
    return [(zloop.Event(e["event"]).name or "", int(e["value"])) for e in events[1:]]


def test_handshake_failed_protocol(ctx: zloop.Context) -> None:
    events = _mechanism_mismatch(zloop, ctx)
    assert [name for name, _ in events] == ["ACCEPTED", "HANDSHAKE_FAILED_PROTOCOL", "DISCONNECTED"]
    assert events[1][1] == zloop.ProtocolErrorCode.ZMTP_MECHANISM_MISMATCH


@pytest.mark.interop
def test_handshake_failed_protocol_is_libzmqs(ctx: zloop.Context, zctx: Any) -> None:
    import zmq

    ours = _mechanism_mismatch(zloop, ctx)
    theirs = _mechanism_mismatch(zmq, zctx)
    assert [(n, v) for n, v in ours if n != "ACCEPTED" and n != "DISCONNECTED"] == [
        (n, v) for n, v in theirs if n != "ACCEPTED" and n != "DISCONNECTED"
    ]
    assert [n for n, _ in ours] == [n for n, _ in theirs]


def test_event_mask_filters(ctx: zloop.Context) -> None:
    pull = ctx.socket(zloop.PULL)
    mask = zloop.EVENT_ACCEPTED | zloop.EVENT_DISCONNECTED
    mon = pull.get_monitor_socket(mask)
    pull.bind("tcp://127.0.0.1:*")
    push = ctx.socket(zloop.PUSH)
    push.connect(pull.last_endpoint.decode())
    push.send(b"x")
    assert pull.recv() == b"x"
    push.close(linger=0)
    assert _names([_next(mon), _next(mon)]) == ["ACCEPTED", "DISCONNECTED"]
    pull.disable_monitor()  # MONITOR_STOPPED is not in the mask: nothing more is sent
    assert not mon.poll(50)


@pytest.mark.interop
def test_pyzmq_parses_zloop_monitor_messages(ctx: zloop.Context) -> None:
    from zmq.utils.monitor import parse_monitor_message

    pull = ctx.socket(zloop.PULL)
    mon = pull.get_monitor_socket()
    pull.bind("tcp://127.0.0.1:*")
    endpoint = pull.last_endpoint
    pull._core.event(zloop.EVENT_HANDSHAKE_FAILED_PROTOCOL, 0x11000002, endpoint.decode())
    pull.disable_monitor()
    for expected in (zloop.EVENT_LISTENING, zloop.EVENT_HANDSHAKE_FAILED_PROTOCOL):
        msg = mon.recv_multipart()
        assert len(msg) == 2 and len(msg[0]) == 6
        theirs = parse_monitor_message(msg)
        ours = zloop.parse_monitor_message(msg)
        assert theirs["event"] == ours["event"] == expected
        assert int(theirs["value"]) == ours["value"]
        assert theirs["endpoint"] == ours["endpoint"] == endpoint
    stopped = mon.recv_multipart()
    assert parse_monitor_message(stopped)["event"] == zloop.EVENT_MONITOR_STOPPED
    assert zloop.parse_monitor_message(stopped) == {
        "event": zloop.EVENT_MONITOR_STOPPED,
        "value": 0,
        "endpoint": b"",
    }


def test_wire_format_is_native_uint16_uint32() -> None:
    msg = [struct.pack("=HI", 0x0020, 0xDEADBEEF), b"tcp://x:1"]
    assert sys.byteorder == "little"  # libzmq memcpy's host-order integers; zloop does the same
    assert msg[0] == b"\x20\x00\xef\xbe\xad\xde"
    assert zloop.parse_monitor_message(msg)["value"] == 0xDEADBEEF
    with pytest.raises(RuntimeError):
        zloop.parse_monitor_message([b"\0" * 5, b""])


def test_monitor_arguments(ctx: zloop.Context) -> None:
    sock = ctx.socket(zloop.PAIR)
    with pytest.raises(ZMQError) as info:
        sock.monitor("tcp://127.0.0.1:5555")
    assert info.value.errno == errno.EPROTONOSUPPORT
    with pytest.raises(ZMQError) as info:
        sock.monitor("inproc://bad-events", 1 << 16)
    assert info.value.errno == zloop.EINVAL
    with pytest.raises(ZMQError) as info:
        sock.monitor("no-scheme")
    assert info.value.errno == zloop.EINVAL
    first = sock.get_monitor_socket()
    assert sock.get_monitor_socket() is first  # while open, the same reader
    assert sock.last_endpoint == b""
    sock.close()
    with pytest.raises(ZMQError):
        sock.monitor("inproc://after-close")


def test_default_address_taken_by_a_closed_sockets_monitor(ctx: zloop.Context) -> None:
    """A closed socket's monitor lives on while its connections linger, under the default name
    made from an FD the OS may already have given to a new socket: that socket still gets a
    monitor, under a suffixed name."""
    sock = ctx.socket(zloop.PULL)
    squatter = ctx.socket(zloop.PAIR)
    squatter.bind(f"inproc://monitor.s-{sock.FD}")
    reader = sock.get_monitor_socket()
    sock.bind("tcp://127.0.0.1:*")
    assert _next(reader)["event"] == zloop.EVENT_LISTENING
    squatter.close(0)
    reader.close(0)
    sock.close(0)


def test_default_address_and_replacement(ctx: zloop.Context) -> None:
    sock = ctx.socket(zloop.PULL)
    default = f"inproc://monitor.s-{sock.FD}"  # pyzmq's name for get_monitor_socket()
    sock.monitor("inproc://first")
    old = ctx.socket(zloop.PAIR)
    old.connect("inproc://first")
    reader = sock.get_monitor_socket()  # replaces the first monitor: its reader is told
    assert _next(old)["event"] == zloop.EVENT_MONITOR_STOPPED
    other = ctx.socket(zloop.PAIR)
    with pytest.raises(ZMQError) as info:  # the default name is taken by the new publisher
        other.bind(default)
    assert info.value.errno == zloop.EADDRINUSE
    sock.bind("tcp://127.0.0.1:*")
    assert _next(reader)["event"] == zloop.EVENT_LISTENING
    assert not old.poll(20)
    sock.monitor(None)
    assert _next(reader)["event"] == zloop.EVENT_MONITOR_STOPPED
    sock.unbind(sock.last_endpoint.decode())
    assert not reader.poll(20)
    other.bind(default)  # the publisher is gone, and its name with it


def test_close_reports_closed_then_monitor_stopped(ctx: zloop.Context) -> None:
    sock = ctx.socket(zloop.PULL)
    mon = sock.get_monitor_socket()
    sock.bind("tcp://127.0.0.1:*")
    sock.close()
    assert _names(_until(mon, zloop.EVENT_MONITOR_STOPPED)) == [
        "LISTENING",
        "CLOSED",
        "MONITOR_STOPPED",
    ]


def test_unread_monitor_never_blocks(ctx: zloop.Context) -> None:
    """A monitor whose reader never reads (or has gone) drops events; the socket keeps working."""
    sock = ctx.socket(zloop.PULL)
    lazy = sock.get_monitor_socket()
    count = 5000  # more than the monitor pipe holds (SNDHWM + RCVHWM = 2000)
    done = threading.Event()

    def flood() -> None:
        for i in range(count):
            sock._core.event(zloop.EVENT_ACCEPTED, i, "tcp://flood:1")
        done.set()

    thread = threading.Thread(target=flood)
    thread.start()
    assert done.wait(DEADLINE), "monitor send blocked on a full queue"
    thread.join()
    got = []
    while lazy.poll(0):
        got.append(zloop.parse_monitor_message(lazy.recv_multipart())["value"])
    assert 0 < len(got) < count
    assert got == list(range(len(got)))  # the first ones, whole and in order; the rest dropped
    # The reader closes without disable_monitor (hangs libzmq's I/O thread): zloop carries on.
    lazy.close(linger=0)
    sock.bind("tcp://127.0.0.1:*")
    push = ctx.socket(zloop.PUSH)
    push.connect(sock.last_endpoint.decode())
    push.send(b"still alive")
    assert sock.poll(DEADLINE_MS)
    assert sock.recv() == b"still alive"


def test_events_from_many_threads_stay_whole(ctx: zloop.Context) -> None:
    sock = ctx.socket(zloop.PAIR)
    sock.monitor("inproc://many-threads")
    reader = ctx.socket(zloop.PAIR)
    reader.setsockopt(zloop.RCVHWM, 0)  # unlimited: nothing may be dropped here
    reader.connect("inproc://many-threads")
    threads_n, per_thread = 4, 500
    start = threading.Barrier(threads_n)

    def emit(t: int) -> None:
        start.wait()
        for i in range(per_thread):
            sock._core.event(zloop.EVENT_CONNECTED, t * per_thread + i, f"tcp://thread-{t}:1")

    threads = [threading.Thread(target=emit, args=(t,)) for t in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    per: dict[int, list[int]] = {t: [] for t in range(threads_n)}
    deadline = time.monotonic() + DEADLINE
    while sum(map(len, per.values())) < threads_n * per_thread:
        assert time.monotonic() < deadline
        event = _next(reader)
        t = event["value"] // per_thread
        assert event["endpoint"] == f"tcp://thread-{t}:1".encode()  # frames never interleave
        per[t].append(event["value"] % per_thread)
    assert all(values == list(range(per_thread)) for values in per.values())


def test_context_term_with_monitor(ctx: zloop.Context) -> None:
    sock = ctx.socket(zloop.PULL)
    mon = sock.get_monitor_socket()
    sock.bind("tcp://127.0.0.1:*")
    assert _next(mon)["event"] == zloop.EVENT_LISTENING
    done = threading.Event()

    def term() -> None:
        ctx.term()
        done.set()

    thread = threading.Thread(target=term)
    thread.start()
    with pytest.raises(zloop.ContextTerminated):
        mon.poll(DEADLINE_MS)
    sock.close()
    mon.close()
    assert done.wait(DEADLINE), "term() waited for the monitor publisher"
    thread.join()
