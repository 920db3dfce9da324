"""The NULL security mechanism (RFC 37 section "The NULL Security Mechanism").

Grammar: ``null = ready *message | error``. Each side sends READY with its metadata; the
handshake is complete once READY was both sent and received. libzmq sends its READY right after
the greeting whatever the direction (the symmetric 3.0 model), and so do we; that is compatible
with RFC 37's "client sends READY, server answers" wording.

Every frame before the peer's READY must be READY or ERROR, and nothing may follow READY until
the handshake completes (libzmq ``null_mechanism_t::process_handshake_command``:
ZMTP_UNEXPECTED_COMMAND). With ``zap=True`` (the engine sets it when ZMQ_ZAP_DOMAIN is set and
a handler is bound) a ZAP request is issued *before* our READY, as libzmq does; 200 sends READY,
400/500 send ERROR with the status code, 300 closes silently.
"""

from __future__ import annotations

from typing import ClassVar

from zloop.constants import ProtocolErrorCode
from zloop.protocol.commands import (
    ERROR_PREFIX,
    READY_PREFIX,
    parse_error,
    ready_body,
    split_command,
)
from zloop.protocol.errors import LocalProtocolError, MechanismError, PeerErrorReceived
from zloop.protocol.mechanism import HandshakeContext, Mechanism, ZapReply, check_zap_reply


class NullMechanism(Mechanism):
    """NULL: no authentication, no confidentiality; metadata exchange only."""

    name: ClassVar[bytes] = b"NULL"

    def __init__(self, *, zap: bool = False) -> None:
        super().__init__()
        self.zap = zap
        self._ctx: HandshakeContext | None = None
        self._ready_sent = False
        self._ready_received = False
        self._awaiting_zap = False
        self._peer: dict[str, bytes] = {}

    @property
    def allows_legacy(self) -> bool:
        # libzmq refuses ZMTP 1.0/2.0 peers whenever ZAP is enabled (zmtp_engine handshake_v1_0).
        return not self.zap

    @property
    def complete(self) -> bool:
        return self._ready_sent and self._ready_received

    @property
    def peer_properties(self) -> dict[str, bytes]:
        return self._peer

    def start(self, ctx: HandshakeContext) -> list[bytes]:
        self._ctx = ctx
        if self.zap:
            self._awaiting_zap = True
            self.request_zap(b"NULL")
            return []
        self._ready_sent = True
        return [ready_body(ctx.own_properties())]

    def receive_command(self, body: bytes) -> list[bytes]:
        assert self._ctx is not None, "start() must be called first"
        if self._ready_received:
            name, _ = split_command(body)
            raise MechanismError(
                ProtocolErrorCode.ZMTP_UNEXPECTED_COMMAND,
                f"unexpected {name.decode('latin-1')!r} command after READY in the NULL handshake",
            )
        if body.startswith(READY_PREFIX):
            self._peer = self._ctx.peer_properties(body, len(READY_PREFIX))
            self._ready_received = True
            return []
        if body.startswith(ERROR_PREFIX):
            raise PeerErrorReceived(parse_error(body, len(ERROR_PREFIX)))
        name, _ = split_command(body)
        raise MechanismError(
            ProtocolErrorCode.ZMTP_UNEXPECTED_COMMAND,
            f"unexpected {name.decode('latin-1')!r} command in the NULL handshake "
            "(expected READY or ERROR)",
        )

    def zap_reply(self, reply: ZapReply) -> list[bytes]:
        if not self._awaiting_zap or self._ctx is None:
            raise LocalProtocolError("the NULL mechanism has no ZAP request pending")
        self._awaiting_zap = False
        check_zap_reply(reply)
        self._ready_sent = True
        return [ready_body(self._ctx.own_properties())]
