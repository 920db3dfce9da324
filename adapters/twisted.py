"""Twisted support: zloop (or pyzmq) sockets whose operations return Deferreds.

::

    from twisted.internet import defer, task
    import zloop
    from zloop.adapters.twisted import Context

    async def main(reactor):
        ctx = Context(reactor)
        rep, req = ctx.socket(zloop.REP), ctx.socket(zloop.REQ)
        rep.bind("tcp://127.0.0.1:*")
        req.connect(rep.last_endpoint.decode())
        rep.on_recv(lambda msg: rep.send_multipart([msg[0] + b" pong"]))
        await req.send(b"ping")
        print(await req.recv())              # b'ping pong'
        ctx.destroy(linger=0)

    task.react(lambda reactor: defer.Deferred.fromCoroutine(main(reactor)))

* :class:`Context` (``socket()`` returns Twisted :class:`Socket`\\ s; ``Context.shadow(ctx)``) and
  :class:`Socket` (``Socket.from_socket(existing)`` wraps a zloop **or pyzmq** socket), both taking
  the reactor to use (default: ``twisted.internet.reactor``, looked up when first needed).
* ``send / send_multipart / recv / recv_multipart / poll`` and pyzmq's conveniences (``send_string``
  ... ``recv_serialized``, the ``_unicode`` aliases, zmq.asyncio's signatures) return
  :class:`~twisted.internet.defer.Deferred`\\ s: ``await`` them in a coroutine
  (``Deferred.fromCoroutine``), ``yield`` them with ``inlineCallbacks``, or add callbacks. A send at
  the high-water mark *waits* for room (its Deferred fires when the message went out); a
  ``send_multipart`` sends all frames or none. ``RCVTIMEO`` / ``SNDTIMEO`` (ms) fail the Deferred
  with ``Again``; ``NOBLOCK`` gives an already-fired Deferred (``Again`` when it would block).
* ``on_recv(callback, copy=True)`` calls ``callback(msg)`` for every message received, until
  ``stop_on_recv()`` (effective at once, even inside the callback: messages not handed over stay in
  the socket); at most ``Socket.batch`` messages per reactor iteration.
* **Cancelling a Deferred takes nothing from the socket**: a queued operation is withdrawn
  (``CancelledError``); a receive already performed for it gives its message back to the socket
  (the next receive gets it whole); a send already performed fires its Deferred with its result
  (it went out, whole).
* :class:`Poller` (``poll(timeout)`` -> Deferred of ``[(socket, events)]``), level-triggered.

How it is registered: each socket's edge-triggered ``FD`` is added to the reactor as an
``IReadDescriptor`` while anybody waits on the socket; its ``doRead`` only runs the shared core's
refresh (:mod:`zloop.adapters._core`: drain until ``Again``, re-read ``EVENTS`` after every
operation, no rescue polling, no timers). Deferreds are fired after the refresh returned, never
inside it, so callbacks may use the socket freely. Works on any reactor with ``addReader`` (epoll,
poll, select, and ``asyncioreactor`` over an asyncio loop).

Compared with txZMQ: txZMQ's connections (``ZmqPushConnection`` ...) are subclasses with a
``gotMessage`` hook and a global factory; a send there is immediate and raises ``EAGAIN`` at the
high-water mark (a multipart message can be cut after its first frames), receiving is callback-only,
and a read is re-scheduled after every send to paper over consumed edges. Here a socket keeps
pyzmq's API, every operation is a cancellable Deferred, and the core's discipline makes the
re-scheduling unnecessary.
"""

from __future__ import annotations

import contextlib
import logging
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

try:
    from twisted.internet import defer
    from twisted.internet.interfaces import IReadDescriptor
    from twisted.python.failure import Failure
    from zope.interface import implementer  # type: ignore[import-untyped]
except ModuleNotFoundError as _exc:  # pragma: no cover - exercised in a subprocess test
    from zloop._extras import MissingExtraError

    raise MissingExtraError("zloop.adapters.twisted", "twisted", "twisted", _exc) from _exc

from ._core import NOBLOCK, NOT_READY, POLLIN, POLLOUT, Op, Pending, Watcher
from ._wrapper import (
    AsyncConveniences,
    PollerItems,
    SocketWrapper,
    json_value,
)

if TYPE_CHECKING:
    from zloop.message import Frame
    from zloop.tracker import MessageTracker

