"""The adapter conformance suite: every scenario on every loop (driver) and both socket flavours.

Test names ``test_pNN_*`` replay docs/pitfalls.md §1 item NN. Scenarios are loop-neutral generators (see
drivers.py); nothing sleeps: every wait is on a socket, a task or an event, under the driver's
deadline (a hang fails as ScenarioHung).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from typing import Any

import pytest
from drivers import (
    TIMEOUT,
    Cancelled,
    Driver,
    call,
    cancel,
    checkpoint,
    events,
    join,
    new_event,
    poll,
    recv,
    recv_multipart,
    send,
    send_multipart,
    set_event,
    spawn,
    wait_event,
)
from zl_testing import DEADLINE, STRESS_SCALE

import zloop

PAIR, PUSH, PULL = zloop.PAIR, zloop.PUSH, zloop.PULL
DEALER, ROUTER, REQ, REP = zloop.DEALER, zloop.ROUTER, zloop.REQ, zloop.REP
POLLIN, POLLOUT = zloop.POLLIN, zloop.POLLOUT
SNDHWM, RCVHWM = zloop.SNDHWM, zloop.RCVHWM

MakePair = Callable[..., tuple[Any, Any]]


def _receiver(sock: Any, count: int, multipart: bool = False) -> Any:
    got = []
    for _ in range(count):
        got.append((yield (recv_multipart(sock) if multipart else recv(sock))))
    return got


def _sender(sock: Any, msgs: list[Any], multipart: bool = False) -> Any:
    for m in msgs:
        yield (send_multipart(sock, m) if multipart else send(sock, m))
    return len(msgs)


def _wait_until_blocked(sock: Any, mask: int, limit: int = 100_000) -> Any:
    """Checkpoint until ``sock`` no longer reports ``mask`` (e.g. a PUSH filled to HWM)."""
    for _ in range(limit):
        if not ((yield events(sock)) & mask):
            return True
        yield checkpoint()
    raise AssertionError(f"socket never stopped reporting {mask}")


# -- docs/pitfalls.md §1 regressions --------------------------------------------------------------------------


def test_p01_inproc_recv_wakes_for_sender_in_other_thread(
    driver: Driver, make_pair: MakePair
) -> None:
    """#1/#27: an inproc socket's FD wakes the loop when another thread sends."""
    a, b = make_pair(PAIR, PAIR, "inproc")
    go = threading.Event()

    def sender() -> None:
        go.wait(DEADLINE)
        for i in range(3):
            a.send(b"m%d" % i)

    thread = threading.Thread(target=sender)
    thread.start()

    def scenario(sock: Any) -> Any:
        t = yield spawn(_receiver, sock, 3)
        yield checkpoint()  # the receiver is now waiting on the FD
        yield call(go.set)
        return (yield join(t))

    try:
        assert driver.run(scenario, b) == [b"m0", b"m1", b"m2"]
    finally:
        go.set()
        thread.join(DEADLINE)


def test_p19_poll_on_socket_made_outside_the_loop(driver: Driver, make_pair: MakePair) -> None:
    """#19: sockets created before the loop runs; an awaited poll wakes when data arrives."""
    a, b = make_pair(PUSH, PULL, "tcp")
    go = threading.Event()

    def sender() -> None:
        go.wait(DEADLINE)
        a.send(b"late")

    thread = threading.Thread(target=sender)
    thread.start()

    def scenario(sock: Any) -> Any:
        assert (yield poll(sock, POLLIN, 0)) == 0
        yield call(go.set)
        ev = yield poll(sock, POLLIN, int(DEADLINE * 1000))
        return ev, (yield recv(sock))

    try:
        ev, msg = driver.run(scenario, b)
    finally:
        go.set()
        thread.join(DEADLINE)
    assert ev & POLLIN
    assert msg == b"late"


