"""The public ``Socket``: pyzmq's API over a pattern, pipes, a mailbox and the I/O thread.

A socket lives in one application thread at a time (sockets are **not thread-safe**, as in libzmq;
hand one to another thread only with a full memory barrier such as a queue or a lock). Everything a
peer or an I/O thread wants from it arrives as a command in its :class:`~zloop.mailbox.Mailbox`.
**Every send and recv first runs the commands queued at that moment** (:meth:`Socket._run_queued`:
a peer that arrived or left is seen by the very next send); a call that finds nothing to do, or
blocks, also consumes the FD's signal (:meth:`Socket._process_commands`).

The Socket is a handle: what the I/O thread, the pipes and the context hold is its
:class:`~zloop.socket_core.SocketCore`, so a Socket the program drops is collected and then closed
with its LINGER, as in pyzmq (see :mod:`zloop.lifetime`).

Readiness (docs/readiness.md)
---------------------
* ``FD`` is the mailbox's signal fd: edge-triggered, consumed by the calls that look for work and
  find none or wait (``EVENTS``, ``poll``, a send/recv that would block); a send/recv that succeeds
  runs queued commands but leaves the signal, so the fd may stay readable (a spurious wake-up, never
  a lost one). After a wake-up, read ``EVENTS`` and drain with
  ``NOBLOCK`` until ``Again``. The guarantee: once ``EVENTS`` reported a direction as not ready, the
  fd fires when that changes — because a pattern only says "not ready" after asking its pipes, and a
  pipe that was found empty (or full) always posts a command when that changes, and a command posted
  to an idle mailbox always signals.
* :meth:`Socket.level_fd` gives an opt-in fd that is readable exactly while ``EVENTS`` has the asked
  bits: writers set it when they post a command that may make the socket ready, and the socket clears
  it after any call that leaves it not ready (clearing first, then re-checking, so a concurrent set is
  never lost).
"""

from __future__ import annotations

import itertools
import json
import pickle
import sys
import time
import weakref
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar, overload

from zloop import _real, lifetime
from zloop._sockattrs import (
    SocketOptionAttributes,
    declared_only_setattr,
    install_option_attributes,
)
from zloop.constants import (
    BYTES_OPTIONS,
    ContextOption,
    Errno,
    Flag,
    PollEvent,
    SocketOption,
    SocketType,
)
from zloop.errors import Again, ContextTerminated, ZMQBindError, ZMQError
from zloop.io.engine import (
    APP_READ_BUSY,
    APP_READ_EMPTY,
    APP_READ_GOT,
    APP_READ_WOKE,
    StreamEngine,
)
from zloop.io.reactor import RECV_BUFFER_SIZE
from zloop.io.session import Session
from zloop.io.signaler import LevelSignal
from zloop.message import Frame, frame_for_send, message_for_send
from zloop.monitor import Monitor, check_monitor_args
from zloop.options import Options, check_value_type, get_common, is_common, set_common
from zloop.patterns import PATTERNS
from zloop.patterns.pipeline import Pull
from zloop.pipe import Msg, Pipe
from zloop.protocol.frames import recycle_body
from zloop.socket_core import SocketCore
from zloop.tracker import COPY_THRESHOLD, FINISHED_TRACKER, MessageTracker

if TYPE_CHECKING:
    from zloop.context import Context

#: References to a received frame while :func:`_copy_out` copies it, when nothing outside
#: ``recv`` holds it: the message list, the caller's variable, the parameter, getrefcount's
#: argument. Counted on CPython 3.10-3.13; 3.14 borrows references on the interpreter's stack
#: (its counts can be lower while another holder exists), and other interpreters have no
#: getrefcount: there zloop never recycles a body (correct, only slower for large frames).
_RECYCLABLE_REFS = 4
RECYCLES_BODIES = sys.version_info < (3, 14) and hasattr(sys, "getrefcount")
_refcount: Callable[[Any], int] = (
    sys.getrefcount if RECYCLES_BODIES else (lambda _obj: _RECYCLABLE_REFS + 1)
)


def _copy_out(data: Any) -> bytes:
    """``bytes(data)`` of a received frame that is not ``bytes`` (``recv`` with ``copy=True``).

    A large body the decoder made (a ``bytearray``) that nothing else holds is handed back for
    the next large body to reuse (:func:`zloop.protocol.frames.recycle_body`). Call it only with
    the frame held by the message list and one variable of the caller (see _RECYCLABLE_REFS)."""
    copied = bytes(data)
    if type(data) is bytearray and _refcount(data) <= _RECYCLABLE_REFS:
        recycle_body(data)
    return copied


#: Messages a PULL socket's recv() takes from its pipe at once (see Pipe.take_ahead).
_READ_AHEAD = 256

NOBLOCK = int(Flag.NOBLOCK)
SNDMORE = int(Flag.SNDMORE)
POLLIN = int(PollEvent.POLLIN)
POLLOUT = int(PollEvent.POLLOUT)

_T = TypeVar("_T")
_SocketT = TypeVar("_SocketT", bound="Socket")

#: Every live socket core by its address (``Socket.underlying``), for ``Socket.shadow``.
_CORES: weakref.WeakValueDictionary[int, SocketCore] = weakref.WeakValueDictionary()


def _is_context(obj: Any) -> bool:
    from zloop.context import Context

    return isinstance(obj, Context)


def _shadowed_core(shadow: Any) -> SocketCore:
    """The core a shadow shares: at an address ``underlying`` gave, or of an object with one."""
    address = shadow if isinstance(shadow, int) else getattr(shadow, "underlying", None)
    if not isinstance(address, int):
        raise TypeError(f"cannot shadow {shadow!r}: not a zloop Socket or its address")
    core = _CORES.get(address)
    if core is None:
        raise ZMQError(
            Errno.ENOTSOCK,
            f"cannot shadow {shadow!r}: no zloop socket lives at this address (a libzmq "
            "socket, as pyzmq's underlying, cannot be shadowed by zloop)",
        )
    return core


