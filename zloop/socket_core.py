"""``SocketCore``: the part of a socket that the rest of zloop holds.

Theory of operation
-------------------
The application holds a :class:`~zloop.socket.Socket`; everything else holds its core: the pipes
(the core is the owner of the socket's pipe ends), the I/O thread's sessions, listeners and
connecters (:class:`zloop.io.interfaces.SocketCore` is what they may use), the inproc registry and
the context. The core keeps everything a socket needs to be closed -- pattern, endpoints, mailbox,
options, level fds, monitor hook -- and refers to its Socket only weakly. So a Socket that the
program drops without ``close()`` can be collected (nothing internal keeps it alive), and closing it
then needs no Socket at all: its finalizer hands the core to the reaper (:mod:`zloop.lifetime`),
which calls :meth:`SocketCore.close` as ``Socket.close`` would have.

Threads: :meth:`post`, :meth:`event` and :meth:`event_source` may be called from any thread.
Everything else runs in the socket's thread: inside a command the socket runs, in ``close`` -- or,
once the Socket is gone, in the reaper, the only thread left that uses the core.

A socket inherited through ``fork()`` is *forked* in the child (see :mod:`zloop.lifetime`): its
fds and I/O threads are the parent's, so it must not be touched there; using it raises.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from zloop import _real
from zloop.constants import Errno, SocketType
from zloop.errors import ZMQError
from zloop.io.signaler import LevelSignal
from zloop.mailbox import Mailbox
from zloop.options import Options
from zloop.patterns import CONFLATE_DIRECTIONS
from zloop.patterns.base import Pattern
from zloop.pipe import Msg, Pipe

if TYPE_CHECKING:
    from zloop.context import ContextCore
    from zloop.socket import Socket


class _Handle:
    """What ``bind``/``connect`` leave behind in :attr:`SocketCore.endpoints`."""

    def close(self, linger_ms: int) -> None:  # pragma: no cover - interface
        raise NotImplementedError


class SocketCore:
    """Pattern, pipes, endpoints and mailbox of one socket (see the module docstring)."""

    def __init__(
        self, context: ContextCore, socket_type: SocketType, pattern: Pattern, owner: Socket
    ) -> None:
        self.context = context
        self.socket_type = socket_type
        self.options: Options = pattern.options
        self.pattern = pattern
        self.mailbox = Mailbox()
        #: A recv's wait on the mailbox and its connection's fd (Socket._read_here), made on
        #: first use, and the connection fd registered in it (-1: none).
        self.read_poller: Any = None
        self.read_poller_fd = -1
        self.levels: list[LevelSignal] = []
        # Makes a writer's "post a command, then set the level fds" one step as seen by the owner's
        # clear (Socket._clear_level): a set can never land after the owner accounted for its command.
        self.level_lock = _real.Lock()
        self.endpoints: dict[str, list[Any]] = {}
        #: ``close`` began (the socket is unusable); :attr:`close_done`: it completed. In between,
        #: only while ``close`` runs in :attr:`closer` (a thread id), or after an exception cut it
        #: short (closer 0): calling ``close`` again finishes it.
        self.closed = False
        self.close_done = False
        self.closer = 0
        self.linger_at_close = 0
        # Endpoints, pipes, mailbox and level fds are closed (the monitor may stop).
        self._released = False
        #: Set by the command Context.term posts (and in a forked child).
        self.terminated = False
        #: In a child process, the pid of the parent this socket belongs to (see zloop.lifetime).
        self.forked_from = 0
        #: The thread that made the socket or last blocked in it (the exit flush leaves a socket
        #: that a live thread other than the exiting one is using).
        self.home = _real.get_ident()
        # Event hook called by the I/O thread and bind (thread-safe): a Monitor, or None.
        self.monitor: Callable[[int, int, str], None] | None = None
        # I/O objects that may still emit events (connecters, engines: see event_source); after
        # close() the monitor stops when the last one ended, as libzmq stops it when the socket
        # object is destroyed, i.e. after its endpoints' closing events.
        self._event_sources = 0
        self._sources_lock = _real.Lock()
        #: The handles on this socket: its Socket first, then any shadows (Socket.shadow).
        self._handles: list[weakref.ref[Socket]] = [weakref.ref(owner)]
        #: LAST_ENDPOINT (shared by every handle, as libzmq's socket option).
        self.last_endpoint = ""
        #: Messages read ahead from :attr:`ahead_pipe` by ``Socket.recv`` (``Pipe.take_ahead``:
        #: reversed, not yet counted as read), shared by every handle. Handed back to the pipe
        #: (:meth:`give_back_ahead`) before anything else looks at the pattern or the pipes.
        self.ahead: list[Msg] = []
        self.ahead_pipe: Pipe | None = None

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"fd={self.mailbox.fileno()}"
        return f"<SocketCore({self.socket_type.name}) {state} at {id(self):#x}>"

    @property
    def socket(self) -> Socket | None:
        """A Socket on this core (its own first, else a shadow), while the application holds one."""
        for ref in self._handles:
            sock = ref()
            if sock is not None:
                return sock
        return None

    def handles(self) -> list[Socket]:
        """Every Socket on this core the application still holds (its own and shadows)."""
        return [sock for sock in (ref() for ref in self._handles) if sock is not None]

    def add_handle(self, sock: Socket) -> None:
        """A shadow Socket on this core (the socket's thread only)."""
        self._handles = [ref for ref in self._handles if ref() is not None]
        self._handles.append(weakref.ref(sock))

    # -- commands (PipeOwner / zloop.io.interfaces.SocketCore) --------------------------------------

    def post(self, command: Callable[[], Any], hint: int) -> None:
        """Run ``command`` in the socket's thread (thread-safe). ``hint``: what it may make ready."""
        with self.level_lock:
            self.mailbox.post(command)
            if hint and self.levels:
                for level in self.levels:
                    if level.mask & hint:
                        level.set()

    def stop(self) -> None:
        """Command posted by ``Context.term``: every call of the socket raises ContextTerminated."""
        self.terminated = True
        for sock in self.handles():
            sock._ctx_terminated = True

    def give_back_ahead(self) -> None:
        """Return the messages ``Socket.recv`` read ahead to their pipe (see :attr:`ahead`)."""
        if self.ahead:
            pipe = self.ahead_pipe
            assert pipe is not None
            pipe.give_back(self.ahead)

    def attach_pipe(self, pipe: Pipe, pending: bool = False) -> None:
        self.give_back_ahead()  # fair queueing takes turns from the next message on
        if self.closed:
            pipe.terminate()
            return
        if self.options.conflate and self.socket_type in CONFLATE_DIRECTIONS:
            pipe.set_conflate(*CONFLATE_DIRECTIONS[self.socket_type])  # inproc (tcp: done already)
        if pending:  # made by connect(), peer not known yet: update_pipe follows
            self.pattern.attach_pending(pipe)
        else:
            self.pattern.attach(pipe)

    def update_pipe(self, pipe: Pipe, routing_id: bytes, metadata: dict[str, bytes]) -> None:
        pipe.routing_id = routing_id
        pipe.metadata = metadata
        self.pattern.peer_updated(pipe)

    def read_activated(self, pipe: Pipe) -> None:
        self.pattern.read_activated(pipe)

    def write_activated(self, pipe: Pipe) -> None:
        self.pattern.write_activated(pipe)

    def pipe_terminated(self, pipe: Pipe) -> None:
        self.give_back_ahead()
        self.pattern.pipe_terminated(pipe)

    # -- events ------------------------------------------------------------------------------------

    def event(self, event: int, value: int, endpoint: str) -> None:
        """Monitor hook, called from any thread."""
        monitor = self.monitor
        if monitor is not None:
            monitor(event, value, endpoint)

    def event_source(self, delta: int) -> None:
        """Any thread: an object that emits this socket's events started (+1) or ended (-1)
        (0: close has released everything).

        Connecters, listeners, stream and raw engines call it (``zloop.io.engine.event_source``).
        Once the socket is closed and none is left, the monitor sends MONITOR_STOPPED and stops:
        libzmq's order, where CLOSED of a connect in progress or of a listener (and any event of a
        lingering connection) comes before MONITOR_STOPPED.
        """
        with self._sources_lock:
            self._event_sources += delta
            done = self._released and self._event_sources == 0
        if done and self.monitor is not None:
            self.stop_monitor()

    def stop_monitor(self) -> None:
        from zloop.monitor import Monitor

        monitor = self.monitor
        if isinstance(monitor, Monitor):
            monitor.stop()  # idempotent; forgotten once done (a close's retry stops it again)
        if self.monitor is monitor:
            self.monitor = None

    # -- life cycle --------------------------------------------------------------------------------

    def check_not_forked(self) -> None:
        if self.forked_from:
            raise ZMQError(
                Errno.ENOTSUP,
                f"this socket belongs to process {self.forked_from}, the parent of a fork(): "
                "its context's threads do not exist here; make a new Context in this process",
            )

    def mark_forked(self, parent: int) -> None:
        """In a fork's child: this socket is the parent's (touch none of its fds or threads)."""
        self.forked_from = parent
        self.terminated = True
        for sock in self.handles():
            sock._ctx_terminated = True  # sends the hot path to _check_usable, which raises

    def close(self) -> None:
        """Close with the LINGER option: queued messages are sent for up to LINGER ms (-1: until
        sent) by the I/O thread; this returns at once. Idempotent, and resumable.

        Resumable: an exception part way -- most likely a KeyboardInterrupt from a signal handler
        (Ctrl-C, or SIGTERM mapped to it), which Python raises between any two bytecodes of the main
        thread, e.g. in the wait for a listener's release -- leaves :attr:`closed` set and the
        steps done so far done; calling ``close`` again finishes the rest. ``Socket.close``,
        ``Context.term`` and ``Context.destroy`` do, so a socket the program saw closed is never
        left registered with its context (``term`` would wait for it for ever). Each step is
        idempotent, and is marked done only once it is (nothing is marked done ahead of its work).
        """
        if self.close_done:
            return
        if self.forked_from:
            self.closed = self.close_done = True  # the parent's fds and threads: touch nothing
            return
        self.closer = _real.get_ident()
        try:
            self._close_steps()
        except BaseException:
            self.closer = 0  # interrupted: Context.term may finish it (see term)
            raise
        self.closer = 0

    def _close_steps(self) -> None:
        """For :meth:`close`: its steps, each idempotent (see there)."""
        if not self.closed:
            self.linger_at_close = self.options.linger
            self.closed = True
        if not self._released:
            for sock in self.handles():  # shadows see it at once (their send/recv test _closed)
                sock._closed = True
            self._close_endpoints(self.linger_at_close)
            self.give_back_ahead()  # dropped with the pipe's queue, as libzmq drops them
            for pipe in self.pattern.pipes():
                pipe.terminate()
            self.context.inproc.unbind_all(self)
            # Pipes whose attach is still queued (inproc connects, ZAP requests to a handler that
            # was busy) are terminated as well (attach_pipe does that once closed): their peers
            # would otherwise wait for this socket forever.
            mailbox = self.mailbox
            command = mailbox.recv(0)
            while command is not None:
                command()
                command = mailbox.recv(0)
            mailbox.close()
            with self.level_lock:
                for level in self.levels:
                    level.close()
                self.levels.clear()
            self._released = True
        # MONITOR_STOPPED now if no endpoint can emit more events, else when the last one ended
        # (lingering sessions included): close() itself never waits for them.
        self.event_source(0)
        self.context.socket_closed(self)
        self.close_done = True

    def _close_endpoints(self, linger_ms: int) -> None:
        """For :meth:`close`: close every endpoint. A handle is forgotten only once its close
        returned (each handle's close is idempotent), so an interrupted close closes it again."""
        endpoints = self.endpoints
        while endpoints:
            name = next(iter(endpoints))
            handles = endpoints[name]
            if not handles:
                del endpoints[name]
                continue
            handle = handles[-1]
            handle.close(linger_ms)
            for others in endpoints.values():  # a bind may be listed under two names
                others[:] = [other for other in others if other is not handle]
