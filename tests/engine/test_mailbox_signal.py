"""The mailbox reads its signal fd only while a signal may be pending (the flag is down), yet the
edge contract holds: a quiet mailbox's fd is not readable, and a post to a sleeping one fires it.

Neither side waits for the other: the owner is never kept out while a post signals (a syscall), and
a post is never kept out while the owner consumes. The window tests put the other side at each step
of the hand-off (before and after the poster's signal, before and after the owner's read); the race
test runs both sides freely, as an adapter watching the fd would."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator

import pytest
from zl_testing import DEADLINE, STRESS_SCALE, fd_readable

from zloop.io.signaler import Signaler
from zloop.mailbox import Mailbox


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox()
    yield box
    box.close()


def _cmd() -> None:
    pass


def test_post_fires_and_draining_quiets_the_fd(mailbox: Mailbox) -> None:
    assert not fd_readable(mailbox.fileno())
    mailbox.post(_cmd)
    mailbox.post(_cmd)
    assert fd_readable(mailbox.fileno())
    assert mailbox.recv(0) is _cmd  # taken without reading the fd ...
    assert mailbox.recv(0) is _cmd
    assert mailbox.recv(0) is None  # ... whose signal is consumed on finding the queue empty
    assert not fd_readable(mailbox.fileno())
    mailbox.post(_cmd)  # asleep again: the next post fires the fd again
    assert fd_readable(mailbox.fileno())
    assert mailbox.recv(0) is _cmd
    assert mailbox.recv(0) is None
    assert not fd_readable(mailbox.fileno())


def test_timed_out_wait_leaves_the_fd_quiet_and_armed(mailbox: Mailbox) -> None:
    assert mailbox.recv(0.01) is None
    assert not fd_readable(mailbox.fileno())
    mailbox.post(_cmd)
    assert fd_readable(mailbox.fileno())
    assert mailbox.recv(0.01) is _cmd
    assert mailbox.recv(0) is None
    assert not fd_readable(mailbox.fileno())


def _take(mailbox: Mailbox, into: list[object]) -> None:
    into.append(mailbox.recv(DEADLINE))


def test_blocking_recv_is_woken_by_a_post_from_another_thread(mailbox: Mailbox) -> None:
    for _ in range(200):
        got: list[object] = []
        waiter = threading.Thread(target=_take, args=(mailbox, got))
        waiter.start()
        mailbox.post(_cmd)  # before or after the waiter sleeps: it must see the command
        waiter.join(DEADLINE)
        assert got == [_cmd]
        assert mailbox.recv(0) is None
        assert not fd_readable(mailbox.fileno())


class _SignalerWithOwnerStep:
    """Wraps a mailbox's signaler: the owner thread runs ``step`` while a post is in the middle of
    its hand-off -- ``before`` its signal (the flag already lowered) or ``after`` it (the signal
    landed, the post not yet finished). ``owner_finished_inside`` says whether the owner ran to the
    end while the post waited for it: a mailbox that made the owner wait for the post would leave
    it blocked until the deadline."""

    def __init__(self, inner: Signaler, step: Callable[[], None], when: str) -> None:
        self._inner = inner
        self._step = step
        self._when = when
        self.owner: threading.Thread | None = None
        self.owner_finished_inside = False

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    def _run_owner(self) -> None:
        if self.owner is None:
            self.owner = threading.Thread(target=self._step)
            self.owner.start()
            self.owner.join(DEADLINE)
            self.owner_finished_inside = not self.owner.is_alive()

    def send(self) -> None:
        if self._when == "before":
            self._run_owner()
        self._inner.send()
        if self._when == "after":
            self._run_owner()


@pytest.mark.parametrize("when", ["before", "after"])
def test_owner_running_inside_a_post_leaves_no_stale_signal(mailbox: Mailbox, when: str) -> None:
    """The owner takes the command and finds the queue empty while a post is between lowering the
    flag and signalling (or between signalling and its end): the signal that lands must not stay
    pending with the flag trusted, or the fast path would never consume it and a selector watching
    the fd would spin. Nor may the owner wait for the post's syscall."""
    got: list[object] = []

    def owner_step() -> None:
        got.append(mailbox.recv(0))  # the command, taken at once
        got.append(mailbox.recv(0))  # the queue is empty now: raise the flag, consume

    wrapper = _SignalerWithOwnerStep(mailbox.signaler, owner_step, when)
    mailbox.signaler = wrapper  # type: ignore[assignment]
    mailbox.post(_cmd)
    assert wrapper.owner_finished_inside, "the owner waited for a post in progress"
    assert got == [_cmd, None]
    assert fd_readable(mailbox.fileno()) == (when == "before")  # the late signal landed
    assert mailbox.recv(0) is None  # the next look consumes it ...
    assert not fd_readable(mailbox.fileno()), "a signal stayed pending on a quiet mailbox"
    assert mailbox.recv(0) is None
    mailbox.post(_cmd)  # ... and the mailbox is asleep again: a post fires the fd
    assert fd_readable(mailbox.fileno())
    assert mailbox.recv(0) is _cmd
    assert mailbox.recv(0) is None
    assert not fd_readable(mailbox.fileno())


