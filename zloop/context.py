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

import contextlib
import os
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, overload

from zloop import _real, lifetime
from zloop._sockattrs import declared
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
        #: Set while no socket is open (term waits for it).
        self._all_closed = _real.Event()
        self._all_closed.set()
        #: Open sockets, in creation order (the exit flush closes them in that order).
        self.sockets: dict[SocketCore, None] = {}
        self.max_sockets = _MAX_SOCKETS_DEFAULT
        self.terminating = False
        self.closed = False
        self.forked_from = 0
        self.inproc = InprocRegistry()
        #: Context options libzmq keeps and zloop only reports (see Context.set).
        self.settings: dict[int, int] = {
            ContextOption.THREAD_SCHED_POLICY: -1,
            ContextOption.MAX_MSGSZ: _INT_MAX,
            ContextOption.THREAD_NAME_PREFIX: 0,
            ContextOption.BLOCKY: 1,
        }
        #: THREAD_AFFINITY_CPU_ADD/REMOVE (accepted and reported, zloop's I/O threads keep theirs).
        self.cpus: set[int] = set()
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
            self._all_closed.clear()

    def socket_closed(self, core: SocketCore) -> None:
        with self.lock:
            self.sockets.pop(core, None)
            if not self.sockets:
                self._all_closed.set()

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
        me = _real.get_ident()
        for core in sockets:
            # A close an exception cut short (a KeyboardInterrupt in the program's close) is
            # finished here: the program saw the socket closed (see SocketCore.close).
            if core.closed and not core.close_done and core.closer in (0, me):
                core.close()
        self._all_closed.wait()  # no socket can be added once terminating
        with self.lock:
            threads = list(self.io_threads)
        # Resumable as well: the threads are forgotten only once they ended.
        for thread in threads:
            thread.stop()
        for thread in threads:
            thread.join()
        with self.lock:
            self.io_threads = []
            self.closed = True
        lifetime.ended(self)

    def destroy(self, linger: int | None, warn: bool) -> None:
        """Close every open socket (with ``linger`` if given), then terminate. Not thread-safe."""
        with self.lock:
            sockets = list(self.sockets)
        for core in sockets:
            if core.closed:
                if not core.close_done:
                    core.close()  # cut short by an exception: finish it
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
            if not core.close_done and not used_elsewhere(core.home):
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
        self._all_closed = _real.Event()
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


#: Every live context core by its address (``Context.underlying``), for ``Context.shadow``.
_CORES: weakref.WeakValueDictionary[int, ContextCore] = weakref.WeakValueDictionary()

#: libzmq's ZMQ_MSG_T_SIZE (``sizeof(zmq_msg_t)``), what ``ctx.get(MSG_T_SIZE)`` reports.
_MSG_T_SIZE = 64
_INT_MAX = 2**31 - 1


