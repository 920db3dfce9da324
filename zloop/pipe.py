"""Message pipes between two threads, bounded by high-water marks counted in whole messages.

Theory of operation
-------------------
:func:`pipe_pair` makes two :class:`Pipe` ends joined by two single-producer/single-consumer queues
(``collections.deque``), one per direction. Each end belongs to an *owner* (a socket, or a session in
an I/O thread) that implements :class:`PipeOwner`; everything an end learns about its peer arrives as a
command run in the owner's own thread (``owner.post``), never by touching the owner from outside.

Items are whole messages (a ``list`` of frames, never split), so a multipart message is atomic by
construction and the HWM counts messages, as libzmq does. :data:`DELIMITER` is the last item an end
ever writes: it says "no more messages from me".

*Reading.* ``check_read``/``read`` pop from the in-queue. When it is empty the reader raises the
queue's ``reader_asleep`` flag *and then looks again* (the same two-step as :mod:`zloop.mailbox`).
The writer's :meth:`Pipe.flush` appends first and then looks at the flag; if raised it lowers it and
posts ``activate_read`` to the reader's owner. Hence a reader that found its pipe empty is always
told when a message arrives — one command per empty-to-non-empty transition, not one per message —
which is exactly what lets ``Socket.FD`` be edge-triggered without ever losing a wake-up.

*Writing.* The writer counts messages written; the reader counts messages read and, every ``lwm``
messages, posts ``activate_write(count)`` to the writer's owner. The writer is full while
``written - peer_read >= hwm`` (``hwm`` 0 = unlimited). A full writer marks itself inactive; since it
was full, at least ``lwm`` messages are unread, so the reader will cross an ``lwm`` boundary and
re-activate it (``lwm = (hwm + 1) // 2`` as in libzmq, never more than ``hwm``).

*Draining.* A writer end may have a drain (:meth:`Pipe.set_drain`). A write that finds the pipe
full runs it first, in the writer's thread; it may take unread messages out of the queue (each one
lowers the writer's ``_msgs_written``: as if never written) and bring the writer's ``_peer_msgs_read``
up to the reader's count, and the write goes ahead if that made room. Sessions give the socket's end
one, so that a pipe towards a tcp/ipc connection is full only when the OS socket is
(:mod:`zloop.io.engine`, "Draining a full pipe"). ``activate_write`` then keeps the larger count,
as a drain may have read a newer one. Taken messages leave both counts alike and a fresher count
only lowers the writer's, so a writer still only goes inactive with at least ``lwm`` messages unread.

*Conflation* (CONFLATE): :meth:`Pipe.set_conflate` makes a direction keep at most one message.
Its writer replaces the unread message: ``clear()`` then ``append()`` on the deque (each atomic under
the GIL, and only the reader pops), with no HWM (``hwm`` -1, as libzmq). A reader racing with that
replacement may find the queue momentarily empty; it then raises ``reader_asleep`` exactly as for an
empty pipe, and the writer's following :meth:`Pipe.flush` wakes it, so the edge-trigger rule holds.
Readers tolerate the item they saw vanishing between two looks (``IndexError``) for the same reason.

*Termination.* :meth:`Pipe.terminate` appends the DELIMITER and posts ``pipe_term`` to the peer.
The peer stops writing at once, reads what was queued before the delimiter, and on reaching it calls
``owner.pipe_terminated``. Messages written towards an end that terminated are discarded: those
queued when it terminates at once (it is their only reader, so clearing its in-queue is safe), any
that a writer who had not yet seen the end adds later when the pipe objects go.
"""

from __future__ import annotations

import sys
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from zloop.constants import PollEvent

#: Frames of one message as stored in a pipe.
Msg = list[Any]


class _Delimiter:
    __slots__ = ()

    def __repr__(self) -> str:
        return "DELIMITER"


#: The end-of-traffic marker an end writes when it terminates.
DELIMITER: Any = _Delimiter()

#: A read count never reached: no ``activate_write`` is due (``lwm`` 0).
_NEVER = sys.maxsize

POLLIN = int(PollEvent.POLLIN)
POLLOUT = int(PollEvent.POLLOUT)