class Socket(SocketOptionAttributes):
    """A ZeroMQ socket: create it with :meth:`Context.socket` (or ``Socket(ctx, type)``).

    The API is pyzmq's: ``bind``/``connect``, ``send``/``recv`` and their multipart, string, JSON and
    pickle variants, options through ``setsockopt``/``getsockopt`` or as attributes
    (``sock.linger = 0``, ``sock.SNDHWM``), ``FD``/``EVENTS`` for event loops, and monitoring. The
    behaviour on the wire and the errors (``errno``) are libzmq's.

    A socket is not thread-safe: use it from one thread at a time, as with libzmq. It is a handle:
    dropping it without :meth:`close` lets the garbage collector close it with its LINGER, as pyzmq
    does. ``with ctx.socket(zloop.PUSH) as s:`` closes it on exit.

    Differences from pyzmq:

    * writing an attribute that is not a socket option nor declared by a subclass raises
      ``AttributeError`` (pyzmq too), and so do option names in mixed case (``sock.Linger``), which
      pyzmq accepts;
    * :meth:`level_fd` is zloop's addition: a level-triggered fd, for loops that cannot follow the
      edge-triggered ``FD`` discipline;
    * the draft socket types and draft methods (``join``/``leave``, ``routing_id``) raise, as pyzmq
      built without draft support.
    """

    # Options are attributes (``sock.linger = 0``, zloop._sockattrs); slots make any other name
    # an AttributeError (a misspelt option) without a __setattr__ on the send/recv path.
    __slots__ = {
        "__weakref__": "",
        "_ahead": "",
        "_closed": "",
        "_core": "",
        "_ctx_terminated": "",
        "_endpoints": "",
        "_finalizer": "",
        "_in_index": "",
        "_in_msg": "",
        "_in_pipe": "",
        "_level_lock": "",
        "_levels": "",
        "_mailbox": "",
        "_monitor_socket": "",
        "_options": "",
        "_out_msg": "",
        "_pattern": "",
        "_queued": "",
        "_rcvmore": "",
        "_read_ahead": "",
        "_shadow_obj": "",
        "context": "The :class:`Context` this socket belongs to.",
        "copy_threshold": "``send(copy=False)`` copies a frame smaller than this many bytes instead of sharing its buffer (default :data:`zloop.COPY_THRESHOLD`; 0 shares every frame).",
        "socket_type": "The socket type, a :class:`SocketType` (the ``TYPE`` option).",
    }

    context: Context
    copy_threshold: int

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__slots__" not in cls.__dict__ and "__setattr__" not in cls.__dict__:
            # A subclass with a __dict__: pyzmq's rule (options and declared names only).
            cls.__setattr__ = declared_only_setattr  # type: ignore[method-assign]

    def __init__(
        self,
        ctx_or_socket: Context | Socket | None = None,
        socket_type: int = 0,
        *,
        shadow: Any = 0,
        copy_threshold: int | None = None,
    ) -> None:
        """``Socket(ctx, type)`` (as ``ctx.socket(type)``), or a shadow: ``Socket(other)``,
        ``Socket(shadow=other_or_its_underlying)`` -- another handle on the same socket (see
        :meth:`shadow`). ``copy_threshold``: see :attr:`copy_threshold`."""
        if ctx_or_socket is not None and not _is_context(ctx_or_socket):
            shadow, ctx_or_socket = ctx_or_socket, None  # Socket(other_socket), as pyzmq >= 25
        self.copy_threshold = COPY_THRESHOLD if copy_threshold is None else copy_threshold
        if shadow:
            self._attach_shadow(shadow)
            return
        if ctx_or_socket is None:
            raise TypeError("context must be specified")
        context: Context = ctx_or_socket  # type: ignore[assignment]  # a Context (_is_context)
        try:
            stype = SocketType(socket_type)
        except ValueError:
            raise ZMQError(Errno.EINVAL, f"unknown socket type {socket_type!r}") from None
        pattern_cls = PATTERNS.get(stype)
        if pattern_cls is None:
            raise ZMQError(
                Errno.EINVAL,
                f"socket type {stype.name} is one of libzmq's draft types, "
                "which zloop does not implement yet",
            )
        self.context = context
        # Everything the rest of zloop holds lives in the core (see zloop/socket_core.py); the
        # attributes below are the same objects, kept here for the hot paths.
        options = Options(stype)
        if not context._core.settings[ContextOption.BLOCKY]:
            options.linger = 0  # libzmq: a non-blocky context's sockets do not linger
        core = SocketCore(context._core, stype, pattern_cls(options), self)
        try:
            context._core.add(core)
        except BaseException:
            core.mailbox.close()
            raise
        self._attach_core(core)
        _CORES[id(core)] = core
        self._shadow_obj = None
        # Dropped without close(): the core is closed by the reaper (pyzmq closes in __del__).
        self._finalizer: weakref.finalize[Any, Any] | None = weakref.finalize(
            self, _collected, core, f"<zloop.Socket(zloop.{stype.name}) at {id(self):#x}>"
        )
        self._finalizer.atexit = False  # the exit flush (zloop.lifetime) closes live sockets

    def _attach_core(self, core: SocketCore) -> None:
        """The per-handle state of a handle on ``core`` (its own Socket, or a shadow)."""
        self._core = core
        self.socket_type = core.socket_type
        self._options = core.options
        self._pattern = core.pattern
        self._mailbox = core.mailbox
        # Truthy while a command is queued: every send and recv runs those first (_run_queued).
        self._queued = core.mailbox.queue
        #: Messages recv() read ahead (SocketCore.ahead, shared with the shadows); only PULL
        #: reads ahead (its one pipe's messages are what its fair queue would return anyway).
        self._ahead = core.ahead
        self._read_ahead = type(core.pattern) is Pull
        self._levels = core.levels
        self._level_lock = core.level_lock
        self._endpoints = core.endpoints
        self._in_msg: Msg | None = None  # frames of a message being read frame by frame
        self._in_pipe: Pipe | None = None
        self._in_index = 0
        self._out_msg: list[Any] | None = None  # frames sent with SNDMORE, not yet routed
        self._rcvmore = False
        self._closed = core.closed
        self._ctx_terminated = core.terminated
        self._monitor_socket: Socket | None = None  # get_monitor_socket()'s reader

    def _attach_shadow(self, shadow: Any) -> None:
        from zloop.context import Context

        if isinstance(shadow, Socket):
            core = shadow._core
            context = shadow.context
        else:
            core = _shadowed_core(shadow)
            inner = getattr(shadow, "context", None)  # a wrapper: its socket's context
            context = inner if isinstance(inner, Context) else Context(shadow=id(core.context))
        self.context = context
        self._attach_core(core)
        # A shadow does not own the socket: dropping it closes nothing (pyzmq). It keeps a Socket
        # it shadows alive (so that one's finalizer cannot close the socket under it).
        self._shadow_obj = shadow
        self._finalizer = None
        core.add_handle(self)

    @classmethod
    def shadow(cls: type[_SocketT], address: Any) -> _SocketT:
        """Another handle on the socket at ``address`` (``underlying``) or of a Socket object (or
        an adapter's socket over one), as pyzmq: both handles use the same socket -- options,
        endpoints, messages, closing -- and dropping the shadow closes nothing.

        zloop difference: a message read (or written) frame by frame with RCVMORE (SNDMORE) in one
        handle is continued in that handle only."""
        return cls(shadow=address)

    @property
    def underlying(self) -> int:
        """The address of this socket's core (libzmq's is a ``void *``): :meth:`shadow` takes it,
        in this process only."""
        return id(self._core)

    def __copy__(self: _SocketT, memo: Any = None) -> _SocketT:
        """A copy is a shadow (pyzmq)."""
        return type(self).shadow(self.underlying)

    __deepcopy__ = __copy__

    def __repr__(self) -> str:
        cls = type(self)
        name = "zloop.Socket" if cls is Socket else f"{cls.__module__}.{cls.__qualname__}"
        closed = " closed" if self.closed else ""
        return f"<{name}(zloop.{self.socket_type.name}) at {id(self):#x}{closed}>"

    # -- life cycle --------------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """True once this socket was closed (through any handle, or by ``Context.destroy``)."""
        return self._closed

    def __enter__(self) -> Socket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self, linger: int | None = None) -> None:
        """Close the socket.

        Messages still queued for a peer are sent for up to LINGER milliseconds (-1: until they are
        sent), by the I/O thread: ``close`` itself does not wait. Closing twice is harmless; shadows of
        this socket are closed with it.

        Args:
            linger: If given, set LINGER to this many milliseconds first.
        """
        core = self._core
        if core.close_done:
            self._closed = True
            return
        # Resumable (see SocketCore.close): a close cut short by an exception (a KeyboardInterrupt
        # from a signal handler) is finished by the next call; LINGER is the first call's.
        if linger is not None and not core.closed and not core.forked_from:
            self.setsockopt(SocketOption.LINGER, linger)
        core.close()  # marks this handle and every other (shadows) closed first
        if self._finalizer is not None:
            self._finalizer.detach()
        self._in_msg = self._in_pipe = self._out_msg = None

    def _check_usable(self) -> None:
        if self._closed:
            raise ZMQError(Errno.ENOTSOCK, "socket is closed")
        if self._ctx_terminated:
            self._core.check_not_forked()
            raise ContextTerminated()

    # -- commands ----------------------------------------------------------------------------------

    def _post(self, command: Callable[[], Any], hint: int) -> None:
        """Run ``command`` in this socket's thread (thread-safe). ``hint``: what it may make ready."""
        self._core.post(command, hint)

    def _run_queued(self) -> None:
        """Run the commands queued now, before a send or recv acts on the socket's state.

        A peer that arrived or left, a pipe that has room or messages again, a new subscription:
        each reaches the socket as a command, and the very next send/recv must see it (libzmq
        processes commands in every send/recv, throttled to ~1 ms; here the test is whether the
        queue is non-empty, so nothing is throttled and an idle mailbox costs one truth test).
        The FD's signal is left alone (see :meth:`Mailbox.run_queued`)."""
        if self._ahead:
            self._core.give_back_ahead()  # commands see the pipes as they would be without it
        self._mailbox.run_queued()
        if self._ctx_terminated:
            self._check_usable()

    def _process_commands(
        self, timeout: float | None, wait: Callable[[float | None], bool] | None = None
    ) -> bool:
        """Run queued commands, waiting up to ``timeout`` s for the first (``wait``: see
        :meth:`Mailbox.recv`). True if any ran."""
        mailbox = self._mailbox
        command = mailbox.recv(timeout, wait)
        if command is None:
            return False
        if self._ahead:
            self._core.give_back_ahead()  # commands see the pipes as they would be without it
        while command is not None:
            command()
            command = mailbox.recv(0)
        if self._ctx_terminated:
            self._check_usable()
        return True

    def _attached_here(self) -> None:
        """bind/connect attached a pipe in this thread, so no command announced it, yet the socket
        may now be ready (a connect makes it writable; an inproc bind may bring messages queued
        before it). Wake the edge FD as a peer's command would (an earlier EVENTS may have armed
        it) and set the level fds that are now ready, without processing commands."""
        self._mailbox.post(_noop)
        if self._levels:
            events = self._current_events()
            for level in self._levels:
                if events & level.mask:
                    level.set()

    def _attach_pipe(self, pipe: Pipe, pending: bool = False) -> None:
        self._core.attach_pipe(pipe, pending)

    @property
    def _monitor(self) -> Callable[[int, int, str], None] | None:
        """The event hook the I/O thread calls (a Monitor, or None)."""
        return self._core.monitor

    @_monitor.setter
    def _monitor(self, hook: Callable[[int, int, str], None] | None) -> None:
        self._core.monitor = hook

    # -- monitoring --------------------------------------------------------------------------------

    def monitor(self, addr: str | bytes | None, events: int = 0xFFFF) -> None:
        """Publish this socket's events on an inproc PAIR socket bound at ``addr`` (``zmq_socket_monitor``).

        Each event whose bit is in ``events`` becomes a two-frame message (parse it with
        :func:`zloop.parse_monitor_message`). Monitoring again replaces the previous monitor, which sends
        ``EVENT_MONITOR_STOPPED`` first. Events that a slow or absent reader cannot take are dropped:
        the I/O thread never blocks on the monitor.

        Args:
            addr: An ``inproc://`` endpoint; None stops monitoring.
            events: A mask of ``EVENT_*`` bits (default: all).

        Raises:
            ZMQError: ``EPROTONOSUPPORT`` for an endpoint that is not inproc, ``EADDRINUSE`` if the name
                is taken, ``ENOTSOCK`` once closed.
        """
        self._check_usable()
        if addr is None:
            self._core.stop_monitor()
            return
        if isinstance(addr, bytes):
            addr = addr.decode("utf-8")
        if not isinstance(addr, str):
            raise TypeError(f"monitor address must be str, not {type(addr).__name__}")
        check_monitor_args(addr, events)
        self._core.stop_monitor()
        self._core.monitor = Monitor(self.context, addr, int(events))

    def get_monitor_socket(self, events: int | None = None, addr: str | None = None) -> Socket:
        """Start monitoring and return a PAIR socket that receives the events.

        The monitor is bound at ``addr``, by default ``inproc://monitor.s-<FD>`` (with a ``.<n>``
        suffix if a closed socket's monitor still holds that name). While the returned socket is open,
        later calls return it again.

        Args:
            events: A mask of ``EVENT_*`` bits (default: all).
            addr: The inproc endpoint to use.

        Returns:
            The connected PAIR socket; close it (or call :meth:`disable_monitor`) when done.
        """
        reader = self._monitor_socket
        if reader is not None and not reader.closed:
            return reader
        self._check_usable()
        mask = 0xFFFF if events is None else events
        if addr is not None:
            self.monitor(addr, mask)
        else:
            base = addr = f"inproc://monitor.s-{self._mailbox.fileno()}"
            for n in itertools.count(1):
                try:
                    self.monitor(addr, mask)
                    break
                except ZMQError as exc:
                    if exc.errno != Errno.EADDRINUSE:
                        raise
                    addr = f"{base}.{n}"
        reader = self.context.socket(SocketType.PAIR)
        try:
            reader.connect(addr)
        except BaseException:
            reader.close(linger=0)
            raise
        self._monitor_socket = reader
        return reader

    def disable_monitor(self) -> None:
        """Stop monitoring: ``EVENT_MONITOR_STOPPED`` is sent and the monitor closed.

        The socket returned by :meth:`get_monitor_socket` stays open: closing it is yours.
        """
        self._monitor_socket = None
        self.monitor(None, 0)

    # -- endpoints ---------------------------------------------------------------------------------

    def bind(self: _SocketT, addr: str | bytes) -> _EndpointContext[_SocketT]:
        """Accept connections on an endpoint.

        Args:
            addr: ``tcp://interface:port`` (``*`` for the port picks a free one), ``ipc://path`` or
                ``inproc://name``; bytes are decoded as UTF-8.

        Returns:
            A context manager: ``with sock.bind(url):`` unbinds on exit (the port that was chosen, with a
            wildcard). The endpoint really bound is :attr:`last_endpoint`.

        Raises:
            ZMQError: ``EADDRINUSE`` if the address is taken, ``EINVAL`` for a malformed endpoint,
                ``EPROTONOSUPPORT`` for a transport zloop does not have (pgm, norm, tipc, vmci, ws).
        """
        addr = _endpoint_str(addr)
        self._bind(addr)
        return _EndpointContext(self, "bind", self._core.last_endpoint)

    def _bind(self, addr: str) -> None:
        self._check_usable()
        endpoint = _parse(addr, bind=True)
        if endpoint.transport == "inproc":
            handle: Any = self.context._inproc.bind(self._core, endpoint.address)
            resolved = addr
            # Pipes of connects that came before this bind were attached just now, in this thread.
            self._attached_here()
        else:
            from zloop.io import transport

            handle = transport.bind(
                self.context._io_thread(), self._core, endpoint, self._options.snapshot()
            )
            resolved = handle.last_endpoint
        self._core.last_endpoint = resolved
        self._endpoints.setdefault(resolved, []).append(handle)
        if resolved != addr:
            self._endpoints.setdefault(addr, []).append(handle)

    def connect(self: _SocketT, addr: str | bytes) -> _EndpointContext[_SocketT]:
        """Connect to an endpoint.

        Messages may be queued for the peer at once (unless the IMMEDIATE option is set), and the
        connection is retried in the background, with RECONNECT_IVL backoff, until it succeeds or the
        endpoint is disconnected.

        Args:
            addr: ``tcp://host:port``, ``ipc://path`` or ``inproc://name``; bytes are decoded as UTF-8
                (so ``connect(other.last_endpoint)`` works).

        Returns:
            A context manager that disconnects on exit (``with sock.connect(url):``).

        Raises:
            ZMQError: ``EINVAL`` for a malformed endpoint, ``EPROTONOSUPPORT`` for an unknown transport.
        """
        addr = _endpoint_str(addr)
        self._connect(addr)
        return _EndpointContext(self, "connect", addr)

    def _connect(self, addr: str) -> None:
        self._check_usable()
        endpoint = _parse(addr, bind=False)
        options = self._options.snapshot()
        self._options.connect_routing_id = b""  # applies to the next connect only, as libzmq
        handle: Any
        pipe: Pipe | None
        if endpoint.transport == "inproc":
            handle, pipe = self.context._inproc.connect(self._core, endpoint.address, options)
        else:
            from zloop.io import transport

            handle, pipe = transport.connect(
                self.context._io_thread(), self._core, endpoint, options
            )
        if pipe is not None:
            if options.connect_routing_id:  # the id this socket (a ROUTER) knows this peer by
                pipe.routing_id = options.connect_routing_id
            # Only an inproc pipe to a bound peer knows its peer already (tcp/ipc: after handshake).
            pending = endpoint.transport != "inproc" or not handle.bound
            self._attach_pipe(pipe, pending)
            self._attached_here()
        self._core.last_endpoint = addr
        self._endpoints.setdefault(addr, []).append(handle)

    def unbind(self, addr: str | bytes) -> None:
        """Stop accepting connections on an endpoint.

        Args:
            addr: The endpoint as given to :meth:`bind`, or the resolved one (:attr:`last_endpoint`).

        Raises:
            ZMQError: ``ENOENT`` if this socket is not bound there.
        """
        self._drop_endpoint(_endpoint_str(addr), "unbind")

    def disconnect(self, addr: str | bytes) -> None:
        """Drop a connection made by :meth:`connect` (messages queued for it are discarded after LINGER).

        Args:
            addr: The endpoint as given to :meth:`connect`.

        Raises:
            ZMQError: ``ENOENT`` if this socket did not connect there.
        """
        self._drop_endpoint(_endpoint_str(addr), "disconnect")

    def _drop_endpoint(self, addr: str, what: str) -> None:
        self._check_usable()
        handles = self._endpoints.pop(addr, None)
        if not handles:
            raise ZMQError(Errno.ENOENT, f"{what}: {addr!r} is not an endpoint of this socket")
        for key in [k for k, v in self._endpoints.items() if any(h in handles for h in v)]:
            del self._endpoints[key]
        if self._queued:
            self._run_queued()  # pipes already announced are among those to detach
        pipes = self._pattern.pipes()
        for handle in handles:
            owns = getattr(handle, "owns", None)
            if owns is not None:
                # As libzmq's term_endpoint: the socket ends its side of the endpoint's pipes now,
                # so the very next send can no longer pick them (their queued messages linger in
                # the session, up to the delimiter written here).
                for pipe in pipes:
                    if owns(pipe):
                        self._detach(pipe)
            handle.close(self._options.linger)
        self._process_commands(0)

    def _detach(self, pipe: Pipe) -> None:
        """End this socket's side of ``pipe`` and forget it (no command will announce it)."""
        self._core.give_back_ahead()  # dropped with the pipe's queue, as libzmq drops them
        pipe.terminate()
        self._pattern.pipe_terminated(pipe)

    def bind_to_random_port(
        self, addr: str, min_port: int = 49152, max_port: int = 65536, max_tries: int = 100
    ) -> int:
        """Bind to a free TCP port and return it.

        Args:
            addr: ``tcp://`` and an interface, without the port (``tcp://127.0.0.1``).
            min_port: The lowest port to try.
            max_port: One above the highest port to try.
            max_tries: How many random ports to try.

        Returns:
            The port that was bound.

        Raises:
            ZMQBindError: If no port could be bound in ``max_tries`` attempts.

        With the default range the operating system picks the port (one wildcard bind), as pyzmq does.
        """
        if min_port == 49152 and max_port == 65536 and max_tries == 100:
            self.bind(f"{addr}:*")
            return int(self._core.last_endpoint.rsplit(":", 1)[1])
        import random

        for _ in range(max_tries):
            port = random.randrange(min_port, max_port)
            try:
                self.bind(f"{addr}:{port}")
            except ZMQError as exc:
                if exc.errno not in (
                    Errno.EADDRINUSE,
                    Errno.EACCES if hasattr(Errno, "EACCES") else -1,
                ):
                    raise
            else:
                return port
        raise ZMQBindError("could not bind socket to random port")

    @property
    def last_endpoint(self) -> bytes:
        """The endpoint of the last bind or connect (``LAST_ENDPOINT``), as bytes: with a wildcard port
        (``tcp://*:*``), the port that was chosen.
        """
        return self.getsockopt(SocketOption.LAST_ENDPOINT)  # type: ignore[no-any-return]

    # -- sending -----------------------------------------------------------------------------------

    def send(
        self,
        data: Any,
        flags: int = 0,
        copy: bool = True,
        track: bool = False,
        routing_id: int | None = None,
        group: str | None = None,
    ) -> MessageTracker | None:
        """Send one frame.

        With ``SNDMORE`` in ``flags`` the frame is the start (or the middle) of a message and more frames
        follow; the message leaves when its last frame is sent. As in libzmq, only the first frame of a
        message can block or raise ``Again``.

        Args:
            data: ``bytes``, any object with the buffer protocol, or a :class:`Frame`. ``str`` is refused
                (use :meth:`send_string`).
            flags: ``NOBLOCK`` (``DONTWAIT``) and/or ``SNDMORE``.
            copy: False shares the buffer with zloop instead of copying it (frames smaller than
                :attr:`copy_threshold` are copied anyway). Do not modify a shared buffer until the
                tracker says zloop has let go of it.
            track: With ``copy=False``, return a :class:`MessageTracker` that is done once zloop no
                longer holds the buffer.
            routing_id: Draft CLIENT/SERVER only: raises ``RuntimeError`` (no draft API).
            group: Draft RADIO/DISH only: raises ``RuntimeError`` (no draft API).

        Returns:
            A :class:`MessageTracker` with ``copy=False`` or a :class:`Frame` (done at once if nothing
            was shared), else None.

        Raises:
            Again: With ``NOBLOCK``, or after SNDTIMEO milliseconds, when the message cannot be queued.
            ZMQError: ``EFSM`` when the pattern does not allow a send now (a REQ waiting for its reply),
                ``EHOSTUNREACH`` for a ROUTER with ROUTER_MANDATORY and an unknown peer, ``ENOTSOCK``
                once the socket is closed.
            ContextTerminated: Once the context was terminated.
        """
        if copy and type(data) is bytes and routing_id is None and group is None:
            frame: Any = data
            tracker = None
        else:
            if routing_id is not None or group is not None:
                raise RuntimeError(_NO_DRAFT)
            if isinstance(data, str):
                raise TypeError("unicode not allowed, use send_string")
            frame, tracker = frame_for_send(data, copy, track, self.copy_threshold)
        if flags & SNDMORE:
            if self._out_msg is None:
                self._begin_message(frame, flags)
                self._out_msg = [frame]
            else:
                self._out_msg.append(frame)
            return tracker
        if self._out_msg is None:
            # _send_msg(), inlined for a socket with nothing pending (no command queued, no level
            # fd) whose pattern takes the message at once: the per-message hot path.
            if (
                self._closed
                or self._ctx_terminated
                or self._queued
                or self._levels
                or not self._pattern.send([frame])
            ):
                self._send_msg([frame], flags)
        else:
            msg = [*self._out_msg, frame]
            self._send_msg(msg, flags)
            self._out_msg = None
        return tracker

    def send_multipart(
        self,
        msg_parts: Sequence[Any],
        flags: int = 0,
        copy: bool = True,
        track: bool = False,
        **kwargs: Any,
    ) -> MessageTracker | None:
        """Send a message made of several frames, all of them or (on ``Again``) none.

        Args:
            msg_parts: A non-empty sequence of frames (each as ``data`` of :meth:`send`).
            flags: ``NOBLOCK`` and/or ``SNDMORE`` (then more frames of the same message follow).
            copy: As for :meth:`send`, for every frame.
            track: As for :meth:`send`.
            **kwargs: ``routing_id``/``group`` as for :meth:`send`.

        Returns:
            One :class:`MessageTracker` for all the shared frames with ``copy=False``, else None.

        Raises:
            TypeError: If ``msg_parts`` is a single bytes/str or empty.
            Again: As for :meth:`send`.
            ZMQError: As for :meth:`send`.
        """
        if isinstance(msg_parts, (bytes, str)) or not len(msg_parts):
            raise TypeError("send_multipart takes a non-empty sequence of frames")
        frames, tracker = message_for_send(msg_parts, copy, track, self.copy_threshold)
        if self._out_msg is not None:
            frames = [*self._out_msg, *frames]
        if flags & SNDMORE:
            if self._out_msg is None:
                self._begin_message(frames[0], flags)
            self._out_msg = frames
            return tracker
        self._send_msg(frames, flags)
        self._out_msg = None
        return tracker

    def _begin_message(self, first: Any, flags: int) -> None:
        """The first frame of a multipart message (``SNDMORE``): wait until the pattern can take
        a message starting with ``first``. As in libzmq, only the first frame of a message may
        block or fail with EAGAIN (or with the pattern's EFSM / EHOSTUNREACH, raised by
        ``can_begin`` before blocking).

        A method rather than code in :meth:`send`: the waiting closure would make ``send`` keep
        its frame in a cell on every call, waiting or not."""
        self._check_usable()
        if self._queued:
            self._run_queued()
        begin = self._pattern.can_begin
        if not begin(first):
            self._wait(flags, self._options.sndtimeo, lambda: begin(first))

    def _send_msg(self, msg: Msg, flags: int) -> None:
        if self._closed or self._ctx_terminated:
            self._check_usable()
        if self._queued:
            self._run_queued()
        if not self._pattern.send(msg):
            self._process_commands(0)
            if not self._pattern.send(msg):
                self._wait_send(msg, flags)
        if self._levels:
            self._refresh_levels()

    def _wait_send(self, msg: Msg, flags: int) -> None:
        """Block until the pattern takes ``msg`` (its closure kept out of :meth:`_send_msg`)."""
        send = self._pattern.send
        self._wait(flags, self._options.sndtimeo, lambda: send(msg))

    def send_string(
        self, u: str, flags: int = 0, copy: bool = True, encoding: str = "utf-8", **kwargs: Any
    ) -> MessageTracker | None:
        """Send a ``str`` as one frame, encoded.

        Args:
            u: The text.
            flags: As for :meth:`send`.
            copy: As for :meth:`send`.
            encoding: The codec (UTF-8 by default).
            **kwargs: Passed to :meth:`send`.

        Returns:
            What :meth:`send` returns.

        Raises:
            TypeError: If ``u`` is not a ``str``.
        """
        if not isinstance(u, str):
            raise TypeError("str objects only")  # pyzmq's words
        return self.send(u.encode(encoding), flags=flags, copy=copy, **kwargs)

    send_unicode = send_string

    def send_pyobj(
        self, obj: Any, flags: int = 0, protocol: int = pickle.DEFAULT_PROTOCOL, **kwargs: Any
    ) -> MessageTracker | None:
        """Send any picklable object as one frame, pickled.

        Only exchange pickles with peers you trust: unpickling runs code the sender chooses.

        Args:
            obj: The object.
            flags: As for :meth:`send`.
            protocol: The pickle protocol.
            **kwargs: Passed to :meth:`send`.

        Returns:
            What :meth:`send` returns.
        """
        return self.send(pickle.dumps(obj, protocol), flags=flags, **kwargs)

    def send_json(self, obj: Any, flags: int = 0, **kwargs: Any) -> None:
        """Send an object as one frame of JSON (UTF-8).

        Args:
            obj: What ``json.dumps`` accepts.
            flags: As for :meth:`send`.
            **kwargs: Passed to ``json.dumps``, except ``routing_id`` and ``group``, which go to
                :meth:`send`.
        """
        send_kwargs = {key: kwargs.pop(key) for key in ("routing_id", "group") if key in kwargs}
        self.send(json.dumps(obj, **kwargs).encode("utf-8"), flags=flags, **send_kwargs)

    def send_serialized(
        self,
        msg: Any,
        serialize: Callable[[Any], Sequence[Any]],
        flags: int = 0,
        copy: bool = True,
        **kwargs: Any,
    ) -> MessageTracker | None:
        """Send a message made by a serializer.

        Args:
            msg: The object to send.
            serialize: Turns ``msg`` into a sequence of frames.
            flags: As for :meth:`send_multipart`.
            copy: As for :meth:`send_multipart`.
            **kwargs: Passed to :meth:`send_multipart`.

        Returns:
            What :meth:`send_multipart` returns.
        """
        return self.send_multipart(serialize(msg), flags=flags, copy=copy, **kwargs)

    # -- receiving ---------------------------------------------------------------------------------

    def _next_msg(self, flags: int, tried: bool = False) -> tuple[Msg, Pipe]:
        """The next whole message and its pipe, waiting as ``flags`` and RCVTIMEO say. ``tried``:
        the caller just asked the pattern, with no command queued, and it had nothing."""
        if self._closed or self._ctx_terminated:
            self._check_usable()
        if self._queued:
            self._run_queued()
        if self._ahead:
            taken = self._pop_ahead()
            if self._levels:
                self._refresh_levels()
            return taken
        pattern = self._pattern
        got = None if tried else pattern.recv()
        if got is None:
            self._process_commands(0)
            got = pattern.recv()
            if got is None:
                box: list[tuple[Msg, Pipe]] = []

                def attempt() -> bool:
                    result = pattern.recv()
                    if result is None:
                        return False
                    box.append(result)
                    return True

                self._wait(flags, self._options.rcvtimeo, attempt, reading=True)
                got = box[0]
        if self._levels:
            self._refresh_levels()
        return got

    def _pop_ahead(self) -> tuple[Msg, Pipe]:
        """The next message read ahead (there is one), accounted as :meth:`Pipe.read` does."""
        msg = self._ahead.pop()
        pipe = self._core.ahead_pipe
        assert pipe is not None
        count = pipe._msgs_read + 1
        pipe._msgs_read = count
        if pipe._epochs:
            pipe._advance_properties(count - 1)
        if count >= pipe._next_lwm:
            pipe._lwm_crossed(count)
        return msg, pipe

    def _frame(self, data: Any, more: bool, pipe: Pipe | None, copy: bool, track: bool) -> Any:
        if copy:
            return data if isinstance(data, bytes) else bytes(data)
        frame = Frame._received(data, more, pipe.properties() if pipe is not None else None)
        if track:
            frame.tracker = FINISHED_TRACKER  # pyzmq: a received frame's tracker is done
        return frame

    @overload
    def recv(self, flags: int = 0, copy: Literal[True] = True, track: bool = False) -> bytes: ...

    @overload
    def recv(self, flags: int = 0, *, copy: Literal[False], track: bool = False) -> Frame: ...

    @overload
    def recv(self, flags: int, copy: Literal[False], track: bool = False) -> Frame: ...

    @overload
    def recv(self, flags: int = 0, copy: bool = True, track: bool = False) -> bytes | Frame: ...

    def recv(self, flags: int = 0, copy: bool = True, track: bool = False) -> Any:
        """Receive one frame.

        A message of several frames is read one frame per call; :attr:`rcvmore` (``RCVMORE``) is 1
        while more frames of the current message follow.

        Args:
            flags: ``NOBLOCK`` to raise ``Again`` instead of waiting.
            copy: False returns a :class:`Frame` that shares zloop's buffer (no copy).
            track: Ignored on receive (a received Frame's tracker is done), accepted as pyzmq.

        Returns:
            The frame's bytes, or a :class:`Frame` with ``copy=False``.

        Raises:
            Again: With ``NOBLOCK``, or after RCVTIMEO milliseconds, when no message is there.
            ZMQError: ``EFSM`` when the pattern does not allow a receive now (a REQ that has not sent),
                ``ENOTSOCK`` once the socket is closed.
            ContextTerminated: Once the context was terminated.
        """
        msg = self._in_msg
        pipe: Pipe | None
        if msg is None:
            # _next_msg(), inlined for a socket with nothing pending: no command queued, no level
            # fd, a message ready (the per-message hot path).
            pending = self._closed or self._ctx_terminated or self._queued or self._levels
            ahead = self._ahead
            if ahead and not pending:
                # _pop_ahead(), inlined: what Pipe.read does after taking a message.
                msg = ahead.pop()
                pipe = self._core.ahead_pipe
                assert pipe is not None
                count = pipe._msgs_read + 1
                pipe._msgs_read = count
                if pipe._epochs:
                    pipe._advance_properties(count - 1)
                if count >= pipe._next_lwm:
                    pipe._lwm_crossed(count)
            else:
                got = None if pending else self._pattern.recv()
                msg, pipe = self._next_msg(flags, not pending) if got is None else got
                if self._read_ahead and not ahead and not pending:
                    # Read ahead from a PULL's only pipe (with several, fair queueing takes
                    # turns): later calls take the next messages without the pattern and pipe
                    # layers, and count each only as it is consumed (see Pipe.take_ahead).
                    taken = pipe.take_ahead(_READ_AHEAD) if len(self._pattern.pipes()) == 1 else ()
                    if taken:
                        ahead.extend(taken)
                        self._core.ahead_pipe = pipe
            if len(msg) == 1:  # a single-frame message: nothing to keep for the next call
                self._rcvmore = False
                data = msg[0]
                if copy:
                    return data if isinstance(data, bytes) else _copy_out(data)
                return self._frame(data, False, pipe, copy, track)
            self._in_pipe = pipe
            index = 0
        else:
            pipe = self._in_pipe
            index = self._in_index
        more = index + 1 < len(msg)
        if more:
            self._in_msg, self._in_index = msg, index + 1
        else:
            self._in_msg = None
            self._in_pipe = None
        self._rcvmore = more
        data = msg[index]
        if copy:  # _frame(), inlined for the common case
            return data if isinstance(data, bytes) else _copy_out(data)
        return self._frame(data, more, pipe, copy, track)

    @overload
    def recv_multipart(
        self, flags: int = 0, copy: Literal[True] = True, track: bool = False
    ) -> list[bytes]: ...

    @overload
    def recv_multipart(
        self, flags: int = 0, *, copy: Literal[False], track: bool = False
    ) -> list[Frame]: ...

    @overload
    def recv_multipart(
        self, flags: int, copy: Literal[False], track: bool = False
    ) -> list[Frame]: ...

    @overload
    def recv_multipart(
        self, flags: int = 0, copy: bool = True, track: bool = False
    ) -> list[bytes] | list[Frame]: ...

    def recv_multipart(self, flags: int = 0, copy: bool = True, track: bool = False) -> list[Any]:
        """Receive a whole message (or the rest of it, if its first frames were read with :meth:`recv`).

        Args:
            flags: ``NOBLOCK`` to raise ``Again`` instead of waiting.
            copy: False returns :class:`Frame` objects that share zloop's buffers.
            track: Ignored on receive, accepted as pyzmq.

        Returns:
            The frames: a ``list[bytes]``, or a ``list[Frame]`` with ``copy=False``.

        Raises:
            Again: As for :meth:`recv`.
            ZMQError: As for :meth:`recv`.
        """
        msg = self._in_msg
        pipe: Pipe | None
        if msg is None:
            msg, pipe = self._next_msg(flags)
            index = 0
        else:
            pipe, index = self._in_pipe, self._in_index
            self._in_msg = None
            self._in_pipe = None
        self._rcvmore = False
        if copy:
            if index == 0 and all(type(f) is bytes for f in msg):
                return msg if type(msg) is list else list(msg)
            return [
                f if isinstance(f, bytes) else _copy_out(f)
                for f in (msg if index == 0 else msg[index:])
            ]
        last = len(msg) - 1
        return [
            self._frame(f, i < last, pipe, False, track) for i, f in enumerate(msg) if i >= index
        ]

    def recv_into(self, buffer: Any, /, *, nbytes: int = 0, flags: int = 0) -> int:
        """Receive one frame into a buffer you provide (no new bytes object).

        Args:
            buffer: A writable, C-contiguous buffer (``bytearray``, ``memoryview``, numpy array...).
            nbytes: Write at most this many bytes (0: the size of ``buffer``). The rest of a longer frame
                is discarded.
            flags: ``NOBLOCK`` to raise ``Again`` instead of waiting.

        Returns:
            The size of the whole frame, which is larger than what was written if it was truncated.

        Raises:
            BufferError: If ``buffer`` is read-only or not contiguous.
            ValueError: If ``nbytes`` is negative or larger than the buffer.
            Again: As for :meth:`recv`.
        """
        if self._closed:
            raise ZMQError(Errno.ENOTSOCK, "socket is closed")
        view = memoryview(buffer)
        if view.readonly:
            raise BufferError("memoryview: underlying buffer is not writable")
        if not view.c_contiguous:
            raise BufferError("memoryview: underlying buffer is not C-contiguous")
        size = view.nbytes
        if nbytes < 0:
            raise ValueError(f"nbytes={nbytes} must be non-negative")
        if nbytes == 0:
            nbytes = size
        elif nbytes > size:
            raise ValueError(f"nbytes={nbytes} too big for memoryview of {size}B")
        msg = self._in_msg
        if msg is None:
            msg, self._in_pipe = self._next_msg(flags)
            index = 0
        else:
            index = self._in_index
        more = index + 1 < len(msg)
        if more:
            self._in_msg, self._in_index = msg, index + 1
        else:
            self._in_msg = self._in_pipe = None
        self._rcvmore = more
        data = msg[index]
        length = len(data)  # frames are byte-addressed (see zloop.message.as_frame_data)
        count = min(length, nbytes)
        if count:
            target = view if view.format == "B" and view.ndim == 1 else view.cast("B")
            target[:count] = data[:count]
        return length

    def recv_string(self, flags: int = 0, encoding: str = "utf-8") -> str:
        """Receive one frame and decode it to a ``str``.

        Args:
            flags: As for :meth:`recv`.
            encoding: The codec (UTF-8 by default).

        Returns:
            The decoded text.

        Raises:
            UnicodeDecodeError: If the frame is not valid in ``encoding`` (the frame is consumed).
        """
        data: bytes = self.recv(flags)
        return data.decode(encoding)

    recv_unicode = recv_string

    def recv_pyobj(self, flags: int = 0) -> Any:
        """Receive one frame and unpickle it.

        Unpickling runs code the sender chooses: only use it with peers you trust.

        Args:
            flags: As for :meth:`recv`.

        Returns:
            The unpickled object.
        """
        return pickle.loads(self.recv(flags))

    def recv_json(self, flags: int = 0, **kwargs: Any) -> Any:
        """Receive one frame of JSON (UTF-8) and decode it.

        Args:
            flags: As for :meth:`recv`.
            **kwargs: Passed to ``json.loads``.

        Returns:
            The decoded object.
        """
        data: bytes = self.recv(flags)
        return json.loads(data.decode("utf-8"), **kwargs)

    def recv_serialized(
        self, deserialize: Callable[[list[Any]], _T], flags: int = 0, copy: bool = True
    ) -> _T:
        """Receive a message and turn it into an object.

        Args:
            deserialize: Called with the list of frames of the message.
            flags: As for :meth:`recv_multipart`.
            copy: As for :meth:`recv_multipart` (``deserialize`` gets Frames with False).

        Returns:
            What ``deserialize`` returns.
        """
        return deserialize(self.recv_multipart(flags=flags, copy=copy))

    # -- waiting -----------------------------------------------------------------------------------

    def _wait(
        self, flags: int, timeout_ms: int, attempt: Callable[[], bool], reading: bool = False
    ) -> None:
        """Block (processing commands) until ``attempt()`` succeeds; Again on NOBLOCK or timeout.
        ``reading``: a recv, which may read its connection itself (:meth:`_read_here`)."""
        if flags & NOBLOCK or timeout_ms == 0:
            if self._levels:
                self._refresh_levels()
            raise Again()
        self._core.home = _real.get_ident()
        deadline = None if timeout_ms < 0 else time.monotonic() + timeout_ms / 1000
        try:
            while True:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise Again(msg="Resource temporarily unavailable (timed out)")
                if not (reading and self._read_here(deadline)):
                    self._process_commands(remaining)
                if attempt():
                    return
        except ZMQError:
            raise
        except BaseException:
            self._reactivate_reads()
            raise

    def _reactivate_reads(self) -> None:
        """A wait cut short by an exception other than zloop's (a KeyboardInterrupt, raised
        between any two bytecodes): a pipe whose reader was woken (``reader_asleep`` lowered: no
        one will post its activation) may not have reached the pattern yet, and would never be
        read. Activate every pipe with messages queued again (idempotent)."""
        for pipe in self._pattern.pipes():
            if pipe._in.items:
                pipe._process_activate_read()

    def _app_reader(self) -> tuple[StreamEngine, Pipe] | None:
        """The connection a receive about to wait could read itself (see :meth:`_read_here`):
        its engine and this socket's end of the one pipe, when the socket has one pipe, to a
        tcp/ipc connection; else None. (The gevent adapter reads in the waiting greenlet too.)"""
        pipes = self._pattern.pipes()
        if len(pipes) != 1:
            return None
        reader = pipes[0]
        session = reader.peer.owner
        if type(session) is not Session:
            return None
        engine = session.engine
        if type(engine) is not StreamEngine:
            return None
        return engine, reader

    def _read_here(self, deadline: float | None) -> bool:
        """A recv about to block on a socket with one pipe, to a tcp/ipc connection: read that
        connection in this thread instead of waiting for the I/O thread to read it and wake us
        (see "Reads in the application thread" in zloop/io/engine.py). While this thread waits
        for the OS socket (and its mailbox), the I/O thread does not watch the fd. False: not
        possible now (nothing was waited for or read); the caller waits as usual."""
        target = self._app_reader()
        if target is None:
            return False
        engine, reader = target
        buf = _app_read_buffer()
        # First a read without parking: the fd's readability matters only to a wait, and a stream
        # that finds data at each call must not pay two epoll_ctl per read (the engine's locks,
        # not the parking, keep the two threads' reads in order).
        got = engine.app_read(buf, reader)
        if got == APP_READ_EMPTY:
            # Nothing there: park, wait for the fd or a command, read once more. Bytes that came
            # after that read are seen by the wait (level-triggered) or were read by the I/O
            # thread before the park (its delivery signals the mailbox): no wake-up is lost.
            try:
                token = engine.park()
            except BaseException:  # a KeyboardInterrupt: the fd may be parked, token lost
                engine.unpark(None)
                raise
            if token is None:
                return False
            try:
                if not self._wait_here(engine.fd, deadline):
                    return True  # a command (or the deadline) ended the wait
                got = engine.app_read(buf, reader)
            finally:
                engine.unpark(token)
            if got in (APP_READ_EMPTY, APP_READ_BUSY):
                return True  # waited: the caller looks at the socket again
        if got == APP_READ_WOKE:
            reader._process_activate_read()  # what the pipe's flush would have posted
            return True
        if got == APP_READ_GOT:
            self._process_commands(0)  # e.g. the pipe's activate_read
            return True
        return False  # busy: not possible now

    def _wait_here(self, fd: int, deadline: float | None) -> bool:
        """For :meth:`_read_here`: wait until the connection's ``fd`` is readable (True) or the
        socket's mailbox has commands, which are processed, or the deadline passes (False)."""
        core = self._core
        poller = core.read_poller
        if poller is None:
            poller = core.read_poller = _real.poll()
            poller.register(self._mailbox.fileno(), _real.READ)
        if core.read_poller_fd != fd:
            if core.read_poller_fd >= 0:
                poller.unregister(core.read_poller_fd)
            poller.register(fd, _real.READ)
            core.read_poller_fd = fd
        signal_fd = self._mailbox.fileno()

        def wait(
            timeout: float | None, poll: Any = poller.poll, signal_fd: int = signal_fd
        ) -> bool:
            ms = -1 if timeout is None else max(0, int(timeout * 1000 + 0.999))
            return any(ready == signal_fd for ready, _ in poll(ms))

        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            return False
        return not self._process_commands(remaining, wait)

    def poll(self, timeout: int | None = None, flags: int = POLLIN) -> int:
        """Wait until the socket is ready for some of ``flags``.

        Args:
            timeout: Milliseconds to wait at most; None or a negative number waits forever, 0 does not
                wait.
            flags: ``POLLIN`` and/or ``POLLOUT``.

        Returns:
            The events among ``flags`` that are ready (0 on timeout).

        Raises:
            ZMQError: ``ENOTSOCK`` once the socket is closed.
        """
        self._check_usable()
        self._core.home = _real.get_ident()
        deadline = None if timeout is None or timeout < 0 else time.monotonic() + timeout / 1000
        while True:
            ready = self._events() & flags
            if ready:
                return ready
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return 0
            self._process_commands(remaining)

    # -- readiness ---------------------------------------------------------------------------------

    def _events(self) -> int:
        self._check_usable()
        self._process_commands(0)
        events = self._current_events()
        if self._levels:
            self._apply_levels(events)
        return events

    def _current_events(self) -> int:
        events = 0
        if self._in_msg is not None or self._ahead or self._pattern.has_in():
            events |= POLLIN
        if self._out_msg is not None or self._pattern.has_out():
            events |= POLLOUT
        return events

    def _refresh_levels(self) -> None:
        self._process_commands(0)
        self._apply_levels(self._current_events())

    def _apply_levels(self, events: int) -> None:
        for level in self._levels:
            if events & level.mask:
                level.set()
            elif level.is_set:
                self._clear_level(level)

    def _clear_level(self, level: LevelSignal) -> None:
        """Clear first, then look again: a writer that posts after this sets it anew. A writer
        posts and sets under ``_level_lock``, so a set that lands after the clear belongs to a
        command posted after it; if processing that command left the socket not ready, the set is
        stale: clear and look again (each round needs a new post, so this ends)."""
        while True:
            with self._level_lock:
                level.clear()
            self._process_commands(0)
            if self._current_events() & level.mask:
                level.set()
                return
            if not level.is_set:
                return

    def level_fd(self, events: int = POLLIN) -> int:
        """A file descriptor that is readable exactly while the socket is ready (zloop's addition).

        :attr:`FD` follows libzmq: it is edge-triggered, so after a wake-up a program must read
        ``EVENTS`` and drain the socket until ``Again``, or it may never wake again. This fd needs no
        such discipline: use it with ``select``, ``poll`` or ``epoll`` in level mode and handle as many
        messages per wake-up as you like. It belongs to the socket and closes with it; one fd is kept per
        ``events`` mask. libzmq and pyzmq have no equivalent.

        Args:
            events: ``POLLIN``, ``POLLOUT`` or both: the fd is readable while ``EVENTS & events``.

        Returns:
            The fd (do not close it yourself).

        Raises:
            ZMQError: ``EINVAL`` for another ``events`` value, ``ENOTSOCK`` once the socket is closed.
        """
        self._check_usable()
        if events not in (POLLIN, POLLOUT, POLLIN | POLLOUT):
            raise ZMQError(Errno.EINVAL, "level_fd takes POLLIN, POLLOUT or POLLIN|POLLOUT")
        for level in self._levels:
            if level.mask == events:
                return level.fileno()
        level = LevelSignal(events)
        with self._level_lock:
            self._levels.append(level)
        self._refresh_levels()
        return level.fileno()

    def fileno(self) -> int:
        """The socket's :attr:`FD` (so the socket can be given to ``select`` and event loops).

        It is edge-triggered, as libzmq's: see :attr:`FD`.
        """
        return self._mailbox.fileno()

    # -- options -----------------------------------------------------------------------------------

    def setsockopt(self, option: int, value: Any) -> None:
        """Set a socket option (``zmq_setsockopt``).

        Args:
            option: A :class:`SocketOption` (``zloop.LINGER``...).
            value: An int, bytes (``str`` is refused: use :meth:`setsockopt_string`), or None where
                libzmq allows an empty value.

        Raises:
            TypeError: If ``value`` has the wrong type for ``option``.
            ZMQError: ``EINVAL`` for an unknown or read-only option, a value out of range, or an option
                this socket type does not have (the message says which); ``ENOTSOCK`` once closed.

        Options are checked as libzmq checks them; the ones of features zloop lacks (GSSAPI, multicast,
        VMCI...) raise ``EINVAL`` instead of being stored and ignored.
        """
        if self._closed:
            raise ZMQError(Errno.ENOTSOCK, "socket is closed")
        check_value_type(option, value)
        try:
            opt = SocketOption(option)
        except ValueError:
            raise ZMQError(Errno.EINVAL, f"unknown socket option {option!r}") from None
        if opt in _READ_ONLY:
            raise ZMQError(Errno.EINVAL, f"{opt.name} is read-only")
        if self._pattern.setsockopt(opt, value):
            return
        if not is_common(opt):
            if value is None:  # zloop's NULL values exist only where the option applies
                raise TypeError(f"expected bytes, got: {value!r}")
            raise _not_supported(opt, self.socket_type)
        set_common(self._options, opt, value)

    def getsockopt(self, option: int) -> Any:
        """Read a socket option (``zmq_getsockopt``).

        Args:
            option: A :class:`SocketOption`.

        Returns:
            An int, or bytes for the options that hold bytes (``ROUTING_ID``, ``LAST_ENDPOINT``...);
            ``EVENTS`` as a :class:`PollEvent`.

        Raises:
            ZMQError: ``EINVAL`` for an unknown or write-only option (``SUBSCRIBE``) or one this socket
                type does not have; ``ENOTSOCK`` once closed.
        """
        if self._closed:
            raise ZMQError(Errno.ENOTSOCK, "socket is closed")
        # What event loops ask after every operation and wake-up, before the enum conversion.
        if option == _EVENTS:
            events = self._events()
            return _POLL_EVENTS[events] if events < 4 else PollEvent(events)
        if option == _RCVMORE:
            return int(self._rcvmore)
        try:
            opt = SocketOption(option)
        except ValueError:
            raise ZMQError(Errno.EINVAL, f"unknown socket option {option!r}") from None
        if opt == SocketOption.FD:
            return self._mailbox.fileno()
        if opt == SocketOption.EVENTS:
            return PollEvent(self._events())
        if opt == SocketOption.RCVMORE:
            return int(self._rcvmore)
        if opt == SocketOption.LAST_ENDPOINT:
            return self._core.last_endpoint.encode()
        try:
            return self._pattern.getsockopt(opt)
        except KeyError:
            pass
        if not is_common(opt):
            raise _not_supported(opt, self.socket_type)
        return get_common(self._options, opt)

    def set(self, option: int, value: Any) -> None:
        """Set a socket option: the same as :meth:`setsockopt`.

        Args:
            option: A :class:`SocketOption`.
            value: Its value.
        """
        self.setsockopt(option, value)

    def subscribe(self, topic: str | bytes) -> None:
        """Subscribe to messages starting with ``topic`` (SUB, XSUB's SUBSCRIBE option).

        Also usable as a write-only attribute: ``sock.subscribe = b"news"``. An empty topic receives
        everything.

        Args:
            topic: The prefix; a ``str`` is encoded as UTF-8.
        """
        if isinstance(topic, str):
            topic = topic.encode("utf-8")
        self.setsockopt(SocketOption.SUBSCRIBE, topic)

    def unsubscribe(self, topic: str | bytes) -> None:
        """Cancel one earlier subscription to ``topic`` (SUB, XSUB's UNSUBSCRIBE option).

        Args:
            topic: The prefix as subscribed; a ``str`` is encoded as UTF-8.
        """
        if isinstance(topic, str):
            topic = topic.encode("utf-8")
        self.setsockopt(SocketOption.UNSUBSCRIBE, topic)

    def get(self, option: int) -> Any:
        """Read a socket option: the same as :meth:`getsockopt`.

        Args:
            option: A :class:`SocketOption`.

        Returns:
            The option's value.
        """
        return self.getsockopt(option)

    def setsockopt_string(self, option: int, optval: str, encoding: str = "utf-8") -> None:
        """Set a bytes option from a ``str``.

        Args:
            option: An option that holds bytes (``ROUTING_ID``, ``SUBSCRIBE``, ``PLAIN_USERNAME``...).
            optval: The text.
            encoding: The codec (UTF-8 by default).

        Raises:
            TypeError: If ``optval`` is not a ``str``.
        """
        if not isinstance(optval, str):
            raise TypeError(f"strings only, not {type(optval)}: {optval!r}")
        self.setsockopt(option, optval.encode(encoding))

    def getsockopt_string(self, option: int, encoding: str = "utf-8") -> str:
        """Read a bytes option as a ``str``.

        Args:
            option: An option that holds bytes.
            encoding: The codec (UTF-8 by default).

        Returns:
            The decoded value.

        Raises:
            TypeError: If ``option`` does not hold bytes.
        """
        if option not in BYTES_OPTIONS:
            raise TypeError(f"option {option} will not return a string to be decoded")
        value: bytes = self.getsockopt(option)
        return value.decode(encoding)

    set_string = setsockopt_unicode = setsockopt_string
    get_string = getsockopt_unicode = getsockopt_string

    @property
    def FD(self) -> int:
        """The socket's signal file descriptor (``ZMQ_FD``), for event loops.

        Edge-triggered as in libzmq: it becomes readable when the socket may have become ready, and a
        call that finds nothing to do consumes the signal. After a wake-up read :attr:`EVENTS` and
        send/receive with ``NOBLOCK`` until ``Again``; only then wait on the fd again. :meth:`level_fd`
        is the level-triggered alternative.
        """
        return self._mailbox.fileno()

    @property
    def EVENTS(self) -> int:
        """What the socket is ready for now (``ZMQ_EVENTS``): ``POLLIN`` and/or ``POLLOUT``.

        Reading it also processes the socket's pending commands and consumes the :attr:`FD` signal.
        """
        return self.getsockopt(SocketOption.EVENTS)  # type: ignore[no-any-return]

    @property
    def type(self) -> SocketType:
        """The socket type (``TYPE``), as a :class:`~zloop.SocketType`."""
        return self.socket_type

    def get_hwm(self) -> int:
        """The high-water mark: SNDHWM, or RCVHWM if the socket type has no SNDHWM.

        Returns:
            The limit, in messages.
        """
        try:
            return int(self.getsockopt(SocketOption.SNDHWM))
        except ZMQError:
            return int(self.getsockopt(SocketOption.RCVHWM))

    def set_hwm(self, value: int) -> None:
        """Set both SNDHWM and RCVHWM.

        They apply to connections made afterwards, as in libzmq. Both are tried; if one fails, the last
        failure is raised.

        Args:
            value: The limit in messages (0: none).
        """
        raised: BaseException | None = None
        for option in (SocketOption.SNDHWM, SocketOption.RCVHWM):
            try:
                self.setsockopt(option, value)
            except Exception as exc:  # the last one is re-raised below, as pyzmq
                raised = exc
        if raised is not None:
            raise raised

    hwm = property(get_hwm, set_hwm, None, "The high-water mark: SNDHWM and RCVHWM (pyzmq).")

    # -- draft API ---------------------------------------------------------------------------------

    def join(self, group: str | bytes) -> None:
        """Join a RADIO/DISH group: always raises ``RuntimeError``.

        DISH is one of libzmq's draft socket types, which zloop does not implement; pyzmq built without
        the draft API raises the same way.

        Args:
            group: The group name.
        """
        raise RuntimeError(_NO_DRAFT)

    def leave(self, group: str | bytes) -> None:
        """Leave a RADIO/DISH group: always raises ``RuntimeError`` (see :meth:`join`).

        Args:
            group: The group name.
        """
        raise RuntimeError(_NO_DRAFT)


