"""Z85 encoding (ZeroMQ RFC 32 "Z85"), the text form of CURVE keys.

Four input bytes are read as a big-endian 32-bit number and written as five characters of an
85-character alphabet, most significant first; so the input length must be a multiple of 4 and
the text length a multiple of 5 (a 32-byte key is 40 characters). As libzmq's
``zmq_z85_decode``, decoding rejects characters outside the alphabet and 5-character groups whose
value does not fit in 32 bits.
"""

from __future__ import annotations

import struct
from typing import Final

__all__ = ["ALPHABET", "decode", "encode"]

#: RFC 32 "Formal Specification": values 0..84 map to these characters, in order.
ALPHABET: Final = (
    b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"
)
_DECODE: Final = {char: value for value, char in enumerate(ALPHABET)}
_POWERS: Final = (85**4, 85**3, 85**2, 85, 1)


def encode(data: bytes | bytearray | memoryview) -> bytes:
    """Encode *data* (length a multiple of 4) as Z85 text, returned as ASCII ``bytes``."""
    raw = bytes(data)
    if len(raw) % 4:
        raise ValueError(f"Z85 input must be a multiple of 4 bytes, not {len(raw)}")
    out = bytearray()
    alphabet = ALPHABET
    for (value,) in struct.iter_unpack(">I", raw):
        out += bytes(alphabet[(value // power) % 85] for power in _POWERS)
    return bytes(out)


def decode(text: bytes | bytearray | memoryview | str) -> bytes:
    """Decode Z85 *text* (length a multiple of 5) to bytes; ``ValueError`` if it is not Z85."""
    if isinstance(text, str):
        try:
            raw = text.encode("ascii")
        except UnicodeEncodeError:
            raise ValueError("Z85 text must be ASCII") from None
    else:
        raw = bytes(text)
    if len(raw) % 5:
        raise ValueError(f"Z85 input must be a multiple of 5 characters, not {len(raw)}")
    table = _DECODE
    words = []
    for start in range(0, len(raw), 5):
        value = 0
        for char in raw[start : start + 5]:
            digit = table.get(char)
            if digit is None:
                raise ValueError(f"invalid Z85 character {chr(char)!r} at offset {start}")
            value = value * 85 + digit
        if value > 0xFFFFFFFF:
            raise ValueError(f"Z85 group at offset {start} exceeds 32 bits")
        words.append(value)
    return struct.pack(f">{len(words)}I", *words)
