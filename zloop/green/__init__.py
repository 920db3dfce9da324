"""gevent support under pyzmq's module name: ``import zloop.green as zmq`` as ``import zmq.green``.

Everything ``zloop`` exports, with the blocking parts green -- a blocking call blocks only the
calling greenlet: ``Context``, ``Socket``, ``Poller`` and ``poll`` are
:mod:`zloop.adapters.gevent`'s very objects (one implementation, two names), and ``device``,
``proxy``, ``proxy_steerable`` wait as greenlets (:mod:`zloop.green.device`). ``__all__`` is
``zloop.__all__``, as ``zmq.green.__all__`` is ``zmq.__all__``.

Two differences from ``zmq.green``: ``zloop.green.poll`` is the green ``poll`` function (in pyzmq
the name is shadowed by its ``zmq.green.poll`` submodule), and ``proxy`` / ``proxy_steerable`` are
green too (pyzmq's are libzmq's, blocking the OS thread). pyzmq's ``zmq.green.eventloop`` (tornado
over green sockets) has no counterpart: use :mod:`zloop.eventloop` with plain sockets.
"""

from __future__ import annotations

from zloop import *  # noqa: F403 - the zloop names, as zmq.green re-exports zmq's
from zloop import __all__ as _zloop_all
from zloop.adapters import gevent as _gevent_adapter
from zloop.green.device import device as device  # type: ignore[assignment]  # pyzmq's names
from zloop.green.device import proxy as proxy
from zloop.green.device import proxy_steerable as proxy_steerable

Context = _gevent_adapter.Context  # type: ignore[assignment,misc]  # the green classes replace zloop's
Socket = _gevent_adapter.Socket  # type: ignore[assignment,misc]
Poller = _gevent_adapter.Poller  # type: ignore[assignment,misc]
poll = _gevent_adapter.poll  # type: ignore[assignment]  # its first parameter is named as pyzmq names it

__all__: list[str] = list(_zloop_all)