_NO_DRAFT = (
    "RADIO/DISH (join, leave) and CLIENT/SERVER (routing_id) are libzmq draft features, "
    "which zloop does not implement (zloop.DRAFT_API is False)"
)

#: pyzmq's name for the plain (blocking) flavour.
SyncSocket = Socket


def _endpoint_str(addr: Any) -> str:
    if isinstance(addr, bytes):
        return addr.decode("utf-8")
    if not isinstance(addr, str):
        raise TypeError(f"Expected addr to be str, got addr={addr!r}")
    return addr


class _EndpointContext(Generic[_SocketT]):
    """What ``bind``/``connect`` return, as pyzmq's: ``with sock.bind(url) as s:`` gives the
    socket and unbinds (disconnects) on exit, unless the socket was closed meanwhile."""

    __slots__ = ("addr", "kind", "socket")

    def __init__(self, socket: _SocketT, kind: str, addr: str) -> None:
        self.socket = socket
        self.kind = kind
        self.addr = addr

    def __repr__(self) -> str:
        return f"<SocketContext({self.kind}={self.addr!r})>"

    def __enter__(self) -> _SocketT:
        return self.socket

    def __exit__(self, *exc: object) -> None:
        if self.socket.closed:
            return
        if self.kind == "bind":
            self.socket.unbind(self.addr)
        else:
            self.socket.disconnect(self.addr)


