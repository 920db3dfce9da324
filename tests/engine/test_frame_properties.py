"""Frame properties belong to the message, not to the pipe: a connect-side pipe outlives reconnects,
so messages of an earlier connection still queued when the next one is made keep their peer's
properties (``Frame.get``), as libzmq attaches them to each message."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from zl_testing import DEADLINE_MS, endpoint_for, monitor_events_until

import zloop
from zloop.constants import Event


def _server(ctx: zloop.Context, endpoint: str, generation: bytes, sock_type: int) -> Any:
    sock = ctx.socket(sock_type)
    sock.linger = -1  # everything sent reaches the wire before the close completes
    sock.setsockopt(zloop.METADATA, b"X-Generation:" + generation)
    sock.bind(endpoint)
    return sock


@pytest.mark.parametrize("transport", ["tcp", "ipc"])
@pytest.mark.parametrize("conflate", [False, True], ids=["queued", "conflate"])
def test_queued_messages_keep_their_connections_properties(
    ctx: zloop.Context, tmp_path: Path, transport: str, conflate: bool
) -> None:
    """With CONFLATE only the message read last is checked: a kept message read across a
    reconnect may show the newer connection's properties (see ``Pipe._advance_properties``)."""
    first = _server(ctx, endpoint_for(transport, tmp_path, "props"), b"1", zloop.PUSH)
    endpoint = first.last_endpoint.decode()
    receiver = ctx.socket(zloop.PULL)
    receiver.linger = 0
    receiver.reconnect_ivl = 10
    receiver.conflate = conflate
    monitor = receiver.get_monitor_socket()
    receiver.connect(endpoint)
    monitor_events_until(monitor, int(Event.HANDSHAKE_SUCCEEDED))
    for i in range(3):
        first.send(b"old-%d" % i)
    first.close()
    # The receiving engine reads everything before it sees the end of the stream: once it
    # reports the disconnection, the three messages are in the (unread) pipe.
    monitor_events_until(monitor, int(Event.DISCONNECTED))
    second = _server(ctx, endpoint, b"2", zloop.PUSH)
    monitor_events_until(monitor, int(Event.HANDSHAKE_SUCCEEDED))
    second.send(b"new")

    got: list[tuple[bytes, str]] = []
    while not got or got[-1][0] != b"new":
        assert receiver.poll(DEADLINE_MS), f"only {got} arrived"
        frame = receiver.recv(copy=False)
        got.append((frame.bytes, frame.get("X-Generation")))
    if conflate:
        assert got[-1] == (b"new", "2")
        assert {body for body, _ in got} <= {b"old-2", b"new"}  # conflated: at most the last old
    else:
        assert got == [(b"old-0", "1"), (b"old-1", "1"), (b"old-2", "1"), (b"new", "2")]
    second.close(0)
    monitor.close(0)


def test_reconnects_without_messages_do_not_pile_up(ctx: zloop.Context, tmp_path: Path) -> None:
    endpoint = endpoint_for("ipc", tmp_path, "flap")
    receiver = ctx.socket(zloop.PULL)
    receiver.linger = 0
    receiver.reconnect_ivl = 10
    monitor = receiver.get_monitor_socket()
    receiver.connect(endpoint)
    for generation in range(5):
        server = _server(ctx, endpoint, b"%d" % generation, zloop.PUSH)
        monitor_events_until(monitor, int(Event.HANDSHAKE_SUCCEEDED))
        if generation < 4:
            server.close(0)
            monitor_events_until(monitor, int(Event.DISCONNECTED))
    server.send(b"last")
    assert receiver.poll(DEADLINE_MS)
    frame = receiver.recv(copy=False)
    assert frame.get("X-Generation") == "4"
    pipe = receiver._pattern.pipes()[0]
    assert not pipe._epochs  # every publication without messages replaced the previous
    server.close(0)
    monitor.close(0)
