"""``TrioAuthenticator``: the ZAP handler as a trio task (structured: it lives in a nursery).

The natural shape is an async context manager that serves for the duration of its block::

    async with TrioAuthenticator(ctx) as auth:     # ctx: zloop.Context or a trio adapter Context
        auth.configure_plain(domain="*", passwords={"admin": "secret"})
        ...                                         # servers of ctx are authenticated here

For a nursery of your own, :meth:`TrioAuthenticator.serve` follows trio's ``task_status``
protocol: ``await nursery.start(auth.serve)`` returns once the ZAP socket is bound (it binds it
unless ``start()`` already did), and serving lasts until ``stop()`` or a cancellation.

The policy API is the thread authenticator's (:class:`zloop.auth.base.Authenticator`); a CURVE
callback may be ``async`` (awaited in the serving task). Requests are awaited through
:mod:`zloop.adapters.trio`, so the handler never blocks the run.

Cancellation is clean: cancelling the serving task (any enclosing cancel scope, or ``stop()``)
ends serving and closes the ZAP socket (unbinding it, so a new authenticator can start, and
servers waiting on a request not yet taken see the handler gone). A request already taken is
always answered -- 500 if it was cancelled while an async callback decided it -- so the REP is
never left half-way.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from zloop._extras import MissingExtraError

try:
    import trio
except ModuleNotFoundError as exc:
    raise MissingExtraError(__name__, "trio", "trio", exc) from exc

from zloop.auth._loop import LoopAuthenticator

__all__ = ["TrioAuthenticator"]


class TrioAuthenticator(LoopAuthenticator):
    """ZAP handler in a trio task: ``async with``, or ``nursery.start(auth.serve)``."""

    def __init__(
        self,
        context: Any = None,
        encoding: str = "utf-8",
        log: logging.Logger | None = None,
    ) -> None:
        super().__init__(context, encoding, log)
        self._scope: trio.CancelScope | None = None
        self._running: contextlib.AbstractAsyncContextManager[TrioAuthenticator] | None = None

    def start(self) -> None:
        """Bind the ZAP socket now (synchronously); :meth:`serve` serves it."""
        self._bind()

    def is_alive(self) -> bool:
        """Is a task serving requests?"""
        return self._scope is not None

    def stop(self) -> None:
        """Stop serving (cancels the serving task's scope) and close (unbind) the ZAP socket."""
        scope, self._scope = self._scope, None
        if scope is not None:
            scope.cancel()  # aborts the parked recv synchronously: nothing is taken
        self._close_zap()

    async def serve(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Serve ZAP requests until ``stop()`` or cancelled; ``task_status.started()`` once bound."""
        if self._scope is not None:
            raise RuntimeError("the authenticator is already serving")
        Socket = importlib.import_module("zloop.adapters.trio").Socket
        if self.zap_socket is None:
            self._bind()
        wrapper = self._wrapper = Socket.from_socket(self.zap_socket)
        try:
            with trio.CancelScope() as scope:
                self._scope = scope
                task_status.started()
                await self._serve_async(wrapper)
        except Exception as exc:
            if not self._closing_error(exc):
                self.log.exception("zloop.auth: the ZAP handler failed; stopped serving")
        finally:
            if self._wrapper is wrapper:  # not already stopped (and maybe restarted) by stop()
                self._scope = None
                self._close_zap()

    @contextlib.asynccontextmanager
    async def _serving(self) -> AsyncIterator[TrioAuthenticator]:
        async with trio.open_nursery() as nursery:
            await nursery.start(self.serve)
            try:
                yield self
            finally:
                self.stop()

    async def __aenter__(self) -> TrioAuthenticator:
        running = self._serving()
        result = await running.__aenter__()
        self._running = running
        return result

    async def __aexit__(self, *exc: Any) -> bool | None:
        running, self._running = self._running, None
        if running is None:
            return None
        return await running.__aexit__(*exc)
