"""The edge-triggered readiness contract of ``Socket.FD`` / ``EVENTS`` (docs/readiness.md).

``FD`` is the mailbox signal: any call that processes commands (EVENTS, send, recv, poll) may consume
it, so a user drains with NOBLOCK until Again and re-reads EVENTS; in exchange, **once EVENTS reported
a direction as not ready, the fd becomes readable when that changes** — every transport, every socket
type, inproc included. Every test here is parametrised over tcp, ipc and inproc and (where the
direction allows) over PUSH->PULL, PULL<-PUSH (bind/connect swapped) and PAIR<->PAIR.

The regression tests named ``test_pitfall_*`` reproduce the reports of docs/pitfalls.md §1 that
concern the raw contract.
"""

from __future__ import annotations

import os
import select
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from engine_helpers import (
    DEADLINE,
    NOBLOCK,
    POLLIN,
    POLLOUT,
    EdgeLoop,
    Pair,
    Worker,
    arm_in,
    drain,
    endpoint_for,
    fd_readable,
    fill,
    make_pair,
    recv_n,
    recv_within,
    wait_readable,
)

import zloop

#: Over tcp/ipc "full" includes the kernel buffers: keep them small and the messages large, so that
#: filling to Again takes a handful of messages.
_TCP_BUF = 16 * 1024
_BIG = b"x" * (16 * 1024)


def _hwm_options(transport: str, hwm: int = 5) -> dict[str, int]:
    options = {"sndhwm": hwm, "rcvhwm": hwm}
    if transport != "inproc":
        options.update(sndbuf=_TCP_BUF, rcvbuf=_TCP_BUF)
    return options


def _payload(transport: str) -> bytes:
    return b"m" if transport == "inproc" else _BIG


# -- 1. drain to EAGAIN, then a new message fires the fd ----------------------------------------------


def test_drain_to_again_then_new_message_fires_fd(pair: Pair) -> None:
    s, r = pair.sender, pair.receiver
    with pytest.raises(zloop.Again):
        r.recv(NOBLOCK)
    assert not r.EVENTS & POLLIN
    # Nothing is pending: the quiet fd is not readable (a stale signal was consumed).
    assert not fd_readable(r.FD)

    s.send(b"new")

    assert wait_readable(r.FD), "the FD did not fire although EVENTS had reported no POLLIN"
    assert r.EVENTS & POLLIN
    assert r.recv(NOBLOCK) == b"new"


def test_fd_fires_for_every_new_message_after_each_drain(pair: Pair) -> None:
    """The guarantee holds again and again, not only for the first message."""
    s, r = pair.sender, pair.receiver
    for i in range(20):
        arm_in(r)
        s.send(b"%d" % i)
        assert wait_readable(r.FD), f"round {i}: the FD did not fire"
        assert r.EVENTS & POLLIN
        assert drain(r) == [b"%d" % i]


# -- 2. the edge is consumed by other calls, EVENTS tells the truth ------------------------------------


def test_events_read_consumes_edge_but_events_tells_truth(pair: Pair) -> None:
    """Like libzmq: reading EVENTS consumes the signal, so the fd is no longer readable although a
    message is waiting; EVENTS (read again and again) still reports POLLIN."""
    s, r = pair.sender, pair.receiver
    arm_in(r)
    if pair.kind == "pair<->pair":
        # "Our send, the peer replies."
        r.send(b"request")
        assert recv_within(s) == b"request"
        s.send(b"reply")
    else:
        s.send(b"reply")
    assert wait_readable(r.FD)

    assert r.EVENTS & POLLIN  # this read processes the command and consumes the signal
    assert not fd_readable(r.FD), "the signal should have been consumed by the EVENTS read"
    assert r.EVENTS & POLLIN, "EVENTS must keep telling the truth"
    assert not fd_readable(r.FD)
    assert r.recv(NOBLOCK) == b"reply"


