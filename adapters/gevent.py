"""gevent support, like ``zmq.green``: blocking calls that block only the calling greenlet.

::

    import gevent, zloop
    from zloop.adapters import gevent as zgreen

    ctx = zgreen.Context()                 # or zgreen.Context.shadow(zloop_or_pyzmq_context)
    rep = ctx.socket(zloop.REP)
    rep.bind("tcp://127.0.0.1:5555")
    gevent.spawn(lambda: [rep.send(rep.recv()) for _ in iter(int, 1)])

* :class:`Context`, :class:`Socket` (``Socket.from_socket(existing)`` wraps a zloop **or pyzmq**
  socket), :class:`Poller` and :func:`poll`, with the blocking API of ``zmq.Socket``:
  ``send / recv / send_multipart / recv_multipart / poll`` and the conveniences ``send_string /
  recv_string / send_json / recv_json / send_pyobj / recv_pyobj / send_serialized / recv_serialized``
  (with the ``_unicode`` aliases, pyzmq's signatures). ``NOBLOCK`` raises ``Again`` at once, as usual.
* A blocked call parks its greenlet on a ``gevent.hub.Waiter``; the socket's FD is watched by one
  hub ``io`` watcher (read interest) while anybody waits, and the shared core
  (:mod:`zloop.adapters._core`) serves waiters in FIFO order, re-reading ``EVENTS`` after every
  operation. Thousands of greenlets may block on one socket or on thousands of sockets.
* **Reading the connection in the hub.** While a greenlet waits to receive on a zloop socket whose
  one pipe leads to a tcp/ipc connection, the hub watches that connection's fd too and reads and
  decodes it itself (the blocking ``recv``'s read in the application thread, see "Reads in the
  application thread" in ``zloop/io/engine.py``): the I/O thread does not read, deliver and signal
  the socket's FD for each message. The I/O thread stops watching the fd (parks it) only while the
  greenlet waits, and gets it back when the wait ends, however it ends (message, timeout, kill,
  close); a connection the I/O thread ends meanwhile keeps its fd open until then, so the hub never
  watches a closed fd, nor one whose number was reused. A hub that stops running while it holds
  the connection (a greenlet that computes, a raw blocking call such as a plain zloop or pyzmq
  ``send`` from a greenlet) does not hold back the peer: the I/O thread reads the connection again
  once it has stayed readable and unread for 100-200 ms ("Parked fds" in ``zloop/io/reactor.py``),
  and a handshake in progress is never parked. Large bodies (``DIRECT_MIN``, 128 KiB, or more still to
  come) are left to the I/O thread, which reads them straight into their own buffers: after one,
  the socket's next 64 waits do not park the fd; a shorter rest (a 64 KiB stream) the hub reads.
* **No timers.** zmq.green keeps a rescue poll (an 11.6 s timeout) in case an edge was missed; here a
  blocked call creates no timer at all (a test proves it). The only timers are the ones the user
  asks for: ``RCVTIMEO`` / ``SNDTIMEO`` (raise ``Again``), ``poll(timeout)``, ``gevent.Timeout``.
* Interrupting a blocked call (``gevent.Timeout``, ``Greenlet.kill``) takes nothing from the socket:
  the queued operation is removed, or — if the hub had already performed it for this greenlet — a
  received message goes back to the core's push-back buffer and the next recv gets it whole; a
  ``send_multipart`` is sent whole or not at all.

Greenlets are resumed *after* the refresh that completed them (a hub callback runs the refresh,
then switches to each completed greenlet in order), so user code never runs inside the core.
"""

from __future__ import annotations

import select
import weakref
from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Literal, overload

from zloop._extras import MissingExtraError

try:
    import gevent  # type: ignore[import-untyped]
    import gevent.hub  # type: ignore[import-untyped]
    from gevent.hub import Waiter as _HubWaiter
except ModuleNotFoundError as exc:
    raise MissingExtraError(__name__, "gevent", "gevent", exc) from exc

from zloop.io.engine import AFTER_LARGE_READ, APP_READ_BUSY, APP_READ_EMPTY, APP_READ_WOKE
from zloop.socket import _app_read_buffer

