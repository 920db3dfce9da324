"""Signal file descriptors: the edge fd behind ``Socket.FD`` and the opt-in level fds.

A :class:`Signaler` is a one-bit, thread-safe "something happened" flag that a selector can watch:
an ``eventfd`` on Linux (one fd, counter semantics, many ``send`` calls coalesce into one readable
state) and a non-blocking pipe elsewhere. Its lock and its ``wait`` are the real OS ones whatever
gevent or eventlet patched (:mod:`zloop._real`): the I/O thread waits and signals through it. ``send`` may be called from any thread; ``recv`` (which
clears the readable state) and ``wait`` belong to the owning thread.

A :class:`LevelSignal` is a Signaler that mirrors a boolean state exactly: ``set`` and ``clear`` are
idempotent and guarded by a lock, so a writer thread setting it and the owner clearing it never leave
the fd in a state that disagrees with the last call.
"""

from __future__ import annotations

import os

from zloop import _real

_HAS_EVENTFD = hasattr(os, "eventfd")


class Signaler:
    """A readable-when-signalled file descriptor."""

    __slots__ = ("_closed", "_lock", "_poller", "_rfd", "_wfd")

    def __init__(self) -> None:
        if _HAS_EVENTFD:
            fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
            self._rfd = self._wfd = fd
        else:  # pragma: no cover - non-Linux
            self._rfd, self._wfd = os.pipe()  # not inheritable (PEP 446)
            os.set_blocking(self._rfd, False)
            os.set_blocking(self._wfd, False)
        self._poller = _real.poll()
        self._poller.register(self._rfd, _real.READ)
        self._closed = False
        # send() may race with close() from another thread; the lock makes sure a late send never
        # writes to a closed (and possibly reused) fd number.
        self._lock = _real.Lock()

    def fileno(self) -> int:
        """The fd to watch for readability (-1 once closed)."""
        return -1 if self._closed else self._rfd

    def send(self) -> None:
        """Make the fd readable (thread-safe; repeated sends coalesce; no-op once closed)."""
        with self._lock:
            if self._closed:
                return
            try:
                if _HAS_EVENTFD:
                    os.eventfd_write(self._wfd, 1)
                else:  # pragma: no cover - non-Linux
                    _real.write_fd(self._wfd, b"\x00")
            except BlockingIOError:  # pragma: no cover - pipe buffer full: already readable
                pass

    def recv(self) -> bool:
        """Clear the readable state; return whether it was set (False once closed)."""
        with self._lock:  # as send(): never read a closed fd number, which may be reused now
            if self._closed:
                return False
            try:
                if _HAS_EVENTFD:
                    os.eventfd_read(self._rfd)
                else:  # pragma: no cover - non-Linux
                    while _real.read_fd(self._rfd, 4096):
                        pass
            except BlockingIOError:
                return False
            return True

    def wait(self, timeout: float | None) -> bool:
        """Block until readable or ``timeout`` seconds passed (None = forever). Does not clear."""
        ms = -1 if timeout is None else max(0, int(timeout * 1000 + 0.999))
        while True:
            try:
                return bool(self._poller.poll(ms))
            except InterruptedError:  # pragma: no cover - PEP 475 retries for us
                continue

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        _real.close_fd(self._rfd)
        if self._wfd != self._rfd:  # pragma: no cover - non-Linux
            _real.close_fd(self._wfd)


class LevelSignal:
    """An fd that is readable exactly while :meth:`set` is in force (level-triggered)."""

    __slots__ = ("_is_set", "_lock", "_signaler", "mask")

    def __init__(self, mask: int) -> None:
        self.mask = mask
        self._signaler = Signaler()
        self._lock = _real.Lock()
        self._is_set = False

    def fileno(self) -> int:
        return self._signaler.fileno()

    @property
    def is_set(self) -> bool:
        return self._is_set

    def set(self) -> None:
        with self._lock:
            if not self._is_set:
                self._is_set = True
                self._signaler.send()

    def clear(self) -> None:
        with self._lock:
            if self._is_set:
                self._is_set = False
                self._signaler.recv()

    def close(self) -> None:
        with self._lock:
            self._signaler.close()
