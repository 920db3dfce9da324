"""asyncio adapter, shaped like ``zmq.asyncio``: socket operations return Futures, as pyzmq's do.

``Context().socket(zloop.PULL)`` returns a :class:`Socket` whose ``send``/``recv``/``send_multipart``/
``recv_multipart``/``recv_into``/``poll`` and pyzmq's conveniences (``send_string``/``recv_string``/
``send_json``/``recv_json``/``send_pyobj``/``recv_pyobj``/``send_serialized``/``recv_serialized``,
with the ``_unicode`` aliases) return an :class:`asyncio.Future`; :meth:`Poller.poll` too.
``Socket.from_socket(existing)`` wraps an existing zloop **or pyzmq** socket. Everything else
(``bind``, ``connect``, options ...) is passed through to the wrapped socket.

Theory of operation
===================
All readiness handling lives in :mod:`zloop.adapters._core` (read its docstring); this module only
supplies asyncio's primitives (``loop.add_reader`` on the socket's FD, ``call_soon``) and makes
**the Future it returns the core's waiter**, so an operation is *registered at the call*, as in
pyzmq, not when (or whether) it is awaited:

* The call first tries the operation at once (:meth:`Watcher.attempt`: NOBLOCK, unless earlier
  calls of the same direction still wait). Done: the result is a plain finished ``asyncio.Future``.
* Otherwise the call queues the operation with a :class:`_QueuedFuture` as its waiter and returns
  it. The core's refresh performs the operation and completes that Future in one synchronous step,
  whether or not anyone awaits it: ``f = s.recv()`` followed by a message gives ``f`` the message;
  several pending receives get messages in call order; a Future that completed and is never
  awaited keeps its message (``f.result()``).
* ``f.cancel()`` before completion removes the operation from the queue: a cancelled receive never
  takes a message, a cancelled ``send_multipart`` sent nothing. A task cancelled while it awaits
  ``f`` cancels ``f`` (asyncio's own rule), the same thing.
* **The window pyzmq leaves open** (docs/pitfalls.md §1 #14, pyzmq #1925): ``f`` completes and the task
  awaiting it is cancelled before it resumed (``asyncio.timeout``/``wait_for`` expiring, a
  TaskGroup shutting down in the same loop turn). The task gets ``CancelledError``; with pyzmq the
  message stays in a Future nobody reads. Here ``f.__await__`` sees the cancellation arrive and,
  when that task was ``f``'s only consumer (no other task awaits it, no ``add_done_callback`` of
  ``gather``/``wait``/``shield``/the user), gives the message back to the socket
  (:meth:`Watcher.cancel`: the next receive gets it whole) and ``f`` turns into a cancelled Future
  (``f.cancelled()`` is then true and ``f.result()`` raises ``CancelledError``), so the message is
  delivered exactly once. A Future with other consumers keeps its message for them, as pyzmq's.
* ``RCVTIMEO``/``SNDTIMEO`` (read at the call) are loop timers that fail a still-queued Future
  with ``Again``; ``poll(timeout)`` resolves to 0 when its timer expires.
* ``close()`` (and ``Context.destroy()``) cancels every pending Future, as pyzmq's close does; a
  context terminated from another thread fails them with ``ContextTerminated``.
* **Reading the connection in the loop** (:class:`_ConnReader`). While a receive waits on a zloop
  socket whose one pipe leads to a tcp/ipc connection, the loop watches that connection's fd
  (``add_reader``) in place of the I/O thread, which parks it, and reads and decodes it itself
  (``StreamEngine.app_read``; "Reads in the application thread" in ``zloop/io/engine.py``): the I/O
  thread does not read, deliver and signal the socket's FD for each message. The fd goes back one
  loop turn after no receive waits (a task that awaits in a loop keeps it), at close, or at once
  when a read begins a large frame body with ``DIRECT_MIN`` (128 KiB) or more still to come (the
  next 64 waits then leave reading to the I/O thread, which reads such bodies straight into their
  own buffers; a shorter rest, as in a 64 KiB stream, the loop reads itself). ``NOBLOCK``
  receives, ``EVENTS`` and polls first read what the kernel holds meanwhile. A connection the I/O thread ends while parked
  keeps its fd open until the loop gives it back, so the loop never watches a closed fd.
  A loop that stops running while it holds the connection (a callback that blocks, a loop stopped
  with a receive still queued) does not hold back the peer: the I/O thread reads the connection
  again once it has stayed readable and unread for 100-200 ms ("Parked fds" in
  ``zloop/io/reactor.py``), so handshakes, heartbeats and messages go on as with libzmq; a
  handshake in progress is never parked.

The conveniences are one operation each: ``recv_string``/``recv_json``/``recv_pyobj``/
``recv_serialized`` queue a receive whose Future (:class:`_LoadingFuture`) decodes the frames when
the core completes it (a decoding error becomes the Future's exception, the message is consumed, as
in pyzmq), so they share every guarantee above; pyzmq chains a second Future there, which is where
its #1925 warning "a message has been dropped" comes from.

A socket is bound to the event loop that first used it; it may be used from another loop later
when it has no pending operations. Called outside a running loop (to await later with
``run_until_complete``), it binds to ``asyncio.get_event_loop()`` with a ``RuntimeWarning``, as
pyzmq. It works on any event loop that implements ``add_reader`` (the selector loops, uvloop); on a
loop without it (Windows' ProactorEventLoop) the first wait raises a :class:`RuntimeError` that says
so (docs/pitfalls.md §1 #17).
"""

from __future__ import annotations

import asyncio
import contextlib
import pickle
import select
import sys
import warnings
import weakref
from asyncio import Future
from collections.abc import Callable, Generator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal, overload

