"""The mailbox reads its signal fd only while a signal may be pending (the flag is down), yet the
edge contract holds: a quiet mailbox's fd is not readable, and a post to a sleeping one fires it."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from zl_testing import DEADLINE, fd_readable

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
    """Wraps a mailbox's signaler: ``send()`` first lets the owner thread run ``step`` (the owner
    being scheduled between the poster's lowering of the flag and its signal), waiting for it at
    most ``patience`` seconds -- an owner that cannot get in by then is kept out by the mailbox."""

    def __init__(self, inner: object, step: object, patience: float) -> None:
        self._inner = inner
        self._step = step
        self._patience = patience
        self.owner: threading.Thread | None = None

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    def send(self) -> None:
        if self.owner is None:
            self.owner = threading.Thread(target=self._step)
            self.owner.start()
            self.owner.join(self._patience)
        self._inner.send()  # type: ignore[attr-defined]


def test_owner_running_inside_a_post_leaves_no_stale_signal(mailbox: Mailbox) -> None:
    """The owner takes the command and finds the queue empty while a post is between lowering the
    flag and signalling: the signal that lands afterwards must not stay pending with the flag
    raised, or the fast path would never consume it and a selector watching the fd would spin."""
    got: list[object] = []

    def owner_step() -> None:
        got.append(mailbox.recv(0))  # the command, taken at once
        got.append(mailbox.recv(0))  # the queue is empty now: raise the flag, consume

    wrapper = _SignalerWithOwnerStep(mailbox.signaler, owner_step, 0.2)
    mailbox.signaler = wrapper  # type: ignore[assignment]
    mailbox.post(_cmd)
    assert wrapper.owner is not None
    wrapper.owner.join(DEADLINE)
    assert got == [_cmd, None]
    assert mailbox.recv(0) is None
    assert not fd_readable(mailbox.fileno()), "a signal stayed pending on a quiet mailbox"
