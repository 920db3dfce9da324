"""anyio support: awaitable zloop (or pyzmq) sockets on asyncio *and* trio, shaped like ``zmq.asyncio``.

::

    import anyio, zloop
    from zloop.adapters.anyio import Context

    async def main():
        ctx = Context()
        pull = ctx.socket(zloop.PULL)
        pull.bind("tcp://127.0.0.1:5555")
        async with anyio.create_task_group() as tg:
            ...
            with anyio.move_on_after(1):
                msg = await pull.recv_multipart()   # nothing lost if the timeout wins

    anyio.run(main)                       # or anyio.run(main, backend="trio")

* ``Context`` (``socket()`` returns anyio :class:`Socket`\\ s; ``Context.shadow(ctx)`` wraps a zloop
  or pyzmq context), :class:`Socket` (``Socket.from_socket(existing)`` wraps a zloop **or pyzmq**
  socket), :class:`Poller`, and :func:`pump`, which feeds a socket's messages into an anyio memory
  object stream.
* ``await send / recv / send_multipart / recv_multipart / poll`` and pyzmq's conveniences
  (``send_string / recv_string / send_json / recv_json / send_pyobj / recv_pyobj / send_serialized
  / recv_serialized``, the ``_unicode`` aliases, zmq.asyncio's signatures); ``async for msg in sock``.
* **Every call is a checkpoint**, as anyio's own streams: it yields once before touching the socket
  (so a cancelled scope is honoured, and a busy socket cannot starve other tasks); once the
  operation was performed, the call returns without another checkpoint, so a cancellation can never
  land between taking a message and returning it.
* **Cancel scopes** (``move_on_after``, ``fail_after``, ``CancelScope.cancel()``) cancel a waiting call
  without losing or splitting a message; a cancelled ``send_multipart`` sends all frames or none.
  If the operation completed in the same instant as the cancellation, the call returns its result
  (the scope's cancellation is delivered at the next checkpoint, as anyio does): an operation either
  happened and returns, or did not happen and raises. ``RCVTIMEO`` / ``SNDTIMEO`` (ms) raise
  ``Again``. ``close()`` wakes every waiting task with :class:`anyio.ClosedResourceError`.

How it waits (no backend switch, no background task)
----------------------------------------------------
The readiness discipline itself is :mod:`zloop.adapters._core`'s (read its theory of operation);
this module supplies its primitives with anyio's own API only: ``anyio.wait_readable`` on the
socket's FD, ``anyio.Event``, ``anyio.CancelScope``, ``anyio.notify_closing``. anyio has no way to
start a task outside a task group, so the fd is watched by the **waiting tasks themselves**:

* Of the tasks waiting on one socket, one *leads*: it sits in ``wait_readable(fd)`` (anyio allows
  one reader per fd) and, when the fd fires, runs the core's refresh, which performs every queued
  operation it can and completes their waiters. The others wait on an ``anyio.Event`` of their own.
* When the leader's own operation completes, or it is cancelled, it hands the fd to the next
  waiting task of that socket (sets its event), so a socket with waiters always has a leader.
* The core's ``call_soon`` (a refresh after an operation that may have consumed the fd's signal)
  runs in the calling task right after the core returns when the call came from this module, and
  otherwise wakes a waiting task (or interrupts the leader's ``wait_readable`` through its cancel
  scope) to run it. Arming and disarming cost no syscall: the fd is registered with the loop only
  while a leader waits on it.

``wait_readable`` works on every anyio backend, including asyncio's ``ProactorEventLoop`` on Windows
(anyio runs a selector thread there; not tested here). A socket must not be watched by this
adapter and another one (``zloop.adapters.trio``) in the same run: both would wait on its fd.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, overload

try:
    import anyio
    import anyio.lowlevel
except ModuleNotFoundError as _exc:  # pragma: no cover - exercised in a subprocess test
    from zloop._extras import MissingExtraError

    raise MissingExtraError("zloop.adapters.anyio", "anyio", "anyio", _exc) from _exc

from ._core import NOT_READY, POLLIN, POLLOUT, Op, Pending, Watcher
from ._wrapper import AsyncConveniences, PollerItems, SocketWrapper

if TYPE_CHECKING:
    from zloop.message import Frame
    from zloop.tracker import MessageTracker

__all__ = ["AnyioBackend", "Context", "Poller", "Socket", "pump"]

NOBLOCK = 1
_FD = 14
_RCVTIMEO = 27
_SNDTIMEO = 28

_log = logging.getLogger("zloop.adapters.anyio")


class _Waiter:
    """A core ``Waiter`` for one waiting task: the outcome, and the event the task sleeps on."""

    __slots__ = ("_done", "error", "event", "lead_scope", "value")

    def __init__(self) -> None:
        self._done = False
        self.value: Any = None
        self.error: BaseException | None = None
        self.event: anyio.Event | None = None  # set while the task sleeps on it
        self.lead_scope: anyio.CancelScope | None = None  # set while the task leads the fd

    def done(self) -> bool:
        return self._done

    def set_result(self, value: Any, /) -> None:
        self._done = True
        self.value = value
        self.wake()

    def set_exception(self, exc: BaseException, /) -> None:
        self._done = True
        self.error = exc
        self.wake()

    def wake(self) -> None:
        event = self.event
        if event is not None:
            self.event = None
            event.set()
        elif self.lead_scope is not None:
            # Completed by another task's refresh while leading: stop waiting on the fd.
            self.lead_scope.cancel()


class _Fd:
    """One watched fd: whether the core wants it watched, and which waiting task leads."""

    __slots__ = ("armed", "callback", "fd", "leader", "parked", "scope")

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.callback: Callable[[], None] | None = None
        self.armed = False
        self.leader: _Waiter | None = None
        self.scope: anyio.CancelScope | None = None  # the leader's wait_readable, to interrupt it
        self.parked: dict[_Waiter, None] = {}  # tasks sleeping on their event, in arrival order

    def wake_one(self) -> bool:
        """Wake the longest-waiting parked task (it leads or runs soon-callbacks). False if none."""
        for waiter in self.parked:
            del self.parked[waiter]
            waiter.wake()
            return True
        return False


class AnyioBackend:
    """The core's :class:`~zloop.adapters._core.Backend` for one anyio run (see :func:`backend`)."""

    def __init__(self) -> None:
        self._soon: deque[Callable[[], None]] = deque()
        self._fds: dict[int, _Fd] = {}
        self._quiet = 0  # > 0 while this module calls the core: it runs soon-callbacks itself
        self._kicked = False
        self.watchers: dict[int, Watcher] = {}

    # -- Backend -------------------------------------------------------------------------------------

    def add_reader(self, fd: int, callback: Callable[[], None], /) -> None:
        """Call ``callback()`` from the loop whenever ``fd`` is readable, until :meth:`remove_reader`.

        Part of the core's ``Backend`` protocol (see :mod:`zloop.adapters._core`): the fd is watched by
        a task of the anyio run that waits with ``anyio.wait_readable``.

        Args:
            fd: The socket's ``FD``.
            callback: Called without arguments, in the loop's thread.
        """
        st = self._fds.get(fd)
        if st is None:
            st = self._fds[fd] = _Fd(fd)
        st.callback = callback
        st.armed = True
        if st.leader is None:
            st.wake_one()

    def remove_reader(self, fd: int, /) -> None:
        """Stop watching ``fd`` (harmless if it is not watched, or was closed meanwhile).

        Args:
            fd: The fd given to :meth:`add_reader`.
        """
        st = self._fds.get(fd)
        if st is not None:
            st.armed = False
            if st.scope is not None:
                st.scope.cancel()

    def call_soon(self, callback: Callable[[], None], /) -> None:
        """Run ``callback()`` soon from the run's callback task, never before this call returns.

        Args:
            callback: Called without arguments, in the loop's thread.
        """
        self._soon.append(callback)
        if not self._quiet and not self._kicked:
            self._kick()

    def create_waiter(self) -> _Waiter:
        """A new waiter for the current task, which the core completes with the operation's outcome.

        Returns:
            A ``Waiter`` (see :mod:`zloop.adapters._core`).
        """
        return _Waiter()

    # -- internals -----------------------------------------------------------------------------------

    def _kick(self) -> None:
        """Make some task of ours run the soon-callbacks: wake a parked one, else interrupt a leader."""
        for st in self._fds.values():
            if st.wake_one():
                self._kicked = True
                return
        for st in self._fds.values():
            if st.scope is not None:
                st.scope.cancel()
                self._kicked = True
                return
        # Nobody waits at all: the callbacks only matter to waiters, and the next one runs them.

    def run_soon(self) -> None:
        """Run the queued soon-callbacks (the core's refreshes) now."""
        self._kicked = False
        soon = self._soon
        while soon:
            try:
                soon.popleft()()
            except Exception:
                _log.exception("zloop anyio adapter: callback failed")

    def forget(self, fd: int) -> None:
        """The socket behind ``fd`` is going away: unregister the fd from the loop now."""
        st = self._fds.pop(fd, None)
        if st is not None:
            st.armed = False
            if st.leader is not None:
                # Ends the leader's wait_readable at once (ClosedResourceError) and removes the fd
                # from the loop before the socket closes it.
                try:
                    anyio.notify_closing(fd)
                except Exception:  # not inside the run (close() from elsewhere)
                    if st.scope is not None:
                        st.scope.cancel()
            for waiter in list(st.parked):
                waiter.wake()
            st.parked.clear()

    async def park(self, w: Watcher, pending: Pending, waiter: _Waiter) -> Any:
        """Wait (leading the fd when nobody does) until ``waiter`` completes; its value, or raise.

        On cancellation the queued operation is withdrawn (nothing happened) and the cancellation
        propagates; if it had completed in the same instant, its result is returned instead.
        """
        st = self._fds.get(w.fd)
        if st is None:  # the watcher was closed or released meanwhile
            st = _Fd(w.fd)
        cancelled = anyio.get_cancelled_exc_class()
        try:
            while True:
                if self._soon:
                    self.run_soon()
                if waiter._done:
                    break
                if st.armed and st.leader is None:
                    await self._lead(st, waiter)
                    continue
                event = waiter.event = anyio.Event()
                st.parked[waiter] = None
                try:
                    await event.wait()
                finally:
                    st.parked.pop(waiter, None)
                    waiter.event = None
        except cancelled:
            if not waiter._done:
                waiter._done = True
                w.cancel(pending)
                raise
            if waiter.error is not None:
                raise waiter.error from None
            return waiter.value  # it happened: report it (the scope cancels at the next checkpoint)
        finally:
            if st.armed and st.leader is None and st.parked:
                st.wake_one()  # hand the fd to the next waiting task
            if self._soon:
                self.run_soon()  # e.g. woken to run them, then cancelled: run them here
        if waiter.error is not None:
            raise waiter.error
        return waiter.value

    async def _lead(self, st: _Fd, waiter: _Waiter) -> None:
        """Wait for ``st.fd`` to become readable, then run the core's callback (a refresh)."""
        st.leader = waiter
        readable = False
        try:
            with anyio.CancelScope() as scope:
                st.scope = waiter.lead_scope = scope
                if not waiter._done:
                    await anyio.wait_readable(st.fd)
                    readable = True
        except anyio.ClosedResourceError:
            pass  # notify_closing: the socket is being closed or released
        finally:
            st.scope = waiter.lead_scope = None
            st.leader = None
        if readable and st.armed and st.callback is not None:
            st.callback()


