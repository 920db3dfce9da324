"""Sessions: the I/O-thread owner of one connection's pipe end, its engine and (connect side) connecter.

Theory of operation
-------------------
A session lives in the I/O thread and is the :class:`~zloop.pipe.PipeOwner` of the I/O end of one
pipe to the application socket (``post`` = ``io.post``). It outlives engines: an engine is one
established connection, a session is one endpoint relationship.

*Bind side.* The listener creates a session per accepted connection. Its pipe is created when the
handshake completes and handed to the socket (``attach_pipe``). When the connection ends, the session
terminates its pipe end (the socket still reads what was queued, then drops the pipe) and ends.

*Connect side.* ``connect()`` creates the session and, unless IMMEDIATE, the pipe at once, so messages
queue before any peer exists. The connecter makes the connection; on each completed handshake the
socket is told the (new) peer identity (``update_pipe``). Connection and timeout errors reconnect
(RECONNECT_IVL, backoff in the connecter; -1/0 = never, and the endpoint ends); the pipe survives
(with IMMEDIATE it is terminated and a new one is made on the next handshake). Protocol errors end the
session: no reconnect, as libzmq.

*Termination and LINGER.* ``terminate(linger_ms)`` (endpoint close, or the I/O thread stopping) ends
the session once everything the socket queued before terminating its pipe end has been written to the
OS socket, or when ``linger_ms`` expires (0: at once, dropping; -1: no limit). "Queued" means up to
the delimiter if the socket terminated its end, else what is in the pipe now. A terminating connect
session keeps reconnecting, so lingering messages still reach a peer that appears late.

*Exit.* Once the interpreter exits (``io.exiting``, see :mod:`zloop.lifetime`) a terminating session
whose connection is down -- no engine and no connect in progress -- ends at once instead of waiting
for a reconnect: the process is going away and cannot wait for a peer to come back. A connection
that is up (or being made) still delivers what is queued, within LINGER.
"""

from __future__ import annotations

import logging
import socket
from typing import TYPE_CHECKING, Any, Protocol, cast

from zloop.constants import PollEvent, SocketType
from zloop.io.engine import StreamEngine
from zloop.io.interfaces import ErrorReason, SocketCore
from zloop.io.raw_engine import RawEngine
from zloop.io.reactor import IOThread, Timer
from zloop.options import Options
from zloop.patterns import CONFLATE_DIRECTIONS
from zloop.pipe import Pipe, PipeOwner, pipe_pair

if TYPE_CHECKING:
    from collections.abc import Callable

    from zloop.protocol import HandshakeComplete

log = logging.getLogger("zloop")

_POLLINOUT = int(PollEvent.POLLIN | PollEvent.POLLOUT)
_POLLIN = int(PollEvent.POLLIN)
#: The command a writer's flush posts to wake an asleep reader (see ``Session.post``).
_ACTIVATE_READ = Pipe._process_activate_read


class Connecter(Protocol):
    """Makes the connection of a connect-side session (see :mod:`zloop.io.transport`)."""

    @property
    def connecting(self) -> bool:
        """A connection attempt is in progress (not waiting for a retry)."""

    def start(self, wait: bool) -> None:
        """Connect now (``wait`` False) or after the reconnect interval (True)."""

    def close(self) -> None:
        """Stop connecting (cancel timers, close a half-open socket)."""