#: Options libzmq only reads (setting them is EINVAL).
_READ_ONLY = frozenset(
    {
        SocketOption.FD,
        SocketOption.EVENTS,
        SocketOption.TYPE,
        SocketOption.RCVMORE,
        SocketOption.LAST_ENDPOINT,
        SocketOption.MECHANISM,
        SocketOption.THREAD_SAFE,
        SocketOption.TOPICS_COUNT,
    }
)


def _not_supported(opt: SocketOption, socket_type: SocketType) -> ZMQError:
    if opt == SocketOption.HWM:
        return ZMQError(
            Errno.EINVAL,
            "HWM is libzmq 2's option (EINVAL in libzmq 4): set SNDHWM and RCVHWM, or sock.hwm",
        )
    return ZMQError(
        Errno.EINVAL, f"option {opt.name} is not supported by {socket_type.name} sockets"
    )


_EVENTS = int(SocketOption.EVENTS)
_RCVMORE = int(SocketOption.RCVMORE)
#: ``EVENTS`` values as returned (the flags are made once, not per call).
_POLL_EVENTS = tuple(PollEvent(bits) for bits in range(4))
#: The buffer of an application thread's reads of its connection (Socket._read_here): one per thread
#: that blocks in recv on such a socket; a read takes at most this, or less right after a large body
#: (see StreamEngine.app_read). As large as the I/O thread's own receive buffer, so one read here
#: takes as much of a stream as the I/O thread's would.
_APP_READ_SIZE = RECV_BUFFER_SIZE
_app_local = _real.ThreadLocal()


