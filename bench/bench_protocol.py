"""Encode / decode throughput of the sans-I/O ZMTP layer (zloop.protocol), no sockets involved.

Run: ``uv run python bench/bench_protocol.py [--seconds 1.0]``

For each message size (single-frame messages of 16 B, 1 KiB and 1 MiB) it measures:

* encode: ``send_messages`` of a batch then one ``data_to_send`` (bytes joined, as the engine's
  ``send`` path), and ``buffers_to_send`` (the zero-copy ``sendmsg`` path);
* decode: ``receive_data`` of the encoded stream in 64 KiB chunks (what ``recv_into`` would
  deliver) followed by ``events()``.

Prints messages/s and MB/s (payload bytes, 10^6) per row.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from zloop.constants import SocketType
from zloop.protocol import Connection


def _pair() -> tuple[Connection, Connection]:
    a = Connection(SocketType.PUSH)
    b = Connection(SocketType.PULL)
    for _ in range(4):
        data = a.data_to_send()
        if data:
            b.receive_data(data)
        data = b.data_to_send()
        if data:
            a.receive_data(data)
    a.events()
    b.events()
    assert a.handshake_complete and b.handshake_complete
    return a, b


def _rate(run: Callable[[], int], seconds: float) -> float:
    """Messages per second of *run* (which returns how many messages it handled)."""
    run()  # warm up
    count = 0
    start = time.perf_counter()
    elapsed = 0.0
    while elapsed < seconds:
        count += run()
        elapsed = time.perf_counter() - start
    return count / elapsed


def bench_size(size: int, seconds: float) -> list[tuple[str, float]]:
    batch = max(1, min(10_000, (8 << 20) // max(size, 1)))
    payload = b"x" * size
    msgs = [[payload]] * batch
    sender, receiver = _pair()

    def encode_join() -> int:
        sender.send_messages(msgs)
        sender.data_to_send()
        return batch

    def encode_buffers() -> int:
        sender.send_messages(msgs)
        sender.buffers_to_send()
        return batch

    sender.send_messages(msgs)
    wire = sender.data_to_send()
    chunk = 65536
    pieces = [wire[i : i + chunk] for i in range(0, len(wire), chunk)]

    def decode() -> int:
        got = 0
        for piece in pieces:
            receiver.receive_data(piece)
            got += len(receiver.events())
        assert got == batch, got
        return got

    return [
        ("encode (data_to_send)", _rate(encode_join, seconds)),
        ("encode (buffers_to_send)", _rate(encode_buffers, seconds)),
        ("decode (64 KiB chunks)", _rate(decode, seconds)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    args = parser.parse_args()
    print(f"{'size':>8}  {'operation':<26} {'msgs/s':>14} {'MB/s':>10}")
    for label, size in (("16 B", 16), ("1 KiB", 1024), ("1 MiB", 1 << 20)):
        for op, rate in bench_size(size, args.seconds):
            print(f"{label:>8}  {op:<26} {rate:>14,.0f} {rate * size / 1e6:>10,.1f}")


if __name__ == "__main__":
    main()
