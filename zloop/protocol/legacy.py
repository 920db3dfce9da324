"""ZMTP 1.0 framing (RFC 13), for peers that predate versioned greetings.

Wire form (RFC 13 section "The Framing Layer")::

    frame  = length flags body     ; length counts the flags octet too: body is length-1 octets
    length = OCTET / (%xFF 8OCTET) ; 1..254 in one octet, else %xFF + 64-bit BE

The encoder follows libzmq's ``v1_encoder``: one length octet iff length < 255. The decoder
follows libzmq's ``v1_decoder``: a length of 0 is a protocol error (⚠ RFC 13 says such frames
"SHOULD BE discarded silently"; libzmq drops the connection), ``maxmsgsize`` applies to the body,
and only the MORE bit of the flags is kept -- RFC 13 reserves bits 1-7 with "SHOULD be zero", so
unlike 2.0/3.x (MUST) they are not a violation. (A ZMTP 1.0 identity frame's flags "SHALL not be
validated" at all; our own pseudo-signature sends 0x7F there.) ZMTP 1.0 has no commands.

Memory safety is the same as :class:`~zloop.protocol.frames.FrameDecoder`: sizes are checked
before allocation and large bodies grow as their bytes arrive.
"""

from __future__ import annotations

from collections.abc import Sequence
from struct import Struct
from typing import Final

from zloop.constants import ProtocolErrorCode
from zloop.protocol.errors import MechanismError
from zloop.protocol.events import Event, Message
from zloop.protocol.frames import (
    LARGE_BODY,
    MAX_FRAME,
    MORE,
    ZERO_COPY_MIN,
    Buffer,
    FrameHandler,
    LargeBody,
    buffer_size,
)

_U64: Final = Struct(">Q")
_LONG_HEADER: Final = Struct(">BQB")
#: ``V1_SHORT[more][size]``: the 2-byte header of a body of *size* (< 254) bytes.
V1_SHORT: Final = tuple(tuple(bytes((n + 1, more)) for n in range(254)) for more in (0, 1))


def v1_header(more: int, size: int) -> bytes:
    """RFC 13 header for a body of *size* bytes (the length field counts the flags octet)."""
    if size + 1 < 255:
        return V1_SHORT[more][size]
    return _LONG_HEADER.pack(0xFF, size + 1, more)


def v1_append_message(out: list[Buffer], frames: Sequence[Buffer]) -> None:
    """Queue a multipart message in ZMTP 1.0 framing."""
    last = len(frames) - 1
    for index, body in enumerate(frames):
        size = buffer_size(body)
        out.append(v1_header(MORE if index < last else 0, size))
        if size >= ZERO_COPY_MIN:
            out.append(body if isinstance(body, memoryview) else memoryview(body))
        else:
            out.append(body if type(body) is bytes else bytes(body))


class V1Decoder(LargeBody):
    """Incremental RFC 13 decoder with the same interface as ``frames.FrameDecoder``."""

    __slots__ = (
        "_frames",
        "lists",
        "max_size",
        "on_frame",
        "out",
        "plain",
        "stopped",
    )

    def __init__(self, out: list[Event], on_frame: FrameHandler, max_size: int) -> None:
        self.out = out
        self.on_frame = on_frame
        self.max_size = max_size
        self.plain = False
        self.stopped = False
        self.lists = False
        self._frames: list[bytes] = []
        self._large: bytearray | None = None
        self._large_flags = 0
        self._large_size = 0
        self._large_filled = 0
        self.reserve_ahead = True

    @property
    def mid_message(self) -> bool:
        return bool(self._frames)

    def feed(self, buf: bytes, pos: int) -> int:
        end = len(buf)
        if self._large is not None:
            pos = self._fill_large(buf, pos, end)
        while self._large is None and not self.stopped and end - pos >= 2:
            length = buf[pos]
            if length == 0xFF:
                if end - pos < 10:
                    break
                length = int(_U64.unpack_from(buf, pos + 1)[0])
                flags_at = pos + 9
            else:
                flags_at = pos + 1
            if length == 0:
                # libzmq v1_decoder: "There has to be at least one byte (the flags)" -> EPROTO.
                raise MechanismError(
                    ProtocolErrorCode.ZMTP_UNSPECIFIED, "ZMTP 1.0 frame with length 0"
                )
            size = length - 1
            if size > MAX_FRAME:
                raise MechanismError(
                    ProtocolErrorCode.ZMTP_UNSPECIFIED, f"frame size {size} exceeds 2^63-1"
                )
            if 0 <= self.max_size < size:
                raise MechanismError(
                    ProtocolErrorCode.ZMTP_UNSPECIFIED,
                    f"frame of {size} bytes exceeds maxmsgsize {self.max_size}",
                )
            flags = buf[flags_at] & MORE
            start = flags_at + 1
            stop = start + size
            if stop <= end:
                pos = stop
                self._deliver(flags, buf[start:stop])
                continue
            if size < LARGE_BODY:
                break
            self._start_large(flags, size)
            pos = self._fill_large(buf, start, end)
        return pos

    def _deliver(self, flags: int, body: bytes) -> None:
        if not self.plain:
            self.on_frame(flags, body)
            return
        self._frames.append(body)
        if not flags:
            self.out.append(self._frames if self.lists else Message(self._frames))  # type: ignore[arg-type]
            self._frames = []
