"""The real OS primitives, whatever gevent or eventlet monkey-patched.

Theory of operation
-------------------
zloop's I/O threads must run while the application blocks in anything that does not cooperate
with a green scheduler (a C call, an unpatched sleep, a read of stdin): a peer's heartbeats are
answered, queued messages are sent and received. A green "thread" cannot do that: it runs only when
its OS thread's hub runs. So zloop takes every thread, lock and blocking wait it uses from this
module, which hands out the **original** primitives even after ``gevent.monkey.patch_all()`` or
``eventlet.monkey_patch()``:

* :class:`Thread` starts an OS thread with the original ``_thread.start_new_thread`` (a patched
  ``threading.Thread`` would start a greenlet); :func:`get_ident` is the original one (a patched one
  names greenlets).
* :func:`Lock` and :func:`RLock` are the original ``_thread`` locks, and :class:`Condition` and
  :class:`Event` are built here on those only (``threading``'s own build on whatever ``_thread``
  is at call time). Their critical sections never block on I/O nor yield, so a real lock is right
  for greenlets and threads alike.
* :class:`FdPoller` (epoll, else poll), :func:`poll` and :func:`sleep` block the calling OS
  thread (gevent removes ``select.epoll`` and makes ``select.poll``, ``selectors`` and
  ``time.sleep`` cooperative). That is also what pyzmq's plain API does under ``patch_all()``: a
  blocking ``send``/``recv``/``poll``/``term`` is a C call that blocks the OS thread; the green
  adapters (``zloop.adapters.gevent``) never block, they wait through the hub on the socket's FD.
* :data:`Socket`, :func:`accept` and :func:`getaddrinfo` are the standard library's (a patched
  ``socket.socket`` would tie the fd to the calling thread's hub, and its ``accept`` makes another
  patched socket); :func:`close_fd` is the original ``os.close`` (gevent's defers the close to its
  hub).

The originals are taken once, when zloop is imported: from ``gevent.monkey.get_original`` (or
``eventlet.patcher.original``) when that patcher is loaded, else from the modules as they are,
which are then the originals (a later ``patch_all()`` does not change what was taken). So the import
order does not matter, and importing zloop never imports gevent or eventlet.

The rule for the rest of zloop: no module imports ``threading``, ``_thread``, ``selectors``,
``select`` or ``queue``, calls ``time.sleep``, or makes OS sockets, except through this one
(``tests/io/test_real_primitives.py`` checks the source). Adapters that run inside the
application's own loop (``zloop.adapters.selectors`` ...) are the application's business and use
whatever it patched.
"""

from __future__ import annotations

import contextlib
import importlib
import math
import os
import select as _select_mod
import socket as _socket_mod
import sys
import threading
from collections import deque
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import select as _select_types
    from _thread import LockType as LockType
    from _thread import RLock as RLockType

__all__ = [
    "TIMEOUT_MAX",
    "Condition",
    "Event",
    "FdPoller",
    "Lock",
    "RLock",
    "Socket",
    "Thread",
    "ThreadLocal",
    "accept",
    "close_fd",
    "get_ident",
    "getaddrinfo",
    "poll",
    "read_fd",
    "sleep",
    "thread_alive",
    "write_fd",
]


#: eventlet's name for what it patches, where it differs from the module's.
_EVENTLET_NAMES = {"_thread": "thread"}


def _original(module: str, name: str) -> Any:
    """``module.name`` as it was before any monkey-patching (None if it does not exist)."""
    gevent_monkey = sys.modules.get("gevent.monkey")
    if gevent_monkey is not None:
        try:
            return gevent_monkey.get_original(module, name)
        except AttributeError:  # gevent < 1.3 raises for an item that never existed
            return None
    patcher = sys.modules.get("eventlet.patcher")
    if patcher is not None and patcher.is_monkey_patched(_EVENTLET_NAMES.get(module, module)):
        # A fresh copy of the module made without eventlet's replacements.
        return getattr(patcher.original(module), name, None)
    return getattr(importlib.import_module(module), name, None)


