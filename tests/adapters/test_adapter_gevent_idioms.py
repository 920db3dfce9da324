"""gevent idioms on zloop.adapters.gevent (like zmq.green), for zloop and pyzmq sockets.

Thousands of greenlets served by one green ROUTER; blocking calls block only their greenlet; the
green Poller; RCVTIMEO and gevent.Timeout; and no timer at all behind a blocking call (zmq.green
keeps an 11.6 s rescue poll; here a missed wake-up would be a hang, so the tests would catch it).
"""

from __future__ import annotations

import sys
from typing import Any

import pytest
from drivers_extra import FLAVOURS, sync_pair
from zl_testing import STRESS_SCALE

import zloop

gevent = pytest.importorskip("gevent")
from zloop.adapters import gevent as zgreen  # noqa: E402

pytestmark = pytest.mark.parametrize("flavour", FLAVOURS)

SCALE = STRESS_SCALE


def green_pair(
    flavour: str, ctx: Any, zctx: Any, bind_type: int, connect_type: int
) -> tuple[Any, Any]:
    a, b = sync_pair(flavour, ctx, zctx, bind_type, connect_type)
    return zgreen.Socket.from_socket(a), zgreen.Socket.from_socket(b)


def green_context(flavour: str, ctx: Any, zctx: Any) -> Any:
    return zgreen.Context.shadow(ctx if flavour == "zloop" else zctx)


class TimerCounter:
    """Stands in for the hub's loop and counts every timer created through it."""

    def __init__(self, loop: Any) -> None:
        self._loop = loop
        self.timers = 0

    def timer(self, *args: Any, **kwargs: Any) -> Any:
        self.timers += 1
        return self._loop.timer(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loop, name)


def test_two_thousand_greenlets_served_by_a_green_router(flavour: str, ctx: Any, zctx: Any) -> None:
    clients = max(50, int(2000 * SCALE))
    rounds = 3
    gctx = green_context(flavour, ctx, zctx)
    server = gctx.socket(zloop.ROUTER)
    server.setsockopt(zloop.LINGER, 0)
    addr = f"inproc://green-router-{flavour}-{id(server)}"
    server.bind(addr)
    served = [0]

    def serve() -> None:
        while served[0] < clients * rounds:
            ident, empty, body = server.recv_multipart()
            served[0] += 1
            server.send_multipart([ident, empty, body + b"!"])

    def client(n: int) -> list[bytes]:
        req = gctx.socket(zloop.REQ)
        req.setsockopt(zloop.LINGER, 0)
        req.connect(addr)
        replies = []
        for r in range(rounds):
            req.send(b"%d.%d" % (n, r))
            replies.append(req.recv())
        req.close()
        return replies

    with gevent.Timeout(50):
        srv = gevent.spawn(serve)
        greenlets = [gevent.spawn(client, n) for n in range(clients)]
        gevent.joinall([*greenlets, srv], raise_error=True)
    for n, g in enumerate(greenlets):
        assert g.value == [b"%d.%d!" % (n, r) for r in range(rounds)]
    assert served[0] == clients * rounds
    server.close()


def test_blocking_recv_blocks_only_its_greenlet(flavour: str, ctx: Any, zctx: Any) -> None:
    pull, push = green_pair(flavour, ctx, zctx, zloop.PULL, zloop.PUSH)
    order: list[str] = []

    def receiver() -> None:
        order.append("recv-start")
        order.append(pull.recv().decode())

    def other() -> None:
        order.append("other-ran")
        push.send(b"hello")

    with gevent.Timeout(10):
        g1 = gevent.spawn(receiver)
        g2 = gevent.spawn(other)
        gevent.joinall([g1, g2], raise_error=True)
    assert order == ["recv-start", "other-ran", "hello"]
    pull.close()
    push.close()


def test_a_value_received_after_a_wait_is_held_by_the_receiver_only(
    flavour: str, ctx: Any, zctx: Any
) -> None:
    # The hub stays suspended in the switch that resumed the greenlet until the greenlet blocks
    # again: a value handed over as the switch's argument stayed alive there while the next one
    # was received (two 1 MiB messages at once, ~80 page faults per message). Not any more.
    pull, push = green_pair(flavour, ctx, zctx, zloop.PULL, zloop.PUSH)
    refs: list[int] = []

    def receiver() -> None:
        value = pull.recv()
        refs.append(sys.getrefcount(value))  # this local and the call's argument
        del value
        parts = pull.recv_multipart()
        refs.append(sys.getrefcount(parts))

    with gevent.Timeout(10):
        g = gevent.spawn(receiver)
        gevent.idle()
        assert not g.ready()  # it waits: the value comes through the hub
        push.send(b"x" * 100_000)
        gevent.idle()
        push.send_multipart([b"a", b"b"])
        g.get()
    assert refs == [2, 2]
    pull.close()
    push.close()


def test_many_greenlets_recv_on_one_socket_each_message_once(
    flavour: str, ctx: Any, zctx: Any
) -> None:
    pull, push = green_pair(flavour, ctx, zctx, zloop.PULL, zloop.PUSH)
    count, workers = 2000, 50
    got: list[bytes] = []

    def worker() -> None:
        while True:
            msg = pull.recv()
            if msg == b"stop":
                return
            got.append(msg)

    with gevent.Timeout(30):
        gs = [gevent.spawn(worker) for _ in range(workers)]
        for i in range(count):
            push.send(b"%d" % i)
        for _ in range(workers):
            push.send(b"stop")
        gevent.joinall(gs, raise_error=True)
    assert sorted(int(m) for m in got) == list(range(count))
    pull.close()
    push.close()