@pytest.mark.parametrize("transport", ["inproc", "tcp"])
def test_p03_push_at_hwm_resumes(driver: Driver, make_pair: MakePair, transport: str) -> None:
    """#3/#25/#26: a PUSH blocked at HWM resumes when the peer drains; nothing lost or reordered."""
    size = 16 if transport == "inproc" else 64 * 1024  # tcp: fill the kernel buffers quickly
    n = 400
    pull, push = make_pair(PULL, PUSH, transport, bind_opts={RCVHWM: 2}, connect_opts={SNDHWM: 2})
    msgs = [i.to_bytes(4, "big") + b"x" * size for i in range(n)]

    def scenario(pull: Any, push: Any) -> Any:
        producer = yield spawn(_sender, push, msgs)
        yield from _wait_until_blocked(push, POLLOUT)  # the PUSH is really full now
        got = yield from _receiver(pull, n)
        assert (yield join(producer)) == n
        return got

    got = driver.run(scenario, pull, push)
    assert [int.from_bytes(m[:4], "big") for m in got] == list(range(n))


@pytest.mark.parametrize("types", [(PAIR, PAIR), (DEALER, DEALER)], ids=["pair", "dealer"])
def test_p05_mixed_send_and_recv_on_one_socket(
    driver: Driver, make_pair: MakePair, types: tuple[int, int]
) -> None:
    """#5/#6/#11/#23: sends on a socket consume the edge its pending recv sleeps on."""
    a, b = make_pair(*types, "tcp")
    n = 300

    def scenario(a: Any, b: Any) -> Any:
        ra = yield spawn(_receiver, a, n)
        rb = yield spawn(_receiver, b, n)
        sa = yield spawn(_sender, a, [b"a%d" % i for i in range(n)])
        sb = yield spawn(_sender, b, [b"b%d" % i for i in range(n)])
        yield join(sa)
        yield join(sb)
        return (yield join(ra)), (yield join(rb))

    got_a, got_b = driver.run(scenario, a, b)
    assert got_a == [b"b%d" % i for i in range(n)]
    assert got_b == [b"a%d" % i for i in range(n)]


def test_p05_fast_path_send_consuming_the_recv_edge(driver: Driver, make_pair: MakePair) -> None:
    """#5/#11: a send that succeeds at once after processing commands consumed the FD signal that
    a queued recv on the same socket sleeps on; the core's follow-up refresh must serve it."""
    b, a = make_pair(PAIR, PAIR, "inproc", bind_opts={RCVHWM: 1}, connect_opts={SNDHWM: 1})

    def fill(a: Any) -> Any:
        filled = 0
        while (yield poll(a, POLLOUT, 0)):
            yield send(a, b"f")
            filled += 1
        return filled

    def scenario(a: Any) -> Any:
        filled = yield from fill(a)
        t = yield spawn(_receiver, a, 1)
        for _ in range(3):  # the receiver is queued, its refresh ran, a is not readable
            yield checkpoint()
        drained = yield call(lambda: [b.recv() for _ in range(filled)])
        yield call(b.send, b"to-a")  # a's mailbox now holds write- and read-activation
        yield send(a, b"more")  # fast path; may process a's commands and consume the signal
        return filled, drained, (yield join(t)), (yield call(b.recv))

    filled, drained, got, more = driver.run(scenario, a)
    assert filled >= 1 and drained == [b"f"] * filled
    assert got == [b"to-a"]
    assert more == b"more"


def test_p07_push_pull_nothing_lost(driver: Driver, make_pair: MakePair) -> None:
    """#7: all 6,000 PUSH messages arrive (not ~5,500)."""
    n = 6000
    pull, push = make_pair(PULL, PUSH, "tcp")

    def scenario(pull: Any, push: Any) -> Any:
        producer = yield spawn(_sender, push, [b"%d" % i for i in range(n)])
        got = yield from _receiver(pull, n)
        yield join(producer)
        return got

    assert driver.run(scenario, pull, push) == [b"%d" % i for i in range(n)]


@pytest.mark.parametrize("transport", ["inproc", "tcp"])
def test_p08_last_message_of_a_burst_wakes_the_waiter(
    driver: Driver, make_pair: MakePair, transport: str
) -> None:
    """#8/#10/#28: the final message of a burst completes the waiting recv without a later message."""
    push, pull = make_pair(PUSH, PULL, transport)

    def burst() -> None:
        for i in range(5):
            push.send_multipart([b"k", b"%d" % i])

    def scenario(pull: Any) -> Any:
        t = yield spawn(_receiver, pull, 5, True)
        yield checkpoint()
        yield call(burst)  # a plain, synchronous sender (not through the adapter)
        return (yield join(t))

    assert driver.run(scenario, pull) == [[b"k", b"%d" % i] for i in range(5)]


