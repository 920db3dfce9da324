"""``Frame``: one received (or to-be-sent) message part, shaped like pyzmq's ``zmq.Frame``, and
what ``Socket.send`` queues for each kind of data (copies, shared buffers, tracked buffers: see
:mod:`zloop.tracker`)."""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any

from zloop.constants import Errno, MessageOption
from zloop.errors import NotDone, ZMQError
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
    """A message frame: ``bytes``, ``buffer``, ``more`` and ``get(property)``, as ``zmq.Frame``.

    Frames returned by ``recv(copy=False)`` carry the properties of the connection they arrived on
    (``Socket-Type``, ``Identity``, ``Peer-Address`` and any ``X-`` property), readable with
    :meth:`get` or ``frame["Peer-Address"]`` as in pyzmq.

    As pyzmq's: ``copy=None`` (the default) copies data under ``copy_threshold`` bytes
    (:data:`~zloop.tracker.COPY_THRESHOLD`) and shares larger buffers; with ``track=True``,
    :attr:`tracker` is a :class:`~zloop.tracker.MessageTracker` done once neither this frame nor
    zloop holds the shared buffer (already done when the data was copied); else it is None.
    :attr:`bytes` is made once and then returned again, :attr:`buffer` is the same view while it
    is in use; frames compare and hash by identity.

    The buffer protocol (``memoryview(frame)``, ``numpy.frombuffer(frame)``) needs Python 3.12
    (PEP 688: before it, a class written in Python cannot lend its buffer); :attr:`buffer` works
    everywhere.
    """

    __slots__ = {
        "__weakref__": "",
        "_buffer": "",
        "_bytes": "",
        "_data": "",
        "_properties": "",
        "more": "True if more frames of the same message follow this one (a received frame).",
        "tracker": "The :class:`~zloop.tracker.MessageTracker` of a frame made with ``track=True``, else None.",
    }

    def __init__(
        self,
        data: Any = None,
        track: bool = False,
        copy: bool | None = None,
        copy_threshold: int | None = None,
        **kwargs: Any,
    ) -> None:
        if isinstance(data, str):
            raise TypeError("Str objects not allowed. Only: bytes, buffer interfaces.")
        if data is None:
            data = b""
        threshold = COPY_THRESHOLD if copy_threshold is None else copy_threshold
        if copy is None:
            copy = bool(threshold) and _nbytes(data) < threshold
        self.tracker: MessageTracker | None = None
        if copy or not track:
            self._data: BytesLike = as_frame_data(data, copy)
            if track:
                self.tracker = FINISHED_TRACKER
        else:
            self._data, self.tracker = track_view(_shared_view(data))
        self.more = False
        self._properties: dict[str, Any] | None = None
        self._bytes: _bytes | None = None
        self._buffer: weakref.ref[memoryview] | None = None

    @classmethod
    def _received(cls, data: BytesLike, more: bool, properties: dict[str, Any] | None) -> Frame:
        frame = cls.__new__(cls)
        frame._data = data
        frame.more = more
        frame.tracker = None
        frame._properties = properties
        frame._bytes = None
        frame._buffer = None
        return frame

    def __copy__(self) -> Frame:
        """A frame sharing this one's data and tracker (pyzmq's ``fast_copy``)."""
        other = Frame._received(self._data, self.more, self._properties)
        other.tracker = self.tracker
        other._bytes = self._bytes
        return other

    fast_copy = __copy__

    @property
    def bytes(self) -> _bytes:
        """The content as bytes: copied on first use, then the same object (pyzmq)."""
        data = self._bytes
        if data is None:
            raw = self._data
            data = self._bytes = raw if type(raw) is _bytes else _bytes(raw)
        return data

    @property
    def buffer(self) -> memoryview:
        """A memoryview of the content (no copy), the same one while it is in use (pyzmq)."""
        ref = self._buffer
        view = ref() if ref is not None else None
        if view is None:
            data = self._data
            # Received over inproc from a tracked send: hand out the tracked view itself, so the
            # sender's tracker stays pending while this view is in use (see zloop.tracker).
            tracked = isinstance(data, memoryview) and is_tracked_view(data)
            view = data if isinstance(data, memoryview) and tracked else memoryview(data)
            self._buffer = weakref.ref(view)
        return view

    @property
    def tracker_event(self) -> Any:
        """pyzmq's event behind :attr:`tracker` (``is_set()``/``wait()``): None unless this frame
        shares its buffer and is tracked."""
        tracker = self.tracker
        if tracker is None or tracker is FINISHED_TRACKER:
            return None
        return _TrackerEvent(tracker)

    @property
    def routing_id(self) -> int:
        """CLIENT/SERVER routing id: a libzmq draft feature zloop does not have (RuntimeError, as
        pyzmq built without draft support)."""
        raise RuntimeError(_NO_DRAFT + " (CLIENT-SERVER)")

    @routing_id.setter
    def routing_id(self, value: int) -> None:
        raise RuntimeError(_NO_DRAFT + " (CLIENT-SERVER)")

    @property
    def group(self) -> str:
        """RADIO/DISH group: a libzmq draft feature zloop does not have (see :attr:`routing_id`)."""
        raise RuntimeError(_NO_DRAFT + " (RADIO-DISH)")

    @group.setter
    def group(self, value: str | _bytes) -> None:
        raise RuntimeError(_NO_DRAFT + " (RADIO-DISH)")

    def __len__(self) -> int:
        return len(self._data)

    def __bytes__(self) -> _bytes:
        return self.bytes

    def __buffer__(self, flags: int) -> memoryview:
        return self.buffer

    def __repr__(self) -> str:
        """pyzmq's shape: the content, or its first 12 bytes and its size when over 16 bytes."""
        cls = type(self)
        name = "zloop.Frame" if cls is Frame else f"{cls.__module__}.{cls.__qualname__}"
        nbytes = len(self._data)
        if nbytes <= 16:
            return f"<{name}({self.bytes!r})>"
        head = _bytes(memoryview(self._data)[:12])
        if nbytes >= 1e9:
            size = f"{nbytes // 1e9:.0f}GB"
        elif nbytes >= 2**20:
            size = f"{nbytes // 1e6:.0f}MB"
        elif nbytes >= 1e3:
            size = f"{nbytes // 1e3:.0f}kB"
        else:
            size = f"{nbytes}B"
        return f"<{name}({head!r}...{size})>"

    def get(self, option: int | str | _bytes) -> Any:
        """``MORE``, ``SHARED`` (ints), or a connection property by name (``"Peer-Address"``,
        ``"Socket-Type"``, ``"User-Id"``...); EINVAL for anything else, as pyzmq."""
        if isinstance(option, _bytes):
            option = option.decode("utf-8")
        if isinstance(option, str):
            if option in ("routing_id", "group"):
                raise RuntimeError(_NO_DRAFT)
            props = self._properties or {}
            if option not in props:
                raise ZMQError(Errno.EINVAL, f"frame has no property {option!r}")
            value = props[option]
            return value.decode("utf-8", "replace") if isinstance(value, _bytes) else value
        if option == MessageOption.MORE:
            return int(self.more)
        if option == MessageOption.SHARED:
            return 0  # libzmq: 1 only for a message copied with zmq_msg_copy (never, here)
        raise ZMQError(Errno.EINVAL, f"unknown frame option {option!r}")

    def set(self, option: int | str, value: Any) -> None:
        """libzmq has no settable frame option (EINVAL); ``routing_id``/``group`` are draft."""
        if option in ("routing_id", "group"):
            raise RuntimeError(_NO_DRAFT)
        raise ZMQError(Errno.EINVAL, f"frame option {option!r} cannot be set")

    def __getitem__(self, option: int | str | _bytes) -> Any:
        return self.get(option)


_NO_DRAFT = "libzmq draft features are not implemented by zloop (zloop.DRAFT_API is False)"


class _TrackerEvent:
    """``Frame.tracker_event``: an event-shaped view of a frame's tracker."""

    __slots__ = ("_tracker",)

    def __init__(self, tracker: MessageTracker) -> None:
        self._tracker = tracker

    def is_set(self) -> bool:
        return self._tracker.done

    def wait(self, timeout: float | None = None) -> bool:
        try:
            self._tracker.wait(-1 if timeout is None else timeout)
        except NotDone:
            return False
        return True


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
