"""The PLAIN security mechanism (RFC 24, greeting mechanism ``PLAIN``), as libzmq 4.3 runs it.

Grammar (RFC 24 "Formal Grammar")::

    C: HELLO          S: WELCOME | ERROR       (the server asks ZAP in between)
    C: INITIATE       S: READY | ERROR

* HELLO    = ``[5]"HELLO" [u]username [p]password`` (each 0..255 bytes, nothing after).
* WELCOME  = ``[7]"WELCOME"``, exactly 8 bytes.
* INITIATE = ``[8]"INITIATE"`` + metadata; READY = ``[5]"READY"`` + metadata.

Roles come from local options only (the peer's as-server bit is ignored, as libzmq does). The client
may send messages once READY arrived, the server once it sent READY.

Server: after a well-formed HELLO it always asks ZAP (mechanism ``PLAIN``, credentials username and
password) and waits; 200 sends WELCOME, 400/500 send ERROR with the code (in libzmq's spelling,
see :data:`LIBZMQ_PLAIN_ERROR_PREFIX`), 300 closes silently
(:func:`~zloop.protocol.mechanism.check_zap_reply`). ⚠ libzmq refuses the connection when no ZAP
handler is bound -- that decision belongs to the engine, which sees the :class:`ZapRequest` and
finds no handler.

Error codes follow libzmq (``plain_server.cpp`` / ``plain_client.cpp``): a command other than the
expected one is ZMTP_UNEXPECTED_COMMAND, a malformed HELLO is ZMTP_MALFORMED_COMMAND_HELLO, a WELCOME
with extra bytes is ZMTP_MALFORMED_COMMAND_WELCOME, bad metadata is ZMTP_INVALID_METADATA.
"""

from __future__ import annotations

import enum
from typing import ClassVar

from zloop.constants import ProtocolErrorCode
from zloop.protocol.commands import ERROR_PREFIX, READY_PREFIX, parse_error, split_command
from zloop.protocol.errors import LocalProtocolError, MechanismError, PeerErrorReceived
from zloop.protocol.mechanism import HandshakeContext, Mechanism, ZapReply, check_zap_reply

HELLO_PREFIX = b"\x05HELLO"
WELCOME = b"\x07WELCOME"
INITIATE_PREFIX = b"\x08INITIATE"
#: ⚠ libzmq 4.3's PLAIN spells its ERROR prefix ``"\x05ERROR"`` in C, where ``\x05E`` is ONE hex
#: escape (0x5E, "^"): its PLAIN server sends ``^RROR`` + reason-length + reason (no name-length
#: byte) and its PLAIN client only recognises that form -- the RFC form makes a libzmq client
#: report HANDSHAKE_FAILED_PROTOCOL (unexpected command) instead of HANDSHAKE_FAILED_AUTH. So our
#: client accepts both forms, and our server sends libzmq's, so that every peer sees exactly what a
#: libzmq server would have sent (either way the refused client closes and does not reconnect).
LIBZMQ_PLAIN_ERROR_PREFIX = b"^RROR"

_Code = ProtocolErrorCode


class _State(enum.Enum):
    # client
    WAIT_WELCOME = "waiting for WELCOME"
    WAIT_READY = "waiting for READY"
    # server
    WAIT_HELLO = "waiting for HELLO"
    WAIT_ZAP = "waiting for the ZAP reply"
    WAIT_INITIATE = "waiting for INITIATE"
    # both
    READY = "ready"


def hello_body(username: bytes, password: bytes) -> bytes:
    """HELLO with the given credentials (each at most 255 bytes)."""
    if len(username) > 255 or len(password) > 255:
        raise LocalProtocolError("PLAIN username and password are at most 255 bytes each")
    return b"".join(
        (HELLO_PREFIX, bytes((len(username),)), username, bytes((len(password),)), password)
    )


def parse_hello(body: bytes) -> tuple[bytes, bytes]:
    """``(username, password)`` of a HELLO; the lengths must account for every byte (libzmq)."""
    pos = len(HELLO_PREFIX)
    end = len(body)
    if pos >= end:
        raise MechanismError(_Code.ZMTP_MALFORMED_COMMAND_HELLO, "PLAIN HELLO without a username")
    ulen = body[pos]
    pos += 1
    if end - pos < ulen:
        raise MechanismError(_Code.ZMTP_MALFORMED_COMMAND_HELLO, "PLAIN HELLO username truncated")
    username = bytes(body[pos : pos + ulen])
    pos += ulen
    if pos >= end:
        raise MechanismError(_Code.ZMTP_MALFORMED_COMMAND_HELLO, "PLAIN HELLO without a password")
    plen = body[pos]
    pos += 1
    if end - pos != plen:
        raise MechanismError(
            _Code.ZMTP_MALFORMED_COMMAND_HELLO,
            f"PLAIN HELLO password announces {plen} bytes, {end - pos} follow",
        )
    return username, bytes(body[pos:end])


