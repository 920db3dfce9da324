"""Run one sans-I/O ``zloop.protocol.Connection`` over a real OS socket, by hand, for interop tests.

Theory of operation
-------------------
A :class:`Wire` owns one connected, non-blocking stream socket (TCP or AF_UNIX) and one
``Connection``. Each *step* writes whatever the connection has queued, waits (in a selector, bounded
by a deadline) until the socket is readable or writable, feeds what it read to the connection
(``b""`` on EOF) and collects every event the connection produced. Tests never sleep: they say what
they are waiting for (an event type, a predicate, EOF) and the wire steps until it holds or the
deadline passes, which fails the test with the events seen so far.

Everything that crosses the socket is kept (``sent`` and ``received``) so a test can also assert on
the raw bytes, e.g. that the empty REQ delimiter frame really is on the wire.

Raw byte builders for playing a hand-written peer live in ``zmtp_raw``.
"""

from __future__ import annotations

import selectors
import socket
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import zmq
from zmtp_raw import DEFAULT_TIMEOUT

from zloop.protocol import (
    Connection,
    ConnectionClosed,
    HandshakeComplete,
    Message,
    PeerError,
    Ping,
    Pong,
    ProtocolError,
)

_READ_CHUNK = 256 * 1024
_TERMINAL = (ConnectionClosed, PeerError, ProtocolError)

EventT = TypeVar("EventT")


class WireTimeout(AssertionError):
    """The awaited condition did not hold before the deadline."""


class Wire:
    """One ``Connection`` driven over one socket; see the module docstring."""

    def __init__(
        self,
        sock: socket.socket,
        conn: Connection,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        zsockets: Sequence[Any] = (),
    ):
        sock.setblocking(False)
        self.sock = sock
        self.conn = conn
        self.timeout = timeout
        self.pending: deque[object] = deque()  # produced, not yet taken by the test
        self.seen: list[object] = []  # every event, in order
        self.sent = bytearray()  # every byte written to the socket
        self.received = bytearray()  # every byte read from the socket
        self.eof = False  # the peer closed (or reset) the socket
        self.write_error: OSError | None = None
        self.terminal: object | None = None  # the ConnectionClosed/ProtocolError/PeerError seen
        self._out = bytearray()
        self._sel = selectors.DefaultSelector()
        self._sel.register(sock, selectors.EVENT_READ)
        # A libzmq socket only attaches new pipes, sends subscriptions, etc. when its application
        # thread processes commands. While we wait, we watch each pyzmq socket's (edge-triggered)
        # FD and read its EVENTS on every step, which makes it process them.
        self.zsockets = list(zsockets)
        for zsock in self.zsockets:
            self._sel.register(zsock.getsockopt(zmq.FD), selectors.EVENT_READ, zsock)
        self._collect()

    # -- plumbing ---------------------------------------------------------------------------------

    def close(self) -> None:
        self._sel.close()
        self.sock.close()

    def _collect(self) -> None:
        conn = self.conn
        self._out += conn.data_to_send()
        if self.terminal is None:
            for event in conn.events():
                self.pending.append(event)
                self.seen.append(event)
                if isinstance(event, _TERMINAL):
                    # The connection repeats its terminal event forever; take it once.
                    self.terminal = event
                    break
            self._out += conn.data_to_send()
        if self.write_error is not None:
            self._out.clear()

    def _step(self, deadline: float) -> None:
        """Write what is queued, read what arrived; wait at most until ``deadline``."""
        self._poke()
        self._collect()
        mask = 0
        if not self.eof:
            mask |= selectors.EVENT_READ
        if self._out:
            mask |= selectors.EVENT_WRITE
        if mask == 0:
            raise WireTimeout(f"nothing can happen any more (peer closed); events: {self.seen!r}")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise WireTimeout(f"deadline passed; events so far: {self.seen!r}")
        self._sel.modify(self.sock, mask)
        for key, ready in self._sel.select(remaining):
            if key.data is not None:
                continue  # a pyzmq FD: _poke() below lets that socket process its commands
            if ready & selectors.EVENT_WRITE:
                self._write()
            if ready & selectors.EVENT_READ:
                self._read()
        self._poke()
        self._collect()

    def _poke(self) -> None:
        for zsock in self.zsockets:
            zsock.getsockopt(zmq.EVENTS)

    def _write(self) -> None:
        try:
            n = self.sock.send(self._out)
        except BlockingIOError:
            return
        except OSError as exc:  # the peer is gone: keep reading to see its EOF
            self.write_error = exc
            self._out.clear()
            return
        self.sent += self._out[:n]
        del self._out[:n]

    def _read(self) -> None:
        try:
            data = self.sock.recv(_READ_CHUNK)
        except BlockingIOError:
            return
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
        self.received += data
        self.conn.receive_data(data)

    # -- what tests call --------------------------------------------------------------------------

    def wait_until(self, predicate: Callable[[], bool], timeout: float | None = None) -> None:
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        self._collect()
        while not predicate():
            self._step(deadline)

    def flush(self, timeout: float | None = None) -> None:
        """Step until everything the connection queued is in the kernel (or the peer is gone)."""
        self.wait_until(lambda: not self._out or self.eof, timeout)

    def wait_for(
        self,
        kind: type[EventT],
        timeout: float | None = None,
        *,
        ignore: tuple[type, ...] = (Ping, Pong),
    ) -> EventT:
        """Step until an event of type ``kind`` is produced and return it.

        Events of the ``ignore`` types before it are dropped; any other event first is a failure.
        """
        found: list[EventT] = []

        def arrived() -> bool:
            while self.pending:
                event = self.pending.popleft()
                if isinstance(event, kind):
                    found.append(event)
                    return True
                if not isinstance(event, ignore):
                    raise AssertionError(f"expected {kind.__name__}, got {event!r}")
            return False

        self.wait_until(arrived, timeout)
        return found[0]

    def handshake(self, timeout: float | None = None) -> HandshakeComplete:
        event = self.wait_for(HandshakeComplete, timeout)
        self.flush(timeout)  # our READY must be out so libzmq completes too
        return event

    def send(self, frames: Sequence[bytes]) -> None:
        self.conn.send_message(frames)
        self.flush()

    def recv(self, timeout: float | None = None) -> list[bytes]:
        return [bytes(f) for f in self.wait_for(Message, timeout).frames]

    def poll_message(self, timeout: float) -> list[bytes] | None:
        """A message if one arrives within ``timeout`` seconds, else None (a bounded poll)."""
        try:
            return self.recv(timeout)
        except WireTimeout:
            return None

    def wait_eof(self, timeout: float | None = None) -> None:
        """Step until the peer closed the socket."""
        self.wait_until(lambda: self.eof, timeout)