@pytest.mark.parametrize("transport", ["inproc"])
def test_recv_runs_commands_but_events_tells_truth(pair: Pair) -> None:
    """Two messages, one edge. The recv that takes the first runs the queued command (it must: the
    next send/recv always sees what peers posted) but leaves the signal pending, so the fd stays
    readable -- a spurious wake-up at worst, never a lost one; EVENTS, which looks for work,
    consumes it and still reports the second message (hence 'drain until Again'). inproc only:
    there both messages are in the pipe when send returns; over tcp the second may be in flight."""
    s, r = pair.sender, pair.receiver
    arm_in(r)
    s.send(b"one")
    s.send(b"two")
    assert wait_readable(r.FD)

    assert r.recv(NOBLOCK) == b"one"
    assert fd_readable(r.FD), "a successful recv leaves the signal for the next look"
    assert r.EVENTS & POLLIN
    assert not fd_readable(r.FD), "EVENTS consumed the signal"
    assert r.recv(NOBLOCK) == b"two"
    with pytest.raises(zloop.Again):
        r.recv(NOBLOCK)
    assert not r.EVENTS & POLLIN


@pytest.mark.parametrize("transport", ["inproc"])
@pytest.mark.parametrize("kind", ["pair<->pair"])
def test_send_consumes_edge_but_events_tells_truth(pair_factory: Callable[..., Pair]) -> None:
    """PAIR: the peer replies while we are blocked on output; our next send(NOBLOCK) processes the
    commands (it has to, to look for room) and so consumes the edge the reply raised. The fd is
    quiet, EVENTS still says POLLIN. (inproc: deterministic, no I/O thread moving messages.)"""
    pair = pair_factory(sndhwm=2, rcvhwm=2)
    peer, me = pair.sender, pair.receiver
    fill(me, b"request")  # our output is full: the next send must process commands
    arm_in(me)

    peer.send(b"reply")
    assert wait_readable(me.FD)

    with pytest.raises(zloop.Again):
        me.send(b"one more", NOBLOCK)
    assert not fd_readable(me.FD), "the send should have consumed the signal"
    assert me.EVENTS & POLLIN
    assert me.recv(NOBLOCK) == b"reply"


# -- 3. HWM-full sender becomes writable again when the receiver drains ------------------------------


def test_hwm_full_sender_fd_fires_when_receiver_drains(
    pair_factory: Callable[..., Pair], transport: str
) -> None:
    pair = pair_factory(**_hwm_options(transport))
    s, r = pair.sender, pair.receiver
    payload = _payload(transport)

    # fill() asserts it: send(NOBLOCK) raised Again, and the EVENTS read right after lacks POLLOUT
    # (over tcp/ipc the I/O thread may still make room afterwards, so that is all we can say).
    sent = fill(s, payload)
    assert sent > 0
    if transport == "inproc":
        # No I/O thread: nothing moves until the receiver reads, so the state is exact.
        with pytest.raises(zloop.Again):
            s.send(payload, NOBLOCK)
        assert not s.EVENTS & POLLOUT
        assert not fd_readable(s.FD)

    got = recv_n(r, sent)  # the other side reads everything that was sent...
    assert len(got) == sent
    assert all(m == payload for m in got)
    with pytest.raises(zloop.Again):
        r.recv(NOBLOCK)

    assert wait_readable(s.FD), "the sender's FD did not fire after the receiver drained"
    assert s.EVENTS & POLLOUT
    s.send(b"after", NOBLOCK)
    assert recv_within(r) == b"after"


def test_send_again_arms_the_fd(pair_factory: Callable[..., Pair], transport: str) -> None:
    """An Again from send alone (no EVENTS read afterwards) already arms the wake-up."""
    pair = pair_factory(**_hwm_options(transport))
    s, r = pair.sender, pair.receiver
    payload = _payload(transport)
    sent = 0
    while True:
        try:
            s.send(payload, NOBLOCK)
            sent += 1
        except zloop.Again:
            break
    got = recv_n(r, sent)
    assert len(got) == sent
    assert wait_readable(s.FD)
    assert s.EVENTS & POLLOUT


# -- 4. inproc in both directions, bind-before-connect and connect-before-bind ----------------------


@pytest.mark.parametrize("connect_first", [False, True], ids=["bind-first", "connect-first"])
def test_inproc_pair_both_directions(ctx: zloop.Context, connect_first: bool) -> None:
    binder = ctx.socket(zloop.PAIR)
    connecter = ctx.socket(zloop.PAIR)
    if connect_first:
        connecter.connect("inproc://both-ways")
        arm_in(connecter)  # armed before the peer even exists
        binder.bind("inproc://both-ways")
    else:
        binder.bind("inproc://both-ways")
        arm_in(binder)  # armed before the peer connects
        connecter.connect("inproc://both-ways")
    arm_in(binder)
    arm_in(connecter)

    for i in range(3):
        binder.send(b"to connecter %d" % i)
        assert wait_readable(connecter.FD), "binder -> connecter did not fire"
        assert connecter.EVENTS & POLLIN
        assert connecter.recv(NOBLOCK) == b"to connecter %d" % i
        arm_in(connecter)

        connecter.send(b"to binder %d" % i)
        assert wait_readable(binder.FD), "connecter -> binder did not fire"
        assert binder.EVENTS & POLLIN
        assert binder.recv(NOBLOCK) == b"to binder %d" % i
        arm_in(binder)


