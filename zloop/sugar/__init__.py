"""pyzmq's ``zmq.sugar`` module names, for programs that import classes from there
(``from zmq.sugar.socket import Socket`` in type hints, say): each submodule re-exports zloop's
object of that name -- ``context`` (``Context``), ``socket`` (``Socket``), ``frame`` (``Frame``,
``Message``), ``poll`` (``Poller``, ``select``), ``tracker`` (``MessageTracker``), ``version``
(``zmq_version``, ``zmq_version_info``, ``pyzmq_version``, ``__version__``).

In pyzmq these are the Python layer over its C backend; zloop has no such split, so nothing else
of them (``attrsettr``, ``stopwatch``, the private helpers) is here.
"""

from __future__ import annotations

from zloop.sugar import context, frame, poll, socket, tracker, version
from zloop.sugar.context import Context
from zloop.sugar.frame import Frame, Message
from zloop.sugar.poll import Poller, select
from zloop.sugar.socket import Socket
from zloop.sugar.tracker import MessageTracker
from zloop.sugar.version import pyzmq_version, zmq_version, zmq_version_info

__all__ = [
    "Context",
    "Frame",
    "Message",
    "MessageTracker",
    "Poller",
    "Socket",
    "context",
    "frame",
    "poll",
    "pyzmq_version",
    "select",
    "socket",
    "tracker",
    "version",
    "zmq_version",
    "zmq_version_info",
]