_BACKEND: anyio.lowlevel.RunVar[AnyioBackend] = anyio.lowlevel.RunVar("zloop_anyio_backend")


def backend() -> AnyioBackend:
    """The backend of the current anyio run (created on first use). RuntimeError outside a run."""
    try:
        return _BACKEND.get()
    except LookupError:
        b = AnyioBackend()
        _BACKEND.set(b)
        return b


def _watcher_for(sock: Any) -> Watcher:
    """The one watcher of ``sock`` in this run (shared by every wrapper and Poller of the socket)."""
    b = backend()
    fd = int(sock.getsockopt(_FD))
    w = b.watchers.get(fd)
    if w is None or w.socket is not sock or w.closed:
        if w is not None and w.socket is not sock:
            # The fd number was reused: the previous socket was closed behind our back.
            w.close(lambda: anyio.ClosedResourceError("socket was closed"))
            b.forget(fd)
        w = Watcher(sock, b)
        b.watchers[fd] = w
    return w


class Socket(AsyncConveniences, SocketWrapper, adapter="anyio"):
    """An anyio socket over a zloop or pyzmq socket. Other attributes are the wrapped socket's.

    ``send_string`` ... ``recv_pyobj``, ``from_socket``, ``getsockopt``/``EVENTS``: see
    :mod:`zloop.adapters._wrapper`; the awaitable operations are below."""

    _w: Watcher | None

    def __init__(self, sock: Any) -> None:
        super().__init__(sock)
        self._w = None

    def _watcher(self) -> Watcher:
        w = self._w
        if w is None or w.closed or w.backend is not backend():
            if self._sock.closed:
                raise anyio.ClosedResourceError("socket is closed")
            w = self._w = _watcher_for(self._sock)
        return w

    # -- the one pattern ---------------------------------------------------------------------------

    async def _op(self, op: Op, flags: int, timeout_opt: int) -> Any:
        await anyio.lowlevel.checkpoint()
        w = self._watcher()
        b: AnyioBackend = w.backend  # type: ignore[assignment]
        b._quiet += 1
        try:
            value = w.now(op) if flags & NOBLOCK else w.attempt(op)
            if value is NOT_READY:
                waiter = _Waiter()
                pending = w.wait(op, waiter)
        finally:
            b._quiet -= 1
        if value is not NOT_READY:
            if b._soon:
                b.run_soon()
            return value
        timeout = self._sock.getsockopt(timeout_opt)
        if timeout < 0:
            return await b.park(w, pending, waiter)
        with anyio.move_on_after(timeout / 1000):
            return await b.park(w, pending, waiter)
        raise self._zmod.Again()

    async def send(
        self, data: Any, flags: int = 0, copy: bool = True, track: bool = False
    ) -> MessageTracker | None:
        """Send one frame (``SNDMORE`` in ``flags`` for more of the same message)."""
        tracker: MessageTracker | None = await self._op(
            Op.send(data, flags, copy, track), flags, _SNDTIMEO
        )
        return tracker

    async def send_multipart(
        self, msg_parts: Any, flags: int = 0, copy: bool = True, track: bool = False
    ) -> MessageTracker | None:
        """Send a whole message: all frames, or (cancelled before it could go) none."""
        if isinstance(msg_parts, (bytes, str)) or not len(msg_parts):
            raise TypeError("send_multipart takes a non-empty sequence of frames")
        tracker: MessageTracker | None = await self._op(
            Op.send_multipart(msg_parts, flags, copy, track), flags, _SNDTIMEO
        )
        return tracker

    @overload
    async def recv(
        self, flags: int = 0, copy: Literal[True] = True, track: bool = False
    ) -> bytes: ...

    @overload
    async def recv(self, flags: int = 0, *, copy: Literal[False], track: bool = False) -> Frame: ...

    @overload
    async def recv(self, flags: int, copy: Literal[False], track: bool = False) -> Frame: ...

    @overload
    async def recv(
        self, flags: int = 0, copy: bool = True, track: bool = False
    ) -> bytes | Frame: ...

    async def recv(self, flags: int = 0, copy: bool = True, track: bool = False) -> Any:
        """Receive one frame (bytes, or a Frame with ``copy=False``)."""
        return await self._op(Op.recv(copy, track), flags, _RCVTIMEO)

    @overload
    async def recv_multipart(
        self, flags: int = 0, copy: Literal[True] = True, track: bool = False
    ) -> list[bytes]: ...

    @overload
    async def recv_multipart(
        self, flags: int = 0, *, copy: Literal[False], track: bool = False
    ) -> list[Frame]: ...

    @overload
    async def recv_multipart(
        self, flags: int, copy: Literal[False], track: bool = False
    ) -> list[Frame]: ...

    @overload
    async def recv_multipart(
        self, flags: int = 0, copy: bool = True, track: bool = False
    ) -> list[bytes] | list[Frame]: ...

    async def recv_multipart(
        self, flags: int = 0, copy: bool = True, track: bool = False
    ) -> list[Any]:
        """Receive a whole message; a cancelled call never takes (or splits) one."""
        result: list[Any] = await self._op(Op.recv_multipart(copy, track), flags, _RCVTIMEO)
        return result

    async def poll(self, timeout: int | None = None, flags: int = POLLIN) -> int:
        """Events in ``flags`` that are ready (0 when ``timeout`` ms passed first; None = forever)."""
        await anyio.lowlevel.checkpoint()
        w = self._watcher()
        b: AnyioBackend = w.backend  # type: ignore[assignment]
        b._quiet += 1
        try:
            ev = w.poll_now(flags)
            if not ev and timeout != 0:
                waiter = _Waiter()
                pending = w.wait_poll(flags, waiter)
        finally:
            b._quiet -= 1
        if ev or timeout == 0:
            if b._soon:
                b.run_soon()
            return ev
        seconds = math.inf if timeout is None or timeout < 0 else timeout / 1000
        with anyio.move_on_after(seconds):
            result: int = await b.park(w, pending, waiter)
            return result
        return 0

    def _watched_events(self) -> int | None:
        if self._sock.closed:
            return None
        try:
            return self._watcher().events()
        except RuntimeError:  # outside an anyio run: nothing can be pushed back there
            return None

    # -- life cycle ---------------------------------------------------------------------------------

    def _release(self, error: str = "socket released while waiting") -> None:
        """Stop watching (waiting tasks get ClosedResourceError) without closing the socket."""
        sock = self._sock
        self._w = None
        if sock.closed:
            return
        fd = int(sock.getsockopt(_FD))
        try:
            b: AnyioBackend | None = _BACKEND.get()
        except (LookupError, RuntimeError):
            b = None
        if b is not None:
            w = b.watchers.get(fd)
            if w is not None and w.socket is sock:
                del b.watchers[fd]
                w.close(lambda: anyio.ClosedResourceError(error))
                b.forget(fd)

    def close(self, linger: int | None = None) -> None:
        """Wake waiting tasks with ClosedResourceError, stop watching, close the socket."""
        if self._sock.closed:
            return
        self._release("socket was closed")
        self._sock.close(linger=linger)

    async def aclose(self) -> None:
        """``close()`` as anyio's resources spell it (a checkpoint, as theirs)."""
        self.close()
        await anyio.lowlevel.checkpoint()

    def __aiter__(self) -> Socket:
        return self

    async def __anext__(self) -> list[bytes]:
        """``async for msg in sock``: ``recv_multipart()`` results until the socket is closed."""
        try:
            return await self.recv_multipart()
        except anyio.ClosedResourceError:
            raise StopAsyncIteration from None

    async def __aenter__(self) -> Socket:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