_start_new_thread: Callable[[Callable[[], None], tuple[()]], int] = _original(
    "_thread", "start_new_thread"
)
#: The calling OS thread's identifier (a patched ``threading.get_ident`` names the greenlet).
get_ident: Callable[[], int] = _original("_thread", "get_ident")
#: A new real (OS) lock.
Lock: Callable[[], LockType] = _original("_thread", "allocate_lock")
#: A real per-OS-thread namespace (``threading.local`` may be patched to a per-greenlet one).
ThreadLocal: type = _original("_thread", "_local")
#: A new real (OS) reentrant lock.
RLock: Callable[[], RLockType] = _original("_thread", "RLock")
#: Block the OS thread for this many seconds.
sleep: Callable[[float], None] = _original("time", "sleep")
#: A new ``select.poll`` object that blocks the OS thread.
poll: Callable[[], _select_types.poll] = _original("select", "poll")
_epoll: Any = _original("select", "epoll")
#: The standard library's socket class.
Socket: type[_socket_mod.socket] = _original("socket", "socket")
#: ``socket.getaddrinfo`` resolving in the calling thread.
getaddrinfo: Callable[..., list[Any]] = _original("socket", "getaddrinfo")
#: Close an fd now (gevent's ``os.close`` defers it to the hub).
close_fd: Callable[[int], None] = _original("os", "close")
#: ``os.read`` / ``os.write`` that raise ``BlockingIOError`` on a non-blocking fd (eventlet's wait).
read_fd: Callable[[int, int], bytes] = _original("os", "read")
write_fd: Callable[[int, bytes], int] = _original("os", "write")

# ``poll`` event bits (constants: never patched). epoll's EPOLLIN/EPOLLOUT have the same values.
POLLIN: int = _select_mod.POLLIN
POLLPRI: int = _select_mod.POLLPRI
POLLOUT: int = _select_mod.POLLOUT
POLLERR: int = _select_mod.POLLERR
POLLHUP: int = _select_mod.POLLHUP
POLLNVAL: int = _select_mod.POLLNVAL
READ = POLLIN
WRITE = POLLOUT


def accept(listener: _socket_mod.socket) -> tuple[_socket_mod.socket, Any]:
    """``listener.accept()`` returning a standard :data:`Socket` (the stdlib's ``accept`` builds
    the new socket from the module's ``socket`` name, which a patcher replaced)."""
    fd, addr = listener._accept()  # type: ignore[attr-defined]
    return Socket(listener.family, listener.type, listener.proto, fileno=fd), addr


class Thread:
    """An OS thread running ``target`` once; a daemon (never waited for at interpreter exit).

    After ``fork()`` the child sees the thread as ended (it does not run there)."""

    __slots__ = ("_done", "_pid", "_target", "ident", "name")

    def __init__(self, target: Callable[[], object], name: str) -> None:
        self.name = name
        self._target = target
        self._done = Lock()  # held while the thread runs
        self._pid = -1
        #: The thread's :func:`get_ident`, set before ``target`` runs (None until then).
        self.ident: int | None = None

    def __repr__(self) -> str:
        return f"<zloop._real.Thread {self.name} alive={self.is_alive()}>"

    def start(self) -> None:
        if self._pid != -1:
            raise RuntimeError("a thread can be started only once")
        self._done.acquire()
        self._pid = os.getpid()
        try:
            _start_new_thread(self._bootstrap, ())
        except BaseException:
            self._pid = -1
            self._done.release()
            raise

    def _bootstrap(self) -> None:
        self.ident = get_ident()
        try:
            # Named for ``threading.current_thread()`` (log records, debuggers); ``threading``
            # only describes this thread here, it never starts or locks anything of ours.
            threading.current_thread().name = self.name
            self._target()
        finally:
            self._done.release()

    def is_alive(self) -> bool:
        return self._pid == os.getpid() and self._done.locked()

    def join(self, timeout: float | None = None) -> bool:
        """Wait until the thread ended (at most ``timeout`` s); True if it has."""
        if not self.is_alive():
            return True
        if self.ident == get_ident():
            raise RuntimeError(f"{self.name} cannot join itself")
        if self._done.acquire(True, -1 if timeout is None else max(0.0, timeout)):
            self._done.release()
            return True
        return False


#: The longest timeout a lock's ``acquire`` takes.
TIMEOUT_MAX: float = threading.TIMEOUT_MAX