class _SignalerWithPosterStep:
    """Wraps a mailbox's signaler: a post from another thread runs to its end while the owner is
    in the middle of consuming -- ``before`` its read of the fd (the flag already raised) or
    ``after`` it (the flag raised, the queue not yet looked at)."""

    def __init__(self, inner: Signaler, mailbox: Mailbox, when: str) -> None:
        self._inner = inner
        self._mailbox = mailbox
        self._when = when
        self.poster_finished_inside: bool | None = None

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    def _run_poster(self) -> None:
        if self.poster_finished_inside is None:
            poster = threading.Thread(target=self._mailbox.post, args=(_cmd,))
            poster.start()
            poster.join(DEADLINE)
            self.poster_finished_inside = not poster.is_alive()

    def recv(self) -> bool:
        if self._when == "before":
            self._run_poster()
        got = self._inner.recv()
        if self._when == "after":
            self._run_poster()
        return got


@pytest.mark.parametrize("when", ["before", "after"])
def test_post_inside_the_owners_consume_is_neither_lost_nor_stale(
    mailbox: Mailbox, when: str
) -> None:
    mailbox.post(_cmd)
    assert mailbox.recv(0) is _cmd  # the flag is down: the next empty look consumes
    wrapper = _SignalerWithPosterStep(mailbox.signaler, mailbox, when)
    mailbox.signaler = wrapper  # type: ignore[assignment]
    assert mailbox.recv(0) is _cmd, "the post made inside the consume was lost"
    assert wrapper.poster_finished_inside, "the post waited for the owner"
    assert mailbox.recv(0) is None
    assert not fd_readable(mailbox.fileno()), "a signal stayed pending on a quiet mailbox"
    mailbox.post(_cmd)
    assert fd_readable(mailbox.fileno())


def test_free_race_loses_no_wake_up_and_ends_quiet(mailbox: Mailbox) -> None:
    """A poster thread and an owner that drains with ``recv(0)`` and sleeps on the fd when it finds
    nothing (an edge-triggered loop, as the adapters run): every command arrives, every sleep is
    woken, at most one spurious wake-up per post, and once both are done the fd is quiet."""
    count = max(200, int(20_000 * STRESS_SCALE))
    taken = 0
    spurious = 0
    sleeps = 0

    def poster() -> None:
        for i in range(count):
            mailbox.post(_cmd)
            if i % 7 == 0:
                os.sched_yield()  # vary where the owner finds the poster

    thread = threading.Thread(target=poster)
    thread.start()
    try:
        while taken < count:
            woke_for = taken
            while mailbox.recv(0) is not None:
                taken += 1
            if taken < count:
                sleeps += 1
                assert fd_readable(mailbox.fileno(), DEADLINE), f"lost wake-up at {taken}/{count}"
                if taken == woke_for and sleeps > 1:
                    spurious += 1
    finally:
        thread.join(DEADLINE)
    assert not thread.is_alive()
    assert mailbox.recv(0) is None
    assert not fd_readable(mailbox.fileno()), "a signal stayed pending after the race"
    assert spurious <= count


def test_signaler_close_from_another_thread_waits_for_a_read_in_progress(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """recv() takes no lock; a close() from another thread must still not free the fd number while
    the owner is reading it (the OS could hand it to the next fd opened)."""
    signaler = Signaler()
    signaler.send()
    seen: list[bool] = []
    closers: list[threading.Thread] = []
    real_read = os.eventfd_read

    def read_with_a_close_inside(rfd: int) -> int:
        closer = threading.Thread(target=signaler.close)
        closers.append(closer)
        closer.start()
        closer.join(0.05)  # time enough for a close that does not wait to close the fd
        seen.append(closer.is_alive())
        try:
            os.fstat(rfd)  # still open
        except OSError:
            seen.append(False)
        return real_read(rfd)

    monkeypatch.setattr(os, "eventfd_read", read_with_a_close_inside)
    assert signaler.recv() is True
    monkeypatch.undo()
    assert seen == [True], "close() freed the fd while recv() was reading it"
    closers[0].join(DEADLINE)  # ... and closes it once the read is over
    assert not closers[0].is_alive()
    assert signaler.fileno() == -1
    assert signaler.recv() is False
