"""The command mailbox of a socket or an I/O thread.

Theory of operation
-------------------
A mailbox is a queue of commands (callables run by the owning thread) plus a :class:`Signaler` whose
fd is the owner's wake-up. It implements libzmq's rule that makes ``ZMQ_FD`` edge-triggered: **a
command only signals the fd when the reader is asleep**, i.e. when the owner last found the queue empty.

Reader (owner thread, :meth:`recv`): pop a command; if the queue is empty, raise ``_asleep`` *then
check the queue again* before waiting on or polling the fd. Writer (any thread, :meth:`post`): append
the command *then* check ``_asleep``; if raised, lower it and signal. Because the reader publishes
"asleep" before its last look and the writer publishes the command before its look at "asleep", at
least one of them sees the other (the GIL makes these operations sequentially consistent): either the
reader finds the command, or the writer signals. A command is never stranded with the fd quiet.
Both may happen, giving a spurious signal; :meth:`recv` consumes such stale signals whenever it finds
the queue empty, so a quiet socket's fd does not stay readable.

The writer's "lower the flag, signal" and the reader's "raise the flag, consume" are each made one
step by a lock taken on these transitions only (never per message). Otherwise a reader scheduled
between the writer's two halves raises the flag and consumes nothing, the signal lands afterwards,
and the fast path (flag raised: nothing to consume) leaves it pending: a selector watching the fd
spins until the next post. With the lock, a raised flag always means the fd is quiet.

The signal is consumed only here, inside command processing; that is why any call that processes
commands (``EVENTS``, ``send``, ``recv``, ``poll``) may consume the edge, exactly as in libzmq.

:meth:`run_queued` is the cheap variant for the owner's hot path (every ``send``/``recv``): it runs
what is queued *now* and leaves ``_asleep`` and the fd alone. That keeps the invariant the reader
relies on -- ``_asleep`` lowered means a signal was sent and not yet consumed -- so the fd stays
readable (a spurious wake-up at worst) and no post is ever stranded. Posters keep seeing the owner
awake, so a busy owner is never signalled: the queue's own length is the "command pending" flag.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any

from zloop import _real
from zloop.io.signaler import Signaler

Command = Callable[[], Any]


class Mailbox:
    """A multi-producer, single-consumer command queue with an edge-triggered signal fd."""

    __slots__ = ("_asleep", "_commands", "_wake_lock", "signaler")

    def __init__(self) -> None:
        #: Owner thread may test it for emptiness (the "command pending" flag); never replaced.
        self._commands: deque[Command] = deque()
        # Born asleep (as libzmq's mailbox): a program that starts by waiting on the fd is woken
        # by the very first command.
        self._asleep = True
        self.signaler = Signaler()
        # Lowering the flag and signalling (a post), and raising it and consuming (the owner), are
        # each done as one step: an owner that ran between a post's two halves would raise the
        # flag before the signal landed, and the fast path would then never consume that signal.
        self._wake_lock = _real.Lock()

    def fileno(self) -> int:
        return self.signaler.fileno()

    def post(self, command: Command) -> None:
        """Queue ``command`` for the owner thread (thread-safe).

        An exception raised part way (a KeyboardInterrupt from a signal handler, which Python runs
        between bytecodes) may leave the command queued with the owner asleep: the owner is then
        woken anyway (a spurious wake-up at worst), else it could wait for ever for a command
        already queued. Only a second signal landing in that handler could still strand it."""
        try:
            self._commands.append(command)
            if self._asleep:
                with self._wake_lock:
                    self._asleep = False
                    self.signaler.send()
        except BaseException:
            with self._wake_lock:
                self._asleep = False
                self.signaler.send()
            raise

    @property
    def queue(self) -> deque[Command]:
        """The command queue itself: its truth value says whether a command is pending (owner thread)."""
        return self._commands

    def run_queued(self) -> None:
        """Owner thread: run every command queued now, without touching the signal (see above)."""
        commands = self._commands
        while commands:
            command = commands[0]
            try:
                commands.popleft()
            except BaseException:
                _put_back(commands, command)
                raise
            command()

    def recv(
        self, timeout: float | None = 0.0, wait: Callable[[float | None], bool] | None = None
    ) -> Command | None:
        """Take the next command, waiting up to ``timeout`` seconds (None = forever) for one.

        Returns None when nothing arrived in time. Owner thread only. ``wait``: what blocks
        instead of :meth:`Signaler.wait` (True when the signal fd is readable; False ends the
        wait as a timeout does: a socket's recv also waits for an engine's fd this way).
        """
        commands = self._commands
        if commands:
            return _take(commands)
        if self._asleep and timeout is not None and timeout <= 0:
            # Still asleep since we last found the queue empty and consumed the signal: no writer
            # has posted (posting lowers the flag), so there is nothing to consume. Saves a syscall.
            return None
        deadline = None if timeout is None else time.monotonic() + timeout
        signaler = self.signaler
        # Invariant kept for the fast path above: whenever we leave with _asleep raised, every
        # signal sent before that was consumed (a writer that signals also lowers the flag). So a
        # signal can only be pending while the flag is down: read the fd only then (one read per
        # wake-up, and none before a wait that follows a quiet look).
        pending = not self._asleep
        while True:
            if pending:
                with self._wake_lock:
                    self._asleep = True
                    signaler.recv()  # consume what is pending (possibly stale) before looking
            if commands:  # a writer may have appended before it saw _asleep
                return _take(commands)
            if not self._asleep:  # a writer signalled after our read: consume that too
                pending = True
                continue
            pending = False
            if deadline is None:
                remaining = None
            else:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
            if (signaler.wait if wait is None else wait)(remaining):
                pending = True
                continue
            return _take(commands) if commands else None

    def close(self) -> None:
        self.signaler.close()


def _take(commands: deque[Command]) -> Command:
    """``commands.popleft()`` that an exception raised as the call returns (a KeyboardInterrupt:
    Python runs signal handlers when a call returns) cannot lose: the command goes back."""
    command = commands[0]
    try:
        commands.popleft()
    except BaseException:
        _put_back(commands, command)
        raise
    return command


def _put_back(commands: deque[Command], command: Command) -> None:
    """For an interrupted ``popleft`` of ``command`` (writers only append at the other end)."""
    if not commands or commands[0] is not command:
        commands.appendleft(command)