import zloop
from zloop.io.engine import AFTER_LARGE_READ, APP_READ_BUSY, APP_READ_EMPTY, APP_READ_WOKE
from zloop.protocol.frames import RECYCLE_MIN
from zloop.socket import RECYCLES_BODIES, _app_read_buffer

from ._core import NOBLOCK, NOT_READY, POLLIN, POLLOUT, Op, Pending, Watcher, is_again
from ._wrapper import AsyncSendConveniences, PollerItems, SocketWrapper, json_value

if TYPE_CHECKING:
    from zloop.message import Frame
    from zloop.tracker import MessageTracker

__all__ = ["Context", "Poller", "Socket"]

_RCVTIMEO = 27
_SNDTIMEO = 28
_FD = 14

_get_running_loop = asyncio._get_running_loop


class _Backend:
    """The core's Backend for one asyncio loop."""

    __slots__ = ("hands_over", "loop", "read_skips", "readers")

    # A queued Future holds its Pending (to cancel or reclaim it): the Pending lets go of the
    # Future once finished, so a received message dies with the Future, not at the next gc run.
    release_waiters = True

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        if type(loop).add_reader is asyncio.BaseEventLoop.add_reader:
            raise RuntimeError(
                f"{type(loop).__name__} does not implement add_reader (fd readiness), which "
                "zloop.adapters.asyncio needs; on Windows use asyncio.SelectorEventLoop "
                "(e.g. asyncio.run(main(), loop_factory=asyncio.SelectorEventLoop) on Python 3.12+)"
            )
        self.loop = loop
        #: Does the loop wake tasks through asyncio's own Handle (whose references to the Future
        #: _HANDED_OVER_REFS counts)? Not uvloop's, nor a loop with its own call_soon.
        base = asyncio.BaseEventLoop
        self.hands_over = (
            isinstance(loop, base)
            and type(loop).call_soon is base.call_soon
            and type(loop)._call_soon is base._call_soon  # type: ignore[attr-defined]
        )
        #: The connection readers of waiting receives, by the socket's FD (see _ConnReader).
        self.readers: dict[int, _ConnReader] = {}
        #: Waits still to leave to the I/O thread after a large frame, by the socket's FD.
        self.read_skips: dict[int, int] = {}

    def add_reader(self, fd: int, callback: Any) -> None:
        self.loop.add_reader(fd, callback)

    def remove_reader(self, fd: int) -> None:
        with contextlib.suppress(OSError, ValueError, RuntimeError):  # fd or loop closed meanwhile
            self.loop.remove_reader(fd)

    def call_soon(self, callback: Any) -> None:
        self.loop.call_soon(callback)

    def create_waiter(self) -> asyncio.Future[Any]:
        return self.loop.create_future()


# One watcher per (loop, socket): a Socket wrapper and a Poller on the same raw socket share it.
_registry: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[int, tuple[Any, Watcher]]] = (
    weakref.WeakKeyDictionary()
)


def _watcher_for(sock: Any, loop: asyncio.AbstractEventLoop) -> Watcher:
    table = _registry.get(loop)
    if table is None:
        table = _registry[loop] = {}
    entry = table.get(id(sock))
    if entry is not None and entry[0] is sock and not entry[1].closed:
        return entry[1]
    watcher = Watcher(sock, _Backend(loop))
    table[id(sock)] = (sock, watcher)
    return watcher


def _forget(sock: Any, watcher: Watcher) -> None:
    table = _registry.get(watcher.backend.loop) if isinstance(watcher.backend, _Backend) else None
    if table is not None:
        entry = table.get(id(sock))
        if entry is not None and entry[1] is watcher:
            del table[id(sock)]


def _loop_outside_a_task(stacklevel: int) -> asyncio.AbstractEventLoop:
    warnings.warn(
        "No running event loop. zloop.adapters.asyncio should be used from within an asyncio loop.",
        RuntimeWarning,
        stacklevel=stacklevel + 1,
    )
    return asyncio.get_event_loop()


# -- reading the connection in the loop ------------------------------------------------------------

#: After a large frame (or a connection the loop may not read now), this many of the socket's
#: waits leave the reading to the I/O thread: it reads large bodies straight into their own
#: buffers, and parking the fd for a read that gives up at once costs two epoll_ctl each way.
_SKIP_AFTER_LARGE = 64


