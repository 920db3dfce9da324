"""Monitor event sequences that must be libzmq's: each scenario runs on zloop and on libzmq 4.3.5.

1. ZMTP 1.0 / 2.0 peers. libzmq runs no security mechanism for them, and emits HANDSHAKE_SUCCEEDED
   (and starts heartbeats) only when a mechanism becomes ready (``mechanism_ready``). So a legacy
   peer never gets HANDSHAKE_SUCCEEDED, even after exchanging messages, and its connection's end
   is reported like a handshake that never finished: HANDSHAKE_FAILED_NO_DETAIL with the errno
   (EPIPE for a clean EOF) then DISCONNECTED, or DISCONNECTED alone for a protocol error (a
   malformed 1.0 frame, a legacy peer refused because a ZAP domain is set).
2. Closing a socket whose connect is in progress, or waiting to retry: libzmq emits the closing
   events of its endpoints (CLOSED of the half-open fd, also at the end of a linger) before
   MONITOR_STOPPED; close() itself returns at once.

The raw peers read whatever the server sends and end with a half-close, so each side's close is
orderly and the events do not depend on timing.
"""

from __future__ import annotations

import contextlib
import errno
import socket
import struct
import time
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
import zmq
from zl_testing import DEADLINE

import zloop

pytestmark = pytest.mark.interop

#: Events whose value is an fd: only their presence is compared across libraries.
FD_EVENTS = {"LISTENING", "ACCEPTED", "CONNECTED", "CLOSED", "DISCONNECTED"}
_HEADER = struct.Struct("=HI")


def _event(frames: list[bytes]) -> tuple[str, int | None]:
    number, value = _HEADER.unpack(frames[0])
    name = zmq.Event(number).name
    assert name is not None
    return name, (None if name in FD_EVENTS else value)


def _events_until(mon: Any, last: str, deadline: float = DEADLINE) -> list[tuple[str, int | None]]:
    """Monitor events up to and including the first ``last`` (fails on the deadline)."""
    events: list[tuple[str, int | None]] = []
    end = time.monotonic() + deadline
    while not events or events[-1][0] != last:
        remaining = end - time.monotonic()
        assert remaining > 0 and mon.poll(int(remaining * 1000)), f"no {last}; got {events}"
        events.append(_event(mon.recv_multipart()))
    return events


def _monitored(lib: ModuleType, context: Any, stype: int, **options: Any) -> tuple[Any, Any]:
    sock = context.socket(stype)
    sock.setsockopt(lib.LINGER, 0)
    for name, value in options.items():
        sock.setsockopt(getattr(lib, name), value)
    addr = f"inproc://parity-{id(sock)}"
    sock.monitor(addr, lib.EVENT_ALL)
    mon = context.socket(lib.PAIR)
    mon.setsockopt(lib.LINGER, 0)
    mon.connect(addr)
    return sock, mon


def _drain_until_closed(raw: socket.socket) -> bytes:
    """Read what the server sends until it closes (EOF or reset)."""
    got = b""
    raw.settimeout(DEADLINE)
    while True:
        try:
            data = raw.recv(4096)
        except ConnectionResetError:
            return got
        if not data:
            return got
        got += data


# -- 1. ZMTP 1.0 / 2.0 starts from a raw TCP peer ---------------------------------------------------

_NO_DETAIL_EPIPE = ("HANDSHAKE_FAILED_NO_DETAIL", errno.EPIPE)
_ACCEPT = [("LISTENING", None), ("ACCEPTED", None)]
_END = [("DISCONNECTED", None)]

