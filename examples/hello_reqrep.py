"""Hello world over REQ/REP: a server thread answers "World" to every "Hello" (seeds 001, 003).

The server binds a REP socket, the client connects a REQ socket and sends five requests, each
waiting for its reply: REQ/REP enforce strict send/recv alternation.

Run: python examples/hello_reqrep.py
"""

from __future__ import annotations

import threading

import zloop

REQUESTS = 5


def server(ctx: zloop.Context, bound: list[str], ready: threading.Event) -> None:
    with ctx.socket(zloop.REP) as rep:
        rep.bind("tcp://127.0.0.1:*")  # any free port; the client learns it from `bound`
        bound.append(rep.last_endpoint.decode())
        ready.set()
        for _ in range(REQUESTS):
            request = rep.recv_string()
            print(f"server: received {request!r}")
            rep.send_string("World")


def main() -> None:
    with zloop.Context() as ctx:
        ready = threading.Event()
        bound: list[str] = []
        thread = threading.Thread(target=server, args=(ctx, bound, ready))
        thread.start()
        ready.wait()
        with ctx.socket(zloop.REQ) as req:
            req.connect(bound[0])
            for i in range(REQUESTS):
                req.send_string("Hello")
                print(f"client: reply {i} = {req.recv_string()!r}")
        thread.join()


if __name__ == "__main__":
    main()
