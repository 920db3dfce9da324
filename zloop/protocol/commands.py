"""Command bodies: building and parsing READY, ERROR, SUBSCRIBE, CANCEL, PING and PONG.

A command body is ``command-name command-data`` where ``command-name = short-size
1*255command-name-char`` (RFC 37 section "Formal Grammar"). ⚠ RFC 23's prose speaks of "a null
octet separator"; its grammar, RFC 37 and libzmq all use the length-prefixed name, as we do.
Framing (flags ``04``/``06`` and the size) is added by :mod:`zloop.protocol.frames`.

Parsers take the whole body (``bytes``) and raise
:class:`~zloop.protocol.errors.MechanismError` with a precise reason when it is malformed.
"""

from __future__ import annotations

from typing import Final

from zloop.constants import ProtocolErrorCode
from zloop.protocol.errors import LocalProtocolError, MechanismError

READY: Final = b"READY"
ERROR: Final = b"ERROR"
SUBSCRIBE: Final = b"SUBSCRIBE"
CANCEL: Final = b"CANCEL"
PING: Final = b"PING"
PONG: Final = b"PONG"

READY_PREFIX: Final = b"\x05READY"
ERROR_PREFIX: Final = b"\x05ERROR"
SUBSCRIBE_PREFIX: Final = b"\x09SUBSCRIBE"
CANCEL_PREFIX: Final = b"\x06CANCEL"
PING_PREFIX: Final = b"\x04PING"
PONG_PREFIX: Final = b"\x04PONG"

#: RFC 37 "Connection Heartbeating": "ping-context = 0*16OCTET".
MAX_PING_CONTEXT: Final = 16
#: RFC 37 "Connection Heartbeating": "ping-ttl = 2OCTET" (tenths of a second).
MAX_PING_TTL: Final = 0xFFFF

_MALFORMED = ProtocolErrorCode.ZMTP_MALFORMED_COMMAND_UNSPECIFIED


def command_body(name: bytes, data: bytes = b"") -> bytes:
    """``[len(name)] name data``; for mechanisms that define their own commands."""
    if not 1 <= len(name) <= 255:
        raise LocalProtocolError(f"command name {name!r} must be 1 to 255 bytes")
    return bytes((len(name),)) + name + data


def ready_body(properties: bytes) -> bytes:
    """READY (RFC 37 "The NULL Security Mechanism": ``ready = command-size %d5 "READY" metadata``)."""
    return READY_PREFIX + properties


def error_body(reason: bytes) -> bytes:
    """ERROR (RFC 37: ``error = command-size %d5 "ERROR" error-reason``, reason 0..255 octets)."""
    if len(reason) > 255:
        raise LocalProtocolError(f"ERROR reason is {len(reason)} bytes; at most 255 are allowed")
    return ERROR_PREFIX + bytes((len(reason),)) + bytes(reason)


def subscribe_body(topic: bytes) -> bytes:
    """SUBSCRIBE (RFC 37 "The Publish-Subscribe Pattern": ``%d9 "SUBSCRIBE" subscription``)."""
    return SUBSCRIBE_PREFIX + bytes(topic)


def cancel_body(topic: bytes) -> bytes:
    """CANCEL (RFC 37 "The Publish-Subscribe Pattern": ``%d6 "CANCEL" subscription``)."""
    return CANCEL_PREFIX + bytes(topic)


def ping_body(ttl: int, context: bytes = b"") -> bytes:
    """PING (RFC 37 "Connection Heartbeating": ``%d4 "PING" ping-ttl ping-context``)."""
    if not 0 <= ttl <= MAX_PING_TTL:
        raise LocalProtocolError(f"PING ttl {ttl} is outside 0..65535 deciseconds")
    if len(context) > MAX_PING_CONTEXT:
        raise LocalProtocolError(f"PING context is {len(context)} bytes; at most 16 are allowed")
    return PING_PREFIX + ttl.to_bytes(2, "big") + bytes(context)


def pong_body(context: bytes) -> bytes:
    """PONG (RFC 37: ``%d4 "PONG" ping-context``, the PING's context echoed)."""
    if len(context) > MAX_PING_CONTEXT:
        raise LocalProtocolError(f"PONG context is {len(context)} bytes; at most 16 are allowed")
    return PONG_PREFIX + bytes(context)


def split_command(body: bytes) -> tuple[bytes, int]:
    """``(name, offset of the command data)``; raises MechanismError if the name is malformed."""
    if not body:
        raise MechanismError(_MALFORMED, "empty command frame (no command name)")
    name_len = body[0]
    # RFC 37 "Formal Grammar": command-name = short-size 1*255command-name-char.
    if name_len == 0:
        raise MechanismError(_MALFORMED, "command name has length 0")
    if name_len > len(body) - 1:
        raise MechanismError(
            _MALFORMED,
            f"command name length {name_len} exceeds the {len(body) - 1} bytes of the body",
        )
    return body[1 : 1 + name_len], 1 + name_len


def parse_error(body: bytes, offset: int) -> bytes:
    """The reason of an ERROR command whose data starts at *offset*."""
    if offset >= len(body):
        raise MechanismError(
            ProtocolErrorCode.ZMTP_MALFORMED_COMMAND_ERROR, "ERROR command has no reason length"
        )
    reason_len = body[offset]
    available = len(body) - offset - 1
    # libzmq null_mechanism_t::process_error_command: reason longer than the command -> EPROTO.
    if reason_len > available:
        raise MechanismError(
            ProtocolErrorCode.ZMTP_MALFORMED_COMMAND_ERROR,
            f"ERROR reason announces {reason_len} bytes, only {available} present",
        )
    return body[offset + 1 : offset + 1 + reason_len]


def parse_ping(body: bytes, offset: int) -> tuple[int, bytes]:
    """``(ttl, context)`` of a PING; the context is truncated to 16 bytes as libzmq does.

    ⚠ RFC 37 says the context "MUST not exceed 16 octets"; libzmq accepts longer ones and echoes
    only the first 16, and so do we (rejecting would drop connections libzmq keeps).
    """
    if len(body) - offset < 2:
        raise MechanismError(_MALFORMED, "PING command is shorter than its 2-byte TTL")
    ttl = (body[offset] << 8) | body[offset + 1]
    return ttl, body[offset + 2 : offset + 2 + MAX_PING_CONTEXT]
