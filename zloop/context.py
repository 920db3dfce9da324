"""``Context``: owns the I/O threads, the inproc names and the sockets, as ``zmq.Context``.

``term()`` follows libzmq: every socket's blocking calls (in any thread) raise ``ContextTerminated``,
then term waits until every socket was closed by its owner and every closed socket's lingering
messages are sent (or its LINGER expired), and finally stops the I/O threads.

The state lives in a :class:`ContextCore`, which the sockets' cores refer to; the ``Context`` the
program holds is a handle over it. A Context the program drops without ``term()`` is destroyed by
the reaper, and contexts still alive at interpreter exit are flushed (see :mod:`zloop.lifetime`).
As in pyzmq, leaving a ``with Context() as ctx:`` block calls :meth:`Context.destroy`, warning
(ResourceWarning) about each socket it has to close.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from zloop import _real, lifetime
from zloop.constants import ContextOption, Errno, SocketOption
from zloop.errors import ZMQError
from zloop.inproc import InprocRegistry
from zloop.options import set_common
from zloop.socket import Socket

if TYPE_CHECKING:
    from zloop._real import LockType
    from zloop.io.reactor import IOThread
    from zloop.socket_core import SocketCore

#: libzmq's ZMQ_MAX_SOCKETS_DFLT and ZMQ_SOCKET_LIMIT.
_MAX_SOCKETS_DEFAULT = 1023
_SOCKET_LIMIT = 65535


class ContextCore:
    """I/O threads, inproc names and open sockets of one context (what its sockets refer to)."""

    def __init__(self, io_threads: int) -> None:
        self.io_thread_count = io_threads
        self.io_threads: list[IOThread] = []
        self.lock = _real.Lock()
        self._all_closed = _real.Condition(self.lock)
        #: Open sockets, in creation order (the exit flush closes them in that order).
        self.sockets: dict[SocketCore, None] = {}
        self.max_sockets = _MAX_SOCKETS_DEFAULT
        self.terminating = False
        self.closed = False
        self.forked_from = 0
        self.inproc = InprocRegistry()
        lifetime.started(self)

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"{len(self.sockets)} sockets"
        return f"<zloop.ContextCore({state}) at {id(self):#x}>"

    # -- sockets -------------------------------------------------------------------------------------

    def add(self, core: SocketCore) -> None:
        with self.lock:
            if self.forked_from:
                raise _forked_error(self.forked_from, "context")
            if self.terminating or self.closed:
                raise ZMQError(Errno.ETERM, "context was terminated")
            if len(self.sockets) >= self.max_sockets:
                raise ZMQError(Errno.EMFILE, f"too many sockets (MAX_SOCKETS={self.max_sockets})")
            self.sockets[core] = None

    def socket_closed(self, core: SocketCore) -> None:
        with self.lock:
            self.sockets.pop(core, None)
            if not self.sockets:
                self._all_closed.notify_all()

    def io_thread(self) -> IOThread:
        """The least loaded I/O thread, starting them on first use."""
        from zloop.io.reactor import IOThread

        with self.lock:
            if not self.io_threads:
                if self.io_thread_count == 0:
                    raise ZMQError(
                        Errno.EINVAL, "this context has io_threads=0: only inproc:// works"
                    )
                for i in range(self.io_thread_count):
                    thread = IOThread(f"zloop-io-{i}")
                    thread.start()
                    self.io_threads.append(thread)
            return min(self.io_threads, key=lambda t: t.load())

    # -- termination ---------------------------------------------------------------------------------

    def term(self) -> None:
        with self.lock:
            if self.closed:
                return
            if self.forked_from:
                self.closed = True  # the parent's threads and fds: nothing to wait for here
                return
            self.terminating = True
            sockets = list(self.sockets)
        for core in sockets:
            core.post(core.stop, 3)
        with self.lock:
            while self.sockets:
                self._all_closed.wait()
            threads, self.io_threads = self.io_threads, []
        for thread in threads:
            thread.stop()
        for thread in threads:
            thread.join()
        with self.lock:
            self.closed = True
        lifetime.ended(self)

    def destroy(self, linger: int | None, warn: bool) -> None:
        """Close every open socket (with ``linger`` if given), then terminate. Not thread-safe."""
        with self.lock:
            sockets = list(self.sockets)
        for core in sockets:
            if core.closed:
                continue
            sock = core.socket
            if warn:
                lifetime.warn_unclosed(
                    f"Destroying context with unclosed socket {sock if sock else core!r}"
                )
            if sock is not None:
                sock.close(linger=linger)
            else:
                if linger is not None:
                    set_common(core.options, SocketOption.LINGER, linger)
                core.close()
        self.term()

    def collected(self) -> None:
        """The Context handle was collected without term() (reaper job): destroy, as pyzmq."""
        if self.closed or self.forked_from:
            return
        self.destroy(None, warn=True)

    def flush_at_exit(self, used_elsewhere: Callable[[int], bool]) -> None:
        """Interpreter exit: close what is not in use elsewhere, deliver what was queued."""
        if self.closed or self.forked_from:
            return
        with self.lock:
            threads = list(self.io_threads)
            sockets = list(self.sockets)
        for thread in threads:
            thread.begin_exit()
        for core in sockets:
            if not core.closed and not used_elsewhere(core.home):
                sock = core.socket
                if sock is not None:
                    sock.close()
                else:
                    core.close()
        with self.lock:
            still_open = bool(self.sockets)
        if not still_open:
            self.term()
            return
        for thread in threads:
            thread.finish_closed_sockets()

    def mark_forked(self, parent: int) -> None:
        """In a fork's child (see zloop.lifetime): mark this context and its sockets dead."""
        self.forked_from = parent
        self.lock = _real.Lock()  # another thread may have held it at the fork
        self._all_closed = _real.Condition(self.lock)
        self.io_threads = []
        for core in list(self.sockets):
            core.mark_forked(parent)