async def pump(socket: Any, send_stream: Any, *, copy: bool = True) -> int:
    """Receive whole messages from ``socket`` and send each into ``send_stream`` (an anyio memory
    object send stream, or any object with anyio's ``send``/``aclose``); return how many were
    delivered. Start it in a task group::

        send, receive = anyio.create_memory_object_stream[list[bytes]](16)
        tg.start_soon(pump, sock, send)
        async for msg in receive: ...

    It owns ``send_stream`` and closes it when it ends, so the receiving side's ``async for`` ends
    too. It ends when the socket is closed, or when every receiving end was closed (a message it
    held then goes back to the socket). If it is cancelled while a message waits for room in the
    stream, the message goes back to the socket as well: the next receive gets it whole. Nothing is
    lost and nothing is split.
    """
    sock = socket if isinstance(socket, Socket) else Socket.from_socket(socket)
    delivered = 0
    async with send_stream:
        while True:
            await anyio.lowlevel.checkpoint()
            try:
                w = sock._watcher()
            except anyio.ClosedResourceError:
                return delivered
            b: AnyioBackend = w.backend  # type: ignore[assignment]
            waiter = _Waiter()
            b._quiet += 1
            try:
                # Queued even when a message is there (served by the refresh park runs first), so
                # the Pending records it and can give it back if the stream does not take it.
                pending = w.wait(Op.recv_multipart(copy), waiter)
            finally:
                b._quiet -= 1
            try:
                msg = await b.park(w, pending, waiter)
            except anyio.ClosedResourceError:
                return delivered
            try:
                await send_stream.send(msg)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                w.cancel(pending)  # nobody will read it: back to the socket
                return delivered
            except BaseException:
                w.cancel(pending)  # cancelled while waiting for room: back to the socket
                raise
            delivered += 1


