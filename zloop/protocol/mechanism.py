"""The security-mechanism interface: what NULL implements now and PLAIN / CURVE later.

A ZMTP 3.x connection runs exactly one mechanism, named in the greeting (RFC 37 section
"Authentication and Confidentiality"). The :class:`~zloop.protocol.connection.Connection` owns
framing and the greeting; a :class:`Mechanism` owns everything between the greeting and the first
message, plus (optionally) the per-frame transformation afterwards. One mechanism = one module.

The contract, in the order the connection calls it:

``start(ctx)``
    Called once the peer's greeting is in. ``ctx`` (:class:`HandshakeContext`) offers our socket
    type and routing id, the peer's version and as-server flag, our encoded metadata
    (:meth:`HandshakeContext.own_properties`) and the shared metadata validator
    (:meth:`HandshakeContext.peer_properties`, which applies the socket-type table). Returns the
    command bodies to send now (``[len] NAME data``; the connection frames them).
``receive_command(body)``
    Every frame the peer sends before :attr:`complete` (commands only: the connection rejects a
    data frame during the handshake). Returns command bodies to send in reply.
``take_zap_request()``
    After ``start`` / ``receive_command`` the connection asks whether the mechanism wants a ZAP
    decision (RFC 27). If so it emits the returned :class:`~zloop.protocol.events.ZapRequest`
    event and the handshake waits -- incoming commands are still passed to
    ``receive_command`` -- until the engine calls ``Connection.zap_reply``, which reaches
    :meth:`zap_reply` here. Use :func:`check_zap_reply` to turn a refusal into the right error.
``complete``
    True once the handshake is done in both directions; the connection then emits
    ``HandshakeComplete`` with :attr:`peer_properties`.
``encode_frame`` / ``decode_frame``
    Only when :attr:`wraps_frames` is true (CURVE): after the handshake every outgoing frame --
    data and commands (PING, SUBSCRIBE...) alike -- is passed as ``(zmtp_flags, body)`` and
    replaced by the returned ``(wire_flags, wire_body)`` (CURVE: a MESSAGE command body whose
    inner flags byte is MORE=01 / COMMAND=02, sent with outer flags 00/02 -- docs/wire.md §5).
    Every incoming frame is passed the other way and must come back as ZMTP flags (MORE 0x01,
    COMMAND 0x04) plus the plaintext body, which the connection then treats as if it had arrived
    unwrapped. NULL and PLAIN leave :attr:`wraps_frames` false and the fast path untouched.

Errors: raise :class:`~zloop.protocol.errors.MechanismError` (peer broke the protocol; set
``error_reason`` to have an ERROR command -- built by :meth:`Mechanism.error_command` -- queued first),
:class:`~zloop.protocol.errors.PeerErrorReceived` (the peer sent ERROR), or
:class:`~zloop.protocol.errors.AuthenticationError` (ZAP refused). The connection turns each into
exactly one terminal event. A mechanism never does I/O, never blocks and never reads a clock.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

from zloop.constants import ProtocolErrorCode, SocketType
from zloop.protocol import commands as cmd
from zloop.protocol.compat import is_compatible, socket_type_name
from zloop.protocol.errors import AuthenticationError, LocalProtocolError, MechanismError
from zloop.protocol.events import ZapRequest
from zloop.protocol.metadata import SOCKET_TYPE, parse_properties


class HandshakeContext:
    """What a mechanism may know and use about its connection (read-only for mechanisms)."""

    __slots__ = ("_properties", "peer_as_server", "peer_version", "routing_id", "socket_type")

    def __init__(
        self,
        socket_type: SocketType,
        routing_id: bytes,
        properties: bytes,
        peer_version: tuple[int, int],
        peer_as_server: bool,
    ) -> None:
        self.socket_type = socket_type
        self.routing_id = routing_id
        self.peer_version = peer_version
        self.peer_as_server = peer_as_server
        self._properties = properties

    def own_properties(self) -> bytes:
        """Our metadata, encoded: Socket-Type, Identity (REQ/DEALER/ROUTER), X- properties."""
        return self._properties

    def peer_properties(
        self,
        data: bytes,
        start: int,
        code: ProtocolErrorCode = ProtocolErrorCode.ZMTP_INVALID_METADATA,
    ) -> dict[str, bytes]:
        """Parse the peer's metadata at ``data[start:]`` and check its Socket-Type.

        An incompatible Socket-Type fails without an ERROR command, as libzmq (which closes
        with EINVAL); ⚠ RFC 37 "The Socket-Type Property" suggests returning an ERROR first.
        A missing Socket-Type is accepted, as libzmq.
        """
        props = parse_properties(data, start, code)
        peer_type = props.get(SOCKET_TYPE)
        if peer_type is not None:
            name = peer_type.decode("latin-1")
            if not is_compatible(self.socket_type, name):
                raise MechanismError(
                    ProtocolErrorCode.ZMTP_INVALID_METADATA,
                    f"peer Socket-Type {name!r} is not compatible with "
                    f"{socket_type_name(self.socket_type)}",
                )
        return props


@dataclass(frozen=True, slots=True)
class ZapReply:
    """The parts of a ZAP reply (RFC 27) a mechanism needs; the engine validates the envelope."""

    status_code: bytes
    status_text: bytes = b""
    user_id: bytes = b""
    metadata: Mapping[str, bytes] = field(default_factory=dict)


#: RFC 27 "Reply": status codes libzmq accepts (anything else is ZAP_INVALID_STATUS_CODE).
ZAP_STATUS_CODES = frozenset({b"200", b"300", b"400", b"500"})


def check_zap_reply(reply: ZapReply) -> None:
    """Return if ZAP said 200; otherwise raise the error libzmq produces.

    300: close silently (no ERROR). 400 / 500: send ERROR with the status code as reason, then
    close (docs/wire.md §6, libzmq ``null_mechanism_t::next_handshake_command``).
    """
    code = bytes(reply.status_code)
    if code not in ZAP_STATUS_CODES:
        raise MechanismError(
            ProtocolErrorCode.ZAP_INVALID_STATUS_CODE, f"ZAP status code {code!r} is not valid"
        )
    if code == b"200":
        return
    raise AuthenticationError(code, None if code == b"300" else code)


class Mechanism(ABC):
    """A ZMTP security mechanism (see the module docstring for the calling contract)."""

    #: Greeting mechanism name (1..20 bytes, RFC 37 ``mechanism-char`` set).
    name: ClassVar[bytes]
    #: True if every frame after the handshake goes through encode_frame / decode_frame.
    wraps_frames: ClassVar[bool] = False

    def __init__(self) -> None:
        self._zap_request: ZapRequest | None = None

    @property
    def as_server(self) -> bool:
        """Our greeting as-server bit (RFC 37 "Topology"); NULL: always false."""
        return False

    @property
    def allows_legacy(self) -> bool:
        """Whether ZMTP 1.0 / 2.0 peers may be accepted (they can only do unauthenticated NULL)."""
        return False

    @abstractmethod
    def start(self, ctx: HandshakeContext) -> list[bytes]:
        """Begin the handshake; return command bodies to send."""

    @abstractmethod
    def receive_command(self, body: bytes) -> list[bytes]:
        """Process one handshake command from the peer; return command bodies to send."""

    @property
    @abstractmethod
    def complete(self) -> bool:
        """True once the handshake succeeded in both directions."""

    @property
    @abstractmethod
    def peer_properties(self) -> dict[str, bytes]:
        """The peer's metadata (valid once complete)."""

    def request_zap(self, mechanism: bytes, credentials: tuple[bytes, ...] = ()) -> None:
        """For subclasses: ask the connection to pause for a ZAP decision."""
        self._zap_request = ZapRequest(mechanism, credentials)

    def take_zap_request(self) -> ZapRequest | None:
        """The pending ZAP request, returned once (then ``None``)."""
        request, self._zap_request = self._zap_request, None
        return request

    def zap_reply(self, reply: ZapReply) -> list[bytes]:
        """The engine's answer to our ZAP request; return command bodies to send."""
        raise LocalProtocolError(f"the {self.name.decode()} mechanism has no ZAP request pending")

    def error_command(self, reason: bytes) -> bytes:
        """The ERROR command body the connection sends before failing the handshake.

        The RFC 37 form by default; a mechanism may override it to match what its libzmq
        counterpart puts on the wire (PLAIN's server does: see ``zloop.protocol.plain``).
        """
        return cmd.error_body(reason)

    def encode_frame(self, flags: int, body: bytes) -> tuple[int, bytes | bytearray]:
        """Wrap one outgoing frame (only called when ``wraps_frames``). A bytearray result is
        handed over: the connection may queue it without copying."""
        return flags, body

    def decode_frame(
        self, flags: int, body: bytes | bytearray | memoryview
    ) -> tuple[int, bytes | bytearray]:
        """Unwrap one incoming frame (only called when ``wraps_frames``). A bytearray result is a
        frame of its own (as a large body read into its own buffer), never a shared buffer."""
        return flags, bytes(body) if type(body) is memoryview else body