def _forked_error(parent: int, what: str) -> ZMQError:
    return ZMQError(
        Errno.ENOTSUP,
        f"this {what} belongs to process {parent}, the parent of a fork(): its threads do not "
        "exist here; make a new Context in this process",
    )


def _context_collected(core: ContextCore, name: str) -> None:
    """Finalizer of a Context handle (any thread, maybe inside the GC): hand over to the reaper."""
    if core.closed or core.forked_from or lifetime.exiting():
        return
    lifetime.warn_unclosed(f"Unclosed context {name}")
    lifetime.adopt(core.collected)


class Context:
    """A ZeroMQ context. Thread-safe; sockets made from it are not."""

    _instance: ClassVar[Context | None] = None
    _instance_pid: ClassVar[int] = 0
    _instance_lock: ClassVar[LockType] = _real.Lock()

    def __init__(self, io_threads: int = 1, **kwargs: Any) -> None:
        if isinstance(io_threads, bool) or not isinstance(io_threads, int) or io_threads < 0:
            raise ZMQError(Errno.EINVAL, f"io_threads must be an int >= 0, got {io_threads!r}")
        core = self._core = ContextCore(io_threads)
        self._inproc = core.inproc
        self._sockopts: dict[int, Any] = {}
        finalizer = weakref.finalize(
            self, _context_collected, core, f"<zloop.Context at {id(self):#x}>"
        )
        finalizer.atexit = False  # the exit flush (zloop.lifetime) handles live contexts
        for name, value in kwargs.items():
            self.set(getattr(ContextOption, name.upper()), value)

    @classmethod
    def instance(cls, io_threads: int = 1) -> Context:
        """The process-wide shared context (made anew if the previous one was terminated, or
        belongs to the parent of a fork)."""
        if cls._instance_pid != os.getpid():
            cls._instance_lock = _real.Lock()  # another thread may have held it at the fork
        with cls._instance_lock:
            inst = cls._instance
            if inst is None or inst.closed or cls._instance_pid != os.getpid():
                inst = cls._instance = cls(io_threads)
                cls._instance_pid = os.getpid()
            return inst

    def __repr__(self) -> str:
        core = self._core
        state = "closed" if core.closed else f"{len(core.sockets)} sockets"
        return f"<zloop.Context({state}) at {id(self):#x}>"

    def __enter__(self) -> Context:
        return self

    def __exit__(self, *exc: object) -> None:
        """Leave a ``with`` block as pyzmq does: destroy, warning about each unclosed socket."""
        self._core.destroy(None, warn=True)

    @property
    def closed(self) -> bool:
        return self._core.closed

    @property
    def _io_threads(self) -> list[IOThread]:
        return self._core.io_threads

    # -- sockets -----------------------------------------------------------------------------------

    def socket(self, socket_type: int, **kwargs: Any) -> Socket:
        """A new socket of ``socket_type`` (``zloop.PUSH`` ...)."""
        sock = Socket(self, socket_type)
        try:
            for option, value in self._sockopts.items():
                sock.setsockopt(option, value)
            for name, value in kwargs.items():
                sock.setsockopt(getattr(SocketOption, name.upper()), value)
        except BaseException:
            sock.close(linger=0)
            raise
        return sock

    def _io_thread(self) -> IOThread:
        """The least loaded I/O thread, starting them on first use."""
        return self._core.io_thread()

    # -- termination -------------------------------------------------------------------------------

    def term(self) -> None:
        """Terminate: wake blocked calls with ContextTerminated, wait for every socket to close."""
        self._core.term()

    def destroy(self, linger: int | None = None) -> None:
        """Close every socket (with ``linger`` if given), then terminate. Not thread-safe."""
        self._core.destroy(linger, warn=False)

    # -- options -----------------------------------------------------------------------------------

    def set(self, option: int, value: Any) -> None:
        core = self._core
        if option == ContextOption.IO_THREADS:
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ZMQError(Errno.EINVAL, f"IO_THREADS must be an int >= 0, got {value!r}")
            with core.lock:
                if core.io_threads:
                    raise ZMQError(
                        Errno.EINVAL, "IO_THREADS cannot change after the I/O threads started"
                    )
                core.io_thread_count = value
        elif option == ContextOption.MAX_SOCKETS:
            if (
                isinstance(value, bool)
                or not isinstance(value, int)
                or not 1 <= value <= _SOCKET_LIMIT
            ):
                raise ZMQError(
                    Errno.EINVAL, f"MAX_SOCKETS must be 1..{_SOCKET_LIMIT}, got {value!r}"
                )
            core.max_sockets = value
        elif option == ContextOption.BLOCKY:
            pass  # linger behaviour of term() is already libzmq's default (blocky)
        else:
            raise ZMQError(Errno.EINVAL, f"unknown or unsupported context option {option!r}")

    def get(self, option: int) -> Any:
        core = self._core
        if option == ContextOption.IO_THREADS:
            return core.io_thread_count
        if option == ContextOption.MAX_SOCKETS:
            return core.max_sockets
        if option == ContextOption.SOCKET_LIMIT:
            return _SOCKET_LIMIT
        raise ZMQError(Errno.EINVAL, f"unknown or unsupported context option {option!r}")

    # Default socket options for sockets made afterwards (pyzmq's ``ctx.setsockopt``).
    def setsockopt(self, option: int, value: Any) -> None:
        self._sockopts[option] = value

    def getsockopt(self, option: int) -> Any:
        try:
            return self._sockopts[option]
        except KeyError:
            raise ZMQError(Errno.EINVAL, f"no default set for socket option {option!r}") from None
