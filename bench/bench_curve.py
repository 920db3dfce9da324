"""CURVE cost: throughput with CURVE vs NULL, zloop vs pyzmq (libzmq).

Three measurements per message size:

* ``protocol``: two in-memory zloop ``Connection`` objects (no sockets, no threads) -- the pure
  CPU cost of framing plus, for CURVE, one crypto_box_easy_afternm and one open per frame.
* ``zloop tcp``: a zloop PUSH -> PULL pair over loopback TCP in this process.
* ``pyzmq tcp``: the same with pyzmq (libzmq 4.3, libsodium) for reference.

Run: ``uv run python bench/bench_curve.py [--seconds 1] [--quick]``. Needs PyNaCl (``zloop[curve]``).
"""

from __future__ import annotations

import argparse
import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any

import zloop
from zloop.constants import SocketType
from zloop.protocol import Connection, Message
from zloop.protocol.curve import CurveMechanism

SIZES = (16, 1024, 65536)


def _keys() -> tuple[tuple[bytes, bytes], tuple[bytes, bytes]]:
    return zloop.curve_keypair(), zloop.curve_keypair()


def _pump(a: Connection, b: Connection) -> None:
    for _ in range(10):
        moved = False
        for src, dst in ((a, b), (b, a)):
            data = src.data_to_send()
            if data:
                dst.receive_data(data)
                moved = True
        a.events()
        b.events()
        if not moved:
            return


def protocol_rate(curve: bool, size: int, seconds: float) -> float:
    """Messages per second through send_message -> bytes -> receive_data -> events."""
    if curve:
        (spub, ssec), (cpub, csec) = _keys()
        from zloop import z85

        client_mech: Any = CurveMechanism(
            server=False,
            public_key=z85.decode(cpub),
            secret_key=z85.decode(csec),
            server_key=z85.decode(spub),
        )
        server_mech: Any = CurveMechanism(
            server=True, public_key=z85.decode(spub), secret_key=z85.decode(ssec), zap=False
        )
    else:
        client_mech = server_mech = None
    sender = Connection(SocketType.PUSH, mechanism=client_mech)
    receiver = Connection(SocketType.PULL, mechanism=server_mech)
    _pump(sender, receiver)
    assert sender.handshake_complete and receiver.handshake_complete
    payload = b"x" * size
    batch = [[payload]] * 100
    count = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        sender.send_messages(batch)
        receiver.receive_data(sender.data_to_send())
        events = receiver.events()
        assert len(events) == 100 and isinstance(events[0], Message)
        count += 100
        now = time.perf_counter()
        if now >= deadline:
            return count / (now - start)


def _curve_options(mod: Any, server: Any, client: Any) -> None:
    (spub, ssec), (cpub, csec) = _keys()
    server.curve_server = True
    server.curve_secretkey = ssec
    server.curve_publickey = spub
    client.curve_serverkey = spub
    client.curve_publickey = cpub
    client.curve_secretkey = csec


def socket_rate(mod: Any, curve: bool, size: int, seconds: float) -> float:
    """PUSH -> PULL over loopback TCP in one process (a sender thread, the receiver here)."""
    ctx = mod.Context()
    pull = ctx.socket(mod.PULL)
    push = ctx.socket(mod.PUSH)
    try:
        for sock in (pull, push):
            sock.linger = 0
        pull.rcvtimeo = 5000
        if curve:
            _curve_options(mod, pull, push)
        pull.bind("tcp://127.0.0.1:0")
        push.connect(pull.last_endpoint.decode())
        push.send(b"warmup")
        assert pull.recv() == b"warmup"
        stop = threading.Event()
        payload = b"x" * size

        def send() -> None:
            while not stop.is_set():
                for _ in range(100):
                    push.send(payload)

        thread = threading.Thread(target=send, daemon=True)
        thread.start()
        count = 0
        start = time.perf_counter()
        deadline = start + seconds
        recv: Callable[..., Any] = pull.recv
        while True:
            for _ in range(100):
                recv(copy=False)
            count += 100
            now = time.perf_counter()
            if now >= deadline:
                break
        stop.set()
        # Drain so the sender thread cannot stay blocked on a full queue.
        pull.rcvtimeo = 100
        while thread.is_alive():
            with contextlib.suppress(mod.Again):
                pull.recv()
        thread.join(5)
        return count / (now - start)
    finally:
        ctx.destroy(linger=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    parser.add_argument("--quick", action="store_true", help="0.2 s per measurement")
    args = parser.parse_args()
    seconds = 0.2 if args.quick else args.seconds
    try:
        import zmq
    except ImportError:
        zmq = None
    print("== CURVE vs NULL throughput (msg/s; MB/s in brackets) ==")
    header = f"{'path':<12} {'size':>7} {'NULL':>22} {'CURVE':>22} {'CURVE/NULL':>10}"
    print(header)
    paths: list[tuple[str, Callable[[bool, int], float]]] = [
        ("protocol", lambda c, s: protocol_rate(c, s, seconds)),
        ("zloop tcp", lambda c, s: socket_rate(zloop, c, s, seconds)),
    ]
    if zmq is not None and zmq.has("curve"):
        paths.append(("pyzmq tcp", lambda c, s: socket_rate(zmq, c, s, seconds)))
    for name, measure in paths:
        for size in SIZES:
            null = measure(False, size)
            curve = measure(True, size)
            cells = [f"{r:>10,.0f} ({r * size / 1e6:>7.1f})" for r in (null, curve)]
            print(f"{name:<12} {size:>7} {cells[0]:>22} {cells[1]:>22} {curve / null:>10.2f}")


if __name__ == "__main__":
    main()
