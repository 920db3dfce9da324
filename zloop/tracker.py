"""``MessageTracker``: is zloop done with the buffer of a message sent with ``copy=False``?

Theory of operation
-------------------
pyzmq's tracker completes when libzmq frees the ``zmq_msg_t`` built on the caller's buffer, that is
when the last holder of the message lets go of it: the encoder once the bytes were handed to the
kernel (tcp, ipc), the pipe when the message is dropped (close with LINGER 0, a socket type that
drops), or -- over inproc, where the message itself travels -- the receiving side once it released
what it received. Until then the caller must not modify the buffer.

zloop holds a buffer only through Python references, so "nobody holds it" is the reference count
reaching zero. A tracked frame travels as a ``memoryview`` made for it alone by :func:`track_view`
(nothing outside zloop holds that object); a weak reference to it releases the tracker's latch when
it is collected. Every holder keeps that very object: the socket (frames sent with SNDMORE), the pipe,
the engine and its output queue, and over inproc the receiving socket and the ``Frame`` it returns.
What copies the frame (small frames joined into one write, CURVE's encryption, ``recv()`` with
``copy=True``) lets go of it once copied. Two places keep a *new* view of a frame, which would not
keep the tracked object alive, so both keep the tracked object too: the rest of a partly written
buffer (:class:`zloop.io.sendbuf.SendQueue`), and ``Frame.buffer`` on the receiving side, which hands
out the tracked view itself (see :func:`is_tracked_view`). The rule for new code: whatever keeps a
view derived from a frame longer than the frame itself must keep the frame too.

Guarantee: a tracker is never done while zloop can still read the buffer. On CPython it is done as
soon as the last holder lets go; an interpreter without reference counting may report it later
(at a garbage collection), never earlier. One holder outlives its use: the first parts of a
message sent with SNDMORE stay with a socket closed before the last part, until the socket object
goes (libzmq drops them at close). An untracked send creates nothing: ``track=False`` costs one
test in ``send``.

pyzmq's rules are kept: a frame is tracked only when it is shared, so ``copy=True`` sends return
``None`` and a ``copy=False`` frame under ``copy_threshold`` bytes (:data:`COPY_THRESHOLD` by
default) is copied and returns a tracker that is already done. One difference: pyzmq's
``send_multipart`` returns the tracker of the *last* part only, which may be done while an earlier
large part is still queued; zloop returns one tracker for every tracked part of the message.
"""

from __future__ import annotations

import time
import weakref
from typing import Any

from zloop import _real
from zloop.errors import NotDone

__all__ = ["COPY_THRESHOLD", "MessageTracker", "is_tracked_view", "track_view"]

#: Frames smaller than this many bytes are copied even with ``copy=False`` (pyzmq's default for
#: ``Socket.copy_threshold`` and ``Frame(copy_threshold=...)``): tracking them is not worth it.
COPY_THRESHOLD = 65536

_FOREVER = 7 * 24 * 3600.0


class _Latch:
    """A one-shot event, much cheaper to make than ``threading.Event`` (one lock, held until set)."""

    __slots__ = ("_lock", "is_set")

    def __init__(self) -> None:
        self._lock = _real.Lock()
        self._lock.acquire()
        self.is_set = False

    def set(self) -> None:
        """Called once (by the weak reference of the tracked view)."""
        self.is_set = True
        self._lock.release()

    def wait(self, timeout: float) -> bool:
        if self.is_set:
            return True
        if self._lock.acquire(True, min(timeout, _real.TIMEOUT_MAX)):
            self._lock.release()
        return self.is_set


class MessageTracker:
    """Tracks whether zloop is done with one or more messages sent with ``copy=False``.

    ``MessageTracker(*towatch)`` accepts ``threading.Event`` objects, other trackers and tracked
    ``Frame`` objects, as pyzmq's does. :attr:`done` tells whether all of them are done;
    :meth:`wait` blocks until they are (``NotDone`` on timeout).
    """

    __slots__ = {
        "_latch": "",
        "events": "The events watched (``threading.Event`` or anything with ``is_set`` and ``wait``).",
        "peers": "The other trackers watched (of frames, or given directly).",
    }

    def __init__(self, *towatch: Any) -> None:
        self._latch: _Latch | None = None  # the buffer zloop tracks itself (see track_view)
        # Events: ``threading.Event`` or anything shaped like one (a patched, green one...).
        self.events: set[Any] = set()
        self.peers: set[MessageTracker] = set()
        for obj in towatch:
            if isinstance(obj, MessageTracker):
                self.peers.add(obj)
            elif callable(getattr(obj, "is_set", None)) and callable(getattr(obj, "wait", None)):
                self.events.add(obj)
            else:
                from zloop.message import Frame  # lazy: the frame module builds trackers

                if not isinstance(obj, Frame):
                    raise TypeError(f"Require Events or Message Frames, not {type(obj)}")
                if obj.tracker is None:
                    raise ValueError("Not a tracked message")
                self.peers.add(obj.tracker)

    @property
    def done(self) -> bool:
        """True when zloop no longer holds any of the tracked buffers."""
        latch = self._latch
        return (
            (latch is None or latch.is_set)
            and all(event.is_set() for event in self.events)
            and all(peer.done for peer in self.peers)
        )

    def wait(self, timeout: float = -1) -> None:
        """Block until :attr:`done`, or raise :class:`~zloop.NotDone` after ``timeout`` seconds
        (negative: wait forever)."""
        deadline = time.monotonic() + (_FOREVER if timeout is False or timeout < 0 else timeout)
        self._wait_until(deadline)

    def _wait_until(self, deadline: float) -> None:
        latch = self._latch
        if latch is not None and not latch.wait(max(0.0, deadline - time.monotonic())):
            raise NotDone()
        for event in self.events:
            if not event.wait(max(0.0, deadline - time.monotonic())):
                raise NotDone()
        for peer in self.peers:
            peer._wait_until(deadline)

    def __repr__(self) -> str:
        return f"<zloop.MessageTracker {'done' if self.done else 'pending'} at {id(self):#x}>"


#: What a send returns when nothing was shared (pyzmq's ``_FINISHED_TRACKER``): already done.
FINISHED_TRACKER = MessageTracker()

#: id -> weak reference of every tracked view still alive (the reference's callback removes it).
_live: dict[int, weakref.ref[memoryview]] = {}


def track_view(view: memoryview) -> tuple[memoryview, MessageTracker]:
    """A new view of ``view``'s bytes owned by zloop, and the tracker done when it is collected."""
    tracked = memoryview(view)
    key = id(tracked)
    latch = _Latch()

    def collected(_ref: object) -> None:
        _live.pop(key, None)
        latch.set()

    _live[key] = weakref.ref(tracked, collected)
    tracker = MessageTracker()
    tracker._latch = latch
    return tracked, tracker


def is_tracked_view(data: object) -> bool:
    """True for a view made by :func:`track_view` that is still alive."""
    ref = _live.get(id(data))
    return ref is not None and ref() is data
