"""gevent: one green ROUTER server and 500 client greenlets, each with its own REQ socket.

``zloop.adapters.gevent`` is to zloop what ``zmq.green`` is to pyzmq: ``recv``/``send`` block only
the calling greenlet, so plain blocking code runs hundreds of conversations at once in one thread.
No greenlet polls or sleeps: a blocked call parks its greenlet and the hub wakes it when its socket
is ready (the edge-triggered FD + EVENTS discipline is handled by the adapter).

Run: python examples/gevent_server.py
"""

from __future__ import annotations

import time

import gevent  # type: ignore[import-untyped]  # gevent ships no type information

import zloop
from zloop.adapters import gevent as zgreen

CLIENTS = 500
REQUESTS = 2  # per client


def server(sock: zgreen.Socket) -> None:
    """Answer every request; a ROUTER sees [routing id, empty delimiter, body] from a REQ."""
    for _ in range(CLIENTS * REQUESTS):
        routing_id, empty, body = sock.recv_multipart()  # blocks this greenlet only
        sock.send_multipart([routing_id, empty, body.upper()])


def client(ctx: zgreen.Context, endpoint: str, n: int) -> list[bytes]:
    with ctx.socket(zloop.REQ) as req:
        req.connect(endpoint)
        replies = []
        for i in range(REQUESTS):
            req.send(b"hello %d from client %d" % (i, n))
            replies.append(req.recv())
        return replies


def main() -> None:
    ctx = zgreen.Context()
    router = ctx.socket(zloop.ROUTER)
    router.bind("tcp://127.0.0.1:*")
    endpoint = router.last_endpoint.decode()

    start = time.perf_counter()
    server_greenlet = gevent.spawn(server, router)
    clients = [gevent.spawn(client, ctx, endpoint, n) for n in range(CLIENTS)]
    gevent.joinall([*clients, server_greenlet], raise_error=True)
    elapsed = time.perf_counter() - start

    replies = [r for g in clients for r in g.value]
    assert len(replies) == CLIENTS * REQUESTS
    assert clients[42].value == [b"HELLO 0 FROM CLIENT 42", b"HELLO 1 FROM CLIENT 42"]
    print(f"{CLIENTS} greenlets, each with a REQ socket, talked to one green ROUTER over tcp")
    print(f"{len(replies)} replies, all correct, e.g. {clients[42].value[-1]!r}")
    print(
        f"took {elapsed:.2f} s, every greenlet in the main thread ({len(replies) / elapsed:,.0f} round trips/s)"
    )
    router.close()
    ctx.term()


if __name__ == "__main__":
    main()
