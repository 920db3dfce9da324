"""The loop-agnostic core of every adapter: the edge-triggered discipline, written exactly once.

Theory of operation
===================
A ZeroMQ socket (zloop's or pyzmq's) offers an **edge-triggered** ``FD``: it becomes readable when
something *may* have changed, and *any* call that processes the socket's commands (``EVENTS``, a
send, a recv) may consume that signal, for either direction (docs/pitfalls.md root causes 1, 2). The
socket promises only this: once ``EVENTS`` reported a direction as not ready, the FD fires when that
changes. Everything below follows from taking that promise literally.

One :class:`Watcher` per wrapped socket holds

* a FIFO queue of pending **recv-like** operations (recv, recv_multipart, recv_into) and one of
  pending **send-like** operations (send, send_multipart), each a :class:`Pending` with a
  loop-native *waiter* (an asyncio future, a trio task, a gevent event, a callback...);
* a list of pending **poll** waiters (an events mask each);
* a push-back buffer of received messages whose waiter was cancelled *after* it had been given
  the message (see "Cancellation" below).

:meth:`Watcher.refresh` is the one algorithm::

    events = EVENTS                                  # truth, and arms the FD for what is not ready
    loop:
        if POLLIN in events and a live recv waiter is queued:
            pop it, perform the NOBLOCK recv and complete the waiter in the same synchronous step
        if POLLOUT in events and a live send waiter is queued:
            pop it, perform the NOBLOCK send and complete the waiter in the same synchronous step
        stop when neither could be served; otherwise events = EVENTS again (after EVERY operation)
    complete every poll waiter whose mask intersects events
    if any waiter remains: make sure the FD watcher is armed (one per fd, read interest only)

The watcher is disarmed by a wake-up that found nobody waiting (so an idle socket costs at most one
wake-up), not as soon as the last waiter is served: an awaiting loop waits again at once.

A waiter that is already done (cancelled) is dropped *before* anything is taken from the socket, so
a cancelled recv never takes a message and a cancelled send_multipart sends all frames or none.

Every operation first tries the **fast path** (:meth:`Watcher.attempt`): when no earlier waiter of
the same direction is queued (FIFO order), perform the NOBLOCK operation at once. On success, if
any waiter is queued, schedule a refresh with ``call_soon`` — the operation may have consumed the FD
edge that the *other* direction's waiters were sleeping on (docs/pitfalls.md §1 #5, #11, #23). On ``Again``
the caller queues a waiter (:meth:`Watcher.wait`), which arms the watcher and schedules a refresh
(the failed call itself may have processed commands that made the other direction ready).

The FD callback only calls :meth:`Watcher.refresh`. There are no timeouts, no rescue polling and no
sleeps anywhere: a missed wake-up is a bug with a test. Timeouts a user asks for (``poll(timeout)``,
an RCVTIMEO-like deadline) are the loop's own timers, which cancel the waiter.

Pitfalls this prevents (the numbered reports of docs/pitfalls.md §1)
--------------------------------------------------------------------
* #1, #27 inproc and "FD never fires": the core never waits without first having read ``EVENTS`` and
  drained to ``Again``; the zloop FD fires for inproc too.
* #3, #24, #25, #26 stalls unless EVENTS is re-queried; HWM-full PUSH goes dead: EVENTS is re-read
  after every operation and every wake-up, and the FD is only waited on after EVENTS said "not ready".
* #5, #6, #7, #11, #23 one direction's operation consumes the other direction's edge: every
  successful fast-path operation schedules a refresh that serves both directions.
* #8, #9, #10, #12, #20, #28 last message never wakes the waiter / burst leaves messages undelivered /
  drain missing: refresh drains until nothing more can be served, one operation per waiter.
* #3 of the root causes, #21 several awaiters on one socket: FIFO queues, every live waiter served in
  one refresh, one watcher per fd whatever the number of waiters.
* #13, #14 cancelled recv later completed / message lost when cancel and completion meet in one tick:
  completion happens only for live waiters, atomically with the operation; a waiter completed but
  then cancelled before its task resumed gives its message back (:meth:`Watcher.cancel`), and the
  next recv gets it whole.
* #15, #16 truncated / partial multipart: the core only ever receives and sends whole messages with
  one NOBLOCK call, so an interrupt or cancellation cannot land between frames.
* #17 (no ``add_reader``): a loop module must refuse clearly; the core only needs ``add_reader``.

The waiter may be what the application holds
--------------------------------------------
The asyncio adapter passes the very Future it returns from ``recv()``/``send()``/``poll()`` as the
waiter, so an operation is registered at the call and completed by the next refresh whether or not
anyone awaits it (pyzmq's semantics). Nothing here depends on that: a waiter the application
cancels is ``done()``, so it is dropped before anything is taken, exactly as an interrupted task's.
``close(cancel=True)`` cancels such waiters (pyzmq's ``close`` cancels its Futures) instead of
failing them.

Cancellation
------------
:meth:`Watcher.cancel` is called by a loop module whenever its waiting was interrupted (task
cancelled, timeout, greenlet killed, trio abort). If the pending operation is still queued it is
removed and nothing happened. If it was already performed (the loop had not yet resumed the task),
a received message is put into the push-back buffer, ordered by the sequence in which messages were
taken from the socket, and served before anything else in the socket (a ``recv_into`` gives back what
it wrote into its buffer: the whole frame unless it truncated it); a completed send stays sent.

The push-back buffer is reflected in :meth:`Watcher.events` (POLLIN) and served by every recv path,
so a wrapper that answers ``EVENTS``/``poll`` through the watcher stays truthful.

Only the public socket API shared by zloop and pyzmq sockets is used: ``getsockopt(FD=14)``,
``getsockopt(EVENTS=15)``, ``getsockopt(RCVMORE=13)``, the send/recv methods (and ``recv_into``
for a recv_into operation) with ``NOBLOCK`` and an exception whose ``errno`` is ``EAGAIN``.
"""