def _app_read_buffer() -> memoryview:
    """The calling thread's receive buffer for :meth:`Socket._read_here` (made on first use)."""
    buf: memoryview | None = getattr(_app_local, "buf", None)
    if buf is None:
        buf = _app_local.buf = memoryview(bytearray(_APP_READ_SIZE))
    return buf


def _noop() -> None:
    pass


def _collected(core: SocketCore, name: str) -> None:
    """Finalizer of a Socket dropped without close() (any thread, maybe inside the GC): warn as
    pyzmq does and have the reaper close its core with its LINGER (see zloop.lifetime)."""
    if core.close_done or core.forked_from or lifetime.exiting():
        return
    if not core.closed:
        lifetime.warn_unclosed(f"Unclosed socket {name}")
    lifetime.adopt(core.close)


# ``sock.linger = 0``, ``sock.RCVTIMEO``, ``sub.subscribe = b"a"`` as in pyzmq.
install_option_attributes(Socket)


class _InprocEndpoint:
    transport = "inproc"

    def __init__(self, name: str) -> None:
        self.address = name


def _parse(addr: str, *, bind: bool) -> Any:
    if not isinstance(addr, str):
        raise TypeError(f"endpoint must be str, not {type(addr).__name__}")
    if addr.startswith("inproc://"):
        name = addr[len("inproc://") :]
        if not name:
            raise ZMQError(Errno.EINVAL, f"invalid endpoint {addr!r}: inproc:// needs a name")
        return _InprocEndpoint(name)
    from zloop.io.endpoint import parse_endpoint

    return parse_endpoint(addr, bind=bind)
