"""The ``zloop`` command: ``zloop demo`` (also ``python -m zloop demo``) and ``zloop selfcheck``."""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Sequence

import zloop
from zloop import selfcheck


def _selfcheck() -> bool:
    ok = True
    for passed, line in selfcheck.run():
        ok &= passed
        print(f"  [{'ok' if passed else 'FAIL'}] {line}")
    return ok


def _stream(ctx: zloop.Context, bind_addr: str, count: int, size: int) -> tuple[str, float]:
    """PUSH -> PULL of ``count`` messages; returns (endpoint, msgs per second)."""
    pull = ctx.socket(zloop.PULL)
    push = ctx.socket(zloop.PUSH)
    try:
        pull.bind(bind_addr)
        endpoint = pull.last_endpoint.decode()
        push.connect(endpoint)
        payload = b"x" * size

        def produce() -> None:
            for _ in range(count):
                push.send(payload)

        start = time.perf_counter()
        sender = threading.Thread(target=produce, daemon=True)
        sender.start()
        for _ in range(count):
            pull.recv()
        elapsed = time.perf_counter() - start
        sender.join()
        return endpoint, count / elapsed
    finally:
        push.close(linger=0)
        pull.close(linger=0)


def _interop(ctx: zloop.Context, count: int) -> str:
    try:
        import zmq
    except ImportError:
        return "skipped: pyzmq is not installed (pip install pyzmq to talk to libzmq)"
    zctx = zmq.Context()
    theirs = zctx.socket(zmq.PULL)
    ours = ctx.socket(zloop.PUSH)
    try:
        port = theirs.bind_to_random_port("tcp://127.0.0.1")
        ours.connect(f"tcp://127.0.0.1:{port}")
        start = time.perf_counter()
        for i in range(count):
            ours.send(b"%d" % i)
        for i in range(count):
            if theirs.recv() != b"%d" % i:
                raise AssertionError("libzmq received messages out of order")
        rate = count / (time.perf_counter() - start)
        return f"zloop PUSH -> libzmq {zmq.zmq_version()} PULL over tcp: {count} in order, {rate:,.0f} msg/s"
    finally:
        ours.close(linger=0)
        theirs.close(linger=0)
        zctx.term()


def demo() -> int:
    print(
        f"zloop {zloop.__version__} — ZeroMQ in pure Python (wire protocol of libzmq {zloop.zmq_version()})"
    )
    print("protocol self-check:")
    ok = _selfcheck()
    print("engine (PUSH -> PULL, 20,000 messages of 16 bytes):")
    with zloop.Context() as ctx:
        for addr in ("inproc://demo", "tcp://127.0.0.1:*", "ipc://*"):
            endpoint, rate = _stream(ctx, addr, 20_000, 16)
            print(f"  {endpoint:<32} {rate:>12,.0f} msg/s")
        print("interop:")
        print(f"  {_interop(ctx, 2_000)}")
    print("event-loop adapters: not yet built (see the README's status section)")
    return 0 if ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="zloop", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("demo", help="show zloop working (self-check, engine, libzmq interop)")
    sub.add_parser("selfcheck", help="run the protocol self-check only")
    sub.add_parser("version", help="print the version")
    args = parser.parse_args(argv)
    if args.command == "demo":
        return demo()
    if args.command == "selfcheck":
        return 0 if _selfcheck() else 1
    if args.command == "version":
        print(zloop.__version__)
        return 0
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