__all__ = ["Context", "Poller", "Socket", "TwistedBackend"]

_FD = 14
_RCVTIMEO = 27
_SNDTIMEO = 28

_log = logging.getLogger("zloop.adapters.twisted")
_R = TypeVar("_R")


def _default_reactor() -> Any:
    from twisted.internet import reactor

    return reactor


# -- the core's primitives ----------------------------------------------------------------------------


@implementer(IReadDescriptor)
class _FdReader:
    """The reactor's view of one socket's FD: readable -> the core's refresh."""

    def __init__(self, fd: int, callback: Callable[[], None], backend: TwistedBackend) -> None:
        self.fd = fd
        self.callback = callback
        self.backend = backend

    def fileno(self) -> int:
        return self.fd

    def doRead(self) -> None:
        self.backend.run(self.callback)

    def connectionLost(self, reason: Any) -> None:
        """The reactor dropped the descriptor (it is not a connection: nothing to close)."""

    def logPrefix(self) -> str:
        return "zloop"


class TwistedBackend:
    """The core's :class:`~zloop.adapters._core.Backend` for one reactor (see :func:`backend`).

    Everything it runs from the reactor (a readable FD, the soon-queue) goes through :meth:`run`,
    which fires the Deferreds the core completed only after the core returned.
    """

    def __init__(self, reactor: Any) -> None:
        self.reactor = reactor
        self._readers: dict[int, _FdReader] = {}
        self._soon: deque[Callable[[], None]] = deque()
        self._soon_call: Any = None
        self._fire: deque[Any] = deque()
        self._running = 0
        self.watchers: dict[int, tuple[Any, Watcher]] = {}

    # -- Backend -------------------------------------------------------------------------------------

    def add_reader(self, fd: int, callback: Callable[[], None], /) -> None:
        """Call ``callback()`` from the loop whenever ``fd`` is readable, until :meth:`remove_reader`.

        Part of the core's ``Backend`` protocol (see :mod:`zloop.adapters._core`): the fd is watched by
        an ``IReadDescriptor`` added to the reactor.

        Args:
            fd: The socket's ``FD``.
            callback: Called without arguments, in the loop's thread.
        """
        reader = _FdReader(fd, callback, self)
        self._readers[fd] = reader
        self.reactor.addReader(reader)

    def remove_reader(self, fd: int, /) -> None:
        """Stop watching ``fd`` (harmless if it is not watched, or was closed meanwhile).

        Args:
            fd: The fd given to :meth:`add_reader`.
        """
        reader = self._readers.pop(fd, None)
        if reader is not None:
            with contextlib.suppress(OSError, ValueError, KeyError):  # fd closed meanwhile
                self.reactor.removeReader(reader)

    def call_soon(self, callback: Callable[[], None], /) -> None:
        """Run ``callback()`` soon from the reactor (``callLater(0, ...)``), never before this call returns.

        Args:
            callback: Called without arguments, in the loop's thread.
        """
        self._soon.append(callback)
        if self._soon_call is None:
            self._soon_call = self.reactor.callLater(0, self._drain)

    def create_waiter(self) -> _DeferredWaiter:
        """A new waiter for the current task, which the core completes with the operation's outcome.

        Returns:
            A ``Waiter`` (see :mod:`zloop.adapters._core`).
        """
        return _DeferredWaiter(self)

    # -- running and firing --------------------------------------------------------------------------

    def _drain(self) -> None:
        self._soon_call = None
        soon = self._soon
        self._running += 1
        try:
            while soon:
                try:
                    soon.popleft()()
                except Exception:
                    _log.exception("zloop twisted adapter: callback failed")
        finally:
            self._running -= 1
            if not self._running:
                self.flush()

    def run(self, callback: Callable[[], _R]) -> _R:
        """Call into the core; then fire what it completed."""
        self._running += 1
        try:
            return callback()
        finally:
            self._running -= 1
            if not self._running:
                self.flush()

    def completed(self, waiter: Any) -> None:
        """A waiter was completed by the core: fire it once the core returned."""
        self._fire.append(waiter)
        if not self._running:
            self.flush()

    def flush(self) -> None:
        """Fire the Deferreds of the operations the core completed, in the order they completed.

        Called when the core returns to the reactor (:meth:`run`, the ``call_soon`` callbacks), so a
        Deferred's callbacks never run inside the core. A failing callback is logged, not raised.
        """
        fire = self._fire
        while fire:
            try:
                fire.popleft().fire()
            except Exception:
                _log.exception("zloop twisted adapter: a callback failed")


