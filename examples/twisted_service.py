"""Twisted: a ROUTER service answering through ``on_recv`` callbacks, clients using Deferreds.

Three DEALER clients each send 5 requests with ``inlineCallbacks``; the service squares numbers.
Then a receive's Deferred is cancelled and the message sent afterwards is received whole by the
next receive. Run: ``python examples/twisted_service.py``.
"""

from __future__ import annotations

from typing import Any

from twisted.internet import defer, task
from twisted.python.failure import Failure

import zloop
from zloop.adapters.twisted import Context


async def main(reactor: Any) -> None:
    ctx = Context(reactor)
    service = ctx.socket(zloop.ROUTER)
    service.bind("tcp://127.0.0.1:*")
    endpoint = service.last_endpoint.decode()
    service.on_recv(lambda msg: service.send_multipart([msg[0], b"%d" % int(msg[1]) ** 2]))

    @defer.inlineCallbacks
    def client(n: int) -> Any:
        sock = ctx.socket(zloop.DEALER)
        sock.connect(endpoint)
        answers = []
        for i in range(5):
            yield sock.send(b"%d" % (n * 5 + i))
            answers.append(int((yield sock.recv())))
        sock.close(linger=0)
        return answers

    results = await defer.gatherResults([client(n) for n in range(3)])
    for n, answers in enumerate(results):
        print(f"  client {n} got {answers}")

    a, b = ctx.socket(zloop.PAIR), ctx.socket(zloop.PAIR)
    a.bind("inproc://cancel")
    b.connect("inproc://cancel")
    pending = a.recv()
    pending.cancel()

    def cancelled(failure: Failure) -> Failure | None:
        if not isinstance(failure.value, defer.CancelledError):
            return failure  # another error: passed on
        print("  recv Deferred cancelled")
        return None

    pending.addErrback(cancelled)
    await b.send(b"sent after the cancel")
    print(f"  next recv: {(await a.recv())!r}")
    ctx.destroy(linger=0)


task.react(lambda reactor: defer.Deferred.fromCoroutine(main(reactor)))
