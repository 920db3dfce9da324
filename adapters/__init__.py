"""Event-loop adapters for zloop (imported as ``zloop.adapters``).

One loop-agnostic core (:mod:`zloop.adapters._core`: the edge-triggered discipline, cancellation
safety, written once) and one thin module per loop, each in that loop's idiom and named like pyzmq's
equivalent where there is one:

* :mod:`zloop.adapters.asyncio` — ``Context``, ``Socket`` (``from_socket``), ``Poller``, like ``zmq.asyncio``;
* :mod:`zloop.adapters.selectors` — ``Reactor`` (libevent-style callbacks) and ``ZMQSelector``
  (a ``selectors.BaseSelector`` that accepts ZeroMQ sockets);
* :mod:`zloop.adapters.trio`, :mod:`zloop.adapters.gevent` (like ``zmq.green``),
  :mod:`zloop.adapters.tornado` (``ZMQStream``);
* :mod:`zloop.adapters.anyio` (asyncio and trio backends, cancel scopes, ``pump`` into memory
  object streams) and :mod:`zloop.adapters.twisted` (Deferreds, ``on_recv``, any reactor).

Every adapter drives zloop sockets **and** pyzmq sockets (only the public FD/EVENTS/NOBLOCK/Again
contract is used). Importing this package imports no event loop: each submodule imports its loop
when it is itself imported (``zloop.adapters.asyncio`` etc., also reachable as attributes).
"""

from __future__ import annotations

import importlib
from types import ModuleType

_SUBMODULES = ("asyncio", "selectors", "trio", "gevent", "tornado", "anyio", "twisted")

__all__ = list(_SUBMODULES)


def __getattr__(name: str) -> ModuleType:
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
