"""pyzmq's deprecated string helpers (``zmq.utils.strtypes``), for old programs.

``cast_bytes`` / ``cast_unicode`` (aliases ``b`` / ``asbytes`` and ``u``) warn with a
``DeprecationWarning`` as pyzmq's do; use ``str.encode`` / ``bytes.decode``.
"""

from __future__ import annotations

import builtins
import warnings

__all__ = ["asbytes", "b", "basestring", "bytes", "cast_bytes", "cast_unicode", "u", "unicode"]

bytes = builtins.bytes
unicode = str
basestring = (str,)

_DEPRECATED = "zloop.utils.strtypes is deprecated (as zmq.utils.strtypes since pyzmq 23)"


def cast_bytes(
    s: str | builtins.bytes, encoding: str = "utf8", errors: str = "strict"
) -> builtins.bytes:
    """``s`` as bytes: encoded if it is a ``str``, unchanged if bytes; TypeError otherwise."""
    warnings.warn(_DEPRECATED, DeprecationWarning, stacklevel=2)
    if isinstance(s, builtins.bytes):
        return s
    if isinstance(s, str):
        return s.encode(encoding, errors)
    raise TypeError(f"Expected unicode or bytes, got {s!r}")


def cast_unicode(s: str | builtins.bytes, encoding: str = "utf8", errors: str = "strict") -> str:
    """``s`` as str: decoded if it is bytes, unchanged if a ``str``; TypeError otherwise."""
    warnings.warn(_DEPRECATED, DeprecationWarning, stacklevel=2)
    if isinstance(s, builtins.bytes):
        return s.decode(encoding, errors)
    if isinstance(s, str):
        return s
    raise TypeError(f"Expected unicode or bytes, got {s!r}")


b = asbytes = cast_bytes
u = cast_unicode