def test_inproc_connect_before_bind_message_queued_early(ctx: zloop.Context) -> None:
    """Messages sent before anybody bound are delivered, and the binder's FD fires for them."""
    push = ctx.socket(zloop.PUSH)
    pull = ctx.socket(zloop.PULL)
    push.connect("inproc://early")
    push.send(b"early", NOBLOCK)  # the pipe exists at once: queued
    arm_in(pull)  # pull has no pipe yet: not readable, and armed
    pull.bind("inproc://early")
    assert wait_readable(pull.FD), "binding did not wake the binder for the queued message"
    assert pull.EVENTS & POLLIN
    assert pull.recv(NOBLOCK) == b"early"


def test_inproc_connect_before_bind_binder_armed_then_sender_sends(ctx: zloop.Context) -> None:
    pull = ctx.socket(zloop.PULL)
    push = ctx.socket(zloop.PUSH)
    push.connect("inproc://late-bind")
    pull.bind("inproc://late-bind")
    arm_in(pull)
    push.send(b"x", NOBLOCK)
    assert wait_readable(pull.FD)
    assert pull.EVENTS & POLLIN
    assert pull.recv(NOBLOCK) == b"x"


def test_connect_alone_makes_sender_writable_and_fires_fd(
    ctx: zloop.Context, transport: str, tmp_path: Path
) -> None:
    """A PUSH without pipes is not writable (EVENTS armed); connect() attaches its pipe at once
    (messages queue before any peer answers), so the FD must fire although no peer exists."""
    push = ctx.socket(zloop.PUSH)
    push.linger = 0
    assert not push.EVENTS & POLLOUT
    assert not fd_readable(push.FD)
    if transport == "tcp":
        # Nobody listens here: bind a port, then let it go.
        probe = ctx.socket(zloop.PULL)
        probe.bind("tcp://127.0.0.1:*")
        endpoint = probe.last_endpoint.decode()
        probe.close(linger=0)
    else:
        endpoint = endpoint_for(transport, tmp_path)  # never bound
    push.connect(endpoint)
    assert wait_readable(push.FD), "connect made the socket writable but the FD stayed quiet"
    assert push.EVENTS & POLLOUT
    push.send(b"queued", NOBLOCK)


# -- 5. a raw epoll loop in edge-triggered mode following the contract --------------------------------


def _sender_thread(sock: zloop.Socket, n: int) -> Worker:
    def run() -> None:
        sock.sndtimeo = int(DEADLINE * 1000)  # a receiver bug must not leave us blocked for ever
        for i in range(n):
            sock.send(b"%d" % i)

    return Worker(run)


def _edge_recv_loop(sock: zloop.Socket, n: int, timeout: float = 4 * DEADLINE) -> list[bytes]:
    """wake -> loop on EVENTS -> drain with NOBLOCK until Again -> sleep on the fd (EPOLLET)."""
    loop = EdgeLoop(sock)
    deadline = time.monotonic() + timeout
    got: list[bytes] = []
    try:
        while len(got) < n:
            while sock.EVENTS & POLLIN:
                got.extend(drain(sock))
            if len(got) >= n:
                break
            loop.sleep(deadline, f"received {len(got)} of {n}")
    finally:
        loop.close()
    return got


def test_epoll_edge_loop_receives_10000(pair: Pair) -> None:
    n = 10_000
    worker = _sender_thread(pair.sender, n)
    worker.start()
    got = _edge_recv_loop(pair.receiver, n)
    worker.join_checked()
    assert got == [b"%d" % i for i in range(n)]
    with pytest.raises(zloop.Again):
        pair.receiver.recv(NOBLOCK)


