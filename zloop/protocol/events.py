"""Events returned by :meth:`Connection.next_event` and :meth:`Connection.events`.

Every event is a frozen, slotted dataclass; dispatch on the type (``isinstance`` or ``match``),
never on strings. :data:`NEED_DATA` is a sentinel singleton, not an event class instance: it means
"feed me more bytes".

Terminal events: after :class:`ProtocolError`, :class:`PeerError`, :class:`AuthenticationFailed`
or :class:`ConnectionClosed` the connection delivers nothing else; ``next_event()`` keeps
returning that same terminal event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from zloop.constants import ProtocolErrorCode


class NeedData:
    """Type of the :data:`NEED_DATA` sentinel (one instance only)."""

    __slots__ = ()
    _instance: NeedData | None = None

    def __new__(cls) -> NeedData:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NEED_DATA"

    def __reduce__(self) -> str:
        return "NEED_DATA"


#: Returned by ``next_event()`` when no complete event is buffered.
NEED_DATA: Final = NeedData()


@dataclass(frozen=True, slots=True)
class HandshakeComplete:
    """The greeting and the security handshake are done; messages may flow both ways.

    ``peer_socket_type``: the peer's Socket-Type ("DEALER"...), ``None`` when it sent none (libzmq
    allows that) and for ZMTP 1.0 peers; for ZMTP 2.0 peers the name of its greeting type byte.
    ``peer_version``: (3, 1), (3, 0), (2, 0) or (1, 0). ``peer_metadata``: every property of the
    peer's READY (or INITIATE), names as sent. ``peer_routing_id``: its Identity property (3.x) or
    identity frame (1.0/2.0), ``b""`` when none.
    """

    peer_socket_type: str | None
    peer_version: tuple[int, int]
    peer_metadata: dict[str, bytes]
    peer_routing_id: bytes


@dataclass(frozen=True, slots=True)
class Message:
    """One complete multipart message, never split and never partial.

    Frames are ``bytes``; a large frame (see ``frames.LARGE_BODY``) may be a ``bytearray``
    received without an extra copy -- treat every frame as bytes-like and read-only.
    """

    frames: list[bytes]


@dataclass(frozen=True, slots=True)
class Subscribe:
    """A ZMTP 3.1 SUBSCRIBE command (the 3.0 ``\\x01topic`` form arrives as a :class:`Message`)."""

    topic: bytes


@dataclass(frozen=True, slots=True)
class Cancel:
    """A ZMTP 3.1 CANCEL command (the 3.0 ``\\x00topic`` form arrives as a :class:`Message`)."""

    topic: bytes


@dataclass(frozen=True, slots=True)
class Ping:
    """A PING; the matching PONG is ALREADY queued when this event is returned.

    ``ttl`` is in deciseconds as on the wire. ``context`` is what the PONG echoes: the PING
    context truncated to 16 bytes, as libzmq does (RFC 37 allows at most 16).
    """

    ttl: int
    context: bytes


@dataclass(frozen=True, slots=True)
class Pong:
    """A PONG answering one of our PINGs."""

    context: bytes


@dataclass(frozen=True, slots=True)
class PeerError:
    """The peer sent an ERROR command. Terminal."""

    reason: bytes


@dataclass(frozen=True, slots=True)
class ProtocolError:
    """The peer violated the protocol. Terminal.

    ``reason`` is a precise human message; ``error_reason`` is the ERROR command reason already
    queued in the output, or ``None`` when nothing was queued (libzmq sends none for most errors).
    """

    code: ProtocolErrorCode
    reason: str
    error_reason: bytes | None = None


@dataclass(frozen=True, slots=True)
class ConnectionClosed:
    """The peer closed the connection (``receive_data(b"")``). Terminal."""


@dataclass(frozen=True, slots=True)
class ZapRequest:
    """The security mechanism asks for a ZAP decision (RFC 27) and pauses the handshake.

    Not part of the NULL-without-ZAP path. The engine builds the full ZAP request from this
    (adding version, request id, domain, address and the local routing id), asks the handler and
    answers with :meth:`Connection.zap_reply`.
    """

    mechanism: bytes
    credentials: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class AuthenticationFailed:
    """ZAP refused the peer (status 300, 400 or 500). Terminal.

    ``error_reason`` is the ERROR reason already queued for the peer ("400"/"500"), ``None`` for
    300 (libzmq closes silently).
    """

    status_code: bytes
    error_reason: bytes | None


Event = (
    HandshakeComplete
    | Message
    | Subscribe
    | Cancel
    | Ping
    | Pong
    | PeerError
    | ProtocolError
    | ConnectionClosed
    | ZapRequest
    | AuthenticationFailed
)

#: Event types after which the connection is finished.
TERMINAL_EVENTS: Final = (ProtocolError, PeerError, ConnectionClosed, AuthenticationFailed)
