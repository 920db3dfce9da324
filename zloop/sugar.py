"""``zloop.sugar``: the names of pyzmq's ``zmq.sugar`` (its Python layer over the backend).

zloop has one layer; these are the objects :mod:`zloop` exports, under the module name programs
may import them from (``from zmq.sugar import Socket``). pyzmq's ``zmq.sugar.device`` is
``zloop.device`` (see :mod:`zloop.devices`).
"""

from __future__ import annotations

from zloop import (
    _FINISHED_TRACKER,
    Again,
    Context,
    ContextTerminated,
    DraftFDWarning,
    Frame,
    InterruptedSystemCall,
    Message,
    MessageTracker,
    NotDone,
    Poller,
    Socket,
    Stopwatch,
    SyncContext,
    SyncSocket,
    ZMQBaseError,
    ZMQBindError,
    ZMQError,
    ZMQVersionError,
    __revision__,
    __version__,
    pyzmq_version,
    pyzmq_version_info,
    select,
    zmq_version,
    zmq_version_info,
)

__all__ = [
    "_FINISHED_TRACKER",
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
    "Stopwatch",
    "SyncContext",
    "SyncSocket",
    "ZMQBaseError",
    "ZMQBindError",
    "ZMQError",
    "ZMQVersionError",
    "__revision__",
    "__version__",
    "pyzmq_version",
    "pyzmq_version_info",
    "select",
    "zmq_version",
    "zmq_version_info",
]
