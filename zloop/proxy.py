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
"""

from __future__ import annotations

import struct
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
    directions = [_Direction(frontend, backend, _FRONT_RECV, _BACK_SENT)]
    if backend is not frontend:
        directions.append(_Direction(backend, frontend, _BACK_RECV, _FRONT_SENT))
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


__all__ = ["BURST", "proxy", "proxy_steerable"]
