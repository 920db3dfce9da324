"""``IOLoopAuthenticator``: the ZAP handler on a tornado IOLoop (as ``zmq.auth.ioloop``).

tornado 6's IOLoop runs on asyncio, so this is :class:`zloop.auth.asyncio.AsyncioAuthenticator`
with tornado's constructor signature: the handler is a task of the IOLoop's asyncio loop and
waits through :mod:`zloop.adapters.asyncio` (the same watcher ``ZMQStream`` uses), next to any
``ZMQStream`` server of the same loop. ``io_loop`` is only needed when ``start()`` is called
before the IOLoop runs::

    io_loop = IOLoop.current()
    auth = IOLoopAuthenticator(ctx, io_loop=io_loop)
    auth.start()                        # bound now; serves once the IOLoop runs
    auth.configure_plain(domain="*", passwords={"admin": "secret"})
    io_loop.start()

Difference from pyzmq 27, where the module is deprecated in favour of the asyncio one (and warns
when imported) and ``io_loop`` is ignored: here neither warns, and ``io_loop`` is honoured.
"""

from __future__ import annotations

import logging
from typing import Any

from zloop.auth.asyncio import AsyncioAuthenticator

__all__ = ["IOLoopAuthenticator"]


class IOLoopAuthenticator(AsyncioAuthenticator):
    """ZAP handler on a tornado IOLoop (an :class:`AsyncioAuthenticator`)."""

    def __init__(
        self,
        context: Any = None,
        encoding: str = "utf-8",
        log: logging.Logger | None = None,
        io_loop: Any = None,
    ) -> None:
        loop = None if io_loop is None else io_loop.asyncio_loop
        super().__init__(context, loop=loop, encoding=encoding, log=log)
        self.io_loop = io_loop