class _ConnReader:
    """The loop reads a waiting receive's connection itself ("Reading the connection in the
    loop" in the module docstring; gevent's hub does the same, see adapters/gevent.py).

    Started when a receive queues on a zloop socket whose one pipe leads to a tcp/ipc connection:
    the engine's fd is parked (the I/O thread stops watching it) and ``loop.add_reader`` calls
    :meth:`_readable`, which reads and decodes into the socket's pipe (``StreamEngine.app_read``)
    and refreshes the core's watcher, which serves the queued receives as if the socket's FD had
    fired. The socket's FD stays watched by the core as always: anything the I/O thread still
    delivers (control frames, a large body, an end of stream, a second peer) comes that way.

    Stopped (``remove_reader``, then unpark: a connection the I/O thread ended meanwhile closes its
    fd only then) one loop turn after no receive waits, at once when the engine gives up
    (``APP_READ_BUSY``: a large body, a control frame, the end) or the socket is released."""

    __slots__ = ("_engine", "_fd", "_idle_scheduled", "_pipe", "_token", "_watcher")

    def __init__(self, w: Watcher, engine: Any, pipe: Any, token: object) -> None:
        self._watcher = w
        self._engine = engine
        self._pipe = pipe
        self._token: object | None = token
        self._fd: int = engine.fd
        self._idle_scheduled = False

    @classmethod
    def start(cls, w: Watcher) -> None:
        """A receive queued on ``w``: read its connection in the loop if that is possible now."""
        b: _Backend = w.backend  # type: ignore[assignment]
        fd = w.fd
        if fd in b.readers:
            return
        skips = b.read_skips
        if skips:
            left = skips.get(fd, 0)
            if left > 0:
                skips[fd] = left - 1
                return
        target = getattr(w.socket, "_app_reader", None)
        found = target() if target is not None else None
        if found is None:
            return
        engine, pipe = found
        if engine._read_size == AFTER_LARGE_READ:  # the I/O thread just read a large body
            skips[fd] = _SKIP_AFTER_LARGE
            return
        token = engine.park()
        if token is None:
            return
        reader = cls(w, engine, pipe, token)
        try:
            b.loop.add_reader(reader._fd, reader._readable)
        except BaseException:
            engine.unpark(token)
            raise
        b.readers[fd] = reader
        w.after_refresh = reader._check

    @staticmethod
    def catch_up(w: Watcher) -> bool:
        """Before a non-blocking look at the socket: if the loop holds its connection parked, read
        what the kernel has (the I/O thread would have). True when something was read."""
        reader = w.backend.readers.get(w.fd)  # type: ignore[attr-defined]
        return reader is not None and reader._read()

    def _readable(self) -> None:
        """Loop callback: the connection's fd is readable."""
        if self._read():
            self._watcher.refresh()

    def _read(self) -> bool:
        if self._token is None:
            return False
        got = self._engine.app_read(_app_read_buffer(), self._pipe)
        if got == APP_READ_EMPTY:
            return False
        if got == APP_READ_BUSY:
            # Not for the loop now: give the fd back; the I/O thread reads it and signals the
            # socket's FD as usual. After a large body the next waits leave it to the I/O thread
            # too; anything else (the I/O thread reading at that moment, a control frame, the
            # end) concerns this read only: the next wait parks again if the engine allows it.
            engine = self._engine
            if engine.reads_body_directly() or engine._read_size == AFTER_LARGE_READ:
                self._give_back()
            else:
                self.stop()
            return False
        if got == APP_READ_WOKE:
            self._pipe._process_activate_read()  # what the flush's command would have done
        if self._engine.reads_body_directly():
            # The read began a large body with DIRECT_MIN or more to come: that rest goes
            # straight into the frame's own buffer, which only the I/O thread reads into
            # (app_read would answer BUSY next). A shorter rest the loop reads itself.
            self._give_back()
        return True

    def _give_back(self) -> None:
        w = self._watcher
        w.backend.read_skips[w.fd] = _SKIP_AFTER_LARGE  # type: ignore[attr-defined]
        self.stop()

    def _check(self) -> None:
        """After a refresh (or a cancelled receive): no receive waits any more -> stop one loop
        turn later, unless one waits again by then (a task that receives in a loop)."""
        if self._idle_scheduled or self._token is None:
            return
        w = self._watcher
        if w.closed or self._engine._closed:
            self.stop()
        elif not w.receives_waiting():
            self._idle_scheduled = True
            w.backend.loop.call_soon(self._idle)  # type: ignore[attr-defined]

    def _idle(self) -> None:
        self._idle_scheduled = False
        w = self._watcher
        if w.closed or not w.receives_waiting():
            self.stop()

    def stop(self) -> None:
        """Stop reading here: stop watching the fd, give it back to the I/O thread (unpark)."""
        token, self._token = self._token, None
        if token is None:
            return
        w = self._watcher
        b: _Backend = w.backend  # type: ignore[assignment]
        if w.after_refresh == self._check:
            w.after_refresh = None
        if b.readers.get(w.fd) is self:
            del b.readers[w.fd]
        b.remove_reader(self._fd)
        self._engine.unpark(token)


def _reader_check(w: Watcher) -> None:
    """A receive stopped waiting without a refresh (cancelled, timed out)."""
    reader = w.backend.readers.get(w.fd)  # type: ignore[attr-defined]
    if reader is not None:
        reader._check()


# -- the Futures --------------------------------------------------------------------------------------


class _QueuedFuture(Future[Any]):
    """The Future of an operation that had to wait: the core's waiter for it (module docstring).

    A plain ``asyncio.Future`` to everyone, except that ``cancel()`` takes the operation out of the
    queue at once, and awaiting it notices a cancellation that arrives after completion.
    """

    __slots__ = ("_zl_load", "_zl_observers", "_zl_pending", "_zl_value", "_zl_watcher")

    _zl_load: Callable[[Any], Any] | None
    _zl_observers: int
    _zl_pending: Pending
    _zl_value: Any
    _zl_watcher: Watcher

    def set_result(self, result: Any, /) -> None:
        if _HANDS_OVER and type(self) is _QueuedFuture and _is_large(result):
            # Kept beside the Future, not in it, so that the task it wakes can take it (__await__).
            self._zl_value = result
            super().set_result(None)
            self.__class__ = _LargeResultFuture
        else:
            super().set_result(result)

    def add_done_callback(self, fn: Callable[[Any], object], *, context: Any = None) -> None:
        self._zl_observers += 1
        super().add_done_callback(fn, context=context)

    def remove_done_callback(self, fn: Callable[[Any], object]) -> int:
        removed = super().remove_done_callback(fn)
        self._zl_observers -= removed
        return removed

    def cancel(self, msg: Any = None) -> bool:
        if not super().cancel(msg):
            return False
        pending = self._zl_pending
        if pending.queued:
            watcher = self._zl_watcher
            watcher.cancel(pending)
            if watcher.backend.readers:  # type: ignore[attr-defined]
                _reader_check(watcher)
        return True

    def __await__(self) -> Generator[Any, None, Any]:
        if not self.done():
            self._asyncio_future_blocking = True
            try:
                yield self
            except BaseException:
                self._zl_interrupted()
                raise
            if self.__class__ is _LargeResultFuture:  # resumed by this Future's wake-up
                return self._zl_hand_over()
        if not self.done():
            raise RuntimeError("await wasn't used with future")
        return self.result()

    __iter__ = __await__

    def _zl_hand_over(self) -> Any:
        """The task this Future woke takes its large result: when nothing but asyncio's wake-up of
        that task refers to this Future (no variable of the program, no other consumer), nothing
        can ever ask it for the result again, so it lets go of the result now (see
        _LargeResultFuture)."""
        value = self.result()
        if (
            self._zl_observers <= 1
            and self._zl_watcher.backend.hands_over  # type: ignore[attr-defined]
            and _refcount(self) <= _HANDED_OVER_REFS
        ):
            self._zl_value = None
            self._zl_pending.value = None
        return value

    def _zl_interrupted(self) -> None:
        """The one awaiting this was interrupted (task cancelled) after the Future completed: if it
        was the only consumer, give a received message back and become cancelled."""
        if self._zl_observers > 1 or not self.done() or self.cancelled():
            return
        if self.exception() is not None:
            return
        if self._zl_watcher.cancel(self._zl_pending) == "reclaimed":
            self.__class__ = _ReclaimedFuture


