"""Level-triggered ``poll``, ``Poller`` and ``select``, like ``zmq_poll``.

Items are zloop sockets, any object that looks like a ZeroMQ socket (it has ``getsockopt`` and an
``FD``, so pyzmq sockets work too), raw fds, or objects with ``fileno()``. For socket items the
answer comes from ``EVENTS``, never from the fd alone: the first pass checks every socket's
``EVENTS`` (which processes its commands) and polls raw fds with a zero timeout; only if nothing is
ready does it block on all fds — socket FDs and raw fds — for the remaining time, then checks again.
Because checking ``EVENTS`` arms the socket's edge-triggered FD (docs/readiness.md), a socket that becomes
ready while we block always wakes us. Timeouts are in milliseconds (None or negative = forever).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

from zloop import _real
from zloop.constants import PollEvent, SocketOption

POLLIN = int(PollEvent.POLLIN)
POLLOUT = int(PollEvent.POLLOUT)
POLLERR = int(PollEvent.POLLERR)

_EVENTS = int(SocketOption.EVENTS)
_FD = int(SocketOption.FD)


def _is_zmq_socket(obj: Any) -> bool:
    # zloop and pyzmq sockets both have getsockopt and FD; a plain socket.socket has no FD.
    return not isinstance(obj, int) and hasattr(obj, "getsockopt") and hasattr(obj, "FD")


def _fd_of(obj: Any) -> int:
    if isinstance(obj, int):
        return obj
    if _is_zmq_socket(obj):
        return int(obj.getsockopt(_FD))
    try:
        return int(obj.fileno())
    except AttributeError:
        raise TypeError(
            f"cannot poll {obj!r}: not a socket, an fd, or an object with fileno()"
        ) from None


class _Item:
    __slots__ = ("events", "fd", "is_socket", "obj")

    def __init__(self, obj: Any, events: int) -> None:
        self.obj = obj
        self.events = events
        self.is_socket = _is_zmq_socket(obj)
        self.fd = _fd_of(obj)


def _check(items: Sequence[_Item], ready_fds: dict[int, int]) -> list[tuple[Any, int]]:
    result: list[tuple[Any, int]] = []
    for item in items:
        if item.is_socket:
            got = int(item.obj.getsockopt(_EVENTS)) & item.events
        else:
            raw = ready_fds.get(item.fd, 0)
            got = 0
            if raw & (_real.POLLIN | _real.POLLPRI | _real.POLLHUP):
                got |= POLLIN
            if raw & _real.POLLOUT:
                got |= POLLOUT
            if raw & (_real.POLLERR | _real.POLLNVAL):
                got |= POLLERR
            got &= item.events | POLLERR
        if got:
            # pyzmq's keys: the registered object for a ZeroMQ socket, the fd for anything else.
            result.append((item.obj if item.is_socket else item.fd, got))
    return result


def _os_poll(items: Sequence[_Item], timeout_ms: int) -> dict[int, int]:
    poller = _real.poll()  # blocks the OS thread even under gevent, as zmq_poll does
    registered: dict[int, int] = {}
    for item in items:
        if item.is_socket:
            mask = _real.POLLIN  # the signal fd only ever becomes readable
        else:
            mask = 0
            if item.events & POLLIN:
                mask |= _real.POLLIN | _real.POLLPRI
            if item.events & POLLOUT:
                mask |= _real.POLLOUT
        registered[item.fd] = registered.get(item.fd, 0) | mask
    for fd, mask in registered.items():
        poller.register(fd, mask)
    return dict(poller.poll(timeout_ms))


def _poll_items(items: Sequence[_Item], timeout: float | None) -> list[tuple[Any, int]]:
    deadline = None if timeout is None or timeout < 0 else time.monotonic() + timeout / 1000
    has_raw = any(not item.is_socket for item in items)
    ready_fds = _os_poll(items, 0) if has_raw else {}
    while True:
        result = _check(items, ready_fds)
        if result:
            return result
        if deadline is None:
            wait_ms = -1
        else:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            wait_ms = max(1, int(remaining * 1000 + 0.999))
        if not items:
            _real.sleep(wait_ms / 1000 if wait_ms >= 0 else 3600)
            continue
        ready_fds = _os_poll(items, wait_ms)


def poll(items: Iterable[tuple[Any, int]], timeout: float | None = None) -> list[tuple[Any, int]]:
    """Level-triggered poll over ``(socket_or_fd, events)`` pairs; returns the ready ones as
    ``(socket, events)`` for ZeroMQ sockets and ``(fd, events)`` for the rest, as pyzmq's
    ``zmq_poll``. ``timeout`` in ms (None or negative: for ever)."""
    prepared = [_Item(obj, int(events)) for obj, events in items]
    return _poll_items(prepared, timeout)


def zmq_poll(sockets: Sequence[tuple[Any, int]], timeout: float = -1) -> list[tuple[Any, int]]:
    """pyzmq's ``zmq_poll(sockets, timeout=-1)``: :func:`poll` under libzmq's name."""
    return poll(sockets, timeout)


class Poller:
    """A reusable set of sockets and file descriptors to poll, as ``zmq.Poller``.

    Register zloop sockets, pyzmq sockets, objects with ``fileno()`` or plain fds, then call
    :meth:`poll`. Polling is level-triggered: an item is reported for as long as it is ready.

    Attributes:
        sockets: The registered ``(socket, flags)`` pairs, in registration order.
    """

    def __init__(self) -> None:
        self.sockets: list[tuple[Any, int]] = []
        self._map: dict[Any, int] = {}
        self._items: list[_Item] | None = None

    def __contains__(self, socket: Any) -> bool:
        return socket in self._map

    def register(self, socket: Any, flags: int = POLLIN | POLLOUT) -> None:
        """Add ``socket`` (or change its flags); flags 0 unregisters, as pyzmq."""
        self._items = None
        if flags:
            if socket in self._map:
                self.sockets[self._map[socket]] = (socket, flags)
            else:
                _fd_of(socket)  # validate now: a bad item raises here, not at poll time
                self._map[socket] = len(self.sockets)
                self.sockets.append((socket, flags))
        elif socket in self._map:
            self.unregister(socket)

    def modify(self, socket: Any, flags: int = POLLIN | POLLOUT) -> None:
        """Change the events polled for a registered item (the same as :meth:`register`).

        Args:
            socket: A registered socket or fd.
            flags: ``POLLIN`` and/or ``POLLOUT``; 0 unregisters it.
        """
        self.register(socket, flags)

    def unregister(self, socket: Any) -> None:
        """Stop polling an item.

        Args:
            socket: A registered socket or fd.

        Raises:
            KeyError: If it is not registered.
        """
        self._items = None
        idx = self._map.pop(socket)
        self.sockets.pop(idx)
        for other, _ in self.sockets[idx:]:
            self._map[other] -= 1

    def poll(self, timeout: float | None = None) -> list[tuple[Any, int]]:
        """Ready items as ``(socket, events)``; ``dict(poller.poll())`` works as in pyzmq."""
        if timeout is not None and timeout < 0:
            timeout = None
        if self._items is None:
            self._items = [_Item(obj, int(events)) for obj, events in self.sockets]
        return _poll_items(self._items, timeout)


def select(
    rlist: Sequence[Any], wlist: Sequence[Any], xlist: Sequence[Any], timeout: float | None = None
) -> tuple[list[Any], list[Any], list[Any]]:
    """``select``-style wrapper; ``timeout`` in **seconds** (None or negative: for ever) as
    ``zmq.select``. As pyzmq's, ready items that are no ZeroMQ socket are reported by fd."""
    if timeout is not None and timeout < 0:
        timeout = None
    flags: dict[Any, int] = {}
    for obj in rlist:
        flags[obj] = flags.get(obj, 0) | POLLIN
    for obj in wlist:
        flags[obj] = flags.get(obj, 0) | POLLOUT
    for obj in xlist:
        flags[obj] = flags.get(obj, 0) | POLLERR
    ready = poll(list(flags.items()), None if timeout is None else timeout * 1000)
    return (
        [s for s, events in ready if events & POLLIN],
        [s for s, events in ready if events & POLLOUT],
        [s for s, events in ready if events & POLLERR],
    )
