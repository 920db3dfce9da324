"""Interop: zloop talking to libzmq (through pyzmq) over tcp, both ways.

A libzmq REP server answers a zloop REQ client, and a zloop PULL receives from a libzmq PUSH.
Skips with a clear message if pyzmq is not installed.

Run: python examples/interop_pyzmq.py
"""

from __future__ import annotations

import sys

import zloop

try:
    import zmq

    HAVE_PYZMQ = True
except ImportError:
    HAVE_PYZMQ = False


def main() -> int:
    if not HAVE_PYZMQ:
        print("skipped: pyzmq is not installed (pip install pyzmq) - nothing to talk to")
        return 0
    print(f"libzmq {zmq.zmq_version()} (pyzmq {zmq.__version__}) <-> zloop {zloop.__version__}")
    zctx, ctx = zmq.Context(), zloop.Context()
    rep = zctx.socket(zmq.REP)
    port = rep.bind_to_random_port("tcp://127.0.0.1")
    req = ctx.socket(zloop.REQ)
    req.connect(f"tcp://127.0.0.1:{port}")
    req.send_string("ping from zloop")
    print(f"libzmq REP got: {rep.recv_string()!r}")
    rep.send_string("pong from libzmq")
    print(f"zloop REQ got: {req.recv_string()!r}")

    pull = ctx.socket(zloop.PULL)
    pull.bind("tcp://127.0.0.1:*")
    push = zctx.socket(zmq.PUSH)
    push.connect(pull.last_endpoint.decode())
    push.send_multipart([b"multi", b"part"])
    print(f"zloop PULL got from libzmq PUSH: {pull.recv_multipart()}")

    for sock in (rep, push):
        sock.close(linger=0)
    for zsock in (req, pull):
        zsock.close(linger=0)
    zctx.term()
    ctx.term()
    return 0


if __name__ == "__main__":
    sys.exit(main())