class _LoadingFuture(_QueuedFuture):
    """A queued receive whose result is ``load(frames)`` (recv_string, recv_json ...)."""

    __slots__ = ()

    def set_result(self, result: Any, /) -> None:
        load = self._zl_load
        assert load is not None
        try:
            value = load(result)
        except Exception as exc:
            super().set_exception(exc)
        else:
            super().set_result(value)


class _LargeResultFuture(_QueuedFuture):
    """A plain receive's Future completed with a large result (:func:`_is_large`), which it keeps
    in ``_zl_value`` (``result()`` returns it).

    Why: asyncio wakes the awaiting task with a loop callback that holds this Future until the
    task's step ends, and a task that receives in a loop usually takes its next message within that
    step (already read: no wait). With the Future holding the previous megabyte then, two copies
    are alive at once; when both are freed the allocator gives the top of its heap back to the
    kernel, and the next copy page-faults fresh memory (a fifth of the receiver's CPU for a stream
    of 1 MiB messages). So when the awaiting task is the Future's only holder, :meth:`__await__`
    hands it the result and the Future lets go of it (the blocking ``recv()`` of a loop frees each
    copy before the next one the same way)."""

    __slots__ = ()

    def result(self) -> Any:
        Future.result(self)  # raises as the Future's own result() would (cancelled ...)
        return self._zl_value

    def __repr__(self) -> str:
        return f"<{type(self).__name__} finished (a large result)>"


class _ReclaimedFuture(_QueuedFuture):
    """A receive whose awaiting task was cancelled after its message had arrived; the message went
    back to the socket, so this Future reports itself cancelled."""

    __slots__ = ()

    def cancelled(self) -> bool:
        return True

    def result(self) -> Any:
        raise asyncio.CancelledError("cancelled; its message was given back to the socket")

    def exception(self) -> BaseException | None:
        raise asyncio.CancelledError("cancelled; its message was given back to the socket")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} cancelled (message given back to the socket)>"


#: Large results a receive's Future lets go of once handed to its task (_LargeResultFuture): the
#: size from which zloop recycles frame bodies too.
_LARGE_RESULT = RECYCLE_MIN
#: Only where zloop trusts the interpreter's reference counts (as for recycling bodies), and
#: from 3.11 on: on 3.10 the wake-up holds the Future once more, so the count below is never met
#: there (checked on 3.10.13, 3.11.7, 3.12.1, 3.13.0: the program's own holders always keep it).
_HANDS_OVER = RECYCLES_BODIES and sys.version_info >= (3, 11)
#: References to a _LargeResultFuture in _zl_hand_over when only the task's wake-up holds it: the
#: wake-up Handle's arguments and the arguments of its call (asyncio's own ``events.Handle``, see
#: _Backend.hands_over), __await__'s and _zl_hand_over's ``self``, getrefcount's argument. Any
#: other holder (a variable of the program) makes it more. Counted on CPython 3.11-3.13
#: (tests/adapters/test_asyncio_large_result.py checks a Future the program holds keeps its result).
_HANDED_OVER_REFS = 5
_refcount: Callable[[Any], int] = sys.getrefcount if _HANDS_OVER else (lambda _obj: 1 << 30)


def _is_large(result: Any) -> bool:
    """A ``bytes`` of at least :data:`_LARGE_RESULT`, or a list of frames with one."""
    kind = type(result)
    if kind is bytes:
        return len(result) >= _LARGE_RESULT
    if kind is list:
        for frame in result:
            if type(frame) is bytes and len(frame) >= _LARGE_RESULT:
                return True
    return False


def _finished(
    loop: asyncio.AbstractEventLoop, value: Any, load: Callable[[Any], Any] | None
) -> Future[Any]:
    fut: Future[Any] = Future(loop=loop)
    if load is None:
        fut.set_result(value)
    else:
        try:
            fut.set_result(load(value))
        except Exception as exc:
            fut.set_exception(exc)
    return fut


def _failed(loop: asyncio.AbstractEventLoop, exc: BaseException) -> Future[Any]:
    fut: Future[Any] = Future(loop=loop)
    fut.set_exception(exc)
    return fut