def test_p09_many_waiters_burst_each_message_once(driver: Driver, make_pair: MakePair) -> None:
    """#9/#21 and root cause 3: many tasks await recv on one socket; each message exactly once."""
    pull, push = make_pair(PULL, PUSH, "tcp")
    waiters, n = 8, 800

    def consumer(sock: Any) -> Any:
        got = []
        while True:
            msg = yield recv(sock)
            if msg == b"END":
                return got
            got.append(int(msg))

    def scenario(pull: Any, push: Any) -> Any:
        tasks = []
        for _ in range(waiters):
            tasks.append((yield spawn(consumer, pull)))
        yield checkpoint()
        yield from _sender(push, [b"%d" % i for i in range(n)] + [b"END"] * waiters)
        results = []
        for t in tasks:
            results.append((yield join(t)))
        return results

    results = driver.run(scenario, pull, push)
    flat = sorted(x for r in results for x in r)
    assert flat == list(range(n))
    for r in results:  # each waiter sees one peer's messages in order
        assert r == sorted(r)


def test_p12_poll_stays_ready_after_a_partial_drain(driver: Driver, make_pair: MakePair) -> None:
    """#12: readiness is level for users of poll: reading one of three leaves POLLIN reported."""
    pull, push = make_pair(PULL, PUSH, "inproc")

    def scenario(pull: Any, push: Any) -> Any:
        yield from _sender(push, [b"1", b"2", b"3"])
        trace = []
        for _ in range(3):
            trace.append((yield poll(pull, POLLIN, int(DEADLINE * 1000))))
            trace.append((yield recv(pull)))
        trace.append((yield poll(pull, POLLIN, 0)))
        return trace

    assert driver.run(scenario, pull, push) == [POLLIN, b"1", POLLIN, b"2", POLLIN, b"3", 0]


def test_p13_cancelled_recv_takes_nothing(driver: Driver, make_pair: MakePair) -> None:
    """#13: a cancelled recv is never completed later; the message goes to the next recv."""
    push, pull = make_pair(PUSH, PULL, "inproc")

    def scenario(pull: Any, push: Any) -> Any:
        t = yield spawn(_receiver, pull, 1)
        yield checkpoint()
        yield checkpoint()
        yield cancel(t)
        try:
            yield join(t)
        except Cancelled:
            pass
        else:
            raise AssertionError("the cancelled recv completed")
        yield send(push, b"after")
        return (yield recv(pull, timeout=DEADLINE))

    assert driver.run(scenario, pull, push) == b"after"


@pytest.mark.parametrize("multipart", [False, True], ids=["recv", "recv_multipart"])
@pytest.mark.parametrize("delay", range(7))
def test_p14_cancel_racing_completion_loses_nothing(
    driver: Driver, make_pair: MakePair, delay: int, multipart: bool
) -> None:
    """#14/#15: cancel lands 0..6 loop turns after the message: it is received exactly once, whole."""
    push, pull = make_pair(PUSH, PULL, "inproc")
    msg = [b"head", b"body", b"tail"] if multipart else [b"single"]

    def scenario(pull: Any) -> Any:
        t = yield spawn(_receiver, pull, 1, multipart)
        yield checkpoint()
        yield call(push.send_multipart, msg)  # plain socket: arrives without a loop turn
        for _ in range(delay):
            yield checkpoint()
        yield cancel(t)
        try:
            first = (yield join(t))[0]
        except Cancelled:
            first = None
        nxt = yield (recv_multipart(pull, timeout=0.2) if multipart else recv(pull, timeout=0.2))
        return first, nxt

    first, nxt = driver.run(scenario, pull)
    expected = msg if multipart else msg[0]
    if first is None:
        assert nxt == expected  # the next recv gets it whole
    else:
        assert first == expected
        assert nxt is TIMEOUT  # and only once


