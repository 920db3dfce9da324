"""``Socket.level_fd(events)``: an opt-in fd readable exactly while ``EVENTS`` has those bits
(docs/readiness.md, the zloop answer to libzmq#2941). Usable with plain select/poll/epoll in level mode, with
no drain discipline.

"Exactly" is checked at points where nothing is in flight (inproc: always; tcp/ipc: when a single
message travels, or after the queues settled); while a peer's command is on its way the fd may run
ahead of EVENTS, never behind it.
"""

from __future__ import annotations

import errno
import os
import select
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from engine_helpers import (
    DEADLINE,
    NOBLOCK,
    POLLIN,
    POLLOUT,
    Pair,
    Worker,
    drain,
    endpoint_for,
    fd_readable,
    recv_n,
    wait_readable,
)

import zloop

_TCP_BUF = 16 * 1024
_BIG = b"x" * (16 * 1024)


def _hwm_options(transport: str, hwm: int = 5) -> dict[str, int]:
    options = {"sndhwm": hwm, "rcvhwm": hwm}
    if transport != "inproc":
        options.update(sndbuf=_TCP_BUF, rcvbuf=_TCP_BUF)
    return options


def _payload(transport: str) -> bytes:
    return b"m" if transport == "inproc" else _BIG


def _fill_until_level_clear(sock: zloop.Socket, fd: int, payload: bytes) -> int:
    """send(NOBLOCK) until Again, until EVENTS lacks POLLOUT *and* the level fd (read after it) is
    not readable; over tcp/ipc the I/O thread may make room again in between, then keep going."""
    deadline = time.monotonic() + DEADLINE
    sent = 0
    while True:
        while True:
            try:
                sock.send(payload, NOBLOCK)
            except zloop.Again:
                break
            sent += 1
        if not sock.EVENTS & POLLOUT and not fd_readable(fd):
            return sent
        assert time.monotonic() < deadline, f"never became full after {sent} messages"


def _assert_exact(sock: zloop.Socket, fd: int, mask: int) -> None:
    """fd readable <=> EVENTS & mask, checked in both orders (for quiet sockets only)."""
    readable = fd_readable(fd)
    assert readable == bool(sock.EVENTS & mask)
    assert fd_readable(fd) == readable


# -- readable exactly while EVENTS has the bit ---------------------------------------------------------


def test_pollin_level_fd_follows_events(pair: Pair) -> None:
    s, r = pair.sender, pair.receiver
    fd = r.level_fd(POLLIN)
    drain(r)
    assert not r.EVENTS & POLLIN
    assert not fd_readable(fd)
    for i in range(5):
        s.send(b"%d" % i)
        # The writer sets the level: it becomes readable while the owner makes no call at all.
        assert wait_readable(fd), f"round {i}: level fd did not become readable"
        assert r.EVENTS & POLLIN
        assert fd_readable(fd)
        assert r.recv(NOBLOCK) == b"%d" % i
        assert not r.EVENTS & POLLIN
        assert not fd_readable(fd), f"round {i}: level fd still readable with nothing to read"


@pytest.mark.parametrize("transport", ["inproc"])
def test_pollin_level_fd_exact_through_a_burst(pair: Pair) -> None:
    s, r = pair.sender, pair.receiver
    fd = r.level_fd(POLLIN)
    drain(r)
    _assert_exact(r, fd, POLLIN)
    for i in range(4):
        s.send(b"%d" % i)
    _assert_exact(r, fd, POLLIN)
    assert fd_readable(fd)
    for i in range(4):
        assert fd_readable(fd)
        assert r.recv(NOBLOCK) == b"%d" % i
        _assert_exact(r, fd, POLLIN)
    assert not fd_readable(fd)
    with pytest.raises(zloop.Again):
        r.recv(NOBLOCK)
    _assert_exact(r, fd, POLLIN)


def test_events_never_clears_a_ready_level_fd(pair: Pair) -> None:
    s, r = pair.sender, pair.receiver
    in_fd = r.level_fd(POLLIN)
    out_fd = s.level_fd(POLLOUT)
    drain(r)
    s.send(b"x")
    assert wait_readable(in_fd)
    for _ in range(20):
        assert r.EVENTS & POLLIN
        assert r.getsockopt(zloop.EVENTS) & POLLIN
        assert fd_readable(in_fd), "reading EVENTS cleared a level fd that is still ready"
        assert s.EVENTS & POLLOUT
        assert fd_readable(out_fd), "reading EVENTS cleared a level fd that is still ready"
    assert r.recv(NOBLOCK) == b"x"


# -- level mode epoll, no drain discipline --------------------------------------------------------------


def test_epoll_level_mode_one_message_per_wakeup(pair: Pair) -> None:
    n = 5_000
    s, r = pair.sender, pair.receiver
    fd = r.level_fd(POLLIN)

    def send_all() -> None:
        s.sndtimeo = int(DEADLINE * 1000)
        for i in range(n):
            s.send(b"%d" % i)

    worker = Worker(send_all)
    worker.start()
    ep = select.epoll()
    ep.register(fd, select.EPOLLIN)  # level-triggered
    got: list[bytes] = []
    spurious = 0
    deadline = time.monotonic() + 4 * DEADLINE
    try:
        while len(got) < n:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"hang after {len(got)} of {n}"
            if not ep.poll(remaining):
                continue
            try:  # ONE message per wake-up, never drained
                got.append(r.recv(NOBLOCK))
            except zloop.Again:  # a writer may set the level a moment before it is processed
                spurious += 1
    finally:
        ep.close()
    worker.join_checked()
    assert got == [b"%d" % i for i in range(n)]
    assert spurious < n // 10  # only a race between a post and its processing causes one
    assert not r.EVENTS & POLLIN
    assert not fd_readable(fd)


