"""JSON to and from UTF-8 ``bytes``, as ``zmq.utils.jsonapi`` (the standard library's ``json``)."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["dumps", "loads"]

#: pyzmq keeps this name for old code; it is the standard library's ``json`` module.
jsonmod = json


def dumps(o: object, **kwargs: Any) -> bytes:
    """``json.dumps(o, **kwargs)`` encoded as UTF-8."""
    return json.dumps(o, **kwargs).encode("utf-8")


def loads(s: bytes | bytearray | memoryview | str, **kwargs: Any) -> Any:
    """``json.loads`` of UTF-8 bytes (or of a ``str``), keyword arguments passed on."""
    if isinstance(s, memoryview):
        s = s.tobytes()
    if isinstance(s, bytes | bytearray):
        s = s.decode("utf-8")
    return json.loads(s, **kwargs)
