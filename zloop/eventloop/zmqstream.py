"""``ZMQStream`` under pyzmq's module name (``zmq.eventloop.zmqstream``).

:class:`ZMQStream` is :mod:`zloop.adapters.tornado`'s very class: callbacks (``on_recv``,
``on_send`` ...) on tornado's IOLoop, for zloop and pyzmq sockets. That module's docstring lists
its differences from pyzmq's stream.
"""

from __future__ import annotations

from tornado.ioloop import IOLoop

from zloop.adapters.tornado import (
    ZMQStream,
)
from zloop.constants import PollEvent

__all__ = ["IOLoop", "ZMQStream"]

#: Module constants of pyzmq's zmqstream (``ZMQStream.flush(flag)``).
POLLIN = PollEvent.POLLIN
POLLOUT = PollEvent.POLLOUT
