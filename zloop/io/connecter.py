"""The connect side of tcp/ipc: make (and re-make) a session's connection, with libzmq's backoff.

Intervals (libzmq 4.3 ``stream_connecter_base``): with RECONNECT_IVL_MAX > 0 they double from
RECONNECT_IVL up to the max (no jitter); otherwise each is RECONNECT_IVL plus a random jitter in
[0, RECONNECT_IVL). RECONNECT_IVL <= 0: no retry (the endpoint stays idle, as libzmq). Events:
CONNECT_DELAYED (errno) for an in-progress connect, CONNECTED, CLOSED for a failed attempt's fd,
CONNECT_RETRIED (interval ms) when a retry is scheduled.

Closing (the session ends: socket closed, disconnect, linger over) closes a connect in progress
with its CLOSED event. A connecter counts as an event source of its socket from creation until
then (``zloop.io.engine.event_source``): a closed socket's MONITOR_STOPPED follows that CLOSED, as
in libzmq, whose connecter emits it in its own termination before the socket is destroyed.
"""

from __future__ import annotations

import errno
import logging
import random
import socket

from zloop import _real
from zloop.constants import Event
from zloop.io.endpoint import Endpoint
from zloop.io.engine import event_source
from zloop.io.reactor import IOThread, Timer
from zloop.io.session import Session
from zloop.io.sockopts import peer_ip, resolve_tcp, tune_socket
from zloop.options import Options

log = logging.getLogger("zloop")


class TransportConnecter:
    """Makes (and re-makes) the connection of a connect-side session in the I/O thread."""

    def __init__(
        self, io: IOThread, session: Session, endpoint: Endpoint, options: Options
    ) -> None:
        self._io = io
        self._session = session
        self._endpoint = endpoint
        self._name = str(endpoint)
        self._options = options
        self._core = session.socket
        self._sock: socket.socket | None = None
        self._timer: Timer | None = None
        self._connect_timer: Timer | None = None
        self._current_ivl = -1
        self._closed = False
        self._target: str | tuple[str, int] = ""
        event_source(self._core, 1)  # until close(): see the module docstring

    @property
    def connecting(self) -> bool:
        return self._sock is not None

    def start(self, wait: bool) -> None:
        if self._closed:
            return
        if wait:
            self._schedule_retry()
        else:
            self._attempt()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._cancel_timers()
        self._drop_socket(emit=True)
        event_source(self._core, -1)

    def _cancel_timers(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._connect_timer is not None:
            self._connect_timer.cancel()
            self._connect_timer = None

    def _drop_socket(self, emit: bool) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            fd = sock.fileno()
            self._io.remove_fd(fd)
            sock.close()
            if emit:
                self._core.event(Event.CLOSED, fd, self._name)

    def _next_interval(self) -> int:
        """libzmq 4.3 ``get_new_reconnect_ivl``."""
        ivl, ivl_max = self._options.reconnect_ivl, self._options.reconnect_ivl_max
        if ivl_max > 0:
            candidate = ivl if self._current_ivl == -1 else self._current_ivl * 2
            self._current_ivl = min(candidate, ivl_max)
            return self._current_ivl
        if self._current_ivl == -1:
            self._current_ivl = ivl
        return self._current_ivl + random.randrange(ivl)

    def _schedule_retry(self) -> None:
        if self._closed or self._options.reconnect_ivl <= 0:
            return  # no retries: the endpoint stays idle (libzmq)
        if not self._session.may_retry():
            return  # the session ended (a lingering one at interpreter exit)
        interval = self._next_interval()
        self._timer = self._io.call_later(interval / 1000, self._on_retry)
        self._core.event(Event.CONNECT_RETRIED, interval, self._name)

    def _on_retry(self) -> None:
        self._timer = None
        if not self._closed:
            self._attempt()

    def _open(self) -> socket.socket:
        endpoint = self._endpoint
        if endpoint.transport == "ipc":
            sock = _real.Socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self._target = endpoint.path or ""
        else:
            family, addr = resolve_tcp(endpoint, self._options, passive=False)
            sock = _real.Socket(family, socket.SOCK_STREAM)
            self._target = addr
        return sock

    def _attempt(self) -> None:
        try:
            sock = self._open()
        except OSError as exc:
            log.debug("zloop: cannot resolve %s: %s", self._name, exc)
            self._schedule_retry()
            return
        self._sock = sock
        try:
            sock.setblocking(False)
            tune_socket(sock, self._options)
            err = sock.connect_ex(self._target)
        except OSError as exc:
            err = exc.errno or errno.EINVAL
        if err == 0:
            self._connected()
        elif err in (errno.EINPROGRESS, errno.EAGAIN, errno.EWOULDBLOCK, errno.EINTR):
            self._core.event(Event.CONNECT_DELAYED, err, self._name)
            self._io.add_writer(sock.fileno(), self._on_writable)
            timeout = self._options.connect_timeout
            if timeout > 0:
                self._connect_timer = self._io.call_later(timeout / 1000, self._on_connect_timeout)
        else:
            self._failed()

    def _failed(self) -> None:
        self._cancel_timers()
        self._drop_socket(emit=True)
        self._schedule_retry()

    def _on_connect_timeout(self) -> None:
        self._connect_timer = None
        if self._sock is not None:
            self._failed()

    def _on_writable(self) -> None:
        sock = self._sock
        if sock is None:
            return
        err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err in (errno.EINPROGRESS, errno.EAGAIN):
            return  # spurious
        self._io.remove_writer(sock.fileno())
        if err:
            self._failed()
        else:
            self._connected()

    def _connected(self) -> None:
        sock = self._sock
        assert sock is not None
        self._sock = None
        self._cancel_timers()
        self._current_ivl = -1
        self._io.remove_fd(sock.fileno())
        self._core.event(Event.CONNECTED, sock.fileno(), self._name)
        self._session.attach_socket(sock, peer_ip(sock))
