"""IOThread.remove_fd with a closer: while an application thread waits on the fd (parked, see
"Reads in the application thread" in zloop/io/engine.py) the close waits for unpark_reader, so the
waiter never watches a closed fd or a reused number; otherwise it closes at once."""

from __future__ import annotations

import socket

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
