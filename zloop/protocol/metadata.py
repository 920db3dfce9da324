"""Connection metadata: the property list carried by READY (and later INITIATE / CURVE boxes).

Wire form (RFC 23 / RFC 37 section "The NULL Security Mechanism")::

    metadata = *property
    property = name value
    name     = short-size 1*255name-char      ; 1-byte length, then the name
    value    = 4OCTET *OCTET                  ; 4-byte big-endian length, then the value

Names are kept as ``str`` decoded from Latin-1 (lossless for any byte; spec names are ASCII).
Values are ``bytes``. ⚠ RFC 37 section "Connection Metadata" says names are case-insensitive;
libzmq compares them case-sensitively (``Socket-Type``, ``Identity``), and so do we.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from struct import Struct

from zloop.constants import ProtocolErrorCode, SocketType
from zloop.protocol.compat import socket_type_name
from zloop.protocol.errors import LocalProtocolError, MechanismError

SOCKET_TYPE = "Socket-Type"
IDENTITY = "Identity"

#: Socket types whose READY carries an Identity property (libzmq ``add_basic_properties``).
SENDS_IDENTITY = frozenset({SocketType.REQ, SocketType.DEALER, SocketType.ROUTER})

_U32 = Struct(">I")
#: RFC 37 "The NULL Security Mechanism": "The value SHALL be 0 to 2,147,483,647 ... octets".
MAX_VALUE = 0x7FFFFFFF

PropertyValue = bytes | bytearray | memoryview | str


def _value_bytes(value: PropertyValue) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8")
    return bytes(value)


def encode_property(name: str | bytes, value: PropertyValue) -> bytes:
    """One property on the wire; raises :class:`LocalProtocolError` for an invalid name/value."""
    raw_name = name.encode("latin-1") if isinstance(name, str) else bytes(name)
    # RFC 37: "The name SHALL be 1 to 255 characters. Zero-sized names are not valid."
    if not 1 <= len(raw_name) <= 255:
        raise LocalProtocolError(f"metadata name {name!r} must be 1 to 255 bytes")
    raw_value = _value_bytes(value)
    if len(raw_value) > MAX_VALUE:
        raise LocalProtocolError(f"metadata value for {name!r} exceeds 2^31-1 bytes")
    return b"".join((bytes((len(raw_name),)), raw_name, _U32.pack(len(raw_value)), raw_value))


def encode_properties(items: Iterable[tuple[str | bytes, PropertyValue]]) -> bytes:
    """Concatenate properties in the given order."""
    return b"".join(encode_property(name, value) for name, value in items)


def basic_properties(
    socket_type: SocketType, routing_id: bytes, metadata: Mapping[str, PropertyValue]
) -> bytes:
    """Our READY / INITIATE properties in libzmq's order.

    libzmq (``mechanism_t::add_basic_properties``) emits Socket-Type, then Identity only for
    REQ, DEALER and ROUTER (⚠ even when empty; RFC 23's worked example omits it for ROUTER), then
    the application's properties (``ZMQ_METADATA``, names starting with ``X-``).
    """
    items: list[tuple[str | bytes, PropertyValue]] = [(SOCKET_TYPE, socket_type_name(socket_type))]
    if socket_type in SENDS_IDENTITY:
        items.append((IDENTITY, routing_id))
    for name, value in metadata.items():
        if name in (SOCKET_TYPE, IDENTITY):
            raise LocalProtocolError(f"metadata name {name!r} is reserved for the protocol")
        items.append((name, value))
    return encode_properties(items)


def parse_properties(
    data: bytes, start: int = 0, code: ProtocolErrorCode = ProtocolErrorCode.ZMTP_INVALID_METADATA
) -> dict[str, bytes]:
    """Parse ``data[start:]`` as a property list; raises :class:`MechanismError` if malformed.

    Every length is checked against the bytes actually present before slicing, so a hostile
    length never allocates. A repeated name keeps its first value (libzmq inserts into a
    ``std::map``, which ignores later duplicates).
    """
    props: dict[str, bytes] = {}
    end = len(data)
    pos = start
    while pos < end:
        name_len = data[pos]
        pos += 1
        if name_len == 0:
            # RFC 37: "Zero-sized names are not valid." (⚠ libzmq accepts them; it never sends one.)
            raise MechanismError(code, f"metadata property at offset {pos - 1} has an empty name")
        if end - pos < name_len + 4:
            raise MechanismError(code, f"metadata truncated in property name at offset {pos - 1}")
        name = data[pos : pos + name_len].decode("latin-1")
        pos += name_len
        (value_len,) = _U32.unpack_from(data, pos)
        pos += 4
        if value_len > end - pos:
            # RFC 37: value length SHALL be 0..2^31-1; libzmq drops the connection (EPROTO) when
            # the value runs past the command.
            raise MechanismError(
                code,
                f"metadata property {name!r} announces {value_len} bytes, only {end - pos} remain",
            )
        if name not in props:
            props[name] = data[pos : pos + value_len]
        pos += value_len
    return props