_backends: weakref.WeakKeyDictionary[Any, TwistedBackend] = weakref.WeakKeyDictionary()


def backend(reactor: Any = None) -> TwistedBackend:
    """The backend of ``reactor`` (default: the global reactor), created on first use."""
    if reactor is None:
        reactor = _default_reactor()
    b = _backends.get(reactor)
    if b is None:
        b = _backends[reactor] = TwistedBackend(reactor)
    return b


def _watcher_for(sock: Any, reactor: Any = None) -> Watcher:
    """The one watcher of ``sock`` on ``reactor`` (shared by every wrapper and Poller)."""
    b = backend(reactor)
    entry = b.watchers.get(id(sock))
    if entry is not None and entry[0] is sock and not entry[1].closed:
        return entry[1]
    w = Watcher(sock, b)
    b.watchers[id(sock)] = (sock, w)
    return w


def _forget(sock: Any, w: Watcher) -> None:
    b = w.backend
    if isinstance(b, TwistedBackend):
        entry = b.watchers.get(id(sock))
        if entry is not None and entry[1] is w:
            del b.watchers[id(sock)]


#: The outcome of a receive whose Deferred was cancelled after the core had performed it: the
#: message went back to the socket, and the Deferred fails with CancelledError.
_Reclaimed = Exception("given back to the socket")


class _DeferredWaiter:
    """A core ``Waiter`` behind one Deferred; its canceller gives back what the core took."""

    __slots__ = ("_done", "backend", "deferred", "error", "pending", "value", "watcher")

    def __init__(self, backend: TwistedBackend) -> None:
        self.backend = backend
        self._done = False
        self.value: Any = None
        self.error: BaseException | None = None
        self.watcher: Watcher | None = None
        self.pending: Pending | None = None
        self.deferred: defer.Deferred[Any] = defer.Deferred(self._cancel)

    def done(self) -> bool:
        return self._done

    def set_result(self, value: Any, /) -> None:
        self._done = True
        self.value = value
        self.backend.completed(self)

    def set_exception(self, exc: BaseException, /) -> None:
        self._done = True
        self.error = exc
        self.backend.completed(self)

    def fire(self) -> None:
        d = self.deferred
        if d.called or self.error is _Reclaimed:
            return  # cancelled (and answered) before the core's result could be fired
        if self.error is not None:
            d.errback(_failure(self.error))
        else:
            d.callback(self.value)

    def _cancel(self, d: defer.Deferred[Any]) -> None:
        w, pending = self.watcher, self.pending
        if w is None or pending is None:
            return
        if not self._done:
            self._done = True
            w.cancel(pending)  # withdrawn: nothing happened; the Deferred fails with CancelledError
            return
        # Performed by the core, not fired yet (it is in the backend's queue). Cancel directly, not
        # through backend.run(): a flush there would fire this very Deferred before the reclaim
        # is answered with CancelledError, and the message would be both delivered and given back.
        if w.cancel(pending) == "reclaimed":
            self._done = True
            self.value = None
            self.error = _Reclaimed  # fire() skips it; Deferred.cancel errbacks CancelledError
            return
        self.fire()  # a send that went out (or a failure): report what happened


# -- the socket -------------------------------------------------------------------------------------


