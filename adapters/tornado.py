"""tornado support: ``ZMQStream`` callbacks on the IOLoop, and awaitable sockets.

::

    from tornado.ioloop import IOLoop
    from zloop.adapters.tornado import ZMQStream

    stream = ZMQStream(rep_socket)                    # a zloop or pyzmq socket
    stream.on_recv_stream(lambda s, msg: s.send_multipart(msg))   # echo
    IOLoop.current().start()

:class:`ZMQStream` has the names and callback semantics of ``zmq.eventloop.zmqstream.ZMQStream``:
``on_recv(callback, copy=True)`` (``callback(msg)`` with the list of frames), ``on_recv_stream``
(``callback(stream, msg)``), ``on_send`` (``callback(msg, status)`` after each queued message went
out), ``on_send_stream``, ``send / send_multipart / send_string / send_json / send_pyobj`` (queued and
sent from the IOLoop; ``callback=`` becomes the ``on_send`` callback, as in pyzmq), ``flush``,
``stop_on_recv / stop_on_send``, ``receiving() / sending()``, ``close / closed() /
set_close_callback``; other attributes (``bind``, ``connect``, ``setsockopt`` ...) are the socket's.

tornado 6 runs on asyncio, so the stream uses the asyncio adapter's watcher of the socket (one per
socket and loop, shared with awaitable sockets and asyncio Pollers on it) and the core's poll
waiters: when the socket is ready, the stream handles messages from a loop callback — receiving
through the core (never around it) and calling ``on_recv`` for each, stopping at once when
``stop_on_recv()`` or ``close()`` is called inside a callback (messages not yet received stay in
the socket). A callback that raises is logged (``tornado.application``) and the stream goes on.
:class:`Socket` and :class:`Poller` are the asyncio adapter's and :class:`Context` makes them,
for ``async def`` handlers: the counterpart of ``zmq.eventloop.future``. Every operation returns a
Future registered at the call (tornado 6's ``Future`` *is* ``asyncio.Future``), with the semantics
described in :mod:`zloop.adapters.asyncio`.

Differences from pyzmq: ``zmq.eventloop.future``'s Futures turn ``cancel()`` into an exception of
its own ``CancelledError`` class (a relic of tornado 4, whose Futures could not be cancelled);
here ``cancel()`` is asyncio's (``cancelled()`` is true in both) and ``CancelledError`` is
``asyncio.CancelledError``, so ``except CancelledError`` still catches it. ``flush(POLLIN)`` without an ``on_recv`` callback does not receive (pyzmq's
discards the messages); the stream handles up to ``ZMQStream.batch`` messages per direction per
loop iteration (pyzmq one), then yields to the loop; as the stream reads the socket's attributes
(``stream.linger``), writing an option attribute sets the socket's option (``stream.linger = 0``;
pyzmq's stream keeps it as its own attribute, which changes nothing) while any other attribute
is the stream's own, as in pyzmq.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import pickle
import warnings
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import zloop
from zloop._extras import MissingExtraError

try:
    import tornado.ioloop
except ModuleNotFoundError as exc:
    raise MissingExtraError(__name__, "tornado", "tornado", exc) from exc

from . import asyncio as _aio
from ._core import NOT_READY, POLLIN, POLLOUT, Op, Pending, Watcher
from .asyncio import Context as _AsyncioContext
from .asyncio import Poller, Socket

__all__ = ["CancelledError", "Context", "Poller", "Socket", "ZMQStream"]

#: What a cancelled Future raises (pyzmq's ``zmq.eventloop.future.CancelledError``; see above).
CancelledError = asyncio.CancelledError


class Context(_AsyncioContext):
    """``zmq.eventloop.future.Context``: ``socket()`` returns :class:`Socket` objects (Futures).
    Accepts pyzmq's deprecated ``io_loop`` argument (ignored, with a DeprecationWarning)."""

    _instance: ClassVar[zloop.Context | None] = None
    _instance_pid: ClassVar[int] = 0

    def __init__(self, io_threads: int = 1, **kwargs: Any) -> None:
        if kwargs.pop("io_loop", None) is not None:
            warnings.warn(
                f"{type(self).__name__}(io_loop) is deprecated in pyzmq 22.2 and ignored here: "
                "the running loop is always used.",
                DeprecationWarning,
                stacklevel=2,
            )
        super().__init__(io_threads, **kwargs)


_log = logging.getLogger("tornado.application")


