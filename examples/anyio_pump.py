"""anyio: one program, run on asyncio and on trio, with a task group, a cancel scope and a memory
object stream fed by ``zloop.adapters.anyio.pump``.

A PUSH producer sends 20 jobs; ``pump`` moves the PULL socket's messages into a memory object
stream with room for 4; two worker tasks read the stream. A ``move_on_after`` around a receive with
nothing to receive is cancelled without taking anything. Run: ``python examples/anyio_pump.py``.
"""

from __future__ import annotations

import anyio
import anyio.abc

import zloop
from zloop.adapters.anyio import Context, pump


async def main() -> None:
    ctx = Context()
    pull, push = ctx.socket(zloop.PULL), ctx.socket(zloop.PUSH)
    pull.bind("tcp://127.0.0.1:*")
    push.connect(pull.last_endpoint.decode())
    send, receive = anyio.create_memory_object_stream[list[bytes]](4)
    done: list[int] = []
    all_done = anyio.Event()

    async def worker(jobs: anyio.abc.ObjectReceiveStream[list[bytes]]) -> None:
        async with jobs:
            async for frames in jobs:
                done.append(int(frames[1]))
                if len(done) == 20:
                    all_done.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(pump, pull, send)
        tg.start_soon(worker, receive.clone())
        tg.start_soon(worker, receive.clone())
        receive.close()  # the workers hold clones
        for i in range(20):
            await push.send_multipart([b"job", b"%d" % i])
        await all_done.wait()
        pull.close(linger=0)  # the pump ends, closes the stream, and the workers' loops end
    print(
        f"  20 jobs through pump -> memory stream -> 2 workers: {sorted(done) == list(range(20))}"
    )

    pair, peer = ctx.socket(zloop.PAIR), ctx.socket(zloop.PAIR)
    pair.bind("inproc://quiet")
    peer.connect("inproc://quiet")
    with anyio.move_on_after(0.1) as scope:
        await pair.recv()
    await peer.send(b"later")
    print(
        f"  recv under move_on_after(0.1): cancelled = {scope.cancelled_caught}, "
        f"next recv: {(await pair.recv())!r}"
    )
    ctx.destroy(linger=0)


for backend in ("asyncio", "trio"):
    print(f"anyio on {backend}:")
    anyio.run(main, backend=backend)