# name: (bytes the raw peer sends before its half-close, events after ACCEPTED, messages delivered)
LEGACY: dict[str, tuple[bytes, list[tuple[str, int | None]], list[list[bytes]]]] = {
    # 0x01 first: unversioned 1.0; an empty identity with MORE, then 31 empty frames with MORE
    # (an unfinished message). Not a protocol error: the EOF ends it.
    "64-bytes-0x01": (b"\x01" * 64, [_NO_DETAIL_EPIPE], []),
    # A length octet 0 is a v1_decoder error: a protocol error, only DISCONNECTED.
    "64-bytes-0x00": (b"\x00" * 64, [], []),
    "first-byte-0x00": (b"\x00" + b"\x01" * 63, [], []),
    "identity-then-length-0": (b"\x01\x00" + bytes(10), [], []),
    "identity-then-length-2**64-1": (b"\x01\x00" + b"\xff" * 20, [], []),
    # The identity's flags are not validated (RFC 13): MORE on it changes nothing.
    "identity-with-more": (b"\x01\x01", [_NO_DETAIL_EPIPE], []),
    "identity-with-more-then-message": (b"\x01\x01\x02\x00x", [_NO_DETAIL_EPIPE], [[b"x"]]),
    # A working 1.0 peer: its message is delivered, still no HANDSHAKE_SUCCEEDED.
    "identity-then-message": (
        b"\x04\x00abc\x02\x00x\x03\x00yz",
        [_NO_DETAIL_EPIPE],
        [[b"x"], [b"yz"]],
    ),
    "one-byte-0x01": (b"\x01", [_NO_DETAIL_EPIPE], []),
    # Octet 9 with LSB 0 after 0xFF: unversioned 1.0 with a long length of 0 -> protocol error.
    "signature-lsb-0": (b"\xff" + bytes(8) + b"\x02" + bytes(4), [], []),
    # ZMTP 2.0 PUSH (type byte 8), empty identity, one message: no mechanism either.
    "zmtp-2.0-push": (
        b"\xff" + bytes(8) + b"\x7f" + b"\x01\x08" + b"\x00\x00" + b"\x00\x01m",
        [_NO_DETAIL_EPIPE],
        [[b"m"]],
    ),
}


