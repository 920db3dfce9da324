"""The opt-in level-triggered fd (zloop extension, libzmq#2941) used with select.epoll in level mode."""

from __future__ import annotations

import select

import pytest
from zl_testing import DEADLINE

import zloop

pytestmark = pytest.mark.skipif(not hasattr(select, "epoll"), reason="needs epoll")


def test_level_fd_with_level_mode_epoll(ctx: zloop.Context) -> None:
    """No drain discipline: one message per wake-up, epoll keeps reporting until all are read."""
    pull, push = ctx.socket(zloop.PULL), ctx.socket(zloop.PUSH)
    pull.setsockopt(zloop.LINGER, 0)
    push.setsockopt(zloop.LINGER, 0)
    pull.bind("tcp://127.0.0.1:*")
    push.connect(pull.last_endpoint.decode())
    fd = pull.level_fd(zloop.POLLIN)
    ep = select.epoll()
    ep.register(fd, select.EPOLLIN)  # level-triggered (no EPOLLET)
    try:
        assert ep.poll(0) == []
        n = 5
        for i in range(n):
            push.send(b"%d" % i)
        got = []
        spurious = 0
        while len(got) < n:
            events = ep.poll(DEADLINE)
            assert events == [(fd, select.EPOLLIN)], "epoll timed out with messages pending"
            try:
                got.append(pull.recv(zloop.NOBLOCK))  # at most one per wake-up
            except zloop.Again:
                # The fd is set when a command that *may* make the socket ready is posted (e.g.
                # the connection's pipe being attached); the failed call clears it again.
                spurious += 1
            # while EVENTS has POLLIN the level fd is readable (a message arriving right after
            # the EVENTS read may set it too, so only this direction is race-free)
            if pull.getsockopt(zloop.EVENTS) & zloop.POLLIN:
                assert ep.poll(0) == [(fd, select.EPOLLIN)]
        assert spurious <= 2
        assert got == [b"%d" % i for i in range(n)]
        assert ep.poll(0) == []  # drained: no longer readable
        push.send(b"again")
        assert ep.poll(DEADLINE) == [(fd, select.EPOLLIN)]
        assert pull.recv(zloop.NOBLOCK) == b"again"
    finally:
        ep.close()