def test_p16_cancelled_send_multipart_is_all_or_nothing(
    driver: Driver, make_pair: MakePair
) -> None:
    """#16: a send_multipart cancelled while blocked at HWM sends all frames or none."""
    pull, push = make_pair(PULL, PUSH, "inproc", bind_opts={RCVHWM: 1}, connect_opts={SNDHWM: 1})

    def fill(push: Any) -> Any:
        sent = 0
        while (yield poll(push, POLLOUT, 0)):
            yield send_multipart(push, [b"fill"])
            sent += 1
        return sent

    def scenario(pull: Any, push: Any) -> Any:
        filled = yield from fill(push)
        t = yield spawn(_sender, push, [[b"x", b"y", b"z"]], True)
        yield checkpoint()
        yield checkpoint()
        yield cancel(t)
        try:
            yield join(t)
            sent = True
        except Cancelled:
            sent = False
        ender = yield spawn(_sender, push, [[b"END"]], True)
        got = []
        while True:
            m = yield recv_multipart(pull)
            if m == [b"END"]:
                break
            got.append(m)
        yield join(ender)
        return filled, sent, got

    filled, sent, got = driver.run(scenario, pull, push)
    assert filled >= 1
    fills = [m for m in got if m == [b"fill"]]
    others = [m for m in got if m != [b"fill"]]
    assert len(fills) == filled
    assert others == ([[b"x", b"y", b"z"]] if sent else [])


def test_p20_reading_events_does_not_strand_a_waiter(driver: Driver, make_pair: MakePair) -> None:
    """#20: a user's EVENTS read consumes the FD signal while a recv waits; the recv still wakes."""
    push, pull = make_pair(PUSH, PULL, "inproc")

    def scenario(pull: Any) -> Any:
        t = yield spawn(_receiver, pull, 1)
        for _ in range(3):  # the receiver is queued and its first refresh has run
            yield checkpoint()
        yield call(push.send, b"x")
        ev = yield events(pull)  # consumes the signal before the loop sees the FD
        return ev, (yield join(t))

    ev, got = driver.run(scenario, pull)
    assert ev & POLLIN
    assert got == [b"x"]


@pytest.mark.parametrize("types", [(REP, REQ), (ROUTER, DEALER)], ids=["req-rep", "router-dealer"])
def test_p24_request_reply_roundtrips(
    driver: Driver, make_pair: MakePair, types: tuple[int, int]
) -> None:
    """#23/#24: request/reply with both ends in the loop never hangs (POLLOUT without POLLIN)."""
    server, client = make_pair(*types, "tcp")
    rounds = 200

    def serve(sock: Any) -> Any:
        for _ in range(rounds):
            msg = yield recv_multipart(sock)
            yield send_multipart(sock, [*msg[:-1], msg[-1] + b"!"])

    def scenario(server: Any, client: Any) -> Any:
        s = yield spawn(serve, server)
        replies = []
        for i in range(rounds):
            if types[1] == DEALER:
                yield send_multipart(client, [b"", b"%d" % i])
            else:
                yield send_multipart(client, [b"%d" % i])
            replies.append((yield recv_multipart(client))[-1])
        yield join(s)
        return replies

    assert driver.run(scenario, server, client) == [b"%d!" % i for i in range(rounds)]


def test_p04_reconnect_wakes_pending_recv(driver: Driver, flavour_ctx: Any) -> None:
    """#4: a peer goes away and a new one connects while a recv waits; its message wakes it."""
    pull = flavour_ctx.socket(PULL)
    pull.setsockopt(17, 0)
    pull.bind("tcp://127.0.0.1:*")
    addr = pull.getsockopt(32).decode()
    peers: list[Any] = []

    def new_peer_sends(data: bytes) -> None:
        if peers:
            peers[-1].close(linger=0)
        p = flavour_ctx.socket(PUSH)
        p.setsockopt(17, 0)
        p.connect(addr)
        peers.append(p)
        p.send(data)

    def scenario(pull: Any) -> Any:
        t = yield spawn(_receiver, pull, 1)
        yield checkpoint()
        yield call(new_peer_sends, b"first")
        got = yield join(t)
        t = yield spawn(_receiver, pull, 1)
        yield checkpoint()
        yield call(new_peer_sends, b"second")  # closes the first peer, connects a new one
        return got + (yield join(t))

    try:
        got = driver.run(scenario, pull)
    finally:
        for p in peers:
            p.close(linger=0)
        pull.close(linger=0)
    assert got == [b"first", b"second"]


# -- stress ------------------------------------------------------------------------------------------


