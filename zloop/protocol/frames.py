"""ZMTP 2.0 / 3.x framing: frame headers out, frames and messages in.

Wire form (RFC 23 and RFC 37 section "Framing"; RFC 15 section "Framing" for 2.0)::

    frame = flags size body          ; size is 1 octet, or 8 octets BE when flags has LONG
    flags: bit 0 MORE, bit 1 LONG, bit 2 COMMAND (3.x only), bits 3-7 reserved (MUST be zero)

Decoding (:class:`FrameDecoder`) is written for the hot path. ``feed(buf, pos)`` walks every
complete frame of an immutable ``bytes`` buffer with an integer offset, slicing each body out
exactly once (slicing ``bytes`` is one allocation; ``bytes(bytearray[...])`` costs two and
measured 1.8x slower). Short data frames -- by far the common case -- take an inlined loop that
builds :class:`~zloop.protocol.events.Message` events directly. Everything else (long frames,
commands, the handshake, mechanisms that wrap frames) goes through ``_slow_frame``.

With ``lists`` set (``Connection.message_lists``, what the engine uses) a message is delivered
as its plain frames list instead of a ``Message`` event: one object and one call less per message.

Hostile sizes: a frame's size is checked against ``maxmsgsize`` (per frame, as libzmq's
``v2_decoder``) and against 2^63-1 before anything is allocated. A body that is not yet complete
and is at least :data:`LARGE_BODY` bytes switches to "large body" mode (:class:`LargeBody`): it is
collected in a ``bytearray`` preallocated to the announced size only up to :data:`PREALLOC_LIMIT`
(otherwise grown as bytes actually arrive, or in bounded steps when ``large_buffer`` hands room to
``recv_into``), so 9 bytes announcing 2^62 allocate nothing. ``large_buffer`` / ``large_filled``
(``Connection.recv_buffer`` / ``received_into``) let the engine ``recv_into`` the body directly:
the kernel's copy is then the only one, and the ``bytearray`` is delivered as the frame. Smaller
incomplete frames stay in the caller's leftover, which is therefore bounded by ``LARGE_BODY + 9``.

Room ahead of the data (the preallocation, and the steps ``large_buffer`` adds) is only made while
``reserve_ahead`` is set. The connection clears it until the handshake is over: a peer nobody has
authenticated yet could otherwise make every connection hold up to ``PREALLOC_LIMIT`` bytes (or a
``GROW_STEP``) by sending one frame header, so a handshake body grows only as its bytes arrive and
``large_buffer`` offers no room (handshake commands are small; nothing is lost in speed).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from struct import Struct
from typing import Final

from zloop.constants import ProtocolErrorCode
from zloop.protocol.errors import LocalProtocolError, MechanismError
from zloop.protocol.events import Event, Message

MORE: Final = 0x01
LONG: Final = 0x02
COMMAND: Final = 0x04
LONG_MORE: Final = LONG | MORE
#: RFC 37 "Framing": "Bits 7-3: Reserved ... MUST be zero."
RESERVED_V3: Final = 0xF8
#: RFC 15 "Framing": "Bits 2-7: Reserved ... MUST be zero." (no COMMAND bit in ZMTP 2.0)
RESERVED_V2: Final = 0xFC
#: RFC 23 "Framing": a long frame has a body of 0 to 2^63-1 octets.
MAX_FRAME: Final = (1 << 63) - 1

#: Incomplete bodies at least this large are collected outside the receive buffer.
LARGE_BODY: Final = 8192
#: A read that starts with a data frame at least this large is decoded from the caller's view
#: (:meth:`FrameDecoder.feed_view`): one copy per body instead of two.
VIEW_FRAME_MIN: Final = 4096
#: Largest announced size we preallocate for; bigger bodies grow as their bytes arrive.
PREALLOC_LIMIT: Final = 1 << 20
#: Smallest growth step of a body beyond PREALLOC_LIMIT handed to ``recv_into``.
GROW_STEP: Final = 1 << 20
#: Frame size limit during the handshake when maxmsgsize is smaller (see Connection).
HANDSHAKE_MIN_LIMIT: Final = 65536
#: Bodies at least this large are queued as memoryviews (no copy) by the encoders.
ZERO_COPY_MIN: Final = 8192

_U64: Final = Struct(">Q")
#: Writes Message.frames directly (the slot descriptor), skipping the frozen __init__ on the
#: hot path; the instance is identical to Message(frames).
_SET_FRAMES: Final = Message.__dict__["frames"].__set__
LONG_HEADER: Final = Struct(">BQ")

#: Precomputed 2-byte short headers: ``SHORT_HEADERS[flags][size]`` for flags 0..7.
SHORT_HEADERS: Final = tuple(tuple(bytes((flags, n)) for n in range(256)) for flags in range(8))

#: Large bodies at least this big that their receiver copied and dropped are kept for reuse.
RECYCLE_MIN: Final = 64 * 1024
#: Bodies handed back by :func:`recycle_body`, reused by :meth:`LargeBody._start_large` (shared by
#: every connection and thread of the process; deque appends and pops are atomic). Eight, not two:
#: the I/O thread reads ahead of the application in bursts, and with two the pool was empty for
#: 30-50 % of the bodies of a 1 MiB stream (8-14 % with eight).
_SPARE_BODIES: Final[deque[bytearray]] = deque(maxlen=8)

FrameHandler = Callable[[int, bytes], None]
Buffer = bytes | bytearray | memoryview


def frame_header(flags: int, size: int) -> bytes:
    """Header of a 2.0/3.x frame; the long form is used iff the body exceeds 255 bytes (libzmq)."""
    if size <= 255:
        return SHORT_HEADERS[flags][size]
    return LONG_HEADER.pack(flags | LONG, size)


def buffer_size(data: Buffer) -> int:
    """Byte length of a bytes-like object (``len`` of a memoryview counts items, not bytes)."""
    return data.nbytes if isinstance(data, memoryview) else len(data)


def append_frame(out: list[Buffer], flags: int, body: Buffer) -> None:
    """Queue one 2.0/3.x frame (header, then body) onto *out*.

    Small bodies that are not ``bytes`` are copied (so the caller may reuse them); bodies of
    :data:`ZERO_COPY_MIN` bytes or more are queued as memoryviews without a copy and must not be
    modified until sent.
    """
    size = buffer_size(body)
    if size <= 255:
        out.append(SHORT_HEADERS[flags][size])
        out.append(body if type(body) is bytes else bytes(body))
        return
    out.append(LONG_HEADER.pack(flags | LONG, size))
    if size >= ZERO_COPY_MIN:
        out.append(body if isinstance(body, memoryview) else memoryview(body))
    else:
        out.append(body if type(body) is bytes else bytes(body))


def append_message(out: list[Buffer], frames: Sequence[Buffer]) -> None:
    """Queue a multipart message as 2.0/3.x data frames (MORE on all but the last)."""
    append = out.append
    last = len(frames) - 1
    short_more = SHORT_HEADERS[MORE]
    for index, body in enumerate(frames):
        if type(body) is bytes and len(body) <= 255:
            append(short_more[len(body)] if index < last else SHORT_HEADERS[0][len(body)])
            append(body)
        else:
            append_frame(out, MORE if index < last else 0, body)


def recycle_body(body: bytearray) -> None:
    """Hand back a delivered large body that nothing refers to any more (its receiver copied it:
    ``recv()`` with ``copy=True``), so the next large body of about its size reuses its memory.

    A fresh ``bytearray`` of a megabyte is zero-filled, and when an I/O thread allocates it and
    the application thread frees it, the allocator returns its pages to the kernel, so every body
    costs page faults as well: the profile of an ipc stream of 1 MiB messages spent a fifth of
    the receiver's CPU there. Only bodies of :data:`RECYCLE_MIN` bytes up to twice
    :data:`PREALLOC_LIMIT` are kept (a bigger one is never reused), eight at most: what a process
    keeps for this after its traffic ends is at most 16 MiB, 8 MiB after a stream of 1 MiB bodies."""
    if RECYCLE_MIN <= len(body) < 2 * PREALLOC_LIMIT:
        _SPARE_BODIES.append(body)


def _new_body(size: int) -> bytearray:
    """A ``bytearray`` of ``size`` bytes whose content will be overwritten: a recycled one when
    one fits (its allocation is kept when shrunk by less than half), else a new one."""
    try:
        spare = _SPARE_BODIES.pop()
    except IndexError:
        return bytearray(size)
    have = len(spare)
    if size <= have < 2 * size:
        del spare[size:]
        return spare
    return bytearray(size)


class LargeBody:
    """Collection of one large frame body into its own ``bytearray`` (shared by the decoders).

    The body is preallocated to the announced size up to :data:`PREALLOC_LIMIT`; beyond that it
    grows as bytes arrive, or in steps of at most what was already received (at least
    :data:`GROW_STEP`) when :meth:`large_buffer` hands out room, so the memory held is bounded by
    twice what the peer actually sent, never by what it announced. The finished ``bytearray`` is
    delivered as the frame itself: no further copy.
    """

    __slots__ = ("_large", "_large_filled", "_large_flags", "_large_size", "reserve_ahead")

    _large: bytearray | None
    _large_filled: int
    _large_flags: int
    _large_size: int
    stopped: bool
    #: May room be allocated before the bytes that fill it arrived (see the module docstring)?
    reserve_ahead: bool

    def _deliver(self, flags: int, body: bytes) -> None:
        raise NotImplementedError

    @property
    def in_large_body(self) -> bool:
        """True while a large body is being collected (the caller keeps no leftover then)."""
        return self._large is not None

    def _start_large(self, flags: int, size: int) -> None:
        self._large = (
            _new_body(size) if size <= PREALLOC_LIMIT and self.reserve_ahead else bytearray()
        )
        self._large_flags = flags
        self._large_size = size
        self._large_filled = 0

    def _fill_large(self, buf: Buffer, pos: int, end: int) -> int:
        body = self._large
        assert body is not None
        filled = self._large_filled
        take = min(end - pos, self._large_size - filled)
        if take:
            # Same length: copied in place; past the allocation: the bytearray grows by exactly
            # the bytes that arrived.
            body[filled : filled + take] = memoryview(buf)[pos : pos + take]
            self._large_filled = filled = filled + take
            pos += take
        if filled == self._large_size:
            self._large = None
            # A bytearray is handed out as is (no extra copy); see events.Message.
            self._deliver(self._large_flags, body)  # type: ignore[arg-type]
        return pos

    def large_buffer(self) -> memoryview | None:
        """Writable room for the next bytes of the large body in progress (None when there is none).

        The view covers at most the rest of this body, so filling it never crosses a frame
        boundary. It must be released (dropped) before the next call: the body may grow then.
        None as well while ``reserve_ahead`` is off: the body then grows only as bytes arrive.
        """
        body = self._large
        if body is None or self.stopped or not self.reserve_ahead:
            return None
        filled = self._large_filled
        if filled == len(body):
            # Grown mode: add bounded room (never more than was received so far, at least
            # GROW_STEP), so an announced size alone allocates nothing.
            body += bytes(min(self._large_size - filled, max(filled, GROW_STEP)))
        return memoryview(body)[filled:]

    def large_filled(self, count: int) -> None:
        """``count`` bytes were written at the start of the last :meth:`large_buffer` view."""
        body = self._large
        if body is None:
            raise LocalProtocolError("no large body is being received")
        filled = self._large_filled + count
        if count < 0 or filled > len(body):
            raise LocalProtocolError(f"{count} bytes do not fit the large-body buffer")
        self._large_filled = filled
        if filled == self._large_size:
            self._large = None
            if len(body) != filled:  # pragma: no cover - the view never exceeds the body
                del body[filled:]
            self._deliver(self._large_flags, body)  # type: ignore[arg-type]


class FrameDecoder(LargeBody):
    """Incremental decoder for ZMTP 2.0 and 3.x frames.

    ``plain`` (set by the connection once the handshake is done and no mechanism wraps frames)
    enables the fast path: data frames become :class:`Message` events appended to ``out``, and
    only commands reach ``on_frame(flags, body)``. When ``plain`` is false every frame goes to
    ``on_frame``. ``on_frame`` may change ``plain`` or set ``stopped`` (terminal event); the
    decoder re-reads both after each call. Errors are raised as :class:`MechanismError`.
    """

    __slots__ = (
        "_frames",
        "flags_error",
        "lists",
        "max_size",
        "on_frame",
        "out",
        "plain",
        "reserved",
        "stopped",
    )

    def __init__(
        self, out: list[Event], on_frame: FrameHandler, max_size: int, reserved: int
    ) -> None:
        self.out = out
        self.on_frame = on_frame
        self.max_size = max_size
        self.reserved = reserved
        self.plain = False
        self.stopped = False
        #: The code of a frame-flags violation (reserved bits, MORE on a command). The connection
        #: sets ZMTP_UNEXPECTED_COMMAND for a ZMTP 3 handshake: libzmq ignores these bits and
        #: reports any handshake frame its mechanism cannot take with that code.
        self.flags_error = ProtocolErrorCode.ZMTP_UNSPECIFIED
        #: Deliver each message as its plain frames list instead of a Message event.
        self.lists = False
        self._frames: list[bytes] = []
        self._large: bytearray | None = None
        self._large_flags = 0
        self._large_size = 0
        self._large_filled = 0
        self.reserve_ahead = True

    @property
    def mid_message(self) -> bool:
        """True when frames of an unfinished multipart message are held."""
        return bool(self._frames)

    def feed(self, buf: bytes, pos: int) -> int:
        """Decode every complete frame in ``buf[pos:]``; return the offset of the first unused byte."""
        end = len(buf)
        if self._large is not None:
            pos = self._fill_large(buf, pos, end)
            if self.in_large_body or self.stopped:
                return pos
        out = self.out
        append_out = out.append
        unpack_u64 = _U64.unpack_from
        new_object = object.__new__
        set_frames = _SET_FRAMES
        while True:
            if self.plain:
                # Data frames within maxmsgsize take the inlined fast path: flags 00/01 (RFC 37
                # message-last / message-more, short size) and 02/03 (the same, long size).
                # Everything else (commands, reserved bits, incomplete or oversized frames)
                # leaves the loop for _slow_frame.
                max_size = self.max_size
                small_max = 255 if max_size < 0 else min(max_size, 255)
                long_max = MAX_FRAME if max_size < 0 else max_size
                lists = self.lists
                # The frames of the message in progress; None instead of an empty list, so a
                # single-frame message costs one list (its own), not a spare one as well.
                held = self._frames
                frames = held or None
                last = end - 1
                while pos < last:
                    flags = buf[pos]
                    if not flags and frames is None and lists:
                        # A short single-frame message (the common case), on its own path.
                        start = pos + 2
                        stop = start + buf[pos + 1]
                        if stop > end or stop - start > small_max:
                            break
                        append_out([buf[start:stop]])  # type: ignore[arg-type]
                        pos = stop
                        continue
                    if flags == LONG and frames is None and lists:
                        # A long single-frame message (256 bytes and more), on its own path too.
                        if end - pos < 9:
                            break
                        start = pos + 9
                        stop = start + unpack_u64(buf, pos + 1)[0]
                        if stop > end or stop - start > long_max:
                            break
                        append_out([buf[start:stop]])  # type: ignore[arg-type]
                        pos = stop
                        continue
                    if flags <= MORE:
                        size = buf[pos + 1]
                        if size > small_max:
                            break
                        start = pos + 2
                    elif flags <= LONG_MORE and end - pos >= 9:
                        size = unpack_u64(buf, pos + 1)[0]
                        if size > long_max:
                            break
                        start = pos + 9
                    else:
                        break
                    stop = start + size
                    if stop > end:
                        break
                    pos = stop
                    if flags & MORE:
                        if frames is None:
                            frames = [buf[start:stop]]
                        else:
                            frames.append(buf[start:stop])
                        continue
                    if frames is None:
                        msg = [buf[start:stop]]
                    else:
                        frames.append(buf[start:stop])
                        msg = frames
                        frames = None
                    if lists:
                        append_out(msg)  # type: ignore[arg-type]  # see Connection.message_lists
                    else:
                        # Equivalent to Message(msg), without the frozen-dataclass __init__.
                        message = new_object(Message)
                        set_frames(message, msg)
                        append_out(message)
                if frames is not None:
                    self._frames = frames
                elif held:  # delivered: the next message starts a list of its own
                    self._frames = []
            if end - pos < 2:
                return pos
            new_pos = self._slow_frame(buf, pos, end)
            if new_pos < 0:
                return pos
            pos = new_pos
            if self.stopped or self._large is not None:
                return pos

    def feed_view(self, view: memoryview) -> int:
        """Decode the large data frames at the start of ``view`` (a byte view the caller will
        overwrite, e.g. the I/O thread's shared receive buffer) with one copy each, without
        copying the whole view to ``bytes`` first; return the offset where :meth:`feed` must take
        over (the caller copies ``view[offset:]`` and feeds that), ``len(view)`` when nothing is
        left.

        Only for the plain fast path (``plain`` set, no leftover held by the caller). The read
        must start with the rest of a large body, or with a data frame of at least
        :data:`VIEW_FRAME_MIN` bytes; decoding then goes on while frames are large or are the
        leading frames of a multipart message (an envelope). Anything else -- a small message, a
        command, reserved bits, a size over ``max_size``, a header cut short -- stops here and is
        decoded by :meth:`feed`, errors included. An incomplete large body is collected as
        :meth:`feed` would (:meth:`_start_large`). Nothing keeps a reference to ``view``.
        """
        end = len(view)
        pos = 0
        if self._large is not None:
            pos = self._fill_large(view, 0, end)
            if self.in_large_body or self.stopped:
                return pos
        max_size = self.max_size
        limit = MAX_FRAME if max_size < 0 else max_size
        deliver = self._deliver
        unpack_u64 = _U64.unpack_from
        while end - pos >= 2:
            flags = view[pos]
            if flags <= MORE:
                size = view[pos + 1]
                start = pos + 2
            elif flags <= LONG_MORE and end - pos >= 9:
                size = unpack_u64(view, pos + 1)[0]
                start = pos + 9
            else:
                break
            if size > limit or (size < VIEW_FRAME_MIN and not (flags & MORE and pos)):
                break
            stop = start + size
            if stop > end:
                if size < LARGE_BODY:
                    break
                self._start_large(flags, size)
                return self._fill_large(view, start, end)
            pos = stop
            deliver(flags, bytes(view[start:stop]))
        return pos

    def _slow_frame(self, buf: bytes, pos: int, end: int) -> int:
        """Decode the one frame at *pos*; -1 if incomplete (and not collected as a large body)."""
        flags = buf[pos]
        if flags & self.reserved:
            raise MechanismError(
                self.flags_error,
                f"frame flags 0x{flags:02x} have reserved bits set",
            )
        if flags & LONG:
            if end - pos < 9:
                return -1
            size: int = _U64.unpack_from(buf, pos + 1)[0]
            start = pos + 9
        else:
            size = buf[pos + 1]
            start = pos + 2
        self._check_size(size)
        if flags & COMMAND and flags & MORE:
            # RFC 37 "Framing": MORE "SHALL be zero on command frames". (⚠ libzmq's v2_decoder
            # does not check; libzmq never sends it.)
            raise MechanismError(
                self.flags_error,
                f"frame flags 0x{flags:02x}: command frame with the MORE bit set",
            )
        stop = start + size
        if stop <= end:
            self._deliver(flags, buf[start:stop])
            return stop
        if size < LARGE_BODY:
            return -1
        self._start_large(flags, size)
        return self._fill_large(buf, start, end)

    def _check_size(self, size: int) -> None:
        if size > MAX_FRAME:
            raise MechanismError(
                ProtocolErrorCode.ZMTP_UNSPECIFIED, f"frame size {size} exceeds 2^63-1"
            )
        if 0 <= self.max_size < size:
            # libzmq v2_decoder::size_ready: EMSGSIZE -> connection dropped (per frame).
            raise MechanismError(
                ProtocolErrorCode.ZMTP_UNSPECIFIED,
                f"frame of {size} bytes exceeds maxmsgsize {self.max_size}",
            )

    def _deliver(self, flags: int, body: bytes) -> None:
        if not self.plain or flags & COMMAND:
            self.on_frame(flags, body)
            return
        self._frames.append(body)
        if not flags & MORE:
            self.out.append(self._frames if self.lists else Message(self._frames))  # type: ignore[arg-type]
            self._frames = []
