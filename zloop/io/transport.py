"""tcp and ipc transports: listeners (bind), connecters with reconnect backoff (connect).

``bind`` runs in the caller's thread so that address errors (EADDRINUSE ...) raise at once, then
hands the listening socket to the I/O thread, which accepts and runs one bind-side session per
connection. ``connect`` creates the connect-side session (and, without IMMEDIATE, the pipe, so
messages queue before any peer exists); the I/O thread then makes the connection, retrying with
RECONNECT_IVL / RECONNECT_IVL_MAX as libzmq 4.3 does:

* RECONNECT_IVL_MAX > 0: intervals ivl, 2*ivl, 4*ivl ... capped at the max (no jitter);
* otherwise: ivl plus a random jitter in [0, ivl);
* RECONNECT_IVL <= 0: no retries (the endpoint stays idle after a failure, as in libzmq).

Monitor events follow libzmq: LISTENING / BIND_FAILED at bind, ACCEPTED / ACCEPT_FAILED per accept,
CONNECT_DELAYED (errno) for an in-progress connect, CONNECTED, CLOSED for a failed attempt's fd,
CONNECT_RETRIED (interval ms) when a retry is scheduled, CLOSED for a closed listener. A listener
counts as an event source of its socket (``zloop.io.engine.event_source``) until its CLOSED is out,
so a closed socket's MONITOR_STOPPED comes after it, whatever the bounded wait in ``close`` saw.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import socket
import stat
import tempfile

from zloop import _real
from zloop.constants import Event
from zloop.errors import ZMQError
from zloop.io.connecter import TransportConnecter
from zloop.io.endpoint import Endpoint
from zloop.io.engine import event_source
from zloop.io.interfaces import SocketCore
from zloop.io.logs import limited
from zloop.io.reactor import IOThread, Timer
from zloop.io.session import Session
from zloop.io.sockopts import format_tcp, peer_ip, resolve_tcp, tune_socket
from zloop.options import Options
from zloop.pipe import Pipe

#: Connections accepted per readable event before going back to the selector.
ACCEPT_BATCH = 64
#: Pause before accepting again after running out of fds (avoids a hot loop on EMFILE).
ACCEPT_PAUSE_S = 0.1
#: How long a thread closing a listener waits for the I/O thread to release the address.
CLOSE_WAIT_S = 5.0

_RESOURCE_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


# -- bind ----------------------------------------------------------------------------------------


class BoundEndpoint:
    """A listening socket served by an I/O thread, and the sessions of the connections it accepted."""

    def __init__(
        self,
        io: IOThread,
        socket_core: SocketCore,
        options: Options,
        lsock: socket.socket,
        last_endpoint: str,
        *,
        ipc_path: str | None = None,
        tmp_dir: str | None = None,
    ) -> None:
        self.last_endpoint = last_endpoint
        self._io = io
        self._core = socket_core
        self._options = options
        self._lsock = lsock
        self._fd = lsock.fileno()
        self._ipc_path = ipc_path
        self._tmp_dir = tmp_dir
        self._sessions: set[Session] = set()
        self._closed = False
        self._released = _real.Event()
        self._pause: Timer | None = None
        event_source(socket_core, 1)  # until _close emitted CLOSED (before MONITOR_STOPPED)

    def __repr__(self) -> str:
        return f"<BoundEndpoint {self.last_endpoint}>"

    def close(self, linger_ms: int) -> None:
        """Thread-safe (unbind/close): stop accepting, end its sessions after ``linger_ms``.

        From another thread this waits until the address is released, so an immediate re-bind of
        the same address works.
        """
        io = self._io
        if io.in_io_thread():
            self._close(linger_ms)
            return
        io.post(lambda: self._close(linger_ms))
        if io.is_running():
            self._released.wait(CLOSE_WAIT_S)

    @property
    def core(self) -> SocketCore:
        return self._core

    def io_stop(self) -> None:
        self._close(self._options.linger)

    def io_exit(self) -> None:
        pass  # its sessions decide for themselves

    def _plug(self) -> None:
        if self._closed:
            return
        self._io.register(self)
        self._io.add_reader(self._fd, self._on_accept)

    def _close(self, linger_ms: int) -> None:
        if not self._closed:
            self._closed = True
            if self._pause is not None:
                self._pause.cancel()
            self._io.remove_fd(self._fd)
            self._lsock.close()
            self._core.event(Event.CLOSED, self._fd, self.last_endpoint)
            if self._ipc_path and not self._ipc_path.startswith("\0"):
                with contextlib.suppress(OSError):
                    os.unlink(self._ipc_path)
            if self._tmp_dir:
                shutil.rmtree(self._tmp_dir, ignore_errors=True)
            self._io.unregister(self)
            self._released.set()
            event_source(self._core, -1)
        for session in list(self._sessions):
            session.terminate(linger_ms)

    def _resume(self) -> None:
        self._pause = None
        if not self._closed:
            self._io.add_reader(self._fd, self._on_accept)

    def _on_accept(self) -> None:
        io = self._io
        for _ in range(ACCEPT_BATCH):
            if self._closed:
                return
            try:
                sock, _ = _real.accept(self._lsock)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                err = exc.errno or errno.EIO
                self._core.event(Event.ACCEPT_FAILED, err, self.last_endpoint)
                if err in _RESOURCE_ERRNOS:
                    limited(
                        "accept failed",
                        logging.WARNING,
                        "zloop: accept on %s failed: %s; pausing",
                        self.last_endpoint,
                        exc,
                    )
                    io.remove_reader(self._fd)
                    self._pause = io.call_later(ACCEPT_PAUSE_S, self._resume)
                return
            try:
                sock.setblocking(False)
                tune_socket(sock, self._options)
            except OSError as exc:
                sock.close()
                self._core.event(Event.ACCEPT_FAILED, exc.errno or errno.EIO, self.last_endpoint)
                continue
            self._core.event(Event.ACCEPTED, sock.fileno(), self.last_endpoint)
            session = Session(
                io,
                self._core,
                self._options,
                self.last_endpoint,
                connect=False,
                on_done=self._sessions.discard,
            )
            self._sessions.add(session)
            session.start()
            session.attach_socket(sock, peer_ip(sock))


def bind(io: IOThread, socket: SocketCore, endpoint: Endpoint, options: Options) -> BoundEndpoint:
    """Bind synchronously in the caller's thread (errors raise here), then serve it from ``io``."""
    if endpoint.transport == "tcp":
        bound = _bind_tcp(io, socket, endpoint, options)
    elif endpoint.transport == "ipc":
        bound = _bind_ipc(io, socket, endpoint, options)
    else:
        raise ZMQError(
            errno.EPROTONOSUPPORT,
            f"transport {endpoint.transport!r} is not served by the I/O thread",
        )
    socket.event(Event.LISTENING, bound._fd, bound.last_endpoint)
    io.post(bound._plug)
    return bound


