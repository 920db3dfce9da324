"""``GeventAuthenticator``: the ZAP handler in a greenlet (for ``zloop.adapters.gevent`` users).

::

    auth = GeventAuthenticator(ctx)     # ctx: zloop.Context or zloop.adapters.gevent.Context
    auth.start()                        # binds inproc://zeromq.zap.01 now; serves in a greenlet
    auth.configure_plain(domain="*", passwords={"admin": "secret"})
    ...
    auth.stop()                         # kills the greenlet, closes (unbinds) the ZAP socket

The policy API is the thread authenticator's (:class:`zloop.auth.base.Authenticator`). The
greenlet waits for requests through :mod:`zloop.adapters.gevent`, so only it blocks, never the
hub; no monkey-patching is needed (zloop's I/O thread is a real thread either way). A CURVE
callback may block its greenlet (gevent style: a green socket, ``gevent.event.Event.wait()``...):
other greenlets keep running, and the policy lock is reentrant so they may even change the policy
meanwhile. It must return a bool: an awaitable is refused (500).

Killing the greenlet (``auth.greenlet.kill()``) ends serving as ``stop()`` does: the ZAP socket is
closed, so a new authenticator can bind. A request already taken is answered first (500 if the
greenlet was killed while a callback decided it). ``start``/``stop`` belong to the hub's thread.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from zloop._extras import MissingExtraError

try:
    import gevent  # type: ignore[import-untyped]
except ModuleNotFoundError as exc:
    raise MissingExtraError(__name__, "gevent", "gevent", exc) from exc

from zloop.auth._loop import LoopAuthenticator

__all__ = ["GeventAuthenticator"]


class GeventAuthenticator(LoopAuthenticator):
    """ZAP handler in a greenlet; ``start()`` / ``stop()``, usable as a context manager."""

    def __init__(
        self,
        context: Any = None,
        encoding: str = "utf-8",
        log: logging.Logger | None = None,
    ) -> None:
        super().__init__(context, encoding, log)
        self.greenlet: Any = None

    def start(self) -> None:
        """Bind the ZAP socket now and serve it from a new greenlet."""
        if self.is_alive():
            raise RuntimeError("the authenticator is already running")
        Socket = importlib.import_module("zloop.adapters.gevent").Socket
        zap = self._bind()
        self._wrapper = Socket.from_socket(zap)
        self.greenlet = gevent.spawn(self._serve, self._wrapper)

    def is_alive(self) -> bool:
        """Is the serving greenlet running?"""
        return self.greenlet is not None and not self.greenlet.dead

    def stop(self) -> None:
        """Stop serving (kill the greenlet, waiting for it) and close (unbind) the ZAP socket."""
        greenlet, self.greenlet = self.greenlet, None
        if greenlet is not None and greenlet is not gevent.getcurrent():
            greenlet.kill(block=True)
        self._close_zap()

    def _serve(self, wrapper: Any) -> None:
        try:
            self._serve_blocking(wrapper)
        except Exception as exc:
            if not self._closing_error(exc):
                self.log.exception("zloop.auth: the ZAP handler failed; stopped serving")
        finally:
            if self._wrapper is wrapper:  # not already stopped (and maybe restarted) by stop()
                self._close_zap()

    def __enter__(self) -> GeventAuthenticator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
