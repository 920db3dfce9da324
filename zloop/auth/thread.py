"""``ThreadAuthenticator``: the ZAP handler in a background thread (as ``zmq.auth.thread``).

``start()`` binds the ZAP socket in the caller's thread -- so every server created afterwards finds
a handler -- and hands it to a daemon thread that polls it together with an inproc PAIR used only
to stop. Policy changes (``allow``, ``configure_plain``...) may be made at any time from any thread;
they apply to the next request.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
from typing import Any

from zloop import _real
from zloop.auth.base import Authenticator
from zloop.constants import Errno
from zloop.errors import Again, ContextTerminated, ZMQError

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

    def __enter__(self) -> ThreadAuthenticator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the authenticator is already running")
        super().start()
        name = f"inproc://zloop.auth.thread-{id(self):x}-{next(_ids)}"
        rx = self._socket(_PAIR)
        rx.bind(name)
        tx = self._socket(_PAIR)
        tx.connect(name)
        self._stop_rx, self._stop_tx = rx, tx
        # A real OS thread even under gevent's patch_all (zloop._real): a green one would not
        # answer a handshake while the application blocks in a plain (non-green) call.
        self._thread = _real.Thread(self._run, "zloop-auth")
        self._thread.start()

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self) -> None:
        """Stop the thread, close its sockets and unbind the ZAP endpoint."""
        thread = self._thread
        if thread is None:
            return
        # If the context is being terminated (or was destroyed) the send fails and the thread
        # ends by itself, on ContextTerminated or its closed sockets (see _run).
        with contextlib.suppress(ZMQError):
            self._stop_tx.send(b"TERMINATE")
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
                        self.handle_zap_message(msg)
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
