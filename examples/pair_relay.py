"""Signalling between threads with PAIR over inproc: a three-step relay (seed 002).

Step 1 signals step 2, step 2 signals step 3, step 3 reports back to the main thread. Each link is
an exclusive PAIR connection; inproc needs no I/O thread at all.

Run: python examples/pair_relay.py
"""

from __future__ import annotations

import threading

import zloop


def step1(ctx: zloop.Context) -> None:
    with ctx.socket(zloop.PAIR) as xmitter:
        xmitter.connect("inproc://step2")
        print("step 1 ready, signalling step 2")
        xmitter.send(b"READY")


def step2(ctx: zloop.Context) -> None:
    with ctx.socket(zloop.PAIR) as receiver:
        receiver.bind("inproc://step2")
        threading.Thread(target=step1, args=(ctx,)).start()
        receiver.recv()
    with ctx.socket(zloop.PAIR) as xmitter:
        xmitter.connect("inproc://step3")
        print("step 2 ready, signalling step 3")
        xmitter.send(b"READY")


def main() -> None:
    with zloop.Context() as ctx:
        with ctx.socket(zloop.PAIR) as receiver:
            receiver.bind("inproc://step3")
            thread = threading.Thread(target=step2, args=(ctx,))
            thread.start()
            receiver.recv()
            thread.join()
        print("test successful!")


if __name__ == "__main__":
    main()
