"""trio support: awaitable zloop (or pyzmq) sockets, shaped like ``zmq.asyncio``.

::

    import trio, zloop
    from zloop.adapters import trio as ztrio

    async def main():
        ctx = ztrio.Context()
        pull = ctx.socket(zloop.PULL)
        pull.bind("tcp://127.0.0.1:5555")
        async with trio.open_nursery() as nursery:
            ...
            async for msg in pull:          # recv_multipart() results
                ...

* ``Context`` (``socket()`` returns trio :class:`Socket`\\ s; ``Context.shadow(ctx)`` wraps a zloop
  or pyzmq context), :class:`Socket` (``Socket.from_socket(existing)`` wraps a zloop **or pyzmq**
  socket) and :class:`Poller`.
* ``await send / recv / send_multipart / recv_multipart / poll`` and pyzmq's conveniences
  (``send_string / recv_string / send_json / recv_json / send_pyobj / recv_pyobj / send_serialized /
  recv_serialized`` and the ``_unicode`` aliases, with zmq.asyncio's signatures); ``async for msg in
  sock``.
* **Every call is a checkpoint**, the fast path included: ``checkpoint_if_cancelled()`` before the
  operation and ``cancel_shielded_checkpoint()`` after it, so a cancellation can never land between
  taking a message and returning it.
* **Many tasks may use one socket at once.** trio allows one ``wait_readable`` per fd, so each
  socket has exactly one watcher (a system task per fd, shared by every wrapper of that socket);
  waiting tasks park in ``wait_task_rescheduled`` and are completed by the core's refresh, which
  performs the operation and reschedules the task in one synchronous step. The ``abort_fn`` always
  succeeds: it calls ``Watcher.cancel``, which either removes the queued operation (nothing
  happened) or — never in practice with trio, since a rescheduled task cannot be aborted — gives a
  received message back.
* Cancellation and timeouts (``move_on_after``, ``fail_after``, cancel scopes) cancel a waiting call
  without losing or splitting a message; a cancelled ``send_multipart`` sends all frames or none.
  ``RCVTIMEO`` / ``SNDTIMEO`` (ms, as in pyzmq's asyncio sockets) raise ``Again`` when they expire.
* ``close()`` wakes every parked task with :class:`trio.ClosedResourceError`.

The edge-triggered discipline itself lives in :mod:`zloop.adapters._core` (read its docstring).
This module only supplies trio's primitives (:class:`TrioBackend`) and the idiomatic wrappers.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, overload

from zloop._extras import MissingExtraError

try:
    import outcome
    import trio
except ModuleNotFoundError as exc:
    raise MissingExtraError(__name__, "trio", "trio", exc) from exc

from ._core import NOT_READY, POLLIN, POLLOUT, Op, Pending, Watcher
from ._wrapper import AsyncConveniences, PollerItems, SocketWrapper
from ._wrapper import GroupWaiter as _GroupWaiter

if TYPE_CHECKING:
    from zloop.message import Frame
    from zloop.tracker import MessageTracker

__all__ = ["Context", "Poller", "Socket", "TrioBackend"]

NOBLOCK = 1
_RCVTIMEO = 27
_SNDTIMEO = 28

_log = logging.getLogger("zloop.adapters.trio")
_lowlevel = trio.lowlevel


class _TaskWaiter:
    """A core ``Waiter`` that reschedules one parked trio task."""

    __slots__ = ("_done", "task")

    def __init__(self) -> None:
        self.task = _lowlevel.current_task()
        self._done = False

    def done(self) -> bool:
        return self._done

    def set_result(self, value: Any, /) -> None:
        self._done = True
        _lowlevel.reschedule(self.task, outcome.Value(value))

    def set_exception(self, exc: BaseException, /) -> None:
        self._done = True
        _lowlevel.reschedule(self.task, outcome.Error(exc))


class _FdWatch:
    """The one system task that waits for one fd to become readable, while armed.

    Disarming does not end the task: it parks (``wait_task_rescheduled``) until armed again, so the
    core's frequent arm/disarm costs a reschedule, not a task spawn. Disarming while the task sits
    in ``wait_readable`` cancels that wait synchronously (trio runs the abort at once), so the fd is
    unregistered from the kernel before the caller closes it.
    """

    __slots__ = ("callback", "fd", "parked", "scope", "stopped", "task", "wanted")

    def __init__(self, fd: int, callback: Callable[[], None]) -> None:
        self.fd = fd
        self.callback = callback
        self.wanted = True
        self.stopped = False
        self.parked = False
        self.scope: trio.CancelScope | None = None
        self.task: Any = None
        _lowlevel.spawn_system_task(self._run, name=f"zloop fd {fd} watcher")

    def arm(self, callback: Callable[[], None]) -> None:
        self.callback = callback
        self.wanted = True
        if self.parked:
            self.parked = False
            _lowlevel.reschedule(self.task)

    def disarm(self) -> None:
        self.wanted = False
        if self.scope is not None:
            self.scope.cancel()

    def stop(self) -> None:
        self.stopped = True
        self.disarm()
        if self.parked:
            self.parked = False
            _lowlevel.reschedule(self.task)

    def _abort_park(self, _: Any) -> trio.lowlevel.Abort:
        self.parked = False
        return _lowlevel.Abort.SUCCEEDED

    async def _run(self) -> None:
        self.task = _lowlevel.current_task()
        while not self.stopped:
            if not self.wanted:
                self.parked = True
                await _lowlevel.wait_task_rescheduled(self._abort_park)
                continue
            with trio.CancelScope() as scope:
                self.scope = scope
                try:
                    await _lowlevel.wait_readable(self.fd)
                except (trio.ClosedResourceError, OSError):
                    # The fd was closed under us (notify_closing, or the kernel dropped it).
                    self.wanted = False
                    scope.cancel()
            self.scope = None
            if scope.cancelled_caught or not self.wanted:
                continue
            try:
                self.callback()
            except Exception:  # a system task must not raise: that would crash trio.run
                _log.exception("zloop trio adapter: fd %d callback failed", self.fd)


class TrioBackend:
    """The core's :class:`~zloop.adapters._core.Backend` for one trio run (see :func:`backend`).

    ``call_soon`` appends to a queue drained by one system task (parked while idle), so scheduling a
    refresh costs a deque append and at most one reschedule — no syscall.
    """

    def __init__(self) -> None:
        self._soon: deque[Callable[[], None]] = deque()
        self._fds: dict[int, _FdWatch] = {}
        self._pump_task: Any = None
        self._pump_parked = False
        self._closing = False
        self.watchers: dict[int, Watcher] = {}
        _lowlevel.spawn_system_task(self._pump, name="zloop trio call_soon pump")

    # -- Backend -------------------------------------------------------------------------------------

    def add_reader(self, fd: int, callback: Callable[[], None], /) -> None:
        """Call ``callback()`` from the loop whenever ``fd`` is readable, until :meth:`remove_reader`.

        Part of the core's ``Backend`` protocol (see :mod:`zloop.adapters._core`): the fd is watched by
        a task of the trio run that waits with ``trio.lowlevel.wait_readable``.

        Args:
            fd: The socket's ``FD``.
            callback: Called without arguments, in the loop's thread.
        """
        watch = self._fds.get(fd)
        if watch is None or watch.stopped:
            self._fds[fd] = _FdWatch(fd, callback)
        else:
            watch.arm(callback)

    def remove_reader(self, fd: int, /) -> None:
        """Stop watching ``fd`` (harmless if it is not watched, or was closed meanwhile).

        Args:
            fd: The fd given to :meth:`add_reader`.
        """
        watch = self._fds.get(fd)
        if watch is not None:
            watch.disarm()

    def call_soon(self, callback: Callable[[], None], /) -> None:
        """Run ``callback()`` soon from the run's callback task, never before this call returns.

        Args:
            callback: Called without arguments, in the loop's thread.
        """
        self._soon.append(callback)
        if self._pump_parked:
            self._pump_parked = False
            _lowlevel.reschedule(self._pump_task)

    def create_waiter(self) -> _TaskWaiter:
        """A new waiter for the current task, which the core completes with the operation's outcome.

        Returns:
            A ``Waiter`` (see :mod:`zloop.adapters._core`).
        """
        return _TaskWaiter()

    # -- internals -----------------------------------------------------------------------------------

    def forget(self, fd: int) -> None:
        """The socket behind ``fd`` is being closed: end its watcher task."""
        watch = self._fds.pop(fd, None)
        if watch is not None:
            watch.stop()

    def _abort_pump(self, _: Any) -> trio.lowlevel.Abort:
        self._pump_parked = False
        self._closing = True
        return _lowlevel.Abort.SUCCEEDED

    async def _pump(self) -> None:
        self._pump_task = _lowlevel.current_task()
        soon = self._soon
        while True:
            while soon:
                try:
                    soon.popleft()()
                except Exception:
                    _log.exception("zloop trio adapter: callback failed")
            self._pump_parked = True
            await _lowlevel.wait_task_rescheduled(self._abort_pump)


_BACKEND: trio.lowlevel.RunVar[TrioBackend] = trio.lowlevel.RunVar("zloop_trio_backend")


def backend() -> TrioBackend:
    """The backend of the current trio run (created on first use)."""
    try:
        return _BACKEND.get()
    except LookupError:
        b = TrioBackend()
        _BACKEND.set(b)
        return b


def _watcher_for(sock: Any) -> Watcher:
    """The one watcher of ``sock`` in this trio run (shared by every wrapper of the socket)."""
    b = backend()
    fd = int(sock.getsockopt(14))
    w = b.watchers.get(fd)
    if w is None or w.socket is not sock or w.closed:
        if w is not None and w.socket is not sock:
            # The fd number was reused: the previous socket was closed behind our back.
            w.close(lambda: trio.ClosedResourceError("socket was closed"))
            b.forget(fd)
        w = Watcher(sock, b)
        b.watchers[fd] = w
    return w


async def _park(w: Watcher, pending: Pending, waiter: _TaskWaiter) -> Any:
    def abort(_: Any) -> trio.lowlevel.Abort:
        waiter._done = True
        w.cancel(pending)
        return _lowlevel.Abort.SUCCEEDED

    return await _lowlevel.wait_task_rescheduled(abort)


class Socket(AsyncConveniences, SocketWrapper, adapter="trio"):
    """A trio socket over a zloop or pyzmq socket. Other attributes are the wrapped socket's.

    ``send_string`` ... ``recv_pyobj``, ``from_socket``, ``getsockopt``/``EVENTS``: see
    :mod:`zloop.adapters._wrapper`; the awaitable operations are below."""

    _w: Watcher | None
    _run: Any

    def __init__(self, sock: Any) -> None:
        super().__init__(sock)
        self._w = None
        self._run = None

    def _watcher(self) -> Watcher:
        w = self._w
        b = backend()  # raises RuntimeError outside trio.run
        if w is None or w.backend is not b or w.closed:
            if self._sock.closed:
                raise trio.ClosedResourceError("socket is closed")
            w = self._w = _watcher_for(self._sock)
        return w

    # -- the one pattern ---------------------------------------------------------------------------

    async def _op(self, op: Op, flags: int, timeout_opt: int) -> Any:
        await _lowlevel.checkpoint_if_cancelled()
        w = self._watcher()
        if flags & NOBLOCK:
            value = w.now(op)
            await _lowlevel.cancel_shielded_checkpoint()
            return value
        value = w.attempt(op)
        if value is not NOT_READY:
            await _lowlevel.cancel_shielded_checkpoint()
            return value
        timeout = self._sock.getsockopt(timeout_opt)
        waiter = _TaskWaiter()
        if timeout < 0:
            return await _park(w, w.wait(op, waiter), waiter)
        with trio.move_on_after(timeout / 1000):
            return await _park(w, w.wait(op, waiter), waiter)
        raise self._zmod.Again()

    async def send(
        self, data: Any, flags: int = 0, copy: bool = True, track: bool = False
    ) -> MessageTracker | None:
        """Send one frame, waiting (as a trio checkpoint) while the socket cannot take it.

        Args:
            data: bytes, a buffer or a Frame, as for :meth:`zloop.Socket.send`.
            flags: ``NOBLOCK`` (raise ``Again`` at once instead of waiting) and/or ``SNDMORE``.
            copy: As for :meth:`zloop.Socket.send`.
            track: As for :meth:`zloop.Socket.send`.

        Returns:
            What the wrapped socket's ``send`` returns (a ``MessageTracker`` with ``copy=False``).

        Raises:
            Again: With ``NOBLOCK``, or when SNDTIMEO expires.
            trio.ClosedResourceError: If the socket is closed while the call waits.
        """
        tracker: MessageTracker | None = await self._op(
            Op.send(data, flags, copy, track), flags, _SNDTIMEO
        )
        return tracker

    async def send_multipart(
        self, msg_parts: Any, flags: int = 0, copy: bool = True, track: bool = False
    ) -> MessageTracker | None:
        """Send a whole message; a call cancelled while it waits has sent no frame of it.

        Args:
            msg_parts: The frames.
            flags: ``NOBLOCK`` and/or ``SNDMORE``.
            copy: As for :meth:`zloop.Socket.send_multipart`.
            track: As for :meth:`zloop.Socket.send_multipart`.

        Returns:
            What the wrapped socket's ``send_multipart`` returns.

        Raises:
            Again: With ``NOBLOCK``, or when SNDTIMEO expires.
            trio.ClosedResourceError: If the socket is closed while the call waits.
        """
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
        """Receive one frame, waiting until one is there.

        Always a checkpoint. A call cancelled (a cancel scope, ``move_on_after``...) takes no frame.

        Args:
            flags: ``NOBLOCK`` to raise ``Again`` instead of waiting.
            copy: False returns a Frame.
            track: As for :meth:`zloop.Socket.recv`.

        Returns:
            The frame's bytes, or a Frame with ``copy=False``.

        Raises:
            Again: With ``NOBLOCK``, or when RCVTIMEO expires.
            trio.ClosedResourceError: If the socket is closed while the call waits.
        """
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
        """Receive a whole message; a cancelled call takes none (nor part of one).

        Args:
            flags: ``NOBLOCK`` to raise ``Again`` instead of waiting.
            copy: False returns Frames.
            track: As for :meth:`zloop.Socket.recv_multipart`.

        Returns:
            The list of frames.

        Raises:
            Again: With ``NOBLOCK``, or when RCVTIMEO expires.
            trio.ClosedResourceError: If the socket is closed while the call waits.
        """
        result: list[Any] = await self._op(Op.recv_multipart(copy, track), flags, _RCVTIMEO)
        return result

    async def poll(self, timeout: int | None = None, flags: int = POLLIN) -> int:
        """Events in ``flags`` that are ready (0 when ``timeout`` ms passed first; None = forever)."""
        await _lowlevel.checkpoint_if_cancelled()
        w = self._watcher()
        ev = w.poll_now(flags)
        if ev or timeout == 0:
            await _lowlevel.cancel_shielded_checkpoint()
            return ev
        seconds = math.inf if timeout is None or timeout < 0 else timeout / 1000
        waiter = _TaskWaiter()
        with trio.move_on_after(seconds):
            result: int = await _park(w, w.wait_poll(flags, waiter), waiter)
            return result
        return 0

    def _watched_events(self) -> int | None:
        if self._sock.closed:
            return None
        try:
            return self._watcher().events()
        except RuntimeError:  # outside trio.run: nothing can be pushed back there
            return None

    # -- life cycle ---------------------------------------------------------------------------------

    def _release(self, error: str = "socket released while waiting") -> None:
        """Stop watching (parked tasks get ClosedResourceError) without closing the socket."""
        sock = self._sock
        self._w = None
        if sock.closed:
            return
        fd = int(sock.getsockopt(14))
        try:
            b: TrioBackend | None = _BACKEND.get()
        except (LookupError, RuntimeError):
            b = None
        if b is not None:
            w = b.watchers.get(fd)
            if w is not None and w.socket is sock:
                del b.watchers[fd]
                w.close(lambda: trio.ClosedResourceError(error))
                b.forget(fd)

    def close(self, linger: int | None = None) -> None:
        """Wake parked tasks with ClosedResourceError, stop watching, close the socket."""
        if self._sock.closed:
            return
        self._release("socket was closed")
        self._sock.close(linger=linger)

    def __aiter__(self) -> Socket:
        return self

    async def __anext__(self) -> list[bytes]:
        return await self.recv_multipart()

    async def __aenter__(self) -> Socket:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


class Poller(PollerItems):
    """Like ``zmq.Poller`` with ``async poll(timeout=None)`` (ms); sockets only (zloop or pyzmq,
    wrapped or not). Level-triggered, as ``zmq_poll``: returns every registered socket that is ready."""

    def _check_item(self, socket: Any) -> None:
        if not hasattr(socket, "getsockopt"):
            raise TypeError("zloop.adapters.trio.Poller polls zloop/pyzmq sockets only")

    def _watchers(self) -> list[tuple[Any, Watcher, int]]:
        out = []
        for s, mask in self.sockets:
            w = s._watcher() if isinstance(s, Socket) else _watcher_for(s)
            out.append((s, w, mask))
        return out

    async def poll(self, timeout: int | None = None) -> list[tuple[Any, int]]:
        """Wait until registered items are ready (always a checkpoint).

        Args:
            timeout: Milliseconds to wait at most; None or negative waits for ever, 0 does not wait.

        Returns:
            The ready ``(item, events)`` pairs (level-triggered); an empty list on timeout.
        """
        await _lowlevel.checkpoint_if_cancelled()
        items = self._watchers()
        ready = [(s, ev) for s, w, mask in items if (ev := w.poll_now(mask))]
        if ready or not items or timeout == 0:
            await _lowlevel.cancel_shielded_checkpoint()
            return ready
        seconds = math.inf if timeout is None or timeout < 0 else timeout / 1000
        with trio.move_on_after(seconds):
            while True:
                group = _TaskWaiter()
                pendings = [(w, w.wait_poll(mask, _GroupWaiter(group))) for _, w, mask in items]

                def abort(_: Any, group: _TaskWaiter = group, pendings: Any = pendings) -> Any:
                    group._done = True
                    for w, p in pendings:
                        w.cancel(p)
                    return _lowlevel.Abort.SUCCEEDED

                await _lowlevel.wait_task_rescheduled(abort)
                for w, p in pendings:
                    w.cancel(p)
                ready = [(s, ev) for s, w, mask in items if (ev := w.poll_now(mask))]
                if ready:
                    return ready
        return []


class Context:
    """A context whose ``socket()`` returns trio :class:`Socket`\\ s. Wraps a zloop context by default;
    ``Context.shadow(ctx)`` wraps an existing zloop or pyzmq context."""

    def __init__(self, io_threads: int = 1, *, context: Any = None) -> None:
        if context is None:
            import zloop

            context = zloop.Context(io_threads)
        self._ctx = context

    @classmethod
    def shadow(cls, context: Any) -> Context:
        """Wrap an existing context, whose sockets this wrapper then makes trio sockets of.

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
        """Make a socket of the wrapped context and wrap it as a trio :class:`Socket`.

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
        """As pyzmq: leaving ``with`` destroys the wrapped context (warning about open sockets)."""
        self._ctx.__exit__(*exc)


_ = POLLOUT  # re-exported name for users: ``ztrio.POLLOUT`` mirrors zmq.asyncio's namespace
