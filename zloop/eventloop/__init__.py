"""tornado support under pyzmq's module names: ``zloop.eventloop.zmqstream`` (``ZMQStream``),
``zloop.eventloop.future`` (awaitable sockets), ``zloop.eventloop.ioloop`` (tornado's IOLoop).

As ``zmq.eventloop``, importing it imports tornado; ``IOLoop`` is tornado's. The stream and the
sockets are :mod:`zloop.adapters.tornado`'s very objects.
"""

from __future__ import annotations

from tornado.ioloop import IOLoop

__all__ = ["IOLoop"]