class PipeOwner(Protocol):
    """What an end needs from the object that owns it (a socket or a session)."""

    def post(self, command: Callable[[], Any], hint: int) -> None:
        """Run ``command`` in the owner's thread. ``hint`` (POLLIN/POLLOUT) says what it may make ready."""

    def read_activated(self, pipe: Pipe) -> None:
        """``pipe`` has messages again after the owner found it empty."""

    def write_activated(self, pipe: Pipe) -> None:
        """``pipe`` accepts messages again after it was full."""

    def pipe_terminated(self, pipe: Pipe) -> None:
        """``pipe`` is finished: the peer terminated it and every message before that was read."""


class _Queue:
    __slots__ = ("conflate", "items", "reader_asleep")

    def __init__(self) -> None:
        self.items: deque[Any] = deque()
        self.reader_asleep = False
        #: The writer replaces the unread message instead of queueing (see "Conflation").
        self.conflate = False


def compute_lwm(hwm: int) -> int:
    """Low-water mark: the reader re-activates the writer every ``lwm`` messages read."""
    return (hwm + 1) // 2 if hwm > 0 else 0


class Pipe:
    """One end of a pipe pair. All methods run in the owner's thread."""

    __slots__ = (
        "__weakref__",
        "_drain",
        "_epochs",
        "_hwm",
        "_in",
        "_in_active",
        "_in_items",
        "_lwm",
        "_msgs_read",
        "_msgs_written",
        "_next_lwm",
        "_out",
        "_out_active",
        "_peer_msgs_read",
        "_props",
        "_terminated",
        "data",
        "metadata",
        "owner",
        "peer",
        "peer_terminated",
        "routing_id",
    )

    def __init__(
        self, owner: PipeOwner, in_queue: _Queue, out_queue: _Queue, hwm: int, lwm: int
    ) -> None:
        self.owner = owner
        self.peer: Pipe = self  # set by pipe_pair
        self._in = in_queue
        #: ``_in.items``, one attribute load less on the per-message path.
        self._in_items = in_queue.items
        self._out = out_queue
        self._hwm = hwm
        self._msgs_written = 0
        self._peer_msgs_read = 0
        self._msgs_read = 0
        self._lwm = lwm
        #: The read count from which the next ``activate_write`` is due (see :meth:`_set_lwm`).
        self._next_lwm = lwm if lwm else _NEVER
        self._in_active = True
        self._out_active = True
        self._terminated = False
        self.peer_terminated = False
        #: Writer side: what may move the peer's unread messages on at once (see "Draining").
        self._drain: Callable[[], Any] | None = None
        #: Routing id of the peer (ROUTER) and its latest handshake properties.
        self.routing_id = b""
        self.metadata: dict[str, Any] = {}
        #: Properties per message, see :meth:`publish_properties` / :meth:`properties`.
        # Made by the writer on first use (an empty deque costs 760 bytes; most pipes never
        # publish): the reader only ever tests and pops it.
        self._epochs: deque[tuple[int, dict[str, Any]]] | None = None
        self._props: dict[str, Any] | None = None
        #: Free slot for the owner's per-pipe bookkeeping (pattern state).
        self.data: Any = None

    def __repr__(self) -> str:
        return f"<Pipe {id(self):#x} of {type(self.owner).__name__} rid={self.routing_id!r}>"

    # -- reading -----------------------------------------------------------------------------------

    def check_read(self) -> bool:
        """Is a message ready to read? An empty pipe arms ``activate_read`` for the next arrival."""
        if not self._in_active:
            return False
        items = self._in.items
        try:
            first = items[0]
        except IndexError:
            self._in.reader_asleep = True
            try:
                first = items[0]
            except IndexError:
                self._in_active = False
                return False
        if first is DELIMITER:
            self._reached_delimiter()
            return False
        return True

    def read(self) -> Msg | None:
        """Take the next message, or None (see :meth:`check_read`)."""
        if not self._in_active:
            return None
        try:
            msg = self._in_items.popleft()
        except IndexError:
            self._in.reader_asleep = True
            try:
                msg = self._in_items.popleft()
            except IndexError:  # still empty (or, conflating, the writer was replacing it)
                self._in_active = False
                return None
        if msg is DELIMITER:
            self._in_items.appendleft(msg)
            self._reached_delimiter()
            return None
        count = self._msgs_read + 1
        self._msgs_read = count
        if self._epochs:
            self._advance_properties(count - 1)
        if count >= self._next_lwm:
            self._lwm_crossed(count)
        return msg  # type: ignore[no-any-return]

    def read_many(self, limit: int) -> list[Msg]:
        """Take up to ``limit`` messages at once: what ``limit`` calls of :meth:`read` would return
        (fewer than ``limit`` means the pipe was found empty, with ``activate_read`` armed, or its
        end was reached), with one ``activate_write`` for the whole batch."""
        taken: list[Msg] = []
        if not self._in_active or limit <= 0:
            return taken
        queue = self._in
        if queue.conflate:
            return self._read_many_conflated(limit)
        items = queue.items
        popleft = items.popleft
        while True:
            n = min(limit - len(taken), len(items))
            if n:
                taken += [popleft() for _ in range(n)]
                # The delimiter is the last item ever queued, so it can only be the last one taken.
                if taken[-1] is DELIMITER:
                    items.appendleft(taken.pop())
                    self._count_read(len(taken))
                    self._reached_delimiter()
                    return taken
                if len(taken) >= limit:
                    break
            queue.reader_asleep = True
            if not items:
                self._in_active = False
                break
        self._count_read(len(taken))
        return taken

    def take_ahead(self, limit: int) -> list[Msg]:
        """Reader's thread: take up to ``limit`` queued messages out of the queue *without*
        counting them as read, in reverse order (the next message last, for ``list.pop``).

        The reader then owes, for each message it consumes, exactly what :meth:`read` does after
        taking one (see ``Socket.recv``: count it, advance the properties, activate the writer at
        an lwm boundary), and must hand back what it did not consume (:meth:`give_back`) before
        anything else reads this pipe or looks at its readiness. Nothing is taken from a conflating
        queue, and never the delimiter. The writer's HWM sees no difference: the counts move only
        as messages are consumed."""
        items = self._in_items
        count = min(limit, len(items))
        if count <= 0 or self._in.conflate:
            return []
        popleft = items.popleft
        taken = [popleft() for _ in range(count)]
        if taken[-1] is DELIMITER:  # the last item ever queued: only ever the last one taken
            items.appendleft(taken.pop())
        taken.reverse()
        return taken

    def give_back(self, taken: list[Msg]) -> None:
        """Reader's thread: return what :meth:`take_ahead` took and was not consumed (in its
        reversed order) to the front of the queue, ahead of anything queued since."""
        self._in_items.extendleft(taken)
        taken.clear()

    def _read_many_conflated(self, limit: int) -> list[Msg]:
        """:meth:`read_many` for a conflating in-queue, whose writer may clear it at any moment."""
        taken: list[Msg] = []
        while len(taken) < limit:
            msg = self.read()
            if msg is None:
                break
            taken.append(msg)
        return taken

    def _count_read(self, n: int) -> None:
        """Account ``n`` messages read; tell the writer when an lwm boundary was crossed."""
        if not n:
            return
        before = self._msgs_read
        count = self._msgs_read = before + n
        lwm = self._lwm
        if lwm and count // lwm != before // lwm:
            peer = self.peer
            peer.owner.post(lambda: peer._process_activate_write(count), POLLOUT)
        self._set_lwm(lwm)

    def _lwm_crossed(self, count: int) -> None:
        """:meth:`read` reached an lwm boundary: tell the writer how many messages were read."""
        lwm = self._lwm
        self._next_lwm = count + lwm if lwm > 0 else _NEVER
        peer = self.peer
        peer.owner.post(lambda: peer._process_activate_write(count), POLLOUT)

    def _set_lwm(self, lwm: int) -> None:
        """The re-activation step of this (reading) end is ``lwm`` (0: never) from now on.

        The writer's thread may call it (:meth:`set_hwm`) while the reader reads: the boundary is
        then computed from a stale count, which :meth:`read` tolerates (it posts when its count
        *reaches or passes* ``_next_lwm``; an early post carries the true count, so it is only an
        extra command)."""
        self._lwm = lwm
        self._next_lwm = (self._msgs_read // lwm + 1) * lwm if lwm > 0 else _NEVER

    # -- properties per message ---------------------------------------------------------------------

    def publish_properties(self, props: dict[str, Any]) -> None:
        """Writer's thread: the messages this end writes from now on come with ``props``; those
        written before keep theirs. A connect-side pipe outlives reconnects, so one pipe carries the
        messages of successive connections, each with its own peer (``Frame.get("User-Id")``...)."""
        peer = self.peer
        epochs = peer._epochs
        if epochs is None:
            epochs = peer._epochs = deque()
        start = self._msgs_written
        # Nothing written since the previous publication: replace it. The reader cannot be taking
        # that entry (it only takes entries for messages it read, all numbered below ``start``),
        # except with CONFLATE, where it takes them all: there, always append.
        if epochs and not self._out.conflate and epochs[-1][0] == start:
            epochs[-1] = (start, props)
        else:
            epochs.append((start, props))

    def properties(self) -> dict[str, Any]:
        """Reader's thread: the properties of the message :meth:`read` returned last (for a pipe
        that never had any published: :attr:`metadata`)."""
        props = self._props
        return self.metadata if props is None else props

    def _advance_properties(self, index: int) -> None:
        # Writer and reader count the same messages (0-based ``index``), except under CONFLATE,
        # where the counts diverge: the kept message is given the newest properties published,
        # so one read across a reconnect may show the newer connection's (a documented limit).
        epochs = self._epochs
        assert epochs is not None  # called only when it holds entries
        conflate = self._in.conflate
        while epochs and (conflate or epochs[0][0] <= index):
            self._props = epochs.popleft()[1]

    def unread_count(self) -> int:
        """Messages queued towards this end (not counting the delimiter)."""
        items = self._in.items
        n = len(items)
        try:
            if n and items[-1] is DELIMITER:
                n -= 1
        except IndexError:  # a conflating writer was replacing the message
            return len(items)
        return n

    # -- writing -----------------------------------------------------------------------------------

    def check_write(self) -> bool:
        """Can one more message be written? A full pipe waits for ``activate_write``."""
        if not self._out_active:
            return False
        if (
            self._hwm > 0
            and self._msgs_written - self._peer_msgs_read >= self._hwm
            and not self._drained()
        ):
            self._out_active = False
            return False
        return True

    def write(self, msg: Msg) -> bool:
        """Queue one whole message; False (nothing queued) when full or terminated."""
        # check_write, inlined: this is the per-message hot path.
        if not self._out_active:
            return False
        hwm = self._hwm
        if hwm:
            if hwm < 0:  # conflating: replace the unread message
                items = self._out.items
                items.clear()
                items.append(msg)
                self._msgs_written += 1
                return True
            if self._msgs_written - self._peer_msgs_read >= hwm and not self._drained():
                self._out_active = False
                return False
        self._out.items.append(msg)
        self._msgs_written += 1
        return True

    def write_flush(self, msg: Msg) -> bool:
        """:meth:`write` then, if it queued the message, :meth:`flush`: the per-message send path
        of the patterns, in one call."""
        if not self._out_active:
            return False
        hwm = self._hwm
        if hwm:
            if hwm < 0:  # conflating
                self.write(msg)
                self.flush()
                return True
            if self._msgs_written - self._peer_msgs_read >= hwm and not self._drained():
                self._out_active = False
                return False
        out = self._out
        out.items.append(msg)
        self._msgs_written += 1
        # flush(), inlined: the message is queued before the flag is looked at (see "Reading").
        if out.reader_asleep and not self._terminated:
            out.reader_asleep = False
            peer = self.peer
            peer.owner.post(peer._process_activate_read, POLLIN)
        return True

    def set_drain(self, drain: Callable[[], Any] | None) -> None:
        """Writer side: ``drain()`` runs when a write finds the pipe full (see "Draining")."""
        self._drain = drain

    def _drained(self) -> bool:
        """The pipe is full: did its drain make room?"""
        drain = self._drain
        if drain is None:
            return False
        drain()
        return self._msgs_written - self._peer_msgs_read < self._hwm

    def write_many(self, msgs: list[Msg]) -> int:
        """Queue as many of ``msgs`` (in order) as fit; return how many.

        The same as calling :meth:`write` for each until one fails: fewer than all means the pipe
        is full (or terminated) and waits for ``activate_write``.
        """
        if not self._out_active:
            return 0
        count = len(msgs)
        hwm = self._hwm
        if hwm < 0:  # conflating: only the last one is kept
            if count:
                self.write(msgs[-1])
                self._msgs_written += count - 1
            return count
        if hwm:
            room = hwm - (self._msgs_written - self._peer_msgs_read)
            if room < count and self._drain is not None:
                self._drain()
                room = hwm - (self._msgs_written - self._peer_msgs_read)
            if room < count:
                self._out_active = False
                if room <= 0:
                    return 0
                msgs = msgs[:room]
                count = room
        self._out.items.extend(msgs)
        self._msgs_written += count
        return count

    def flush(self) -> None:
        """Wake the peer if it was waiting for a message (call after a batch of writes)."""
        out = self._out
        if out.reader_asleep and not self._terminated:
            out.reader_asleep = False
            peer = self.peer
            peer.owner.post(peer._process_activate_read, POLLIN)

    def rollback_count(self) -> int:
        """Messages written but not yet read by the peer (for HWM and linger accounting)."""
        return self._msgs_written - self._peer_msgs_read

    # -- termination -------------------------------------------------------------------------------

    @property
    def terminated(self) -> bool:
        return self._terminated

    def terminate(self) -> None:
        """End this side: the peer reads what is queued, then sees the end. Idempotent.

        This end never reads again, so the messages queued towards it are dropped now (libzmq
        deletes them when the termination completes): the memory, and the buffers they share with
        a sender (a ``MessageTracker`` is done once they are dropped), are not kept until the pipe
        objects happen to be collected.
        """
        if self._terminated:
            return
        self._terminated = True
        self._out_active = False
        self._in_active = False
        self._in.items.clear()
        self._out.items.append(DELIMITER)
        self._out.reader_asleep = False
        peer = self.peer
        peer.owner.post(peer._process_pipe_term, POLLIN | POLLOUT)

    def _reached_delimiter(self) -> None:
        self._in_active = False
        if not self._terminated:
            self._terminated = True
            self._out_active = False
            self.owner.pipe_terminated(self)

    # -- commands from the peer (run in this end's owner thread) -----------------------------------

    def _process_activate_read(self) -> None:
        if self._terminated:
            return
        self._in_active = True
        self.owner.read_activated(self)

    def _process_activate_write(self, msgs_read: int) -> None:
        # A drain may have read a newer count already (see "Draining").
        if msgs_read > self._peer_msgs_read:
            self._peer_msgs_read = msgs_read
        if not self._out_active and not self._terminated and not self.peer_terminated:
            self._out_active = True
            self.owner.write_activated(self)

    def _process_pipe_term(self) -> None:
        if self._terminated:
            return
        self.peer_terminated = True
        self._out_active = False
        self._in_active = True
        items = self._in.items
        if items and items[0] is DELIMITER:
            self._reached_delimiter()
        else:
            self.owner.read_activated(self)

    # -- configuration -----------------------------------------------------------------------------

    def set_hwm(self, hwm: int) -> None:
        """Change this end's write limit (the peer's re-activation step follows)."""
        if self._hwm < 0:
            return  # conflating: no limit
        self._hwm = hwm
        self.peer._set_lwm(compute_lwm(hwm))

    def set_conflate(self, inbound: bool, outbound: bool) -> None:
        """Keep at most one unread message in the chosen directions (CONFLATE; see "Conflation").

        Call it before traffic starts (when the pair is made or attached). The peer end sees the
        same queues, so this configures both ends of each direction.
        """
        if inbound:
            self._in.conflate = True
            self.peer._hwm = -1
            self._set_lwm(0)
        if outbound:
            self._out.conflate = True
            self._hwm = -1
            self.peer._set_lwm(0)


def pipe_pair(owner_a: PipeOwner, owner_b: PipeOwner, hwm_a: int, hwm_b: int) -> tuple[Pipe, Pipe]:
    """Two joined ends; ``hwm_a`` bounds what end A may have in flight towards B (and vice versa)."""
    a_to_b, b_to_a = _Queue(), _Queue()
    a = Pipe(owner_a, b_to_a, a_to_b, hwm_a, compute_lwm(hwm_b))
    b = Pipe(owner_b, a_to_b, b_to_a, hwm_b, compute_lwm(hwm_a))
    a.peer, b.peer = b, a
    return a, b


class SubscriptionMsg(list):  # type: ignore[type-arg]
    """A (un)subscription travelling from a SUB/XSUB socket towards its session.

    The frames are the libzmq message form (``b"\\x01" + topic`` or ``b"\\x00" + topic``); the stream
    engine turns it into a ZMTP 3.1 SUBSCRIBE/CANCEL command or a 3.0 data frame per peer version.
    """

    __slots__ = ("subscribe", "topic")

    def __init__(self, subscribe: bool, topic: bytes) -> None:
        super().__init__([(b"\x01" if subscribe else b"\x00") + topic])
        self.subscribe = subscribe
        self.topic = topic
