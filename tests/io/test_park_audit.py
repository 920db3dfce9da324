"""The park audit of the I/O thread ("Parked fds" in zloop/io/reactor.py): a parked fd that stays
readable while its parker does not read it is read by the I/O thread again (revoked), and only
then: a parker that keeps reading, or an fd with nothing to read, keeps its park. A revoked park
still defers the fd's close to the parker's unpark."""

from __future__ import annotations

import contextlib
import itertools
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from zl_testing import DEADLINE

from zloop._real import READ
from zloop.io.reactor import IOThread


class Audited:
    """A started I/O thread watching one end of a socketpair, counting its park audits."""

    def __init__(self) -> None:
        self.io = IOThread("park-audit-test")
        self.a, self.b = socket.socketpair()
        self.a.setblocking(False)
        self.fd = self.a.fileno()
        self.read_by_io = threading.Event()
        self.audits = 0
        self._audit_seen = threading.Condition()
        original = self.io._audit

        def counting() -> None:
            original()
            with self._audit_seen:
                self.audits += 1
                self._audit_seen.notify_all()

        self.io._audit = counting  # type: ignore[method-assign]
        self.io.start()
        self.in_io(lambda: self.io.add_reader(self.fd, self._on_readable))

    def _on_readable(self) -> None:
        self.read_by_io.set()
        with contextlib.suppress(BlockingIOError):
            self.a.recv(4096)

    def in_io(self, command: Callable[[], Any]) -> None:
        """Run ``command`` in the I/O thread and wait until it ran."""
        done = threading.Event()

        def run() -> None:
            command()
            done.set()

        self.io.post(run)
        assert done.wait(DEADLINE)

    def wait_audits(self, count: int) -> None:
        """Wait until ``count`` more audits than now have run."""
        with self._audit_seen:
            target = self.audits + count
            assert self._audit_seen.wait_for(lambda: self.audits >= target, DEADLINE)

    def close(self) -> None:
        self.in_io(lambda: self.io.remove_fd(self.fd))
        self.io.stop()
        self.io.join(DEADLINE)
        self.a.close()
        self.b.close()


@pytest.fixture
def audited() -> Iterator[Audited]:
    pair = Audited()
    try:
        yield pair
    finally:
        pair.close()


def test_a_parked_fd_nobody_reads_is_read_by_the_io_thread(audited: Audited) -> None:
    token = audited.io.park_reader(audited.fd, lambda: 0)
    assert token is not None
    audited.b.send(b"x")
    assert audited.read_by_io.wait(DEADLINE)
    assert audited.io.revocations == 1
    audited.io.unpark_reader(audited.fd, token)


def test_a_parker_that_keeps_reading_keeps_its_park(audited: Audited) -> None:
    reads = itertools.count()  # moves at every look: the parker reads between audits
    token = audited.io.park_reader(audited.fd, lambda: next(reads))
    audited.b.send(b"x")
    audited.wait_audits(5)
    assert not audited.read_by_io.is_set()
    assert audited.io.revocations == 0
    audited.io.unpark_reader(audited.fd, token)
    assert audited.read_by_io.wait(DEADLINE)  # unparked: the I/O thread reads as always


def test_an_idle_parked_fd_keeps_its_park(audited: Audited) -> None:
    token = audited.io.park_reader(audited.fd, lambda: 0)
    audited.wait_audits(5)
    entry = audited.io._fds[audited.fd]
    assert entry.parked and not entry.revoked
    audited.b.send(b"x")  # readable now, and nobody reads: revoked
    assert audited.read_by_io.wait(DEADLINE)
    audited.io.unpark_reader(audited.fd, token)


def test_the_audit_stops_when_nothing_is_parked_and_starts_again(audited: Audited) -> None:
    token = audited.io.park_reader(audited.fd, lambda: 0)
    audited.wait_audits(1)
    audited.io.unpark_reader(audited.fd, token)
    audited.wait_audits(1)  # the one scheduled before the unpark finds nothing parked
    assert not audited.io._auditing
    token = audited.io.park_reader(audited.fd, lambda: 0)
    audited.b.send(b"x")
    assert audited.read_by_io.wait(DEADLINE)
    audited.io.unpark_reader(audited.fd, token)


def test_after_a_revoked_park_the_fd_is_read_and_can_be_parked_again(audited: Audited) -> None:
    token = audited.io.park_reader(audited.fd, lambda: 0)
    audited.b.send(b"x")
    assert audited.read_by_io.wait(DEADLINE)
    audited.io.unpark_reader(audited.fd, token)
    entry = audited.io._fds[audited.fd]
    assert not entry.parked and not entry.revoked and entry.mask() & READ
    assert audited.io.park_reader(audited.fd, lambda: 0) is entry  # a new park is possible
    audited.io.unpark_reader(audited.fd, entry)


def test_a_parked_fd_whose_reader_is_removed_leaves_the_audit(audited: Audited) -> None:
    """The engine stops reading (input stalled) while the fd is parked: the fd is forgotten, and
    the audit neither revokes it nor keeps running for it."""
    token = audited.io.park_reader(audited.fd, lambda: 0)
    audited.b.send(b"x")
    audited.in_io(lambda: audited.io.remove_reader(audited.fd))
    assert audited.fd not in audited.io._parked
    with audited._audit_seen:  # the next audit finds nothing parked: the audits stop
        assert audited._audit_seen.wait_for(lambda: not audited.io._auditing, DEADLINE)
    assert audited.io.revocations == 0
    assert not audited.read_by_io.is_set()
    audited.io.unpark_reader(audited.fd, token)  # a no-op now
    audited.in_io(lambda: audited.io.add_reader(audited.fd, audited._on_readable))
    assert audited.read_by_io.wait(DEADLINE)  # read again as usual
