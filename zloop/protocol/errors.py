"""Exceptions of the protocol layer.

:class:`LocalProtocolError` is public: the local program misused the API (sent before the
handshake, after a failure, an invalid argument). The others are internal signals raised by the
parsers and by security mechanisms; :class:`~zloop.protocol.connection.Connection` catches them at
its boundary and turns each into exactly one terminal event, so a peer never causes an exception
to escape ``receive_data``.
"""

from __future__ import annotations

from zloop.constants import ProtocolErrorCode


class LocalProtocolError(Exception):
    """The local program misused the protocol API (not the peer's fault)."""


class MechanismError(Exception):
    """The peer violated the protocol (raised by parsers and mechanisms).

    ``error_reason``: when not ``None``, the connection queues an ERROR command with this reason
    before failing (RFC 23 section 3 "Error Handling": a peer MAY send ERROR before closing).
    """

    def __init__(
        self, code: ProtocolErrorCode, reason: str, error_reason: bytes | None = None
    ) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.error_reason = error_reason


class PeerErrorReceived(Exception):
    """The peer sent an ERROR command (a mechanism raises this during the handshake)."""

    def __init__(self, reason: bytes) -> None:
        super().__init__(reason)
        self.reason = reason


class AuthenticationError(Exception):
    """ZAP refused the peer; ``error_reason`` is the ERROR reason to send (None: close silently)."""

    def __init__(self, status_code: bytes, error_reason: bytes | None) -> None:
        super().__init__(status_code)
        self.status_code = status_code
        self.error_reason = error_reason