class Socket(AsyncConveniences, SocketWrapper, adapter="twisted"):
    """A Twisted socket over a zloop or pyzmq socket: operations return Deferreds. Other attributes
    are the wrapped socket's (``bind``, ``connect``, options...)."""

    #: Messages handed to the ``on_recv`` callback per reactor iteration, at most.
    batch = 64

    _reactor: Any
    _w: Watcher | None
    _recv_callback: Callable[[list[Any]], Any] | None
    _recv_copy: bool
    _recv_poll: Pending | None

    def __init__(self, sock: Any, reactor: Any = None) -> None:
        super().__init__(sock)
        self._reactor = reactor
        self._w = None
        self._recv_callback = None
        self._recv_copy = True
        self._recv_poll = None

    @classmethod
    def from_socket(cls, sock: Any, reactor: Any = None) -> Socket:
        """Wrap an existing zloop or pyzmq socket for ``reactor`` (default: the global one)."""
        return cls(cls._unwrap(sock), reactor)

    @property
    def reactor(self) -> Any:
        """The reactor this socket waits on."""
        if self._reactor is None:
            self._reactor = _default_reactor()
        return self._reactor

    def _watcher(self) -> Watcher:
        w = self._w
        if w is None or w.closed:
            if self._sock.closed:
                raise self._zmod.ZMQError(self._zmod.ENOTSOCK, "socket is closed")
            w = self._w = _watcher_for(self._sock, self.reactor)
        return w

    # -- the one pattern ---------------------------------------------------------------------------

    def _op(self, op: Op, flags: int, timeout_opt: int) -> defer.Deferred[Any]:
        try:
            w = self._watcher()
            b: TwistedBackend = w.backend  # type: ignore[assignment]
            value = w.now(op) if flags & NOBLOCK else w.attempt(op)
        except Exception:
            return defer.fail()
        if value is not NOT_READY:
            return defer.succeed(value)
        waiter = _DeferredWaiter(b)
        waiter.watcher = w
        pending = waiter.pending = w.wait(op, waiter)
        timeout = self._sock.getsockopt(timeout_opt)
        if timeout >= 0:
            again = self._zmod.Again

            def expire() -> None:
                if pending.queued:
                    waiter._done = True
                    w.cancel(pending)
                    waiter.deferred.errback(_failure(again()))

            timer = b.reactor.callLater(timeout / 1000, expire)
            waiter.deferred.addBoth(_cancel_timer, timer)
        return waiter.deferred

    def send(
        self, data: Any, flags: int = 0, copy: bool = True, track: bool = False
    ) -> defer.Deferred[MessageTracker | None]:
        """Send one frame (``SNDMORE`` in ``flags`` for more of the same message)."""
        return self._op(Op.send(data, flags, copy, track), flags, _SNDTIMEO)

    def send_multipart(
        self, msg_parts: Sequence[Any], flags: int = 0, copy: bool = True, track: bool = False
    ) -> defer.Deferred[MessageTracker | None]:
        """Send a whole message: all frames or (cancelled before it could go) none."""
        if isinstance(msg_parts, (bytes, str)) or not len(msg_parts):
            raise TypeError("send_multipart takes a non-empty sequence of frames")
        return self._op(Op.send_multipart(msg_parts, flags, copy, track), flags, _SNDTIMEO)

    @overload
    def recv(
        self, flags: int = 0, copy: Literal[True] = True, track: bool = False
    ) -> defer.Deferred[bytes]: ...

    @overload
    def recv(
        self, flags: int = 0, *, copy: Literal[False], track: bool = False
    ) -> defer.Deferred[Frame]: ...

    @overload
    def recv(
        self, flags: int, copy: Literal[False], track: bool = False
    ) -> defer.Deferred[Frame]: ...

    @overload
    def recv(
        self, flags: int = 0, copy: bool = True, track: bool = False
    ) -> defer.Deferred[bytes | Frame]: ...

    def recv(self, flags: int = 0, copy: bool = True, track: bool = False) -> defer.Deferred[Any]:
        """Receive one frame (bytes, or a Frame with ``copy=False``)."""
        return self._op(Op.recv(copy, track), flags, _RCVTIMEO)

    @overload
    def recv_multipart(
        self, flags: int = 0, copy: Literal[True] = True, track: bool = False
    ) -> defer.Deferred[list[bytes]]: ...

    @overload
    def recv_multipart(
        self, flags: int = 0, *, copy: Literal[False], track: bool = False
    ) -> defer.Deferred[list[Frame]]: ...

    @overload
    def recv_multipart(
        self, flags: int, copy: Literal[False], track: bool = False
    ) -> defer.Deferred[list[Frame]]: ...

    @overload
    def recv_multipart(
        self, flags: int = 0, copy: bool = True, track: bool = False
    ) -> defer.Deferred[list[bytes]] | defer.Deferred[list[Frame]]: ...

    def recv_multipart(
        self, flags: int = 0, copy: bool = True, track: bool = False
    ) -> defer.Deferred[list[Any]]:
        """Receive a whole message; a cancelled Deferred never takes (or splits) one."""
        return self._op(Op.recv_multipart(copy, track), flags, _RCVTIMEO)

    def poll(self, timeout: int | None = None, flags: int = POLLIN) -> defer.Deferred[int]:
        """A Deferred of the events in ``flags`` that are ready (0 when ``timeout`` ms passed first;
        None = no limit)."""
        try:
            w = self._watcher()
            ev = w.poll_now(flags)
        except Exception:
            return defer.fail()
        if ev or timeout == 0:
            return defer.succeed(ev)
        b: TwistedBackend = w.backend  # type: ignore[assignment]
        waiter = _DeferredWaiter(b)
        waiter.watcher = w
        pending = waiter.pending = w.wait_poll(flags, waiter)
        if timeout is not None and timeout > 0:

            def expire() -> None:
                if pending.queued:
                    waiter._done = True
                    w.cancel(pending)
                    waiter.deferred.callback(0)

            timer = b.reactor.callLater(timeout / 1000, expire)
            waiter.deferred.addBoth(_cancel_timer, timer)
        return waiter.deferred

    # -- conveniences returning Deferreds (the sends are AsyncConveniences') ------------------------

    def recv_string(self, flags: int = 0, encoding: str = "utf-8") -> defer.Deferred[str]:  # type: ignore[override]
        """Receive one frame and decode it to a ``str``.

        Args:
            flags: As for :meth:`recv`.
            encoding: The codec (UTF-8 by default).

        Returns:
            A Deferred of the text.
        """
        return self.recv(flags=flags).addCallback(lambda data: str(data.decode(encoding)))

    recv_unicode = recv_string  # type: ignore[assignment]

    def recv_json(self, flags: int = 0, **kwargs: Any) -> defer.Deferred[Any]:  # type: ignore[override]
        """Receive one frame of JSON (UTF-8) and decode it.

        Args:
            flags: As for :meth:`recv`.
            **kwargs: Passed to ``json.loads``.

        Returns:
            A Deferred of the decoded object.
        """
        return self.recv(flags=flags).addCallback(json_value, kwargs)

    def recv_pyobj(self, flags: int = 0) -> defer.Deferred[Any]:  # type: ignore[override]
        """Receive one frame and unpickle it (unpickling runs the sender's code: trusted peers only).

        Args:
            flags: As for :meth:`recv`.

        Returns:
            A Deferred of the object.
        """
        import pickle

        return self.recv(flags=flags).addCallback(pickle.loads)

    def recv_serialized(  # type: ignore[override]
        self, deserialize: Callable[[list[Any]], _R], flags: int = 0, copy: bool = True
    ) -> defer.Deferred[_R]:
        """Receive a message and turn it into an object.

        Args:
            deserialize: Called with the message's list of frames.
            flags: As for :meth:`recv_multipart`.
            copy: As for :meth:`recv_multipart`.

        Returns:
            A Deferred of what ``deserialize`` returns.
        """
        return self.recv_multipart(flags=flags, copy=copy).addCallback(deserialize)

    # -- on_recv ------------------------------------------------------------------------------------

    def on_recv(self, callback: Callable[[list[Any]], Any] | None, copy: bool = True) -> None:
        """Call ``callback(msg)`` (the list of frames) for every message; None stops."""
        self._recv_callback = callback
        self._recv_copy = copy
        self._arm_recv()

    def stop_on_recv(self) -> None:
        """Stop handing messages to the ``on_recv`` callback (at once; the rest stays queued)."""
        self.on_recv(None)

    def receiving(self) -> bool:
        """Is an :meth:`on_recv` callback set (messages are being handed to it)?"""
        return self._recv_callback is not None

    def _arm_recv(self) -> None:
        poll = self._recv_poll
        if self._recv_callback is None:
            if poll is not None and poll.queued:
                poll.waiter._done = True  # type: ignore[attr-defined]
                if self._w is not None:
                    self._w.cancel(poll)
            self._recv_poll = None
            return
        if poll is not None:
            return  # queued, or fired and about to be handled (it re-arms)
        w = self._watcher()
        self._recv_poll = w.wait_poll(POLLIN, _RecvStreamWaiter(self))

    def _handle_recv(self, waiter: _RecvStreamWaiter) -> None:
        poll = self._recv_poll
        if poll is None or poll.waiter is not waiter:
            return  # superseded
        self._recv_poll = None
        w = self._w
        try:
            for _ in range(self.batch):
                callback = self._recv_callback
                if callback is None or w is None or w.closed:
                    return
                try:
                    msg = w.attempt(Op.recv_multipart(self._recv_copy))
                except Exception:
                    _log.exception("zloop twisted adapter: receive failed on %r", self)
                    return
                if msg is NOT_READY:
                    break
                try:
                    result = callback(msg)
                    if isinstance(result, defer.Deferred):
                        result.addErrback(_log_failure)
                except Exception:
                    _log.exception("zloop twisted adapter: on_recv callback failed")
        finally:
            if w is not None and not w.closed and not self._sock.closed:
                self._arm_recv()

    # -- state and life cycle -----------------------------------------------------------------------

    def _watched_events(self) -> int | None:
        w = self._w
        return w.events() if w is not None and not w.closed else None

    def fileno(self) -> int:
        """The wrapped socket's ``FD`` (edge-triggered; the adapter watches it for you)."""
        return int(self._sock.getsockopt(_FD))

    def _release(self, error: str = "socket released while waiting") -> None:
        """Stop watching without closing the socket: waiting Deferreds fail with ENOTSOCK."""
        self._recv_callback = None
        self._recv_poll = None
        w = self._w
        self._w = None
        if w is None or w.closed:
            return
        zmod = self._zmod
        b: TwistedBackend = w.backend  # type: ignore[assignment]
        b.run(lambda: w.close(lambda: zmod.ZMQError(zmod.ENOTSOCK, error)))
        _forget(self._sock, w)

    def close(self, linger: int | None = None) -> None:
        """Fail waiting Deferreds (``ZMQError(ENOTSOCK)``), stop watching, close the socket."""
        self._release("socket closed while waiting")
        if not self._sock.closed:
            self._sock.close(linger=linger)


