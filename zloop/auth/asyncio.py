"""``AsyncioAuthenticator``: the ZAP handler as a task of the asyncio loop (as ``zmq.auth.asyncio``).

::

    auth = AsyncioAuthenticator(ctx)      # ctx: zloop.Context or zloop.adapters.asyncio.Context
    auth.start()                          # binds inproc://zeromq.zap.01 now; serves in a task
    auth.configure_plain(domain="*", passwords={"admin": "secret"})
    ...
    auth.stop()                           # cancels the task, closes (unbinds) the ZAP socket

or ``async with AsyncioAuthenticator(ctx) as auth: ...``. The policy API is the thread
authenticator's (:class:`zloop.auth.base.Authenticator`). The handler never blocks the loop: it
waits for requests through :mod:`zloop.adapters.asyncio`, and a CURVE callback
(``configure_curve_callback``) may be ``async`` (its result is awaited, as in pyzmq).

``start()`` creates the serving task on the running loop; outside one, on the ``loop`` given to the
constructor (the task then runs once that loop runs). Cancelling that task (``auth.task``) ends
serving as ``stop()`` does: the ZAP socket is closed, so servers see no handler any more and a new
authenticator can bind. A request already taken is answered first (500 if its decision was
cancelled). ``start``/``stop`` and the policy methods are for the loop's thread (the policy methods
are also thread-safe).

Differences from pyzmq 27: ``loop`` is honoured (pyzmq ignores it with a DeprecationWarning) and is
only needed outside a running loop; pyzmq's ``handle_zap_message`` is a coroutine that may be
overridden, here the serve loop calls :meth:`~zloop.auth.base.Authenticator.decide` (override that).
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from typing import Any

from zloop.auth._loop import LoopAuthenticator

__all__ = ["AsyncioAuthenticator"]


class AsyncioAuthenticator(LoopAuthenticator):
    """ZAP handler in an asyncio task; ``start()`` / ``stop()``, or ``async with``."""

    def __init__(
        self,
        context: Any = None,
        loop: asyncio.AbstractEventLoop | None = None,
        encoding: str = "utf-8",
        log: logging.Logger | None = None,
    ) -> None:
        super().__init__(context, encoding, log)
        self.loop = loop
        self.task: asyncio.Task[None] | None = None

    def _event_loop(self) -> asyncio.AbstractEventLoop:
        try:
            return asyncio.get_running_loop()
        except RuntimeError:
            if self.loop is not None:
                return self.loop
        raise RuntimeError(
            f"{type(self).__name__}.start() needs a running event loop (call it from a coroutine) "
            "or the loop to serve in (the constructor's loop argument)"
        )

    def start(self) -> None:
        """Bind the ZAP socket now and serve it from a task of the loop."""
        if self.is_alive():
            raise RuntimeError("the authenticator is already running")
        loop = self._event_loop()
        Socket = importlib.import_module("zloop.adapters.asyncio").Socket
        zap = self._bind()
        self._wrapper = Socket.from_socket(zap)
        self.task = loop.create_task(self._serve(self._wrapper), name="zloop-auth")

    def is_alive(self) -> bool:
        """Is the serving task running?"""
        return self.task is not None and not self.task.done()

    def stop(self) -> None:
        """Stop serving (cancel the task) and close the ZAP socket, which unbinds it at once."""
        task, self.task = self.task, None
        if task is not None and not task.done() and not task.get_loop().is_closed():
            task.cancel()
        self._close_zap()

    async def _serve(self, wrapper: Any) -> None:
        try:
            await self._serve_async(wrapper)
        except Exception as exc:
            if not self._closing_error(exc):
                self.log.exception("zloop.auth: the ZAP handler failed; stopped serving")
        finally:
            if self._wrapper is wrapper:  # not already stopped (and maybe restarted) by stop()
                self._close_zap()

    async def __aenter__(self) -> AsyncioAuthenticator:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop()