from __future__ import annotations

import contextlib
import errno as _errno
from collections import deque
from collections.abc import Callable
from typing import Any, Final, Literal, Protocol

__all__ = [
    "NOT_READY",
    "POLLIN",
    "POLLOUT",
    "Backend",
    "Op",
    "Pending",
    "Waiter",
    "Watcher",
    "is_again",
]

POLLIN: Final = 1
POLLOUT: Final = 2
NOBLOCK: Final = 1
SNDMORE: Final = 2
_FD: Final = 14
_EVENTS: Final = 15
_RCVMORE: Final = 13
_EAGAIN: Final = _errno.EAGAIN


class _NotReady:
    """The type of :data:`NOT_READY`."""

    _instance: _NotReady | None = None

    def __new__(cls) -> _NotReady:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NOT_READY"

    def __bool__(self) -> bool:
        return False


#: Returned by :meth:`Watcher.attempt` when the operation has to wait (compare with ``is``).
NOT_READY: Final = _NotReady()


def is_again(exc: BaseException) -> bool:
    """Is ``exc`` a would-block error (``zloop.Again``, ``zmq.Again``, any errno EAGAIN)?"""
    return getattr(exc, "errno", None) == _EAGAIN


def _constant(exc: BaseException) -> Callable[[], BaseException]:
    return lambda: exc


# -- what a loop module supplies --------------------------------------------------------------------


class Waiter(Protocol):
    """A loop-native one-shot result slot. ``asyncio.Future`` satisfies this protocol as it is.

    ``done()`` must be true once the waiter was completed *or cancelled*: the core never completes a
    done waiter, and never takes anything from the socket for one.
    """

    def done(self) -> bool: ...

    def set_result(self, value: Any, /) -> None: ...

    def set_exception(self, exc: BaseException, /) -> None: ...