class _RecvStreamWaiter:
    """The poll waiter of an ``on_recv`` stream: handled after the refresh, from the reactor."""

    __slots__ = ("_done", "socket")

    def __init__(self, socket: Socket) -> None:
        self.socket = socket
        self._done = False

    def done(self) -> bool:
        return self._done

    def set_result(self, value: Any, /) -> None:
        self._done = True
        self.socket._w.backend.completed(self)  # type: ignore[union-attr]

    def set_exception(self, exc: BaseException, /) -> None:
        self._done = True  # the watcher closed: nothing more to hand over

    def fire(self) -> None:
        self.socket._handle_recv(self)


def _failure(exc: BaseException) -> Failure:
    return Failure(exc)  # type: ignore[no-untyped-call]


def _cancel_timer(result: Any, timer: Any) -> Any:
    if timer.active():
        timer.cancel()
    return result


def _log_failure(failure: Failure) -> None:
    _log.error("zloop twisted adapter: on_recv callback failed: %s", failure.getTraceback())


# -- polling and the context ----------------------------------------------------------------------------


class _GroupWaiter:
    """A poll waiter of one ``Poller.poll`` call: the first completion fires the call's Deferred."""

    __slots__ = ("_done", "backend", "group")

    def __init__(self, group: _PollCall) -> None:
        self.group = group
        self._done = False

    def done(self) -> bool:
        return self._done or self.group.finished

    def set_result(self, value: Any, /) -> None:
        self._done = True
        self.group.backend.completed(self.group)

    def set_exception(self, exc: BaseException, /) -> None:
        self._done = True
        self.group.error = exc
        self.group.backend.completed(self.group)


