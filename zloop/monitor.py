"""Socket monitors: a socket's events published as libzmq's two-frame monitor messages.

``sock.monitor("inproc://name", events)`` binds an inproc PAIR socket at ``name``; every event of
``sock`` whose bit is in ``events`` is sent on it as libzmq's version-1 message:

* frame 1: 6 bytes, the event number (uint16) then its value (uint32), in native byte order as
  libzmq writes them (little-endian on every platform zloop runs on);
* frame 2: the endpoint the event is about (empty for MONITOR_STOPPED).

The value is the fd (LISTENING, ACCEPTED, CONNECTED, CLOSED, DISCONNECTED), an errno
(BIND_FAILED, ACCEPT_FAILED, CONNECT_DELAYED, HANDSHAKE_FAILED_NO_DETAIL), the retry interval in
ms (CONNECT_RETRIED), a ``ProtocolErrorCode`` (HANDSHAKE_FAILED_PROTOCOL), a ZAP status
(HANDSHAKE_FAILED_AUTH) or 0.

Threads: events come from the I/O thread (accepts, connects, handshakes, disconnects) and from the
monitored socket's own thread (LISTENING / BIND_FAILED in ``bind``, MONITOR_STOPPED), so every send
on the publisher is made under one lock, as libzmq does with its monitor mutex.

Order at close: libzmq sends MONITOR_STOPPED when the socket object is destroyed, after its
endpoints terminated -- so the CLOSED of a connect in progress, and any event of a session that
lingers, come first. ``Socket.close`` does the same without waiting: it stops the monitor itself
only if no connecter, listener or engine of the socket is left (``Socket.event_source``);
otherwise the I/O thread stops it when the last one ends, possibly a LINGER later.

Never blocking: libzmq 4.3 sends monitor messages with a blocking ``zmq_msg_send``, so a monitor
nobody reads (or whose reader closed without ``disable_monitor()``) can hang libzmq's I/O thread
(libzmq issues #2829, #3575). Here every send is ``NOBLOCK``: when the reader's queue is full (or
no reader is connected yet) the event is dropped and counted in :attr:`Monitor.dropped`. A message
is sent whole or not at all.
"""

from __future__ import annotations

import struct
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, TypedDict, overload

from zloop import _real
from zloop.constants import Errno, Event, Flag, SocketOption, SocketType
from zloop.errors import ZMQError

if TYPE_CHECKING:
    from zloop.context import Context
    from zloop.socket import Socket

_HEADER = struct.Struct("=HI")  # libzmq memcpy's a uint16 then a uint32: native order, packed
_NOBLOCK = int(Flag.NOBLOCK)


class MonitorMessage(TypedDict):
    """A decoded monitor message, as pyzmq's ``parse_monitor_message`` returns it."""

    event: Event | int
    value: int
    endpoint: bytes


def check_monitor_args(addr: str, events: int) -> None:
    """Validate ``Socket.monitor`` arguments the way ``zmq_socket_monitor`` does (version 1)."""
    if isinstance(events, bool) or not isinstance(events, int):
        raise TypeError(f"events must be an int bit mask, not {type(events).__name__}")
    if events < 0 or events >> 16:
        raise ZMQError(Errno.EINVAL, f"monitor events {events:#x}: only the low 16 bits exist")
    scheme, sep, name = addr.partition("://")
    if not sep:
        raise ZMQError(Errno.EINVAL, f"invalid monitor endpoint {addr!r}")
    if scheme != "inproc":
        raise ZMQError(
            Errno.EPROTONOSUPPORT, f"a monitor endpoint must be inproc://, not {scheme}://"
        )
    if not name:
        raise ZMQError(Errno.EINVAL, f"invalid monitor endpoint {addr!r}: inproc:// needs a name")