def thread_alive(ident: int) -> bool:
    """Is the thread of this :func:`get_ident` running (as ``threading`` knows its threads)?"""
    return any(thread.ident == ident for thread in threading.enumerate())


class Condition:
    """``threading.Condition`` on real locks: ``wait`` / ``notify_all`` with ``lock`` held."""

    __slots__ = ("_lock", "_waiters")

    def __init__(self, lock: LockType) -> None:
        self._lock = lock
        self._waiters: deque[LockType] = deque()

    def __enter__(self) -> bool:
        return self._lock.__enter__()

    def __exit__(
        self, tp: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._lock.__exit__(tp, exc, tb)

    def wait(self, timeout: float | None = None) -> bool:
        """Release the lock, wait for a notify (or ``timeout`` s), take the lock again."""
        waiter = Lock()
        waiter.acquire()
        self._waiters.append(waiter)
        self._lock.release()
        notified = False
        try:
            if timeout is None:
                notified = waiter.acquire()
            else:
                notified = waiter.acquire(True, max(0.0, timeout))
            return notified
        finally:
            self._lock.acquire()
            if not notified:
                # ValueError: notified between the timeout and taking the lock back.
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)

    def notify_all(self) -> None:
        waiters = self._waiters
        while waiters:
            waiters.popleft().release()


class Event:
    """``threading.Event`` on real locks.

    Safe against an exception raised between any two bytecodes of a waiter (a KeyboardInterrupt
    from a signal handler): its lock is a plain lock taken by ``with`` (no Python ``__enter__``
    that could be cut short holding it), and a waiter that leaves early at worst leaves its own
    lock in the list, released by the next :meth:`set`."""

    __slots__ = ("_flag", "_lock", "_waiters")

    def __init__(self) -> None:
        self._lock = Lock()
        self._waiters: list[LockType] = []
        self._flag = False

    def is_set(self) -> bool:
        return self._flag

    def set(self) -> None:
        with self._lock:
            self._flag = True
            waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter.release()

    def clear(self) -> None:
        self._flag = False

    def wait(self, timeout: float | None = None) -> bool:
        if self._flag:
            return True
        waiter = Lock()
        waiter.acquire()
        with self._lock:
            if self.is_set():  # set meanwhile
                return True
            self._waiters.append(waiter)
        try:
            if timeout is None:
                waiter.acquire()
            else:
                waiter.acquire(True, max(0.0, timeout))
        finally:
            with self._lock:
                if any(other is waiter for other in self._waiters):
                    self._waiters.remove(waiter)
        return self._flag


class FdPoller:
    """Readiness of registered fds, blocking the OS thread: ``select.epoll`` where it exists, else
    ``select.poll``. Masks are :data:`READ` | :data:`WRITE`; :meth:`poll` returns ``(fd, mask)``
    pairs where an error or hang-up shows as both bits (as ``selectors`` reports it)."""

    __slots__ = ("_impl", "_is_epoll")

    def __init__(self) -> None:
        self._is_epoll = _epoll is not None
        self._impl: Any = _epoll() if self._is_epoll else poll()

    def register(self, fd: int, mask: int) -> None:
        self._impl.register(fd, mask)

    def modify(self, fd: int, mask: int) -> None:
        self._impl.modify(fd, mask)

    def unregister(self, fd: int) -> None:
        self._impl.unregister(fd)

    def poll(self, timeout: float | None) -> list[tuple[int, int]]:
        """Wait up to ``timeout`` seconds (None = forever) for readiness."""
        if self._is_epoll:
            if timeout is None:
                timeout = -1.0
            elif timeout <= 0:
                timeout = 0.0
            else:
                # epoll counts milliseconds and truncates: round up, or a timer due in 0.4 ms
                # would make the loop spin until it is.
                timeout = math.ceil(timeout * 1e3) * 1e-3
            events: list[tuple[int, int]] = self._impl.poll(timeout)
        else:
            ms = None if timeout is None else max(0, math.ceil(timeout * 1e3))
            events = self._impl.poll(ms)
        return [
            (fd, (READ if ev & ~WRITE else 0) | (WRITE if ev & ~READ else 0)) for fd, ev in events
        ]

    def close(self) -> None:
        if self._is_epoll:
            self._impl.close()
