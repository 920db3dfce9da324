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

The writer's "lower the flag, signal" and the reader's "raise the flag, consume" are two steps each,
and the signal is a syscall during which the writer gives up the GIL. A reader scheduled between the
writer's two halves raises the flag and consumes nothing; the signal lands afterwards, and a fast path
that trusted a raised flag (nothing to consume) would leave it pending: a selector watching the fd
would spin until the next post. No lock spans those steps (a reader waiting for a writer's syscall
cost 17-22 us per wake-up); instead each writer *announces* its signal in ``_signalling`` before it
lowers the flag and withdraws it once the signal has landed, and the reader, after raising the flag
and *before* consuming, looks at ``_signalling``:

* empty: every writer that lowered the flag before the reader raised it has finished signalling, so
  the consume that follows clears them all. Later writers lower the flag again, which the reader
  sees. A raised flag means the fd is quiet, and the fast path may skip the read.
* not empty: a signal may land after the consume. The reader remembers that (``_unsure``) and skips
  the fast path until it has consumed while no signal was in flight; the late signal costs at most
  one spurious wake-up, after which the fd is quiet again.

The three states of the flag pair, as the reader sees them: *awake* (``_asleep`` lowered: a signal
was sent or is being sent and is not consumed), *asleep* (raised, fd quiet), *asleep, unsure*
(raised, a signal may still land). ``tests/engine/test_mailbox_signal.py`` races both sides through
each window.

The signal is consumed only here, inside command processing; that is why any call that processes
commands (``EVENTS``, ``send``, ``recv``, ``poll``) may consume the edge, exactly as in libzmq.

:meth:`run_queued` is the cheap variant for the owner's hot path (every ``send``/``recv``): it runs
what is queued *now* and leaves ``_asleep`` and the fd alone. That keeps the invariant the reader
relies on -- ``_asleep`` lowered means a signal was (or is being) sent and not yet consumed -- so the fd stays
readable (a spurious wake-up at worst) and no post is ever stranded. Posters keep seeing the owner
awake, so a busy owner is never signalled: the queue's own length is the "command pending" flag.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any

from zloop.io.signaler import Signaler

Command = Callable[[], Any]


class Mailbox:
    """A multi-producer, single-consumer command queue with an edge-triggered signal fd."""

    __slots__ = ("_asleep", "_commands", "_signalling", "_unsure", "signaler")

    def __init__(self) -> None:
        #: Owner thread may test it for emptiness (the "command pending" flag); never replaced.
        self._commands: deque[Command] = deque()
        # Born asleep (as libzmq's mailbox): a program that starts by waiting on the fd is woken
        # by the very first command.
        self._asleep = True
        self.signaler = Signaler()
        # One entry per post between lowering the flag and the end of its signal (append and pop
        # of a deque are atomic under the GIL, so several posting threads may share it).
        self._signalling: deque[None] = deque()
        # Raised flag, but a signal may land after the owner's last consume: do not trust the flag.
        self._unsure = False

    def fileno(self) -> int:
        return self.signaler.fileno()

    def post(self, command: Command) -> None:
        """Queue ``command`` for the owner thread (thread-safe)."""
        self._commands.append(command)
        if self._asleep:
            signalling = self._signalling
            signalling.append(None)  # announced before the flag is lowered: see the module doc
            self._asleep = False
            try:
                self.signaler.send()
            finally:
                signalling.pop()

    @property
    def queue(self) -> deque[Command]:
        """The command queue itself: its truth value says whether a command is pending (owner thread)."""
        return self._commands

    def run_queued(self) -> None:
        """Owner thread: run every command queued now, without touching the signal (see above)."""
        commands = self._commands
        while commands:
            commands.popleft()()

    def recv(self, timeout: float | None = 0.0) -> Command | None:
        """Take the next command, waiting up to ``timeout`` seconds (None = forever) for one.

        Returns None when nothing arrived in time. Owner thread only.
        """
        commands = self._commands
        if commands:
            return commands.popleft()
        if self._asleep and not self._unsure and timeout is not None and timeout <= 0:
            # Still asleep since we last found the queue empty and consumed the signal with none in
            # flight: no writer has posted since (posting lowers the flag), so there is nothing to
            # consume. Saves a syscall.
            return None
        deadline = None if timeout is None else time.monotonic() + timeout
        signaler = self.signaler
        # Invariant kept for the fast path above: whenever we leave with _asleep raised and
        # _unsure lowered, every signal sent before that was consumed (a writer that signals also
        # lowers the flag). So a signal can only be pending while the flag is down or we are
        # unsure: read the fd only then (one read per wake-up, none before a wait that follows a
        # quiet look).
        pending = not self._asleep or self._unsure
        while True:
            if pending:
                self._asleep = True
                # After raising the flag, before consuming: a writer still signalling may have
                # lowered the flag before we raised it, and its signal may land after our read.
                self._unsure = bool(self._signalling)
                signaler.recv()  # consume what is pending (possibly stale) before looking
            if commands:  # a writer may have appended before it saw _asleep
                return commands.popleft()
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
            if signaler.wait(remaining):
                pending = True
                continue
            return commands.popleft() if commands else None

    def close(self) -> None:
        self.signaler.close()
