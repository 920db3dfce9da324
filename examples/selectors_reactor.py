"""selectors: a libevent-style ``Reactor`` and ``ZMQSelector`` for code written for ``selectors``.

Part 1, ``Reactor`` (like libevent's ``event_base`` with ``EV_READ | EV_PERSIST``): a zloop PULL
socket and a plain OS socket are registered side by side with callbacks. For the zloop socket the
callback runs while ``EVENTS`` says a message is waiting — it may read one message per call, the
reactor calls it again on the next turn — so the edge-triggered FD never loses a wake-up.

Part 2, ``ZMQSelector``: a ``selectors.BaseSelector`` that accepts zloop (and pyzmq) sockets next to
file objects. ``serve`` below is ordinary ``selectors`` code; it never heard of ZeroMQ.

Run: python examples/selectors_reactor.py
"""

from __future__ import annotations

import selectors
import socket
from collections.abc import Callable
from typing import Any

import zloop
from zloop.adapters.selectors import Reactor, ZMQSelector

MESSAGES = 5


def reactor_demo(ctx: zloop.Context) -> None:
    print("Reactor: a zloop PULL socket next to a plain socket")
    pull, push = ctx.socket(zloop.PULL), ctx.socket(zloop.PUSH)
    pull.bind("inproc://reactor")
    push.connect("inproc://reactor")
    plain_in, plain_out = socket.socketpair()
    reactor = Reactor()
    got: list[str] = []

    def maybe_stop() -> None:
        if len(got) == MESSAGES + 1:
            reactor.stop()

    def on_zmq(sock: zloop.Socket, events: int) -> None:
        got.append(sock.recv_string(zloop.NOBLOCK))  # one per call: called again while pending
        print(f"  zloop socket: {got[-1]}")
        maybe_stop()

    def on_plain(sock: socket.socket, events: int) -> None:
        got.append(sock.recv(100).decode())
        print(f"  plain socket: {got[-1]}")
        reactor.unregister(sock)
        maybe_stop()

    reactor.register(pull, on_zmq)  # persistent interest, POLLIN by default
    reactor.register(plain_in, on_plain)
    for i in range(MESSAGES):
        push.send_string(f"zmq message {i}")
    plain_out.send(b"bytes on an ordinary socket")
    reactor.run()
    print(f"  reactor stopped after {len(got)} events")
    reactor.close()
    for s in (plain_in, plain_out):
        s.close()
    push.close()
    pull.close()


def serve(
    sel: selectors.BaseSelector, handlers: dict[Any, Callable[[Any], None]], events: int
) -> None:
    """Plain ``selectors`` code: register, select, dispatch on ``key.data``, for ``events`` events."""
    for fileobj, handler in handlers.items():
        sel.register(fileobj, selectors.EVENT_READ, handler)
    while events > 0:
        ready = sel.select(timeout=5)
        if not ready:
            raise SystemExit("nothing happened within 5 s")
        for key, _mask in ready:
            key.data(key.fileobj)
            events -= 1


def selector_demo(ctx: zloop.Context) -> None:
    print("ZMQSelector: ordinary selectors code serving a zloop REP socket and a plain socket")
    rep, req = ctx.socket(zloop.REP), ctx.socket(zloop.REQ)
    rep.bind("tcp://127.0.0.1:*")
    req.connect(rep.last_endpoint.decode())
    plain_in, plain_out = socket.socketpair()

    def on_rep(sock: zloop.Socket) -> None:
        request = sock.recv_string(zloop.NOBLOCK)  # reported readable: a request is waiting
        sock.send_string(request.upper())
        print(f"  REP answered {request!r}")

    def on_plain(sock: socket.socket) -> None:
        print(f"  plain socket said {sock.recv(100)!r}")

    req.send_string("hello selectors")
    plain_out.send(b"hello from a socketpair")
    with ZMQSelector() as sel:
        serve(sel, {rep: on_rep, plain_in: on_plain}, events=2)
    print(f"  REQ got {req.recv_string()!r}")
    for s in (plain_in, plain_out):
        s.close()
    req.close()
    rep.close()


def main() -> None:
    with zloop.Context() as ctx:
        reactor_demo(ctx)
        selector_demo(ctx)


if __name__ == "__main__":
    main()
