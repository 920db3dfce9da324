"""The interface between a socket and its pattern (socket-type logic).

A pattern receives whole messages (lists of frames) from :class:`~zloop.socket.Socket` and routes
them over pipes; it hands whole incoming messages back. Its answers to :meth:`Pattern.has_in` and
:meth:`Pattern.has_out` are what ``EVENTS`` reports, so they must follow one rule: **answering "no" must
arm a wake-up** — a pattern only says "not ready" after asking its pipes (``check_read`` /
``check_write``), which is what makes the pipe post ``activate_read`` / ``activate_write`` later.
"""

from __future__ import annotations

from typing import Any

from zloop.constants import Errno, SocketOption
from zloop.errors import ZMQError
from zloop.options import Options
from zloop.pipe import Msg, Pipe


class Pattern:
    """Base class: a socket type that can neither send nor receive."""

    #: Whether a message's metadata (``Frame.get``) comes from a pipe the pattern can name.
    def __init__(self, options: Options) -> None:
        self.options = options

    # -- pipes -------------------------------------------------------------------------------------

    def attach(self, pipe: Pipe) -> None:
        """A new pipe to a peer."""
        raise NotImplementedError

    def attach_pending(self, pipe: Pipe) -> None:
        """A pipe made by ``connect`` before its peer is known (``peer_updated`` follows)."""
        self.attach(pipe)

    def peer_updated(self, pipe: Pipe) -> None:
        """The socket learnt (or re-learnt, after a reconnect) ``pipe.routing_id`` / ``metadata``."""

    def read_activated(self, pipe: Pipe) -> None:
        pass

    def write_activated(self, pipe: Pipe) -> None:
        pass

    def pipe_terminated(self, pipe: Pipe) -> None:
        """``pipe`` is gone; forget it."""

    def pipes(self) -> list[Pipe]:
        """Every attached pipe (used to terminate them on close)."""
        return []

    # -- messages ----------------------------------------------------------------------------------

    def send(self, msg: Msg) -> bool:
        """Route one whole message; False means "would block" (nothing was sent)."""
        raise ZMQError(Errno.ENOTSUP, f"{self.options.socket_type.name} sockets cannot send")

    def recv(self) -> tuple[Msg, Pipe] | None:
        """The next whole message and the pipe it came from, or None ("would block")."""
        raise ZMQError(Errno.ENOTSUP, f"{self.options.socket_type.name} sockets cannot receive")

    def can_begin(self, first: Any) -> bool:
        """May a message starting with frame ``first`` be sent now? Asked for the first frame of a
        message sent in parts, before blocking; raises to refuse it (EFSM, EHOSTUNREACH ...)."""
        return self.has_out()

    def has_in(self) -> bool:
        return False

    def has_out(self) -> bool:
        return False

    # -- options -----------------------------------------------------------------------------------

    def setsockopt(self, option: SocketOption, value: Any) -> bool:
        """Handle a type-specific option; False if this pattern does not know it."""
        return False

    def getsockopt(self, option: SocketOption) -> Any:
        """A type-specific option's value; raises KeyError if unknown."""
        raise KeyError(option)
