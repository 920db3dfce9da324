"""Interrupt handling: Ctrl-C (SIGINT) during a blocking ``recv`` ends the program cleanly (seed 002).

The blocking call is interrupted, Python raises KeyboardInterrupt from it, and the program closes
its socket and context and says so. Run it and press Ctrl-C (its test sends SIGINT the same way).

Run: python examples/interrupt.py
"""

from __future__ import annotations

import sys

import zloop


def main() -> int:
    ctx = zloop.Context()
    sock = ctx.socket(zloop.PULL)
    sock.bind("tcp://127.0.0.1:*")
    try:
        # Printed inside the try: a Ctrl-C from here on is handled below.
        print(f"waiting for a message on {sock.last_endpoint.decode()} (press Ctrl-C)", flush=True)
        sock.recv()
    except KeyboardInterrupt:
        print("interrupted: closing the socket and terminating the context")
    finally:
        sock.close(linger=0)
        ctx.term()
    print("clean exit")
    return 0


if __name__ == "__main__":
    sys.exit(main())