class Poller(PollerItems):
    """Like ``zmq.Poller`` with ``async poll(timeout=None)`` (ms). Items: zloop or pyzmq sockets
    (wrapped or not), fds, objects with ``fileno()``. Level-triggered, as ``zmq_poll``: returns every
    registered item that is ready."""

    def _check_item(self, socket: Any) -> None:
        if not (
            hasattr(socket, "getsockopt") or isinstance(socket, int) or hasattr(socket, "fileno")
        ):
            raise TypeError("zloop.adapters.anyio.Poller polls sockets, fds and fileno() objects")

    @staticmethod
    def _is_socket(item: Any) -> bool:
        return isinstance(item, Socket) or (
            hasattr(item, "getsockopt") and hasattr(item, "recv_multipart")
        )

    def _ready(self) -> list[tuple[Any, int]]:
        import select

        ready: list[tuple[Any, int]] = []
        for item, mask in self.sockets:
            if self._is_socket(item):
                w = item._watcher() if isinstance(item, Socket) else _watcher_for(item)
                b: AnyioBackend = w.backend  # type: ignore[assignment]
                b._quiet += 1
                try:
                    ev = w.poll_now(mask)
                finally:
                    b._quiet -= 1
            else:
                fd = item if isinstance(item, int) else int(item.fileno())
                r, wr, _ = select.select(
                    [fd] if mask & POLLIN else [], [fd] if mask & POLLOUT else [], [], 0
                )
                ev = (POLLIN if r else 0) | (POLLOUT if wr else 0)
            if ev:
                ready.append((item, ev))
        b0 = backend()
        if b0._soon:
            b0.run_soon()
        return ready

    async def poll(self, timeout: int | None = None) -> list[tuple[Any, int]]:
        """Wait up to ``timeout`` ms (None or negative: forever) for any item; the ready ones."""
        await anyio.lowlevel.checkpoint()
        ready = self._ready()
        if ready or not self.sockets or timeout == 0:
            return ready
        seconds = math.inf if timeout is None or timeout < 0 else timeout / 1000
        with anyio.move_on_after(seconds):
            while True:
                woke = anyio.Event()
                async with anyio.create_task_group() as tg:
                    for item, mask in self.sockets:
                        tg.start_soon(self._wait_item, item, mask, woke)
                    await woke.wait()
                    tg.cancel_scope.cancel()
                ready = self._ready()
                if ready:
                    return ready
        return []

    @staticmethod
    async def _wait_item(item: Any, mask: int, woke: anyio.Event) -> None:
        if Poller._is_socket(item):
            w = item._watcher() if isinstance(item, Socket) else _watcher_for(item)
            b: AnyioBackend = w.backend  # type: ignore[assignment]
            waiter = _Waiter()
            b._quiet += 1
            try:
                pending = w.wait_poll(mask, waiter)
            finally:
                b._quiet -= 1
            await b.park(w, pending, waiter)
        else:
            fd = item if isinstance(item, int) else int(item.fileno())
            if mask & POLLIN and mask & POLLOUT:
                async with anyio.create_task_group() as tg:

                    async def one(wait: Callable[[int], Any]) -> None:
                        await wait(fd)
                        tg.cancel_scope.cancel()

                    tg.start_soon(one, anyio.wait_readable)
                    tg.start_soon(one, anyio.wait_writable)
            elif mask & POLLIN:
                await anyio.wait_readable(fd)
            else:
                await anyio.wait_writable(fd)
        woke.set()


