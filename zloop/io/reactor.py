"""The I/O thread: one fd-polling reactor with timers and a command mailbox.

Theory of operation
-------------------
An :class:`IOThread` runs one loop in its own OS thread (a real one, and a real ``epoll``/``poll``,
whatever gevent or eventlet monkey-patched: see :mod:`zloop._real`)::

    drain the mailbox (commands posted by sockets and by other threads)
    run the timers that are due
    select() on the registered fds, for at most the time until the next timer
    call the reader / writer callbacks of the ready fds

Every other thread talks to it through :meth:`IOThread.post` only; everything else (``add_reader``,
``call_later`` ...) belongs to the I/O thread itself. The mailbox's signal fd sits in the selector, and
the mailbox only signals it while the loop is (about to be) asleep, so a burst of posts costs one
wake-up (see :mod:`zloop.mailbox`). The loop never spins: it blocks in ``select`` unless a command or
a due timer is waiting.

Timers are a heap of ``(deadline, seq, Timer)``; cancelling only marks the entry, which is skipped when
it surfaces (the heap is rebuilt when cancelled entries dominate, so it cannot grow without bound).

Objects that must outlive a socket's ``close`` (listeners, sessions, possibly lingering) register
themselves with :meth:`IOThread.register`; :meth:`IOThread.load` counts them (the Context picks the
least loaded thread) and :meth:`IOThread.stop` lets the loop end only once every one of them has
unregistered, after asking each to wind down (``io_stop``) with its own linger. At interpreter exit
(:mod:`zloop.lifetime`) :meth:`IOThread.begin_exit` tells them that no peer is worth waiting for
any more (``io_exit``), and :meth:`IOThread.finish_closed_sockets` waits until the objects of
closed sockets (lingering sessions) are done.

*The receive buffer.* Every engine of this thread reads the socket into one buffer owned by the
thread (:attr:`IOThread.recv_buffer`, allocated on first use), not into a buffer of its own: reads
happen only here, one at a time, and a reader copies what it decoded out of the buffer before its
callback returns (``Connection.receive_data`` takes ``bytes`` of the view; large frame bodies are
received into their own ``bytearray`` instead). So an idle or handshaking connection holds no
receive buffer at all, and a busy one still reads up to :data:`RECV_BUFFER_SIZE` bytes per call.
Nothing may keep a view of this buffer past its callback: the next read of any connection
overwrites it.

*Parked fds.* An application thread, or an event loop's thread, about to wait for a connection's
data may read it itself and *park* the fd (:meth:`IOThread.park_reader`; see "Reads in the
application thread" in zloop/io/engine.py): this loop stops watching its readability until the
parker unparks it. The parker's loop may stop running while it holds the park -- a greenlet that
computes, a raw blocking call made from the hub, a loop callback that blocks -- and then nobody reads
the connection: a handshake, a PING to answer, a peer's goodbye would wait as long as that loop
does, where libzmq's I/O thread reads on regardless. So parks are *audited*: while any fd is parked,
this thread looks at the parked fds every :data:`PARK_AUDIT_S`, without waiting, and *revokes* a
park whose fd was readable at two audits in a row with no read by the parker in between (the
parker's read count, given to ``park_reader``, did not move): it watches the fd again, as if
unparked, and reads it as usual (its reads and the parker's are ordered by the engine's locks, as
for a parker that reads while not parked). The park itself is kept until the parker unparks it, so
the fd is still closed only then (see :meth:`IOThread.remove_fd`): the parker's loop may still
watch it. An engine that must read the fd itself now (it sent a PING and waits for the PONG)
revokes the park at once (:meth:`IOThread.revoke_reader`). The audit is a timer of this thread that
exists only while something is parked, so a loop that keeps up never sees it act, and an idle
thread with nothing parked sleeps without it.

A callback that raises is logged (logger ``"zloop"``, rate-limited: :mod:`zloop.io.logs`) and the
loop goes on: one broken connection must never take the I/O thread down. Engines catch their own
errors and close just that connection; this is the last line of defence.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import time
from collections.abc import Callable
from typing import Any

from zloop import _real
from zloop._real import READ, WRITE
from zloop.io.interfaces import IOObject
from zloop.io.logs import limited
from zloop.mailbox import Mailbox

Callback = Callable[[], Any]

log = logging.getLogger("zloop")

#: Bytes of the receive buffer shared by the engines of one I/O thread (the most one read takes).
RECV_BUFFER_SIZE = 256 * 1024
#: Commands run per loop turn before the loop looks at the fds again (fairness under a post storm).
_MAX_COMMANDS_PER_TURN = 1024

#: Seconds between two looks at the parked fds (see "Parked fds"): a park whose parker stopped
#: reading is revoked after one to two of these.
PARK_AUDIT_S = 0.1


def _nothing() -> None:
    pass


class Timer:
    """A pending :meth:`IOThread.call_later` callback; :meth:`cancel` is idempotent."""

    __slots__ = ("_io", "callback", "cancelled", "deadline")

    def __init__(self, io: IOThread, deadline: float, callback: Callback) -> None:
        self._io = io
        self.deadline = deadline
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        if not self.cancelled:
            self.cancelled = True
            # The heap keeps the entry until it surfaces (HANDSHAKE_IVL later): it must not keep
            # the callback's owner (a closed engine and its buffers) alive that long.
            self.callback = _nothing
            self._io._timer_cancelled()


class _FdEntry:
    __slots__ = ("closer", "mark", "parked", "progress", "reader", "revoked", "writer")

    def __init__(self) -> None:
        self.reader: Callback | None = None
        self.writer: Callback | None = None
        #: An application thread is waiting on this fd's readability itself (see park_reader).
        self.parked = False
        #: The I/O thread reads the fd again although it is still parked (see "Parked fds").
        self.revoked = False
        #: The parker's read count (see park_reader), and what the last audit saw of it.
        self.progress: Callable[[], int] | None = None
        self.mark: int | None = None
        #: Closes the fd: set by remove_fd while parked, run by unpark_reader (see remove_fd).
        self.closer: Callback | None = None

    def mask(self) -> int:
        reading = self.reader is not None and (not self.parked or self.revoked)
        return (READ if reading else 0) | (WRITE if self.writer else 0)


class IOThread:
    """One reactor thread (an OS thread polling fds + timers + :class:`Mailbox`)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._selector = _real.FdPoller()
        self._mailbox = Mailbox()
        self._fds: dict[int, _FdEntry] = {}
        self._timers: list[tuple[float, int, Timer]] = []
        self._cancelled = 0
        self._seq = itertools.count()
        self._objects: set[IOObject] = set()
        self._stopping = False
        #: Interpreter exit began (see begin_exit): lingering sessions stop waiting for peers.
        self.exiting = False
        # Waiters of finish_closed_sockets, set once no object of a closed socket is left.
        self._closed_waiters: list[_real.Event] = []
        self._stopped = False
        # Serialises the selector's mask changes of the I/O thread with park_reader/unpark_reader
        # of application threads (each computes a mask from an entry, then sets it).
        self._mask_lock = _real.Lock()
        # A real OS thread even under gevent/eventlet monkey-patching (see zloop._real).
        self._thread = _real.Thread(self._run, name)
        self._selector.register(self._mailbox.fileno(), READ)
        self._recv_buffer: memoryview | None = None  # see recv_buffer
        # Parked entries by fd (under the mask lock), and whether the audit timer runs (see
        # "Parked fds"): set by the park that finds it off, cleared by the audit that finds
        # nothing parked, both under the mask lock, so no park is ever left unaudited.
        self._parked: dict[int, _FdEntry] = {}
        self._auditing = False
        #: Parks revoked so far, by the audit or by revoke_reader (diagnostics and tests).
        self.revocations = 0

    def __repr__(self) -> str:
        return f"<IOThread {self.name} load={len(self._objects)}>"

    # -- any thread ------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def post(self, command: Callable[[], Any], hint: int = 0) -> None:
        """Run ``command`` in the I/O thread (thread-safe; the PipeOwner.post shape)."""
        self._mailbox.post(command)

    def load(self) -> int:
        """Live objects (listeners and sessions) served by this thread."""
        return len(self._objects)

    def stop(self) -> None:
        """Thread-safe: wind every object down (with its linger) and end the loop once all are gone."""
        self.post(self._begin_stop)

    def begin_exit(self) -> None:
        """Thread-safe: the interpreter is exiting (see :mod:`zloop.lifetime`)."""
        self.post(self._begin_exit)

    def finish_closed_sockets(self, timeout: float | None = None) -> bool:
        """Thread-safe: wait until every object kept for a closed socket (a lingering session, a
        listener being closed) has ended; False on timeout."""
        done = _real.Event()
        self.post(lambda: self._add_closed_waiter(done))
        while not done.wait(0.05 if timeout is None else timeout):
            if not self._thread.is_alive():
                return True
            if timeout is not None:
                return False
        return True

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    @property
    def stopped(self) -> bool:
        return self._stopped

    def in_io_thread(self) -> bool:
        return _real.get_ident() == self._thread.ident

    def is_running(self) -> bool:
        return self._thread.is_alive()

    # -- I/O thread only -------------------------------------------------------------------------

    @property
    def recv_buffer(self) -> memoryview:
        """The receive buffer shared by this thread's engines, as a writable memoryview (see "The
        receive buffer"): what a read put there is valid only until the calling callback returns."""
        view = self._recv_buffer
        if view is None:
            view = self._recv_buffer = memoryview(bytearray(RECV_BUFFER_SIZE))
        return view

    def register(self, obj: IOObject) -> None:
        """Keep the loop alive for ``obj`` until :meth:`unregister`."""
        self._objects.add(obj)
        if self._stopping:
            obj.io_stop()

    def unregister(self, obj: IOObject) -> None:
        self._objects.discard(obj)
        if self._closed_waiters:
            self._check_closed_waiters()

    def add_reader(self, fd: int, callback: Callback) -> None:
        with self._mask_lock:
            entry = self._fds.get(fd)
            if entry is None:
                entry = self._fds[fd] = _FdEntry()
                entry.reader = callback
                self._selector.register(fd, entry.mask())
            else:
                had = entry.reader is not None
                entry.reader = callback
                if not had:
                    self._update(fd, entry)

    def remove_reader(self, fd: int) -> None:
        with self._mask_lock:
            entry = self._fds.get(fd)
            if entry is None or entry.reader is None:
                return
            entry.reader = None
            self._update(fd, entry)

    def add_writer(self, fd: int, callback: Callback) -> None:
        with self._mask_lock:
            entry = self._fds.get(fd)
            if entry is None:
                entry = self._fds[fd] = _FdEntry()
                entry.writer = callback
                self._selector.register(fd, entry.mask())
            else:
                had = entry.writer is not None
                entry.writer = callback
                if not had:
                    self._update(fd, entry)

    def remove_writer(self, fd: int) -> None:
        with self._mask_lock:
            entry = self._fds.get(fd)
            if entry is None or entry.writer is None:
                return
            entry.writer = None
            self._update(fd, entry)

    def remove_fd(self, fd: int, closer: Callback | None = None) -> bool:
        """Forget ``fd`` entirely (call before closing it), or forget it and close it: ``closer``
        closes the fd, now, or -- while an application thread waits on the fd (parked, see
        :meth:`park_reader`) -- when that thread unparks it. The waiter thus never watches a
        closed fd, nor one whose number was reused for another file. True when the close was
        deferred (the owner should wake that thread: its wait may not end by itself)."""
        with self._mask_lock:
            entry = self._fds.pop(fd, None)
            if entry is not None:
                entry.reader = entry.writer = None
                with contextlib.suppress(KeyError, ValueError, OSError):
                    self._selector.unregister(fd)
                if entry.parked:
                    self._parked.pop(fd, None)
                    if closer is not None:
                        entry.closer = closer
                        return True
        if closer is not None:
            closer()
        return False

    # -- any thread --------------------------------------------------------------------------------

    def park_reader(self, fd: int, progress: Callable[[], int] | None = None) -> object | None:
        """Application thread: stop this loop from watching ``fd``'s readability while the caller
        waits for it itself (see "Reads in the application thread" in zloop/io/engine.py, and
        "Parked fds" above). ``progress``: a count the parker's reads move (the audit revokes a
        park whose fd stays readable while it does not move; None: every readable fd counts as
        unread). Returns the token for :meth:`unpark_reader`, or None (fd not read here)."""
        with self._mask_lock:
            entry = self._fds.get(fd)
            # Already parked: by a live parker (a loop's reader that holds it between waits), or
            # by a read an exception cut short before it could unpark. Never taken over: the
            # live parker's loop may watch the fd, whose close must wait for that parker's
            # unpark. A park left behind is read by the I/O thread once the audit revokes it.
            if entry is None or entry.reader is None or entry.parked:
                return None
            entry.parked = True
            entry.revoked = False
            entry.progress = progress
            entry.mark = None
            self._parked[fd] = entry
            self._update(fd, entry)
            if not self._auditing:
                # Posted before the flag is raised: an exception between the two costs a second
                # audit chain (harmless; both end when nothing is parked), never a missing one.
                self.post(self._start_audit)
                self._auditing = True
        return entry

    def unpark_reader(self, fd: int, token: object) -> None:
        """Undo :meth:`park_reader` (a no-op once the fd was removed, even if its number was
        reused); closes the fd if :meth:`remove_fd` deferred its close to now. ``token`` None:
        a park_reader cut short by an exception (its token lost): unpark the fd if parked."""
        with self._mask_lock:
            if token is None:
                token = self._fds.get(fd)
            if type(token) is _FdEntry and token.closer is not None:
                closer, token.closer = token.closer, None
                token.parked = token.revoked = False
                token.progress = None
            else:
                entry = self._fds.get(fd)
                if entry is not token or entry is None or not entry.parked:
                    return
                entry.parked = False
                entry.progress = None
                self._parked.pop(fd, None)
                if entry.revoked:
                    entry.revoked = False  # watched all along: the mask does not change
                else:
                    self._update(fd, entry)
                return
        closer()

    def revoke_reader(self, fd: int) -> None:
        """Watch ``fd``'s readability again although it is parked (see "Parked fds"); the park
        stays until its parker unparks it. A no-op if the fd is not parked."""
        with self._mask_lock:
            entry = self._fds.get(fd)
            if entry is not None and entry.parked and not entry.revoked:
                entry.revoked = True
                self.revocations += 1
                self._update(fd, entry)

    def call_later(self, delay_s: float, callback: Callback) -> Timer:
        timer = Timer(self, time.monotonic() + max(0.0, delay_s), callback)
        heapq.heappush(self._timers, (timer.deadline, next(self._seq), timer))
        return timer

    # -- internals -------------------------------------------------------------------------------

    def _update(self, fd: int, entry: _FdEntry) -> None:
        """Under the mask lock: set ``fd``'s mask from ``entry`` (forget it when nothing is left)."""
        if entry.reader is None and entry.writer is None:
            del self._fds[fd]
            self._parked.pop(fd, None)  # forgotten: nothing left to audit either
            self._selector.unregister(fd)
        else:
            self._selector.modify(fd, entry.mask())  # 0 while parked with no writer: kept

    def _start_audit(self) -> None:
        self.call_later(PARK_AUDIT_S, self._audit)

    def _audit(self) -> None:
        """The park audit (see "Parked fds"): revoke each park whose fd has stayed readable and
        unread since the last audit; run again while anything is parked."""
        with self._mask_lock:
            entries = [(fd, e) for fd, e in self._parked.items() if not e.revoked]
            if not entries:
                self._auditing = False  # the next park starts it again
                return
        # Scheduled first: an error below (logged by the loop) must not end the audits for good.
        self.call_later(PARK_AUDIT_S, self._audit)
        probe = _real.poll()
        for fd, _entry in entries:
            probe.register(fd, READ)
        readable = {fd for fd, mask in probe.poll(0) if not mask & _real.POLLNVAL}
        with self._mask_lock:
            for fd, entry in entries:
                if self._parked.get(fd) is not entry or entry.revoked or entry.reader is None:
                    continue  # unparked, parked anew or no longer read meanwhile
                if fd not in readable:
                    entry.mark = None
                    continue
                progress = entry.progress
                seen = progress() if progress is not None else 0
                if entry.mark == seen:
                    entry.revoked = True
                    self.revocations += 1
                    self._update(fd, entry)
                    log.debug("zloop: fd %d is parked but not read: the I/O thread reads it", fd)
                else:
                    entry.mark = seen

    def _timer_cancelled(self) -> None:
        self._cancelled += 1
        if self._cancelled > 64 and self._cancelled * 2 > len(self._timers):
            self._timers = [item for item in self._timers if not item[2].cancelled]
            heapq.heapify(self._timers)
            self._cancelled = 0

    def _begin_exit(self) -> None:
        self.exiting = True
        for obj in list(self._objects):
            self._guard(obj.io_exit)

    def _add_closed_waiter(self, done: _real.Event) -> None:
        self._closed_waiters.append(done)
        self._check_closed_waiters()

    def _check_closed_waiters(self) -> None:
        if not any(obj.core.closed for obj in self._objects):
            waiters, self._closed_waiters = self._closed_waiters, []
            for done in waiters:
                done.set()

    def _begin_stop(self) -> None:
        self._stopping = True
        for obj in list(self._objects):
            self._guard(obj.io_stop)

    def _guard(self, callback: Callback) -> None:
        try:
            callback()
        except Exception:
            limited(
                "callback error",
                logging.ERROR,
                "zloop I/O thread %s: unhandled error in %r",
                self.name,
                callback,
                exc_info=True,
            )

    def _run_commands(self) -> bool:
        """Run queued commands; True if some are still waiting."""
        recv = self._mailbox.recv
        for _ in range(_MAX_COMMANDS_PER_TURN):
            command = recv(0.0)
            if command is None:
                return False
            self._guard(command)
        return True

    def _run_timers(self) -> float | None:
        """Run due timers; the delay until the next one (None = no timer)."""
        timers = self._timers
        now = time.monotonic()
        while timers:
            deadline, _, timer = timers[0]
            if timer.cancelled:
                heapq.heappop(timers)
                self._cancelled = max(0, self._cancelled - 1)
                continue
            if deadline > now:
                return deadline - now
            heapq.heappop(timers)
            timer.cancelled = True  # fired: a later cancel() is a no-op
            self._guard(timer.callback)
            now = time.monotonic()
        return None

    def _run(self) -> None:
        selector = self._selector
        fds = self._fds
        try:
            while True:
                more = self._run_commands()
                if self._stopping and not self._objects:
                    break
                timeout = self._run_timers()
                if self._stopping and not self._objects:
                    break  # a timer ended the last lingering object
                if more:
                    timeout = 0.0
                # The entries as they are now: a callback may close an fd whose number a later
                # one reuses in this same turn, and the new owner must not get the old one's event.
                for fd, entry, mask in [(fd, fds.get(fd), m) for fd, m in selector.poll(timeout)]:
                    if entry is None:  # the mailbox: commands run at the top of the loop
                        continue
                    if mask & READ and entry.reader is not None:
                        self._guard(entry.reader)  # may remove (and close) the fd
                    if mask & WRITE and entry.writer is not None and fds.get(fd) is entry:
                        self._guard(entry.writer)
        finally:
            self._stopped = True
            for done in self._closed_waiters:
                done.set()
            for fd in list(fds):
                self.remove_fd(fd)
            selector.close()
            # A post after this is harmless: a closed Signaler ignores send().
            self._mailbox.close()