def _queued(
    loop: asyncio.AbstractEventLoop, watcher: Watcher, load: Callable[[Any], Any] | None
) -> _QueuedFuture:
    fut = _QueuedFuture(loop=loop) if load is None else _LoadingFuture(loop=loop)
    fut._zl_load = load
    fut._zl_observers = 0
    fut._zl_watcher = watcher
    return fut


def _on_timer(fut: _QueuedFuture, handle: asyncio.TimerHandle) -> None:
    # Future.add_done_callback itself: internal, not a consumer of the result.
    Future.add_done_callback(fut, lambda _: handle.cancel())


def _expire(fut: _QueuedFuture, again: Callable[[], BaseException]) -> None:
    """RCVTIMEO/SNDTIMEO: a still-queued operation fails with Again (nothing was taken or sent)."""
    pending = fut._zl_pending
    if pending.queued:
        watcher = fut._zl_watcher
        watcher.cancel(pending)
        Future.set_exception(fut, again())
        if watcher.backend.readers:  # type: ignore[attr-defined]
            _reader_check(watcher)


def _expire_poll(fut: _QueuedFuture) -> None:
    pending = fut._zl_pending
    if pending.queued:
        fut._zl_watcher.cancel(pending)
        Future.set_result(fut, 0)


_RECV = Op.recv()
_RECV_MULTIPART = Op.recv_multipart()


def _decoder(encoding: str) -> Callable[[Any], str]:
    return lambda data: str(data.decode(encoding))


