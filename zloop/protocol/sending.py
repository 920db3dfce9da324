"""The sending half of :class:`~zloop.protocol.connection.Connection`: queueing messages,
subscriptions, heartbeats and ERROR, encoded for the peer's protocol generation, and handing the
queue out as one ``bytes`` or as ``sendmsg`` buffers.

Encoding per peer (RFC 37 / RFC 23 / RFC 15 / RFC 13): 3.x and 2.0 share the framing of
:mod:`zloop.protocol.frames`; 1.0 uses :mod:`zloop.protocol.legacy`. A mechanism with
``wraps_frames`` (CURVE) sees every frame after the handshake, commands included.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from zloop.protocol import commands as cmd
from zloop.protocol.errors import LocalProtocolError
from zloop.protocol.events import Event
from zloop.protocol.frames import (
    COMMAND,
    LONG,
    LONG_HEADER,
    MORE,
    SHORT_HEADERS,
    ZERO_COPY_MIN,
    Buffer,
    append_frame,
    append_message,
)
from zloop.protocol.legacy import v1_append_message
from zloop.protocol.mechanism import Mechanism

FrameInput = bytes | bytearray | memoryview


class Sender:
    """Mixin with the output API; the Connection provides the state it reads."""

    _out: list[Buffer]
    _mech: Mechanism
    _peer_version: tuple[int, int] | None
    _terminal: Event | None
    _error_sent: bool
    #: The long-form header of a last single frame of ``_long_size`` bytes, as last encoded by
    #: :meth:`send_messages`: reused while the size repeats (a stream of equal-size messages).
    _long_size: int = -1
    _long_header: bytes = b""

    @property
    def _in_traffic(self) -> bool:
        raise NotImplementedError

    def _can_send_command(self) -> bool:
        return self._peer_version is not None and self._peer_version >= (3, 0)

    def _check_traffic(self) -> None:
        if not self._in_traffic:
            if self._terminal is not None:
                raise LocalProtocolError(f"connection is finished ({self._terminal!r})")
            raise LocalProtocolError("cannot send before the handshake completed")
        if self._error_sent:
            raise LocalProtocolError("an ERROR command was sent; the connection is finished")

    def _queue_command(self, body: bytes) -> None:
        if self._in_traffic and self._mech.wraps_frames:
            flags, wire = self._mech.encode_frame(COMMAND, body)
            append_frame(self._out, flags, wire)
        else:
            append_frame(self._out, COMMAND, body)

    def _queue_message(self, frames: Sequence[FrameInput]) -> None:
        if not frames:
            raise LocalProtocolError("a message needs at least one frame")
        version = self._peer_version
        if self._mech.wraps_frames:
            self._queue_wrapped((frames,))
        elif version is not None and version >= (2, 0):
            append_message(self._out, frames)
        else:
            v1_append_message(self._out, frames)

    def _queue_wrapped(self, messages: Iterable[Sequence[FrameInput]]) -> None:
        """Queue messages through a mechanism that wraps every frame (CURVE): one loop for the
        batch, and the wrapped body (a fresh object from ``encode_frame``) queued as is, or as a
        memoryview from ``ZERO_COPY_MIN`` bytes on (as ``append_frame`` would, minus its copy)."""
        encode = self._mech.encode_frame
        append = self._out.append
        short_headers = SHORT_HEADERS
        long_header = LONG_HEADER.pack
        for frames in messages:
            last = len(frames) - 1
            if last < 0:
                raise LocalProtocolError("a message needs at least one frame")
            for index, frame in enumerate(frames):
                flags, wire = encode(
                    MORE if index < last else 0, frame if type(frame) is bytes else bytes(frame)
                )
                size = len(wire)
                if size <= 255:
                    append(short_headers[flags][size])
                    append(wire)
                else:
                    append(long_header(flags | LONG, size))
                    append(wire if size < ZERO_COPY_MIN else memoryview(wire))

    def send_message(self, frames: Sequence[FrameInput]) -> None:
        """Queue one multipart message (at least one frame)."""
        self._check_traffic()
        self._queue_message(frames)

    def send_messages(self, messages: Iterable[Sequence[FrameInput]]) -> None:
        """Queue several multipart messages."""
        self._check_traffic()
        version = self._peer_version
        if self._mech.wraps_frames:
            self._queue_wrapped(messages)
            return
        if version is None or version < (2, 0):
            for frames in messages:
                self._queue_message(frames)
            return
        # ZMTP 2.0/3.x without a wrapping mechanism (the hot path): short single-frame bytes
        # messages are two appends; everything else takes append_message.
        out = self._out
        append = out.append
        short_last = SHORT_HEADERS[0]
        long_size = self._long_size
        long_header = self._long_header
        for frames in messages:
            if len(frames) == 1:
                body = frames[0]
                if type(body) is bytes:
                    size = len(body)
                    if size <= 255:
                        append(short_last[size])
                        append(body)
                        continue
                    if size < ZERO_COPY_MIN:
                        if size != long_size:
                            long_size = size
                            long_header = LONG_HEADER.pack(LONG, size)
                        append(long_header)
                        append(body)
                        continue
            elif not frames:
                raise LocalProtocolError("a message needs at least one frame")
            append_message(out, frames)
        self._long_size = long_size
        self._long_header = long_header

    def _send_subscription(self, body: bytes, prefix: bytes, topic: bytes) -> None:
        self._check_traffic()
        version = self._peer_version
        assert version is not None
        if version >= (3, 1):
            self._queue_command(body)
        elif version >= (2, 0):
            # RFC 15 "Publish-Subscribe" / RFC 23: "%x01 followed by the subscription body".
            self._queue_message((prefix + bytes(topic),))
        # ZMTP 1.0 has no upstream subscriptions (the pattern layer subscribes the peer to all).

    def send_subscribe(self, topic: bytes) -> None:
        """SUBSCRIBE command to a 3.1 peer, ``\\x01topic`` message to 3.0/2.0, nothing to 1.0."""
        self._send_subscription(cmd.subscribe_body(topic), b"\x01", topic)

    def send_cancel(self, topic: bytes) -> None:
        """CANCEL command to a 3.1 peer, ``\\x00topic`` message to 3.0/2.0, nothing to 1.0."""
        self._send_subscription(cmd.cancel_body(topic), b"\x00", topic)

    def send_ping(self, ttl: int, context: bytes = b"") -> None:
        """Queue a PING (3.x peers only; a no-op for 1.0/2.0)."""
        self._check_traffic()
        body = cmd.ping_body(ttl, context)
        if self._can_send_command():
            self._queue_command(body)

    def send_pong(self, context: bytes) -> None:
        """Queue a PONG (3.x peers only; a no-op for 1.0/2.0)."""
        self._check_traffic()
        body = cmd.pong_body(context)
        if self._can_send_command():
            self._queue_command(body)

    def send_error(self, reason: bytes) -> None:
        """Queue an ERROR command (3.x peers; a no-op for 1.0/2.0); no traffic may follow."""
        if self._terminal is not None:
            raise LocalProtocolError(f"connection is finished ({self._terminal!r})")
        if self._peer_version is None:
            raise LocalProtocolError("cannot send ERROR before the greeting completed")
        body = cmd.error_body(bytes(reason))
        if self._can_send_command():
            # RFC 37 "Error Handling": ERROR is never wrapped (CURVE sends it in clear).
            append_frame(self._out, COMMAND, body)
        self._error_sent = True

    def data_to_send(self) -> bytes:
        """Everything queued, joined into one ``bytes``; clears the queue."""
        out = self._out
        if not out:
            return b""
        data = b"".join(out)
        out.clear()
        return data

    def buffers_to_send(self) -> list[bytes | memoryview]:
        """Everything queued as few buffers as possible (small pieces joined, large bodies as
        memoryviews without a copy) for ``socket.sendmsg``; clears the queue."""
        out = self._out
        if not out:
            return []
        if memoryview not in set(map(type, out)):
            # Only bytes pieces (the common small-message case): one joined buffer.
            data = b"".join(out)
            out.clear()
            return [data]
        result: list[bytes | memoryview] = []
        small: list[Buffer] = []
        for piece in out:
            if isinstance(piece, memoryview) and piece.nbytes >= ZERO_COPY_MIN:
                if small:
                    result.append(b"".join(small))
                    small = []
                result.append(piece)
            else:
                small.append(piece)
        if small:
            result.append(b"".join(small) if len(small) > 1 else bytes(small[0]))
        out.clear()
        return result