class Context:
    """A ZeroMQ context. Thread-safe; sockets made from it are not.

    As pyzmq's: ``Context(io_threads=1)``, or a *shadow* of another context (``Context(other)``,
    ``Context(shadow=other_or_its_underlying)``, ``Context.shadow(...)``, ``copy.copy(ctx)``): a
    second handle on the same context, which does not destroy it when dropped. Context options are
    attributes (``ctx.io_threads``), and so are default socket options for the sockets made
    afterwards (``ctx.linger = 0``, kept in :attr:`sockopts`).
    """

    _instance: ClassVar[Context | None] = None
    _instance_pid: ClassVar[int] = 0
    _instance_lock: ClassVar[LockType] = _real.Lock()
    #: The class of the sockets ``socket()`` makes (a subclass may set its own, as in pyzmq).
    _socket_class: ClassVar[type[Socket]] = Socket
    #: Default socket options of the sockets ``socket()`` makes (``ctx.setsockopt``).
    sockopts: dict[int, Any]
    _core: ContextCore
    _inproc: InprocRegistry
    _shadow_obj: Any

    def __init__(
        self, io_threads: int | Context = 1, shadow: Context | int = 0, **kwargs: Any
    ) -> None:
        if not isinstance(io_threads, int):  # Context(other): a shadow, as pyzmq >= 25
            shadow, io_threads = io_threads, 1
        object.__setattr__(self, "sockopts", {})
        if shadow:
            core = _shadowed_core(shadow)
            object.__setattr__(self, "_shadow_obj", shadow)  # keeps a shadowed handle alive
        else:
            if isinstance(io_threads, bool) or io_threads < 0:
                raise ZMQError(Errno.EINVAL, f"io_threads must be an int >= 0, got {io_threads!r}")
            core = ContextCore(io_threads)
            _CORES[id(core)] = core
            name = f"<{type(self).__module__}.{type(self).__qualname__} at {id(self):#x}>"
            finalizer = weakref.finalize(self, _context_collected, core, name)
            finalizer.atexit = False  # the exit flush (zloop.lifetime) handles live contexts
        object.__setattr__(self, "_core", core)
        object.__setattr__(self, "_inproc", core.inproc)
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

    # -- shadows -----------------------------------------------------------------------------------

    @property
    def underlying(self) -> int:
        """The address of this context's core (libzmq's is a ``void *``): ``Context.shadow`` takes
        it, in this process only."""
        return id(self._core)

    @classmethod
    def shadow(cls: type[_C], address: int | Context) -> _C:
        """Another handle on the context at ``address`` (``underlying``) or of a Context object."""
        return cls(shadow=address)

    @classmethod
    def shadow_pyczmq(cls: type[_C], ctx: Any) -> _C:
        """pyczmq's ``zctx_t`` wraps a libzmq context, which zloop cannot use."""
        raise NotImplementedError(
            "shadow_pyczmq: a pyczmq context is a libzmq context, which zloop cannot shadow"
        )

    def __copy__(self: _C, memo: Any = None) -> _C:
        """A copy is a shadow (pyzmq)."""
        return type(self).shadow(self.underlying)

    __deepcopy__ = __copy__

    def __repr__(self) -> str:
        cls = type(self)
        name = "zloop.Context" if cls is Context else f"{cls.__module__}.{cls.__qualname__}"
        core = self._core
        count = len(core.sockets)
        sockets = f"{count} socket{'s' if count > 1 else ''}" if count else ""
        return f"<{name}({sockets}) at {id(self):#x}{' closed' if core.closed else ''}>"

    def __enter__(self) -> Context:
        return self

    def __exit__(self, *exc: object) -> None:
        """Leave a ``with`` block as pyzmq does: destroy, warning about each unclosed socket."""
        self._core.destroy(None, warn=True)

    @property
    def closed(self) -> bool:
        """True once the context was terminated (:meth:`term` or :meth:`destroy`, through any handle)."""
        return self._core.closed

    @property
    def _io_threads(self) -> list[IOThread]:
        return self._core.io_threads

    # -- sockets -----------------------------------------------------------------------------------

    @overload
    def socket(self, socket_type: int, socket_class: None = None, **kwargs: Any) -> Socket: ...

    @overload
    def socket(self, socket_type: int, socket_class: Callable[..., _S], **kwargs: Any) -> _S: ...

    def socket(
        self, socket_type: int, socket_class: Callable[..., Any] | None = None, **kwargs: Any
    ) -> Any:
        """Make a socket of this context.

        Args:
            socket_type: A :class:`SocketType` (``zloop.PUSH``, ``zloop.ROUTER``...).
            socket_class: The class (or factory) to make it with; by default the context's socket class
                (:class:`Socket`, or an adapter's).
            **kwargs: Passed to the socket class (``copy_threshold``).

        Returns:
            The new socket, with the default options of :attr:`sockopts` that apply to its type already
            set (the others are skipped, as in pyzmq).

        Raises:
            ZMQError: ``EINVAL`` for an unknown or draft socket type (zloop has none of libzmq's draft
                types), ``EMFILE`` beyond MAX_SOCKETS, ``ETERM`` while the context terminates,
                ``ENOTSUP`` once it is closed.
        """
        if self.closed:
            raise ZMQError(Errno.ENOTSUP, "the context is closed")
        cls: Callable[..., Any] = self._socket_class if socket_class is None else socket_class
        sock = cls(self, socket_type, **kwargs)
        try:
            for option, value in self.sockopts.items():
                # An option this type does not take (SUBSCRIBE on a PUSH...) is skipped, as pyzmq.
                with contextlib.suppress(ZMQError):
                    sock.setsockopt(option, value)
        except BaseException:
            sock.close(linger=0)
            raise
        return sock

    def _io_thread(self) -> IOThread:
        """The least loaded I/O thread, starting them on first use."""
        return self._core.io_thread()

    # -- termination -------------------------------------------------------------------------------

    def term(self) -> None:
        """Terminate the context (``zmq_ctx_term``).

        Blocking calls on its sockets, in any thread, raise :class:`ContextTerminated`; then ``term``
        waits until every socket is closed and their lingering messages are sent (or LINGER expired).
        A socket that is never closed makes ``term`` wait for ever, as in libzmq: see :meth:`destroy`.
        """
        self._core.term()

    def destroy(self, linger: int | None = None) -> None:
        """Close every socket of this context, then terminate it.

        Not thread-safe: use it only when no other thread is using the sockets.

        Args:
            linger: If given, the LINGER (milliseconds) every socket is closed with.
        """
        self._core.destroy(linger, warn=False)

    # -- options -----------------------------------------------------------------------------------

    def set(self, option: int, optval: Any) -> None:
        """Set a context option (``zmq_ctx_set``), with libzmq's checks.

        Args:
            option: A :class:`ContextOption` (``IO_THREADS``, ``MAX_SOCKETS``, ``BLOCKY``...).
            optval: An int.

        Raises:
            TypeError: If ``optval`` is not an int.
            ZMQError: ``EINVAL`` for an unknown or read-only option or a value out of range, and for
                ``IO_THREADS`` once the I/O threads started.
            RuntimeError: Once the context was destroyed.

        ``THREAD_PRIORITY`` and the scheduling options are accepted and stored, as libzmq does, but zloop's
        threads are ordinary Python threads whose priority they do not change.
        """
        core = self._core
        if core.closed:
            raise RuntimeError("Context has been destroyed")
        if not isinstance(optval, int):
            raise TypeError(f"expected int, got: {optval!r}")
        value = int(optval)
        if option == ContextOption.IO_THREADS:
            _at_least(option, value, 0)
            with core.lock:
                if core.io_threads:
                    raise ZMQError(
                        Errno.EINVAL, "IO_THREADS cannot change after the I/O threads started"
                    )
                core.io_thread_count = value
        elif option == ContextOption.MAX_SOCKETS:
            if not 1 <= value <= _SOCKET_LIMIT:
                raise ZMQError(
                    Errno.EINVAL, f"MAX_SOCKETS must be 1..{_SOCKET_LIMIT}, got {value!r}"
                )
            core.max_sockets = value
        elif option == ContextOption.THREAD_PRIORITY:
            _at_least(option, value, 0)  # accepted, as libzmq; zloop's threads keep theirs
        elif option == ContextOption.THREAD_SCHED_POLICY or option == ContextOption.MAX_MSGSZ:
            core.settings[option] = _at_least(option, value, 0)
        elif option == ContextOption.THREAD_AFFINITY_CPU_ADD:
            core.cpus.add(_at_least(option, value, 0))
        elif option == ContextOption.THREAD_AFFINITY_CPU_REMOVE:
            if value not in core.cpus:
                raise ZMQError(Errno.EINVAL, f"CPU {value} was not added to the I/O affinity")
            core.cpus.discard(value)
        elif option == ContextOption.BLOCKY:
            # 0: sockets made afterwards start with LINGER 0, so term() does not wait (libzmq).
            core.settings[option] = int(_at_least(option, value, 0) != 0)
        elif option == ContextOption.THREAD_NAME_PREFIX:
            core.settings[option] = value
        else:
            raise ZMQError(Errno.EINVAL, f"unknown or read-only context option {option!r}")

    def get(self, option: int) -> int:
        """Read a context option (``zmq_ctx_get``).

        Args:
            option: A :class:`ContextOption`.

        Returns:
            The option's value.

        Raises:
            ZMQError: ``EINVAL`` for an unknown or write-only option.
            RuntimeError: Once the context was destroyed.
        """
        core = self._core
        if core.closed:
            raise RuntimeError("Context has been destroyed")
        if option == ContextOption.IO_THREADS:
            return core.io_thread_count
        if option == ContextOption.MAX_SOCKETS:
            return core.max_sockets
        if option == ContextOption.SOCKET_LIMIT:
            return _SOCKET_LIMIT
        if option == ContextOption.MSG_T_SIZE:
            return _MSG_T_SIZE
        if option in core.settings:
            return core.settings[option]
        raise ZMQError(Errno.EINVAL, f"unknown or write-only context option {option!r}")

    # Default socket options for sockets made afterwards (pyzmq's ``ctx.setsockopt``).
    def setsockopt(self, opt: int, value: Any) -> None:
        """Set a default socket option for the sockets this context makes afterwards.

        Sockets that already exist are not changed; a new socket whose type does not have the option
        skips it.

        Args:
            opt: A :class:`SocketOption`.
            value: Its value.
        """
        self.sockopts[opt] = value

    def getsockopt(self, opt: int) -> Any:
        """A default socket option set with :meth:`setsockopt`.

        Args:
            opt: A :class:`SocketOption`.

        Returns:
            The value set.

        Raises:
            KeyError: If no default was set for ``opt`` (as pyzmq).
        """
        return self.sockopts[opt]

    # -- options as attributes (pyzmq's AttributeSetter) ---------------------------------------------

    def __dir__(self) -> list[str]:
        return [*dir(type(self)), *ContextOption.__members__]

    def __setattr__(self, key: str, value: Any) -> None:
        """``ctx.io_threads = 2`` sets a context option, ``ctx.linger = 0`` a default socket option;
        any other name must be declared by the class (pyzmq's rule; ``_private`` names are free)."""
        if key[:1] == "_" or key in self.__dict__ or declared(type(self), key):
            object.__setattr__(self, key, value)
            return
        upper = key.upper()
        if upper in ContextOption.__members__:
            self.set(ContextOption[upper], value)
        elif upper in SocketOption.__members__:
            self.sockopts[SocketOption[upper]] = value
        else:
            raise AttributeError(f"{type(self).__name__} has no such option: {upper}")

    def __getattr__(self, key: str) -> Any:
        if key[:1] == "_":
            raise AttributeError(key)
        upper = key.upper()
        if upper in ContextOption.__members__:
            try:
                return self.get(ContextOption[upper])
            except ZMQError as exc:
                if exc.errno == Errno.EINVAL:
                    raise AttributeError(f"{key} attribute is write-only") from None
                raise
        if upper in SocketOption.__members__:
            try:
                return self.sockopts[SocketOption[upper]]
            except KeyError:
                raise AttributeError(key) from None
        raise AttributeError(f"{type(self).__name__} has no such option: {upper}")

    def __delattr__(self, key: str) -> None:
        if key in self.__dict__:
            object.__delattr__(self, key)
            return
        upper = key.upper()
        if upper not in SocketOption.__members__:
            raise AttributeError(f"No such socket option: {upper!r}")
        try:
            del self.sockopts[SocketOption[upper]]
        except KeyError:
            raise AttributeError(upper) from None


_C = TypeVar("_C", bound=Context)
_S = TypeVar("_S")

#: pyzmq's names for the plain (blocking) flavour.
SyncContext = Context


def _at_least(option: int, value: int, lo: int) -> int:
    if value < lo:
        name = ContextOption(option).name
        raise ZMQError(Errno.EINVAL, f"{name} must be >= {lo}, got {value}")
    return value


def _shadowed_core(shadow: Any) -> ContextCore:
    """The core a shadow shares: of a Context object (or a wrapper with ``underlying``), or at an
    address ``underlying`` gave."""
    if isinstance(shadow, Context):
        return shadow._core
    address = shadow if isinstance(shadow, int) else getattr(shadow, "underlying", None)
    if not isinstance(address, int):
        raise TypeError(f"cannot shadow {shadow!r}: not a zloop Context or its address")
    core = _CORES.get(address)
    if core is None:
        raise ZMQError(
            Errno.EFAULT,
            f"cannot shadow {shadow!r}: no zloop context lives at this address (a libzmq "
            "context, as pyzmq's underlying, cannot be shadowed by zloop)",
        )
    return core