@pytest.mark.stress
def test_stress_producers_consumers(driver: Driver, flavour_ctx: Any) -> None:
    """Several producers and consumers, 100,000 messages at scale 1: nothing lost, duplicated or
    reordered within a peer, no hang."""
    producers, pulls, consumers_per_pull = 4, 2, 2
    total = max(producers * 100, int(100_000 * STRESS_SCALE))
    per_producer = total // producers
    pull_socks = []
    for _ in range(pulls):
        s = flavour_ctx.socket(PULL)
        s.setsockopt(17, 0)
        s.bind("tcp://127.0.0.1:*")
        pull_socks.append(s)
    push_socks = []
    for _ in range(producers):
        s = flavour_ctx.socket(PUSH)
        s.setsockopt(17, 0)
        s.setsockopt(SNDHWM, 100)
        for p in pull_socks:
            s.connect(p.getsockopt(32).decode())
        push_socks.append(s)

    def producer(sock: Any, pid: int) -> Any:
        for i in range(per_producer):
            yield send(sock, b"%d:%d" % (pid, i))

    received = [0]
    total = per_producer * producers

    def consumer(sock: Any, all_in: Any) -> Any:
        got = []
        while True:
            msg = yield recv(sock)
            if msg == b"END":
                return got
            pid, seq = msg.split(b":")
            got.append((int(pid), int(seq)))
            received[0] += 1
            if received[0] == total:
                yield set_event(all_in)

    def scenario(*socks: Any) -> Any:
        pulls_w, pushes_w = socks[:pulls], socks[pulls:]
        all_in = yield new_event()
        cons = []
        for p in pulls_w:
            for _ in range(consumers_per_pull):
                cons.append((yield spawn(consumer, p, all_in)))
        prods = []
        for pid, s in enumerate(pushes_w):
            prods.append((yield spawn(producer, s, pid)))
        for t in prods:
            yield join(t)
        yield wait_event(all_in)  # everything arrived: now stop the consumers
        for p in pulls_w:  # direct END markers to every consumer of this PULL
            for _ in range(consumers_per_pull):
                yield call(_send_end_to, p, flavour_ctx)
        results = []
        for t in cons:
            results.append((yield join(t)))
        return results

    try:
        results = driver.run(scenario, *pull_socks, *push_socks, deadline=max(60.0, DEADLINE))
    finally:
        for s in pull_socks + push_socks:
            s.close(linger=0)
    seen: set[tuple[int, int]] = set()
    for r in results:
        last: dict[int, int] = {}
        for pid, seq in r:
            assert seq > last.get(pid, -1), "reordered within a peer"
            last[pid] = seq
            assert (pid, seq) not in seen, "duplicated"
            seen.add((pid, seq))
    assert len(seen) == per_producer * producers, "lost messages"


def _send_end_to(pull: Any, context: Any) -> None:
    """Send one END to ``pull`` from a fresh plain PUSH (connect, send; linger keeps it until sent)."""
    raw = getattr(pull, "socket", pull)
    push = context.socket(PUSH)
    push.setsockopt(17, 2000)
    push.connect(raw.getsockopt(32).decode())
    push.send(b"END")
    push.close()


@pytest.mark.stress
@pytest.mark.parametrize("multipart", [False, True], ids=["recv", "recv_multipart"])
def test_stress_cancel_at_random_points(
    driver: Driver, make_pair: MakePair, multipart: bool
) -> None:
    """Receives cancelled at random points: every message received exactly once, whole, in order."""
    n = max(200, int(5000 * STRESS_SCALE))
    pull, push = make_pair(PULL, PUSH, "tcp")
    rng = random.Random(1234)

    def message(i: int) -> list[bytes]:
        return [b"%d" % i, b"a", b"b"] if multipart else [b"%d" % i]

    def producer(sock: Any) -> Any:
        for i in range(n):
            yield send_multipart(sock, message(i))

    def scenario(pull: Any, push: Any) -> Any:
        prod = yield spawn(producer, push)
        got: list[Any] = []
        cancels = 0
        while len(got) < n:
            t = yield spawn(_receiver, pull, 1, multipart)
            for _ in range(rng.randrange(4)):
                yield checkpoint()
            yield cancel(t)
            try:
                got.extend((yield join(t)))
            except Cancelled:
                cancels += 1
        yield join(prod)
        return got, cancels

    got, cancels = driver.run(scenario, pull, push, deadline=max(60.0, DEADLINE))
    assert got == [message(i) if multipart else message(i)[0] for i in range(n)]
    assert cancels > 0
