"""The seams of layer 3: what the Socket (L4) gives the I/O thread, and what its parts give each other.

``SocketCore`` is the only thing L3 knows about a socket. Everything L3 does to a socket either goes
through ``post`` (and so runs in the socket's own thread) or through the thread-safe ``event`` hook.

The other protocols here are internal to ``zloop.io``: :class:`EngineHost` is what a stream engine
needs from its session, :class:`IOObject` is what the I/O thread needs from the objects it keeps
alive (listeners and sessions) so that :meth:`IOThread.stop` can wind them down.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from zloop.options import Options
from zloop.pipe import Pipe

if TYPE_CHECKING:
    from zloop.protocol import HandshakeComplete


class SocketCore(Protocol):
    """What a socket's core (L4, :class:`zloop.socket_core.SocketCore`) implements for the I/O thread.

    L3 holds cores, never the Socket handles the application holds (so those can be collected).
    """

    options: Options
    #: The socket was closed (by its owner, the reaper, or the exit flush).
    closed: bool

    def post(self, command: Callable[[], Any], hint: int) -> None:
        """Thread-safe: run ``command`` in the socket's thread; ``hint`` = POLLIN/POLLOUT it may make ready."""

    def attach_pipe(self, pipe: Pipe) -> None:
        """Socket thread only (through ``post``): a new pipe, ``routing_id``/``metadata`` already set."""

    def update_pipe(self, pipe: Pipe, routing_id: bytes, metadata: dict[str, bytes]) -> None:
        """Socket thread only (through ``post``): a connect-side pipe's peer (re)completed a handshake."""

    def event(self, event: int, value: int, endpoint: str) -> None:
        """Thread-safe monitor hook (``zloop.constants.Event`` numbers, libzmq meaning of ``value``)."""


class ErrorReason(enum.Enum):
    """Why an engine stopped (libzmq ``i_engine::error_reason_t``)."""

    #: Peer closed, connection reset, send/recv failed: the connecting side reconnects.
    CONNECTION = "connection"
    #: Handshake or heartbeat timer expired: the connecting side reconnects.
    TIMEOUT = "timeout"
    #: The peer broke the protocol (or sent ERROR): no reconnect.
    PROTOCOL = "protocol"


class EngineHost(Protocol):
    """What a stream engine needs from the session that owns it (all calls in the I/O thread)."""

    @property
    def pipe(self) -> Pipe | None:
        """The session's end of the pipe to the socket (None until there is one)."""

    def engine_ready(self, handshake: HandshakeComplete) -> None:
        """The ZMTP handshake completed: create or update the pipe before the first message."""

    def engine_error(self, reason: ErrorReason, handshaked: bool) -> None:
        """The engine is gone (socket closed, events emitted); decide between reconnect and end."""

    def engine_drained(self) -> None:
        """The engine wrote everything it had and the pipe has nothing more (linger progress)."""


class IOObject(Protocol):
    """An object an :class:`IOThread` keeps alive: a listener or a session."""

    @property
    def core(self) -> SocketCore:
        """The socket it serves."""

    def io_stop(self) -> None:
        """The I/O thread is stopping: terminate with the object's own linger if not already closing."""

    def io_exit(self) -> None:
        """The interpreter is exiting: stop waiting for anything that needs a peer to come back."""
