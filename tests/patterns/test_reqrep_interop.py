"""zloop REQ/REP/DEALER/ROUTER against real libzmq 4.3 (pyzmq) sockets, with zloop binding and with
zloop connecting, over tcp (and one ipc case each way)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import pytest
from reqrep_helpers import recv_mp, wait_writable

import zloop

zmq = pytest.importorskip("zmq")

pytestmark = pytest.mark.interop

DEADLINE_MS = 10_000
MODES = ("zloop-binds", "zloop-connects")


@pytest.fixture
def ctxs(ctx: zloop.Context, zctx: Any) -> tuple[zloop.Context, Any]:
    return ctx, zctx


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def link(
    ctxs: tuple[zloop.Context, Any],
    zl_type: int,
    pz_type: int,
    mode: str,
    tmp_path: Path,
    transport: str = "tcp",
    zl_opts: dict[int, Any] | None = None,
    pz_opts: dict[int, Any] | None = None,
) -> tuple[zloop.Socket, Any]:
    """A zloop socket and a pyzmq socket, connected one way or the other."""
    zl_ctx, pz_ctx = ctxs
    zs = zl_ctx.socket(zl_type)
    ps = pz_ctx.socket(pz_type)
    zs.linger = 0
    ps.linger = 0
    for opt, value in (zl_opts or {}).items():
        zs.setsockopt(opt, value)
    for opt, value in (pz_opts or {}).items():
        ps.setsockopt(opt, value)
    endpoint = f"ipc://{tmp_path}/rr.ipc" if transport == "ipc" else "tcp://127.0.0.1:*"
    binder, connecter = (zs, ps) if mode == "zloop-binds" else (ps, zs)
    binder.bind(endpoint)
    connecter.connect(binder.getsockopt(zloop.LAST_ENDPOINT).decode())
    return zs, ps


def pz_recv(ps: Any) -> list[bytes]:
    assert ps.poll(DEADLINE_MS, zmq.POLLIN), "libzmq received nothing before the deadline"
    msg: list[bytes] = ps.recv_multipart(zmq.NOBLOCK)
    return msg


# -- REQ / REP --------------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["tcp", "ipc"])
def test_zloop_req_libzmq_rep(
    ctxs: tuple[zloop.Context, Any], mode: str, tmp_path: Path, transport: str
) -> None:
    zs, ps = link(ctxs, zloop.REQ, zmq.REP, mode, tmp_path, transport)
    for i in range(5):
        zs.send_multipart([b"q%d" % i, b""])
        assert pz_recv(ps) == [b"q%d" % i, b""]
        ps.send_multipart([b"a%d" % i, b"x"])
        assert recv_mp(zs) == [b"a%d" % i, b"x"]


def test_zloop_req_correlate_libzmq_rep(
    ctxs: tuple[zloop.Context, Any], mode: str, tmp_path: Path
) -> None:
    opts = {zloop.REQ_CORRELATE: 1, zloop.REQ_RELAXED: 1}
    zs, ps = link(ctxs, zloop.REQ, zmq.REP, mode, tmp_path, zl_opts=opts)
    for i in range(3):
        zs.send(b"q%d" % i)
        assert pz_recv(ps) == [b"q%d" % i]
        ps.send(b"a%d" % i)
        assert recv_mp(zs) == [b"a%d" % i]


@pytest.mark.parametrize("transport", ["tcp", "ipc"])
def test_zloop_rep_libzmq_req(
    ctxs: tuple[zloop.Context, Any], mode: str, tmp_path: Path, transport: str
) -> None:
    zs, ps = link(ctxs, zloop.REP, zmq.REQ, mode, tmp_path, transport)
    for i in range(5):
        ps.send_multipart([b"q%d" % i, b"more"])
        assert recv_mp(zs) == [b"q%d" % i, b"more"]
        zs.send(b"a%d" % i)
        assert pz_recv(ps) == [b"a%d" % i]


def test_zloop_rep_libzmq_req_correlate(
    ctxs: tuple[zloop.Context, Any], mode: str, tmp_path: Path
) -> None:
    opts = {zmq.REQ_CORRELATE: 1, zmq.REQ_RELAXED: 1}
    zs, ps = link(ctxs, zloop.REP, zmq.REQ, mode, tmp_path, pz_opts=opts)
    for i in range(3):
        ps.send(b"q%d" % i)
        assert recv_mp(zs) == [b"q%d" % i]
        zs.send(b"a%d" % i)  # the request id travels in the envelope and comes back
        assert pz_recv(ps) == [b"a%d" % i]


# -- DEALER / ROUTER --------------------------------------------------------------------------------


def test_zloop_dealer_libzmq_router(
    ctxs: tuple[zloop.Context, Any], mode: str, tmp_path: Path
) -> None:
    zs, ps = link(
        ctxs, zloop.DEALER, zmq.ROUTER, mode, tmp_path, zl_opts={zloop.ROUTING_ID: b"abc"}
    )
    zs.send_multipart([b"hello", b""])
    assert pz_recv(ps) == [b"abc", b"hello", b""]
    ps.send_multipart([b"abc", b"back"])
    assert recv_mp(zs) == [b"back"]


def test_anonymous_zloop_dealer_gets_libzmq_auto_id(
    ctxs: tuple[zloop.Context, Any], mode: str, tmp_path: Path
) -> None:
    zs, ps = link(ctxs, zloop.DEALER, zmq.ROUTER, mode, tmp_path)
    zs.send(b"hi")
    rid, body = pz_recv(ps)
    assert body == b"hi" and len(rid) == 5 and rid[0] == 0
    ps.send_multipart([rid, b"back"])
    assert recv_mp(zs) == [b"back"]


def test_zloop_router_libzmq_dealer(
    ctxs: tuple[zloop.Context, Any], mode: str, tmp_path: Path
) -> None:
    zs, ps = link(ctxs, zloop.ROUTER, zmq.DEALER, mode, tmp_path, pz_opts={zmq.ROUTING_ID: b"py"})
    ps.send_multipart([b"x", b""])
    assert recv_mp(zs) == [b"py", b"x", b""]
    zs.send_multipart([b"py", b"y"])
    assert pz_recv(ps) == [b"y"]
    # and an anonymous libzmq DEALER gets a zloop auto id
    _, pz_ctx = ctxs
    other = pz_ctx.socket(zmq.DEALER)
    other.linger = 0
    if mode == "zloop-binds":
        other.connect(zs.last_endpoint.decode())
    else:
        other.bind("tcp://127.0.0.1:*")
        zs.connect(other.getsockopt(zmq.LAST_ENDPOINT).decode())
    other.send(b"anon")
    rid, body = recv_mp(zs)
    assert body == b"anon" and len(rid) == 5 and rid[0] == 0
    zs.send_multipart([rid, b"to anon"])
    assert pz_recv(other) == [b"to anon"]


def test_zloop_router_mandatory_libzmq_dealer(
    ctxs: tuple[zloop.Context, Any], mode: str, tmp_path: Path
) -> None:
    zs, ps = link(
        ctxs,
        zloop.ROUTER,
        zmq.DEALER,
        mode,
        tmp_path,
        zl_opts={zloop.ROUTER_MANDATORY: 1},
        pz_opts={zmq.ROUTING_ID: b"py"},
    )
    with pytest.raises(zloop.ZMQError) as exc:
        zs.send_multipart([b"nobody", b"x"])
    assert exc.value.errno == zloop.EHOSTUNREACH
    wait_writable(zs)
    zs.send_multipart([b"py", b"y"])
    assert pz_recv(ps) == [b"y"]


def test_zloop_dealer_libzmq_rep(
    ctxs: tuple[zloop.Context, Any], mode: str, tmp_path: Path
) -> None:
    zs, ps = link(ctxs, zloop.DEALER, zmq.REP, mode, tmp_path)
    zs.send_multipart([b"hop", b"", b"q"])
    assert pz_recv(ps) == [b"q"]
    ps.send(b"a")
    assert recv_mp(zs) == [b"hop", b"", b"a"]


def test_zloop_rep_libzmq_dealer(
    ctxs: tuple[zloop.Context, Any], mode: str, tmp_path: Path
) -> None:
    zs, ps = link(ctxs, zloop.REP, zmq.DEALER, mode, tmp_path)
    ps.send_multipart([b"no delimiter"])  # discarded by the REP
    ps.send_multipart([b"hop1", b"hop2", b"", b"q"])
    assert recv_mp(zs) == [b"q"]
    zs.send(b"a")
    assert pz_recv(ps) == [b"hop1", b"hop2", b"", b"a"]


def test_zloop_req_libzmq_router(
    ctxs: tuple[zloop.Context, Any], mode: str, tmp_path: Path
) -> None:
    opts = {zloop.ROUTING_ID: b"zreq", zloop.REQ_CORRELATE: 1}
    zs, ps = link(ctxs, zloop.REQ, zmq.ROUTER, mode, tmp_path, zl_opts=opts)
    zs.send(b"q")
    rid, request_id, delimiter, body = pz_recv(ps)
    assert (rid, delimiter, body) == (b"zreq", b"", b"q") and len(request_id) == 4
    wrong = ((int.from_bytes(request_id, sys.byteorder) + 1) & 0xFFFFFFFF).to_bytes(
        4, sys.byteorder
    )
    ps.send_multipart([rid, wrong, b"", b"stale"])
    ps.send_multipart([rid, request_id, b"", b"a"])
    assert recv_mp(zs) == [b"a"]


def test_zloop_router_libzmq_req(
    ctxs: tuple[zloop.Context, Any], mode: str, tmp_path: Path
) -> None:
    zs, ps = link(ctxs, zloop.ROUTER, zmq.REQ, mode, tmp_path, pz_opts={zmq.ROUTING_ID: b"preq"})
    for i in range(3):
        ps.send(b"q%d" % i)
        assert recv_mp(zs) == [b"preq", b"", b"q%d" % i]
        zs.send_multipart([b"preq", b"", b"a%d" % i])
        assert pz_recv(ps) == [b"a%d" % i]


def test_zloop_dealer_libzmq_dealer(
    ctxs: tuple[zloop.Context, Any], mode: str, tmp_path: Path
) -> None:
    zs, ps = link(ctxs, zloop.DEALER, zmq.DEALER, mode, tmp_path)
    zs.send_multipart([b"a", b""])
    assert pz_recv(ps) == [b"a", b""]
    ps.send(b"b")
    assert recv_mp(zs) == [b"b"]


def test_zloop_router_libzmq_router(
    ctxs: tuple[zloop.Context, Any], mode: str, tmp_path: Path
) -> None:
    zs, ps = link(
        ctxs,
        zloop.ROUTER,
        zmq.ROUTER,
        mode,
        tmp_path,
        zl_opts={zloop.ROUTING_ID: b"zl", zloop.ROUTER_MANDATORY: 1},
        pz_opts={zmq.ROUTING_ID: b"pz", zmq.ROUTER_MANDATORY: 1},
    )
    # Whoever connected learns the other's id at the handshake; MANDATORY makes that observable.
    if mode == "zloop-connects":
        wait_writable(zs)
        zs.send_multipart([b"pz", b"hello"])
        assert pz_recv(ps) == [b"zl", b"hello"]
        ps.send_multipart([b"zl", b"world"])
        assert recv_mp(zs) == [b"pz", b"world"]
    else:
        assert ps.poll(DEADLINE_MS, zmq.POLLOUT)
        ps.send_multipart([b"zl", b"hello"])
        assert recv_mp(zs) == [b"pz", b"hello"]
        zs.send_multipart([b"pz", b"world"])
        assert pz_recv(ps) == [b"zl", b"world"]


def test_zloop_router_connect_routing_id_libzmq_router(
    ctxs: tuple[zloop.Context, Any], tmp_path: Path
) -> None:
    zl_ctx, pz_ctx = ctxs
    ps = pz_ctx.socket(zmq.ROUTER)
    ps.linger = 0
    ps.bind("tcp://127.0.0.1:*")
    zs = zl_ctx.socket(zloop.ROUTER)
    zs.linger = 0
    zs.routing_id = b"zl"
    zs.connect_routing_id = b"server"
    zs.connect(ps.getsockopt(zmq.LAST_ENDPOINT).decode())
    zs.send_multipart([b"server", b"early"])  # known at once: queued before the handshake
    assert pz_recv(ps) == [b"zl", b"early"]
    ps.send_multipart([b"zl", b"reply"])
    assert recv_mp(zs) == [b"server", b"reply"]


@pytest.mark.parametrize("prober", ["zloop", "libzmq"])
def test_probe_router(
    ctxs: tuple[zloop.Context, Any], mode: str, tmp_path: Path, prober: str
) -> None:
    if prober == "zloop":
        zs, ps = link(
            ctxs,
            zloop.DEALER,
            zmq.ROUTER,
            mode,
            tmp_path,
            zl_opts={zloop.ROUTING_ID: b"d", zloop.PROBE_ROUTER: 1},
        )
        # A bound zloop socket attaches (and probes) a new pipe when it next processes commands,
        # as libzmq does: keep it doing so while waiting.
        deadline = time.monotonic() + DEADLINE_MS / 1000
        while not ps.poll(20, zmq.POLLIN):
            zs.poll(20)
            assert time.monotonic() < deadline, "no probe"
        assert ps.recv_multipart() == [b"d", b""]
    else:
        zs, ps = link(
            ctxs,
            zloop.ROUTER,
            zmq.DEALER,
            mode,
            tmp_path,
            pz_opts={zmq.ROUTING_ID: b"d", zmq.PROBE_ROUTER: 1},
        )
        deadline = time.monotonic() + DEADLINE_MS / 1000
        while not zs.poll(20, zloop.POLLIN):
            ps.poll(20)  # the same for a bound libzmq socket
            assert time.monotonic() < deadline, "no probe"
        assert zs.recv_multipart() == [b"d", b""]