class _StreamWaiter:
    """A core poll waiter that runs the stream's handler from a loop callback (never inside refresh)."""

    __slots__ = ("_done", "stream")

    def __init__(self, stream: ZMQStream) -> None:
        self.stream = stream
        self._done = False

    def done(self) -> bool:
        return self._done

    def set_result(self, value: Any, /) -> None:
        self._done = True
        self.stream._loop.call_soon(self.stream._handle_events, self)

    def set_exception(self, exc: BaseException, /) -> None:
        self._done = True
        self.stream._loop.call_soon(self.stream._handle_error, self, exc)


#: Socket option attributes (``linger``, ``RCVTIMEO``, ``hwm``, ``subscribe`` ...).
_OPTION_ATTRIBUTES = frozenset(
    name for upper in zloop.SocketOption.__members__ for name in (upper, upper.lower())
) | {"hwm", "subscribe", "unsubscribe"}


class ZMQStream:
    """A callback stream over a zloop or pyzmq socket on a tornado IOLoop (see the module docstring)."""

    #: Messages handled per direction per loop iteration before yielding to other work.
    batch = 64

    def __init__(self, socket: Any, io_loop: Any = None) -> None:
        if isinstance(socket, Socket):
            socket = socket.socket
        self.socket: Any = socket
        self.io_loop = io_loop or tornado.ioloop.IOLoop.current()
        self._loop: asyncio.AbstractEventLoop = getattr(self.io_loop, "asyncio_loop")  # noqa: B009
        self._watcher: Watcher | None = _aio._watcher_for(socket, self._loop)
        self._recv_callback: Callable[[list[Any]], Any] | None = None
        self._recv_copy = True
        self._send_callback: Callable[[list[Any], Any], Any] | None = None
        self._close_callback: Callable[[], Any] | None = None
        self._send_queue: deque[tuple[list[Any], dict[str, Any]]] = deque()
        self._poll: Pending | None = None
        # Its waiter, kept here: the asyncio watcher's Pending lets go of a finished waiter.
        self._poll_waiter: _StreamWaiter | None = None

    def __getattr__(self, name: str) -> Any:
        socket = self.__dict__.get("socket")
        if socket is None:
            raise AttributeError(name)
        return getattr(socket, name)

    def __setattr__(self, name: str, value: Any) -> None:
        socket = self.__dict__.get("socket") if name in _OPTION_ATTRIBUTES else None
        if socket is not None:
            setattr(socket, name, value)  # read through __getattr__: written there too
        else:
            object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        return f"<zloop.adapters.tornado.ZMQStream {self.socket!r}>"

    # -- callbacks -----------------------------------------------------------------------------------

    def on_recv(self, callback: Callable[[list[Any]], Any] | None, copy: bool = True) -> None:
        """Call ``callback(msg)`` for every message received (None stops receiving)."""
        self._check_closed()
        if callback is not None and not callable(callback):  # pyzmq asserts it
            raise AssertionError(f"on_recv takes a callable or None, not {callback!r}")
        self._recv_callback = callback
        self._recv_copy = copy
        self._update()

    def on_recv_stream(
        self, callback: Callable[[ZMQStream, list[Any]], Any] | None, copy: bool = True
    ) -> None:
        """Like :meth:`on_recv`, with ``callback(stream, msg)``."""
        if callback is None:
            self.stop_on_recv()
        else:
            cb = callback
            self.on_recv(lambda msg: cb(self, msg), copy=copy)

    def on_send(self, callback: Callable[[list[Any], Any], Any] | None) -> None:
        """Call ``callback(msg, status)`` after each message went out (status: what send returned,
        or the error it raised)."""
        self._check_closed()
        if callback is not None and not callable(callback):  # pyzmq asserts it
            raise AssertionError(f"on_send takes a callable or None, not {callback!r}")
        self._send_callback = callback

    def on_send_stream(self, callback: Callable[[ZMQStream, list[Any], Any], Any] | None) -> None:
        """Like :meth:`on_send`, with ``callback(stream, msg, status)``.

        Args:
            callback: Called after each message went out; None stops.
        """
        if callback is None:
            self.stop_on_send()
        else:
            cb = callback
            self.on_send(lambda msg, status: cb(self, msg, status))

    def stop_on_recv(self) -> None:
        """Stop handing received messages to the :meth:`on_recv` callback (they stay in the socket)."""
        self.on_recv(None)

    def stop_on_send(self) -> None:
        """Stop calling the :meth:`on_send` callback (queued messages are still sent)."""
        self.on_send(None)

    def set_close_callback(self, callback: Callable[[], Any] | None) -> None:
        """Call ``callback()`` when the stream is closed (None removes it).

        Args:
            callback: Called without arguments.
        """
        self._close_callback = callback

    def receiving(self) -> bool:
        """Is an :meth:`on_recv` callback set?"""
        return self._recv_callback is not None

    def sending(self) -> bool:
        """Are messages queued, waiting for the socket to be writable?"""
        return bool(self._send_queue)

    # -- sending -------------------------------------------------------------------------------------

    def send(
        self,
        msg: Any,
        flags: int = 0,
        copy: bool = True,
        track: bool = False,
        callback: Callable[[list[Any], Any], Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Queue a one-frame message (see :meth:`send_multipart`)."""
        self.send_multipart([msg], flags=flags, copy=copy, track=track, callback=callback, **kwargs)

    def send_multipart(
        self,
        msg_parts: Sequence[Any],
        flags: int = 0,
        copy: bool = True,
        track: bool = False,
        callback: Callable[[list[Any], Any], Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Queue a message; the IOLoop sends it when the socket is writable, then calls ``on_send``.
        ``callback``, if given, becomes the stream's ``on_send`` callback (as in pyzmq)."""
        self._check_closed()
        self._send_queue.append(
            (list(msg_parts), {"flags": flags, "copy": copy, "track": track, "parts": msg_parts})
        )
        if callback is not None:
            self._send_callback = callback
        self._update()

    def send_string(
        self,
        u: str,
        flags: int = 0,
        encoding: str = "utf-8",
        callback: Callable[[list[Any], Any], Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Queue a ``str`` as a one-frame message, encoded.

        Args:
            u: The text.
            flags: As for :meth:`send`.
            encoding: The codec (UTF-8 by default).
            callback: If given, becomes the stream's ``on_send`` callback (as in pyzmq).
            **kwargs: Passed to :meth:`send`.

        Raises:
            TypeError: If ``u`` is not a ``str``.
        """
        if not isinstance(u, str):
            raise TypeError("unicode/str objects only")
        self.send(u.encode(encoding), flags=flags, callback=callback, **kwargs)

    send_unicode = send_string

    def send_json(
        self,
        obj: Any,
        flags: int = 0,
        callback: Callable[[list[Any], Any], Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Queue an object as a one-frame message of JSON (UTF-8).

        Args:
            obj: What ``json.dumps`` accepts.
            flags: As for :meth:`send`.
            callback: If given, becomes the stream's ``on_send`` callback (as in pyzmq).
            **kwargs: Passed to :meth:`send`.
        """
        self.send(json.dumps(obj).encode("utf-8"), flags=flags, callback=callback, **kwargs)

    def send_pyobj(
        self,
        obj: Any,
        flags: int = 0,
        protocol: int = -1,
        callback: Callable[[list[Any], Any], Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Queue a picklable object as a one-frame pickled message (trusted peers only).

        Args:
            obj: The object.
            flags: As for :meth:`send`.
            protocol: The pickle protocol (-1: the highest).
            callback: If given, becomes the stream's ``on_send`` callback (as in pyzmq).
            **kwargs: Passed to :meth:`send`.
        """
        self.send(pickle.dumps(obj, protocol), flags=flags, callback=callback, **kwargs)

    # -- the handler ---------------------------------------------------------------------------------

    def _mask(self) -> int:
        return (POLLIN if self._recv_callback is not None else 0) | (
            POLLOUT if self._send_queue else 0
        )

    def _update(self) -> None:
        """Make the pending poll waiter match what the stream wants (or drop it)."""
        w = self._watcher
        if w is None or w.closed:
            return
        mask = self._mask()
        poll = self._poll
        if poll is not None:
            if poll.queued and poll.mask == mask:
                return
            waiter = self._poll_waiter
            if waiter is not None and not waiter._done:
                waiter._done = True
                w.cancel(poll)
                self._poll = self._poll_waiter = None
            elif not poll.queued:
                # Fired: its handler is scheduled and will re-register.
                return
        if mask:
            waiter = self._poll_waiter = _StreamWaiter(self)
            self._poll = w.wait_poll(mask, waiter)

    def _run_callback(self, callback: Callable[..., Any], *args: Any) -> None:
        try:
            result = callback(*args)
            if inspect.isawaitable(result):
                future = asyncio.ensure_future(result)
                future.add_done_callback(_log_future_error)
        except Exception:
            _log.error("Uncaught exception in ZMQStream callback", exc_info=True)

    def _recv_one(self) -> bool:
        w = self._watcher
        if w is None or w.closed or self._recv_callback is None:
            return False
        try:
            msg = w.attempt(Op.recv_multipart(self._recv_copy))
        except Exception:
            _log.error("RECV error on %r", self, exc_info=True)
            return False
        if msg is NOT_READY:
            return False
        callback = self._recv_callback
        if callback is not None:
            self._run_callback(callback, msg)
        return True

    def _send_one(self) -> bool:
        w = self._watcher
        if w is None or w.closed or not self._send_queue:
            return False
        msg, kwargs = self._send_queue[0]
        status: Any
        try:
            status = w.attempt(
                Op.send_multipart(msg, kwargs["flags"], kwargs["copy"], kwargs["track"])
            )
        except Exception as exc:
            _log.error("SEND error on %r: %s", self, exc)
            status = exc
        if status is NOT_READY:
            return False
        self._send_queue.popleft()
        callback = self._send_callback
        if callback is not None:
            self._run_callback(callback, msg, status)
        return True

    def _handle_events(self, waiter: _StreamWaiter) -> None:
        if self._poll is None or self._poll_waiter is not waiter:
            return  # superseded
        self._poll = self._poll_waiter = None
        try:
            for _ in range(self.batch):
                if not self._recv_one():
                    break
            for _ in range(self.batch):
                if not self._send_one():
                    break
        finally:
            self._update()

    def _discard_queued(self, msg_parts: Any) -> bool:
        """Remove the still-queued message sent as the object ``msg_parts`` (a zloop extension for
        callers that cancel a send: it is then sent not at all). False if it already went out."""
        for i, (_, kwargs) in enumerate(self._send_queue):
            if kwargs["parts"] is msg_parts:
                del self._send_queue[i]
                self._update()
                return True
        return False

    def _handle_error(self, waiter: _StreamWaiter, exc: BaseException) -> None:
        if self._poll is not None and self._poll_waiter is waiter:
            self._poll = self._poll_waiter = None
        if self.socket is not None and not self.socket.closed:
            _log.error("ZMQStream %r: socket error %s", self, exc)

    def flush(self, flag: int = POLLIN | POLLOUT, limit: int | None = None) -> int:
        """Handle pending messages now, from the caller: receive (to ``on_recv``) while the socket has
        any and send the queue while it is writable, up to ``limit`` events. Returns how many."""
        count = 0
        while limit is None or count < limit:
            progressed = False
            if flag & POLLIN and self._recv_one():
                count += 1
                progressed = True
            if flag & POLLOUT and (limit is None or count < limit) and self._send_one():
                count += 1
                progressed = True
            if not progressed or self.closed():
                break
        self._update()
        return count

    # -- life cycle ----------------------------------------------------------------------------------

    def _check_closed(self) -> None:
        if self.socket is None:
            raise OSError("Stream is closed")

    def closed(self) -> bool:
        """Is the stream closed? A stream whose socket was closed under it is closed too (and tidied up)."""
        if self.socket is None:
            return True
        if self.socket.closed:
            self.close()  # closed under us: tidy up, as pyzmq does
            return True
        return False

    def _release(self) -> None:
        """Stop watching and forget the socket without closing it (no close callback)."""
        socket = self.socket
        if socket is None:
            return
        self._detach(socket)
        self.socket = None
        self._send_queue.clear()

    def _detach(self, socket: Any) -> None:
        w = self._watcher
        if self._poll is not None and w is not None and not w.closed:
            waiter = self._poll_waiter
            if waiter is not None:
                waiter._done = True
            w.cancel(self._poll)
        self._poll = self._poll_waiter = None
        if w is not None:
            w.close()
            _aio._forget(socket, w)
        self._watcher = None

    def close(self, linger: int | None = None) -> None:
        """Stop watching and close the socket (queued, unsent messages are dropped)."""
        socket = self.socket
        if socket is None:
            return
        self._detach(socket)
        if not socket.closed:
            socket.close(linger=linger)
        self.socket = None
        self._send_queue.clear()
        if self._close_callback is not None:
            self._run_callback(self._close_callback)


def _log_future_error(future: asyncio.Future[Any]) -> None:
    if not future.cancelled() and future.exception() is not None:
        _log.error("Uncaught exception in ZMQStream callback", exc_info=future.exception())