class _PollCall:
    def __init__(self, poller: Poller, backend: TwistedBackend, items: list[Any]) -> None:
        self.poller = poller
        self.backend = backend
        self.items = items
        self.finished = False
        self.error: BaseException | None = None
        self.pendings: list[tuple[Watcher, Pending]] = []
        self.timer: Any = None
        self.deferred: defer.Deferred[list[tuple[Any, int]]] = defer.Deferred(self._cancel)

    def _stop(self) -> None:
        self.finished = True
        for w, p in self.pendings:
            w.cancel(p)
        self.pendings = []
        if self.timer is not None and self.timer.active():
            self.timer.cancel()

    def fire(self) -> None:
        if self.finished:
            return
        if self.error is not None:
            self._stop()
            self.deferred.errback(_failure(self.error))
            return
        ready = self.poller._ready(self.items)
        if ready:
            self._stop()
            self.deferred.callback(ready)
            return
        self._stop()  # woken, but nothing is ready any more: wait again
        self.finished = False
        self.pendings = [(w, w.wait_poll(mask, _GroupWaiter(self))) for _, w, mask in self.items]

    def expire(self) -> None:
        if not self.finished:
            self.timer = None
            self._stop()
            self.deferred.callback([])

    def _cancel(self, d: Any) -> None:
        self._stop()


