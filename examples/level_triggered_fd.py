"""The level-triggered fd (a zloop extension): no drain discipline needed.

``sock.level_fd(zloop.POLLIN)`` is readable exactly while the socket has a message. This loop uses
``select.epoll`` in *level* mode and reads just one message per wake-up — a pattern that loses
messages with an edge-triggered fd — and still receives every message a sender thread pushes.

Run: python examples/level_triggered_fd.py
"""

from __future__ import annotations

import select
import threading

import zloop

COUNT = 1000


def main() -> None:
    ctx = zloop.Context()
    pull = ctx.socket(zloop.PULL)
    pull.bind("inproc://work")
    push = ctx.socket(zloop.PUSH)
    push.connect("inproc://work")

    def produce() -> None:
        for i in range(COUNT):
            push.send(b"%d" % i)

    thread = threading.Thread(target=produce)
    thread.start()

    ep = select.epoll()
    ep.register(pull.level_fd(zloop.POLLIN), select.EPOLLIN)  # level-triggered: no EPOLLET
    got: list[int] = []
    while len(got) < COUNT:
        if not ep.poll(5.0):
            raise SystemExit("level fd not readable while messages are pending")
        got.append(int(pull.recv(zloop.NOBLOCK)))  # exactly one per wake-up
    thread.join()
    assert got == list(range(COUNT))
    print(f"received {len(got)} messages in order, one per level-triggered wake-up")
    readable = bool(select.select([pull.level_fd(zloop.POLLIN)], [], [], 0)[0])
    print(f"level fd readable after the last message: {readable}")
    ep.close()
    push.close()
    pull.close()
    ctx.term()


if __name__ == "__main__":
    main()
