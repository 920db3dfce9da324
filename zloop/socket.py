"""The public ``Socket``: pyzmq's API over a pattern, pipes, a mailbox and the I/O thread.

A socket lives in one application thread at a time (sockets are **not thread-safe**, as in libzmq;
hand one to another thread only with a full memory barrier such as a queue or a lock). Everything a
peer or an I/O thread wants from it arrives as a command in its :class:`~zloop.mailbox.Mailbox`, run
here by :meth:`Socket._process_commands`.

Readiness (DESIGN §3)
---------------------
* ``FD`` is the mailbox's signal fd: edge-triggered, consumed by any call that processes commands
  (``EVENTS``, ``send``, ``recv``, ``poll``). After a wake-up, read ``EVENTS`` and drain with
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
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from zloop import _real
from zloop._sockattrs import declared_only_setattr, install_option_attributes
from zloop.constants import Errno, Flag, PollEvent, SocketOption, SocketType
from zloop.errors import Again, ContextTerminated, ZMQBindError, ZMQError
from zloop.io.signaler import LevelSignal
from zloop.mailbox import Mailbox
from zloop.message import Frame, as_frame_data
from zloop.monitor import Monitor, check_monitor_args
from zloop.options import Options, get_common, is_common, set_common
from zloop.patterns import CONFLATE_DIRECTIONS, PATTERNS
from zloop.pipe import Msg, Pipe

if TYPE_CHECKING:
    from zloop.context import Context

NOBLOCK = int(Flag.NOBLOCK)
SNDMORE = int(Flag.SNDMORE)
POLLIN = int(PollEvent.POLLIN)
POLLOUT = int(PollEvent.POLLOUT)

_T = TypeVar("_T")

#: Process commands at least once every this many successful sends/recvs (libzmq throttles too):
#: keeps the mailbox short when a stream never blocks.
_COMMAND_INTERVAL = 256


class _Handle:
    """What ``bind``/``connect`` leave behind: something that can be closed with a linger."""

    def close(self, linger_ms: int) -> None:  # pragma: no cover - interface
        raise NotImplementedError


class Socket:
    """A ZeroMQ socket. Create it with ``Context.socket(type)``."""

    # Options are attributes (``sock.linger = 0``, zloop._sockattrs); slots make any other name
    # an AttributeError (a misspelt option) without a __setattr__ on the send/recv path.
    __slots__ = (
        "__weakref__",
        "_closed",
        "_ctx_terminated",
        "_endpoints",
        "_event_sources",
        "_in_index",
        "_in_msg",
        "_in_pipe",
        "_last_endpoint",
        "_level_lock",
        "_levels",
        "_mailbox",
        "_monitor",
        "_monitor_socket",
        "_ops",
        "_out_msg",
        "_pattern",
        "_rcvmore",
        "_sources_lock",
        "context",
        "options",
        "socket_type",
    )

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__slots__" not in cls.__dict__ and "__setattr__" not in cls.__dict__:
            # A subclass with a __dict__: pyzmq's rule (options and declared names only).
            cls.__setattr__ = declared_only_setattr  # type: ignore[method-assign]

    def __init__(self, context: Context, socket_type: int) -> None:
        try:
            stype = SocketType(socket_type)
        except ValueError:
            raise ZMQError(Errno.EINVAL, f"unknown socket type {socket_type!r}") from None
        pattern_cls = PATTERNS.get(stype)
        if pattern_cls is None:
            raise ZMQError(Errno.EINVAL, f"socket type {stype.name} is not implemented yet")
        self.context = context
        self.socket_type = stype
        self.options = Options(stype)
        self._pattern = pattern_cls(self.options)
        self._mailbox = Mailbox()
        self._levels: list[LevelSignal] = []
        # Makes a writer's "post a command, then set the level fds" one step as seen by the owner's
        # clear (see _apply_levels): a set can never land after the owner accounted for its command.
        self._level_lock = _real.Lock()
        self._endpoints: dict[str, list[Any]] = {}
        self._in_msg: Msg | None = None  # frames of a message being read frame by frame
        self._in_pipe: Pipe | None = None
        self._in_index = 0
        self._out_msg: list[Any] | None = None  # frames sent with SNDMORE, not yet routed
        self._rcvmore = False
        self._ops = 0
        self._closed = False
        self._ctx_terminated = False
        # Event hook called by the I/O thread and bind (thread-safe): a Monitor, or None.
        self._monitor: Callable[[int, int, str], None] | None = None
        self._monitor_socket: Socket | None = None  # get_monitor_socket()'s reader
        # I/O objects that may still emit events (connecters, engines: see event_source); after
        # close() the monitor stops when the last one ended, as libzmq stops it when the socket
        # object is destroyed, i.e. after its endpoints' closing events.
        self._event_sources = 0
        self._sources_lock = _real.Lock()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"fd={self._mailbox.fileno()}"
        return f"<zloop.Socket({self.socket_type.name}) {state} at {id(self):#x}>"

    # -- life cycle --------------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> Socket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self, linger: int | None = None) -> None:
        """Close the socket. Queued outgoing messages are sent for up to LINGER ms (-1 = until sent)."""
        if self._closed:
            return
        if linger is not None:
            self.setsockopt(SocketOption.LINGER, linger)
        linger_ms = self.options.linger
        self.event_source(1)  # held before _closed: no MONITOR_STOPPED while closing endpoints
        self._closed = True
        for handles in list(self._endpoints.values()):
            for handle in handles:
                handle.close(linger_ms)
        self._endpoints.clear()
        for pipe in self._pattern.pipes():
            pipe.terminate()
        self.context._inproc.unbind_all(self)
        # Pipes whose attach is still queued (inproc connects, ZAP requests to a handler that was
        # busy) are terminated as well (attach_pipe does that once closed): their peers would
        # otherwise wait for this socket forever.
        command = self._mailbox.recv(0)
        while command is not None:
            command()
            command = self._mailbox.recv(0)
        self._mailbox.close()
        for level in self._levels:
            level.close()
        self._levels.clear()
        # MONITOR_STOPPED now if no endpoint can emit more events, else when the last one ended
        # (lingering sessions included): close() itself never waits for them.
        self.event_source(-1)
        self.context._socket_closed(self)

    def _check_usable(self) -> None:
        if self._closed:
            raise ZMQError(Errno.ENOTSOCK, "socket is closed")
        if self._ctx_terminated:
            raise ContextTerminated()

    # -- commands (PipeOwner / SocketCore) ---------------------------------------------------------

    def post(self, command: Callable[[], Any], hint: int) -> None:
        """Run ``command`` in this socket's thread (thread-safe). ``hint``: what it may make ready."""
        with self._level_lock:
            self._mailbox.post(command)
            if hint and self._levels:
                for level in self._levels:
                    if level.mask & hint:
                        level.set()

    def _process_commands(self, timeout: float | None) -> bool:
        """Run queued commands, waiting up to ``timeout`` s for the first. True if any ran."""
        mailbox = self._mailbox
        command = mailbox.recv(timeout)
        if command is None:
            return False
        while command is not None:
            command()
            command = mailbox.recv(0)
        if self._ctx_terminated:
            raise ContextTerminated()
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

    def _process_stop(self) -> None:
        self._ctx_terminated = True

    def attach_pipe(self, pipe: Pipe, pending: bool = False) -> None:
        if self._closed:
            pipe.terminate()
            return
        if self.options.conflate and self.socket_type in CONFLATE_DIRECTIONS:
            pipe.set_conflate(*CONFLATE_DIRECTIONS[self.socket_type])  # inproc (tcp: done already)
        if pending:  # made by connect(), peer not known yet: update_pipe follows
            self._pattern.attach_pending(pipe)
        else:
            self._pattern.attach(pipe)

    def update_pipe(self, pipe: Pipe, routing_id: bytes, metadata: dict[str, bytes]) -> None:
        pipe.routing_id = routing_id
        pipe.metadata = metadata
        self._pattern.peer_updated(pipe)

    def read_activated(self, pipe: Pipe) -> None:
        self._pattern.read_activated(pipe)

    def write_activated(self, pipe: Pipe) -> None:
        self._pattern.write_activated(pipe)

    def pipe_terminated(self, pipe: Pipe) -> None:
        self._pattern.pipe_terminated(pipe)

    def event(self, event: int, value: int, endpoint: str) -> None:
        """Monitor hook, called from any thread."""
        monitor = self._monitor
        if monitor is not None:
            monitor(event, value, endpoint)

    def event_source(self, delta: int) -> None:
        """Any thread: an object that emits this socket's events started (+1) or ended (-1).

        Connecters, listeners, stream and raw engines call it (``zloop.io.engine.event_source``).
        Once the socket is closed and none is left, the monitor sends MONITOR_STOPPED and stops:
        libzmq's order, where CLOSED of a connect in progress or of a listener (and any event of a
        lingering connection) comes before MONITOR_STOPPED.
        """
        with self._sources_lock:
            self._event_sources += delta
            done = self._closed and self._event_sources == 0
        if done and self._monitor is not None:
            self._stop_monitor()

    def _stop_monitor(self) -> None:
        monitor, self._monitor = self._monitor, None
        if isinstance(monitor, Monitor):
            monitor.stop()

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
            self._stop_monitor()
            return
        if isinstance(addr, bytes):
            addr = addr.decode("utf-8")
        if not isinstance(addr, str):
            raise TypeError(f"monitor address must be str, not {type(addr).__name__}")
        check_monitor_args(addr, events)
        self._stop_monitor()
        self._monitor = Monitor(self.context, addr, int(events))

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

    def bind(self, addr: str) -> None:
        """Accept connections on ``addr`` (``tcp://``, ``ipc://``, ``inproc://``)."""
        self._check_usable()
        endpoint = _parse(addr, bind=True)
        if endpoint.transport == "inproc":
            handle: Any = self.context._inproc.bind(self, endpoint.address)
            resolved = addr
            # Pipes of connects that came before this bind were attached just now, in this thread.
            self._attached_here()
        else:
            from zloop.io import transport

            handle = transport.bind(
                self.context._io_thread(), self, endpoint, self.options.snapshot()
            )
            resolved = handle.last_endpoint
        self._last_endpoint = resolved
        self._endpoints.setdefault(resolved, []).append(handle)
        if resolved != addr:
            self._endpoints.setdefault(addr, []).append(handle)

    def connect(self, addr: str) -> None:
        """Connect to ``addr``; messages queue at once (unless IMMEDIATE) and reconnects are automatic."""
        self._check_usable()
        endpoint = _parse(addr, bind=False)
        options = self.options.snapshot()
        self.options.connect_routing_id = b""  # applies to the next connect only, as libzmq
        handle: Any
        pipe: Pipe | None
        if endpoint.transport == "inproc":
            handle, pipe = self.context._inproc.connect(self, endpoint.address, options)
        else:
            from zloop.io import transport

            handle, pipe = transport.connect(self.context._io_thread(), self, endpoint, options)
        if pipe is not None:
            if options.connect_routing_id:  # the id this socket (a ROUTER) knows this peer by
                pipe.routing_id = options.connect_routing_id
            # Only an inproc pipe to a bound peer knows its peer already (tcp/ipc: after handshake).
            pending = endpoint.transport != "inproc" or not handle.bound
            self.attach_pipe(pipe, pending)
            self._attached_here()
        self._last_endpoint = addr
        self._endpoints.setdefault(addr, []).append(handle)

    def unbind(self, addr: str) -> None:
        self._drop_endpoint(addr, "unbind")

    def disconnect(self, addr: str) -> None:
        self._drop_endpoint(addr, "disconnect")

    def _drop_endpoint(self, addr: str, what: str) -> None:
        self._check_usable()
        handles = self._endpoints.pop(addr, None)
        if not handles:
            raise ZMQError(Errno.ENOENT, f"{what}: {addr!r} is not an endpoint of this socket")
        for key in [k for k, v in self._endpoints.items() if any(h in handles for h in v)]:
            del self._endpoints[key]
        for handle in handles:
            handle.close(self.options.linger)
        self._process_commands(0)

    def bind_to_random_port(
        self, addr: str, min_port: int = 49152, max_port: int = 65536, max_tries: int = 100
    ) -> int:
        """Bind ``addr`` (``tcp://host``) to a random port in [min_port, max_port); return the port."""
        if min_port == 49152 and max_port == 65536 and max_tries == 100:
            self.bind(f"{addr}:*")
            return int(self._last_endpoint.rsplit(":", 1)[1])
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
    ) -> None:
        """Send one frame; with ``SNDMORE`` more frames of the same message follow."""
        frame = data if type(data) is bytes else as_frame_data(data, copy)
        if flags & SNDMORE:
            if self._out_msg is None:
                self._check_usable()
                # As in libzmq, only the first frame of a message may block or fail with EAGAIN
                # (or with the pattern's EFSM / EHOSTUNREACH, raised by can_begin before blocking).
                begin = self._pattern.can_begin
                if not begin(frame):
                    self._wait(flags, self.options.sndtimeo, lambda: begin(frame))
                self._out_msg = [frame]
            else:
                self._out_msg.append(frame)
            return
        if self._out_msg is None:
            self._send_msg([frame], flags)
        else:
            msg = [*self._out_msg, frame]
            self._send_msg(msg, flags)
            self._out_msg = None

    def send_multipart(
        self,
        msg_parts: Sequence[Any],
        flags: int = 0,
        copy: bool = True,
        track: bool = False,
        **kwargs: Any,
    ) -> None:
        """Send a whole message at once: every frame or (on Again) none."""
        if isinstance(msg_parts, (bytes, str)) or not len(msg_parts):
            raise TypeError("send_multipart takes a non-empty sequence of frames")
        frames = [as_frame_data(part, copy) for part in msg_parts]
        if self._out_msg is not None:
            frames = [*self._out_msg, *frames]
        if flags & SNDMORE:
            if self._out_msg is None:
                self._check_usable()
                begin = self._pattern.can_begin
                if not begin(frames[0]):
                    self._wait(flags, self.options.sndtimeo, lambda: begin(frames[0]))
            self._out_msg = frames
            return
        self._send_msg(frames, flags)
        self._out_msg = None

    def _send_msg(self, msg: Msg, flags: int) -> None:
        if self._closed or self._ctx_terminated:
            self._check_usable()
        pattern = self._pattern
        self._ops += 1
        if self._ops >= pattern.command_interval:
            self._ops = 0
            self._process_commands(0)
        if not pattern.send(msg):
            self._process_commands(0)
            if not pattern.send(msg):
                self._wait(flags, self.options.sndtimeo, lambda: pattern.send(msg))
        if self._levels:
            self._refresh_levels()

    def send_string(
        self, u: str, flags: int = 0, copy: bool = True, encoding: str = "utf-8", **kwargs: Any
    ) -> None:
        if not isinstance(u, str):
            raise TypeError("str objects only")  # pyzmq's words
        self.send(u.encode(encoding), flags=flags, copy=copy, **kwargs)

    send_unicode = send_string

    def send_pyobj(
        self, obj: Any, flags: int = 0, protocol: int = pickle.DEFAULT_PROTOCOL, **kwargs: Any
    ) -> None:
        self.send(pickle.dumps(obj, protocol), flags=flags, **kwargs)

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
    ) -> None:
        """Send the frames ``serialize(msg)`` returns, as one message."""
        self.send_multipart(serialize(msg), flags=flags, copy=copy, **kwargs)

    # -- receiving ---------------------------------------------------------------------------------

    def _next_msg(self, flags: int) -> tuple[Msg, Pipe]:
        if self._closed or self._ctx_terminated:
            self._check_usable()
        pattern = self._pattern
        self._ops += 1
        if self._ops >= _COMMAND_INTERVAL:
            self._ops = 0
            self._process_commands(0)
        got = pattern.recv()
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

    def _frame(self, data: Any, more: bool, pipe: Pipe | None, copy: bool) -> Any:
        if copy:
            return data if isinstance(data, bytes) else bytes(data)
        return Frame._received(data, more, pipe.properties() if pipe is not None else None)

    def recv(self, flags: int = 0, copy: bool = True, track: bool = False) -> Any:
        """Receive one frame (bytes, or a ``Frame`` with ``copy=False``); RCVMORE tells if more follow."""
        msg = self._in_msg
        pipe: Pipe | None
        if msg is None:
            msg, pipe = self._next_msg(flags)
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
            return data if isinstance(data, bytes) else bytes(data)
        return self._frame(data, more, pipe, copy)

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
            return [f if isinstance(f, bytes) else bytes(f) for f in msg[index:]]
        last = len(msg) - 1
        return [self._frame(f, i < last, pipe, False) for i, f in enumerate(msg) if i >= index]

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
        if self._in_msg is not None or self._pattern.has_in():
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
        if self._closed:
            raise ZMQError(Errno.ENOTSOCK, "socket is closed")
        try:
            opt = SocketOption(option)
        except ValueError:
            raise ZMQError(Errno.EINVAL, f"unknown socket option {option!r}") from None
        if opt in (
            SocketOption.FD,
            SocketOption.EVENTS,
            SocketOption.TYPE,
            SocketOption.RCVMORE,
            SocketOption.LAST_ENDPOINT,
        ):
            raise ZMQError(Errno.EINVAL, f"{opt.name} is read-only")
        if self._pattern.setsockopt(opt, value):
            return
        if opt == SocketOption.HWM:
            set_common(self.options, SocketOption.SNDHWM, value)
            set_common(self.options, SocketOption.RCVHWM, value)
            return
        if not is_common(opt):
            raise ZMQError(
                Errno.EINVAL,
                f"option {opt.name} is not supported by {self.socket_type.name} sockets",
            )
        set_common(self.options, opt, value)

    def getsockopt(self, option: int) -> Any:
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
            return getattr(self, "_last_endpoint", "").encode()
        if opt == SocketOption.HWM:
            return self.options.sndhwm
        try:
            return self._pattern.getsockopt(opt)
        except KeyError:
            pass
        if not is_common(opt):
            raise ZMQError(
                Errno.EINVAL,
                f"option {opt.name} is not supported by {self.socket_type.name} sockets",
            )
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
        if not isinstance(optval, str):
            raise TypeError(f"setsockopt_string takes str, not {type(optval).__name__}")
        self.setsockopt(option, optval.encode(encoding))

    def getsockopt_string(self, option: int, encoding: str = "utf-8") -> str:
        value = self.getsockopt(option)
        if not isinstance(value, bytes):
            raise TypeError(f"option {option} is not a bytes option")
        return value.decode(encoding)

    set_string = setsockopt_string
    get_string = getsockopt_string

    @property
    def FD(self) -> int:
        return self._mailbox.fileno()

    @property
    def EVENTS(self) -> int:
        return self.getsockopt(SocketOption.EVENTS)  # type: ignore[no-any-return]

    @property
    def type(self) -> int:
        return int(self.socket_type)

    @property
    def hwm(self) -> int:
        return self.options.sndhwm

    @hwm.setter
    def hwm(self, value: int) -> None:
        self.setsockopt(SocketOption.HWM, value)


def _noop() -> None:
    pass


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
