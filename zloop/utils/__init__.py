"""Helpers with pyzmq's module names (``zmq.utils.*``).

* :mod:`~zloop.utils.jsonapi`: JSON to and from UTF-8 bytes (what ``send_json`` uses);
* :mod:`~zloop.utils.z85`: Z85 (RFC 32), the text form of CURVE keys;
* :mod:`~zloop.utils.monitor`: ``recv_monitor_message``, ``parse_monitor_message``;
* :mod:`~zloop.utils.strtypes`: pyzmq's deprecated string casts;
* :mod:`~zloop.utils.garbage`: pyzmq's zero-copy garbage collector, which zloop does not need
  (the module says why) -- kept so programs that import or configure it still run;
* :mod:`~zloop.utils.interop`, :mod:`~zloop.utils.win32`: ``cast_int_addr``, ``allow_interrupt``.

Submodules are imported on first use (``zloop.utils.jsonapi`` works after ``import zloop``).
"""

from __future__ import annotations

import importlib
from types import ModuleType

_SUBMODULES = ("garbage", "interop", "jsonapi", "monitor", "strtypes", "win32", "z85")


def __getattr__(name: str) -> ModuleType:
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_SUBMODULES})
