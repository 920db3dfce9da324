"""Multipart messages: send with SNDMORE, receive until RCVMORE is false; delivery is atomic.

A message is delivered whole or not at all: the receiver never sees the first frames of a message
whose last frame was not sent yet.

Run: python examples/multipart.py
"""

from __future__ import annotations

import zloop


def main() -> None:
    with zloop.Context() as ctx:
        push = ctx.socket(zloop.PUSH)
        pull = ctx.socket(zloop.PULL)
        pull.bind("inproc://frames")
        push.connect("inproc://frames")

        push.send(b"header", zloop.SNDMORE)
        push.send(b"", zloop.SNDMORE)  # empty frames are frames too
        # Nothing is visible yet: the message is not complete.
        print(f"after two of three frames, receiver has a message: {bool(pull.poll(0))}")
        push.send(b"body")

        frames = []
        while True:
            frames.append(pull.recv())
            if not pull.getsockopt(zloop.RCVMORE):
                break
        print(f"received frame by frame: {frames}")

        push.send_multipart([b"a", b"b", b"c"])
        print(f"received at once: {pull.recv_multipart()}")
        push.close()
        pull.close()


if __name__ == "__main__":
    main()
