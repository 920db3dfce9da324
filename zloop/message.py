"""``Frame``: one received (or to-be-sent) message part, shaped like pyzmq's ``zmq.Frame``."""

from __future__ import annotations

from typing import Any

from zloop.constants import Errno, MessageOption
from zloop.errors import ZMQError

BytesLike = bytes | bytearray | memoryview
_bytes = bytes  # the builtin, since Frame.bytes shadows the name inside the class


class Frame:
    """A message frame: ``bytes``, ``buffer``, ``more`` and ``get(property)``.

    Frames returned by ``recv(copy=False)`` carry the properties of the connection they arrived on
    (``Socket-Type``, ``Identity``, ``Peer-Address`` and any ``X-`` property), readable with
    :meth:`get` as in pyzmq.
    """

    __slots__ = ("_data", "_properties", "more", "routing_id")

    def __init__(self, data: Any = b"", copy: bool = True, track: bool = False) -> None:
        self._data: BytesLike = as_frame_data(data, copy)
        self.more = False
        self.routing_id: int | None = None
        self._properties: dict[str, Any] | None = None

    @classmethod
    def _received(cls, data: BytesLike, more: bool, properties: dict[str, Any] | None) -> Frame:
        frame = cls.__new__(cls)
        frame._data = data
        frame.more = more
        frame.routing_id = None
        frame._properties = properties
        return frame

    @property
    def bytes(self) -> _bytes:
        data = self._data
        return data if isinstance(data, _bytes) else _bytes(data)

    @property
    def buffer(self) -> memoryview:
        return memoryview(self._data)

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
    """The bytes-like object a pipe carries for one outgoing frame (validates the type)."""
    if isinstance(data, bytes):
        return data
    if isinstance(data, Frame):
        return data._data
    if isinstance(data, str):
        raise TypeError("str is not allowed as a message frame; use send_string or encode it")
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data) if copy else data
    try:
        view = memoryview(data)
    except TypeError:
        raise TypeError(
            f"a message frame must be bytes, bytearray, memoryview or Frame, not {type(data).__name__}"
        ) from None
    return view.tobytes() if copy else view
