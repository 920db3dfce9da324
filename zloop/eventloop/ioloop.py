"""pyzmq's deprecated ``zmq.eventloop.ioloop``: tornado's ``tornado.ioloop`` module, re-exported.

Importing it warns (``DeprecationWarning``), as pyzmq's does since pyzmq 17: tornado needs no
special integration, use ``tornado.ioloop`` directly. ``ZMQIOLoop`` is tornado's ``IOLoop`` and
``install()`` does nothing but warn.
"""

from __future__ import annotations

import warnings

from tornado.ioloop import *  # noqa: F403 - the module it stands for
from tornado.ioloop import IOLoop

_MESSAGE = (
    "zloop.eventloop.ioloop is deprecated (as zmq.eventloop.ioloop since pyzmq 17): "
    "use tornado.ioloop; zloop sockets work with tornado's IOLoop as it is."
)

warnings.warn(_MESSAGE, DeprecationWarning, stacklevel=2)

#: pyzmq's name for tornado's IOLoop.
ZMQIOLoop = IOLoop


def install() -> None:
    """Deprecated: does nothing (tornado needs no installation step)."""
    warnings.warn(_MESSAGE, DeprecationWarning, stacklevel=2)