class Monitor:
    """The publishing side of one socket's monitor: call it with ``(event, value, endpoint)``.

    Thread-safe. Created by :meth:`zloop.Socket.monitor`; the socket keeps it as its event hook.
    """

    def __init__(self, context: Context, addr: str, events: int) -> None:
        check_monitor_args(addr, events)
        self.addr = addr
        self.events = events
        #: Events that could not be published (reader absent, slow or gone).
        self.dropped = 0
        self._lock = _real.Lock()
        sock = context.socket(SocketType.PAIR)
        try:
            sock.setsockopt(SocketOption.LINGER, 0)  # never hold up context termination
            sock.bind(addr)
        except BaseException:
            sock.close(linger=0)
            raise
        self._sock: Socket | None = sock

    def __repr__(self) -> str:
        return f"<zloop.Monitor {self.addr} events={self.events:#06x}>"

    @property
    def active(self) -> bool:
        return self._sock is not None

    def __call__(self, event: int, value: int, endpoint: str) -> None:
        """Publish one event if its bit was asked for; drop it rather than block."""
        if not event & self.events:
            return
        self._publish(int(event), value, endpoint)

    def _publish(self, event: int, value: int, endpoint: str) -> None:
        frames = [_HEADER.pack(event, value & 0xFFFFFFFF), endpoint.encode("utf-8", "replace")]
        with self._lock:
            sock = self._sock
            if sock is None:
                return
            try:
                sock.send_multipart(frames, _NOBLOCK)
            except (ZMQError, OSError, ValueError):
                # Again (reader slow or absent), ContextTerminated, or the publisher closed under
                # us by ``Context.destroy``: an event is never worth an exception in the I/O thread.
                self.dropped += 1

    def stop(self, send_stopped: bool = True) -> None:
        """Publish MONITOR_STOPPED (if asked for in ``events``) and close the publisher."""
        with self._lock:
            sock = self._sock
            if sock is None:
                return
            if send_stopped and self.events & Event.MONITOR_STOPPED:
                header = _HEADER.pack(int(Event.MONITOR_STOPPED), 0)
                try:
                    sock.send_multipart([header, b""], _NOBLOCK)
                except (ZMQError, OSError, ValueError):
                    self.dropped += 1
            # Forgotten only once closed: a stop cut short by an exception (a KeyboardInterrupt
            # in the close of the monitored socket) is finished by the next stop (that close's
            # retry), else the publisher would stay open and Context.term wait for it.
            sock.close(linger=0)
            self._sock = None


def parse_monitor_message(msg: list[Any]) -> MonitorMessage:
    """Decode a two-frame monitor message (``recv_multipart()`` of a monitor socket).

    The keys of pyzmq's ``zmq.utils.monitor.parse_monitor_message``: ``event`` (an
    :class:`~zloop.Event` when known), ``value`` (a plain unsigned int; pyzmq wraps it in
    ``zmq.Event`` too) and ``endpoint`` (bytes).
    """
    if len(msg) != 2 or len(msg[0]) != _HEADER.size:
        raise RuntimeError("Invalid event message format: expected 2 frames, the first of 6 bytes")
    number, value = _HEADER.unpack(bytes(msg[0]))
    event: Event | int
    try:
        event = Event(number)
    except ValueError:
        event = number
    return {"event": event, "value": value, "endpoint": bytes(msg[1])}


@overload
def recv_monitor_message(sock: Socket, flags: int = 0) -> MonitorMessage: ...
@overload
def recv_monitor_message(
    sock: Any, flags: int = 0
) -> MonitorMessage | Awaitable[MonitorMessage]: ...
def recv_monitor_message(sock: Any, flags: int = 0) -> MonitorMessage | Awaitable[MonitorMessage]:
    """Receive and decode one monitor message from ``sock`` (pyzmq's helper of the same name).

    On a blocking socket the decoded message; on an awaitable one (``zloop.adapters.asyncio``'s,
    trio's, ``zmq.asyncio``'s) an awaitable of it: with asyncio a Future registered at the call,
    that is the socket's ``recv_serialized`` (one receive that decodes, so cancelling it never
    drops an event)."""
    recv_serialized = getattr(sock, "recv_serialized", None)
    if recv_serialized is not None:
        result: MonitorMessage | Awaitable[MonitorMessage] = recv_serialized(
            parse_monitor_message, flags
        )
        return result
    return parse_monitor_message(sock.recv_multipart(flags))


__all__ = [
    "Monitor",
    "MonitorMessage",
    "check_monitor_args",
    "parse_monitor_message",
    "recv_monitor_message",
]
