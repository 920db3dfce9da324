"""tornado: a ``ZMQStream`` echo handler and an ``async def`` handler on the same IOLoop.

* ``ZMQStream`` (as in ``zmq.eventloop.zmqstream``) calls ``on_recv`` callbacks from the IOLoop:
  here a ROUTER echo service answers every request with one ``send_multipart`` call.
* ``zloop.adapters.tornado.Socket`` is an awaitable socket (tornado 6 runs on asyncio): an
  ``async def`` handler started with ``IOLoop.spawn_callback`` awaits a PULL socket for jobs.

Clients are coroutines on the same loop; nothing blocks the loop and nothing sleeps.

Run: python examples/tornado_stream.py
"""

from __future__ import annotations

from datetime import timedelta

from tornado.ioloop import IOLoop
from tornado.locks import Event

import zloop
from zloop.adapters.tornado import Context, Socket, ZMQStream

REQUESTS = 5
JOBS = 3


def echo(stream: ZMQStream, msg: list[bytes]) -> None:
    """ROUTER messages are [routing id, empty, body] from a REQ; reply through the same stream."""
    routing_id, empty, body = msg
    stream.send_multipart([routing_id, empty, b"echo: " + body])


async def job_handler(pull: Socket, done: list[str], finished: Event) -> None:
    """A coroutine handler: each ``await`` yields to the IOLoop until a job arrives."""
    while len(done) < JOBS:
        job = await pull.recv_string()
        done.append(job)
        print(f"async handler: {job}")
    finished.set()


async def main() -> None:
    ctx = Context()
    # The echo service: a ZMQStream with a callback (the socket is shared with the stream).
    router = ctx.socket(zloop.ROUTER)
    router.bind("tcp://127.0.0.1:*")
    stream = ZMQStream(router)
    stream.on_recv_stream(echo)

    # The job service: an async def handler awaiting a socket, spawned on the IOLoop.
    pull = ctx.socket(zloop.PULL)
    pull.bind("inproc://jobs")
    done: list[str] = []
    finished = Event()
    IOLoop.current().spawn_callback(job_handler, pull, done, finished)

    # Clients, as coroutines on the same loop.
    req = ctx.socket(zloop.REQ)
    req.connect(router.last_endpoint.decode())
    for i in range(REQUESTS):
        await req.send_string(f"request {i}")
        print(f"client got: {await req.recv_string()}")

    push = ctx.socket(zloop.PUSH)
    push.connect("inproc://jobs")
    for i in range(JOBS):
        await push.send_string(f"job {i}")
    await finished.wait(timeout=timedelta(seconds=5))  # the handler says when it is done
    print(f"{REQUESTS} echoes through the ZMQStream, {len(done)} jobs through the async handler")

    stream.close()
    ctx.destroy(linger=0)


if __name__ == "__main__":
    IOLoop.current().run_sync(main)