class Poller(PollerItems):
    """Like ``zmq.Poller`` with ``poll(timeout=None)`` (ms) returning a Deferred of the ready
    ``[(socket, events)]``; sockets only (zloop or pyzmq, wrapped or not). Level-triggered."""

    def __init__(self, reactor: Any = None) -> None:
        super().__init__()
        self._reactor = reactor

    def _check_item(self, socket: Any) -> None:
        if not hasattr(socket, "getsockopt"):
            raise TypeError("zloop.adapters.twisted.Poller polls zloop/pyzmq sockets only")

    def _items(self) -> list[tuple[Any, Watcher, int]]:
        out = []
        for s, mask in self.sockets:
            w = s._watcher() if isinstance(s, Socket) else _watcher_for(s, self._reactor)
            out.append((s, w, mask))
        return out

    @staticmethod
    def _ready(items: list[tuple[Any, Watcher, int]]) -> list[tuple[Any, int]]:
        return [(s, ev) for s, w, mask in items if (ev := w.poll_now(mask))]

    def poll(self, timeout: int | None = None) -> defer.Deferred[list[tuple[Any, int]]]:
        """Wait until registered sockets are ready, without blocking the reactor.

        Args:
            timeout: Milliseconds to wait at most; None or negative waits for ever, 0 does not wait.

        Returns:
            A Deferred of the ready ``(socket, events)`` pairs (level-triggered); an empty list on
            timeout. Cancelling the Deferred stops the wait.
        """
        try:
            items = self._items()
            ready = self._ready(items)
        except Exception:
            return defer.fail()
        if ready or not items or timeout == 0:
            return defer.succeed(ready)
        b: TwistedBackend = items[0][1].backend  # type: ignore[assignment]
        call = _PollCall(self, b, items)
        call.pendings = [(w, w.wait_poll(mask, _GroupWaiter(call))) for _, w, mask in items]
        if timeout is not None and timeout > 0:
            call.timer = b.reactor.callLater(timeout / 1000, call.expire)
        return call.deferred


class Context:
    """A context whose ``socket()`` returns Twisted :class:`Socket`\\ s on ``reactor`` (default: the
    global reactor). Wraps a zloop context by default; ``Context.shadow(ctx, reactor)`` wraps an
    existing zloop or pyzmq context."""

    def __init__(self, reactor: Any = None, io_threads: int = 1, *, context: Any = None) -> None:
        if context is None:
            import zloop

            context = zloop.Context(io_threads)
        self._ctx = context
        self._reactor = reactor
        self._sockets: weakref.WeakSet[Socket] = weakref.WeakSet()

    @classmethod
    def shadow(cls, context: Any, reactor: Any = None) -> Context:
        """Wrap an existing context, whose sockets this wrapper then makes Twisted sockets of.

        Args:
            context: A zloop or pyzmq context (or a wrapper of one).
            reactor: The reactor its sockets use (default: the global reactor).

        Returns:
            The new wrapper; the wrapped context is not copied, and destroying either destroys both.
        """
        return cls(reactor, context=context)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ctx, name)

    @property
    def context(self) -> Any:
        """The wrapped zloop or pyzmq context."""
        return self._ctx

    def socket(self, socket_type: int, **kwargs: Any) -> Socket:
        """Make a socket of the wrapped context and wrap it as a Twisted :class:`Socket`.

        Args:
            socket_type: A socket type (``zloop.PUSH``...).
            **kwargs: Passed to the wrapped context's ``socket()``.

        Returns:
            The new :class:`Socket`.
        """
        sock = Socket(self._ctx.socket(socket_type, **kwargs), self._reactor)
        self._sockets.add(sock)
        return sock

    def term(self) -> None:
        """Terminate the wrapped context (``zloop.Context.term``).

        It blocks the calling thread, loop included, until every socket is closed: close the sockets
        first, or use :meth:`destroy`.
        """
        self._ctx.term()

    def destroy(self, linger: int | None = None) -> None:
        """Close every socket (failing waiting Deferreds), then terminate."""
        for sock in list(self._sockets):
            if not sock.closed:
                sock.close(linger=linger)
        self._ctx.destroy(linger)

    def __enter__(self) -> Context:
        return self

    def __exit__(self, *exc: object) -> None:
        self.destroy()


_ = POLLOUT  # re-exported for users: ``ztwisted.POLLOUT``