@pytest.mark.parametrize("kind", ["pair<->pair"])
def test_epoll_edge_loop_mixed_send_and_recv_on_one_pair(
    pair_factory: Callable[..., Pair],
) -> None:
    """DEALER-like: the loop sends 10,000 requests and receives 10,000 replies on the same socket,
    with small HWMs so both directions go not-ready and come back many times."""
    n = 10_000
    pair = pair_factory(sndhwm=10, rcvhwm=10)
    echo, me = pair.sender, pair.receiver

    def run_echo() -> None:
        echo.sndtimeo = echo.rcvtimeo = int(DEADLINE * 1000)
        for _ in range(n):
            echo.send(echo.recv())

    worker = Worker(run_echo)
    worker.start()
    loop = EdgeLoop(me)
    deadline = time.monotonic() + 4 * DEADLINE
    sent = 0
    got: list[bytes] = []
    try:
        while len(got) < n:
            progress = True
            while progress:  # re-read EVENTS after every send and recv
                progress = False
                events = me.EVENTS
                if events & POLLIN:
                    try:
                        got.append(me.recv(NOBLOCK))
                        progress = True
                    except zloop.Again:
                        pass
                if sent < n and events & POLLOUT:
                    try:
                        me.send(b"%d" % sent, NOBLOCK)
                        sent += 1
                        progress = True
                    except zloop.Again:
                        pass
            if len(got) >= n:
                break
            loop.sleep(deadline, f"sent {sent}, received {len(got)} of {n}")
    finally:
        loop.close()
    worker.join_checked()
    assert got == [b"%d" % i for i in range(n)]


# -- 6. regressions named after docs/pitfalls.md §1 --------------------------------------------------


def test_pitfall_1434_inproc_fd_fires(ctx: zloop.Context) -> None:
    """libzmq#1434: ZMQ_FD never fires for inproc."""
    pull = ctx.socket(zloop.PULL)
    push = ctx.socket(zloop.PUSH)
    pull.bind("inproc://1434")
    push.connect("inproc://1434")
    arm_in(pull)
    push.send(b"hello")
    assert wait_readable(pull.FD), "inproc FD did not fire"
    assert pull.EVENTS & POLLIN
    assert pull.recv(NOBLOCK) == b"hello"


def test_pitfall_2941_inproc_joins_an_event_loop(ctx: zloop.Context) -> None:
    """libzmq#2941: inproc sockets cannot join event loops. Both a plain epoll on FD and a level fd work."""
    pull = ctx.socket(zloop.PULL)
    push = ctx.socket(zloop.PUSH)
    pull.bind("inproc://2941")
    push.connect("inproc://2941")
    ep = select.epoll()
    try:
        ep.register(pull.FD, select.EPOLLIN | select.EPOLLET)
        ep.register(pull.level_fd(POLLIN), select.EPOLLIN)
        arm_in(pull)
        push.send(b"x")
        ready = dict(ep.poll(DEADLINE))
        assert pull.FD in ready
        assert pull.level_fd(POLLIN) in ready
    finally:
        ep.close()
    assert pull.recv(NOBLOCK) == b"x"


@pytest.mark.parametrize("with_events", [True, False], ids=["events", "no-events"])
def test_pitfall_3641_push_stalls_without_events(
    pair_factory: Callable[..., Pair], transport: str, with_events: bool
) -> None:
    """libzmq#3641: a PUSH under epoll (edge) stalls for ever at HWM unless EVENTS is queried at the
    right point. A sending loop that sleeps on the fd after Again (optionally re-reading EVENTS, as the
    contract asks) must deliver everything to a slow consumer thread."""
    n = 2_000
    pair = pair_factory(**_hwm_options(transport))
    s, r = pair.sender, pair.receiver
    payload = _payload(transport)

    def consume() -> int:
        r.rcvtimeo = int(DEADLINE * 1000)
        for _ in range(n):
            r.recv()
        return n

    worker = Worker(consume)
    worker.start()
    loop = EdgeLoop(s)
    deadline = time.monotonic() + 4 * DEADLINE
    sent = 0
    try:
        while sent < n:
            try:
                s.send(payload, NOBLOCK)
                sent += 1
                continue
            except zloop.Again:
                pass
            if with_events and s.EVENTS & POLLOUT:
                continue
            loop.sleep(deadline, f"PUSH stalled after {sent} of {n}")
    finally:
        loop.close()
    assert worker.join_checked(4 * DEADLINE) == n


