"""pyzmq's ``zmq.sugar`` module names, for programs that import classes from there
(``from zmq.sugar.socket import Socket`` in type hints, say): each submodule re-exports zloop's
object of that name -- ``context`` (``Context``), ``socket`` (``Socket``), ``frame`` (``Frame``,
``Message``), ``poll`` (``Poller``, ``select``), ``tracker`` (``MessageTracker``), ``version``
(``zmq_version``, ``zmq_version_info``, ``pyzmq_version``, ``__version__``); and, as in pyzmq, the
error classes and ``device`` at the package level.

In pyzmq these are the Python layer over its C backend; zloop has no such split, so nothing else
of them (``attrsettr``, ``stopwatch``, the private helpers) is here.
"""

from __future__ import annotations

import zloop as _zloop
from zloop.errors import (
    Again,
    ContextTerminated,
    DraftFDWarning,
    InterruptedSystemCall,
    NotDone,
    ZMQBaseError,
    ZMQBindError,
    ZMQError,
    ZMQVersionError,
)
from zloop.proxy import device
from zloop.sugar import context, frame, poll, socket, tracker, version
from zloop.sugar.context import Context
from zloop.sugar.frame import Frame, Message
from zloop.sugar.poll import Poller, select
from zloop.sugar.socket import Socket
from zloop.sugar.tracker import MessageTracker
from zloop.sugar.version import pyzmq_version, zmq_version, zmq_version_info

__all__ = [
    "Again",
    "Context",
    "ContextTerminated",
    "DraftFDWarning",
    "Frame",
    "InterruptedSystemCall",
    "Message",
    "MessageTracker",
    "NotDone",
    "Poller",
    "Socket",
    "ZMQBaseError",
    "ZMQBindError",
    "ZMQError",
    "ZMQVersionError",
    "device",
    "pyzmq_version",
    "select",
    "zmq_version",
    "zmq_version_info",
]

# pyzmq's other sugar names, taken from zloop's top level when it has them.
for _name in (
    "Stopwatch",
    "SyncContext",
    "SyncSocket",
    "pyzmq_version_info",
    "__version__",
    "__revision__",
    "_FINISHED_TRACKER",
):
    globals()[_name] = getattr(_zloop, _name)
    __all__.append(_name)

_ = (context, frame, poll, socket, tracker, version)  # the submodules, attributes as in pyzmq
