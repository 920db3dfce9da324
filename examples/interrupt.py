"""Interrupt handling: Ctrl-C (SIGINT) during a blocking ``recv`` ends the program cleanly (seed 002).

The blocking call is interrupted, Python raises KeyboardInterrupt from it, and the program closes
its socket and context and says so. Press Ctrl-C while it waits; if nobody does within
``--after`` seconds (default 2), a timer sends the program the very same SIGINT itself, so it
always exits by itself. ``--wait`` waits for a real Ctrl-C however long it takes.

Run: python examples/interrupt.py [--after SECONDS | --wait]
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

import zloop


def main() -> int:
    parser = argparse.ArgumentParser(description="Ctrl-C during a blocking recv")
    parser.add_argument("--after", type=float, default=2.0, help="send SIGINT to myself after")
    parser.add_argument("--wait", action="store_true", help="wait for a real Ctrl-C only")
    args = parser.parse_args()

    ctx = zloop.Context()
    sock = ctx.socket(zloop.PULL)
    sock.bind("tcp://127.0.0.1:*")
    # What Ctrl-C in a terminal does: SIGINT to the process, handled in the main thread.
    timer = threading.Timer(args.after, os.kill, (os.getpid(), signal.SIGINT))
    timer.daemon = True
    try:
        # Printed inside the try: a Ctrl-C from here on is handled below.
        hint = "" if args.wait else f"; in {args.after:g} s it interrupts itself"
        print(
            f"waiting for a message on {sock.last_endpoint.decode()} (press Ctrl-C{hint})",
            flush=True,
        )
        if not args.wait:
            timer.start()
        sock.recv()
    except KeyboardInterrupt:
        print("interrupted: closing the socket and terminating the context")
    finally:
        timer.cancel()
        sock.close(linger=0)
        ctx.term()
    print("clean exit")
    return 0


if __name__ == "__main__":
    sys.exit(main())