class Socket(AsyncSendConveniences, SocketWrapper, adapter="asyncio"):
    """A socket over a zloop or pyzmq socket whose operations return Futures (module docstring).

    ``send_string`` ... ``send_serialized``, ``from_socket``, ``getsockopt``/``EVENTS``: see
    :mod:`zloop.adapters._wrapper`; the operations are below."""

    _repr_head = "zloop.adapters.asyncio.Socket over"
    _watcher: Watcher | None
    _loop: asyncio.AbstractEventLoop | None
    _monitor_reader: Socket | None

    def __init__(
        self,
        context: Any = None,
        socket_type: int = -1,
        io_loop: Any = None,
        *,
        _from_socket: Any = None,
        **kwargs: Any,
    ) -> None:
        if io_loop is not None:
            warnings.warn(
                f"{type(self).__name__}(io_loop) is deprecated in pyzmq 22.2 and ignored here: the "
                "running loop is always used.",
                DeprecationWarning,
                stacklevel=2,
            )
        if _from_socket is None and hasattr(context, "recv_multipart"):
            context, _from_socket = None, context  # Socket(existing_socket), as pyzmq
        if _from_socket is None:
            if context is None:
                context = zloop.Context.instance()
            if isinstance(context, Context):
                _from_socket = zloop.Context.socket(context, socket_type, **kwargs)
            else:
                _from_socket = context.socket(socket_type, **kwargs)
        self._attach(self._unwrap(_from_socket))
        object.__setattr__(self, "_watcher", None)
        object.__setattr__(self, "_loop", None)
        object.__setattr__(self, "_monitor_reader", None)

    @classmethod
    def _wrap_raw(cls, sock: Any) -> Socket:
        return cls(_from_socket=sock)

    # -- pass-through --------------------------------------------------------------------------------

    def _watched_events(self) -> int | None:
        watcher = self._watcher
        if watcher is None or watcher.closed:
            return None
        if watcher.backend.readers:  # type: ignore[attr-defined]
            _ConnReader.catch_up(watcher)
        return watcher.events()

    def fileno(self) -> int:
        """The wrapped socket's ``FD`` (edge-triggered; the adapter watches it for you)."""
        return int(self._sock.getsockopt(_FD))

    def close(self, linger: int | None = None) -> None:
        """Cancel pending Futures (as pyzmq), stop watching, close the socket."""
        self._release()
        if not self._sock.closed:
            self._sock.close(linger=linger)

    def _release(self) -> None:
        """Stop watching without closing the socket (pending Futures are cancelled)."""
        watcher = self._watcher
        if watcher is not None:
            reader = watcher.backend.readers.get(watcher.fd)  # type: ignore[attr-defined]
            if reader is not None:
                reader.stop()
            watcher.close(cancel=True)
            _forget(self._sock, watcher)
            object.__setattr__(self, "_watcher", None)

    def get_monitor_socket(self, events: int | None = None, addr: str | None = None) -> Socket:
        """The socket's monitor PAIR (pyzmq's ``get_monitor_socket``), as a socket of this class:
        ``recv_multipart()`` (and ``zloop.utils.monitor.recv_monitor_message``) return Futures."""
        reader = self._sock.get_monitor_socket(events, addr)
        if isinstance(reader, Socket):
            return reader
        cached = self._monitor_reader
        if cached is None or cached._sock is not reader:
            cached = type(self)._wrap_raw(reader)
            object.__setattr__(self, "_monitor_reader", cached)
        return cached

    # -- the loop binding ----------------------------------------------------------------------------

    def _bind(self, loop: asyncio.AbstractEventLoop | None, stacklevel: int = 4) -> Watcher:
        if loop is None:
            loop = _loop_outside_a_task(stacklevel + 1)
        watcher = self._watcher
        if watcher is not None and self._loop is loop and not watcher.closed:
            return watcher
        if watcher is not None and not watcher.closed and watcher.waiting():
            raise RuntimeError("socket has pending operations on another event loop")
        if self._sock.closed:
            raise self._zmod.ZMQError(self._zmod.ENOTSOCK, "socket is closed")
        watcher = _watcher_for(self._sock, loop)
        object.__setattr__(self, "_watcher", watcher)
        object.__setattr__(self, "_loop", loop)
        return watcher

    def _submit(
        self, op: Op, flags: int, timeout_option: int, load: Callable[[Any], Any] | None = None
    ) -> Future[Any]:
        """The one mechanism behind every operation: a Future done now, or queued (docstring)."""
        loop = _get_running_loop()
        watcher = self._watcher
        if loop is None or self._loop is not loop or watcher is None or watcher.closed:
            watcher = self._bind(loop)
            loop = self._loop
            assert loop is not None
        try:
            if flags & NOBLOCK and (op.is_recv or not watcher.sends_waiting()):
                try:
                    value = watcher.now(
                        op
                    )  # NOBLOCK: now or Again (a send goes behind queued ones)
                except Exception as exc:
                    # The loop holds the connection parked: read what the I/O thread would have.
                    if not (
                        op.is_recv
                        and watcher.backend.readers  # type: ignore[attr-defined]
                        and is_again(exc)
                        and _ConnReader.catch_up(watcher)
                    ):
                        raise
                    value = watcher.now(op)
            else:
                value = watcher.attempt(op)
        except Exception as exc:
            return _failed(loop, exc)
        if value is not NOT_READY:
            if load is not None:
                return _finished(loop, value, load)
            done: Future[Any] = Future(loop=loop)
            done.set_result(value)
            return done
        fut = _queued(loop, watcher, load)
        fut._zl_pending = watcher.wait(op, fut)
        if op.is_recv:
            _ConnReader.start(watcher)
        timeout = self._sock.getsockopt(timeout_option)
        if timeout is not None and timeout >= 0:
            _on_timer(fut, loop.call_later(timeout / 1000, _expire, fut, self._zmod.Again))
        return fut

    # -- sending -------------------------------------------------------------------------------------

    def send(
        self, data: Any, flags: int = 0, copy: bool = True, track: bool = False, **kwargs: Any
    ) -> Future[MessageTracker | None]:
        """Send one frame (SNDMORE in ``flags`` for more frames of the same message). The Future
        resolves to what the socket's ``send`` returned: None, or a ``MessageTracker`` with
        ``copy=False``; ``routing_id``/``group`` keywords go to the socket's ``send``."""
        return self._submit(Op.send(data, flags, copy, track, kwargs), flags, _SNDTIMEO)

    def send_multipart(
        self,
        msg_parts: Sequence[Any],
        flags: int = 0,
        copy: bool = True,
        track: bool = False,
        **kwargs: Any,
    ) -> Future[MessageTracker | None]:
        """Send a whole message: all frames or (cancelled before it could go) none. The Future
        resolves to what the socket's ``send_multipart`` returned (a tracker with ``copy=False``)."""
        if isinstance(msg_parts, (bytes, str)) or not len(msg_parts):
            raise TypeError("send_multipart takes a non-empty sequence of frames")
        return self._submit(Op.send_multipart(msg_parts, flags, copy, track), flags, _SNDTIMEO)

    # -- receiving -----------------------------------------------------------------------------------

    @overload
    def recv(
        self, flags: int = 0, copy: Literal[True] = True, track: bool = False
    ) -> Future[bytes]: ...

    @overload
    def recv(
        self, flags: int = 0, *, copy: Literal[False], track: bool = False
    ) -> Future[Frame]: ...

    @overload
    def recv(self, flags: int, copy: Literal[False], track: bool = False) -> Future[Frame]: ...

    @overload
    def recv(
        self, flags: int = 0, copy: bool = True, track: bool = False
    ) -> Future[bytes | Frame]: ...

    def recv(self, flags: int = 0, copy: bool = True, track: bool = False) -> Future[Any]:
        """Receive one frame (bytes, or a Frame with ``copy=False``)."""
        op = _RECV if copy and not track else Op.recv(copy, track)
        return self._submit(op, flags, _RCVTIMEO)

    @overload
    def recv_multipart(
        self, flags: int = 0, copy: Literal[True] = True, track: bool = False
    ) -> Future[list[bytes]]: ...

    @overload
    def recv_multipart(
        self, flags: int = 0, *, copy: Literal[False], track: bool = False
    ) -> Future[list[Frame]]: ...

    @overload
    def recv_multipart(
        self, flags: int, copy: Literal[False], track: bool = False
    ) -> Future[list[Frame]]: ...

    @overload
    def recv_multipart(
        self, flags: int = 0, copy: bool = True, track: bool = False
    ) -> Future[list[bytes]] | Future[list[Frame]]: ...

    def recv_multipart(
        self, flags: int = 0, copy: bool = True, track: bool = False
    ) -> Future[list[Any]]:
        """Receive a whole message; a cancelled call never takes (or splits) one."""
        op = _RECV_MULTIPART if copy and not track else Op.recv_multipart(copy, track)
        return self._submit(op, flags, _RCVTIMEO)

    def recv_into(self, buffer: Any, /, *, nbytes: int = 0, flags: int = 0) -> Future[int]:
        """Receive one frame into ``buffer`` (up to ``nbytes``, 0: its size); the Future resolves to
        the frame's size (larger than what was written when the frame was truncated)."""
        if not hasattr(self._sock, "recv_into"):
            raise AttributeError(f"{type(self._sock).__name__} has no recv_into")
        if nbytes < 0:
            raise ValueError(f"nbytes={nbytes!r} must be non-negative")
        return self._submit(Op.recv_into(buffer, nbytes), flags, _RCVTIMEO)

    def recv_string(self, flags: int = 0, encoding: str = "utf-8") -> Future[str]:
        """Receive one frame and decode it to a ``str``.

        Args:
            flags: As for :meth:`recv`.
            encoding: The codec (UTF-8 by default).

        Returns:
            A Future of the text. A frame that cannot be decoded is consumed and its error set on the
            Future; a cancelled call takes no frame, as for :meth:`recv`.
        """
        return self._submit(_RECV, flags, _RCVTIMEO, _decoder(encoding))

    recv_unicode = recv_string

    def recv_json(self, flags: int = 0, **kwargs: Any) -> Future[Any]:
        """Receive one frame of JSON (UTF-8) and decode it.

        Args:
            flags: As for :meth:`recv`.
            **kwargs: Passed to ``json.loads``.

        Returns:
            A Future of the decoded object.
        """
        return self._submit(_RECV, flags, _RCVTIMEO, lambda data: json_value(data, kwargs))

    def recv_pyobj(self, flags: int = 0) -> Future[Any]:
        """Receive one frame and unpickle it (unpickling runs the sender's code: trusted peers only).

        Args:
            flags: As for :meth:`recv`.

        Returns:
            A Future of the object.
        """
        return self._submit(_RECV, flags, _RCVTIMEO, pickle.loads)

    def recv_serialized(
        self, deserialize: Callable[[list[Any]], Any], flags: int = 0, copy: bool = True
    ) -> Future[Any]:
        """Receive a message and turn it into an object.

        Args:
            deserialize: Called with the message's list of frames, once it has arrived.
            flags: As for :meth:`recv_multipart`.
            copy: As for :meth:`recv_multipart`.

        Returns:
            A Future of what ``deserialize`` returns (its exception, if it raises).
        """
        op = _RECV_MULTIPART if copy else Op.recv_multipart(copy)
        return self._submit(op, flags, _RCVTIMEO, deserialize)

    def __aiter__(self) -> Socket:
        return self

    async def __anext__(self) -> list[bytes]:
        """``async for msg in sock``: yields ``recv_multipart()`` results until the socket closes."""
        try:
            return await self.recv_multipart()
        except asyncio.CancelledError:
            cancelling = getattr(asyncio.current_task(), "cancelling", None)  # Python >= 3.11
            if self._sock.closed and not (cancelling is not None and cancelling()):
                raise StopAsyncIteration from None  # close() cancelled the receive
            raise
        except Exception as exc:
            if self._sock.closed or getattr(exc, "errno", None) in (
                self._zmod.ENOTSOCK,
                self._zmod.ETERM,
            ):
                raise StopAsyncIteration from None
            raise

    # -- polling -------------------------------------------------------------------------------------

    def poll(self, timeout: int | None = None, flags: int = POLLIN) -> Future[int]:
        """A Future of ``EVENTS & flags`` once non-zero, or 0 after ``timeout`` ms (None: never)."""
        if self._sock.closed:
            raise self._zmod.ZMQError(self._zmod.ENOTSUP)
        loop = _get_running_loop()
        watcher = self._watcher
        if loop is None or self._loop is not loop or watcher is None or watcher.closed:
            watcher = self._bind(loop, 3)
            loop = self._loop
            assert loop is not None
        try:
            if watcher.backend.readers:  # type: ignore[attr-defined]
                _ConnReader.catch_up(watcher)
            ev = watcher.poll_now(flags)
        except Exception as exc:
            return _failed(loop, exc)
        if ev or timeout == 0:
            return _finished(loop, ev, None)
        fut = _queued(loop, watcher, None)
        fut._zl_pending = watcher.wait_poll(flags, fut)
        if timeout is not None and timeout > 0:
            _on_timer(fut, loop.call_later(timeout / 1000, _expire_poll, fut))
        return fut


