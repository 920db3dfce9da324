"""PULL's recv() reads ahead from its only pipe (``Pipe.take_ahead``): nothing a program can see
changes.

The messages taken ahead count as read only when recv() returns them, so the high-water marks hold
as before; they go back to their pipe before any command runs, so a second peer gets its turns from
the next message on, and a disconnect drops them with the pipe's queue. The expected values are
zloop's own without reading ahead (libzmq is no reference here: it runs a new peer's attach and
the writer's re-activation about once a millisecond, so its answers depend on timing).
"""

from __future__ import annotations

from typing import Any

import pytest
from zl_testing import DEADLINE_MS

import zloop


def _pull_push(ctx: Any, name: str, hwm: int = 1000) -> tuple[Any, Any]:
    impl = zloop
    pull = ctx.socket(impl.PULL)
    pull.linger = 0
    pull.rcvhwm = hwm
    pull.rcvtimeo = DEADLINE_MS
    pull.bind(f"inproc://{name}")
    push = ctx.socket(impl.PUSH)
    push.linger = 0
    push.sndhwm = hwm
    push.connect(f"inproc://{name}")
    return pull, push


def test_a_second_peer_gets_its_turns_from_the_next_message(ctx: zloop.Context) -> None:
    pull, first = _pull_push(ctx, "read-ahead-fair")
    for i in range(10):
        first.send(b"a%d" % i)
    assert pull.recv() == b"a0"  # a1..a9 are taken ahead here
    second = ctx.socket(zloop.PUSH)
    second.linger = 0
    second.connect("inproc://read-ahead-fair")
    for i in range(5):
        second.send(b"b%d" % i)
    got = [pull.recv() for _ in range(14)]
    turns = [m for i in range(5) for m in (b"a%d" % (i + 1), b"b%d" % i)]
    assert got == [*turns, b"a6", b"a7", b"a8", b"a9"]


@pytest.mark.parametrize("taken", [0, 1, 5, 6, 11, 12])
def test_high_water_marks_count_only_what_recv_returned(ctx: zloop.Context, taken: int) -> None:
    """An inproc pipe of SNDHWM 6 + RCVHWM 6 holds 12 messages; the writer gets room back in steps
    of 6 (the low-water mark) as messages are *returned* by recv, although the first recv took
    the rest of them ahead."""
    pull, push = _pull_push(ctx, f"read-ahead-hwm-{taken}", hwm=6)
    sent = 0
    while True:
        try:
            push.send(b"m%d" % sent, zloop.NOBLOCK)
        except zloop.Again:
            break
        sent += 1
    for i in range(taken):
        assert pull.recv() == b"m%d" % i
    more = 0
    while True:
        try:
            push.send(b"more", zloop.NOBLOCK)
        except zloop.Again:
            break
        more += 1
    assert (sent, more) == (12, 6 * (taken // 6))


def test_a_disconnect_drops_what_was_read_ahead(ctx: zloop.Context) -> None:
    pull = ctx.socket(zloop.PULL)
    pull.linger = 0
    push = ctx.socket(zloop.PUSH)
    push.linger = 0
    push.bind("inproc://read-ahead-disconnect")
    pull.connect("inproc://read-ahead-disconnect")
    for i in range(10):
        push.send(b"%d" % i)
    assert pull.recv() == b"0"
    pull.disconnect("inproc://read-ahead-disconnect")
    assert pull.poll(0) == 0
    with pytest.raises(zloop.Again):
        pull.recv(zloop.NOBLOCK)


def test_every_handle_and_every_recv_call_sees_one_order(ctx: zloop.Context) -> None:
    """A shadow shares what was read ahead, and recv_multipart / recv(copy=False) / recv_into
    take from it in order."""
    pull, push = _pull_push(ctx, "read-ahead-order")
    shadow = zloop.Socket.shadow(pull.underlying)
    for i in range(40):
        push.send(b"%02d" % i)
    got = [pull.recv()]
    got.append(shadow.recv())
    got.append(pull.recv_multipart()[0])
    got.append(pull.recv(copy=False).bytes)
    buf = bytearray(2)
    pull.recv_into(buf)
    got.append(bytes(buf))
    assert pull.poll(0) == zloop.POLLIN
    got += [shadow.recv() if i % 2 else pull.recv() for i in range(35)]
    assert got == [b"%02d" % i for i in range(40)]
    assert pull.poll(0) == 0


def test_a_peer_that_leaves_has_every_message_delivered(ctx: zloop.Context) -> None:
    pull, push = _pull_push(ctx, "read-ahead-leave")
    for i in range(10):
        push.send(b"%d" % i)
    assert pull.recv() == b"0"
    assert pull.recv() == b"1"  # the rest is taken ahead here
    push.close(linger=-1)  # its pipe's end: queued behind the messages
    assert [pull.recv() for _ in range(8)] == [b"%d" % i for i in range(2, 10)]
    with pytest.raises(zloop.Again):
        pull.recv(zloop.NOBLOCK)
    assert pull.poll(0) == 0
