"""asyncio: a service answering requests, and clients run concurrently with ``asyncio.gather``.

``zloop.adapters.asyncio`` is shaped like ``zmq.asyncio``: ``Context().socket()`` returns sockets
whose ``send``/``recv`` are awaitable. The service is a ROUTER that handles each request in its
own task (a slow request does not hold up the others) and sends the reply with the caller's
routing id. Ten REQ clients run at once under ``asyncio.gather``. At the end the service task is
cancelled while it waits in ``recv``: cancellation is safe and takes nothing from the socket.

Run: python examples/asyncio_service.py
"""

from __future__ import annotations

import asyncio

import zloop
from zloop.adapters.asyncio import Context, Socket

CLIENTS = 10
REQUESTS = 5  # per client


async def handle(router: Socket, peer: bytes, body: bytes) -> None:
    n = int(body)
    await router.send_multipart([peer, b"", b"%d" % (n * n)])


async def service(router: Socket) -> None:
    tasks = set()
    while True:
        peer, _empty, body = await router.recv_multipart()  # [routing id, delimiter, request]
        task = asyncio.create_task(handle(router, peer, body))
        tasks.add(task)  # keep a reference until it is done
        task.add_done_callback(tasks.discard)


async def client(ctx: Context, endpoint: str, i: int) -> list[int]:
    req = ctx.socket(zloop.REQ)
    req.connect(endpoint)
    squares = []
    for k in range(REQUESTS):
        await req.send(b"%d" % (i * REQUESTS + k))
        squares.append(int(await req.recv()))
    req.close()
    return squares


async def main() -> None:
    ctx = Context()
    router = ctx.socket(zloop.ROUTER)
    router.bind("tcp://127.0.0.1:*")
    endpoint = router.last_endpoint.decode()
    server = asyncio.create_task(service(router))

    results = await asyncio.gather(*(client(ctx, endpoint, i) for i in range(CLIENTS)))
    flat = [x for squares in results for x in squares]
    assert flat == [n * n for n in range(CLIENTS * REQUESTS)]
    print(f"{CLIENTS} clients ran concurrently with asyncio.gather")
    print(f"{len(flat)} requests answered by one service, all correct; client 3 got {results[3]}")

    server.cancel()  # cancelled while awaiting recv: nothing is lost or left half-done
    try:
        await server
    except asyncio.CancelledError:
        print("service cancelled cleanly")
    ctx.destroy(linger=0)


if __name__ == "__main__":
    asyncio.run(main())