class Context(zloop.Context):
    """A zloop Context whose ``socket()`` returns :class:`Socket` objects (Futures)."""

    # ``Context.instance()`` of this class is its own (not zloop.Context's), as pyzmq's.
    _instance: ClassVar[zloop.Context | None] = None
    _instance_pid: ClassVar[int] = 0

    def __init__(self, io_threads: int = 1, **kwargs: Any) -> None:
        super().__init__(io_threads, **kwargs)
        self._async_sockets: weakref.WeakSet[Socket] = weakref.WeakSet()

    def socket(self, socket_type: int, **kwargs: Any) -> Socket:  # type: ignore[override]
        """Make a socket whose ``send``/``recv`` return Futures of the running asyncio loop.

        Args:
            socket_type: A socket type (``zloop.PUSH``...).
            **kwargs: Passed to :meth:`zloop.Context.socket` (``copy_threshold``).

        Returns:
            The new :class:`Socket`, with the context's default options set.
        """
        raw = zloop.Context.socket(self, socket_type, **kwargs)
        sock = Socket(_from_socket=raw)
        self._async_sockets.add(sock)
        return sock

    def destroy(self, linger: int | None = None) -> None:
        """Close every socket (cancelling pending Futures, as pyzmq), then terminate."""
        for sock in list(self._async_sockets):
            if not sock.closed:
                sock.close(linger=linger)
        super().destroy(linger)


# -- Poller -------------------------------------------------------------------------------------------


def _is_zmq_socket(item: Any) -> bool:
    if isinstance(item, (Socket, zloop.Socket)):
        return True
    return type(item).__module__.split(".")[0] == "zmq" and hasattr(item, "getsockopt")


def _fd_of(item: Any) -> int:
    return item if isinstance(item, int) else int(item.fileno())


