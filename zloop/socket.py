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

Readiness (DESIGN §3)
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
from zloop._sockattrs import declared_only_setattr, install_option_attributes
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
#: argument (an interpreter without getrefcount never recycles).
_RECYCLABLE_REFS = 4
_refcount: Callable[[Any], int] = getattr(sys, "getrefcount", lambda _obj: _RECYCLABLE_REFS + 1)


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


class Socket:
    """A ZeroMQ socket. Create it with ``Context.socket(type)``."""

    # Options are attributes (``sock.linger = 0``, zloop._sockattrs); slots make any other name
    # an AttributeError (a misspelt option) without a __setattr__ on the send/recv path.
    __slots__ = (
        "__weakref__",
        "_ahead",
        "_closed",
        "_core",
        "_ctx_terminated",
        "_endpoints",
        "_finalizer",
        "_in_index",
        "_in_msg",
        "_in_pipe",
        "_level_lock",
        "_levels",
        "_mailbox",
        "_monitor_socket",
        "_out_msg",
        "_pattern",
        "_queued",
        "_rcvmore",
        "_read_ahead",
        "_shadow_obj",
        "context",
        "copy_threshold",
        "options",
        "socket_type",
    )

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
        #: ``send(copy=False)`` copies frames smaller than this (pyzmq's attribute; 0: never).
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
        self.options = core.options
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
        """Close the socket. Queued outgoing messages are sent for up to LINGER ms (-1 = until sent)."""
        if self._closed:
            return
        if linger is not None and not self._core.forked_from:
            self.setsockopt(SocketOption.LINGER, linger)
        self._closed = True
        if self._finalizer is not None:
            self._finalizer.detach()
        self._in_msg = self._in_pipe = self._out_msg = None
        self._core.close()  # marks every other handle (shadows) closed

    def _check_usable(self) -> None:
        if self._closed:
            raise ZMQError(Errno.ENOTSOCK, "socket is closed")
        if self._ctx_terminated:
            self._core.check_not_forked()
            raise ContextTerminated()

    # -- commands ----------------------------------------------------------------------------------

    def post(self, command: Callable[[], Any], hint: int) -> None:
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

    def _process_commands(self, timeout: float | None) -> bool:
        """Run queued commands, waiting up to ``timeout`` s for the first. True if any ran."""
        mailbox = self._mailbox
        command = mailbox.recv(timeout)
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

    def attach_pipe(self, pipe: Pipe, pending: bool = False) -> None:
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
        """Publish this socket's events on an inproc PAIR bound at ``addr`` (``zmq_socket_monitor``).

        Each event whose bit is in ``events`` (default EVENT_ALL) becomes a two-frame message (see
        :mod:`zloop.monitor`). ``addr=None`` stops monitoring (MONITOR_STOPPED is sent first);
        monitoring again replaces the previous monitor the same way. Events a slow or absent reader
        cannot take are dropped, never blocking the I/O thread.
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
        """Start monitoring (at ``inproc://monitor.s-<FD>`` unless ``addr``) and return a PAIR
        socket connected to it, as pyzmq. While it is open, later calls return the same socket.

        The default name can be taken by a closed socket that had the same FD: its monitor lives
        on until its lingering connections end (see :meth:`event_source`). Then
        ``inproc://monitor.s-<FD>.<n>`` is used instead."""
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
        """Stop monitoring: MONITOR_STOPPED is sent and the publisher closed (the reader is yours)."""
        self._monitor_socket = None
        self.monitor(None, 0)

    # -- endpoints ---------------------------------------------------------------------------------

    def bind(self: _SocketT, addr: str | bytes) -> _EndpointContext[_SocketT]:
        """Accept connections on ``addr`` (``tcp://``, ``ipc://``, ``inproc://``; bytes are utf-8).

        Returns a context manager that unbinds on exit (``with sock.bind(url):``), as pyzmq's;
        with a wildcard port it unbinds the port that was chosen (``LAST_ENDPOINT``)."""
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
                self.context._io_thread(), self._core, endpoint, self.options.snapshot()
            )
            resolved = handle.last_endpoint
        self._core.last_endpoint = resolved
        self._endpoints.setdefault(resolved, []).append(handle)
        if resolved != addr:
            self._endpoints.setdefault(addr, []).append(handle)

    def connect(self: _SocketT, addr: str | bytes) -> _EndpointContext[_SocketT]:
        """Connect to ``addr``; messages queue at once (unless IMMEDIATE) and reconnects are
        automatic. ``addr`` may be bytes (``connect(other.last_endpoint)``).

        Returns a context manager that disconnects on exit, as pyzmq's."""
        addr = _endpoint_str(addr)
        self._connect(addr)
        return _EndpointContext(self, "connect", addr)

    def _connect(self, addr: str) -> None:
        self._check_usable()
        endpoint = _parse(addr, bind=False)
        options = self.options.snapshot()
        self.options.connect_routing_id = b""  # applies to the next connect only, as libzmq
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
            self.attach_pipe(pipe, pending)
            self._attached_here()
        self._core.last_endpoint = addr
        self._endpoints.setdefault(addr, []).append(handle)

    def unbind(self, addr: str | bytes) -> None:
        """Stop accepting on ``addr`` (as given to bind, or the resolved ``LAST_ENDPOINT``)."""
        self._drop_endpoint(_endpoint_str(addr), "unbind")

    def disconnect(self, addr: str | bytes) -> None:
        """Drop the connection to ``addr`` (as given to connect)."""
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
            handle.close(self.options.linger)
        self._process_commands(0)

    def _detach(self, pipe: Pipe) -> None:
        """End this socket's side of ``pipe`` and forget it (no command will announce it)."""
        self._core.give_back_ahead()  # dropped with the pipe's queue, as libzmq drops them
        pipe.terminate()
        self._pattern.pipe_terminated(pipe)

    def bind_to_random_port(
        self, addr: str, min_port: int = 49152, max_port: int = 65536, max_tries: int = 100
    ) -> int:
        """Bind ``addr`` (``tcp://host``) to a random port in [min_port, max_port); return the port."""
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
        """Send one frame; with ``SNDMORE`` more frames of the same message follow.

        Returns what pyzmq returns: with ``copy=False`` (or a ``Frame``) a ``MessageTracker``,
        done once zloop no longer holds the buffer (``track=True``; see zloop.tracker), else None.
        ``routing_id``/``group`` (draft CLIENT/SERVER, RADIO/DISH) raise RuntimeError, as pyzmq
        built without draft support.
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
                self._check_usable()
                if self._queued:
                    self._run_queued()
                # As in libzmq, only the first frame of a message may block or fail with EAGAIN
                # (or with the pattern's EFSM / EHOSTUNREACH, raised by can_begin before blocking).
                begin = self._pattern.can_begin
                if not begin(frame):
                    self._wait(flags, self.options.sndtimeo, lambda: begin(frame))
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
        """Send a whole message at once: every frame or (on Again) none. Returns one tracker for
        the tracked parts (see ``send`` and zloop.tracker), else what ``send`` of the last part
        returns."""
        if isinstance(msg_parts, (bytes, str)) or not len(msg_parts):
            raise TypeError("send_multipart takes a non-empty sequence of frames")
        frames, tracker = message_for_send(msg_parts, copy, track, self.copy_threshold)
        if self._out_msg is not None:
            frames = [*self._out_msg, *frames]
        if flags & SNDMORE:
            if self._out_msg is None:
                self._check_usable()
                if self._queued:
                    self._run_queued()
                begin = self._pattern.can_begin
                if not begin(frames[0]):
                    self._wait(flags, self.options.sndtimeo, lambda: begin(frames[0]))
            self._out_msg = frames
            return tracker
        self._send_msg(frames, flags)
        self._out_msg = None
        return tracker

    def _send_msg(self, msg: Msg, flags: int) -> None:
        if self._closed or self._ctx_terminated:
            self._check_usable()
        if self._queued:
            self._run_queued()
        pattern = self._pattern
        if not pattern.send(msg):
            self._process_commands(0)
            if not pattern.send(msg):
                self._wait(flags, self.options.sndtimeo, lambda: pattern.send(msg))
        if self._levels:
            self._refresh_levels()

    def send_string(
        self, u: str, flags: int = 0, copy: bool = True, encoding: str = "utf-8", **kwargs: Any
    ) -> MessageTracker | None:
        if not isinstance(u, str):
            raise TypeError("str objects only")  # pyzmq's words
        return self.send(u.encode(encoding), flags=flags, copy=copy, **kwargs)

    send_unicode = send_string

    def send_pyobj(
        self, obj: Any, flags: int = 0, protocol: int = pickle.DEFAULT_PROTOCOL, **kwargs: Any
    ) -> MessageTracker | None:
        return self.send(pickle.dumps(obj, protocol), flags=flags, **kwargs)

    def send_json(self, obj: Any, flags: int = 0, **kwargs: Any) -> None:
        """``kwargs`` go to ``json.dumps``, except ``routing_id`` and ``group`` (to ``send``)."""
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
        """Send the frames ``serialize(msg)`` returns, as one message."""
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

                self._wait(flags, self.options.rcvtimeo, attempt)
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
        """Receive one frame (bytes, or a ``Frame`` with ``copy=False``); RCVMORE tells if more follow."""
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
        """Receive a whole message (the rest of it, if frames were already read with ``recv``)."""
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
        """Receive one frame into ``buffer`` (writable, contiguous), as pyzmq's: at most
        ``nbytes`` bytes (0: the buffer's size) are written, the rest of a longer frame is
        discarded; returns the frame's whole size (larger than what was written if truncated).
        RCVMORE tells whether more frames of the message follow."""
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
        data: bytes = self.recv(flags)
        return data.decode(encoding)

    recv_unicode = recv_string

    def recv_pyobj(self, flags: int = 0) -> Any:
        return pickle.loads(self.recv(flags))

    def recv_json(self, flags: int = 0, **kwargs: Any) -> Any:
        """``kwargs`` go to ``json.loads`` (the frame is decoded as UTF-8)."""
        data: bytes = self.recv(flags)
        return json.loads(data.decode("utf-8"), **kwargs)

    def recv_serialized(
        self, deserialize: Callable[[list[Any]], _T], flags: int = 0, copy: bool = True
    ) -> _T:
        """``deserialize`` of the frames of the next message (bytes, or Frames with ``copy=False``)."""
        return deserialize(self.recv_multipart(flags=flags, copy=copy))

    # -- waiting -----------------------------------------------------------------------------------

    def _wait(self, flags: int, timeout_ms: int, attempt: Callable[[], bool]) -> None:
        """Block (processing commands) until ``attempt()`` succeeds; Again on NOBLOCK or timeout."""
        if flags & NOBLOCK or timeout_ms == 0:
            if self._levels:
                self._refresh_levels()
            raise Again()
        self._core.home = _real.get_ident()
        deadline = None if timeout_ms < 0 else time.monotonic() + timeout_ms / 1000
        while True:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise Again(msg="Resource temporarily unavailable (timed out)")
            self._process_commands(remaining)
            if attempt():
                return

    def poll(self, timeout: int | None = None, flags: int = POLLIN) -> int:
        """Wait up to ``timeout`` ms (None/-1 = forever) until EVENTS & flags; return those events."""
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
        """An fd readable exactly while ``EVENTS & events`` is non-zero (zloop extension).

        Use it with ``select``/``poll``/``epoll`` in level mode: no drain discipline is needed (read
        one message per wake-up if you like). The fd belongs to the socket and closes with it.
        One fd is kept per distinct ``events`` mask.
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
        """The edge-triggered ``FD`` (see the module docstring)."""
        return self._mailbox.fileno()

    # -- options -----------------------------------------------------------------------------------

    def setsockopt(self, option: int, value: Any) -> None:
        """Set a socket option (``zmq_setsockopt``), with pyzmq's and libzmq's checks: a value of
        the wrong type is a TypeError, an invalid one ``ZMQError(EINVAL)`` saying why."""
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
        set_common(self.options, opt, value)

    def getsockopt(self, option: int) -> Any:
        """Get a socket option (``zmq_getsockopt``); write-only and unknown ones are EINVAL."""
        if self._closed:
            raise ZMQError(Errno.ENOTSOCK, "socket is closed")
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
        return get_common(self.options, opt)

    def set(self, option: int, value: Any) -> None:
        self.setsockopt(option, value)

    def subscribe(self, topic: str | bytes) -> None:
        """SUB/XPUB_MANUAL: subscribe to ``topic`` (str is utf-8 encoded), as pyzmq."""
        if isinstance(topic, str):
            topic = topic.encode("utf-8")
        self.setsockopt(SocketOption.SUBSCRIBE, topic)

    def unsubscribe(self, topic: str | bytes) -> None:
        """SUB/XPUB_MANUAL: cancel one subscription to ``topic`` (str is utf-8 encoded)."""
        if isinstance(topic, str):
            topic = topic.encode("utf-8")
        self.setsockopt(SocketOption.UNSUBSCRIBE, topic)

    def get(self, option: int) -> Any:
        return self.getsockopt(option)

    def setsockopt_string(self, option: int, optval: str, encoding: str = "utf-8") -> None:
        """Set a bytes option from a str, encoded with ``encoding``."""
        if not isinstance(optval, str):
            raise TypeError(f"strings only, not {type(optval)}: {optval!r}")
        self.setsockopt(option, optval.encode(encoding))

    def getsockopt_string(self, option: int, encoding: str = "utf-8") -> str:
        """A bytes option decoded with ``encoding`` (TypeError for an option that is no bytes)."""
        if option not in BYTES_OPTIONS:
            raise TypeError(f"option {option} will not return a string to be decoded")
        value: bytes = self.getsockopt(option)
        return value.decode(encoding)

    set_string = setsockopt_unicode = setsockopt_string
    get_string = getsockopt_unicode = getsockopt_string

    @property
    def FD(self) -> int:
        return self._mailbox.fileno()

    @property
    def EVENTS(self) -> int:
        return self.getsockopt(SocketOption.EVENTS)  # type: ignore[no-any-return]

    @property
    def type(self) -> SocketType:
        """The socket type (``TYPE``), as a :class:`~zloop.SocketType`."""
        return self.socket_type

    def get_hwm(self) -> int:
        """The high-water mark: SNDHWM (else RCVHWM), as pyzmq's."""
        try:
            return int(self.getsockopt(SocketOption.SNDHWM))
        except ZMQError:
            return int(self.getsockopt(SocketOption.RCVHWM))

    def set_hwm(self, value: int) -> None:
        """Set SNDHWM and RCVHWM (for the connections made afterwards, as libzmq), as pyzmq's:
        both are tried, and the last failure is raised."""
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
        """Join a RADIO/DISH group: DISH is one of libzmq's draft types, which zloop does not
        have; raises RuntimeError as pyzmq built without draft support does."""
        raise RuntimeError(_NO_DRAFT)

    def leave(self, group: str | bytes) -> None:
        """Leave a RADIO/DISH group (see :meth:`join`)."""
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


def _noop() -> None:
    pass


def _collected(core: SocketCore, name: str) -> None:
    """Finalizer of a Socket dropped without close() (any thread, maybe inside the GC): warn as
    pyzmq does and have the reaper close its core with its LINGER (see zloop.lifetime)."""
    if core.closed or core.forked_from or lifetime.exiting():
        return
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