class PlainMechanism(Mechanism):
    """PLAIN client (``server=False``, sends the credentials) or server (asks ZAP)."""

    name: ClassVar[bytes] = b"PLAIN"

    def __init__(self, *, server: bool, username: bytes = b"", password: bytes = b"") -> None:
        super().__init__()
        self.server = server
        self.username = bytes(username)
        self.password = bytes(password)
        if not server:
            hello_body(self.username, self.password)  # validates the lengths now
        self._ctx: HandshakeContext | None = None
        self._state = _State.WAIT_HELLO if server else _State.WAIT_WELCOME
        self._peer: dict[str, bytes] = {}

    @property
    def as_server(self) -> bool:
        return self.server

    @property
    def complete(self) -> bool:
        return self._state is _State.READY

    @property
    def peer_properties(self) -> dict[str, bytes]:
        return self._peer

    def start(self, ctx: HandshakeContext) -> list[bytes]:
        self._ctx = ctx
        if self.server:
            return []
        return [hello_body(self.username, self.password)]

    def receive_command(self, body: bytes) -> list[bytes]:
        assert self._ctx is not None, "start() must be called first"
        return self._server_command(body) if self.server else self._client_command(body)

    def _unexpected(self, body: bytes) -> MechanismError:
        name, _ = split_command(body)
        return MechanismError(
            _Code.ZMTP_UNEXPECTED_COMMAND,
            f"unexpected {name.decode('latin-1')!r} command in the PLAIN handshake "
            f"({self._state.value})",
        )

    def _client_command(self, body: bytes) -> list[bytes]:
        assert self._ctx is not None
        state = self._state
        if body.startswith(WELCOME):
            if state is not _State.WAIT_WELCOME:
                raise self._unexpected(body)
            if len(body) != len(WELCOME):
                raise MechanismError(
                    _Code.ZMTP_MALFORMED_COMMAND_WELCOME,
                    f"PLAIN WELCOME must be {len(WELCOME)} bytes, got {len(body)}",
                )
            self._state = _State.WAIT_READY
            return [INITIATE_PREFIX + self._ctx.own_properties()]
        if body.startswith(READY_PREFIX):
            if state is not _State.WAIT_READY:
                raise self._unexpected(body)
            self._peer = self._ctx.peer_properties(body, len(READY_PREFIX))
            self._state = _State.READY
            return []
        if state in (_State.WAIT_WELCOME, _State.WAIT_READY):
            if body.startswith(ERROR_PREFIX):
                raise PeerErrorReceived(parse_error(body, len(ERROR_PREFIX)))
            if body.startswith(LIBZMQ_PLAIN_ERROR_PREFIX):
                raise PeerErrorReceived(parse_error(body, len(LIBZMQ_PLAIN_ERROR_PREFIX)))
        raise self._unexpected(body)

    def _server_command(self, body: bytes) -> list[bytes]:
        assert self._ctx is not None
        state = self._state
        if state is _State.WAIT_HELLO:
            if not body.startswith(HELLO_PREFIX):
                raise self._unexpected(body)
            username, password = parse_hello(body)
            self._state = _State.WAIT_ZAP
            self.request_zap(b"PLAIN", (username, password))
            return []
        if state is _State.WAIT_INITIATE:
            if not body.startswith(INITIATE_PREFIX):
                raise self._unexpected(body)
            self._peer = self._ctx.peer_properties(body, len(INITIATE_PREFIX))
            self._state = _State.READY
            return [READY_PREFIX + self._ctx.own_properties()]
        # libzmq: any command while waiting for ZAP fails the handshake (ZMTP_UNSPECIFIED).
        name, _ = split_command(body)
        raise MechanismError(
            _Code.ZMTP_UNSPECIFIED,
            f"unexpected {name.decode('latin-1')!r} command in the PLAIN handshake ({state.value})",
        )

    def error_command(self, reason: bytes) -> bytes:
        if not self.server:
            return super().error_command(reason)
        if len(reason) > 255:
            raise LocalProtocolError(
                f"ERROR reason is {len(reason)} bytes; at most 255 are allowed"
            )
        return LIBZMQ_PLAIN_ERROR_PREFIX + bytes((len(reason),)) + bytes(reason)

    def zap_reply(self, reply: ZapReply) -> list[bytes]:
        if self._state is not _State.WAIT_ZAP:
            raise LocalProtocolError("the PLAIN mechanism has no ZAP request pending")
        check_zap_reply(reply)
        self._state = _State.WAIT_INITIATE
        return [WELCOME]
