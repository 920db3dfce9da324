"""The one serve-loop shape shared by the in-loop authenticators (asyncio/tornado, trio, gevent).

Every in-loop authenticator is the same three steps around :class:`~zloop.auth.base.Authenticator`:

* ``start()`` binds the ZAP socket (a plain zloop REP at ``inproc://zeromq.zap.01`` of a zloop
  context) synchronously in the caller, so servers created right after find a handler;
* a background task of the loop (asyncio task, trio task, greenlet) wraps that socket with the
  loop's adapter and runs :meth:`LoopAuthenticator._serve_async` (asyncio, trio) or
  :meth:`LoopAuthenticator._serve_blocking` (gevent): receive a request, decide, answer, repeat;
* whenever that task ends (``stop()``, a cancellation, an error) it closes the ZAP socket, which
  unbinds the name; ``stop()`` also closes it at once.

The per-loop modules only say how to run the task and how to cancel it.

**A request taken is always answered.** The reply is sent synchronously on the raw REP with
``NOBLOCK``: the ZAP pipes are unlimited (:mod:`zloop.security`), so a REP reply never waits, and
no cancellation point lies between taking a request and answering it -- except the await of an
asynchronous CURVE callback (or a gevent callback that blocks its greenlet); a cancellation there
answers the request 500 before the task ends. A request too short to decide (never sent by a zloop
engine) is answered 400 all the same, so the REP never gets stuck waiting to reply.

Decisions are :meth:`Authenticator.decide` (override it to customise; pyzmq's coroutine
``handle_zap_message``, which the thread authenticator calls when a subclass overrides it, is not
used here). A CURVE callback may return an
awaitable in the asyncio/tornado/trio authenticators; it is awaited in the loop (without the
policy lock held).
"""

from __future__ import annotations

import logging
from typing import Any

from zloop.auth.base import VERSION, Authenticator, PendingVerdict
from zloop.constants import Errno

__all__ = ["LoopAuthenticator"]

_NOBLOCK = 1
_CLOSED_ERRNOS = (int(Errno.ENOTSOCK), int(Errno.ETERM))


class LoopAuthenticator(Authenticator):
    """Policy (inherited) + the shared serve loop. Subclasses run it in their loop."""

    def __init__(
        self,
        context: Any = None,
        encoding: str = "utf-8",
        log: logging.Logger | None = None,
    ) -> None:
        super().__init__(context, encoding, log)
        from zloop.context import Context

        if not isinstance(self.context, Context):
            raise TypeError(
                f"{type(self).__name__} needs a zloop Context (or a zloop.adapters context over "
                f"one), not {type(self.context).__module__}.{type(self.context).__name__}: "
                "servers only consult a ZAP handler bound in their own context"
            )
        self._wrapper: Any = None  # the adapter's socket over zap_socket while serving

    # -- life cycle pieces --------------------------------------------------------------------------

    def _bind(self) -> Any:
        """Bind the ZAP REP (synchronously) and return it."""
        if self.zap_socket is not None:
            raise RuntimeError("the authenticator is already running")
        Authenticator.start(self)
        return self.zap_socket

    def _close_zap(self) -> None:
        """Stop watching and close the ZAP socket (unbinds the name). Idempotent."""
        wrapper, self._wrapper = self._wrapper, None
        if wrapper is not None:
            try:
                wrapper.close(linger=1)
            except Exception:  # the loop is gone: closing the socket itself is what matters
                self.log.debug("zloop.auth: closing the ZAP socket wrapper failed", exc_info=True)
        Authenticator.stop(self)

    def _closing_error(self, exc: BaseException) -> bool:
        """Is ``exc`` how a wait on the ZAP socket ends when that socket is closed under it?"""
        return (
            self.zap_socket is None
            or bool(self.zap_socket.closed)
            or getattr(exc, "errno", None) in _CLOSED_ERRNOS
            or type(exc).__name__ == "ClosedResourceError"
        )

    # -- answering ------------------------------------------------------------------------------------

    def _send_reply(self, sock: Any, reply: list[bytes]) -> None:
        if sock.closed:
            return  # stopped meanwhile: the server sees the handler gone and fails that handshake
        try:
            sock.send_multipart(reply, _NOBLOCK)
        except Exception:
            self.log.exception("zloop.auth: could not send a ZAP reply")

    def _invalid(self, msg: list[bytes]) -> list[bytes]:
        request_id = bytes(msg[1]) if len(msg) > 1 else b""
        return [VERSION, request_id, b"400", b"Invalid request", b"", b""]

    def zap_reply(self, msg: list[bytes]) -> list[bytes]:
        """The reply to one request, synchronously: ``decide``, 500 if it fails, 400 if too short."""
        try:
            reply = self.decide(msg)
        except Exception as exc:
            self.log.exception("zloop.auth: error handling a ZAP request")
            return self.error_reply(msg, exc)
        return reply if reply is not None else self._invalid(msg)

    async def _answer_async(self, sock: Any, msg: list[bytes]) -> None:
        reply = self.error_reply(msg)  # what goes out if deciding fails or is cancelled
        try:
            try:
                decided = self.decide(msg)
            except PendingVerdict as pending:
                verdict = bool(await pending.awaitable)
                decided = self.decide(msg, curve_verdict=verdict)
            reply = decided if decided is not None else self._invalid(msg)
        except Exception:
            self.log.exception("zloop.auth: error handling a ZAP request")
        finally:
            self._send_reply(sock, reply)

    def _answer_blocking(self, sock: Any, msg: list[bytes]) -> None:
        reply = self.error_reply(msg)  # what goes out if the greenlet is killed while deciding
        try:
            reply = self.zap_reply(msg)
        finally:
            self._send_reply(sock, reply)

    # -- the serve loop -------------------------------------------------------------------------------

    async def _serve_async(self, wrapper: Any) -> None:
        """Serve until cancelled or the ZAP socket closes (``wrapper``: an awaitable adapter socket)."""
        raw = self.zap_socket
        while True:
            msg = await wrapper.recv_multipart()
            await self._answer_async(raw, msg)

    def _serve_blocking(self, wrapper: Any) -> None:
        """Serve until killed or the ZAP socket closes (``wrapper``: a green adapter socket)."""
        raw = self.zap_socket
        while True:
            msg = wrapper.recv_multipart()
            self._answer_blocking(raw, msg)
