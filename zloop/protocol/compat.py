"""Socket-type names and the peer compatibility table, as data.

Three tables live here:

* :data:`SOCKET_TYPE_NAMES` -- the ``Socket-Type`` metadata value each socket type sends in its
  READY (exact upper-case spelling; libzmq compares it byte for byte).
* :data:`COMPATIBLE` -- own type -> the peer ``Socket-Type`` strings it accepts, exactly as libzmq 4.3
  enforces them (``mechanism_t::check_socket_type``). RFC 23 section "Socket Compatibility" lists
  the same pairs; RFC 15 section "Socket Compatibility" lists them for ZMTP 2.0.
* :data:`ZMTP20_TYPE_BYTES` -- the socket-type byte of a ZMTP 2.0 greeting (RFC 15 "Formal
  Grammar"), which is libzmq's socket-type number. ⚠ RFC 15 only lists 0..8 (XPUB/XSUB "are
  implemented at the protocol level as PUB and SUB"), but libzmq sends its raw type number, so
  9 (XPUB) and 10 (XSUB) occur on the wire; we map them to their own names.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from zloop.constants import SocketType

#: The ``Socket-Type`` property value of every socket type.
SOCKET_TYPE_NAMES: Mapping[SocketType, str] = MappingProxyType(
    {member: member.name for member in SocketType}
)

# RFC 23 section "Socket Compatibility" / libzmq mechanism_t::check_socket_type.
_PAIRS: dict[SocketType, tuple[str, ...]] = {
    SocketType.REQ: ("REP", "ROUTER"),
    SocketType.REP: ("REQ", "DEALER"),
    SocketType.DEALER: ("REP", "DEALER", "ROUTER"),
    SocketType.ROUTER: ("REQ", "DEALER", "ROUTER"),
    SocketType.PUB: ("SUB", "XSUB"),
    SocketType.XPUB: ("SUB", "XSUB"),
    SocketType.SUB: ("PUB", "XPUB"),
    SocketType.XSUB: ("PUB", "XPUB"),
    SocketType.PUSH: ("PULL",),
    SocketType.PULL: ("PUSH",),
    SocketType.PAIR: ("PAIR",),
}

#: Own socket type -> the peer Socket-Type strings it accepts (case-sensitive, as libzmq).
#: STREAM is absent: it speaks raw TCP, not ZMTP.
COMPATIBLE: Mapping[SocketType, frozenset[str]] = MappingProxyType(
    {own: frozenset(peers) for own, peers in _PAIRS.items()}
)

#: ZMTP 2.0 greeting socket-type byte -> Socket-Type name (RFC 15 "Formal Grammar", plus libzmq's
#: 9 = XPUB and 10 = XSUB).
ZMTP20_TYPE_BYTES: Mapping[int, str] = MappingProxyType(
    {int(member): member.name for member in SocketType if member is not SocketType.STREAM}
)

#: Socket-Type name -> ZMTP 2.0 greeting byte (the inverse of :data:`ZMTP20_TYPE_BYTES`).
ZMTP20_TYPE_BY_NAME: Mapping[str, int] = MappingProxyType(
    {name: number for number, name in ZMTP20_TYPE_BYTES.items()}
)


def socket_type_name(socket_type: SocketType) -> str:
    """The ``Socket-Type`` property value for *socket_type* (``SocketType.DEALER`` -> ``"DEALER"``)."""
    return SOCKET_TYPE_NAMES[SocketType(socket_type)]


def is_compatible(own: SocketType, peer: str | None) -> bool:
    """Whether a socket of type *own* accepts a peer announcing Socket-Type *peer*.

    ``None`` (the peer sent no Socket-Type) is accepted: libzmq does not require the property
    (⚠ RFC 23 says a peer MUST send it). Names are compared case-sensitively, as libzmq does
    (⚠ RFC 23 says property names are case-insensitive; values were never specified).
    """
    if peer is None:
        return True
    return peer in COMPATIBLE.get(own, frozenset())