class Session:
    """One endpoint relationship in the I/O thread (bind side: one accepted connection)."""

    def __init__(
        self,
        io: IOThread,
        socket_core: SocketCore,
        options: Options,
        endpoint: str,
        *,
        connect: bool,
        on_done: Callable[[Session], None] | None = None,
    ) -> None:
        self.io = io
        self.socket = socket_core
        self.options = options
        self.endpoint = endpoint
        self.connect_side = connect
        self.connecter: Connecter | None = None
        self._on_done = on_done
        self._pipe: Pipe | None = None
        self._engine: StreamEngine | RawEngine | None = None
        self._peer_address = ""
        self._terminating = False
        self._finished = False
        self._linger_timer: Timer | None = None

    def __repr__(self) -> str:
        side = "connect" if self.connect_side else "bind"
        return f"<Session {side} {self.endpoint} engine={self._engine is not None}>"

    # -- set-up (any thread before start, then I/O thread) --------------------------------------

    def make_pipe(self) -> Pipe:
        """Create the pipe pair now (connect without IMMEDIATE); returns the socket's end."""
        # The Socket implements PipeOwner as well as SocketCore (its pipes' owner).
        owner = cast(PipeOwner, self.socket)
        sock_end, own_end = pipe_pair(
            owner, self, hwm_a=self.options.sndhwm, hwm_b=self.options.rcvhwm
        )
        self._pipe = own_end
        # The socket's write that finds the pipe full lets the engine drain it into the OS socket
        # at once (see "Draining a full pipe" in zloop/io/engine.py).
        sock_end.set_drain(lambda: self._drain(own_end))
        if self.options.conflate:
            directions = CONFLATE_DIRECTIONS.get(self.options.socket_type)
            if directions is not None:
                sock_end.set_conflate(*directions)
        return sock_end

    def start(self) -> None:
        """I/O thread: begin (connect side: start connecting)."""
        self.io.register(self)
        if self.connecter is not None and not self._finished:
            self.connecter.start(False)

    @property
    def pipe(self) -> Pipe | None:
        return self._pipe

    @property
    def core(self) -> SocketCore:
        return self.socket

    @property
    def peer_address(self) -> str:
        """The connected peer's numeric IP ("" for ipc): ZAP's address frame, ``Peer-Address``."""
        return self._peer_address

    @property
    def engine(self) -> StreamEngine | RawEngine | None:
        return self._engine

    @property
    def finished(self) -> bool:
        return self._finished

    def attach_socket(self, sock: socket.socket, peer_address: str) -> None:
        """An established connection (accepted, or made by the connecter): run an engine on it."""
        if self._finished:
            sock.close()
            return
        self._peer_address = peer_address
        # STREAM sockets speak raw bytes (no ZMTP): libzmq's raw engine.
        engine_cls = RawEngine if self.options.socket_type == SocketType.STREAM else StreamEngine
        engine = engine_cls(
            self.io,
            self,
            sock,
            socket_core=self.socket,
            options=self.options,
            endpoint=self.endpoint,
        )
        self._engine = engine
        engine.start()

    # -- PipeOwner ------------------------------------------------------------------------------

    def post(self, command: Callable[[], Any], hint: int = 0) -> None:
        # The socket's flush wakes us for messages it queued while our pipe end was asleep: if
        # the engine is idle, the calling (application) thread sends them itself and the I/O
        # thread is not woken at all (see "Direct writes" in zloop/io/engine.py).
        if hint == _POLLIN and getattr(command, "__func__", None) is _ACTIVATE_READ:
            pipe = self._pipe
            engine = self._engine
            if (
                pipe is not None
                and type(engine) is StreamEngine
                and getattr(command, "__self__", None) is self._pipe
                and engine.try_direct_write(pipe)
            ):
                return
        self.io.post(command)

    def _drain(self, pipe: Pipe) -> None:
        """Application thread: the socket found ``pipe`` (our end) full."""
        engine = self._engine
        if type(engine) is StreamEngine:
            engine.drain(pipe)

    def read_activated(self, pipe: Pipe) -> None:
        if self._engine is not None:
            self._engine.restart_output()
        elif self._terminating:
            self._check_done()

    def write_activated(self, pipe: Pipe) -> None:
        if self._engine is not None:
            self._engine.restart_input()

    def pipe_terminated(self, pipe: Pipe) -> None:
        """The socket terminated its end and we have read every message before the delimiter."""
        if pipe is not self._pipe:
            return
        self._pipe = None
        if self._terminating:
            # Called from inside the engine's pipe.read(): finish on the next turn, once the
            # engine has written what it already took.
            self.io.post(self._check_done)
        elif self.options.socket_type == SocketType.STREAM:
            # A STREAM socket closed this connection (it sent empty data): end the session, no
            # reconnect (libzmq), once what was sent before has been written (bounded by LINGER).
            self.io.post(self._close_raw)

    def _close_raw(self) -> None:
        if not self._terminating:
            self.terminate(self.options.linger)

    # -- EngineHost -----------------------------------------------------------------------------

    def engine_ready(self, handshake: HandshakeComplete) -> None:
        metadata: dict[str, bytes] = {
            k: bytes(v) if not isinstance(v, bytes) else v
            for k, v in handshake.peer_metadata.items()
        }
        metadata["Peer-Address"] = self._peer_address.encode()
        routing_id = bytes(handshake.peer_routing_id)
        core = self.socket
        pipe = self._pipe
        if pipe is None:
            if self._terminating:
                return  # no new pipes while closing
            sock_end = self.make_pipe()
            sock_end.routing_id = routing_id
            sock_end.metadata = metadata
            core.post(lambda: core.attach_pipe(sock_end), _POLLINOUT)
            pipe = self._pipe
        else:
            sock_end = pipe.peer
            core.post(lambda: core.update_pipe(sock_end, routing_id, metadata), _POLLINOUT)
        if pipe is not None:
            # Before this connection writes any message into the pipe: its messages carry its
            # properties (Frame.get), while those of an earlier connection still queued keep theirs.
            pipe.publish_properties(metadata)
        if (
            pipe is not None
            and handshake.peer_version == (1, 0)
            and self.options.socket_type in (SocketType.PUB, SocketType.XPUB)
        ):
            # ZMTP 1.0 subscribers never send subscriptions: libzmq injects subscribe-all.
            pipe.write([b"\x01"])
            pipe.flush()

    def engine_error(self, reason: ErrorReason, handshaked: bool) -> None:
        """The connection ended (called before the engine emits its closing events): end the pipe
        now if it ends with it; a reconnect starts on the next turn, after DISCONNECTED."""
        self._engine = None
        if self._finished:
            return
        if (
            self.connect_side
            and reason is not ErrorReason.PROTOCOL
            and self.connecter is not None
            and self.options.reconnect_ivl > 0
        ):
            if self.options.immediate and self._pipe is not None:
                self._pipe.terminate()  # a fresh pipe comes with the next handshake
                self._pipe = None
            if self._terminating and self._pipe is None:
                self._finish()
                return
            self.io.post(self._reconnect)
            return
        self._finish()

    def _reconnect(self) -> None:
        if self._stranded_at_exit():
            self._finish()
        elif not self._finished and self._engine is None and self.connecter is not None:
            self.connecter.start(True)

    def may_retry(self) -> bool:
        """Asked by the connecter before it schedules a retry (False: the session just ended)."""
        if self._stranded_at_exit():
            self._finish()
            return False
        return not self._finished

    def _stranded_at_exit(self) -> bool:
        """Exiting, lingering, and no connection up or being made (see "Exit" above)."""
        connecter = self.connecter
        return (
            self.io.exiting
            and self._terminating
            and not self._finished
            and self._engine is None
            and (connecter is None or not connecter.connecting)
        )

    def engine_drained(self) -> None:
        if self._terminating:
            self._check_done()

    # -- termination ----------------------------------------------------------------------------

    def terminate(self, linger_ms: int) -> None:
        """I/O thread: end after lingering (see the module docstring)."""
        if self._finished:
            return
        if self._linger_timer is not None:
            self._linger_timer.cancel()
            self._linger_timer = None
        self._terminating = True
        if self._stranded_at_exit():
            self._finish()
            return
        if linger_ms == 0 or self._pipe is None:
            engine = self._engine
            if linger_ms != 0 and engine is not None and engine.has_pending_output():
                if linger_ms > 0:
                    self._linger_timer = self.io.call_later(linger_ms / 1000, self._finish)
                return  # engine_drained finishes
            self._finish()
            return
        if linger_ms > 0:
            self._linger_timer = self.io.call_later(linger_ms / 1000, self._finish)
        if self._engine is not None:
            self._engine.restart_output()
        self._check_done()

    def io_stop(self) -> None:
        if not self._terminating:
            self.terminate(self.options.linger)

    def io_exit(self) -> None:
        if self._stranded_at_exit():
            self._finish()

    def _check_done(self) -> None:
        """While terminating: finish once nothing queued is left to write."""
        if self._finished or not self._terminating:
            return
        engine = self._engine
        if engine is not None and engine.has_pending_output():
            return
        pipe = self._pipe
        if pipe is not None:
            if engine is None or not engine.handshaked:
                return  # wait for a connection to deliver through (bounded by linger)
            if pipe.check_read():
                engine.restart_output()
                return
            if self._pipe is not None and not pipe.peer_terminated:
                pass  # the socket did not terminate its end: what was queued is sent
            elif self._pipe is not None:
                return  # delimiter not reached yet; read_activated / pipe_terminated follow
        self._finish()

    def _finish(self) -> None:
        if self._finished:
            return
        self._finished = True
        self._terminating = True
        if self._linger_timer is not None:
            self._linger_timer.cancel()
            self._linger_timer = None
        if self.connecter is not None:
            self.connecter.close()
        if self._engine is not None:
            engine, self._engine = self._engine, None
            engine.close()
        if self._pipe is not None:
            pipe, self._pipe = self._pipe, None
            pipe.terminate()
        self.io.unregister(self)
        if self._on_done is not None:
            self._on_done(self)
