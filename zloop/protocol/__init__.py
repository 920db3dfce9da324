"""Layer 1: the ZeroMQ wire protocol (ZMTP 3.1, with 3.0 / 2.0 / 1.0 peers) as a pure state machine.

No sockets, threads or clocks: feed a :class:`Connection` bytes, read events; give it messages,
take bytes. See :mod:`zloop.protocol.connection` for the theory of operation.
"""

from zloop.protocol.compat import (
    COMPATIBLE,
    SOCKET_TYPE_NAMES,
    ZMTP20_TYPE_BY_NAME,
    ZMTP20_TYPE_BYTES,
    is_compatible,
    socket_type_name,
)
from zloop.protocol.connection import Connection
from zloop.protocol.errors import LocalProtocolError
from zloop.protocol.events import (
    NEED_DATA,
    AuthenticationFailed,
    Cancel,
    ConnectionClosed,
    Event,
    HandshakeComplete,
    Message,
    NeedData,
    PeerError,
    Ping,
    Pong,
    ProtocolError,
    Subscribe,
    ZapRequest,
)
from zloop.protocol.mechanism import HandshakeContext, Mechanism, ZapReply
from zloop.protocol.null import NullMechanism

__all__ = [
    "COMPATIBLE",
    "NEED_DATA",
    "SOCKET_TYPE_NAMES",
    "ZMTP20_TYPE_BYTES",
    "ZMTP20_TYPE_BY_NAME",
    "AuthenticationFailed",
    "Cancel",
    "Connection",
    "ConnectionClosed",
    "Event",
    "HandshakeComplete",
    "HandshakeContext",
    "LocalProtocolError",
    "Mechanism",
    "Message",
    "NeedData",
    "NullMechanism",
    "PeerError",
    "Ping",
    "Pong",
    "ProtocolError",
    "Subscribe",
    "ZapReply",
    "ZapRequest",
    "is_compatible",
    "socket_type_name",
]
