"""asyncio adapter, shaped like ``zmq.asyncio``: awaitable sockets and an async Poller.

``Context().socket(zloop.PULL)`` returns a :class:`Socket` whose ``send``/``recv``/``send_multipart``/
``recv_multipart``/``poll`` and pyzmq's conveniences (``send_string``/``recv_string``/``send_json``/
``recv_json``/``send_pyobj``/``recv_pyobj``/``send_serialized``/``recv_serialized``, with the
``_unicode`` aliases) are awaitable. ``Socket.from_socket(existing)`` wraps an existing zloop **or
pyzmq** socket. Everything else (``bind``, ``connect``, ``setsockopt`` ...) is passed through to the
wrapped socket.

All readiness handling lives in :mod:`zloop.adapters._core` (see its theory of operation); this
module only supplies asyncio's primitives: ``loop.add_reader`` on the socket's FD, ``call_soon`` and
futures. It works on any event loop that implements ``add_reader`` (the selector loops, uvloop); on a
loop without it (Windows' ProactorEventLoop) the first wait raises a :class:`RuntimeError` that says
so (pitfalls §1 #17).

Cancellation is safe: a cancelled ``recv``/``recv_multipart`` never loses or splits a message (if the
message had already been taken for it, the next receive gets it whole), and a cancelled
``send_multipart`` has sent every frame or none. A socket is bound to the event loop that first
waits on it; it may be used from another loop later when it has no pending operations.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import weakref
from collections.abc import Sequence
from typing import Any

import zloop

from ._core import NOBLOCK, NOT_READY, POLLIN, POLLOUT, Op, Pending, Watcher
from ._wrapper import AsyncConveniences, SocketWrapper

__all__ = ["Context", "Poller", "Socket"]

_RCVTIMEO = 27
_SNDTIMEO = 28
_FD = 14


class _Backend:
    """The core's Backend for one asyncio loop."""

    __slots__ = ("loop",)

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        if type(loop).add_reader is asyncio.BaseEventLoop.add_reader:
            raise RuntimeError(
                f"{type(loop).__name__} does not implement add_reader (fd readiness), which "
                "zloop.adapters.asyncio needs; on Windows use asyncio.SelectorEventLoop "
                "(e.g. asyncio.run(main(), loop_factory=asyncio.SelectorEventLoop) on Python 3.12+)"
            )
        self.loop = loop

    def add_reader(self, fd: int, callback: Any) -> None:
        self.loop.add_reader(fd, callback)

    def remove_reader(self, fd: int) -> None:
        with contextlib.suppress(OSError, ValueError):  # fd closed meanwhile
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


_RECV = Op.recv()
_RECV_MULTIPART = Op.recv_multipart()


