"""Devices: ``proxy`` and ``proxy_steerable``, with libzmq 4.3's ``zmq_proxy`` semantics.

A proxy shuttles whole messages between ``frontend`` and ``backend`` in both directions (one
direction when they are the same socket) until the context is terminated (``ContextTerminated``
is raised, as pyzmq raises for libzmq's ETERM) or, for the steerable proxy, until the control
socket says ``TERMINATE`` (the call returns 0).

How it runs: a level-triggered :func:`zloop.poll` loop. For each direction it waits for input on
the source; it then forwards a burst of up to 1000 messages (libzmq's burst size) received with
``NOBLOCK``. A message the destination cannot take (``Again``: its high-water mark is reached)
is kept aside, the direction then waits for ``POLLOUT`` on the destination instead of input on the
source, and the kept message goes first once there is room. So a full destination applies back
pressure on its source only, the other direction and the control socket keep being served, and
nothing received is ever lost. (libzmq blocks inside its burst instead.)

``capture``: gets a copy of every forwarded message, frame by frame as received, in both
directions; it is sent with a blocking send, as libzmq does, so a capture socket that cannot take
messages holds the proxy up.

Control commands (first frame of a message on ``control``):

* ``PAUSE`` — stop forwarding (messages queue in the sockets); ``RESUME`` — forward again;
* ``TERMINATE`` — return 0;
* ``STATISTICS`` — reply with 8 frames, each a native-order uint64: frontend frames received,
  bytes received, frames sent, bytes sent, then the same four for backend. Counts are of message
  frames (parts), as libzmq 4.3.5 counts them; bytes are frame payload sizes.

A REP control socket gets an empty reply to every other command (its REQ peer needs one), as
libzmq does since its steerable-proxy rewrite; other control types get no reply. Unknown commands
are ignored. (libzmq 4.3.5 itself has PAUSE and RESUME swapped and replies on any control type;
zloop follows the documented behaviour, which libzmq's later releases restored.)

The sockets may be zloop sockets or anything with their API (pyzmq sockets work too). They are used
from the thread that runs the proxy only, as any socket must be.

One loop, :func:`serve`, runs a list of directions and takes the ``poll`` to wait with: the
proxies here wait with :func:`zloop.poll`; ``monitored_queue`` (:mod:`zloop.devices`) runs
:class:`MonitoredDirection` objects, whose capture copy starts with a prefix frame naming the direction
and which swap the two routing ids between two ROUTERs; :mod:`zloop.green` runs the same loop on
the gevent adapter's ``poll``, so its proxies block only their greenlet. ``device()`` is pyzmq's
deprecated name for a proxy.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from zloop.constants import Flag, PollEvent, SocketType
from zloop.errors import Again
from zloop.poll import poll

#: Messages forwarded in one direction per wake-up (libzmq's ``proxy_burst_size``).
BURST = 1000

_NOBLOCK = int(Flag.NOBLOCK)
_POLLIN = int(PollEvent.POLLIN)
_POLLOUT = int(PollEvent.POLLOUT)
_STAT = struct.Struct("=Q")

# Indices into the statistics list (libzmq's order on the wire).
_FRONT_RECV, _FRONT_SENT, _BACK_RECV, _BACK_SENT = 0, 2, 4, 6


class _Direction:
    """One way through the proxy: messages from ``src`` to ``dst``."""

    __slots__ = ("dst", "pending", "rx", "src", "tx")

    def __init__(self, src: Any, dst: Any, rx: int, tx: int) -> None:
        self.src = src
        self.dst = dst
        self.rx = rx  # statistics slot of src's receive counters
        self.tx = tx  # statistics slot of dst's send counters
        self.pending: list[Any] | None = None  # received, but dst had no room for it yet

    def forward(self, capture: Any, stats: list[int]) -> None:
        """Send the kept message if any, then a burst of new ones, all without blocking."""
        dst = self.dst
        pending = self.pending
        if pending is not None:
            try:
                dst.send_multipart(pending, _NOBLOCK)
            except Again:
                return
            self.pending = None
            _count(stats, self.tx, pending)
        src = self.src
        for _ in range(BURST):
            try:
                msg = src.recv_multipart(_NOBLOCK)
            except Again:
                return
            _count(stats, self.rx, msg)
            if capture is not None:
                capture.send_multipart(msg)
            try:
                dst.send_multipart(msg, _NOBLOCK)
            except Again:
                self.pending = msg
                return
            _count(stats, self.tx, msg)


class MonitoredDirection(_Direction):
    """One way through ``monitored_queue`` (:mod:`zloop.devices`): the capture copy of each message
    is sent after a ``prefix`` frame naming the direction, and between two ROUTERs (``swap``) the
    first two frames -- the routing ids -- change places, so a reply finds its way back; the
    capture sees the message as forwarded. Otherwise as :class:`_Direction` (same statistics)."""

    __slots__ = ("prefix", "swap")

    def __init__(self, src: Any, dst: Any, rx: int, tx: int, prefix: bytes, swap: bool) -> None:
        super().__init__(src, dst, rx, tx)
        self.prefix = prefix
        self.swap = swap

    def forward(self, capture: Any, stats: list[int]) -> None:
        dst = self.dst
        pending = self.pending
        if pending is not None:
            try:
                dst.send_multipart(pending, _NOBLOCK)
            except Again:
                return
            self.pending = None
            _count(stats, self.tx, pending)
        src = self.src
        for _ in range(BURST):
            try:
                msg = src.recv_multipart(_NOBLOCK)
            except Again:
                return
            _count(stats, self.rx, msg)
            if self.swap:
                msg[0], msg[1] = msg[1], msg[0]
            capture.send_multipart([self.prefix, *msg])
            try:
                dst.send_multipart(msg, _NOBLOCK)
            except Again:
                self.pending = msg
                return
            _count(stats, self.tx, msg)


def monitored_directions(
    in_socket: Any, out_socket: Any, in_prefix: bytes, out_prefix: bytes
) -> list[_Direction]:
    """The directions of ``monitored_queue(in_socket, out_socket, mon, in_prefix, out_prefix)``."""
    swap = int(in_socket.type) == SocketType.ROUTER and int(out_socket.type) == SocketType.ROUTER
    directions: list[_Direction] = [
        MonitoredDirection(in_socket, out_socket, _FRONT_RECV, _BACK_SENT, in_prefix, swap)
    ]
    if out_socket is not in_socket:
        directions.append(
            MonitoredDirection(out_socket, in_socket, _BACK_RECV, _FRONT_SENT, out_prefix, swap)
        )
    return directions


def _count(stats: list[int], slot: int, msg: list[Any]) -> None:
    stats[slot] += len(msg)
    stats[slot + 1] += sum(len(frame) for frame in msg)


def proxy(frontend: Any, backend: Any, capture: Any = None) -> int:
    """Forward messages between ``frontend`` and ``backend`` until the context is terminated.

    Raises ``ContextTerminated`` then (libzmq's ``zmq_proxy`` returns -1 with ETERM).
    """
    return proxy_steerable(frontend, backend, capture, None)


def proxy_steerable(frontend: Any, backend: Any, capture: Any = None, control: Any = None) -> int:
    """:func:`proxy` steered by commands on ``control``: PAUSE, RESUME, TERMINATE, STATISTICS.

    Returns 0 after TERMINATE; raises ``ContextTerminated`` when the context is terminated.
    """
    return serve(proxy_directions(frontend, backend), capture, control, poll)


def device(device_type: int, frontend: Any, backend: Any) -> int:
    """pyzmq's deprecated ``zmq.device``: a :func:`proxy` between ``frontend`` and ``backend``.

    ``device_type`` (``QUEUE``, ``FORWARDER``, ``STREAMER``) changes nothing, as in libzmq >= 3.2,
    where every device became a proxy; it is not checked either (pyzmq does not check it).
    """
    return proxy(frontend, backend)


def proxy_directions(frontend: Any, backend: Any) -> list[_Direction]:
    """The directions of a proxy between ``frontend`` and ``backend`` (one if they are the same)."""
    directions = [_Direction(frontend, backend, _FRONT_RECV, _BACK_SENT)]
    if backend is not frontend:
        directions.append(_Direction(backend, frontend, _BACK_RECV, _FRONT_SENT))
    return directions


def serve(
    directions: list[_Direction],
    capture: Any,
    control: Any,
    poll: Callable[[list[tuple[Any, int]]], list[tuple[Any, int]]],
) -> int:
    """The proxy loop over ``directions``, waiting with ``poll`` (``zloop.poll`` blocks the thread;
    :mod:`zloop.green` passes gevent's, which blocks only the greenlet)."""
    stats = [0] * 8
    paused = False
    while True:
        wanted: dict[Any, int] = {}
        if not paused:
            for d in directions:
                if d.pending is None:
                    wanted[d.src] = wanted.get(d.src, 0) | _POLLIN
                else:
                    wanted[d.dst] = wanted.get(d.dst, 0) | _POLLOUT
        if control is not None:
            wanted[control] = wanted.get(control, 0) | _POLLIN
        ready = dict(poll(list(wanted.items())))
        if control is not None and ready.get(control, 0) & _POLLIN:
            command = _control(control, stats)
            if command == b"TERMINATE":
                return 0
            if command == b"PAUSE":
                paused = True
            elif command == b"RESUME":
                paused = False
            if paused:
                continue
        for d in directions:
            if d.pending is None:
                go = ready.get(d.src, 0) & _POLLIN
            else:
                go = ready.get(d.dst, 0) & _POLLOUT
            if go:
                d.forward(capture, stats)


def _control(control: Any, stats: list[int]) -> bytes | None:
    """Run one command from ``control``; return it (None if there was none after all)."""
    try:
        msg = control.recv_multipart(_NOBLOCK)
    except Again:
        return None
    command = bytes(msg[0])
    if command == b"STATISTICS":
        control.send_multipart([_STAT.pack(value) for value in stats])
    elif control.type == SocketType.REP:
        control.send(b"")  # a REQ peer waits for an answer to every request
    return command


__all__ = [
    "BURST",
    "MonitoredDirection",
    "device",
    "monitored_directions",
    "proxy",
    "proxy_directions",
    "proxy_steerable",
    "serve",
]
