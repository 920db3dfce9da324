"""``selectors``-based integration: a libevent-style :class:`Reactor` and a :class:`ZMQSelector`.

:class:`Reactor` is a small callback reactor (the shape of libevent's ``event_base``): register zloop
or pyzmq sockets next to plain fds and Python sockets, each with a callback and *persistent* interest
(like ``EV_READ | EV_PERSIST``). For a ZeroMQ socket the callback ``callback(sock, events)`` is
called while ``EVENTS`` has the asked bits: after a wake-up it is called again on every turn of the
loop as long as messages are pending, and ``EVENTS`` is re-checked after each call, so a callback
may read one message or all of them. Plain fds get ``callback(fileobj, events)`` while readable
(``POLLIN``) / writable (``POLLOUT``). ``call_soon``, ``call_later``, ``run``, ``run_once`` and
``stop`` complete the reactor. It is also a :class:`zloop.adapters._core.Backend`, and
:meth:`Reactor.submit` queues a single send/recv on a socket with a completion callback (the
cancellation-safe core underneath: :meth:`Reactor.cancel` never loses a message).

:class:`ZMQSelector` is a :class:`selectors.BaseSelector` that accepts zloop/pyzmq sockets next to
ordinary file objects and reports sockets **level-triggered** from ``EVENTS`` (``EVENT_READ`` while
``POLLIN``, ``EVENT_WRITE`` while ``POLLOUT``), so code written for :mod:`selectors` works
unchanged: a first pass checks every socket's ``EVENTS``; only if nothing is ready does it block on
the fds (a socket's edge-triggered FD fires when a direction reported not-ready changes).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import selectors
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import zloop

from ._core import POLLIN, POLLOUT, Op, Pending, Watcher

__all__ = ["Reactor", "TimerHandle", "ZMQSelector"]

_EVENTS = 15
_FD = 14


def _is_zmq_socket(obj: Any) -> bool:
    """A zloop or pyzmq socket (or a wrapper exposing ``.socket`` of one)?"""
    if isinstance(obj, zloop.Socket):
        return True
    mod = type(obj).__module__.split(".")[0]
    return mod == "zmq" and hasattr(obj, "getsockopt") and hasattr(obj, "recv")


def _fd_of(obj: Any) -> int:
    if isinstance(obj, int):
        return obj
    return int(obj.fileno())


class TimerHandle:
    """Returned by :meth:`Reactor.call_later`; :meth:`cancel` it to drop the call."""

    __slots__ = {
        "_args": "",
        "_callback": "",
        "cancelled": "True once :meth:`cancel` was called.",
        "when": "The time (``time.monotonic()``) the call is due.",
    }

    def __init__(self, when: float, callback: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.when = when
        self._callback = callback
        self._args = args
        self.cancelled = False

    def cancel(self) -> None:
        """Drop the call, if it has not run yet (cancelling twice, or after it ran, is harmless)."""
        self.cancelled = True

    def _run(self) -> None:
        if not self.cancelled:
            self._callback(*self._args)


class _CallbackWaiter:
    """A core Waiter that hands the outcome to ``callback(value, error)`` on the next loop turn."""

    __slots__ = ("_callback", "_done", "_reactor")

    def __init__(
        self, reactor: Reactor, callback: Callable[[Any, BaseException | None], Any]
    ) -> None:
        self._reactor = reactor
        self._callback = callback
        self._done = False

    def done(self) -> bool:
        return self._done

    def cancel(self) -> None:
        self._done = True

    def set_result(self, value: Any) -> None:
        self._done = True
        self._reactor.call_soon(self._fire, value, None)

    def set_exception(self, exc: BaseException) -> None:
        self._done = True
        self._reactor.call_soon(self._fire, None, exc)

    def _fire(self, value: Any, error: BaseException | None) -> None:
        self._callback(value, error)  # looked up now: Reactor.cancel may have replaced it


class _ZmqRegistration:
    """Persistent interest in a ZeroMQ socket: ``callback(sock, events)`` while ``EVENTS & mask``."""

    __slots__ = ("active", "callback", "mask", "pending", "reactor", "sock", "watcher")

    def __init__(
        self, reactor: Reactor, sock: Any, mask: int, callback: Callable[[Any, int], Any]
    ) -> None:
        self.reactor = reactor
        self.sock = sock
        self.mask = mask
        self.callback = callback
        self.watcher = reactor.watcher(sock)
        self.pending: Pending | None = None
        self.active = True

    def start(self) -> None:
        self.reactor.call_soon(self.fire)

    def stop(self) -> None:
        self.active = False
        if self.pending is not None:
            self.watcher.cancel(self.pending)
            self.pending = None

    def fire(self, _value: Any = None, _error: BaseException | None = None) -> None:
        self.pending = None
        if not self.active or self.watcher.closed:
            return
        ev = self.watcher.poll_now(self.mask)
        if ev:
            self.callback(self.sock, ev)
            if self.active and not self.watcher.closed:
                # Level-triggered: check again on the next turn (fair to other sources).
                self.reactor.call_soon(self.fire)
        else:
            self.pending = self.watcher.wait_poll(
                self.mask, _CallbackWaiter(self.reactor, self.fire)
            )


class Reactor:
    """A libevent-style callback reactor over :mod:`selectors` (see the module docstring).

    Single-threaded: call everything from the thread running :meth:`run`, except :meth:`stop`.
    """

    def __init__(self, selector: selectors.BaseSelector | None = None) -> None:
        self._selector = selector if selector is not None else selectors.DefaultSelector()
        self._readers: dict[int, Callable[[], Any]] = {}
        self._writers: dict[int, Callable[[], Any]] = {}
        self._soon: deque[tuple[Callable[..., Any], tuple[Any, ...]]] = deque()
        self._timers: list[tuple[float, int, TimerHandle]] = []
        self._seq = itertools.count()
        self._watchers: dict[int, tuple[Any, Watcher]] = {}
        self._zmq: dict[int, _ZmqRegistration] = {}
        self._fds: dict[int, tuple[Any, int, Callable[[Any, int], Any]]] = {}
        self._stopping = False
        self._running = False

    # -- core Backend ------------------------------------------------------------------------------

    def _update(self, fd: int) -> None:
        mask = (selectors.EVENT_READ if fd in self._readers else 0) | (
            selectors.EVENT_WRITE if fd in self._writers else 0
        )
        try:
            self._selector.get_key(fd)
            registered = True
        except KeyError:
            registered = False
        if mask == 0:
            if registered:
                with contextlib.suppress(KeyError, ValueError, OSError):
                    self._selector.unregister(fd)
        elif registered:
            self._selector.modify(fd, mask)
        else:
            self._selector.register(fd, mask)

    def add_reader(self, fd: int, callback: Callable[[], Any]) -> None:
        """Call ``callback()`` whenever ``fd`` is readable (low level; see :meth:`register`)."""
        self._readers[fd] = callback
        self._update(fd)

    def remove_reader(self, fd: int) -> None:
        """Stop calling the callback given to :meth:`add_reader` for ``fd`` (harmless if there is none).

        Args:
            fd: The file descriptor.
        """
        if self._readers.pop(fd, None) is not None:
            self._update(fd)

    def add_writer(self, fd: int, callback: Callable[[], Any]) -> None:
        """Call ``callback()`` whenever ``fd`` is writable, until :meth:`remove_writer` (low level: for a
        ZeroMQ socket use :meth:`register` with ``POLLOUT``, which follows ``EVENTS``).

        Args:
            fd: A file descriptor (not a ZeroMQ socket's ``FD``).
            callback: Called without arguments.
        """
        self._writers[fd] = callback
        self._update(fd)

    def remove_writer(self, fd: int) -> None:
        """Stop calling the callback given to :meth:`add_writer` for ``fd`` (harmless if there is none).

        Args:
            fd: The file descriptor.
        """
        if self._writers.pop(fd, None) is not None:
            self._update(fd)

    def call_soon(self, callback: Callable[..., Any], *args: Any) -> None:
        """Run ``callback(*args)`` on the next turn of the loop (FIFO)."""
        self._soon.append((callback, args))

    def create_waiter(self) -> _CallbackWaiter:
        """Not available on this reactor: always raises ``TypeError``.

        The reactor completes operations through callbacks, so its waiters need one: use
        :meth:`submit`, which makes them.
        """
        raise TypeError("Reactor waiters carry a callback: use Reactor.submit()")

    # -- timers ------------------------------------------------------------------------------------

    def time(self) -> float:
        """The reactor's clock: ``time.monotonic()``, the clock of :meth:`call_later` deadlines."""
        return time.monotonic()

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> TimerHandle:
        """Run ``callback(*args)`` after ``delay`` seconds (cancel with the returned handle)."""
        handle = TimerHandle(time.monotonic() + max(0.0, delay), callback, args)
        heapq.heappush(self._timers, (handle.when, next(self._seq), handle))
        return handle

    # -- sockets and fds ---------------------------------------------------------------------------

    def watcher(self, sock: Any) -> Watcher:
        """The core :class:`Watcher` of a zloop/pyzmq socket on this reactor (one per socket)."""
        entry = self._watchers.get(id(sock))
        if entry is not None and entry[0] is sock and not entry[1].closed:
            return entry[1]
        watcher = Watcher(sock, self)
        self._watchers[id(sock)] = (sock, watcher)
        return watcher

    def register(self, obj: Any, callback: Callable[[Any, int], Any], events: int = POLLIN) -> None:
        """Persistent interest (``EV_READ|EV_PERSIST``-like) in a ZeroMQ socket, fd or file object.

        ``callback(obj, ready_events)`` is called while ``obj`` is ready for ``events``
        (``POLLIN``/``POLLOUT``; for a ZeroMQ socket judged by ``EVENTS``). Registering again
        replaces the callback and events.
        """
        if not events & (POLLIN | POLLOUT):
            raise ValueError("events must contain POLLIN and/or POLLOUT")
        self.unregister(obj, missing_ok=True)
        if _is_zmq_socket(obj):
            reg = _ZmqRegistration(self, obj, events, callback)
            self._zmq[id(obj)] = reg
            reg.start()
            return
        fd = _fd_of(obj)
        self._fds[fd] = (obj, events, callback)
        if events & POLLIN:
            self.add_reader(fd, lambda: self._fd_ready(fd, POLLIN))
        if events & POLLOUT:
            self.add_writer(fd, lambda: self._fd_ready(fd, POLLOUT))

    def _fd_ready(self, fd: int, ev: int) -> None:
        entry = self._fds.get(fd)
        if entry is not None:
            entry[2](entry[0], ev)

    def unregister(self, obj: Any, *, missing_ok: bool = False) -> None:
        """Drop the interest registered for ``obj``."""
        reg = self._zmq.pop(id(obj), None)
        if reg is not None and reg.sock is obj:
            reg.stop()
            return
        if reg is not None:  # an id reused by another object: put it back
            self._zmq[id(obj)] = reg
        if not _is_zmq_socket(obj):
            fd = _fd_of(obj)
            if self._fds.pop(fd, None) is not None:
                self.remove_reader(fd)
                self.remove_writer(fd)
                return
        if not missing_ok:
            raise KeyError(obj)

    def submit(
        self, sock: Any, op: Op, callback: Callable[[Any, BaseException | None], Any]
    ) -> Pending:
        """Perform ``op`` (an :class:`~zloop.adapters._core.Op`) on ``sock`` once possible, then call
        ``callback(result, None)`` or ``callback(None, error)`` from the loop (never synchronously).

        Returns the :class:`Pending` to pass to :meth:`cancel` until the callback has run.
        """
        return self.watcher(sock).submit(op, _CallbackWaiter(self, callback))

    def cancel(self, sock: Any, pending: Pending) -> str:
        """Cancel a :meth:`submit` whose callback has not run yet: the callback will not run.

        Nothing is lost: a message already taken for it goes back to the socket's push-back buffer
        and the next receive gets it whole. Returns the core's outcome: ``"removed"`` (nothing
        happened), ``"reclaimed"`` (message given back) or ``"completed"`` (a send was sent).
        """
        outcome = self.watcher(sock).cancel(pending)
        waiter = pending.waiter
        if isinstance(waiter, _CallbackWaiter):
            waiter._done = True
            waiter._callback = _drop
        return outcome

    def close_socket(self, sock: Any, linger: int | None = None) -> None:
        """Unregister ``sock``, fail its pending operations (``ZMQError(ENOTSOCK)``), close it."""
        self.forget_socket(sock)
        if not sock.closed:
            sock.close(linger=linger)

    def forget_socket(self, sock: Any) -> None:
        """Unregister ``sock`` and drop its watcher without closing it."""
        self.unregister(sock, missing_ok=True)
        entry = self._watchers.pop(id(sock), None)
        if entry is not None and entry[0] is sock:
            entry[1].close()

    # -- running -----------------------------------------------------------------------------------

    def stop(self) -> None:
        """Make :meth:`run` return after the current turn."""
        self._stopping = True

    def _idle(self) -> bool:
        return not (self._soon or self._timers or self._readers or self._writers)

    def run(self) -> None:
        """Run until :meth:`stop` (or until nothing at all is registered, scheduled or timed)."""
        self._stopping = False
        self._running = True
        try:
            while not self._stopping and not self._idle():
                self.run_once()
        finally:
            self._running = False
            self._stopping = False

    def run_once(self, timeout: float | None = None) -> None:
        """One turn: wait for fds (not at all if callbacks are due), run ready fd callbacks, due
        timers and the callbacks that were scheduled before this turn."""
        timers = self._timers
        if self._soon:
            wait: float | None = 0.0
        elif timers:
            while timers and timers[0][2].cancelled:
                heapq.heappop(timers)
            wait = max(0.0, timers[0][0] - time.monotonic()) if timers else timeout
            if timeout is not None and wait is not None:
                wait = min(wait, timeout)
        else:
            wait = timeout
        if self._readers or self._writers:
            events = self._selector.select(wait)
        else:
            events = []
            if wait:
                time.sleep(wait)  # nothing to wait on but a timer
        for key, mask in events:
            fd = key.fd
            if mask & selectors.EVENT_READ:
                cb = self._readers.get(fd)
                if cb is not None:
                    cb()
            if mask & selectors.EVENT_WRITE:
                cb = self._writers.get(fd)
                if cb is not None:
                    cb()
        now = time.monotonic()
        while timers and timers[0][0] <= now:
            heapq.heappop(timers)[2]._run()
        for _ in range(len(self._soon)):
            callback, args = self._soon.popleft()
            callback(*args)

    def close(self) -> None:
        """Drop every watcher (sockets stay open) and close the selector."""
        for sock, watcher in list(self._watchers.values()):
            self.unregister(sock, missing_ok=True)
            watcher.close()
        self._watchers.clear()
        self._selector.close()


def _drop(_value: Any, _error: BaseException | None) -> None:
    return None


# -- the selector -----------------------------------------------------------------------------------


class _KeyMap(Mapping[Any, selectors.SelectorKey]):
    def __init__(self, keys: dict[Any, selectors.SelectorKey]) -> None:
        self._keys = keys

    def __len__(self) -> int:
        return len(self._keys)

    def __getitem__(self, fileobj: Any) -> selectors.SelectorKey:
        key = self._keys.get(_map_key(fileobj))
        if key is None:
            raise KeyError(f"{fileobj!r} is not registered")
        return key

    def __iter__(self) -> Iterator[Any]:
        return (key.fileobj for key in self._keys.values())


def _map_key(fileobj: Any) -> Any:
    if _is_zmq_socket(fileobj):
        return ("zmq", id(fileobj))
    return _fd_of(fileobj)


class ZMQSelector(selectors.BaseSelector):
    """A :class:`selectors.BaseSelector` that also accepts zloop and pyzmq sockets (level-triggered)."""

    def __init__(self, selector: selectors.BaseSelector | None = None) -> None:
        self._inner = selector if selector is not None else selectors.DefaultSelector()
        self._keys: dict[Any, selectors.SelectorKey] = {}
        self._zmq_by_fd: dict[int, selectors.SelectorKey] = {}

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        """Watch a file object, fd, or zloop/pyzmq socket for ``events`` (``selectors.BaseSelector.register``).

        A ZeroMQ socket is reported as readable (writable) while its ``EVENTS`` has ``POLLIN``
        (``POLLOUT``): level-triggered, so the edge-triggered ``FD`` needs no care from the caller.

        Args:
            fileobj: The object to watch.
            events: ``EVENT_READ`` and/or ``EVENT_WRITE``.
            data: Anything, returned in the key.

        Returns:
            The new ``SelectorKey``.

        Raises:
            ValueError: For empty or unknown ``events``.
            KeyError: If ``fileobj`` is already registered.
        """
        if not events or events & ~(selectors.EVENT_READ | selectors.EVENT_WRITE):
            raise ValueError(f"Invalid events: {events!r}")
        mk = _map_key(fileobj)
        if mk in self._keys:
            raise KeyError(f"{fileobj!r} is already registered")
        if _is_zmq_socket(fileobj):
            fd = int(fileobj.getsockopt(_FD))
            key = selectors.SelectorKey(fileobj, fd, events, data)
            # The FD is only a wake-up: always watch it for reading.
            self._inner.register(fd, selectors.EVENT_READ, None)
            self._zmq_by_fd[fd] = key
        else:
            fd = _fd_of(fileobj)
            key = selectors.SelectorKey(fileobj, fd, events, data)
            self._inner.register(fileobj, events, key)
        self._keys[mk] = key
        return key

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        """Stop watching ``fileobj``.

        Args:
            fileobj: A registered object.

        Returns:
            Its ``SelectorKey``.

        Raises:
            KeyError: If it is not registered.
        """
        mk = _map_key(fileobj)
        key = self._keys.pop(mk, None)
        if key is None:
            raise KeyError(f"{fileobj!r} is not registered")
        if isinstance(mk, tuple):
            self._zmq_by_fd.pop(key.fd, None)
            with contextlib.suppress(KeyError, ValueError, OSError):
                self._inner.unregister(key.fd)
        else:
            self._inner.unregister(fileobj)
        return key

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        """Change the events or data of a registered object.

        Args:
            fileobj: A registered object.
            events: ``EVENT_READ`` and/or ``EVENT_WRITE``.
            data: Anything, returned in the key.

        Returns:
            The new ``SelectorKey``.
        """
        self.unregister(fileobj)
        return self.register(fileobj, events, data)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        """Wait until registered objects are ready.

        Args:
            timeout: Seconds to wait at most; None waits for ever, 0 or less does not wait.

        Returns:
            ``(key, events)`` pairs, as ``selectors`` does: for a ZeroMQ socket, the directions its
            ``EVENTS`` has among those registered.
        """
        deadline = None if timeout is None or timeout <= 0 else time.monotonic() + timeout
        while True:
            ready: dict[int, tuple[selectors.SelectorKey, int]] = {}
            for key in self._zmq_by_fd.values():
                sock: Any = key.fileobj
                ev = int(sock.getsockopt(_EVENTS))
                mask = (selectors.EVENT_READ if ev & POLLIN else 0) | (
                    selectors.EVENT_WRITE if ev & POLLOUT else 0
                )
                mask &= key.events
                if mask:
                    ready[id(key)] = (key, mask)
            expired = (deadline is None and timeout is not None) or (
                deadline is not None and time.monotonic() >= deadline
            )
            wait: float | None
            if ready or expired:
                wait = 0.0
            elif deadline is None:
                wait = None
            else:
                wait = max(0.0, deadline - time.monotonic())
            for inner_key, mask in self._inner.select(wait):
                user_key = inner_key.data
                if user_key is None:
                    continue  # a socket's FD: its EVENTS is re-read on the next pass
                mask &= user_key.events
                if mask:
                    prev = ready.get(id(user_key))
                    ready[id(user_key)] = (user_key, mask | (prev[1] if prev else 0))
            if ready or expired:
                return list(ready.values())

    def get_map(self) -> Mapping[Any, selectors.SelectorKey]:
        """A read-only mapping of the registered objects to their keys."""
        return _KeyMap(self._keys)

    def close(self) -> None:
        """Forget every registration and close the underlying selector (the sockets stay open)."""
        self._keys.clear()
        self._zmq_by_fd.clear()
        self._inner.close()
