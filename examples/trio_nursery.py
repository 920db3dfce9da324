"""trio: a nursery of tasks sharing one DEALER/ROUTER pair, and a timeout with ``move_on_after``.

Three tasks send requests on the same DEALER while two other tasks receive the replies from it:
with ``zloop.adapters.trio`` many tasks may wait on one socket at once (they are served in order,
each gets whole messages). A ROUTER task answers. Afterwards a ``recv`` inside
``trio.move_on_after`` shows a timeout: the call is cancelled cleanly and takes nothing from the
socket, so the next ``recv`` still gets the next message whole.

Run: python examples/trio_nursery.py
"""

from __future__ import annotations

import trio

import zloop
from zloop.adapters.trio import Context, Socket

SENDERS = 3
RECEIVERS = 2
PER_SENDER = 10


async def server(router: Socket) -> None:
    peer = b""
    for _ in range(SENDERS * PER_SENDER):
        peer, body = await router.recv_multipart()
        await router.send_multipart([peer, body.upper()])
    for _ in range(RECEIVERS):  # one STOP for each receiving task
        await router.send_multipart([peer, b"STOP"])


async def sender(dealer: Socket, n: int) -> None:
    for i in range(PER_SENDER):
        await dealer.send(b"sender %d message %d" % (n, i))


async def receiver(dealer: Socket, name: str, got: dict[str, int]) -> None:
    got[name] = 0
    while await dealer.recv() != b"STOP":  # a task that got its STOP no longer receives
        got[name] += 1


async def main() -> None:
    with Context() as ctx:
        router = ctx.socket(zloop.ROUTER)
        router.bind("tcp://127.0.0.1:*")
        dealer = ctx.socket(zloop.DEALER)
        dealer.connect(router.last_endpoint.decode())

        got: dict[str, int] = {}
        async with trio.open_nursery() as nursery:
            nursery.start_soon(server, router)
            for n in range(SENDERS):
                nursery.start_soon(sender, dealer, n)
            for r in range(RECEIVERS):
                nursery.start_soon(receiver, dealer, f"receiver-{r}", got)
        # The nursery block ends only when every task has finished.
        print(f"{SENDERS} tasks sent {SENDERS * PER_SENDER} requests on one DEALER")
        print(f"{RECEIVERS} tasks shared the replies: {sum(got.values())} in total")

        with trio.move_on_after(0.2) as scope:
            await dealer.recv()  # nobody answers: the timeout cancels this call
        print(f"recv under move_on_after(0.2): cancelled = {scope.cancelled_caught}")

        await dealer.send(b"one more")
        peer, body = await router.recv_multipart()
        await router.send_multipart([peer, body + b", answered"])
        print(f"the next recv gets the next message whole: {await dealer.recv()!r}")
        dealer.close(linger=0)
        router.close(linger=0)


if __name__ == "__main__":
    trio.run(main)