# -- POLLOUT and POLLIN|POLLOUT ----------------------------------------------------------------------


def test_pollout_level_fd_clears_when_full_and_fires_when_drained(
    pair_factory: Callable[..., Pair], transport: str
) -> None:
    pair = pair_factory(**_hwm_options(transport))
    s, r = pair.sender, pair.receiver
    fd = s.level_fd(POLLOUT)
    assert s.EVENTS & POLLOUT
    assert fd_readable(fd)

    sent = _fill_until_level_clear(s, fd, _payload(transport))
    assert sent > 0
    if transport == "inproc":
        _assert_exact(s, fd, POLLOUT)
        with pytest.raises(zloop.Again):
            s.send(b"x", NOBLOCK)
        _assert_exact(s, fd, POLLOUT)
        assert not fd_readable(fd)

    recv_n(r, sent)
    assert wait_readable(fd), "POLLOUT level fd did not become readable after the drain"
    assert s.EVENTS & POLLOUT
    assert fd_readable(fd)


@pytest.mark.parametrize("kind", ["pair<->pair"])
def test_pollin_pollout_level_fd(pair_factory: Callable[..., Pair], transport: str) -> None:
    pair = pair_factory(**_hwm_options(transport))
    peer, me = pair.sender, pair.receiver
    fd = me.level_fd(POLLIN | POLLOUT)
    drain(me)
    assert me.EVENTS == POLLOUT
    assert fd_readable(fd), "writable PAIR: the POLLIN|POLLOUT fd must be readable"

    sent = _fill_until_level_clear(me, fd, _payload(transport))
    if transport == "inproc":
        assert me.EVENTS == 0
        assert not fd_readable(fd)

    peer.send(b"ping")
    if transport == "inproc":
        assert wait_readable(fd), "an incoming message must make the POLLIN|POLLOUT fd readable"
        assert me.EVENTS == POLLIN
    else:
        # The I/O thread may make room (POLLOUT) before the ping arrives: wait for the ping itself.
        assert me.poll(int(DEADLINE * 1000), POLLIN)
    assert fd_readable(fd)
    assert me.recv(NOBLOCK) == b"ping"
    if transport == "inproc":
        _assert_exact(me, fd, POLLIN | POLLOUT)
        assert not fd_readable(fd)

    recv_n(peer, sent)
    assert wait_readable(fd), "room to send must make the POLLIN|POLLOUT fd readable"
    assert me.EVENTS & POLLOUT
    assert fd_readable(fd)


def test_level_fd_set_by_connect(ctx: zloop.Context, transport: str, tmp_path: Path) -> None:
    """connect() alone makes a PUSH writable (messages queue); the POLLOUT level fd follows."""
    push = ctx.socket(zloop.PUSH)
    push.linger = 0
    fd = push.level_fd(POLLOUT)
    assert not fd_readable(fd)
    pull = ctx.socket(zloop.PULL)
    pull.linger = 0
    pull.bind(endpoint_for(transport, tmp_path))
    push.connect(pull.last_endpoint.decode())
    assert wait_readable(fd)
    assert push.EVENTS & POLLOUT


# -- API -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mask", [0, zloop.POLLERR, 8, POLLIN | zloop.POLLERR, POLLIN | POLLOUT | zloop.POLLERR, -1]
)
def test_invalid_masks_raise_einval(ctx: zloop.Context, mask: int) -> None:
    sock = ctx.socket(zloop.PAIR)
    with pytest.raises(zloop.ZMQError) as info:
        sock.level_fd(mask)
    assert info.value.errno == zloop.EINVAL


def test_one_fd_per_mask(ctx: zloop.Context) -> None:
    sock = ctx.socket(zloop.PAIR)
    fds = {mask: sock.level_fd(mask) for mask in (POLLIN, POLLOUT, POLLIN | POLLOUT)}
    assert len(set(fds.values())) == 3
    assert sock.FD not in fds.values()
    for mask, fd in fds.items():
        assert sock.level_fd(mask) == fd
    assert sock.level_fd() == fds[POLLIN]  # the default is POLLIN


def test_level_fds_close_with_the_socket(ctx: zloop.Context) -> None:
    sock = ctx.socket(zloop.PAIR)
    fds = [sock.level_fd(mask) for mask in (POLLIN, POLLOUT, POLLIN | POLLOUT)]
    identities = {fd: (os.fstat(fd).st_dev, os.fstat(fd).st_ino) for fd in fds}
    sock.close()
    for fd, identity in identities.items():
        try:
            st = os.fstat(fd)
        except OSError as exc:
            assert exc.errno == errno.EBADF
        else:  # the number was reused by something else: it must not be our fd any more
            assert (st.st_dev, st.st_ino) != identity
    with pytest.raises(zloop.ZMQError) as info:
        sock.level_fd(POLLIN)
    assert info.value.errno == zloop.ENOTSOCK
