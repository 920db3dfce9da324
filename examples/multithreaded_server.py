"""A multithreaded server: ROUTER front end, DEALER back end over inproc, REP workers in threads.

Clients (REQ) connect to the ROUTER over tcp. ``zloop.proxy`` runs in its own thread and shuttles
requests to a DEALER bound on ``inproc://workers``, which load-balances them over REP workers, each
in its own thread; replies travel back the same way (the ROUTER's routing-id frame tells it which
client gets which reply). When the clients are done, ``ctx.term()`` stops everything: every blocked
call in every thread (the proxy's poll, the workers' recv) raises ``ContextTerminated``, each
thread closes its sockets, and ``term()`` returns once they are all closed.

Run: python examples/multithreaded_server.py
"""

from __future__ import annotations

import threading
from collections import Counter

import zloop

WORKERS = 3
CLIENTS = 4
REQUESTS = 5  # per client


def run_proxy(ctx: zloop.Context, bound: list[str], ready: threading.Event) -> None:
    frontend = ctx.socket(zloop.ROUTER)
    backend = ctx.socket(zloop.DEALER)
    frontend.bind("tcp://127.0.0.1:*")
    backend.bind("inproc://workers")
    bound.append(frontend.last_endpoint.decode())
    ready.set()
    try:
        zloop.proxy(frontend, backend)  # returns only by raising ContextTerminated
    except zloop.ContextTerminated:
        print("proxy: context terminated, closing its sockets")
    finally:
        frontend.close()
        backend.close()


def worker(ctx: zloop.Context, name: str, served: Counter[str]) -> None:
    rep = ctx.socket(zloop.REP)
    rep.connect("inproc://workers")
    try:
        while True:
            request = rep.recv_string()
            served[name] += 1  # Counter updates from several threads: fine under the GIL here
            rep.send_string(f"{request} -> served by {name}")
    except zloop.ContextTerminated:
        pass
    finally:
        rep.close()


def client(ctx: zloop.Context, endpoint: str, name: str, replies: dict[str, list[str]]) -> None:
    with ctx.socket(zloop.REQ) as req:
        req.connect(endpoint)
        got = []
        for i in range(REQUESTS):
            req.send_string(f"{name} request {i}")
            got.append(req.recv_string())
        replies[name] = got


def main() -> None:
    ctx = zloop.Context()
    bound: list[str] = []
    ready = threading.Event()
    proxy_thread = threading.Thread(target=run_proxy, args=(ctx, bound, ready))
    proxy_thread.start()
    ready.wait()  # the back end is bound before any worker connects to it

    served: Counter[str] = Counter()
    workers = [
        threading.Thread(target=worker, args=(ctx, f"worker-{i}", served)) for i in range(WORKERS)
    ]
    for thread in workers:
        thread.start()

    replies: dict[str, list[str]] = {}
    clients = [
        threading.Thread(target=client, args=(ctx, bound[0], f"client-{i}", replies))
        for i in range(CLIENTS)
    ]
    for thread in clients:
        thread.start()
    for thread in clients:
        thread.join()

    for name in sorted(replies):
        print(f"{name}: {len(replies[name])} replies, e.g. {replies[name][-1]!r}")
    total = sum(len(r) for r in replies.values())
    print(f"{total} requests from {CLIENTS} clients served by {len(served)} workers")
    for name in sorted(served):
        print(f"  {name} served {served[name]}")

    ctx.term()  # wakes the proxy and the workers with ContextTerminated; waits for their sockets
    proxy_thread.join()
    for thread in workers:
        thread.join()
    print("clean shutdown: ctx.term() ended the proxy and the workers")


if __name__ == "__main__":
    main()
