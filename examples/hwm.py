"""High-water marks: what PUSH and PUB do when a consumer is slow (block vs drop), with counts.

PUSH blocks (here: raises Again with NOBLOCK) once the pipe to its only consumer holds SNDHWM +
RCVHWM messages; nothing is lost. PUB never blocks: a subscriber whose queue is full simply misses
messages, which we count at the end.

Run: python examples/hwm.py
"""

from __future__ import annotations

import zloop

HWM = 10


def push_blocks(ctx: zloop.Context) -> None:
    push = ctx.socket(zloop.PUSH)
    pull = ctx.socket(zloop.PULL)
    for sock in (push, pull):
        sock.sndhwm = sock.rcvhwm = HWM
    pull.bind("inproc://push-hwm")
    push.connect("inproc://push-hwm")
    sent = 0
    try:
        while True:
            push.send(b"%d" % sent, zloop.NOBLOCK)
            sent += 1
    except zloop.Again:
        pass
    print(f"PUSH: queued {sent} messages, then send would block (SNDHWM={HWM} + RCVHWM={HWM})")
    received = 0
    while pull.poll(0):
        pull.recv()
        received += 1
    print(f"PUSH: the slow consumer then received all {received} of them, nothing dropped")
    push.close()
    pull.close()


def pub_drops(ctx: zloop.Context) -> None:
    pub = ctx.socket(zloop.PUB)
    sub = ctx.socket(zloop.SUB)
    for sock in (pub, sub):
        sock.sndhwm = sock.rcvhwm = HWM
    pub.bind("inproc://pub-hwm")
    sub.connect("inproc://pub-hwm")
    sub.subscribe(b"")
    total = 1000
    for i in range(total):
        pub.send(b"%d" % i)  # never blocks
    received = 0
    while sub.poll(0):
        sub.recv()
        received += 1
    print(
        f"PUB: published {total} messages without blocking; the slow subscriber got {received}, "
        f"{total - received} were dropped at its high-water mark"
    )
    pub.close()
    sub.close()


def main() -> None:
    with zloop.Context() as ctx:
        push_blocks(ctx)
        pub_drops(ctx)


if __name__ == "__main__":
    main()
