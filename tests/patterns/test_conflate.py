"""CONFLATE (libzmq semantics): a pipe keeps only the newest unread message. Slow SUB and PULL
readers over inproc and tcp see only the latest value; subscriptions are not conflated; multipart
messages stay whole; the edge-triggered FD still fires; and the pipe's wake-up rule holds while a
writer keeps replacing the message a reader is racing to take."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from zl_testing import (
    DEADLINE,
    DEADLINE_MS,
    endpoint_for,
    fd_wakes_until,
    with_deadlines,
)

import zloop
from zloop.pipe import Pipe, pipe_pair

N = 2000


@pytest.fixture(params=["inproc", "tcp"])
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def join(ctx: zloop.Context, binder: Any, connecter: Any, transport: str, tmp_path: Path) -> None:
    binder.bind(endpoint_for(transport, tmp_path, "conflate"))
    connecter.connect(binder.last_endpoint.decode())


def pubsub_ready(pub: Any, sub: Any, topic: bytes = b"") -> None:
    """Publish probes until the subscription is in place (the slow-joiner handshake), then drain."""
    while True:
        pub.send(topic + b"probe")
        if sub.poll(50, zloop.POLLIN):
            break
    while sub.poll(0, zloop.POLLIN):
        sub.recv()


def read_until_last(sock: Any, last: int) -> list[int]:
    """Receive values until ``last`` arrives; every wait is bounded."""
    seen: list[int] = []
    while not seen or seen[-1] != last:
        assert sock.poll(DEADLINE_MS, zloop.POLLIN), f"stalled after {seen[-5:]}"
        seen.append(int(sock.recv()))
    return seen


def check_conflated(seen: list[int], last: int, transport: str) -> None:
    assert seen[-1] == last
    assert seen == sorted(set(seen))  # in order, no repeats
    if transport == "inproc":
        assert seen == [last]  # the sender wrote into the one pipe: only the newest remains
    else:
        assert len(seen) < last  # the reader was idle while they arrived: most were replaced


def test_slow_sub_sees_only_latest(ctx: zloop.Context, transport: str, tmp_path: Path) -> None:
    pub = with_deadlines(ctx.socket(zloop.PUB))
    pub.setsockopt(zloop.SNDHWM, 0)  # the publisher must not drop: conflation alone decides
    sub = with_deadlines(ctx.socket(zloop.SUB))
    sub.setsockopt(zloop.CONFLATE, 1)
    sub.subscribe(b"")
    join(ctx, pub, sub, transport, tmp_path)
    pubsub_ready(pub, sub)
    for value in range(1, N + 1):
        pub.send(str(value).encode())
    seen = read_until_last(sub, N)
    check_conflated(seen, N, transport)
    with pytest.raises(zloop.Again):
        sub.recv(zloop.NOBLOCK)


def test_pull_with_conflate(ctx: zloop.Context, transport: str, tmp_path: Path) -> None:
    pull = with_deadlines(ctx.socket(zloop.PULL))
    pull.setsockopt(zloop.CONFLATE, 1)
    push = with_deadlines(ctx.socket(zloop.PUSH))
    join(ctx, pull, push, transport, tmp_path)
    push.send(b"0")
    assert pull.recv() == b"0"  # connected
    for value in range(1, N + 1):
        push.send(str(value).encode())  # never blocks: a conflating pipe has no HWM
    check_conflated(read_until_last(pull, N), N, transport)


def test_push_with_conflate_keeps_latest_before_a_peer(ctx: zloop.Context) -> None:
    push = with_deadlines(ctx.socket(zloop.PUSH))
    push.setsockopt(zloop.CONFLATE, 1)
    push.connect("inproc://conflate-push")  # queued before the peer binds
    for value in range(1, 101):
        push.send(str(value).encode(), zloop.NOBLOCK)
    pull = with_deadlines(ctx.socket(zloop.PULL))
    pull.bind("inproc://conflate-push")
    assert pull.recv() == b"100"
    with pytest.raises(zloop.Again):
        pull.recv(zloop.NOBLOCK)


def test_conflate_keeps_subscriptions(ctx: zloop.Context, transport: str, tmp_path: Path) -> None:
    pub = with_deadlines(ctx.socket(zloop.PUB))
    sub = with_deadlines(ctx.socket(zloop.SUB))
    sub.setsockopt(zloop.CONFLATE, 1)
    for topic in (b"a", b"b", b"c"):  # several subscriptions in a row: none may be conflated away
        sub.subscribe(topic)
    join(ctx, pub, sub, transport, tmp_path)
    for topic in (b"a", b"b", b"c"):
        pubsub_ready(pub, sub, topic)
        pub.send(topic + b"-value")
        assert sub.recv() == topic + b"-value"


def test_dealer_conflate_keeps_whole_multipart(
    ctx: zloop.Context, transport: str, tmp_path: Path
) -> None:
    router = with_deadlines(ctx.socket(zloop.ROUTER))
    dealer = with_deadlines(ctx.socket(zloop.DEALER))
    dealer.setsockopt(zloop.CONFLATE, 1)
    join(ctx, router, dealer, transport, tmp_path)
    dealer.send(b"hello")
    rid, _ = router.recv_multipart()
    for value in range(1, 51):
        router.send_multipart([rid, b"part-a", str(value).encode()])
    last: list[bytes] = []
    while last[-1:] != [b"50"]:
        assert dealer.poll(DEADLINE_MS, zloop.POLLIN)
        last = dealer.recv_multipart()
        assert len(last) == 2 and last[0] == b"part-a"  # never split (zloop keeps messages whole)


def test_fd_fires_with_conflate(ctx: zloop.Context, transport: str, tmp_path: Path) -> None:
    pull = with_deadlines(ctx.socket(zloop.PULL))
    pull.setsockopt(zloop.CONFLATE, 1)
    push = with_deadlines(ctx.socket(zloop.PUSH))
    join(ctx, pull, push, transport, tmp_path)
    for round_ in range(3):
        assert not pull.EVENTS & zloop.POLLIN  # found empty: the next message must wake us
        for value in range(10):
            push.send(f"{round_}-{value}".encode())
        # The FD may also fire for other commands (the bind side's pipe attach over tcp): follow
        # the edge discipline, re-reading EVENTS after each wake-up, until POLLIN.
        assert fd_wakes_until(pull, zloop.POLLIN), "edge FD did not fire for the new messages"
        got = read_until_text(pull, f"{round_}-9".encode())
        assert got[-1] == f"{round_}-9".encode()


def read_until_text(sock: Any, last: bytes) -> list[bytes]:
    seen: list[bytes] = []
    while not seen or seen[-1] != last:
        assert sock.poll(DEADLINE_MS, zloop.POLLIN)
        seen.append(sock.recv())
    return seen


# -- the pipe itself under a racing writer ---------------------------------------------------------


class _Owner:
    """A pipe owner that runs commands at once in the posting thread and counts wake-ups."""

    def __init__(self) -> None:
        self.woken = threading.Event()

    def post(self, command: Callable[[], Any], hint: int) -> None:
        command()

    def read_activated(self, pipe: Pipe) -> None:
        self.woken.set()

    def write_activated(self, pipe: Pipe) -> None:
        pass

    def pipe_terminated(self, pipe: Pipe) -> None:
        pass


def test_conflating_pipe_never_loses_the_wakeup_or_the_latest() -> None:
    reader_owner, writer_owner = _Owner(), _Owner()
    reader, writer = pipe_pair(reader_owner, writer_owner, 10, 10)
    reader.set_conflate(True, False)
    count = 20_000
    done = threading.Event()

    def write_all() -> None:
        for value in range(1, count + 1):
            assert writer.write([value])
            writer.flush()
        done.set()

    thread = threading.Thread(target=write_all)
    thread.start()
    seen: list[int] = []
    try:
        while not seen or seen[-1] != count:
            msg = reader.read()
            if msg is None:
                # Found empty: a later write must wake us (or the writer is finished and nothing
                # newer than what we saw is left).
                if not reader_owner.woken.wait(DEADLINE):
                    pytest.fail(f"lost wake-up after {seen[-3:]}")
                reader_owner.woken.clear()
                continue
            seen.append(msg[0])
    finally:
        thread.join(DEADLINE)
    assert done.is_set()
    assert seen == sorted(set(seen)) and seen[-1] == count
    assert reader.read() is None
