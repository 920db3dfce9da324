"""zloop.proxy / proxy_steerable: the three devices (queue, forwarder, streamer), capture, control.

The proxy runs in its own thread with zloop sockets made here and handed over before it starts;
it ends by ``ctx.term()`` (ContextTerminated, then the thread closes its sockets) or TERMINATE.
The ends are zloop sockets, or libzmq's (pyzmq) for the interop runs.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Callable
from typing import Any

import pytest
from zl_testing import DEADLINE, DEADLINE_MS

import zloop

pytestmark = pytest.mark.timeout(60)


class ProxyThread:
    """Run ``target(*sockets)`` in a thread; on ContextTerminated close the sockets and record it."""

    def __init__(self, target: Callable[..., int], *sockets: Any) -> None:
        self.sockets = sockets
        self.result: Any = None
        self._target = target
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self.result = self._target(*self.sockets)
        except zloop.ContextTerminated as exc:
            self.result = exc
        finally:
            for sock in self.sockets:
                if sock is not None:
                    sock.close(linger=0)

    def join(self) -> Any:
        self._thread.join(DEADLINE)
        assert not self._thread.is_alive(), "proxy did not end"
        return self.result


def _stop_by_term(ctx: zloop.Context, proxy: ProxyThread) -> None:
    ctx.term()
    assert isinstance(proxy.join(), zloop.ContextTerminated)


def _ends(request: Any, kind: str) -> tuple[Any, Any]:
    """(module, context) for the end sockets: zloop (same context as the proxy) or libzmq."""
    if kind == "libzmq":
        import zmq

        return zmq, request.getfixturevalue("zctx")
    return zloop, request.getfixturevalue("ctx")


def _endpoints(middle_a: Any, middle_b: Any, transport: str, name: str) -> tuple[str, str]:
    if transport == "inproc":
        a, b = f"inproc://{name}-front", f"inproc://{name}-back"
        middle_a.bind(a)
        middle_b.bind(b)
        return a, b
    middle_a.bind("tcp://127.0.0.1:*")
    middle_b.bind("tcp://127.0.0.1:*")
    return middle_a.last_endpoint.decode(), middle_b.last_endpoint.decode()


ENDS = [
    pytest.param("zloop", "tcp", id="zloop-ends-tcp"),
    pytest.param("zloop", "inproc", id="zloop-ends-inproc"),
    pytest.param("libzmq", "tcp", id="libzmq-ends", marks=pytest.mark.interop),
]


def _poll(mod: Any, socks: list[Any]) -> list[Any]:
    poller = mod.Poller()
    for sock in socks:
        poller.register(sock, mod.POLLIN)
    ready = dict(poller.poll(DEADLINE_MS))
    assert ready, "nothing arrived within the deadline"
    return [s for s in socks if s in ready]


# -- shared queue: ROUTER/DEALER, REQ clients, REP workers ----------------------------------------


@pytest.mark.parametrize(("kind", "transport"), ENDS)
def test_shared_queue(ctx: zloop.Context, request: Any, kind: str, transport: str) -> None:
    mod, end_ctx = _ends(request, kind)
    frontend, backend = ctx.socket(zloop.ROUTER), ctx.socket(zloop.DEALER)
    front_addr, back_addr = _endpoints(frontend, backend, transport, "queue")
    proxy = ProxyThread(zloop.proxy, frontend, backend)
    clients = [end_ctx.socket(mod.REQ) for _ in range(4)]
    workers = [end_ctx.socket(mod.REP) for _ in range(3)]
    for client in clients:
        client.connect(front_addr)
    for worker in workers:
        worker.connect(back_addr)
    served = [0] * len(workers)
    for round_ in range(5):
        for i, client in enumerate(clients):
            client.send_multipart([f"client {i} round {round_}".encode(), b"body"])
        answers: dict[int, list[bytes]] = {}
        while len(answers) < len(clients):
            for sock in _poll(mod, clients + workers):
                if sock in workers:
                    w = workers.index(sock)
                    req = sock.recv_multipart()
                    served[w] += 1
                    sock.send_multipart([b"reply to " + req[0], f"worker {w}".encode()])
                else:
                    answers[clients.index(sock)] = sock.recv_multipart()
        for i in range(len(clients)):
            assert answers[i][0] == f"reply to client {i} round {round_}".encode()
    assert sum(served) == 5 * len(clients)
    for sock in clients + workers:
        sock.close(linger=0)
    _stop_by_term(ctx, proxy)


# -- forwarder: XSUB/XPUB, subscriptions flow upstream -------------------------------------------


@pytest.mark.parametrize(("kind", "transport"), ENDS)
def test_forwarder(ctx: zloop.Context, request: Any, kind: str, transport: str) -> None:
    mod, end_ctx = _ends(request, kind)
    frontend, backend = ctx.socket(zloop.XSUB), ctx.socket(zloop.XPUB)
    front_addr, back_addr = _endpoints(frontend, backend, transport, "forwarder")
    proxy = ProxyThread(zloop.proxy, frontend, backend)
    publisher = end_ctx.socket(mod.XPUB)  # an XPUB publisher shows the subscriptions it receives
    publisher.connect(front_addr)
    subscriber = end_ctx.socket(mod.SUB)
    subscriber.connect(back_addr)
    subscriber.setsockopt(mod.SUBSCRIBE, b"weather")
    assert publisher.poll(DEADLINE_MS)
    assert publisher.recv() == b"\x01weather"  # came upstream through the proxy
    publisher.send_multipart([b"sports", b"no one wants this"])
    publisher.send_multipart([b"weather", b"sunny"])
    assert subscriber.poll(DEADLINE_MS)
    assert subscriber.recv_multipart() == [b"weather", b"sunny"]
    subscriber.setsockopt(mod.UNSUBSCRIBE, b"weather")
    assert publisher.poll(DEADLINE_MS)
    assert publisher.recv() == b"\x00weather"
    publisher.close(linger=0)
    subscriber.close(linger=0)
    _stop_by_term(ctx, proxy)


# -- streamer: PULL/PUSH ----------------------------------------------------------------------------


def _stream(mod: Any, sender: Any, receivers: list[Any], count: int) -> list[list[list[bytes]]]:
    for i in range(count):
        sender.send_multipart([i.to_bytes(4, "big"), b"x" * (i % 7)])
    got: list[list[list[bytes]]] = [[] for _ in receivers]
    while sum(map(len, got)) < count:
        for sock in _poll(mod, receivers):
            got[receivers.index(sock)].append(sock.recv_multipart())
    return got


@pytest.mark.parametrize(("kind", "transport"), ENDS)
def test_streamer(ctx: zloop.Context, request: Any, kind: str, transport: str) -> None:
    mod, end_ctx = _ends(request, kind)
    frontend, backend = ctx.socket(zloop.PULL), ctx.socket(zloop.PUSH)
    front_addr, back_addr = _endpoints(frontend, backend, transport, "streamer")
    proxy = ProxyThread(zloop.proxy, frontend, backend)
    sender = end_ctx.socket(mod.PUSH)
    sender.connect(front_addr)
    receivers = [end_ctx.socket(mod.PULL) for _ in range(2)]
    for receiver in receivers:
        receiver.connect(back_addr)
    got = _stream(mod, sender, receivers, 2000)
    everything = sorted(int.from_bytes(m[0], "big") for part in got for m in part)
    assert everything == list(range(2000))
    for part in got:
        seqs = [int.from_bytes(m[0], "big") for m in part]
        assert seqs == sorted(seqs)  # each receiver sees its share in order
        assert all(m[1] == b"x" * (s % 7) for m, s in zip(part, seqs, strict=True))
    for sock in [sender, *receivers]:
        sock.close(linger=0)
    _stop_by_term(ctx, proxy)


def test_back_pressure_loses_nothing(ctx: zloop.Context) -> None:
    """A full backend holds its messages in the proxy (no loss, no reordering) while control works."""
    frontend, backend = ctx.socket(zloop.PULL), ctx.socket(zloop.PUSH)
    backend.setsockopt(zloop.SNDHWM, 5)
    control_in, control = ctx.socket(zloop.PAIR), ctx.socket(zloop.PAIR)
    control_in.bind("inproc://pressure-control")
    control.connect("inproc://pressure-control")
    front_addr, back_addr = _endpoints(frontend, backend, "inproc", "pressure")
    proxy = ProxyThread(zloop.proxy_steerable, frontend, backend, None, control_in)
    sender = ctx.socket(zloop.PUSH)
    sender.connect(front_addr)
    receiver = ctx.socket(zloop.PULL)
    receiver.setsockopt(zloop.RCVHWM, 5)
    receiver.connect(back_addr)
    count = 300
    for i in range(count):
        sender.send(i.to_bytes(4, "big"))
    # The receiver reads nothing yet: the proxy is stuck on a full backend, and still answers.
    control.send(b"STATISTICS")
    assert control.poll(DEADLINE_MS)
    stats = [struct.unpack("=Q", f)[0] for f in control.recv_multipart()]
    assert stats[6] < count  # backend has not sent everything
    got = [int.from_bytes(receiver.recv(), "big") for _ in range(count)]
    assert got == list(range(count))
    control.send(b"TERMINATE")
    assert proxy.join() == 0
    for sock in (sender, receiver, control):
        sock.close(linger=0)


# -- capture ------------------------------------------------------------------------------------


def test_capture_sees_both_directions(ctx: zloop.Context) -> None:
    frontend, backend = ctx.socket(zloop.ROUTER), ctx.socket(zloop.DEALER)
    capture = ctx.socket(zloop.PUSH)
    capture.bind("inproc://capture")
    tap = ctx.socket(zloop.PULL)
    tap.connect("inproc://capture")
    front_addr, back_addr = _endpoints(frontend, backend, "tcp", "capture")
    proxy = ProxyThread(zloop.proxy, frontend, backend, capture)
    client = ctx.socket(zloop.REQ)
    client.setsockopt(zloop.ROUTING_ID, b"client-1")
    client.connect(front_addr)
    worker = ctx.socket(zloop.REP)
    worker.connect(back_addr)
    client.send_multipart([b"question", b"part 2"])
    assert worker.recv_multipart() == [b"question", b"part 2"]
    worker.send(b"answer")
    assert client.recv() == b"answer"
    # Requests carry the ROUTER's envelope; replies come back with it. Every frame, as received.
    assert tap.recv_multipart() == [b"client-1", b"", b"question", b"part 2"]
    assert tap.recv_multipart() == [b"client-1", b"", b"answer"]
    assert not tap.poll(20)
    for sock in (client, worker, tap):
        sock.close(linger=0)
    _stop_by_term(ctx, proxy)


# -- steerable ------------------------------------------------------------------------------------


def _stats(control: Any) -> list[int]:
    control.send(b"STATISTICS")
    assert control.poll(DEADLINE_MS)
    frames = control.recv_multipart()
    assert [len(f) for f in frames] == [8] * 8
    return [struct.unpack("=Q", f)[0] for f in frames]


def test_steerable_pause_resume_statistics_terminate(ctx: zloop.Context) -> None:
    frontend, backend = ctx.socket(zloop.PULL), ctx.socket(zloop.PUSH)
    control_rep, control = ctx.socket(zloop.REP), ctx.socket(zloop.REQ)
    control_rep.bind("inproc://steer")
    control.connect("inproc://steer")
    front_addr, back_addr = _endpoints(frontend, backend, "inproc", "steer")
    proxy = ProxyThread(zloop.proxy_steerable, frontend, backend, None, control_rep)
    sender, receiver = ctx.socket(zloop.PUSH), ctx.socket(zloop.PULL)
    sender.connect(front_addr)
    receiver.connect(back_addr)
    msg = [b"ab", b"cde"]  # 2 frames, 5 bytes
    for _ in range(3):
        sender.send_multipart(msg)
    assert [receiver.recv_multipart() for _ in range(3)] == [msg] * 3

    control.send(b"PAUSE")
    assert control.recv() == b""  # a REP control socket answers every command
    sender.send_multipart(msg)
    sender.send_multipart(msg)
    assert _stats(control) == [6, 15, 0, 0, 0, 0, 6, 15]  # paused: the two wait in the frontend
    assert not receiver.poll(50)

    control.send(b"RESUME")
    assert control.recv() == b""
    assert [receiver.recv_multipart() for _ in range(2)] == [msg] * 2
    assert _stats(control) == [10, 25, 0, 0, 0, 0, 10, 25]

    control.send(b"NONSENSE")  # ignored, but answered
    assert control.recv() == b""
    control.send(b"TERMINATE")
    assert control.recv() == b""
    assert proxy.join() == 0
    for sock in (sender, receiver, control):
        sock.close(linger=0)


def test_steerable_pair_control_gets_no_acks(ctx: zloop.Context) -> None:
    frontend, backend = ctx.socket(zloop.PULL), ctx.socket(zloop.PUSH)
    control_in, control = ctx.socket(zloop.PAIR), ctx.socket(zloop.PAIR)
    control_in.bind("inproc://steer-pair")
    control.connect("inproc://steer-pair")
    front_addr, back_addr = _endpoints(frontend, backend, "inproc", "steer-pair")
    proxy = ProxyThread(zloop.proxy_steerable, frontend, backend, None, control_in)
    sender, receiver = ctx.socket(zloop.PUSH), ctx.socket(zloop.PULL)
    sender.connect(front_addr)
    receiver.connect(back_addr)
    control.send(b"PAUSE")
    sender.send(b"held")
    assert _stats(control)[0] == 0  # PAUSE got no reply: the only answer is the statistics
    control.send(b"RESUME")
    assert receiver.recv() == b"held"
    control.send(b"TERMINATE")
    assert proxy.join() == 0
    assert not control.poll(20)
    for sock in (sender, receiver, control):
        sock.close(linger=0)


@pytest.mark.interop
def test_statistics_match_libzmq(ctx: zloop.Context, zctx: Any) -> None:
    """Same traffic through libzmq's steerable proxy and zloop's: the same 8 counters."""
    import zmq

    def run(mod: Any, c: Any, proxy_fn: Callable[..., Any], name: str) -> list[int]:
        frontend, backend = c.socket(mod.ROUTER), c.socket(mod.DEALER)
        control_rep, control = c.socket(mod.REP), c.socket(mod.REQ)
        control_rep.bind(f"inproc://{name}-control")
        control.connect(f"inproc://{name}-control")
        front_addr, back_addr = _endpoints(frontend, backend, "inproc", name)
        thread = threading.Thread(
            target=_guarded, args=(proxy_fn, frontend, backend, control_rep), daemon=True
        )
        thread.start()
        client, worker = c.socket(mod.REQ), c.socket(mod.REP)
        client.setsockopt(mod.ROUTING_ID, b"cl")
        client.connect(front_addr)
        worker.connect(back_addr)
        for i in range(4):
            client.send_multipart([b"q" * i, b"tail"])
            worker.send(worker.recv_multipart()[0] + b"!")
            client.recv()
        stats = _stats(control)
        control.send(b"TERMINATE")
        if mod is zloop:
            assert control.recv() == b""
        thread.join(DEADLINE)
        assert not thread.is_alive()
        for sock in (client, worker, control):
            sock.close(linger=0)
        return stats

    ours = run(zloop, ctx, zloop.proxy_steerable, "zl-stats")
    theirs = run(zmq, zctx, zmq.proxy_steerable, "lz-stats")
    assert ours == theirs
    assert ours[0] == 16  # 4 requests of 4 frames (identity, delimiter, 2 body frames)


def _guarded(proxy_fn: Callable[..., Any], frontend: Any, backend: Any, control: Any) -> None:
    try:
        proxy_fn(frontend, backend, None, control)
    finally:
        for sock in (frontend, backend, control):
            sock.close(linger=0)


# -- termination --------------------------------------------------------------------------------


def test_context_term_ends_idle_proxy(ctx: zloop.Context) -> None:
    frontend, backend = ctx.socket(zloop.PULL), ctx.socket(zloop.PUSH)
    frontend.bind("inproc://idle-front")
    backend.bind("inproc://idle-back")
    proxy = ProxyThread(zloop.proxy, frontend, backend)
    done = threading.Event()

    def term() -> None:
        ctx.term()
        done.set()

    terminator = threading.Thread(target=term)
    terminator.start()
    assert isinstance(proxy.join(), zloop.ContextTerminated)
    assert done.wait(DEADLINE)
    terminator.join()


def test_same_socket_proxy_echoes(ctx: zloop.Context) -> None:
    """frontend is backend (a ROUTER reflecting messages), as libzmq allows."""
    router = ctx.socket(zloop.ROUTER)
    router.bind("inproc://mirror")
    proxy = ProxyThread(zloop.proxy, router, router)
    dealer = ctx.socket(zloop.DEALER)
    dealer.setsockopt(zloop.ROUTING_ID, b"me")
    dealer.connect("inproc://mirror")
    dealer.send_multipart([b"hello", b"mirror"])
    assert dealer.poll(DEADLINE_MS)
    assert dealer.recv_multipart() == [b"hello", b"mirror"]
    dealer.close(linger=0)
    _stop_by_term(ctx, proxy)