class Socket(AsyncConveniences, SocketWrapper, adapter="asyncio"):
    """An awaitable socket over a zloop or pyzmq socket (see the module docstring).

    ``send_string`` ... ``recv_serialized`` (pyzmq's conveniences), ``from_socket``,
    ``getsockopt``/``EVENTS``: see :mod:`zloop.adapters._wrapper`; the awaitable operations are
    below."""

    _repr_head = "zloop.adapters.asyncio.Socket over"
    _watcher: Watcher | None
    _loop: asyncio.AbstractEventLoop | None

    def __init__(
        self, context: Any = None, socket_type: int = -1, *, _from_socket: Any = None
    ) -> None:
        if _from_socket is None:
            if context is None:
                context = zloop.Context.instance()
            if isinstance(context, Context):
                _from_socket = zloop.Context.socket(context, socket_type)
            else:
                _from_socket = context.socket(socket_type)
        self._attach(_from_socket)
        object.__setattr__(self, "_watcher", None)
        object.__setattr__(self, "_loop", None)

    @classmethod
    def _wrap_raw(cls, sock: Any) -> Socket:
        return cls(_from_socket=sock)

    # -- pass-through --------------------------------------------------------------------------------

    def _watched_events(self) -> int | None:
        watcher = self._watcher
        return watcher.events() if watcher is not None and not watcher.closed else None

    def fileno(self) -> int:
        return int(self._sock.getsockopt(_FD))

    def close(self, linger: int | None = None) -> None:
        """Fail pending operations (``ZMQError(ENOTSOCK)``), stop watching, close the socket."""
        watcher = self._watcher
        if watcher is not None:
            zmod = self._zmod
            watcher.close(lambda: zmod.ZMQError(zmod.ENOTSOCK, "socket closed while waiting"))
            _forget(self._sock, watcher)
            object.__setattr__(self, "_watcher", None)
        if not self._sock.closed:
            self._sock.close(linger=linger)

    def _release(self) -> None:
        """Stop watching without closing the socket (pending operations fail with ENOTSOCK)."""
        watcher = self._watcher
        if watcher is not None:
            zmod = self._zmod
            watcher.close(lambda: zmod.ZMQError(zmod.ENOTSOCK, "socket released while waiting"))
            _forget(self._sock, watcher)
            object.__setattr__(self, "_watcher", None)

    # -- the loop binding ----------------------------------------------------------------------------

    def _bind(self) -> Watcher:
        loop = asyncio.get_running_loop()
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

    async def _run(self, op: Op, flags: int, timeout_option: int) -> Any:
        watcher = self._watcher
        if watcher is None or self._loop is not asyncio.get_running_loop() or watcher.closed:
            watcher = self._bind()
        if flags & NOBLOCK:
            return watcher.now(op)
        value = watcher.attempt(op)
        if value is not NOT_READY:
            return value
        pending = watcher.wait(op)
        fut: asyncio.Future[Any] = pending.waiter  # type: ignore[assignment]
        timeout = self._sock.getsockopt(timeout_option)
        handle = None
        if timeout is not None and timeout >= 0:
            handle = fut.get_loop().call_later(timeout / 1000, self._expire, watcher, pending)
        try:
            return await fut
        except BaseException:
            watcher.cancel(pending)
            raise
        finally:
            if handle is not None:
                handle.cancel()

    def _expire(self, watcher: Watcher, pending: Pending) -> None:
        if pending.queued:
            watcher.cancel(pending)
            fut: asyncio.Future[Any] = pending.waiter  # type: ignore[assignment]
            if not fut.done():
                fut.set_exception(self._zmod.Again())

    # -- sending -------------------------------------------------------------------------------------

    async def send(
        self, data: Any, flags: int = 0, copy: bool = True, track: bool = False, **kwargs: Any
    ) -> Any:
        """Send one frame (SNDMORE in ``flags`` for more frames of the same message). Returns what
        the socket's ``send`` returned: a ``MessageTracker`` with ``copy=False``, as zmq.asyncio."""
        return await self._run(Op.send(data, flags, copy, track), flags, _SNDTIMEO)

    async def send_multipart(
        self,
        msg_parts: Sequence[Any],
        flags: int = 0,
        copy: bool = True,
        track: bool = False,
        **kwargs: Any,
    ) -> Any:
        """Send a whole message: all frames or (cancelled before it could go) none. Returns what
        the socket's ``send_multipart`` returned (a ``MessageTracker`` with ``copy=False``)."""
        if isinstance(msg_parts, (bytes, str)) or not len(msg_parts):
            raise TypeError("send_multipart takes a non-empty sequence of frames")
        return await self._run(Op.send_multipart(msg_parts, flags, copy, track), flags, _SNDTIMEO)

    # -- receiving -----------------------------------------------------------------------------------

    async def recv(self, flags: int = 0, copy: bool = True, track: bool = False) -> Any:
        """Receive one frame (bytes, or a Frame with ``copy=False``)."""
        op = _RECV if copy and not track else Op.recv(copy, track)
        return await self._run(op, flags, _RCVTIMEO)

    async def recv_multipart(
        self, flags: int = 0, copy: bool = True, track: bool = False
    ) -> list[Any]:
        """Receive a whole message; a cancelled call never takes (or splits) one."""
        op = _RECV_MULTIPART if copy and not track else Op.recv_multipart(copy, track)
        result: list[Any] = await self._run(op, flags, _RCVTIMEO)
        return result

    def __aiter__(self) -> Socket:
        return self

    async def __anext__(self) -> list[Any]:
        """``async for msg in sock``: yields ``recv_multipart()`` results until the socket closes."""
        try:
            return await self.recv_multipart()
        except Exception as exc:
            if self._sock.closed or getattr(exc, "errno", None) in (
                self._zmod.ENOTSOCK,
                self._zmod.ETERM,
            ):
                raise StopAsyncIteration from None
            raise

    # -- polling -------------------------------------------------------------------------------------

    async def poll(self, timeout: int | None = None, flags: int = POLLIN) -> int:
        """Wait up to ``timeout`` ms (None: forever) until ``EVENTS & flags``; return those events."""
        watcher = self._watcher
        if watcher is None or self._loop is not asyncio.get_running_loop() or watcher.closed:
            watcher = self._bind()
        ev = watcher.poll_now(flags)
        if ev or timeout == 0:
            return ev
        pending = watcher.wait_poll(flags)
        fut: asyncio.Future[int] = pending.waiter  # type: ignore[assignment]
        handle = None
        if timeout is not None and timeout > 0:
            handle = fut.get_loop().call_later(timeout / 1000, _expire_poll, watcher, pending)
        try:
            return await fut
        except BaseException:
            watcher.cancel(pending)
            raise
        finally:
            if handle is not None:
                handle.cancel()


def _expire_poll(watcher: Watcher, pending: Pending) -> None:
    if pending.queued:
        watcher.cancel(pending)
        fut: asyncio.Future[int] = pending.waiter  # type: ignore[assignment]
        if not fut.done():
            fut.set_result(0)


