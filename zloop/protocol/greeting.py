"""Greeting and version negotiation, in libzmq's send order.

The greeting (RFC 37 section "Formal Grammar")::

    greeting  = signature version mechanism as-server filler     ; 64 octets
    signature = %xFF padding %x7F                                ; padding = 8 octets
    version   = %x03 %x01

What we send, and when -- libzmq's ``zmtp_engine_t`` order (RFC 37 section "Detecting ZMTP 1.0
and 2.0 Peers"), which is the only order that never deadlocks against any peer generation:

1. At once, 10 octets: ``FF``, padding = BE64(len(routing_id) + 1), ``7F``. To a ZMTP 1.0 peer
   this reads as the header of our identity frame (long length, flags 0x7F).
2. Once the peer's 10 signature octets are in (first octet ``FF`` and octet 9 with LSB 1):
   ``03``, our major version. If the first octet is not ``FF``, or octet 9 has LSB 0, the peer
   is ZMTP 1.0 (RFC 15 "Backwards Interoperability") and nothing more of the greeting is sent.
3. Once the peer's 11th octet (its revision / major) is in:
   * ``00`` or ``01``: a ZMTP 1.0-with-revision or 2.0 peer. We send our socket-type byte
     (RFC 15 "Formal Grammar") and the peer's greeting is 12 octets. ⚠ RFC 37 calls majors 1
     and 2 "ZMTP 2.0"; libzmq maps 0 to 1.0 framing, 1 to 2.0, and 2 to 3.1 -- we follow libzmq.
   * anything else: the remaining 53 octets (minor ``01``, mechanism, as-server, filler) and the
     peer's greeting is 64 octets.
4. With 64 octets: major 3 + minor 0 is ZMTP 3.0; every other major (2, 3, >3) with any other
   minor is treated as 3.1 (RFC 37 "Version Negotiation": "A peer MUST accept higher protocol
   versions as valid").

We never wait for the peer's full greeting before having sent 11 octets (docs/wire.md §1).
Padding is never validated (RFC 37: "MUST NOT validate this nor interpret it"); of octet 9 only the
LSB matters, as in libzmq.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from zloop.constants import ProtocolErrorCode
from zloop.protocol.errors import MechanismError

SIGNATURE_SIZE: Final = 10
LEGACY_GREETING_SIZE: Final = 12
GREETING_SIZE: Final = 64
MECHANISM_SIZE: Final = 20
#: ZMTP 3 greeting octets 10.. as libzmq sends them after the peer's 11th octet.
REST_SIZE: Final = GREETING_SIZE - SIGNATURE_SIZE - 1

REVISION_V1: Final = 0x00
REVISION_V2: Final = 0x01


def signature(routing_id: bytes) -> bytes:
    """Our first 10 octets: ``FF`` BE64(len(routing_id)+1) ``7F`` (RFC 37 "Detecting ZMTP 1.0...")."""
    return b"\xff" + (len(routing_id) + 1).to_bytes(8, "big") + b"\x7f"


def mechanism_field(name: bytes) -> bytes:
    """The 20-octet NUL-padded mechanism field (RFC 37 ``mechanism = 20mechanism-char``)."""
    if not 1 <= len(name) <= MECHANISM_SIZE:
        raise ValueError(f"mechanism name {name!r} must be 1 to 20 bytes")
    return name.ljust(MECHANISM_SIZE, b"\x00")


def greeting_rest(mechanism: bytes, as_server: bool) -> bytes:
    """Octets 11..63 of our greeting: minor 01, mechanism, as-server, 31-octet filler.

    ⚠ libzmq always sends as-server 00 (and ignores the peer's); we send the mechanism's role,
    which is what RFC 37 asks for and what libzmq accepts.
    """
    return b"\x01" + mechanism_field(mechanism) + (b"\x01" if as_server else b"\x00") + bytes(31)


@dataclass(frozen=True, slots=True)
class PeerGreeting:
    """What negotiation learned about the peer.

    ``consumed``: greeting octets to skip in the input (0 for an unversioned ZMTP 1.0 peer, whose
    first octets are already its identity frame). ``revision``: the raw 11th octet, ``None`` for
    an unversioned peer. ``type_byte``: the socket-type byte of a 1.0-with-revision / 2.0 peer.
    """

    version: tuple[int, int]
    consumed: int
    revision: int | None = None
    type_byte: int | None = None
    mechanism: bytes = b""
    as_server: bool = False

    @property
    def legacy(self) -> bool:
        return self.version < (3, 0)


class Negotiation:
    """Drives our half of the greeting while reading the peer's.

    ``feed(buf, pos)`` inspects ``buf[pos:]`` without consuming it, appends to ``output`` what
    we must send next, and returns the :class:`PeerGreeting` once the peer's greeting is
    complete (``None`` until then). It raises :class:`MechanismError` for a mechanism mismatch
    and for a legacy peer when ``legacy`` is false.
    """

    __slots__ = ("_mechanism", "_sent", "as_server", "legacy", "output", "type_byte")

    def __init__(
        self, routing_id: bytes, type_byte: int, mechanism: bytes, as_server: bool, legacy: bool
    ) -> None:
        self._mechanism = mechanism_field(mechanism)
        self.as_server = as_server
        self.type_byte = type_byte
        self.legacy = legacy
        self.output: list[bytes] = [signature(routing_id)]
        self._sent = SIGNATURE_SIZE

    def feed(self, buf: bytes, pos: int) -> PeerGreeting | None:
        have = len(buf) - pos
        if have < 1:
            return None
        # RFC 15 "Backwards Interoperability": "If this octet is not %FF, then the other peer
        # is using ZMTP/1.0."
        if buf[pos] != 0xFF:
            return self._unversioned()
        if have < SIGNATURE_SIZE:
            return None
        # "If the least significant bit is 0, then the other peer is using ZMTP/1.0."
        if not buf[pos + 9] & 0x01:
            return self._unversioned()
        if self._sent == SIGNATURE_SIZE:
            self.output.append(b"\x03")  # RFC 37: send the major version once the signature is in
            self._sent += 1
        if have < SIGNATURE_SIZE + 1:
            return None
        revision = buf[pos + 10]
        if revision in (REVISION_V1, REVISION_V2):
            return self._legacy_versioned(buf, pos, have, revision)
        if self._sent == SIGNATURE_SIZE + 1:
            self.output.append(greeting_rest(self._mechanism.rstrip(b"\x00"), self.as_server))
            self._sent = GREETING_SIZE
        if have < GREETING_SIZE:
            return None
        minor = buf[pos + 11]
        mechanism = bytes(buf[pos + 12 : pos + 32])
        # RFC 37 "Authentication and Confidentiality": "If the mechanism that the peer received
        # does not exactly match the mechanism it sent, it MUST close the connection." Compared
        # byte for byte including the NUL padding, as libzmq (no ERROR is sent).
        if mechanism != self._mechanism:
            theirs, ours = mechanism.rstrip(b"\x00"), self._mechanism.rstrip(b"\x00")
            raise MechanismError(
                ProtocolErrorCode.ZMTP_MECHANISM_MISMATCH,
                f"peer mechanism {theirs!r} ({mechanism.hex()}) does not match ours {ours!r}",
            )
        version = (3, 0) if revision == 3 and minor == 0 else (3, 1)
        return PeerGreeting(
            version=version,
            consumed=GREETING_SIZE,
            revision=revision,
            mechanism=mechanism.rstrip(b"\x00"),
            as_server=bool(buf[pos + 32] & 0x01),
        )

    def _refuse_legacy(self, what: str) -> None:
        # RFC 37: "If the implementation's security mechanism is anything other than NULL, and
        # it detects a ZMTP 1.0 or 2.0 peer, it MUST immediately close the connection."
        if not self.legacy:
            raise MechanismError(
                ProtocolErrorCode.ZMTP_UNSPECIFIED,
                f"{what} peer refused: legacy protocols are disabled for this connection",
            )

    def _unversioned(self) -> PeerGreeting:
        self._refuse_legacy("unversioned ZMTP 1.0")
        return PeerGreeting(version=(1, 0), consumed=0)

    def _legacy_versioned(
        self, buf: bytes, pos: int, have: int, revision: int
    ) -> PeerGreeting | None:
        label = "ZMTP 2.0" if revision == REVISION_V2 else "ZMTP 1.0 (revision 0)"
        self._refuse_legacy(label)
        if self._sent == SIGNATURE_SIZE + 1:
            # RFC 15 "Formal Grammar": greeting = signature revision socket-type identity.
            self.output.append(bytes((self.type_byte,)))
            self._sent += 1
        if have < LEGACY_GREETING_SIZE:
            return None
        return PeerGreeting(
            version=(2, 0) if revision == REVISION_V2 else (1, 0),
            consumed=LEGACY_GREETING_SIZE,
            revision=revision,
            type_byte=buf[pos + 11],
        )
