"""Green devices: ``device``, ``proxy`` and ``proxy_steerable`` that block only their greenlet.

The loop is :func:`zloop.proxy`'s (whole messages, bursts, back pressure per direction, the
steerable commands); it waits with the gevent adapter's ``poll``, so other greenlets run while it
waits. The sockets are green sockets (:class:`zloop.green.Socket`, or any socket the gevent
adapter's poll accepts).

pyzmq's ``zmq.green.device`` is a simpler loop of blocking sends; its ``zmq.green.proxy`` and
``proxy_steerable`` are libzmq's, which block the whole OS thread (every greenlet of it) until the
context ends. Here all three are green.
"""

from __future__ import annotations

from typing import Any

from zloop.adapters.gevent import (
    poll as _green_poll,
)
from zloop.proxy import proxy_directions, serve

__all__ = ["device", "proxy", "proxy_steerable"]


def proxy(frontend: Any, backend: Any, capture: Any = None) -> int:
    """:func:`zloop.proxy`, waiting as a greenlet; raises ``ContextTerminated`` at the end."""
    return serve(proxy_directions(frontend, backend), capture, None, _green_poll)


def proxy_steerable(frontend: Any, backend: Any, capture: Any = None, control: Any = None) -> int:
    """:func:`zloop.proxy_steerable`, waiting as a greenlet; returns 0 after ``TERMINATE``."""
    return serve(proxy_directions(frontend, backend), capture, control, _green_poll)


def device(device_type: int, isocket: Any, osocket: Any) -> int:
    """pyzmq's green ``device``: a green :func:`proxy`; ``osocket`` -1 means ``isocket`` both ways.

    ``device_type`` changes nothing (every device is a proxy).
    """
    if isinstance(osocket, int) and osocket == -1:
        osocket = isocket
    return proxy(isocket, osocket)