class Context:
    """A context whose ``socket()`` returns anyio :class:`Socket`\\ s. Wraps a zloop context by
    default; ``Context.shadow(ctx)`` wraps an existing zloop or pyzmq context."""

    def __init__(self, io_threads: int = 1, *, context: Any = None) -> None:
        if context is None:
            import zloop

            context = zloop.Context(io_threads)
        self._ctx = context

    @classmethod
    def shadow(cls, context: Any) -> Context:
        """Wrap an existing context, whose sockets this wrapper then makes anyio sockets of.

        Args:
            context: A zloop or pyzmq context (or a wrapper of one).

        Returns:
            The new wrapper; the wrapped context is not copied, and destroying either destroys both.
        """
        return cls(context=context)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ctx, name)

    @property
    def context(self) -> Any:
        """The wrapped zloop or pyzmq context."""
        return self._ctx

    def socket(self, socket_type: int, **kwargs: Any) -> Socket:
        """Make a socket of the wrapped context and wrap it as a anyio :class:`Socket`.

        Args:
            socket_type: A socket type (``zloop.PUSH``...).
            **kwargs: Passed to the wrapped context's ``socket()``.

        Returns:
            The new :class:`Socket`.
        """
        return Socket(self._ctx.socket(socket_type, **kwargs))

    def term(self) -> None:
        """Terminate the wrapped context (``zloop.Context.term``).

        It blocks the calling thread, loop included, until every socket is closed: close the sockets
        first, or use :meth:`destroy`.
        """
        self._ctx.term()

    def destroy(self, linger: int | None = None) -> None:
        """Close every socket of the wrapped context, then terminate it (``zloop.Context.destroy``).

        Args:
            linger: If given, the LINGER (milliseconds) every socket is closed with.
        """
        self._ctx.destroy(linger)

    def __enter__(self) -> Context:
        return self

    def __exit__(self, *exc: object) -> None:
        """As pyzmq: leaving ``with`` destroys the wrapped context."""
        self._ctx.__exit__(*exc)
