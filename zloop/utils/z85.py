"""Z85 (ZeroMQ RFC 32) under pyzmq's module name: ``encode``, ``decode``, ``Z85CHARS``, ``Z85MAP``.

The same functions as :mod:`zloop.z85`. One difference from pyzmq's module: decoding text with a
character outside the alphabet (or a group above 2**32 - 1) raises ``ValueError``, as every other
malformed input does, where pyzmq's raises ``KeyError`` (or ``struct.error``).
"""

from __future__ import annotations

from typing import Final

from zloop.z85 import ALPHABET, decode, encode

__all__ = ["Z85CHARS", "Z85MAP", "decode", "encode"]

#: The 85 characters, in value order (pyzmq's name for :data:`zloop.z85.ALPHABET`).
Z85CHARS: Final = ALPHABET
#: Character code -> value.
Z85MAP: Final[dict[int, int]] = {char: value for value, char in enumerate(ALPHABET)}