class Backend(Protocol):
    """The four primitives a loop module gives the core. Called only from the loop's own thread.

    * ``add_reader(fd, callback)``: call ``callback()`` (no arguments) from the loop whenever ``fd`` is
      readable, until ``remove_reader(fd)``. Level or edge semantics do not matter: the callback only
      triggers a refresh. The core adds at most one reader per fd and never adds it twice.
    * ``remove_reader(fd)``: stop that. Must tolerate an fd that was closed meanwhile.
    * ``call_soon(callback)``: run ``callback()`` from the loop soon, never synchronously.
    * ``create_waiter()``: a fresh :class:`Waiter` for the *current* task/greenlet/callback context.
    """

    def add_reader(self, fd: int, callback: Callable[[], None], /) -> None: ...

    def remove_reader(self, fd: int, /) -> None: ...

    def call_soon(self, callback: Callable[[], None], /) -> None: ...

    def create_waiter(self) -> Waiter: ...


# -- operations -------------------------------------------------------------------------------------

RECV: Final = 0
RECV_MULTIPART: Final = 1
RECV_INTO: Final = 2
SEND: Final = 3
SEND_MULTIPART: Final = 4
POLL: Final = 5
_LAST_RECV: Final = RECV_INTO  # kinds up to this one are receives


class Op:
    """One socket operation, performed later with ``NOBLOCK`` by the core. Build with the classmethods.

    ``kwargs`` are further keyword arguments of the socket's method (``routing_id``/``group`` of a
    send, ``nbytes`` of ``recv_into``), or None."""

    __slots__ = ("copy", "data", "flags", "kind", "kwargs", "track")

    def __init__(
        self,
        kind: int,
        data: Any = None,
        flags: int = 0,
        copy: bool = True,
        track: bool = False,
        kwargs: dict[str, Any] | None = None,
    ) -> None:
        self.kind = kind
        self.data = data
        self.flags = flags
        self.copy = copy
        self.track = track
        self.kwargs = kwargs

    @classmethod
    def recv(cls, copy: bool = True, track: bool = False) -> Op:
        return cls(RECV, None, 0, copy, track)

    @classmethod
    def recv_multipart(cls, copy: bool = True, track: bool = False) -> Op:
        return cls(RECV_MULTIPART, None, 0, copy, track)

    @classmethod
    def recv_into(cls, buffer: Any, nbytes: int = 0) -> Op:
        """Receive one frame into ``buffer`` (up to ``nbytes`` bytes, 0: its size); the result is
        the frame's size, as ``Socket.recv_into``."""
        return cls(RECV_INTO, buffer, 0, True, False, {"nbytes": nbytes} if nbytes else None)

    @classmethod
    def send(
        cls,
        data: Any,
        flags: int = 0,
        copy: bool = True,
        track: bool = False,
        kwargs: dict[str, Any] | None = None,
    ) -> Op:
        return cls(SEND, data, flags & ~NOBLOCK, copy, track, kwargs or None)

    @classmethod
    def send_multipart(
        cls, parts: Any, flags: int = 0, copy: bool = True, track: bool = False
    ) -> Op:
        return cls(SEND_MULTIPART, list(parts), flags & ~NOBLOCK, copy, track)

    @property
    def is_recv(self) -> bool:
        return self.kind <= _LAST_RECV

    def __repr__(self) -> str:
        names = ("recv", "recv_multipart", "recv_into", "send", "send_multipart", "poll")
        return f"<Op {names[self.kind]}>"


_QUEUED: Final = 0
_COMPLETED: Final = 1
_FAILED: Final = 2
_CANCELLED: Final = 3
_RECLAIMED: Final = 4


class Pending:
    """A queued operation (or poll) and its loop-native ``waiter``. Returned by :meth:`Watcher.wait`."""

    __slots__ = ("mask", "more", "op", "seq", "state", "value", "waiter")

    def __init__(self, op: Op | None, mask: int, waiter: Waiter) -> None:
        self.op = op
        self.mask = mask  # POLLIN / POLLOUT for operations, the asked mask for polls
        self.waiter = waiter
        self.state = _QUEUED
        self.value: Any = None
        self.more = False  # RECV only: more frames of that message remain in the socket
        self.seq = 0  # recv-like only: the order in which the value was taken from the socket

    @property
    def queued(self) -> bool:
        """Still waiting (neither served, failed nor cancelled)."""
        return self.state == _QUEUED

    def __repr__(self) -> str:
        state = ("queued", "completed", "failed", "cancelled", "reclaimed")[self.state]
        return f"<Pending {self.op!r} mask={self.mask} {state}>"


