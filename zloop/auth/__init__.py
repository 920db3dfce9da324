"""Authentication for zloop sockets: ZAP handlers (RFC 27) and CURVE certificates.

In the style of pyzmq's ``zmq.auth``::

    auth = zloop.auth.ThreadAuthenticator(ctx)
    auth.start()
    auth.allow("127.0.0.1")
    auth.configure_plain(domain="*", passwords={"admin": "secret"})
    auth.configure_curve(domain="*", location=zloop.auth.CURVE_ALLOW_ANY)
    ...
    auth.stop()

The handler binds ``inproc://zeromq.zap.01`` in the given context; zloop servers of that context
(and only those) consult it exactly when libzmq would (see :mod:`zloop.security`).

Authenticators that serve inside your event loop instead of a thread, with the same policy API
(imported on first use, so ``import zloop.auth`` imports no event loop):

* ``AsyncioAuthenticator`` (:mod:`zloop.auth.asyncio`, as ``zmq.auth.asyncio``): a task of the
  asyncio loop; ``start()``/``stop()`` or ``async with``;
* ``IOLoopAuthenticator`` (:mod:`zloop.auth.ioloop`, as ``zmq.auth.ioloop``): the same on a tornado
  IOLoop (tornado 6 runs on asyncio);
* ``TrioAuthenticator`` (:mod:`zloop.auth.trio`): ``async with TrioAuthenticator(ctx) as auth:``
  serves in a nursery, or ``await nursery.start(auth.serve)``;
* ``GeventAuthenticator`` (:mod:`zloop.auth.gevent`): a greenlet; ``start()``/``stop()``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from zloop.auth.base import CURVE_ALLOW_ANY, Authenticator, CredentialsProvider
from zloop.auth.certs import create_certificates, load_certificate, load_certificates
from zloop.auth.thread import ThreadAuthenticator

__all__ = [
    "CURVE_ALLOW_ANY",
    "Authenticator",
    "CredentialsProvider",
    "ThreadAuthenticator",
    "create_certificates",
    "load_certificate",
    "load_certificates",
]

#: The in-loop authenticators, by the submodule that defines each (imported on first access).
_LOOP_AUTHENTICATORS = {
    "AsyncioAuthenticator": "asyncio",
    "IOLoopAuthenticator": "ioloop",
    "TrioAuthenticator": "trio",
    "GeventAuthenticator": "gevent",
}

if TYPE_CHECKING:
    from zloop.auth.asyncio import AsyncioAuthenticator as AsyncioAuthenticator
    from zloop.auth.gevent import GeventAuthenticator as GeventAuthenticator
    from zloop.auth.ioloop import IOLoopAuthenticator as IOLoopAuthenticator
    from zloop.auth.trio import TrioAuthenticator as TrioAuthenticator


def __getattr__(name: str) -> Any:
    module = _LOOP_AUTHENTICATORS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
