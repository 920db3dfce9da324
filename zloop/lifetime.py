"""Process lifetime: sockets and contexts that are dropped, the interpreter's exit, and ``fork()``.

Theory of operation
-------------------
*Dropped objects.* A :class:`~zloop.socket.Socket` is a thin handle over a
:class:`~zloop.socket_core.SocketCore`, which is what pipes, sessions, the inproc registry and the
context hold; the core refers back to the Socket only weakly. So a socket the program drops without
``close()`` is collected, as in pyzmq, and its finalizer has the core closed with its LINGER (a
``ResourceWarning`` says so, as pyzmq's ``__del__`` does); a collected ``Context`` is destroyed the
same way. A finalizer runs wherever the last reference went, possibly inside the garbage collector
while that thread holds one of zloop's locks, so it does no work there: it appends a job to the
*reaper*'s queue (an atomic ``deque.append``) and writes one byte to the reaper's pipe (no lock).
The reaper, one daemon thread per process started with the first context (libzmq has one per
context), runs the jobs: closing a core is what ``close()`` does, destroying a context is what
``destroy()`` does.

*Interpreter exit.* :func:`_flush_at_exit` runs from :mod:`atexit`: after every non-daemon thread
ended, while daemon threads -- the I/O threads among them -- still run (after ``atexit`` they are
frozen, so this is the last moment anything can still be delivered). Every context still alive is
wound down as a libzmq program that closes its sockets and calls ``zmq_ctx_term`` would be:

1. each open socket is closed with its LINGER, except one another live thread is using (the thread
   that made it or last blocked in it is alive and is not this one): that one stays open, as pyzmq's
   socket stays open while a daemon thread still holds it;
2. a context whose sockets are all closed is terminated: its I/O threads deliver what the sockets
   queued (LINGER -1: until delivered), then stop. A context that still has an open socket is not
   terminated, but its I/O threads finish the lingering of its closed sockets before exit goes on;
3. at exit nobody waits for a peer to come back: a lingering connection that is down is not retried,
   and what was queued for it is dropped (``zmq_ctx_term`` would wait for that peer forever; pyzmq,
   which does not terminate at exit, drops it too). See ``Session`` ("exit").

*fork().* The child inherits the memory of every context and socket but none of their threads, and
their fds are shared with the parent: touching one would steal the parent's wake-ups. In the child
every inherited context and socket is marked *forked*: any use raises ``ZMQError(ENOTSUP)`` saying
so, ``close``/``term``/``destroy`` only mark them closed, their finalizers and the exit flush leave
them alone, :meth:`Context.instance` makes a new context, and the reaper starts afresh.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import warnings
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from zloop import _real

if TYPE_CHECKING:
    from zloop.context import ContextCore

log = logging.getLogger("zloop")

Job = Callable[[], Any]


class _Reaper:
    """Runs the jobs that finalizers hand over, in a thread of its own (see the module docstring)."""

    def __init__(self) -> None:
        self._jobs: deque[Job] = deque()
        self._rfd, self._wfd = os.pipe()
        os.set_blocking(self._wfd, False)
        self._thread: _real.Thread | None = None
        self._start_lock = _real.Lock()
        #: Held while a job runs: the exit flush takes it to wait for the job in progress.
        self._running = _real.Lock()

    def start(self) -> None:
        """Start the thread if it is not running (any thread; never from a finalizer)."""
        if self._thread is None:
            with self._start_lock:
                if self._thread is None:
                    thread = _real.Thread(self._run, "zloop-reaper")  # a daemon
                    thread.start()
                    self._thread = thread

    def adopt(self, job: Job) -> None:
        """Run ``job`` in the reaper. Safe anywhere, a finalizer inside the GC included."""
        self._jobs.append(job)
        with contextlib.suppress(BlockingIOError):  # a full pipe is already a wake-up
            _real.write_fd(self._wfd, b"\0")

    def run_pending(self) -> None:
        """Run the queued jobs in the calling thread, after the one in progress (exit)."""
        with self._running:
            self._drain()

    def _drain(self) -> None:
        jobs = self._jobs
        while jobs:
            try:
                job = jobs.popleft()
            except IndexError:  # the other runner took the last one
                return
            try:
                job()
            except Exception:
                log.exception("zloop: closing a collected socket or context failed")

    def _run(self) -> None:
        while True:
            try:
                _real.read_fd(self._rfd, 4096)
            except InterruptedError:  # pragma: no cover - PEP 475 retries for us
                continue
            with self._running:
                self._drain()


_reaper = _Reaper()
_pid = os.getpid()
#: Contexts of this process that are not terminated yet, in creation order (the exit flush).
_live: dict[ContextCore, None] = {}
_live_lock = _real.Lock()
_exiting = False


def started(core: ContextCore) -> None:
    """A context was made in this process: flush it at exit; make sure the reaper runs."""
    with _live_lock:
        _live[core] = None
    _reaper.start()


def ended(core: ContextCore) -> None:
    """A context was terminated."""
    with _live_lock:
        _live.pop(core, None)


def adopt(job: Job) -> None:
    """From a finalizer: have ``job`` run by the reaper (nothing is done once exit began)."""
    if not _exiting:
        _reaper.adopt(job)


def exiting() -> bool:
    return _exiting


def current_pid() -> int:
    return _pid


def warn_unclosed(what: str) -> None:
    """pyzmq's ResourceWarning for an object collected (or destroyed) while still open."""
    with contextlib.suppress(Exception):  # warnings may be half torn down at exit
        warnings.warn(what, ResourceWarning, stacklevel=2)


def _flush_at_exit() -> None:
    """Close what the program left open and deliver what it queued (see the module docstring)."""
    global _exiting
    if os.getpid() != _pid:  # pragma: no cover - a forked child's own atexit (see _after_fork)
        return
    _reaper.run_pending()
    _exiting = True
    me = _real.get_ident()
    with _live_lock:
        contexts = list(_live)
    for core in contexts:
        try:
            core.flush_at_exit(lambda ident: ident != me and _real.thread_alive(ident))
        except Exception:
            log.exception("zloop: flushing %r at exit failed", core)


def _after_fork_in_child() -> None:
    global _reaper, _pid, _live_lock
    parent = _pid
    _pid = os.getpid()
    # Locks another thread held at the fork stay held forever in the child: make new ones.
    _live_lock = _real.Lock()
    inherited = list(_live)
    _live.clear()
    _reaper = _Reaper()
    for core in inherited:
        core.mark_forked(parent)


atexit.register(_flush_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