# -- checks shared by the test modules -----------------------------------------------------------


def libzmq_identity_metadata(zmq_type: int, routing_id: bytes) -> dict[str, bytes]:
    """The properties a libzmq socket sends in its READY (docs/wire.md §3)."""
    names: dict[int, bytes] = {
        zmq.DEALER: b"DEALER",
        zmq.ROUTER: b"ROUTER",
        zmq.REQ: b"REQ",
        zmq.REP: b"REP",
        zmq.PUB: b"PUB",
        zmq.XPUB: b"XPUB",
        zmq.SUB: b"SUB",
        zmq.PUSH: b"PUSH",
        zmq.PULL: b"PULL",
        zmq.PAIR: b"PAIR",
    }
    meta = {"Socket-Type": names[zmq_type]}
    if zmq_type in (zmq.REQ, zmq.DEALER, zmq.ROUTER):
        meta["Identity"] = routing_id
    return meta


def check_handshake(wire: Wire, zmq_type: int, routing_id: bytes = b"") -> None:
    """Wait for HandshakeComplete and check it describes the libzmq peer exactly."""
    event = wire.handshake()
    expected = libzmq_identity_metadata(zmq_type, routing_id)
    assert event.peer_socket_type == expected["Socket-Type"].decode()
    assert event.peer_version == (3, 1)
    assert event.peer_routing_id == (routing_id if "Identity" in expected else b"")
    # Socket-Type may or may not be kept in peer_metadata; Identity is there iff libzmq sent it.
    assert (
        event.peer_metadata.get("Socket-Type", expected["Socket-Type"]) == expected["Socket-Type"]
    )
    assert event.peer_metadata.get("Identity") == expected.get("Identity")
    conn: Any = wire.conn
    assert conn.handshake_complete
    assert conn.peer_version == (3, 1)
    assert conn.peer_socket_type == event.peer_socket_type