class _ItemWaiter:
    """A core poll waiter of one item of a :class:`_PollCall`."""

    __slots__ = ("_done", "call")

    def __init__(self, call: _PollCall) -> None:
        self.call = call
        self._done = False

    def done(self) -> bool:
        return self._done or self.call.fut.done()

    def set_result(self, value: Any, /) -> None:
        self._done = True
        self.call.wake()

    def set_exception(self, exc: BaseException, /) -> None:
        self._done = True
        if not self.call.fut.done():
            self.call.fut.set_exception(exc)

    def cancel(self) -> None:
        """The socket was closed under a pending poll: the poll is cancelled (pyzmq)."""
        self._done = True
        self.call.fut.cancel()


class _PollCall:
    """One ``Poller.poll()`` in flight: wakes on any item, then answers from a fresh level check
    (level-triggered like ``zmq_poll``); a wake that finds nothing ready waits again."""

    __slots__ = ("deadline", "fds", "fut", "loop", "pendings", "poller", "scheduled", "timer")

    def __init__(
        self, poller: Poller, loop: asyncio.AbstractEventLoop, fut: Future[Any], timeout: float
    ) -> None:
        self.poller = poller
        self.loop = loop
        self.fut = fut
        self.deadline = None if timeout < 0 else loop.time() + timeout / 1000
        self.pendings: list[tuple[Watcher, Pending]] = []
        self.fds: list[tuple[int, int]] = []
        self.scheduled = False
        self.timer: asyncio.TimerHandle | None = None

    def start(self) -> None:
        self._arm()
        if self.deadline is not None:
            self.timer = self.loop.call_at(self.deadline, self._expired)
        self.fut.add_done_callback(self._finish)

    def _arm(self) -> None:
        loop = self.loop
        for item, flags in self.poller.sockets:
            if _is_zmq_socket(item):
                watcher = self.poller._watcher(item, loop)
                self.pendings.append((watcher, watcher.wait_poll(flags, _ItemWaiter(self))))
            else:
                fd = _fd_of(item)
                if flags & POLLIN:
                    loop.add_reader(fd, self.wake)
                    self.fds.append((fd, POLLIN))
                if flags & POLLOUT:
                    loop.add_writer(fd, self.wake)
                    self.fds.append((fd, POLLOUT))

    def _disarm(self) -> None:
        pendings, self.pendings = self.pendings, []
        for watcher, pending in pendings:
            watcher.cancel(pending)
        fds, self.fds = self.fds, []
        for fd, kind in fds:
            with contextlib.suppress(OSError, ValueError, RuntimeError):
                if kind == POLLIN:
                    self.loop.remove_reader(fd)
                else:
                    self.loop.remove_writer(fd)

    def wake(self) -> None:
        if not self.scheduled and not self.fut.done():
            self.scheduled = True
            self.loop.call_soon(self._check)

    def _check(self) -> None:
        self.scheduled = False
        if self.fut.done():
            return
        self._disarm()
        try:
            ready = self.poller._ready_now(self.loop)
        except Exception as exc:
            self.fut.set_exception(exc)
            return
        if ready:
            self.fut.set_result(ready)
        else:
            self._arm()

    def _expired(self) -> None:
        if self.fut.done():
            return
        self._disarm()
        try:
            self.fut.set_result(self.poller._ready_now(self.loop))
        except Exception as exc:
            self.fut.set_exception(exc)

    def _finish(self, _: Future[Any]) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self._disarm()


class Poller(PollerItems):
    """An async ``zmq.Poller``: ``poller.poll(timeout_ms)`` returns a Future of
    ``[(socket, events), ...]``, as zmq.asyncio's.

    Items: Sockets of this module, zloop or pyzmq sockets, fds or objects with ``fileno()``.
    Level-triggered like ``zmq_poll``: the result lists every item ready when the Future completes.
    """

    def __contains__(self, socket: Any) -> bool:
        return any(s is socket for s, _ in self.sockets)

    def _watcher(self, item: Any, loop: asyncio.AbstractEventLoop) -> Watcher:
        if isinstance(item, Socket):
            watcher = item._watcher
            if item._loop is loop and watcher is not None and not watcher.closed:
                return watcher
            return item._bind(loop)
        return _watcher_for(item, loop)

    def _ready_now(self, loop: asyncio.AbstractEventLoop) -> list[tuple[Any, int]]:
        ready: list[tuple[Any, int]] = []
        rlist: list[int] = []
        wlist: list[int] = []
        plain: list[tuple[Any, int, int]] = []
        for item, flags in self.sockets:
            if _is_zmq_socket(item):
                watcher = self._watcher(item, loop)
                if watcher.backend.readers:  # type: ignore[attr-defined]
                    _ConnReader.catch_up(watcher)
                ev = watcher.poll_now(flags)
                if ev:
                    ready.append((item, ev))
            else:
                fd = _fd_of(item)
                plain.append((item, fd, flags))
                if flags & POLLIN:
                    rlist.append(fd)
                if flags & POLLOUT:
                    wlist.append(fd)
        if plain:
            r, w, _ = select.select(rlist, wlist, [], 0)
            for item, fd, _flags in plain:
                ev = (POLLIN if fd in r else 0) | (POLLOUT if fd in w else 0)
                if ev:
                    ready.append((item, ev))
        return ready

    def poll(self, timeout: int | None = -1) -> Future[list[tuple[Any, int]]]:
        """A Future of the ready items, within ``timeout`` ms (None or negative: no limit); ``[]``
        when the time ran out. Cancelling it stops the poll."""
        loop = _get_running_loop()
        if loop is None:
            loop = _loop_outside_a_task(2)
        fut: Future[list[tuple[Any, int]]] = Future(loop=loop)
        try:
            ready = self._ready_now(loop)
        except Exception as exc:
            fut.set_exception(exc)
            return fut
        if ready or timeout == 0:
            fut.set_result(ready)
            return fut
        _PollCall(self, loop, fut, -1 if timeout is None else timeout).start()
        return fut
