"""REQ and REP between zloop sockets (inproc and tcp): the strict state machines (EFSM), REQ_RELAXED,
REQ_CORRELATE, reply filtering, stale replies, REP envelopes through ROUTER->DEALER hops, and the
EVENTS/FD guarantee."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from reqrep_helpers import (
    NOBLOCK,
    POLLIN,
    POLLOUT,
    bind,
    make_socket,
    nothing_arrives,
    recv_mp,
    wait_writable,
)
from zl_testing import fd_wakes_until

import zloop

TRANSPORTS = ("inproc", "tcp")


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def req_rep(
    ctx: zloop.Context, transport: str, tmp_path: Path, **req_options: object
) -> tuple[zloop.Socket, zloop.Socket]:
    rep = make_socket(ctx, zloop.REP)
    req = make_socket(ctx, zloop.REQ, **req_options)
    req.connect(bind(rep, transport, tmp_path))
    return req, rep


def req_router(
    ctx: zloop.Context, transport: str, tmp_path: Path, **req_options: object
) -> tuple[zloop.Socket, zloop.Socket]:
    router = make_socket(ctx, zloop.ROUTER)
    req = make_socket(ctx, zloop.REQ, **req_options)
    req.connect(bind(router, transport, tmp_path))
    return req, router


def efsm(exc: pytest.ExceptionInfo[zloop.ZMQError]) -> None:
    assert exc.value.errno == zloop.EFSM


# -- the basic round trip ---------------------------------------------------------------------------


def test_round_trips(ctx: zloop.Context, transport: str, tmp_path: Path) -> None:
    req, rep = req_rep(ctx, transport, tmp_path)
    for i in range(20):
        req.send_multipart([b"q%d" % i, b"more"])
        assert recv_mp(rep) == [b"q%d" % i, b"more"]
        rep.send(b"a", zloop.SNDMORE)
        rep.send(b"%d" % i)
        assert recv_mp(req) == [b"a", b"%d" % i]


def test_req_prepends_empty_delimiter(ctx: zloop.Context, transport: str, tmp_path: Path) -> None:
    req, router = req_router(ctx, transport, tmp_path, routing_id=b"R")
    req.send(b"body")
    assert recv_mp(router) == [b"R", b"", b"body"]
    router.send_multipart([b"R", b"", b"reply"])
    assert recv_mp(req) == [b"reply"]


# -- EFSM -------------------------------------------------------------------------------------------


def test_req_second_send_before_reply_is_efsm(
    ctx: zloop.Context, transport: str, tmp_path: Path
) -> None:
    req, rep = req_rep(ctx, transport, tmp_path)
    req.send(b"one")
    with pytest.raises(zloop.ZMQError) as exc:
        req.send(b"two")
    efsm(exc)
    # A multipart send is refused at its first frame, before it could block.
    with pytest.raises(zloop.ZMQError) as exc:
        req.send(b"two", zloop.SNDMORE)
    efsm(exc)
    with pytest.raises(zloop.ZMQError) as exc:
        req.send_multipart([b"two", b"parts"])
    efsm(exc)
    assert recv_mp(rep) == [b"one"]
    rep.send(b"reply")
    assert recv_mp(req) == [b"reply"]
    req.send(b"three")  # allowed again
    assert recv_mp(rep) == [b"three"]


def test_req_recv_before_send_is_efsm(ctx: zloop.Context, transport: str, tmp_path: Path) -> None:
    req, _ = req_rep(ctx, transport, tmp_path)
    with pytest.raises(zloop.ZMQError) as exc:
        req.recv()  # blocking: must fail at once, not block
    efsm(exc)
    with pytest.raises(zloop.ZMQError) as exc:
        req.recv(NOBLOCK)
    efsm(exc)


def test_rep_send_before_recv_is_efsm(ctx: zloop.Context, transport: str, tmp_path: Path) -> None:
    _, rep = req_rep(ctx, transport, tmp_path)
    with pytest.raises(zloop.ZMQError) as exc:
        rep.send(b"x")
    efsm(exc)
    with pytest.raises(zloop.ZMQError) as exc:
        rep.send(b"x", zloop.SNDMORE)
    efsm(exc)


def test_rep_recv_before_reply_is_efsm(ctx: zloop.Context, transport: str, tmp_path: Path) -> None:
    req, rep = req_rep(ctx, transport, tmp_path)
    req.send(b"q")
    assert recv_mp(rep) == [b"q"]
    with pytest.raises(zloop.ZMQError) as exc:
        rep.recv()
    efsm(exc)
    rep.send(b"a")
    assert recv_mp(req) == [b"a"]


# -- EVENTS -----------------------------------------------------------------------------------------


def test_req_events(ctx: zloop.Context, transport: str, tmp_path: Path) -> None:
    req, rep = req_rep(ctx, transport, tmp_path)
    wait_writable(req)
    assert req.EVENTS == POLLOUT  # no POLLIN before a request
    req.send(b"q")
    assert not req.EVENTS & POLLOUT  # no POLLOUT while waiting for the reply
    assert recv_mp(rep) == [b"q"]
    assert rep.EVENTS == POLLOUT  # REP: may reply, may not receive
    rep.send(b"a")
    assert not rep.EVENTS & POLLOUT
    assert req.poll(10_000, POLLIN)
    assert req.recv() == b"a"
    assert req.EVENTS == POLLOUT


def test_req_relaxed_events_and_send(ctx: zloop.Context, transport: str, tmp_path: Path) -> None:
    req, router = req_router(ctx, transport, tmp_path, req_relaxed=1, routing_id=b"R")
    wait_writable(req)
    req.send(b"one")
    assert req.EVENTS & POLLOUT  # relaxed: a new request may be sent while waiting
    req.send(b"two")
    assert recv_mp(router) == [b"R", b"", b"one"]
    assert recv_mp(router) == [b"R", b"", b"two"]
    router.send_multipart([b"R", b"", b"answer"])
    assert recv_mp(req) == [b"answer"]


# -- reply filtering --------------------------------------------------------------------------------


def test_malformed_replies_are_discarded(
    ctx: zloop.Context, transport: str, tmp_path: Path
) -> None:
    req, router = req_router(ctx, transport, tmp_path, routing_id=b"R")
    req.send(b"q")
    assert recv_mp(router) == [b"R", b"", b"q"]
    router.send_multipart([b"R", b"no-delimiter"])
    router.send_multipart([b"R", b"x", b"", b"delimiter-not-first"])
    router.send_multipart([b"R", b""])  # delimiter without a body (no MORE on it)
    router.send_multipart([b"R", b"", b"good"])
    assert recv_mp(req) == [b"good"]


def test_reply_only_from_the_pipe_the_request_went_to(
    ctx: zloop.Context, transport: str, tmp_path: Path
) -> None:
    a = make_socket(ctx, zloop.ROUTER, router_mandatory=1)
    b = make_socket(ctx, zloop.ROUTER, router_mandatory=1)
    req = make_socket(ctx, zloop.REQ, routing_id=b"R")
    req.connect(bind(a, transport, tmp_path))
    req.connect(bind(b, transport, tmp_path))
    wait_writable(a)
    wait_writable(b)  # both know the REQ now
    req.send(b"q")
    poller = zloop.Poller()
    poller.register(a, POLLIN)
    poller.register(b, POLLIN)
    ready = dict(poller.poll(10_000))
    target, other = (a, b) if a in ready else (b, a)
    assert recv_mp(target) == [b"R", b"", b"q"]
    other.send_multipart([b"R", b"", b"impostor"])
    if transport == "inproc":
        assert nothing_arrives(req)  # the impostor's reply is already queued, and not accepted
    target.send_multipart([b"R", b"", b"genuine"])
    assert recv_mp(req) == [b"genuine"]


def test_new_request_discards_stale_replies(ctx: zloop.Context, tmp_path: Path) -> None:
    # inproc: a ROUTER send is queued at the REQ when it returns, so the stale reply is known to be
    # waiting when the next request starts.
    req, router = req_router(ctx, "inproc", tmp_path, routing_id=b"R")
    req.send(b"q1")
    assert recv_mp(router) == [b"R", b"", b"q1"]
    router.send_multipart([b"R", b"", b"a1"])
    router.send_multipart([b"R", b"", b"a1-duplicate"])
    assert recv_mp(req) == [b"a1"]
    req.send(b"q2")  # the duplicate is discarded here
    assert recv_mp(router) == [b"R", b"", b"q2"]
    router.send_multipart([b"R", b"", b"a2"])
    assert recv_mp(req) == [b"a2"]


def test_relaxed_new_request_discards_queued_reply(
    ctx: zloop.Context, transport: str, tmp_path: Path
) -> None:
    req, router = req_router(ctx, transport, tmp_path, req_relaxed=1, routing_id=b"R")
    req.send(b"q1")
    assert recv_mp(router) == [b"R", b"", b"q1"]
    router.send_multipart([b"R", b"", b"a1"])
    assert req.poll(10_000, POLLIN)  # a1 is queued at the REQ ...
    req.send(b"q2")  # ... and abandoned by the new request
    assert recv_mp(router) == [b"R", b"", b"q2"]
    router.send_multipart([b"R", b"", b"a2"])
    assert recv_mp(req) == [b"a2"]


# -- REQ_CORRELATE ----------------------------------------------------------------------------------


def test_correlate_request_ids(ctx: zloop.Context, transport: str, tmp_path: Path) -> None:
    req, router = req_router(ctx, transport, tmp_path, req_correlate=1, routing_id=b"R")
    ids = []
    for i in range(3):
        req.send(b"q%d" % i)
        rid, request_id, delimiter, body = recv_mp(router)
        assert (rid, delimiter, body) == (b"R", b"", b"q%d" % i)
        assert len(request_id) == 4
        ids.append(int.from_bytes(request_id, sys.byteorder))  # host byte order, as libzmq
        router.send_multipart([b"R", request_id, b"", b"a%d" % i])
        assert recv_mp(req) == [b"a%d" % i]
    assert ids[1] == (ids[0] + 1) & 0xFFFFFFFF and ids[2] == (ids[1] + 1) & 0xFFFFFFFF


def test_correlate_discards_mismatching_ids(
    ctx: zloop.Context, transport: str, tmp_path: Path
) -> None:
    req, router = req_router(ctx, transport, tmp_path, req_correlate=1, routing_id=b"R")
    req.send(b"q")
    _, request_id, _, _ = recv_mp(router)
    wrong = ((int.from_bytes(request_id, sys.byteorder) + 7) & 0xFFFFFFFF).to_bytes(
        4, sys.byteorder
    )
    router.send_multipart([b"R", wrong, b"", b"wrong id"])
    router.send_multipart([b"R", b"", b"no id"])
    router.send_multipart([b"R", request_id, b"no delimiter"])
    router.send_multipart([b"R", request_id, b"", b"right"])
    assert recv_mp(req) == [b"right"]


def test_relaxed_correlate_only_latest_reply(
    ctx: zloop.Context, transport: str, tmp_path: Path
) -> None:
    req, router = req_router(
        ctx, transport, tmp_path, req_relaxed=1, req_correlate=1, routing_id=b"R"
    )
    req.send(b"q1")
    req.send(b"q2")
    _, id1, _, _ = recv_mp(router)
    _, id2, _, _ = recv_mp(router)
    assert id1 != id2
    router.send_multipart([b"R", id1, b"", b"late answer to q1"])
    router.send_multipart([b"R", id2, b"", b"answer to q2"])
    assert recv_mp(req) == [b"answer to q2"]


def test_correlate_against_rep(ctx: zloop.Context, transport: str, tmp_path: Path) -> None:
    req, rep = req_rep(ctx, transport, tmp_path, req_correlate=1, req_relaxed=1)
    for i in range(3):
        req.send(b"q%d" % i)
        assert recv_mp(rep) == [b"q%d" % i]
        rep.send(b"a%d" % i)
        assert recv_mp(req) == [b"a%d" % i]


# -- REP envelopes ----------------------------------------------------------------------------------


def test_rep_keeps_multi_hop_envelope(ctx: zloop.Context, transport: str, tmp_path: Path) -> None:
    rep = make_socket(ctx, zloop.REP)
    dealer = make_socket(ctx, zloop.DEALER)
    dealer.connect(bind(rep, transport, tmp_path))
    dealer.send_multipart([b"hop1", b"hop2", b"", b"body", b"tail"])
    assert recv_mp(rep) == [b"body", b"tail"]
    rep.send_multipart([b"reply"])
    assert recv_mp(dealer) == [b"hop1", b"hop2", b"", b"reply"]


def test_rep_discards_request_without_delimiter(
    ctx: zloop.Context, transport: str, tmp_path: Path
) -> None:
    rep = make_socket(ctx, zloop.REP)
    dealer = make_socket(ctx, zloop.DEALER)
    dealer.connect(bind(rep, transport, tmp_path))
    dealer.send_multipart([b"no", b"delimiter"])
    dealer.send_multipart([b"a", b""])  # an empty *last* frame is no delimiter
    dealer.send_multipart([b"", b"ok"])
    assert recv_mp(rep) == [b"ok"]
    rep.send(b"reply")
    assert recv_mp(dealer) == [b"", b"reply"]


def test_rep_frame_by_frame(ctx: zloop.Context, transport: str, tmp_path: Path) -> None:
    rep = make_socket(ctx, zloop.REP)
    dealer = make_socket(ctx, zloop.DEALER)
    dealer.connect(bind(rep, transport, tmp_path))
    dealer.send_multipart([b"hop", b"", b"a", b"b"])
    assert rep.poll(10_000, POLLIN)
    assert rep.recv() == b"a"
    assert rep.rcvmore == 1
    assert rep.recv() == b"b"
    assert rep.rcvmore == 0
    rep.send(b"x", zloop.SNDMORE)
    rep.send(b"y")
    assert recv_mp(dealer) == [b"hop", b"", b"x", b"y"]


def test_rep_through_router_dealer_chain(
    ctx: zloop.Context, transport: str, tmp_path: Path
) -> None:
    """REQ -> ROUTER|DEALER -> ROUTER|DEALER -> REP: the REP sees the body only, and its reply
    travels back through both hops by the envelope it kept."""
    front1 = make_socket(ctx, zloop.ROUTER)
    back1 = make_socket(ctx, zloop.DEALER)
    front2 = make_socket(ctx, zloop.ROUTER)
    back2 = make_socket(ctx, zloop.DEALER)
    rep = make_socket(ctx, zloop.REP)
    req = make_socket(ctx, zloop.REQ, routing_id=b"client")
    req.connect(bind(front1, transport, tmp_path))
    front2_endpoint = bind(front2, transport, tmp_path)
    back1.connect(front2_endpoint)
    rep.connect(bind(back2, transport, tmp_path))

    req.send(b"request")
    msg = recv_mp(front1)
    assert msg == [b"client", b"", b"request"]
    back1.send_multipart(msg)
    msg = recv_mp(front2)
    assert len(msg) == 4 and msg[0][:1] == b"\x00" and msg[1:] == [b"client", b"", b"request"]
    back2.send_multipart(msg)
    assert recv_mp(rep) == [b"request"]
    rep.send(b"reply")
    msg = recv_mp(back2)
    assert msg[1:] == [b"client", b"", b"reply"]
    front2.send_multipart(msg)
    msg = recv_mp(back1)
    assert msg == [b"client", b"", b"reply"]
    front1.send_multipart(msg)
    assert recv_mp(req) == [b"reply"]


def test_rep_reply_to_vanished_peer_is_dropped(
    ctx: zloop.Context, transport: str, tmp_path: Path
) -> None:
    rep = make_socket(ctx, zloop.REP)
    endpoint = bind(rep, transport, tmp_path)
    gone = make_socket(ctx, zloop.REQ)
    gone.connect(endpoint)
    gone.send(b"from a peer that leaves")
    assert recv_mp(rep) == [b"from a peer that leaves"]
    gone.close(linger=0)
    rep.send(b"nobody listens")  # silently dropped, never blocks or raises
    req = make_socket(ctx, zloop.REQ)
    req.connect(endpoint)
    req.send(b"next")
    assert recv_mp(rep) == [b"next"]
    rep.send(b"answer")
    assert recv_mp(req) == [b"answer"]


def test_rep_fair_queues_requests(ctx: zloop.Context, transport: str, tmp_path: Path) -> None:
    rep = make_socket(ctx, zloop.REP)
    endpoint = bind(rep, transport, tmp_path)
    reqs = [make_socket(ctx, zloop.REQ) for _ in range(3)]
    for i, req in enumerate(reqs):
        req.connect(endpoint)
        req.send(b"%d" % i)
    seen = set()
    for _ in reqs:
        (body,) = recv_mp(rep)
        seen.add(body)
        rep.send(b"re:" + body)
    assert seen == {b"0", b"1", b"2"}
    for i, req in enumerate(reqs):
        assert recv_mp(req) == [b"re:%d" % i]


def test_req_round_robins_over_reps(ctx: zloop.Context, transport: str, tmp_path: Path) -> None:
    reps = [make_socket(ctx, zloop.REP) for _ in range(2)]
    req = make_socket(ctx, zloop.REQ)
    for rep in reps:
        req.connect(bind(rep, transport, tmp_path))
    counts = [0, 0]
    for i in range(4):
        req.send(b"%d" % i)
        poller = zloop.Poller()
        for rep in reps:
            poller.register(rep, POLLIN)
        ready = dict(poller.poll(10_000))
        (rep,) = ready
        counts[reps.index(rep)] += 1
        rep.recv()
        rep.send(b"ok")
        assert recv_mp(req) == [b"ok"]
    assert counts == [2, 2]


def test_req_without_peer_would_block(ctx: zloop.Context) -> None:
    req = make_socket(ctx, zloop.REQ)
    assert not req.EVENTS & POLLOUT
    with pytest.raises(zloop.Again):
        req.send(b"q", NOBLOCK)
    with pytest.raises(zloop.ZMQError) as exc:
        req.recv(NOBLOCK)  # the failed send did not start a request
    efsm(exc)


# -- the edge-triggered FD --------------------------------------------------------------------------


def test_req_fd_fires_when_reply_arrives(
    ctx: zloop.Context, transport: str, tmp_path: Path
) -> None:
    req, rep = req_rep(ctx, transport, tmp_path)
    wait_writable(req)
    req.send(b"q")
    assert not req.EVENTS & POLLIN
    assert recv_mp(rep) == [b"q"]
    rep.send(b"a")
    assert fd_wakes_until(req, POLLIN), "EVENTS said no POLLIN; the reply did not fire the FD"
    assert req.recv(NOBLOCK) == b"a"


def test_req_fd_fires_when_reply_arrives_without_events_after_send(
    ctx: zloop.Context, transport: str, tmp_path: Path
) -> None:
    """EVENTS read before the request (no POLLIN): the reply must still fire the FD."""
    req, rep = req_rep(ctx, transport, tmp_path)
    wait_writable(req)
    assert not req.EVENTS & POLLIN
    req.send(b"q")
    assert recv_mp(rep) == [b"q"]
    rep.send(b"a")
    assert fd_wakes_until(req, POLLIN)


def test_rep_fd_fires_when_request_arrives(
    ctx: zloop.Context, transport: str, tmp_path: Path
) -> None:
    req, rep = req_rep(ctx, transport, tmp_path)
    for i in range(3):
        assert not rep.EVENTS & POLLIN
        req.send(b"q%d" % i)
        assert fd_wakes_until(rep, POLLIN), "EVENTS said no POLLIN; the request did not fire FD"
        assert rep.recv(NOBLOCK) == b"q%d" % i
        assert not rep.EVENTS & POLLIN  # must reply first
        rep.send(b"a")
        assert recv_mp(req) == [b"a"]


def test_req_fd_fires_when_a_peer_appears(ctx: zloop.Context, tmp_path: Path) -> None:
    req = make_socket(ctx, zloop.REQ)
    rep = make_socket(ctx, zloop.REP)
    endpoint = bind(rep, "tcp", tmp_path)
    assert not req.EVENTS & POLLOUT
    req.connect(endpoint)
    assert fd_wakes_until(req, POLLOUT)