def _legacy_run(
    lib: ModuleType, context: Any, payload: bytes, **options: Any
) -> tuple[list[tuple[str, int | None]], list[list[bytes]]]:
    sock, mon = _monitored(lib, context, lib.PULL, **options)
    sock.bind("tcp://127.0.0.1:*")
    port = int(sock.getsockopt(lib.LAST_ENDPOINT).decode().rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as raw:
        raw.sendall(payload)
        with contextlib.suppress(OSError):  # libzmq may have reset a protocol error already
            raw.shutdown(socket.SHUT_WR)
        _drain_until_closed(raw)
    events = _events_until(mon, "DISCONNECTED")
    messages = []
    while sock.poll(0 if messages else 100):
        messages.append(sock.recv_multipart(lib.NOBLOCK))
    return events, [[bytes(f) for f in m] for m in messages]


@pytest.mark.parametrize("case", list(LEGACY))
def test_legacy_peer_events_as_libzmq(case: str, ctx: zloop.Context, zctx: Any) -> None:
    payload, middle, delivered = LEGACY[case]
    expected = _ACCEPT + middle + _END
    theirs = _legacy_run(zmq, zctx, payload)
    assert theirs == (expected, delivered), "libzmq 4.3.5 reference changed"
    assert _legacy_run(zloop, ctx, payload) == (expected, delivered)


@pytest.mark.parametrize("case", ["64-bytes-0x01", "identity-then-message", "zmtp-2.0-push"])
def test_legacy_peer_refused_under_zap_domain(case: str, ctx: zloop.Context, zctx: Any) -> None:
    """With a ZAP domain, libzmq closes 1.0 / 2.0 peers as a protocol error: DISCONNECTED only."""
    payload = LEGACY[case][0]
    expected = (_ACCEPT + _END, [])
    assert _legacy_run(zmq, zctx, payload, ZAP_DOMAIN=b"parity") == expected
    assert _legacy_run(zloop, ctx, payload, ZAP_DOMAIN=b"parity") == expected


def _legacy_heartbeat_run(lib: ModuleType, context: Any) -> list[tuple[str, int | None]]:
    """A silent 1.0 peer and a tight heartbeat: nothing may time it out (no PING/PONG in 1.0)."""
    sock, mon = _monitored(
        lib, context, lib.PULL, HEARTBEAT_IVL=20, HEARTBEAT_TIMEOUT=40, HEARTBEAT_TTL=100
    )
    sock.bind("tcp://127.0.0.1:*")
    port = int(sock.getsockopt(lib.LAST_ENDPOINT).decode().rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as raw:
        raw.sendall(b"\x01\x00\x02\x00h")  # identity, one message
        assert sock.poll(int(DEADLINE * 1000))
        assert sock.recv() == b"h"
        # Ten heartbeat timeouts later the connection is still up on both libraries.
        events = _events_until(mon, "ACCEPTED")
        assert not mon.poll(400), f"unexpected event {_event(mon.recv_multipart())}"
        raw.shutdown(socket.SHUT_WR)
        _drain_until_closed(raw)
    return events + _events_until(mon, "DISCONNECTED")


def test_legacy_peer_has_no_heartbeat(ctx: zloop.Context, zctx: Any) -> None:
    expected = [*_ACCEPT, _NO_DETAIL_EPIPE, *_END]
    assert _legacy_heartbeat_run(zmq, zctx) == expected
    assert _legacy_heartbeat_run(zloop, ctx) == expected


# -- 2. close() while a connect is in progress or waiting to retry ----------------------------------


@contextlib.contextmanager
def _full_backlog() -> Iterator[int]:
    """A listener whose accept queue is full and never drained: new connects stay in progress
    (Linux drops their SYNs and the client retransmits for seconds)."""
    listener = socket.socket()
    fillers: list[socket.socket] = []
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        for _ in range(8):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
            fillers.append(filler)
        yield port
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


def _refused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _close_run(
    lib: ModuleType,
    context: Any,
    addr: str,
    wait_for: str,
    linger: int = 0,
    queued: bool = False,
    **options: Any,
) -> tuple[list[tuple[str, int | None]], list[tuple[str, int | None]]]:
    """Connect a PUSH, wait for ``wait_for``, close it: (events before, events after close)."""
    sock, mon = _monitored(lib, context, lib.PUSH, **options)
    sock.connect(addr)
    before = _events_until(mon, wait_for)
    if queued:
        sock.send(b"queued", lib.NOBLOCK)  # lingers: the session outlives close() by ``linger``
    sock.close(linger=linger)
    if queued and linger > 0:
        # close() did not wait for the linger: nothing was emitted yet.
        assert not mon.poll(0), f"{lib.__name__}: events before the linger ended"
    return before, _events_until(mon, "MONITOR_STOPPED")


@pytest.mark.parametrize("linger", [0, -1])
def test_close_mid_connect_reports_closed_before_stopped(
    linger: int, ctx: zloop.Context, zctx: Any
) -> None:
    with _full_backlog() as port:
        addr = f"tcp://127.0.0.1:{port}"
        expected = (
            [("CONNECT_DELAYED", errno.EINPROGRESS)],
            [("CLOSED", None), ("MONITOR_STOPPED", 0)],
        )
        assert _close_run(zmq, zctx, addr, "CONNECT_DELAYED", linger) == expected
        assert _close_run(zloop, ctx, addr, "CONNECT_DELAYED", linger) == expected


def test_close_mid_connect_with_linger_reports_closed_when_linger_ends(
    ctx: zloop.Context, zctx: Any
) -> None:
    """A queued message keeps the session (and its connect in progress) for LINGER ms after
    close(); CLOSED and MONITOR_STOPPED come when it ends."""
    with _full_backlog() as port:
        addr = f"tcp://127.0.0.1:{port}"
        expected = (
            [("CONNECT_DELAYED", errno.EINPROGRESS)],
            [("CLOSED", None), ("MONITOR_STOPPED", 0)],
        )
        for lib, context in ((zmq, zctx), (zloop, ctx)):
            assert _close_run(lib, context, addr, "CONNECT_DELAYED", 300, queued=True) == expected


@pytest.mark.parametrize("queued", [False, True])
def test_close_mid_retry(queued: bool, ctx: zloop.Context, zctx: Any) -> None:
    """Waiting to retry there is no fd: nothing but MONITOR_STOPPED (after the linger if any)."""
    addr = f"tcp://127.0.0.1:{_refused_port()}"
    linger = 300 if queued else 0
    for lib, context in ((zmq, zctx), (zloop, ctx)):
        before, after = _close_run(
            lib, context, addr, "CONNECT_RETRIED", linger, queued, RECONNECT_IVL=60_000
        )
        assert [name for name, _ in before] == ["CONNECT_DELAYED", "CLOSED", "CONNECT_RETRIED"]
        assert after == [("MONITOR_STOPPED", 0)], lib.__name__


def test_close_ipc_mid_retry(ctx: zloop.Context, zctx: Any, tmp_path: Any) -> None:
    addr = f"ipc://{tmp_path}/nobody.ipc"
    for lib, context in ((zmq, zctx), (zloop, ctx)):
        before, after = _close_run(lib, context, addr, "CONNECT_RETRIED", RECONNECT_IVL=60_000)
        assert [name for name, _ in before] == ["CLOSED", "CONNECT_RETRIED"], lib.__name__
        assert after == [("MONITOR_STOPPED", 0)], lib.__name__
