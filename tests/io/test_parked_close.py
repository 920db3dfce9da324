"""IOThread.remove_fd with a closer: while an application thread waits on the fd (parked, see
"Reads in the application thread" in zloop/io/engine.py) the close waits for unpark_reader, so the
waiter never watches a closed fd or a reused number; otherwise it closes at once. A park the I/O
thread revoked (it reads the fd again, see "Parked fds" in zloop/io/reactor.py) still defers the
close to the parker's unpark."""

from __future__ import annotations

import socket

from zloop._real import READ
from zloop.io.reactor import IOThread


def _pair_thread() -> tuple[IOThread, socket.socket, socket.socket]:
    io = IOThread("parked-close-test")  # never started: only its fd table is used
    a, b = socket.socketpair()
    io.add_reader(a.fileno(), lambda: None)
    return io, a, b


def test_close_of_a_parked_fd_waits_for_unpark() -> None:
    io, a, b = _pair_thread()
    try:
        fd = a.fileno()
        token = io.park_reader(fd)
        assert token is not None
        assert io.remove_fd(fd, a.close) is True  # deferred: the owner wakes the waiter
        assert a.fileno() == fd  # still open while parked
        io.unpark_reader(fd, token)
        assert a.fileno() == -1
        io.unpark_reader(fd, token)  # a second unpark is a no-op
    finally:
        a.close()
        b.close()
        io._selector.close()
        io._mailbox.close()


def test_close_of_an_unparked_fd_is_immediate() -> None:
    io, a, b = _pair_thread()
    try:
        fd = a.fileno()
        token = io.park_reader(fd)
        io.unpark_reader(fd, token)
        assert io.remove_fd(fd, a.close) is False
        assert a.fileno() == -1
    finally:
        a.close()
        b.close()
        io._selector.close()
        io._mailbox.close()


def test_revoke_watches_the_fd_again_and_still_defers_its_close() -> None:
    io, a, b = _pair_thread()
    try:
        fd = a.fileno()
        token = io.park_reader(fd)
        entry = io._fds[fd]
        assert not entry.mask() & READ
        io.revoke_reader(fd)
        assert entry.mask() & READ and entry.parked
        # The parker may still watch the fd: its close waits for the unpark, as for any park.
        assert io.remove_fd(fd, a.close) is True
        assert a.fileno() == fd
        io.unpark_reader(fd, token)
        assert a.fileno() == -1
    finally:
        a.close()
        b.close()
        io._selector.close()
        io._mailbox.close()


def test_revoke_of_an_unparked_fd_does_nothing() -> None:
    io, a, b = _pair_thread()
    try:
        fd = a.fileno()
        io.revoke_reader(fd)
        entry = io._fds[fd]
        assert not entry.parked and not entry.revoked
        assert io.park_reader(fd) is entry
    finally:
        a.close()
        b.close()
        io._selector.close()
        io._mailbox.close()
