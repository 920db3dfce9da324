"""Hand-written ZMTP bytes for playing a raw peer against libzmq.

Written from RFC 23/37 and docs/wire.md, deliberately independent of zloop, so a test can check zloop
and libzmq against a third opinion. Also blocking-socket helpers with deadlines (no sleeps).
"""

from __future__ import annotations

import select
import socket
import struct
import time
from collections.abc import Sequence
from typing import Any

import zmq

DEFAULT_TIMEOUT = 5.0


def greeting(
    *,
    major: int = 3,
    minor: int = 1,
    mechanism: bytes = b"NULL",
    as_server: int = 0,
    routing_id_len: int = 0,
) -> bytes:
    """A full 64-byte ZMTP 3.x greeting (RFC 23 §"Greeting"), padding as libzmq writes it."""
    signature = b"\xff" + struct.pack(">Q", routing_id_len + 1) + b"\x7f"
    return (
        signature
        + bytes([major, minor])
        + mechanism.ljust(20, b"\x00")
        + bytes([as_server])
        + bytes(31)
    )


def frame(
    body: bytes, *, more: bool = False, command: bool = False, long: bool | None = None
) -> bytes:
    """One ZMTP 3.x frame: flags, 1- or 8-byte size, body."""
    if long is None:
        long = len(body) > 255
    flags = (0x01 if more else 0) | (0x02 if long else 0) | (0x04 if command else 0)
    size = struct.pack(">Q", len(body)) if long else bytes([len(body)])
    return bytes([flags]) + size + body


def command(name: bytes, data: bytes = b"") -> bytes:
    return frame(bytes([len(name)]) + name + data, command=True)


def properties(props: Sequence[tuple[bytes, bytes]]) -> bytes:
    return b"".join(bytes([len(k)]) + k + struct.pack(">I", len(v)) + v for k, v in props)


def ready(socket_type: bytes, *extra: tuple[bytes, bytes]) -> bytes:
    return command(b"READY", properties([(b"Socket-Type", socket_type), *extra]))


def _wait_readable(sock: socket.socket, deadline: float, zsock: Any) -> bool:
    """Wait until ``sock`` is readable; meanwhile let ``zsock`` (a pyzmq socket) process its
    commands whenever its FD fires, so it attaches pipes and sends what it queued."""
    while True:
        if zsock is not None:
            zsock.getsockopt(zmq.EVENTS)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        fds = [sock] if zsock is None else [sock, zsock.getsockopt(zmq.FD)]
        readable, _, _ = select.select(fds, [], [], remaining)
        if sock in readable:
            return True


def recv_some(sock: socket.socket, *, zsock: Any = None, timeout: float = DEFAULT_TIMEOUT) -> bytes:
    """Whatever is available on a raw socket (b"" on EOF or reset), waiting for the first byte."""
    if not _wait_readable(sock, time.monotonic() + timeout, zsock):
        raise AssertionError("nothing arrived in time")
    try:
        return sock.recv(65536)
    except ConnectionResetError:
        return b""


def recv_exactly(
    sock: socket.socket, n: int, *, zsock: Any = None, timeout: float = DEFAULT_TIMEOUT
) -> bytes:
    """Read exactly ``n`` bytes from a raw socket, with a deadline."""
    deadline = time.monotonic() + timeout
    out = bytearray()
    while len(out) < n:
        if not _wait_readable(sock, deadline, zsock):
            raise AssertionError(f"only {len(out)} of {n} bytes arrived: {bytes(out).hex(' ')}")
        try:
            chunk = sock.recv(n - len(out))
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            raise AssertionError(
                f"peer closed after {len(out)} of {n} bytes: {bytes(out).hex(' ')}"
            )
        out += chunk
    return bytes(out)


def read_frame(
    sock: socket.socket,
    *,
    zsock: Any = None,
    timeout: float = DEFAULT_TIMEOUT,
    prefix: bytes = b"",
) -> tuple[int, bytes]:
    """One ZMTP 3.x frame from a raw socket: (flags, body). ``prefix``: bytes of it already read."""
    buf = bytearray(prefix)

    def need(n: int) -> None:
        if len(buf) < n:
            buf.extend(recv_exactly(sock, n - len(buf), zsock=zsock, timeout=timeout))

    need(2)
    head = 9 if buf[0] & 0x02 else 2
    need(head)
    size = struct.unpack(">Q", buf[1:9])[0] if head == 9 else buf[1]
    need(head + size)
    assert len(buf) == head + size, "prefix longer than one frame"
    return buf[0], bytes(buf[head:])


def read_until_closed(
    sock: socket.socket, *, zsock: Any = None, timeout: float = DEFAULT_TIMEOUT
) -> bytes:
    """Read everything until the peer closes (EOF or reset); fail if it does not in time."""
    deadline = time.monotonic() + timeout
    out = bytearray()
    while True:
        if not _wait_readable(sock, deadline, zsock):
            raise AssertionError(f"peer did not close; read {bytes(out).hex(' ')}")
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return bytes(out)
        if not chunk:
            return bytes(out)
        out += chunk


def nothing_pending(sock: socket.socket) -> bool:
    """True if no byte is buffered on ``sock`` right now (non-blocking peek, no waiting)."""
    timeout = sock.gettimeout()
    sock.setblocking(False)
    try:
        return not sock.recv(1, socket.MSG_PEEK)
    except BlockingIOError:
        return True
    finally:
        sock.settimeout(timeout)