def _bind_failed(core: SocketCore, endpoint: Endpoint, exc: OSError) -> ZMQError:
    err = exc.errno or errno.EINVAL
    core.event(Event.BIND_FAILED, err, str(endpoint))
    return ZMQError(err, f"cannot bind {endpoint}: {exc.strerror or exc}")


def _bind_tcp(
    io: IOThread, core: SocketCore, endpoint: Endpoint, options: Options
) -> BoundEndpoint:
    try:
        family, addr = resolve_tcp(endpoint, options, passive=True)
    except OSError as exc:
        core.event(Event.BIND_FAILED, errno.ENODEV, str(endpoint))
        raise ZMQError(
            errno.ENODEV, f"cannot bind {endpoint}: no such local address ({exc})"
        ) from None
    lsock = _real.Socket(family, socket.SOCK_STREAM)
    try:
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            lsock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        tune_socket(lsock, options)
        lsock.bind(addr)
        lsock.listen(options.backlog)
        lsock.setblocking(False)
    except OSError as exc:
        lsock.close()
        raise _bind_failed(core, endpoint, exc) from None
    host, port = lsock.getsockname()[:2]
    return BoundEndpoint(io, core, options, lsock, format_tcp(host, port))


def _ipc_in_use(path: str) -> bool:
    """Is something listening at ``path``? A stale socket file (refused) is not in use."""
    probe = _real.Socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except OSError:
        return False
    finally:
        probe.close()
    return True


def _bind_ipc(
    io: IOThread, core: SocketCore, endpoint: Endpoint, options: Options
) -> BoundEndpoint:
    path = endpoint.path or ""
    tmp_dir = None
    if path == "*":
        tmp_dir = tempfile.mkdtemp(prefix="zloop-")
        path = os.path.join(tmp_dir, "socket")
    elif not path.startswith("\0"):
        try:
            mode = os.stat(path).st_mode
        except FileNotFoundError:
            mode = None
        except OSError as exc:
            raise _bind_failed(core, endpoint, exc) from None
        if mode is not None:
            if not stat.S_ISSOCK(mode) or _ipc_in_use(path):
                raise _bind_failed(
                    core, endpoint, OSError(errno.EADDRINUSE, "Address already in use")
                )
            with contextlib.suppress(OSError):
                os.unlink(path)  # stale socket file: nothing listens there
    lsock = _real.Socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        tune_socket(lsock, options)
        lsock.bind(path)
        lsock.listen(options.backlog)
        lsock.setblocking(False)
    except OSError as exc:
        lsock.close()
        if tmp_dir:
            shutil.rmtree(tmp_dir, ignore_errors=True)
        raise _bind_failed(core, endpoint, exc) from None
    shown = "@" + path[1:] if path.startswith("\0") else path
    return BoundEndpoint(io, core, options, lsock, "ipc://" + shown, ipc_path=path, tmp_dir=tmp_dir)


# -- connect -------------------------------------------------------------------------------------


class ConnectedEndpoint:
    """The connect side of one endpoint: a session that (re)connects."""

    def __init__(self, io: IOThread, session: Session) -> None:
        self._io = io
        self.session = session

    def __repr__(self) -> str:
        return f"<ConnectedEndpoint {self.session.endpoint}>"

    def owns(self, pipe: Pipe) -> bool:
        """Is ``pipe`` (a socket-side end) one of this endpoint's? (socket thread; a pipe's peer
        and its owner never change once made)"""
        return pipe.peer.owner is self.session

    def close(self, linger_ms: int) -> None:
        """Thread-safe (disconnect/close): end the session after ``linger_ms``."""
        session = self.session
        if self._io.in_io_thread():
            session.terminate(linger_ms)
        else:
            self._io.post(lambda: session.terminate(linger_ms))


def connect(
    io: IOThread, socket: SocketCore, endpoint: Endpoint, options: Options
) -> tuple[ConnectedEndpoint, Pipe | None]:
    """Create the connect-side session (and its pipe unless IMMEDIATE); connecting happens in ``io``."""
    if endpoint.transport not in ("tcp", "ipc"):
        raise ZMQError(
            errno.EPROTONOSUPPORT,
            f"transport {endpoint.transport!r} is not served by the I/O thread",
        )
    session = Session(io, socket, options, str(endpoint), connect=True)
    sock_end = None if options.immediate else session.make_pipe()
    session.connecter = TransportConnecter(io, session, endpoint, options)
    io.post(session.start)
    return ConnectedEndpoint(io, session), sock_end