def test_no_timer_behind_blocking_calls(flavour: str, ctx: Any, zctx: Any) -> None:
    """Blocked send/recv/poll/Poller wait on the fd only: not a single timer is created (no rescue poll)."""
    pull, push = green_pair(flavour, ctx, zctx, zloop.PULL, zloop.PUSH)
    a, b = green_pair(flavour, ctx, zctx, zloop.PAIR, zloop.PAIR)
    hub = gevent.get_hub()
    counter = TimerCounter(hub.loop)
    results: list[Any] = []

    def consumer() -> None:
        results.append(pull.recv())
        results.append(pull.recv_multipart())
        results.append(a.poll(flags=zloop.POLLIN))
        results.append(a.recv())
        poller = zgreen.Poller()
        poller.register(pull, zloop.POLLIN)
        results.append(poller.poll())
        results.append(pull.recv())

    hub.loop = counter
    try:
        g = gevent.spawn(consumer)
        for step in (
            lambda: push.send(b"1"),
            lambda: push.send_multipart([b"2", b"3"]),
            lambda: b.send(b"4"),
            lambda: push.send(b"5"),
        ):
            gevent.idle()  # the consumer is parked again
            assert not g.dead
            step()
        g.join()
    finally:
        hub.loop = counter._loop
    assert g.successful(), g.exception
    assert results == [b"1", [b"2", b"3"], zloop.POLLIN, b"4", [(pull, zloop.POLLIN)], b"5"]
    assert counter.timers == 0
    for s in (pull, push, a, b):
        s.close()


def test_green_poller(flavour: str, ctx: Any, zctx: Any) -> None:
    p1, s1 = green_pair(flavour, ctx, zctx, zloop.PULL, zloop.PUSH)
    p2, s2 = green_pair(flavour, ctx, zctx, zloop.PULL, zloop.PUSH)
    poller = zgreen.Poller()
    poller.register(p1, zloop.POLLIN)
    poller.register(p2, zloop.POLLIN)
    poller.register(s1, zloop.POLLOUT)
    assert dict(poller.poll(0)) == {s1: zloop.POLLOUT}
    poller.unregister(s1)
    assert poller.poll(0) == []
    assert poller.poll(20) == []  # a timeout the user asked for
    with gevent.Timeout(10):
        g = gevent.spawn(poller.poll)
        gevent.idle()
        assert not g.dead
        s2.send(b"x")
        assert g.get() == [(p2, zloop.POLLIN)]
    # level-triggered: still ready until received
    assert poller.poll(0) == [(p2, zloop.POLLIN)]
    assert p2.recv() == b"x"
    # zloop.poll-style module function too
    assert zgreen.poll([(p1, zloop.POLLIN)], 0) == []
    for s in (p1, s1, p2, s2):
        s.close()


def test_timeouts_cancel_without_losing_messages(flavour: str, ctx: Any, zctx: Any) -> None:
    pull, push = green_pair(flavour, ctx, zctx, zloop.PULL, zloop.PUSH)
    pull.setsockopt(zloop.RCVTIMEO, 20)
    with pytest.raises(zloop.Again if flavour == "zloop" else __import__("zmq").Again):
        pull.recv()
    pull.setsockopt(zloop.RCVTIMEO, -1)
    with pytest.raises(gevent.Timeout), gevent.Timeout(0.02):
        pull.recv_multipart()
    push.send_multipart([b"a", b"b"])
    with gevent.Timeout(10):
        assert pull.recv_multipart() == [b"a", b"b"]
    # a greenlet killed while parked takes nothing with it
    g = gevent.spawn(pull.recv)
    gevent.idle()
    g.kill()
    push.send(b"c")
    with gevent.Timeout(10):
        assert pull.recv() == b"c"
    pull.close()
    push.close()


def test_close_wakes_parked_greenlets(flavour: str, ctx: Any, zctx: Any) -> None:
    pull, push = green_pair(flavour, ctx, zctx, zloop.PULL, zloop.PUSH)
    gs = [gevent.spawn(pull.recv) for _ in range(3)]
    gevent.idle()
    pull.close()
    with gevent.Timeout(10):
        gevent.joinall(gs)
    for g in gs:
        assert isinstance(g.exception, zloop.ZMQError if flavour == "zloop" else Exception)
        assert getattr(g.exception, "errno", None) == zloop.ENOTSOCK
    push.close()


def test_green_poller_in_a_thread_blocks_only_that_thread(
    flavour: str, ctx: Any, zctx: Any
) -> None:
    """eventlet#573: a green Poller in a background thread's hub must not block the main thread."""
    import threading

    pull, push = sync_pair(flavour, ctx, zctx, zloop.PULL, zloop.PUSH)
    started = threading.Event()
    result: list[Any] = []

    def background() -> None:
        poller = zgreen.Poller()
        sock = zgreen.Socket.from_socket(pull)
        poller.register(sock, zloop.POLLIN)
        started.set()
        with gevent.Timeout(10):
            result.append(poller.poll())
            result.append(sock.recv())
        sock._release()

    thread = threading.Thread(target=background)
    thread.start()
    assert started.wait(10)
    # the main thread (with its own hub) keeps running green code meanwhile
    assert gevent.spawn(lambda: "main runs").get(timeout=10) == "main runs"
    push.send(b"wake")
    thread.join(10)
    assert not thread.is_alive()
    assert result[1] == b"wake" and result[0][0][1] == zloop.POLLIN
    pull.close()
    push.close()
