"""Awaitable sockets for tornado coroutines under pyzmq's module name (``zmq.eventloop.future``).

``Context``, ``Socket`` and ``Poller`` are :mod:`zloop.adapters.tornado`'s very objects (tornado 6
runs on asyncio, so they are the asyncio adapter's). ``CancelledError`` is what awaiting a
cancelled operation raises here: ``asyncio.CancelledError``. (pyzmq's module defines its own
``CancelledError`` for its tornado futures; zloop's futures are asyncio's, which tornado 6 awaits
natively.)
"""

from __future__ import annotations

from asyncio import CancelledError as CancelledError

from zloop.adapters.tornado import (
    Context,
    Poller,
    Socket,
)

__all__ = ["CancelledError", "Context", "Poller", "Socket"]