def test_pitfall_4393_fd_fires_when_a_peer_connects(
    ctx: zloop.Context, transport: str, tmp_path: Path
) -> None:
    """libzmq#4393: connection state through the FD. A bound PUSH without peers is not writable;
    its FD fires when a peer connects, and EVENTS then has POLLOUT."""
    push = ctx.socket(zloop.PUSH)
    push.linger = 0
    push.bind(endpoint_for(transport, tmp_path))
    assert not push.EVENTS & POLLOUT
    with pytest.raises(zloop.Again):
        push.send(b"x", NOBLOCK)
    pull = ctx.socket(zloop.PULL)
    pull.linger = 0
    pull.connect(push.last_endpoint.decode())
    assert wait_readable(push.FD), "the FD did not fire when a peer connected"
    assert push.EVENTS & POLLOUT
    push.send(b"x", NOBLOCK)
    assert recv_within(pull) == b"x"


def test_pitfall_pyzmq199_events_consumes_edge(pair: Pair) -> None:
    """pyzmq#199: checking one direction (EVENTS for POLLOUT, or a send) consumes the edge that a
    message raised; the other direction must still be visible through EVENTS, and a later message
    after a drain must fire the fd again."""
    s, r = pair.sender, pair.receiver
    arm_in(r)
    s.send(b"first")
    assert wait_readable(r.FD)
    # Code interested only in writability reads EVENTS: the edge is gone...
    r.getsockopt(zloop.EVENTS)
    assert not fd_readable(r.FD)
    # ...but re-checking the other direction finds the message.
    assert r.EVENTS & POLLIN
    assert drain(r) == [b"first"]
    assert not r.EVENTS & POLLIN
    s.send(b"second")
    assert wait_readable(r.FD), "after the drain the next message must fire the fd again"
    assert drain(r) == [b"second"]


def test_pitfall_txzmq31_pollout_without_pollin_then_reply(
    ctx: zloop.Context, transport: str, tmp_path: Path
) -> None:
    """txZMQ#31: EVENTS said POLLOUT without POLLIN; after a write the reply never woke the reader.
    Here EVENTS == POLLOUT, we send, the peer replies: our FD fires although our last call was a send."""
    pair = make_pair(ctx, transport, "pair<->pair", tmp_path)
    peer, me = pair.sender, pair.receiver
    drain(me)
    assert me.EVENTS == POLLOUT
    me.send(b"request", NOBLOCK)
    assert recv_within(peer) == b"request"
    peer.send(b"reply")
    assert wait_readable(me.FD), "the reply did not fire the FD after our send"
    assert me.EVENTS & POLLIN
    assert me.recv(NOBLOCK) == b"reply"


@pytest.mark.parametrize("kind", ["push->pull"])
def test_pitfall_1177_fd_readable_is_not_pollin(
    pair_factory: Callable[..., Pair], transport: str
) -> None:
    """pyzmq#1177: a readable FD is not POLLIN. A full PUSH's FD fires when it can send again;
    EVENTS then has POLLOUT and never POLLIN."""
    pair = pair_factory(**_hwm_options(transport))
    s, r = pair.sender, pair.receiver
    sent = fill(s, _payload(transport))
    recv_n(r, sent)
    assert wait_readable(s.FD)
    assert s.EVENTS == POLLOUT


def test_pitfall_1065_last_message_wakes_the_loop(pair: Pair) -> None:
    """pyzmq#1065: the final message of a burst never woke the waiter until another one arrived."""
    s, r = pair.sender, pair.receiver
    for burst in (1, 2, 3, 17):
        arm_in(r)
        for i in range(burst):
            s.send(b"%d" % i)
        assert _edge_recv_loop(r, burst, DEADLINE) == [b"%d" % i for i in range(burst)]


@pytest.mark.parametrize("kind", ["push->pull", "pull<-push"])
def test_pitfall_374_no_message_lost_in_edge_loop(pair: Pair) -> None:
    """pyzmq#374: about 5,500 of 6,000 PUSH messages arrived through an edge-triggered loop."""
    n = 6_000
    worker = _sender_thread(pair.sender, n)
    worker.start()
    got = _edge_recv_loop(pair.receiver, n)
    worker.join_checked()
    assert len(got) == n
    assert got == [b"%d" % i for i in range(n)]


@pytest.mark.parametrize("kind", ["push->pull"])
def test_pitfall_pyzmq2173_events_read_elsewhere_does_not_lose_wakeup(pair: Pair) -> None:
    """pyzmq#2173: getsockopt(EVENTS) elsewhere drained the signaler and a recv waiter missed its
    wake-up. Whoever read EVENTS last, a 'not ready' answer arms the fd: the next message fires it."""
    s, r = pair.sender, pair.receiver
    for i in range(50):
        arm_in(r)
        r.getsockopt(zloop.EVENTS)  # "someone else" reads EVENTS too: still not ready, still armed
        s.send(b"%d" % i)
        assert wait_readable(r.FD), f"round {i}: wake-up lost"
        assert drain(r) == [b"%d" % i]


