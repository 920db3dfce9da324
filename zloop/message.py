"""``Frame``: one received (or to-be-sent) message part, shaped like pyzmq's ``zmq.Frame``, and
what ``Socket.send`` queues for each kind of data (copies, shared buffers, tracked buffers: see
:mod:`zloop.tracker`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from zloop.constants import Errno, MessageOption
from zloop.errors import ZMQError
from zloop.tracker import (
    COPY_THRESHOLD,
    FINISHED_TRACKER,
    MessageTracker,
    is_tracked_view,
    track_view,
)

BytesLike = bytes | bytearray | memoryview
_bytes = bytes  # the builtin, since Frame.bytes shadows the name inside the class


class Frame:
    """A message frame: ``bytes``, ``buffer``, ``more`` and ``get(property)``.

    Frames returned by ``recv(copy=False)`` carry the properties of the connection they arrived on
    (``Socket-Type``, ``Identity``, ``Peer-Address`` and any ``X-`` property), readable with
    :meth:`get` as in pyzmq.

    As pyzmq's: ``copy=None`` (the default) copies data under ``copy_threshold`` bytes
    (:data:`~zloop.tracker.COPY_THRESHOLD`) and shares larger buffers; with ``track=True``,
    :attr:`tracker` is a :class:`~zloop.tracker.MessageTracker` done once neither this frame nor
    zloop holds the shared buffer (already done when the data was copied); else it is None.
    """

    __slots__ = ("_data", "_properties", "more", "routing_id", "tracker")

    def __init__(
        self,
        data: Any = None,
        track: bool = False,
        copy: bool | None = None,
        copy_threshold: int | None = None,
    ) -> None:
        if data is None:
            data = b""
        threshold = COPY_THRESHOLD if copy_threshold is None else copy_threshold
        if copy is None:
            copy = _nbytes(data) < threshold
        self.tracker: MessageTracker | None = None
        if copy or not track:
            self._data: BytesLike = as_frame_data(data, copy)
            if track:
                self.tracker = FINISHED_TRACKER
        else:
            self._data, self.tracker = track_view(_shared_view(data))
        self.more = False
        self.routing_id: int | None = None
        self._properties: dict[str, Any] | None = None

    @classmethod
    def _received(cls, data: BytesLike, more: bool, properties: dict[str, Any] | None) -> Frame:
        frame = cls.__new__(cls)
        frame._data = data
        frame.more = more
        frame.routing_id = None
        frame.tracker = None
        frame._properties = properties
        return frame

    @property
    def bytes(self) -> _bytes:
        data = self._data
        return data if isinstance(data, _bytes) else _bytes(data)

    @property
    def buffer(self) -> memoryview:
        data = self._data
        if type(data) is memoryview and is_tracked_view(data):
            # Received over inproc from a tracked send: hand out the tracked view itself, so the
            # sender's tracker stays pending while this view is in use (see zloop.tracker).
            return data
        return memoryview(data)

    def __len__(self) -> int:
        return len(self._data)

    def __bytes__(self) -> _bytes:
        return self.bytes

    def __buffer__(self, flags: int) -> memoryview:
        return memoryview(self._data)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Frame):
            return self.bytes == other.bytes
        if isinstance(other, (bytes, bytearray, memoryview)):
            return self.bytes == bytes(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        data = self.bytes
        shown = data if len(data) <= 32 else data[:29] + b"..."
        return f"<zloop.Frame({shown!r}{', more' if self.more else ''})>"

    def get(self, option: int | str) -> Any:
        """``MORE`` (int) or a connection property by name (``"Peer-Address"``, ``"Socket-Type"``...)."""
        if isinstance(option, str):
            props = self._properties or {}
            if option not in props:
                raise ZMQError(Errno.EINVAL, f"frame has no property {option!r}")
            value = props[option]
            return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        if option == MessageOption.MORE:
            return int(self.more)
        raise ZMQError(Errno.EINVAL, f"unknown frame option {option!r}")

    def __getitem__(self, option: int | str) -> Any:
        return self.get(option)


#: pyzmq calls it both ways.
Message = Frame


def as_frame_data(data: Any, copy: bool) -> BytesLike:
    """The bytes-like object a pipe carries for one outgoing frame (validates the type).

    Shared buffers (``copy=False``) are carried byte-addressed: the engine counts and slices them
    in bytes, so a view of 8-byte floats must not be counted in items.
    """
    if isinstance(data, bytes):
        return data
    if isinstance(data, Frame):
        return data._data
    if isinstance(data, bytearray):
        return bytes(data) if copy else data
    if copy:
        return _view(data).tobytes()
    if type(data) is memoryview and data.format == "B" and data.ndim == 1 and data.c_contiguous:
        return data
    return _shared_view(data)


def _view(data: Any) -> memoryview:
    if isinstance(data, str):
        raise TypeError("str is not allowed as a message frame; use send_string or encode it")
    try:
        return memoryview(data)
    except TypeError:
        raise TypeError(
            f"a message frame must be bytes, bytearray, memoryview or Frame, not {type(data).__name__}"
        ) from None


def _shared_view(data: Any) -> memoryview:
    """A one-dimensional byte view of ``data``'s buffer, without a copy when it is contiguous."""
    view = _view(data)
    if not view.c_contiguous:
        return memoryview(view.tobytes())  # nothing to share: the bytes are scattered
    if view.format != "B" or view.ndim != 1:
        view = view.cast("B")
    return view


def _nbytes(data: Any) -> int:
    if isinstance(data, (bytes, bytearray)):
        return len(data)
    if isinstance(data, Frame):
        return len(data._data)
    return _view(data).nbytes


def frame_for_send(
    data: Any, copy: bool, track: bool, threshold: int
) -> tuple[BytesLike, MessageTracker | None]:
    """What ``Socket.send`` queues for ``data`` and what it returns, by pyzmq's rules: a Frame's
    own tracker; None for a copy; for ``copy=False`` a copy and an already-done tracker under
    ``threshold`` bytes, else the shared buffer, tracked when ``track`` (see zloop.tracker)."""
    if isinstance(data, Frame):
        if track and data.tracker is None:
            raise ValueError("Not a tracked message")
        return data._data, data.tracker
    if copy:
        return as_frame_data(data, True), None
    if type(data) is bytes:
        if threshold and len(data) < threshold:
            return data, FINISHED_TRACKER
        view = memoryview(data)
    else:
        view = _view(data)
        if threshold and view.nbytes < threshold:
            return view.tobytes(), FINISHED_TRACKER
    if not track:
        return as_frame_data(data, False), None
    return track_view(_shared_view(view))


def message_for_send(
    parts: Sequence[Any], copy: bool, track: bool, threshold: int
) -> tuple[list[BytesLike], MessageTracker | None]:
    """The frames ``Socket.send_multipart`` queues and what it returns: pyzmq returns the last
    part's ``send`` result; zloop returns one tracker for every tracked part instead when there
    is one (pyzmq's may be done while an earlier part is still queued)."""
    frames: list[BytesLike] = []
    append = frames.append
    result: MessageTracker | None = None
    pending: list[MessageTracker] = []
    for part in parts:
        if copy and type(part) is bytes:
            append(part)
            result = None
            continue
        frame, result = frame_for_send(part, copy, track, threshold)
        append(frame)
        if result is not None and result is not FINISHED_TRACKER:
            pending.append(result)
    if pending:
        return frames, pending[0] if len(pending) == 1 else MessageTracker(*pending)
    return frames, result