CancelOutcome = Literal["removed", "reclaimed", "completed"]


class _Released:
    """What a finished :class:`Pending` holds instead of its waiter when the backend asks for it
    (``release_waiters``): a waiter that is done and ignores results."""

    __slots__ = ()

    def done(self) -> bool:
        return True

    def set_result(self, value: Any, /) -> None:
        pass

    def set_exception(self, exc: BaseException, /) -> None:
        pass

    def __repr__(self) -> str:
        return "<released waiter>"


_RELEASED: Final = _Released()


class _Pushed:
    """A received message given back by a cancelled waiter: frames, and whether more remain in the socket."""

    __slots__ = ("frames", "seq", "tail_in_socket")

    def __init__(self, seq: int, frames: list[Any], tail_in_socket: bool) -> None:
        self.seq = seq
        self.frames = frames
        self.tail_in_socket = tail_in_socket


def _byte_view(buffer: Any) -> memoryview:
    view = memoryview(buffer)
    return view.cast("B") if view.format != "B" or view.ndim != 1 else view


def _copy_into(frame: Any, op: Op) -> int:
    """``recv_into`` from the push-back buffer: copy what fits, return the frame's size."""
    data = frame if isinstance(frame, (bytes, bytearray)) else getattr(frame, "bytes", frame)
    if not isinstance(data, (bytes, bytearray)):
        data = memoryview(data).cast("B")
    view = _byte_view(op.data)
    if view.readonly:
        raise BufferError("recv_into needs a writable buffer")
    limit = (op.kwargs or {}).get("nbytes") or len(view)
    count = min(limit, len(view), len(data))
    view[:count] = data[:count]
    return len(data)


# -- the watcher ------------------------------------------------------------------------------------