def test_pitfall_flux524_inproc_readiness_independent_of_events_timing(
    ctx: zloop.Context,
) -> None:
    """flux-core#524: inproc fd readiness depended on *when* EVENTS was read. Whether EVENTS was
    read before the connect, between connect and send, or never, the fd fires for the message."""
    for step, when in enumerate(("before-connect", "before-send", "never")):
        name = f"inproc://flux-{step}"
        pull = ctx.socket(zloop.PULL)
        push = ctx.socket(zloop.PUSH)
        pull.bind(name)
        if when == "before-connect":
            arm_in(pull)
        push.connect(name)
        if when == "before-send":
            arm_in(pull)
        if when == "never":
            # The very first call on the socket: nothing processed yet, the fd may already be
            # readable (attach command). Contract: read EVENTS before sleeping.
            assert not pull.EVENTS & POLLIN
        push.send(b"x")
        assert wait_readable(pull.FD), when
        assert pull.EVENTS & POLLIN, when
        assert pull.recv(NOBLOCK) == b"x"
        push.close()
        pull.close()


# -- 9. term wakes blocked calls; timeouts -------------------------------------------------------------


@pytest.mark.parametrize("what", ["recv", "send"])
def test_context_term_wakes_blocked_call(transport: str, tmp_path: Path, what: str) -> None:
    ctx = zloop.Context()
    sock = ctx.socket(zloop.PULL if what == "recv" else zloop.PUSH)
    sock.linger = 0
    sock.bind(endpoint_for(transport, tmp_path))  # no peer: recv and send both block
    started = threading.Event()

    def blocked() -> BaseException | None:
        started.set()
        try:
            if what == "recv":
                sock.recv()
            else:
                sock.send(b"never")
        except BaseException as exc:
            return exc
        finally:
            sock.close()
        return None

    worker = Worker(blocked)
    worker.start()
    assert started.wait(DEADLINE)
    terminator = Worker(ctx.term)
    terminator.start()
    exc = worker.join_checked()
    terminator.join_checked()
    assert isinstance(exc, zloop.ContextTerminated), exc
    assert exc.errno == zloop.ETERM
    assert ctx.closed


def test_rcvtimeo_gives_again_after_timeout(ctx: zloop.Context) -> None:
    pull = ctx.socket(zloop.PULL)
    pull.bind("inproc://rcvtimeo")
    pull.rcvtimeo = 100
    start = time.monotonic()
    with pytest.raises(zloop.Again):
        pull.recv()
    assert time.monotonic() - start >= 0.09
    # The socket still works afterwards.
    push = ctx.socket(zloop.PUSH)
    push.connect("inproc://rcvtimeo")
    push.send(b"ok")
    assert pull.recv() == b"ok"


def test_sndtimeo_gives_again_after_timeout(ctx: zloop.Context) -> None:
    push = ctx.socket(zloop.PUSH)
    push.bind("inproc://sndtimeo")  # no peer: a PUSH cannot send
    push.sndtimeo = 100
    start = time.monotonic()
    with pytest.raises(zloop.Again):
        push.send(b"x")
    assert time.monotonic() - start >= 0.09


@pytest.mark.parametrize("op", ["recv", "send"])
def test_noblock_gives_again_immediately(ctx: zloop.Context, op: str) -> None:
    sock = ctx.socket(zloop.PULL if op == "recv" else zloop.PUSH)
    sock.bind(f"inproc://noblock-{op}")
    # Blocking calls would wait 30 s; NOBLOCK must not wait at all.
    sock.rcvtimeo = sock.sndtimeo = 30_000
    start = time.monotonic()
    with pytest.raises(zloop.Again) as info:
        if op == "recv":
            sock.recv(NOBLOCK)
        else:
            sock.send(b"x", NOBLOCK)
    assert info.value.errno == zloop.EAGAIN
    assert time.monotonic() - start < 10


def test_fd_is_the_same_everywhere(pair: Pair) -> None:
    s = pair.sender
    assert s.FD == s.getsockopt(zloop.FD) == s.fileno()
    os.fstat(s.FD)  # a real, open fd
