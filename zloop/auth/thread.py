"""``ThreadAuthenticator``: the ZAP handler in a background thread (as ``zmq.auth.thread``).

``start()`` binds the ZAP socket in the caller's thread -- so every server created afterwards finds
a handler -- and hands it to a daemon thread that polls it together with an inproc PAIR used only
to stop. Policy changes (``allow``, ``configure_plain``...) may be made at any time from any thread;
they apply to the next request.

Each request is decided by :meth:`~zloop.auth.base.Authenticator.decide`, or by
``handle_zap_message`` -- a coroutine, as in pyzmq -- if a subclass overrides that (sync or async).
When the answer has to wait -- a CURVE callback that returned an awaitable, or an override that
awaits -- it is awaited on an asyncio event loop owned by the thread (made on first need, as
pyzmq's thread runs one), so an ``async def callback`` works as in pyzmq and its result decides
(the awaitable itself is never taken as a yes). Requests wait meanwhile (a REP answers one at a time, as libzmq's ZAP
expects). ``stop()`` cancels an await in progress: that request is answered 500 and the thread ends
(pyzmq's ``stop()`` would wait for it). A request whose handling fails is answered 500 and the
thread goes on serving.
"""

from __future__ import annotations

import contextlib
import inspect
import itertools
import logging
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from zloop import _real
from zloop.auth.base import Authenticator, PendingVerdict
from zloop.constants import Errno
from zloop.errors import Again, ContextTerminated, ZMQError

if TYPE_CHECKING:
    import asyncio  # imported when first awaited: importing zloop.auth loads no event loop

__all__ = ["ThreadAuthenticator"]

_PAIR = 0
_POLLIN = 1
_ids = itertools.count()


def _ended(exc: BaseException) -> bool:
    """Is ``exc`` how a call fails once the context terminates or our sockets are closed?"""
    return isinstance(exc, ContextTerminated) or (
        isinstance(exc, ZMQError) and exc.errno == Errno.ENOTSOCK
    )


class ThreadAuthenticator(Authenticator):
    """Run the authenticator in a thread; ``start()`` / ``stop()``, usable as a context manager."""

    def __init__(
        self,
        context: Any = None,
        encoding: str = "utf-8",
        log: logging.Logger | None = None,
    ) -> None:
        super().__init__(context, encoding, log)
        self._thread: _real.Thread | None = None
        self._stop_tx: Any = None
        self._stop_rx: Any = None
        self._stopping = False
        self._aloop: asyncio.AbstractEventLoop | None = None  # the thread's, made on first await
        self._awaiting: asyncio.Task[Any] | None = None  # what the thread awaits now, if anything

    def __enter__(self) -> ThreadAuthenticator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Bind the ZAP socket and start the thread that answers it.

        Start it before the servers it protects get their first connection, and configure the
        policy (``allow``, ``configure_plain``, ``configure_curve``...) before or after: each request is
        decided with the policy of that moment.

        Raises:
            RuntimeError: If it is already running.
            ZMQError: ``EADDRINUSE`` if another authenticator serves this context.
        """
        if self._thread is not None:
            raise RuntimeError("the authenticator is already running")
        super().start()
        name = f"inproc://zloop.auth.thread-{id(self):x}-{next(_ids)}"
        rx = self._socket(_PAIR)
        rx.bind(name)
        tx = self._socket(_PAIR)
        tx.connect(name)
        self._stop_rx, self._stop_tx = rx, tx
        self._stopping = False
        # A real OS thread even under gevent's patch_all (zloop._real): a green one would not
        # answer a handshake while the application blocks in a plain (non-green) call.
        self._thread = _real.Thread(self._run, "zloop-auth")
        self._thread.start()

    def is_alive(self) -> bool:
        """Is the ZAP thread running?"""
        return self._thread is not None and self._thread.is_alive()

    @property
    def thread(self) -> _real.Thread | None:
        """The ZAP thread while started (``join()``, ``is_alive()``), else None (pyzmq's name)."""
        return self._thread

    def stop(self) -> None:
        """Stop the thread, close its sockets and unbind the ZAP endpoint."""
        thread = self._thread
        if thread is None:
            return
        # If the context is being terminated (or was destroyed) the send fails and the thread
        # ends by itself, on ContextTerminated or its closed sockets (see _run).
        with contextlib.suppress(ZMQError):
            self._stop_tx.send(b"TERMINATE")
        # An await in progress is cancelled: the thread sets _awaiting before it reads
        # _stopping, we set _stopping before we read _awaiting, so one of us cancels it.
        self._stopping = True
        task, aloop = self._awaiting, self._aloop
        if task is not None and aloop is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                aloop.call_soon_threadsafe(task.cancel)
        thread.join()
        self._thread = None
        self._stop_tx.close(0)
        self._stop_tx = None
        # The thread closed the ZAP socket and its end of the stop pair.

    def _run(self) -> None:
        from zloop.poll import Poller

        zap, control = self.zap_socket, self._stop_rx
        poller = Poller()
        poller.register(zap, _POLLIN)
        poller.register(control, _POLLIN)
        try:
            while True:
                ready = dict(poller.poll())
                if control in ready:
                    break
                if zap in ready:
                    try:
                        msg = zap.recv_multipart(1)  # NOBLOCK
                    except Again:  # a spurious wake-up
                        continue
                    try:
                        self._handle(msg)
                    except Exception as exc:
                        if _ended(exc):
                            raise
                        self.log.exception("zloop.auth: error handling a ZAP request")
                        # A REP socket must answer before it can read again.
                        self.zap_socket.send_multipart(self.error_reply(msg, exc))
        except ZMQError as exc:
            # Context.term() (ContextTerminated) or destroy() (our sockets closed under us) ends
            # serving; servers then see the handler gone and fail the pending handshakes.
            if not _ended(exc):
                raise
        finally:
            control.close(0)
            self._stop_rx = None
            Authenticator.stop(self)
            aloop, self._aloop = self._aloop, None
            if aloop is not None:
                aloop.close()

    def _handle(self, msg: list[bytes]) -> None:
        """Answer one request: ``handle_zap_message`` if a subclass overrides it (awaited if it
        returns an awaitable), else ``decide`` directly -- with no event loop unless a CURVE
        callback returned an awaitable."""
        if type(self).handle_zap_message is not Authenticator.handle_zap_message:
            handled = self.handle_zap_message(msg)
            if inspect.isawaitable(handled):
                self._await(handled)
            return
        try:
            reply = self.decide(msg)
        except PendingVerdict as pending:
            verdict = bool(self._await(pending.awaitable))
            reply = self.decide(msg, curve_verdict=verdict)
        if reply is not None:
            self.zap_socket.send_multipart(reply)

    def _await(self, awaitable: Awaitable[Any]) -> Any:
        """Run ``awaitable`` to its end on the thread's event loop (cancelled by ``stop()``)."""
        import asyncio

        aloop = self._aloop
        if aloop is None:
            aloop = self._aloop = asyncio.new_event_loop()
        task = aloop.create_task(_awaited(awaitable))
        self._awaiting = task
        try:
            if self._stopping:
                task.cancel()
            return aloop.run_until_complete(task)
        except asyncio.CancelledError:
            raise RuntimeError("stop() cancelled the await of a ZAP request") from None
        finally:
            self._awaiting = None


async def _awaited(awaitable: Awaitable[Any]) -> Any:
    return await awaitable