class Watcher:
    """Drives one zloop or pyzmq socket from one event loop through a :class:`Backend`.

    Not thread-safe (neither are the sockets): use it from the loop's thread only.
    """

    def __init__(self, sock: Any, backend: Backend) -> None:
        self.socket = sock
        self.backend = backend
        self.fd: int = int(sock.getsockopt(_FD))
        # A backend whose waiter refers back to its Pending (asyncio's Future holds it to cancel or
        # reclaim) sets ``release_waiters``: a Pending then lets go of its waiter once finished, so
        # the pair is no reference cycle and a received message is freed as soon as the
        # application drops the Future (not when the cyclic GC next runs).
        self._release: bool = bool(getattr(backend, "release_waiters", False))
        #: Called (no arguments) at the end of every :meth:`refresh` while set: a loop module that
        #: keeps something going only while receives wait (asyncio's connection reader) checks here.
        self.after_refresh: Callable[[], None] | None = None
        self._getsockopt = sock.getsockopt
        self._recvq: deque[Pending] = deque()
        self._sendq: deque[Pending] = deque()
        self._polls: list[Pending] = []
        self._pushback: deque[_Pushed] = deque()
        self._armed = False
        self._scheduled = False
        self._refreshing = False
        self._again = False
        self._closed = False
        self._seq = 0
        self._frame_factory: Callable[[bytes], Any] | None = None
        self._took: _Pushed | None = (
            None  # set when the last receive came from the push-back buffer
        )
        self._took_more = False
        # Observability (docs/pitfalls.md §3 item 9): how often the FD woke us and how often we refreshed.
        self.wakeups = 0
        self.refreshes = 0

    def __repr__(self) -> str:
        return (
            f"<Watcher fd={self.fd} recv={len(self._recvq)} send={len(self._sendq)} "
            f"polls={len(self._polls)} pushback={len(self._pushback)} armed={self._armed}"
            f"{' closed' if self._closed else ''}>"
        )

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def armed(self) -> bool:
        """Is the fd currently registered with the loop?"""
        return self._armed

    def waiting(self) -> int:
        """How many live waiters (operations and polls) are queued."""
        self._prune()
        return len(self._recvq) + len(self._sendq) + len(self._polls)

    # -- state ---------------------------------------------------------------------------------------

    def events(self) -> int:
        """``EVENTS`` of the socket, plus POLLIN while the push-back buffer holds a message.

        Reading EVENTS may consume the FD's signal (docs/pitfalls.md §1 #20), so when anyone waits this
        schedules a refresh: a wrapper's user-visible ``getsockopt(EVENTS)`` must come through here.
        """
        self._check_open()
        ev = self._events()
        if self._recvq or self._sendq or self._polls:
            self.schedule_refresh()
        return ev

    def _events(self) -> int:
        ev = int(self._getsockopt(_EVENTS))
        if self._pushback:
            ev |= POLLIN
        return ev

    def _check_open(self) -> None:
        if self._closed:
            from zloop.constants import Errno
            from zloop.errors import ZMQError

            raise ZMQError(Errno.ENOTSOCK, "socket is closed")

    # -- operations ------------------------------------------------------------------------------------

    def _perform(self, op: Op) -> Any:
        """Run ``op`` once with NOBLOCK (push-back first for receives). Raises the socket's errors."""
        kind = op.kind
        sock = self.socket
        if kind == RECV_MULTIPART:
            if self._pushback:
                return self._take_pushback(op)
            return sock.recv_multipart(NOBLOCK, copy=op.copy, track=op.track)
        if kind == RECV:
            if self._pushback:
                return self._take_pushback(op)
            return sock.recv(NOBLOCK, copy=op.copy, track=op.track)
        if kind == SEND_MULTIPART:
            return sock.send_multipart(op.data, op.flags | NOBLOCK, copy=op.copy, track=op.track)
        if kind == SEND:
            if op.kwargs:
                return sock.send(
                    op.data, op.flags | NOBLOCK, copy=op.copy, track=op.track, **op.kwargs
                )
            return sock.send(op.data, op.flags | NOBLOCK, copy=op.copy, track=op.track)
        if self._pushback:  # RECV_INTO
            return self._take_pushback(op)
        return sock.recv_into(op.data, flags=NOBLOCK, **(op.kwargs or {}))

    def attempt(self, op: Op) -> Any:
        """The fast path: the operation's result now, or :data:`NOT_READY` (then call :meth:`wait`).

        Returns NOT_READY without touching the socket when an earlier live waiter of the same
        direction is queued (FIFO). Errors other than Again propagate.
        """
        if self._closed:
            self._check_open()
        queue = self._recvq if op.kind <= _LAST_RECV else self._sendq
        if queue:
            while queue and queue[0].waiter.done():
                queue.popleft().state = _CANCELLED
            if queue:
                return NOT_READY
        try:
            value = self._perform(op)
        except Exception as exc:
            if getattr(exc, "errno", None) == _EAGAIN:
                return NOT_READY
            raise
        if self._recvq or self._sendq or self._polls:
            self.schedule_refresh()
        return value

    def now(self, op: Op) -> Any:
        """Perform ``op`` at once regardless of queued waiters (a user's explicit NOBLOCK): may raise Again."""
        self._check_open()
        value = self._perform(op)
        if self._recvq or self._sendq or self._polls:
            self.schedule_refresh()
        return value

    def sends_waiting(self) -> bool:
        """Is a live send-like operation queued (so a new send would go behind it)?"""
        sendq = self._sendq
        while sendq and sendq[0].waiter.done():
            sendq.popleft().state = _CANCELLED
        return bool(sendq)

    def receives_waiting(self) -> bool:
        """Is a live receive-like operation queued?"""
        recvq = self._recvq
        while recvq and recvq[0].waiter.done():
            pending = recvq.popleft()
            pending.state = _CANCELLED
            if self._release:
                pending.waiter = _RELEASED
        return bool(recvq)

    def wait(self, op: Op, waiter: Waiter | None = None) -> Pending:
        """Queue ``op`` behind earlier ones of its direction; its waiter completes with the result.

        ``waiter`` defaults to ``backend.create_waiter()``. Arms the fd and schedules a refresh.
        """
        self._check_open()
        if waiter is None:
            waiter = self.backend.create_waiter()
        if op.kind <= _LAST_RECV:
            pending = Pending(op, POLLIN, waiter)
            self._recvq.append(pending)
        else:
            pending = Pending(op, POLLOUT, waiter)
            self._sendq.append(pending)
        self._arm()
        self.schedule_refresh()
        return pending

    def submit(self, op: Op, waiter: Waiter | None = None) -> Pending:
        """:meth:`attempt`, else :meth:`wait`. On the fast path the returned Pending is already completed
        (its waiter holds the result), so a loop module may always just wait on ``pending.waiter``.
        Errors of the fast path complete the waiter with the exception."""
        if waiter is None:
            waiter = self.backend.create_waiter()
        try:
            value = self.attempt(op)
        except Exception as exc:
            pending = Pending(op, POLLIN if op.is_recv else POLLOUT, waiter)
            pending.state = _FAILED
            waiter.set_exception(exc)
            return pending
        if value is NOT_READY:
            return self.wait(op, waiter)
        pending = Pending(op, POLLIN if op.is_recv else POLLOUT, waiter)
        pending.state = _COMPLETED
        pending.value = value
        waiter.set_result(value)
        return pending

    def poll_now(self, mask: int) -> int:
        """``events() & mask`` (reads EVENTS, so schedules a refresh if anyone waits)."""
        return self.events() & mask

    def wait_poll(self, mask: int, waiter: Waiter | None = None) -> Pending:
        """Queue a poll waiter; it completes with ``events & mask`` once that is non-zero."""
        self._check_open()
        if waiter is None:
            waiter = self.backend.create_waiter()
        pending = Pending(None, mask, waiter)
        self._polls.append(pending)
        self._arm()
        self.schedule_refresh()
        return pending

    def cancel(self, pending: Pending) -> CancelOutcome:
        """The loop module's waiting on ``pending`` was interrupted (cancel, timeout, kill, abort).

        * still queued: removed, nothing happened -> ``"removed"``;
        * a receive that was already performed: its message goes back to the push-back buffer and
          the next receive gets it whole -> ``"reclaimed"``;
        * otherwise (a send that was sent, a poll that fired, a failure) -> ``"completed"``.
        """
        state = pending.state
        if self._release:
            pending.waiter = _RELEASED
        if state == _QUEUED:
            pending.state = _CANCELLED
            if pending.op is None:
                with contextlib.suppress(ValueError):
                    self._polls.remove(pending)
            else:
                queue = self._recvq if pending.op.kind <= _LAST_RECV else self._sendq
                with contextlib.suppress(ValueError):
                    queue.remove(pending)
            return "removed"
        if (
            state == _COMPLETED
            and pending.op is not None
            and pending.op.is_recv
            and not self._closed
        ):
            pending.state = _RECLAIMED
            value = pending.value
            pending.value = None
            kind = pending.op.kind
            if kind == RECV:
                item = _Pushed(pending.seq, [value], pending.more)
            elif kind == RECV_INTO:
                # What the buffer holds of the frame (all of it unless recv_into truncated it).
                view = _byte_view(pending.op.data)
                limit = (pending.op.kwargs or {}).get("nbytes") or len(view)
                item = _Pushed(pending.seq, [bytes(view[: min(value, limit)])], pending.more)
            else:
                item = _Pushed(pending.seq, list(value), False)
            self._push(item)
            if self._recvq or self._polls:
                self.schedule_refresh()
            return "reclaimed"
        return "completed"

    # -- push-back -------------------------------------------------------------------------------------

    def _push(self, item: _Pushed) -> None:
        """Insert in the order the messages were taken from the socket. A frame given back by a
        cancelled ``recv`` of a message whose rest is already here (same seq) joins that rest."""
        buf = self._pushback
        index = len(buf)
        while index > 0 and buf[index - 1].seq >= item.seq:
            index -= 1
        if index < len(buf) and buf[index].seq == item.seq:
            buf[index].frames[:0] = item.frames
            return
        buf.insert(index, item)

    def _convert(self, frame: Any, copy: bool) -> Any:
        if copy:
            return frame if type(frame) is bytes else bytes(frame)
        if not isinstance(frame, (bytes, bytearray, memoryview)):
            return frame
        if self._frame_factory is None:
            if type(self.socket).__module__.split(".")[0] == "zmq":
                import zmq

                self._frame_factory = zmq.Frame
            else:
                from zloop.message import Frame

                self._frame_factory = Frame
        return self._frame_factory(bytes(frame))

    def _take_took(self) -> _Pushed | None:
        took, self._took = self._took, None
        return took

    def _take_pushback(self, op: Op) -> Any:
        """Serve ``op`` (a receive) from the push-back buffer; records seq/more for :meth:`_serve`."""
        item = self._pushback[0]
        self._took = item
        if op.kind != RECV_MULTIPART:
            frame = item.frames.pop(0)
            if not item.frames:
                self._pushback.popleft()
                self._took_more = item.tail_in_socket
            else:
                self._took_more = True
            if op.kind == RECV_INTO:
                return _copy_into(frame, op)
            return self._convert(frame, op.copy)
        self._pushback.popleft()
        frames = [self._convert(f, op.copy) for f in item.frames]
        if item.tail_in_socket:
            # The rest of a partly received message: always complete at once (messages are atomic).
            frames.extend(self.socket.recv_multipart(NOBLOCK, copy=op.copy, track=op.track))
        return frames

    # -- the algorithm ---------------------------------------------------------------------------------

    def schedule_refresh(self) -> None:
        """Run :meth:`refresh` soon from the loop (coalesced: at most one scheduled at a time)."""
        if not self._scheduled and not self._closed:
            self._scheduled = True
            self.backend.call_soon(self._scheduled_refresh)

    def _scheduled_refresh(self) -> None:
        self._scheduled = False
        self.refresh()

    def _on_readable(self) -> None:
        self.wakeups += 1
        waited = bool(self._recvq or self._sendq or self._polls)
        self.refresh()
        if not waited and self._armed and not (self._recvq or self._sendq or self._polls):
            # Nobody waited: stop watching (the fd woke us for nothing; EVENTS consumed the
            # signal). After a wake-up that served a waiter the watch stays: a program that
            # awaits in a loop waits again at once, and removing and adding the reader every
            # time cost two epoll_ctl calls and the loop's bookkeeping per wake-up. If nobody
            # waits again, the next wake-up (at most one: EVENTS consumes the edge) disarms.
            self._disarm()

    def refresh(self) -> None:
        """Serve every waiter that can be served now; see the module docstring. Re-entrant safe."""
        if self._closed:
            return
        if self._refreshing:
            self._again = True
            return
        self._refreshing = True
        try:
            while True:
                self._again = False
                self._refresh_once()
                if not self._again or self._closed:
                    break
        finally:
            self._refreshing = False
        if self._recvq or self._sendq or self._polls:
            self._arm()
        hook = self.after_refresh
        if hook is not None:
            hook()

    def _prune(self) -> None:
        for queue in (self._recvq, self._sendq):
            while queue and queue[0].waiter.done():
                queue.popleft().state = _CANCELLED
        if self._polls:
            live = [p for p in self._polls if not p.waiter.done()]
            for p in self._polls:
                if p.state == _QUEUED and p.waiter.done():
                    p.state = _CANCELLED
            self._polls = live

    def _refresh_once(self) -> None:
        self.refreshes += 1
        recvq = self._recvq
        sendq = self._sendq
        try:
            events = self._events()
        except Exception as exc:
            self._fail_all(_constant(exc))
            return
        while True:
            served = False
            if events & POLLIN:
                while recvq and recvq[0].waiter.done():
                    recvq.popleft().state = _CANCELLED
                if recvq:
                    served = True
                    if not self._serve(recvq.popleft()):
                        events &= ~POLLIN
                        served = False
            if events & POLLOUT:
                while sendq and sendq[0].waiter.done():
                    sendq.popleft().state = _CANCELLED
                if sendq:
                    if self._serve(sendq.popleft()):
                        served = True
                    else:
                        events &= ~POLLOUT
            if self._closed:
                return
            if not served:
                break
            try:
                events = self._events()
            except Exception as exc:
                self._fail_all(_constant(exc))
                return
        if self._polls:
            live: list[Pending] = []
            for p in self._polls:
                waiter = p.waiter
                if waiter.done():
                    p.state = _CANCELLED
                    if self._release:
                        p.waiter = _RELEASED
                    continue
                hit = events & p.mask
                if hit:
                    p.state = _COMPLETED
                    p.value = hit
                    if self._release:
                        p.waiter = _RELEASED
                    waiter.set_result(hit)
                else:
                    live.append(p)
            self._polls = live

    def _serve(self, pending: Pending) -> bool:
        """Perform a live pending op and complete it in one step. False if it hit Again (requeued)."""
        op = pending.op
        assert op is not None
        self._took = None
        try:
            value = self._perform(op)
        except Exception as exc:
            if getattr(exc, "errno", None) == _EAGAIN:
                # EVENTS said ready but the call would block (possible for some send patterns):
                # nothing was taken or sent; put it back in front and wait for the fd.
                (self._recvq if op.kind <= _LAST_RECV else self._sendq).appendleft(pending)
                return False
            pending.state = _FAILED
            waiter = pending.waiter
            if self._release:
                pending.waiter = _RELEASED
            waiter.set_exception(exc)
            return True
        pending.state = _COMPLETED
        pending.value = value
        if op.kind <= _LAST_RECV:
            took = self._take_took()
            if took is not None:  # served from the push-back buffer: keep that message's place
                pending.seq = took.seq
                pending.more = self._took_more and op.kind != RECV_MULTIPART
            else:
                self._seq += 1
                pending.seq = self._seq
                if op.kind != RECV_MULTIPART:
                    try:
                        pending.more = bool(self._getsockopt(_RCVMORE))
                    except Exception:
                        pending.more = False
        waiter = pending.waiter
        if self._release:
            pending.waiter = _RELEASED
        waiter.set_result(value)
        return True

    # -- arming ----------------------------------------------------------------------------------------

    def _arm(self) -> None:
        if not self._armed and not self._closed:
            self.backend.add_reader(self.fd, self._on_readable)
            self._armed = True

    def _disarm(self) -> None:
        if self._armed:
            self._armed = False
            self.backend.remove_reader(self.fd)

    # -- closing ---------------------------------------------------------------------------------------

    def _fail_all(self, error: Callable[[], BaseException], cancel: bool = False) -> None:
        queues: list[Any] = [self._recvq, self._sendq, self._polls]
        self._recvq = deque()
        self._sendq = deque()
        self._polls = []
        release = self._release
        for queue in queues:
            for p in queue:
                waiter = p.waiter
                if release:
                    p.waiter = _RELEASED
                if p.state == _QUEUED and not waiter.done():
                    p.state = _FAILED
                    cancel_waiter = getattr(waiter, "cancel", None) if cancel else None
                    if cancel_waiter is not None:
                        p.state = _CANCELLED
                        cancel_waiter()
                    else:
                        waiter.set_exception(error())
                else:
                    p.state = _CANCELLED
        self._disarm()

    def close(
        self, error: Callable[[], BaseException] | None = None, *, cancel: bool = False
    ) -> None:
        """Stop watching and fail every pending waiter with ``error()`` (default: ENOTSOCK ZMQError),
        or with ``cancel=True`` cancel those that have a ``cancel()`` method (asyncio Futures, as
        pyzmq's close does).

        Does not close the socket: the wrapper does that next (with the linger it was given).
        Idempotent. Messages in the push-back buffer are dropped with the socket.
        """
        if self._closed:
            return
        if error is None:

            def error() -> BaseException:
                from zloop.constants import Errno
                from zloop.errors import ZMQError

                return ZMQError(Errno.ENOTSOCK, "socket closed while waiting")

        self._fail_all(error, cancel)
        self._closed = True
        self._pushback.clear()
