"""Drive a zloop socket from a raw ``select.epoll`` loop in edge-triggered mode (EPOLLET).

A DEALER is bound on ``ipc://`` (seed 000). The receiver registers the socket's ``FD`` with EPOLLET and follows the contract: after every wake-up,
read ``EVENTS`` and drain with ``NOBLOCK`` until ``Again``; only then sleep on the fd again. A sender
thread connects over ``ipc://`` and sends "hello world" a few times, with pauses, so the loop sleeps
and wakes repeatedly. Wake-ups where ``EVENTS`` shows nothing to read (the fd only said "something may
have changed") are counted, not treated as errors.

Run: python examples/edge_triggered_epoll.py
"""

from __future__ import annotations

import select
import tempfile
import threading
from pathlib import Path

import zloop

MESSAGES = 5


def main() -> None:
    ctx = zloop.Context()
    receiver = ctx.socket(zloop.DEALER)
    endpoint = f"ipc://{Path(tempfile.mkdtemp()) / 'hello.ipc'}"
    receiver.bind(endpoint)

    ack = threading.Event()

    def sender() -> None:
        push = ctx.socket(zloop.DEALER)
        push.connect(endpoint)
        for i in range(MESSAGES):
            push.send_string(f"hello world {i}")
            ack.wait(5)  # the receiver got it: send the next one after the loop went back to sleep
            ack.clear()
        push.close()

    thread = threading.Thread(target=sender)
    thread.start()

    ep = select.epoll()
    ep.register(receiver.FD, select.EPOLLIN | select.EPOLLET)
    received = wakeups = empty_wakeups = 0
    while received < MESSAGES:
        if not ep.poll(5.0):
            raise SystemExit("no wake-up within 5 s: a lost wake-up would be a zloop bug")
        wakeups += 1
        if not receiver.EVENTS & zloop.POLLIN:
            empty_wakeups += 1  # "something changed", but no complete message yet
        while receiver.EVENTS & zloop.POLLIN:  # drain until EVENTS says no more
            try:
                text = receiver.recv_string(zloop.NOBLOCK)
            except zloop.Again:
                break
            received += 1
            print(f"received: {text}")
            ack.set()
    thread.join()
    ep.close()
    receiver.close()
    ctx.term()
    print(f"{received} messages, {wakeups} wake-ups ({empty_wakeups} with nothing to read yet)")


if __name__ == "__main__":
    main()