from ._core import NOT_READY, POLLIN, POLLOUT, Op, Pending, Watcher, is_again
from ._wrapper import GroupWaiter as _AnyWaiter
from ._wrapper import PollerItems, SocketWrapper, SyncConveniences

if TYPE_CHECKING:
    from zloop.message import Frame
    from zloop.tracker import MessageTracker

__all__ = ["Context", "GeventBackend", "Poller", "Socket", "poll"]

NOBLOCK = 1
_FD = 14
_RCVTIMEO = 27
_SNDTIMEO = 28


class _GreenWaiter:
    """A core ``Waiter`` for one blocked greenlet. Completion is recorded; the backend switches.

    The outcome travels in this object, not as the argument of the hub's switch: the hub's frame
    (``GeventBackend._flush``, and the hub ``Waiter.switch`` under it) stays suspended in that call
    until the greenlet blocks again, so a value passed through it stayed alive while the greenlet
    took the next one -- two 1 MiB messages at once, the allocator handing fresh pages back and
    forth (about 80 minor faults per 1 MiB message). :meth:`get` takes the value out of here."""

    __slots__ = ("_done", "_exc", "_value", "backend", "hub_waiter")

    def __init__(self, backend: GeventBackend) -> None:
        self.backend = backend
        self.hub_waiter = _HubWaiter(backend.hub)
        self._done = False
        self._value: Any = None
        self._exc: BaseException | None = None

    def done(self) -> bool:
        return self._done

    def set_result(self, value: Any, /) -> None:
        self._done = True
        self._value = value
        self.backend._wake(self)

    def set_exception(self, exc: BaseException, /) -> None:
        self._done = True
        self._exc = exc
        self.backend._wake(self)

    def get(self) -> Any:
        """Park the calling greenlet until completed: the value, or raise the exception."""
        self.hub_waiter.get()
        return self.take()

    def take(self) -> Any:
        """The outcome, let go of here (an interrupted wait calls it to drop a value it reclaims)."""
        value, self._value = self._value, None
        exc, self._exc = self._exc, None
        if exc is not None:
            raise exc
        return value