class Context(zloop.Context):
    """A zloop Context whose ``socket()`` returns awaitable :class:`Socket` objects."""

    def __init__(self, io_threads: int = 1, **kwargs: Any) -> None:
        super().__init__(io_threads, **kwargs)
        self._async_sockets: weakref.WeakSet[Socket] = weakref.WeakSet()

    def socket(self, socket_type: int, **kwargs: Any) -> Socket:  # type: ignore[override]
        raw = zloop.Context.socket(self, socket_type, **kwargs)
        sock = Socket(_from_socket=raw)
        self._async_sockets.add(sock)
        return sock

    def destroy(self, linger: int | None = None) -> None:
        """Close every socket (failing pending awaits), then terminate."""
        for sock in list(self._async_sockets):
            if not sock.closed:
                sock.close(linger=linger)
        super().destroy(linger)


class _PollWaiter:
    """One poll item's waiter: completes the shared wake-up future."""

    __slots__ = ("_done", "_wake")

    def __init__(self, wake: asyncio.Future[None]) -> None:
        self._wake = wake
        self._done = False

    def done(self) -> bool:
        return self._done or self._wake.done()

    def set_result(self, value: Any) -> None:
        self._done = True
        if not self._wake.done():
            self._wake.set_result(None)

    def set_exception(self, exc: BaseException) -> None:
        self._done = True
        if not self._wake.done():
            self._wake.set_exception(exc)


def _raw(item: Any) -> Any:
    return item._sock if isinstance(item, Socket) else item


def _is_zmq_socket(item: Any) -> bool:
    if isinstance(item, (Socket, zloop.Socket)):
        return True
    return type(item).__module__.split(".")[0] == "zmq" and hasattr(item, "getsockopt")


def _fd_of(item: Any) -> int:
    return item if isinstance(item, int) else int(item.fileno())


def _set_none(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class Poller:
    """An async ``zmq.Poller``: ``await poller.poll(timeout_ms)`` -> ``[(socket, events), ...]``.

    Items: async Sockets, zloop or pyzmq sockets, fds or objects with ``fileno()``. Level-triggered
    like ``zmq_poll``: reports every item that is ready when the call returns.
    """

    def __init__(self) -> None:
        self.sockets: list[tuple[Any, int]] = []

    def __contains__(self, socket: Any) -> bool:
        return any(s is socket for s, _ in self.sockets)

    def register(self, socket: Any, flags: int = POLLIN | POLLOUT) -> None:
        for i, (s, _) in enumerate(self.sockets):
            if s is socket:
                if flags:
                    self.sockets[i] = (socket, flags)
                else:
                    del self.sockets[i]
                return
        if flags:
            self.sockets.append((socket, flags))

    def modify(self, socket: Any, flags: int = POLLIN | POLLOUT) -> None:
        self.register(socket, flags)

    def unregister(self, socket: Any) -> None:
        for i, (s, _) in enumerate(self.sockets):
            if s is socket:
                del self.sockets[i]
                return
        raise KeyError(socket)

    def _watcher(self, item: Any, loop: asyncio.AbstractEventLoop) -> Watcher:
        if isinstance(item, Socket):
            if item._loop is loop and item._watcher is not None and not item._watcher.closed:
                return item._watcher
            return item._bind()
        return _watcher_for(item, loop)

    def _ready_now(self, loop: asyncio.AbstractEventLoop) -> list[tuple[Any, int]]:
        import select

        ready: list[tuple[Any, int]] = []
        rlist: list[int] = []
        wlist: list[int] = []
        plain: list[tuple[Any, int, int]] = []
        for item, flags in self.sockets:
            if _is_zmq_socket(item):
                ev = self._watcher(item, loop).poll_now(flags)
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

    async def poll(self, timeout: int | None = None) -> list[tuple[Any, int]]:
        """Wait up to ``timeout`` ms (None or negative: forever) for any item; return the ready ones."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None or timeout < 0 else loop.time() + timeout / 1000
        while True:
            ready = self._ready_now(loop)
            if ready or timeout == 0:
                return ready
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                return []
            wake: asyncio.Future[None] = loop.create_future()
            pendings: list[tuple[Watcher, Pending]] = []
            readers: list[int] = []
            writers: list[int] = []

            _wake = functools.partial(_set_none, wake)
            try:
                for item, flags in self.sockets:
                    if _is_zmq_socket(item):
                        watcher = self._watcher(item, loop)
                        pendings.append((watcher, watcher.wait_poll(flags, _PollWaiter(wake))))
                    else:
                        fd = _fd_of(item)
                        if flags & POLLIN:
                            loop.add_reader(fd, _wake)
                            readers.append(fd)
                        if flags & POLLOUT:
                            loop.add_writer(fd, _wake)
                            writers.append(fd)
                handle = None if remaining is None else loop.call_later(remaining, _wake)
                try:
                    await wake
                finally:
                    if handle is not None:
                        handle.cancel()
            finally:
                for watcher, pending in pendings:
                    watcher.cancel(pending)
                for fd in readers:
                    loop.remove_reader(fd)
                for fd in writers:
                    loop.remove_writer(fd)