class GeventBackend:
    """The core's :class:`~zloop.adapters._core.Backend` for one gevent hub (one per thread).

    Every callback it runs in the hub (fd readable, ``call_soon``) is followed by switching to the
    greenlets that callback completed, in completion order.
    """

    def __init__(self, hub: Any) -> None:
        self.hub = hub
        self._io: dict[int, Any] = {}
        self._ready: deque[_GreenWaiter] = deque()
        self._running = False
        self._flush_scheduled = False
        self.watchers: dict[int, Watcher] = {}
        #: The connection readers of waiting receives, by the socket's FD (see _ConnReader).
        self.readers: dict[int, _ConnReader] = {}
        #: Waits left to the I/O thread after a large body, by the socket's FD (see _ConnReader).
        self.read_skips: dict[int, int] = {}

    # -- Backend -------------------------------------------------------------------------------------

    def add_reader(self, fd: int, callback: Callable[[], None], /) -> None:
        # One io watcher per fd, started and stopped as the core arms and disarms, closed only by
        # forget() (socket closed or released): no watcher object (and, on the libuv loop, no
        # poll handle) is created and closed again for every wait.
        """Call ``callback()`` from the loop whenever ``fd`` is readable, until :meth:`remove_reader`.

        Part of the core's ``Backend`` protocol (see :mod:`zloop.adapters._core`): the fd is watched by
        a gevent ``io`` watcher of the hub's loop (one per fd, reused).

        Args:
            fd: The socket's ``FD``.
            callback: Called without arguments, in the loop's thread.
        """
        watcher = self._io.get(fd)
        if watcher is None:
            watcher = self._io[fd] = self.hub.loop.io(fd, 1)
        watcher.start(self._run, callback)

    def remove_reader(self, fd: int, /) -> None:
        """Stop watching ``fd`` (harmless if it is not watched, or was closed meanwhile).

        Args:
            fd: The fd given to :meth:`add_reader`.
        """
        watcher = self._io.get(fd)
        if watcher is not None:
            watcher.stop()

    def forget(self, fd: int) -> None:
        """The socket behind ``fd`` is being closed or released: close its io watcher now (and
        give its connection back to the I/O thread if the hub reads it, see _ConnReader)."""
        reader = self.readers.pop(fd, None)
        if reader is not None:
            reader.stop()
        self.read_skips.pop(fd, None)
        watcher = self._io.pop(fd, None)
        if watcher is not None:
            watcher.stop()
            watcher.close()

    def call_soon(self, callback: Callable[[], None], /) -> None:
        """Run ``callback()`` soon from the hub's loop (``run_callback``), never before this call returns.

        Args:
            callback: Called without arguments, in the loop's thread.
        """
        self.hub.loop.run_callback(self._run, callback)

    def create_waiter(self) -> _GreenWaiter:
        """A new waiter for the current task, which the core completes with the operation's outcome.

        Returns:
            A ``Waiter`` (see :mod:`zloop.adapters._core`).
        """
        return _GreenWaiter(self)

    # -- resuming greenlets --------------------------------------------------------------------------

    def _run(self, callback: Callable[[], None]) -> None:
        self._running = True
        try:
            callback()
        finally:
            self._running = False
            self._flush()

    def _wake(self, waiter: _GreenWaiter) -> None:
        self._ready.append(waiter)
        if not self._running and not self._flush_scheduled:
            # Completed outside a hub callback (e.g. close() in a greenlet): resume from the hub.
            self._flush_scheduled = True
            self.hub.loop.run_callback(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        ready = self._ready
        while ready:
            # The greenlet takes its outcome from the waiter (see _GreenWaiter): this frame,
            # suspended here until the hub runs again, holds no reference to it.
            ready.popleft().hub_waiter.switch(None)


_backends: weakref.WeakKeyDictionary[Any, GeventBackend] = weakref.WeakKeyDictionary()


def backend() -> GeventBackend:
    """The backend of this thread's hub."""
    hub = gevent.get_hub()
    b = _backends.get(hub)
    if b is None:
        b = _backends[hub] = GeventBackend(hub)
    return b


def _watcher_for(sock: Any) -> Watcher:
    """The one watcher of ``sock`` in this thread (shared by every wrapper of that socket)."""
    b = backend()
    fd = int(sock.getsockopt(_FD))
    w = b.watchers.get(fd)
    if w is None or w.socket is not sock or w.closed:
        if w is not None and w.socket is not sock:
            # The fd number was reused: the previous socket was closed behind our back.
            w.close()
            b.forget(fd)
        w = Watcher(sock, b)
        b.watchers[fd] = w
    return w


def _block(w: Watcher, pending: Pending, waiter: _GreenWaiter, timeout: float | None) -> Any:
    """Park the greenlet until ``pending`` completes; ``Again``-like ``timeout`` (s) if asked for."""
    timer = None
    if timeout is not None:
        timer = gevent.Timeout.start_new(timeout)
    try:
        return waiter.get()
    except BaseException as exc:
        waiter._done = True
        w.cancel(pending)
        waiter._value = None  # completed meanwhile: cancel() gave the value back to the socket
        if timer is not None and exc is timer:
            return NOT_READY
        raise
    finally:
        if timer is not None:
            timer.close()


#: After a large frame, this many of the socket's waits leave the reading to the I/O thread: it
#: reads large bodies straight into their own buffers, while the hub's read gives up at once
#: (``APP_READ_BUSY``) and parking the fd for it costs two epoll_ctl each way.
_SKIP_AFTER_LARGE = 64


class _ConnReader:
    """The hub reads a waiting receive's connection itself (see "Reading the connection in the
    hub" above): the engine's fd is parked (the I/O thread does not watch it) and an ``io``
    watcher of the hub calls :meth:`_readable`, which reads and decodes into the socket's pipe
    (``StreamEngine.app_read``), then refreshes the core's watcher, which serves the queued
    receives as if the socket's FD had fired. The socket's FD stays watched by the core as
    always: anything the I/O thread still delivers (control frames, a large body, an end of
    stream, a second peer) comes that way, so reading here only ever saves a hop.

    The park outlives a wait until the hub next runs its callbacks (:meth:`done`): a greenlet
    that receives again before it yields (a request-reply loop) keeps the fd, and the I/O thread
    does not race it for a reply that comes back while it is still sending. A greenlet that
    receives with ``NOBLOCK``, or looks at ``EVENTS``, in that window reads the connection
    itself first (:meth:`catch_up`), so it sees what the I/O thread would have delivered.

    Large bodies are the I/O thread's: a read here that begins one with ``DIRECT_MIN`` or more to
    come, or finds one in progress or just finished, gives the fd back and leaves the socket's next ``_SKIP_AFTER_LARGE`` waits to
    the I/O thread (``GeventBackend.read_skips``), so a stream of large messages is not parked and
    unparked for reads that give up at once."""

    __slots__ = ("_engine", "_idle_scheduled", "_io", "_pipe", "_token", "_watcher", "waiters")

    def __init__(self, w: Watcher, engine: Any, pipe: Any, token: object) -> None:
        self._watcher = w
        self._engine = engine
        self._pipe = pipe
        self._token: object | None = token
        self._idle_scheduled = False
        #: Greenlets waiting on a receive of this socket that started or joined this reader.
        self.waiters = 1
        b: GeventBackend = w.backend  # type: ignore[assignment]
        # One watcher per park, closed before the fd is unparked (and so before the engine may
        # close it): a loop's watcher never outlives the fd it watches (libuv requires this).
        self._io = b.hub.loop.io(engine.fd, 1)
        self._io.start(b._run, self._readable)

    @classmethod
    def start(cls, w: Watcher) -> _ConnReader | None:
        """Read the socket's connection in the hub while the caller waits, if that is possible
        now (a zloop socket with one pipe, to an idle tcp/ipc connection); None otherwise (the
        wait is served through the socket's FD only). Joins the socket's reader if it has one."""
        b: GeventBackend = w.backend  # type: ignore[assignment]
        reader = b.readers.get(w.fd)
        if reader is not None:
            reader.waiters += 1
            return reader
        skips = b.read_skips
        if skips:
            left = skips.get(w.fd, 0)
            if left > 0:
                skips[w.fd] = left - 1
                return None
        target = getattr(w.socket, "_app_reader", None)
        found = target() if target is not None else None
        if found is None:
            return None
        engine, pipe = found
        if engine._read_size == AFTER_LARGE_READ:  # the I/O thread just read a large body
            skips[w.fd] = _SKIP_AFTER_LARGE
            return None
        token = engine.park()
        if token is None:
            return None
        try:
            reader = b.readers[w.fd] = cls(w, engine, pipe, token)
        except BaseException:
            engine.unpark(token)
            raise
        return reader

    @staticmethod
    def catch_up(w: Watcher) -> bool:
        """Before a non-blocking look at the socket: if the hub holds its connection parked, read
        what the kernel has (the I/O thread would have). True when something was read."""
        reader = w.backend.readers.get(w.fd)  # type: ignore[attr-defined]
        return reader is not None and reader._read(refresh=False)

    def _readable(self) -> None:
        """Hub callback (inside ``GeventBackend._run``): the connection's fd is readable."""
        self._read(refresh=True)

    def _read(self, refresh: bool) -> bool:
        if self._token is None:
            return False
        got = self._engine.app_read(_app_read_buffer(), self._pipe)
        if got == APP_READ_EMPTY:
            return False
        engine = self._engine
        if got == APP_READ_BUSY:
            # Not for this thread now: give the fd back; the I/O thread reads it and signals the
            # socket's FD as usual. After a large body the next waits leave it to the I/O thread
            # too; anything else (the I/O thread reading at that moment, a control frame, the
            # end) concerns this read only.
            if engine.reads_body_directly() or engine._read_size == AFTER_LARGE_READ:
                self._give_back()
            else:
                self.stop()
            return False
        if got == APP_READ_WOKE:
            self._pipe._process_activate_read()  # what the flush's command would have done
        if engine.reads_body_directly():
            # The read began a large body with DIRECT_MIN or more to come: that rest goes
            # straight into the frame's own buffer, which only the I/O thread reads into
            # (app_read would answer BUSY next). A shorter rest the hub reads itself.
            self._give_back()
        if refresh:
            self._watcher.refresh()
        return True

    def _give_back(self) -> None:
        w = self._watcher
        w.backend.read_skips[w.fd] = _SKIP_AFTER_LARGE  # type: ignore[attr-defined]
        self.stop()

    def done(self) -> None:
        """A waiter's wait ended: unpark once the hub runs its callbacks, unless a greenlet waits
        again by then."""
        self.waiters -= 1
        if self.waiters <= 0 and self._token is not None and not self._idle_scheduled:
            self._idle_scheduled = True
            self._watcher.backend.hub.loop.run_callback(self._idle)  # type: ignore[attr-defined]

    def _idle(self) -> None:
        self._idle_scheduled = False
        if self.waiters <= 0:
            self.stop()

    def stop(self) -> None:
        """Stop reading here: close the watcher, give the fd back to the I/O thread (unpark)."""
        token, self._token = self._token, None
        if token is None:
            return
        io = self._io
        io.stop()
        io.close()
        b: GeventBackend = self._watcher.backend  # type: ignore[assignment]
        if b.readers.get(self._watcher.fd) is self:
            del b.readers[self._watcher.fd]
        self._engine.unpark(token)


class Socket(SyncConveniences, SocketWrapper, adapter="gevent"):
    """A green socket over a zloop or pyzmq socket. Other attributes are the wrapped socket's.

    ``send_string`` ... ``recv_pyobj``, ``from_socket``, ``getsockopt``/``EVENTS``: see
    :mod:`zloop.adapters._wrapper`; the blocking operations are below."""

    _w: Watcher | None
    _b: GeventBackend | None

    def __init__(self, sock: Any) -> None:
        super().__init__(sock)
        self._w = None
        self._b = None

    def _watcher(self) -> Watcher:
        w = self._w
        if w is not None and not w.closed and self._b is _backends.get(gevent.get_hub()):
            return w
        if self._sock.closed:
            raise self._zmod.ZMQError(self._zmod.ENOTSOCK, "socket is closed")
        w = self._w = _watcher_for(self._sock)
        self._b = w.backend  # type: ignore[assignment]
        return w

    def _watched_events(self) -> int | None:
        if self._sock.closed:
            return None
        w = self._watcher()
        if w.backend.readers:  # type: ignore[attr-defined]
            _ConnReader.catch_up(w)
        return w.events()

    # -- the one pattern ---------------------------------------------------------------------------

    def _op(self, op: Op, flags: int, timeout_opt: int) -> Any:
        w = self._watcher()
        if flags & NOBLOCK:
            if op.is_recv and w.backend.readers:  # type: ignore[attr-defined]
                try:
                    return w.now(op)
                except Exception as exc:
                    if not (is_again(exc) and _ConnReader.catch_up(w)):
                        raise
            return w.now(op)
        value = w.attempt(op)
        if value is not NOT_READY:
            return value
        timeout_ms = self._sock.getsockopt(timeout_opt)
        waiter = _GreenWaiter(w.backend)  # type: ignore[arg-type]
        pending = w.wait(op, waiter)
        reader = _ConnReader.start(w) if op.is_recv else None
        try:
            value = _block(w, pending, waiter, timeout_ms / 1000 if timeout_ms >= 0 else None)
        finally:
            if reader is not None:
                reader.done()
        if value is NOT_READY:
            raise self._zmod.Again()
        return value

    def send(
        self, data: Any, flags: int = 0, copy: bool = True, track: bool = False
    ) -> MessageTracker | None:
        """Send one frame, blocking only the calling greenlet while the socket cannot take it.

        Args:
            data: bytes, a buffer or a Frame, as for :meth:`zloop.Socket.send`.
            flags: ``NOBLOCK`` (raise ``Again`` at once instead of waiting) and/or ``SNDMORE``.
            copy: As for :meth:`zloop.Socket.send`.
            track: As for :meth:`zloop.Socket.send`.

        Returns:
            What the wrapped socket's ``send`` returns (a ``MessageTracker`` with ``copy=False``).

        Raises:
            Again: With ``NOBLOCK``, or when SNDTIMEO expires.
        """
        tracker: MessageTracker | None = self._op(
            Op.send(data, flags, copy, track), flags, _SNDTIMEO
        )
        return tracker

    def send_multipart(
        self, msg_parts: Iterable[Any], flags: int = 0, copy: bool = True, track: bool = False
    ) -> MessageTracker | None:
        """Send a whole message, blocking only the calling greenlet; all frames go, or none.

        Args:
            msg_parts: The frames.
            flags: ``NOBLOCK`` and/or ``SNDMORE``.
            copy: As for :meth:`zloop.Socket.send_multipart`.
            track: As for :meth:`zloop.Socket.send_multipart`.

        Returns:
            What the wrapped socket's ``send_multipart`` returns.

        Raises:
            Again: With ``NOBLOCK``, or when SNDTIMEO expires.
        """
        tracker: MessageTracker | None = self._op(
            Op.send_multipart(msg_parts, flags, copy, track), flags, _SNDTIMEO
        )
        return tracker

    @overload
    def recv(self, flags: int = 0, copy: Literal[True] = True, track: bool = False) -> bytes: ...

    @overload
    def recv(self, flags: int = 0, *, copy: Literal[False], track: bool = False) -> Frame: ...

    @overload
    def recv(self, flags: int, copy: Literal[False], track: bool = False) -> Frame: ...

    @overload
    def recv(self, flags: int = 0, copy: bool = True, track: bool = False) -> bytes | Frame: ...

    def recv(self, flags: int = 0, copy: bool = True, track: bool = False) -> Any:
        """Receive one frame, blocking only the calling greenlet until one is there.

        A greenlet killed (or interrupted by ``gevent.Timeout``) while it waits takes no frame: the
        message stays for the next receive.

        Args:
            flags: ``NOBLOCK`` to raise ``Again`` instead of waiting.
            copy: False returns a Frame.
            track: As for :meth:`zloop.Socket.recv`.

        Returns:
            The frame's bytes, or a Frame with ``copy=False``.

        Raises:
            Again: With ``NOBLOCK``, or when RCVTIMEO expires.
        """
        return self._op(Op.recv(copy, track), flags, _RCVTIMEO)

    @overload
    def recv_multipart(
        self, flags: int = 0, copy: Literal[True] = True, track: bool = False
    ) -> list[bytes]: ...

    @overload
    def recv_multipart(
        self, flags: int = 0, *, copy: Literal[False], track: bool = False
    ) -> list[Frame]: ...

    @overload
    def recv_multipart(
        self, flags: int, copy: Literal[False], track: bool = False
    ) -> list[Frame]: ...

    @overload
    def recv_multipart(
        self, flags: int = 0, copy: bool = True, track: bool = False
    ) -> list[bytes] | list[Frame]: ...

    def recv_multipart(self, flags: int = 0, copy: bool = True, track: bool = False) -> list[Any]:
        """Receive a whole message, blocking only the calling greenlet (a killed greenlet takes none).

        Args:
            flags: ``NOBLOCK`` to raise ``Again`` instead of waiting.
            copy: False returns Frames.
            track: As for :meth:`zloop.Socket.recv_multipart`.

        Returns:
            The list of frames.

        Raises:
            Again: With ``NOBLOCK``, or when RCVTIMEO expires.
        """
        result: list[Any] = self._op(Op.recv_multipart(copy, track), flags, _RCVTIMEO)
        return result

    def poll(self, timeout: int | None = None, flags: int = POLLIN) -> int:
        """Events in ``flags`` that are ready, waiting up to ``timeout`` ms (None or -1: forever)."""
        w = self._watcher()
        if w.backend.readers:  # type: ignore[attr-defined]
            _ConnReader.catch_up(w)
        ev = w.poll_now(flags)
        if ev or timeout == 0:
            return ev
        waiter = _GreenWaiter(w.backend)  # type: ignore[arg-type]
        pending = w.wait_poll(flags, waiter)
        seconds = None if timeout is None or timeout < 0 else timeout / 1000
        result = _block(w, pending, waiter, seconds)
        return 0 if result is NOT_READY else int(result)

    # -- life cycle ---------------------------------------------------------------------------------

    def _release(self, why: str = "socket released while waiting") -> None:
        """Stop watching (blocked greenlets get ``ZMQError(ENOTSOCK)``) without closing the socket."""
        sock = self._sock
        self._w = None
        if sock.closed:
            return
        fd = int(sock.getsockopt(_FD))
        zmod = self._zmod
        for b in list(_backends.values()):
            w = b.watchers.get(fd)
            if w is not None and w.socket is sock:
                del b.watchers[fd]
                w.close(lambda: zmod.ZMQError(zmod.ENOTSOCK, why))
                b.forget(fd)

    def close(self, linger: int | None = None) -> None:
        """Wake blocked greenlets with ``ZMQError(ENOTSOCK)``, stop watching, close the socket."""
        if self._sock.closed:
            return
        self._release("socket closed while waiting")
        self._sock.close(linger=linger)


def _is_zmq_socket(item: Any) -> bool:
    return isinstance(item, Socket) or (
        hasattr(item, "getsockopt") and hasattr(item, "recv_multipart")
    )


def _fileno(item: Any) -> int:
    return item if isinstance(item, int) else int(item.fileno())


class Poller(PollerItems):
    """Like ``zmq.Poller`` for greenlets: zloop/pyzmq sockets (green or not) and plain fds / objects
    with ``fileno()``. ``poll(timeout)`` (ms; None or negative = forever) blocks only the greenlet and
    returns every registered item that is ready (level-triggered, like ``zmq_poll``)."""

    def __contains__(self, item: Any) -> bool:
        return id(item) in self._map

    def _ready_now(self) -> list[tuple[Any, int]]:
        ready: list[tuple[Any, int]] = []
        fds: list[tuple[Any, int]] = []
        for item, mask in self.sockets:
            if _is_zmq_socket(item):
                w = item._watcher() if isinstance(item, Socket) else _watcher_for(item)
                if w.backend.readers:  # type: ignore[attr-defined]
                    _ConnReader.catch_up(w)
                ev = w.poll_now(mask)
                if ev:
                    ready.append((item, ev))
            else:
                fds.append((item, mask))
        if fds:
            rlist = [_fileno(i) for i, m in fds if m & POLLIN]
            wlist = [_fileno(i) for i, m in fds if m & POLLOUT]
            r, wr, _ = select.select(rlist, wlist, [], 0)
            for item, _mask in fds:
                fd = _fileno(item)
                ev = (POLLIN if fd in r else 0) | (POLLOUT if fd in wr else 0)
                if ev:
                    ready.append((item, ev))
        return ready

    def poll(self, timeout: float | None = None) -> list[tuple[Any, int]]:
        """Wait until registered items are ready, blocking only the calling greenlet.

        Args:
            timeout: Milliseconds to wait at most; None or negative waits for ever, 0 does not wait.

        Returns:
            The ready ``(item, events)`` pairs (level-triggered: an item is reported while it is ready);
            an empty list on timeout.
        """
        ready = self._ready_now()
        if ready or timeout == 0 or not self.sockets:
            return ready
        b = backend()
        deadline = None
        if timeout is not None and timeout >= 0:
            deadline = b.hub.loop.now() + timeout / 1000
        while True:
            group = _GreenWaiter(b)
            pendings: list[tuple[Watcher, Pending]] = []
            ios: list[Any] = []
            try:
                for item, mask in self.sockets:
                    if _is_zmq_socket(item):
                        w = item._watcher() if isinstance(item, Socket) else _watcher_for(item)
                        pendings.append((w, w.wait_poll(mask, _AnyWaiter(group))))
                    else:
                        io = b.hub.loop.io(_fileno(item), mask & (POLLIN | POLLOUT))
                        io.start(b._run, _wake_group(group))
                        ios.append(io)
                remaining = None if deadline is None else max(0.0, deadline - b.hub.loop.now())
                result = _block_group(pendings, group, remaining)
            finally:
                for io in ios:
                    io.stop()
                    io.close()
            ready = self._ready_now()
            if ready or result is NOT_READY:
                return ready


def _wake_group(group: _GreenWaiter) -> Callable[[], None]:
    def wake() -> None:
        if not group._done:
            group.set_result(None)

    return wake


def _block_group(
    pendings: list[tuple[Watcher, Pending]], group: _GreenWaiter, timeout: float | None
) -> Any:
    timer = None
    if timeout is not None:
        timer = gevent.Timeout.start_new(timeout)
    try:
        return group.get()
    except BaseException as exc:
        if timer is not None and exc is timer:
            return NOT_READY
        raise
    finally:
        group._done = True
        for w, p in pendings:
            w.cancel(p)
        if timer is not None:
            timer.close()


def poll(sockets: Iterable[tuple[Any, int]], timeout: float | None = None) -> list[tuple[Any, int]]:
    """``zmq.poll`` for greenlets: ``[(socket_or_fd, flags), ...]`` -> ready ``(item, events)``."""
    poller = Poller()
    for item, flags in sockets:
        poller.register(item, flags)
    return poller.poll(timeout)


class Context:
    """A context whose ``socket()`` returns green :class:`Socket`\\ s. Creates a zloop context by
    default; ``Context.shadow(ctx)`` wraps an existing zloop or pyzmq context."""

    _instance: Context | None = None

    def __init__(self, io_threads: int = 1, *, context: Any = None) -> None:
        if context is None:
            import zloop

            context = zloop.Context(io_threads)
        self._ctx = context
        self._sockets: weakref.WeakSet[Socket] = weakref.WeakSet()

    @classmethod
    def shadow(cls, context: Any) -> Context:
        """Wrap an existing context, whose sockets this wrapper then makes green sockets of.

        Args:
            context: A zloop or pyzmq context (or a wrapper of one).

        Returns:
            The new wrapper; the wrapped context is not copied, and destroying either destroys both.
        """
        return cls(context=context)

    @classmethod
    def instance(cls, io_threads: int = 1) -> Context:
        """The process-wide green context, made on first use (and again after it was closed).

        Args:
            io_threads: The I/O threads of a context made now.

        Returns:
            The shared :class:`Context`.
        """
        if cls._instance is None or cls._instance.closed:
            cls._instance = cls(io_threads)
        return cls._instance

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ctx, name)

    @property
    def context(self) -> Any:
        """The wrapped zloop or pyzmq context."""
        return self._ctx

    def socket(self, socket_type: int, **kwargs: Any) -> Socket:
        """Make a socket of the wrapped context and wrap it as a green :class:`Socket`.

        Args:
            socket_type: A socket type (``zloop.PUSH``...).
            **kwargs: Passed to the wrapped context's ``socket()``.

        Returns:
            The new :class:`Socket`.
        """
        s = Socket(self._ctx.socket(socket_type, **kwargs))
        self._sockets.add(s)
        return s

    def destroy(self, linger: int | None = None) -> None:
        """Close every socket (waking blocked greenlets) and terminate the context."""
        for s in list(self._sockets):
            s.close(linger=linger)
        self._ctx.destroy(linger)

    def term(self) -> None:
        """Terminate the wrapped context (``zloop.Context.term``).

        It blocks the calling thread, loop included, until every socket is closed: close the sockets
        first, or use :meth:`destroy`.
        """
        self._ctx.term()

    def __enter__(self) -> Context:
        return self

    def __exit__(self, *exc: object) -> None:
        """As pyzmq (zmq.green): leaving ``with`` destroys the context, warning about open sockets."""
        from zloop.lifetime import warn_unclosed

        for s in list(self._sockets):
            if not s.closed:
                warn_unclosed(f"Destroying context with unclosed socket {s!r}")
        self.destroy()


_ = POLLOUT


def __getattr__(name: str) -> Any:
    """Everything else is zloop's (constants, errors...), so ``import zloop.adapters.gevent as zmq``
    works like ``import zmq.green as zmq``."""
    import zloop

    try:
        return getattr(zloop, name)
    except AttributeError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
