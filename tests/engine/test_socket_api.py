"""The public Socket / Context API, checked against pyzmq's behaviour where pyzmq defines it.

Synchronisation uses blocking calls with deadlines and ``threading.Event``; nothing sleeps.
"""

from __future__ import annotations

import errno
import json
import socket
import threading
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from zl_testing import CloseWhilePosting, fd_readable, with_deadlines

import zloop

zmq = pytest.importorskip("zmq")

DEADLINE_MS = 10_000
DEADLINE_S = DEADLINE_MS / 1000


_pair_count = 0


def _pair(ctx: zloop.Context, transport: str = "inproc") -> tuple[zloop.Socket, zloop.Socket]:
    """A connected PAIR/PAIR over ``transport`` (bind side first)."""
    global _pair_count
    _pair_count += 1
    a = with_deadlines(ctx.socket(zloop.PAIR), DEADLINE_MS)
    b = with_deadlines(ctx.socket(zloop.PAIR), DEADLINE_MS)
    if transport == "inproc":
        a.bind(f"inproc://api-pair-{_pair_count}")
        b.connect(f"inproc://api-pair-{_pair_count}")
    else:
        a.bind("tcp://127.0.0.1:*")
        b.connect(a.last_endpoint.decode())
    return a, b


def _free_tcp_endpoint() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"tcp://127.0.0.1:{port}"


def _in_thread(fn: Callable[[], Any], name: str) -> tuple[threading.Thread, list[Any]]:
    """Run ``fn`` in a daemon thread; the list gets ("ok", result) or ("error", exception)."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(("ok", fn()))
        except BaseException as exc:
            outcome.append(("error", exc))

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return thread, outcome


def _joined(thread: threading.Thread, outcome: list[Any], what: str) -> Any:
    thread.join(DEADLINE_S)
    assert not thread.is_alive(), f"{what} did not return"
    kind, value = outcome[0]
    if kind == "error":
        raise value
    return value


# -- options -------------------------------------------------------------------------------------

#: (option name, a valid non-default value)
OPTIONS = [
    ("LINGER", 0),
    ("SNDHWM", 5),
    ("RCVHWM", 7),
    ("RCVTIMEO", 250),
    ("SNDTIMEO", 350),
    ("ROUTING_ID", b"my-id"),
    ("IDENTITY", b"other-id"),
    ("RECONNECT_IVL", 250),
    ("RECONNECT_IVL_MAX", 5000),
    ("IMMEDIATE", 1),
    ("MAXMSGSIZE", 1 << 20),
    ("BACKLOG", 17),
    ("HANDSHAKE_IVL", 1234),
    ("TCP_KEEPALIVE", 1),
    ("TCP_KEEPALIVE_CNT", 3),
    ("TCP_KEEPALIVE_IDLE", 60),
    ("TCP_KEEPALIVE_INTVL", 5),
    ("IPV6", 1),
]


@pytest.mark.parametrize(("name", "value"), OPTIONS, ids=[o[0] for o in OPTIONS])
def test_option_default_matches_pyzmq_and_roundtrips(
    ctx: zloop.Context, zctx: Any, name: str, value: Any
) -> None:
    sock = ctx.socket(zloop.PUSH)
    reference = zctx.socket(zmq.PUSH)
    option = getattr(zloop, name)
    assert option == getattr(zmq, name)
    assert sock.getsockopt(option) == reference.getsockopt(getattr(zmq, name))
    sock.setsockopt(option, value)
    assert sock.getsockopt(option) == value
    assert sock.get(option) == value
    # the attribute form reads the same option
    assert getattr(sock, name.lower()) == value
    reference.close(linger=0)


def test_identity_is_routing_id_alias(ctx: zloop.Context) -> None:
    sock = ctx.socket(zloop.PUSH)
    sock.setsockopt(zloop.IDENTITY, b"abc")
    assert sock.getsockopt(zloop.ROUTING_ID) == b"abc"
    sock.routing_id = b"def"
    assert sock.getsockopt(zloop.IDENTITY) == b"def"
    sock.identity = b"ghi"  # pyzmq's attribute spelling of the alias
    assert sock.identity == b"ghi"
    assert sock.routing_id == b"ghi"


def test_type_option_is_read_only(ctx: zloop.Context) -> None:
    for stype in (zloop.PUSH, zloop.PULL, zloop.PAIR):
        sock = ctx.socket(stype)
        assert sock.getsockopt(zloop.TYPE) == stype
        assert sock.type == stype
    with pytest.raises(zloop.ZMQError) as info:
        sock.setsockopt(zloop.TYPE, zloop.PUSH)
    assert info.value.errno == zmq.EINVAL


@pytest.mark.parametrize("name", ["FD", "EVENTS", "TYPE", "RCVMORE", "LAST_ENDPOINT"])
def test_read_only_options_refuse_set(ctx: zloop.Context, name: str) -> None:
    sock = ctx.socket(zloop.PULL)
    value = b"x" if name == "LAST_ENDPOINT" else 1  # a value of the option's type (else TypeError)
    with pytest.raises(zloop.ZMQError) as info:
        sock.setsockopt(getattr(zloop, name), value)
    assert info.value.errno == zmq.EINVAL
    assert name in str(info.value)


def test_attribute_forms(ctx: zloop.Context) -> None:
    sock = ctx.socket(zloop.PULL)
    sock.linger = 0
    assert sock.linger == 0
    assert sock.getsockopt(zloop.LINGER) == 0
    sock.rcvtimeo = 123
    assert sock.rcvtimeo == 123
    assert sock.getsockopt(zloop.RCVTIMEO) == 123
    sock.sndtimeo = 45
    assert sock.getsockopt(zloop.SNDTIMEO) == 45
    sock.hwm = 11
    assert sock.hwm == 11
    assert sock.sndhwm == 11
    assert sock.rcvhwm == 11
    sock.rcvhwm = 12
    assert sock.getsockopt(zloop.RCVHWM) == 12
    sock.set(zloop.RECONNECT_IVL, 300)
    assert sock.reconnect_ivl == 300
    with pytest.raises(zloop.ZMQError):
        sock.linger = -5


#: (option name, invalid value)
INVALID = [
    ("LINGER", -2),
    ("SNDHWM", -1),
    ("RCVHWM", -1),
    ("RCVTIMEO", -2),
    ("SNDTIMEO", -2),
    ("ROUTING_ID", b""),
    ("ROUTING_ID", b"x" * 256),
    ("RECONNECT_IVL", -2),
    ("RECONNECT_IVL_MAX", -1),
    ("IMMEDIATE", 2),
    ("BACKLOG", -1),
    ("HANDSHAKE_IVL", -1),
    ("TCP_KEEPALIVE", 2),
    ("TCP_KEEPALIVE_CNT", -2),
    ("TCP_KEEPALIVE_IDLE", -2),
    ("TCP_KEEPALIVE_INTVL", -2),
    ("IPV6", 2),
]


@pytest.mark.parametrize(("name", "value"), INVALID, ids=[f"{n}={v!r:.12}" for n, v in INVALID])
def test_invalid_option_value_raises_einval_naming_option(
    ctx: zloop.Context, name: str, value: Any
) -> None:
    sock = ctx.socket(zloop.PUSH)
    before = sock.getsockopt(getattr(zloop, name))
    with pytest.raises(zloop.ZMQError) as info:
        sock.setsockopt(getattr(zloop, name), value)
    assert info.value.errno == zmq.EINVAL == zloop.EINVAL
    assert name in str(info.value) or (name == "IDENTITY" and "ROUTING_ID" in str(info.value))
    assert sock.getsockopt(getattr(zloop, name)) == before  # unchanged


@pytest.mark.parametrize(
    ("name", "value"), [("LINGER", "100"), ("SNDHWM", 1.5), ("MAXMSGSIZE", "big")]
)
def test_option_value_of_the_wrong_type_is_a_type_error(
    impl: Any, impl_ctx: Any, name: str, value: Any
) -> None:
    sock = impl_ctx.socket(impl.PUSH)
    with pytest.raises(TypeError):
        sock.setsockopt(getattr(impl, name), value)


def test_unknown_option_numbers_raise(ctx: zloop.Context, zctx: Any) -> None:
    sock = ctx.socket(zloop.PUSH)
    reference = zctx.socket(zmq.PUSH)
    for number in (9999, -1):
        with pytest.raises(zloop.ZMQError) as info:
            sock.setsockopt(number, 1)
        with pytest.raises(zmq.ZMQError) as ref:
            reference.setsockopt(number, 1)
        assert info.value.errno == ref.value.errno == zmq.EINVAL
        with pytest.raises(zloop.ZMQError) as info:
            sock.getsockopt(number)
        assert info.value.errno == zmq.EINVAL
    # An option that exists, but not for this socket type.
    with pytest.raises(zloop.ZMQError) as info:
        sock.setsockopt(zloop.SUBSCRIBE, b"")
    assert info.value.errno == zmq.EINVAL
    assert "SUBSCRIBE" in str(info.value)
    reference.close(linger=0)


# -- LAST_ENDPOINT, FD, EVENTS -------------------------------------------------------------------


def _port_of(endpoint: bytes) -> int:
    return int(endpoint.rsplit(b":", 1)[1])


def _reachable(ctx: zloop.Context, endpoint: str) -> zloop.Socket:
    """A message really flows to ``endpoint`` (whose binder is a PULL read by the caller). The
    caller keeps the returned sender until the message arrived: dropping it closes it (as in
    pyzmq), and with LINGER=0 that could drop the message; the fixture closes it."""
    push = with_deadlines(ctx.socket(zloop.PUSH), DEADLINE_MS)
    push.connect(endpoint)
    push.send(b"reach")
    return push


@pytest.mark.parametrize(
    ("addr", "host"),
    [
        ("tcp://127.0.0.1:*", b"127.0.0.1"),
        ("tcp://127.0.0.1:0", b"127.0.0.1"),
        ("tcp://*:*", b"0.0.0.0"),
    ],
)
def test_last_endpoint_reports_real_port(ctx: zloop.Context, addr: str, host: bytes) -> None:
    pull = with_deadlines(ctx.socket(zloop.PULL), DEADLINE_MS)
    assert pull.getsockopt(zloop.LAST_ENDPOINT) == b""
    pull.bind(addr)
    endpoint = pull.getsockopt(zloop.LAST_ENDPOINT)
    assert isinstance(endpoint, bytes)
    assert endpoint == pull.last_endpoint
    assert endpoint.startswith(b"tcp://" + host + b":")
    port = _port_of(endpoint)
    assert 0 < port < 65536
    sender = _reachable(ctx, f"tcp://127.0.0.1:{port}")
    assert pull.recv() == b"reach"
    sender.close()


def test_last_endpoint_bind_to_random_port(ctx: zloop.Context) -> None:
    pull = with_deadlines(ctx.socket(zloop.PULL), DEADLINE_MS)
    port = pull.bind_to_random_port("tcp://127.0.0.1")
    assert pull.last_endpoint == f"tcp://127.0.0.1:{port}".encode()
    port2 = pull.bind_to_random_port("tcp://127.0.0.1", min_port=20000, max_port=60000)
    assert 20000 <= port2 < 60000
    assert pull.last_endpoint == f"tcp://127.0.0.1:{port2}".encode()
    for p in (port, port2):
        sender = _reachable(ctx, f"tcp://127.0.0.1:{p}")
        assert pull.recv() == b"reach"
        sender.close()


def test_last_endpoint_ipc_and_connect(ctx: zloop.Context, tmp_path: Any) -> None:
    pull = ctx.socket(zloop.PULL)
    path = tmp_path / "le.ipc"
    pull.bind(f"ipc://{path}")
    assert pull.last_endpoint == f"ipc://{path}".encode()
    push = ctx.socket(zloop.PUSH)
    push.connect(f"ipc://{path}")
    assert push.last_endpoint == f"ipc://{path}".encode()


def test_fd_and_events(ctx: zloop.Context) -> None:
    pull = ctx.socket(zloop.PULL)
    push = with_deadlines(ctx.socket(zloop.PUSH), DEADLINE_MS)
    fd = pull.getsockopt(zloop.FD)
    assert isinstance(fd, int)
    assert fd == pull.FD == pull.fileno()
    assert pull.getsockopt(zloop.EVENTS) == 0
    assert push.EVENTS == 0  # no peer: cannot send
    pull.bind("inproc://fd-events")
    push.connect("inproc://fd-events")
    assert push.getsockopt(zloop.EVENTS) == zloop.POLLOUT
    push.send(b"x")
    assert pull.poll(DEADLINE_MS) == zloop.POLLIN
    assert pull.EVENTS & zloop.POLLIN
    assert pull.recv() == b"x"
    assert pull.EVENTS == 0


# -- endpoints -----------------------------------------------------------------------------------

BAD_ENDPOINTS = [
    ("tcp://nohostport", zmq.EINVAL),
    ("tcp://*:99999", zmq.EINVAL),
    ("tcp://127.0.0.1:", zmq.EINVAL),
    ("foo://x", zmq.EPROTONOSUPPORT),
    ("no-transport", zmq.EINVAL),
    ("ipc://", zmq.EINVAL),
    ("inproc://", zmq.EINVAL),
]


@pytest.mark.parametrize("how", ["bind", "connect"])
@pytest.mark.parametrize(("addr", "errnum"), BAD_ENDPOINTS)
def test_bad_endpoint_raises_at_once(ctx: zloop.Context, how: str, addr: str, errnum: int) -> None:
    sock = ctx.socket(zloop.PULL if how == "bind" else zloop.PUSH)
    with pytest.raises(zloop.ZMQError) as info:
        getattr(sock, how)(addr)
    assert info.value.errno == errnum
    assert addr in str(info.value)  # the message says which endpoint was wrong
    assert sock.last_endpoint == b""


@pytest.mark.parametrize(("addr", "errnum"), [e for e in BAD_ENDPOINTS if e[0] != "tcp://*:99999"])
def test_bad_endpoint_errno_matches_pyzmq(zctx: Any, addr: str, errnum: int) -> None:
    # The reference for the table above (libzmq accepts port 99999 on bind; zloop refuses it).
    sock = zctx.socket(zmq.PUSH)
    with pytest.raises(zmq.ZMQError) as info:
        sock.connect(addr)
    assert info.value.errno == errnum
    sock.close(linger=0)


def test_bind_address_in_use(ctx: zloop.Context) -> None:
    first = ctx.socket(zloop.PULL)
    first.bind("tcp://127.0.0.1:*")
    second = ctx.socket(zloop.PULL)
    with pytest.raises(zloop.ZMQError) as info:
        second.bind(first.last_endpoint.decode())
    assert info.value.errno == zmq.EADDRINUSE


def test_unbind_disconnect_unknown_endpoint(ctx: zloop.Context, zctx: Any) -> None:
    sock = ctx.socket(zloop.PUSH)
    reference = zctx.socket(zmq.PUSH)
    for method in ("unbind", "disconnect"):
        with pytest.raises(zloop.ZMQError) as info:
            getattr(sock, method)("tcp://127.0.0.1:5555")
        with pytest.raises(zmq.ZMQError) as ref:
            getattr(reference, method)("tcp://127.0.0.1:5555")
        assert info.value.errno == ref.value.errno == errno.ENOENT
        assert "tcp://127.0.0.1:5555" in str(info.value)
    reference.close(linger=0)


def test_unbind_releases_address_and_disconnect_works(ctx: zloop.Context) -> None:
    pull = with_deadlines(ctx.socket(zloop.PULL), DEADLINE_MS)
    pull.bind("tcp://127.0.0.1:*")
    endpoint = pull.last_endpoint.decode()
    pull.unbind(endpoint)
    with pytest.raises(zloop.ZMQError) as info:
        pull.unbind(endpoint)  # already gone
    assert info.value.errno == errno.ENOENT
    pull.bind(endpoint)  # the address was released
    push = with_deadlines(ctx.socket(zloop.PUSH), DEADLINE_MS)
    push.connect(endpoint)
    push.send(b"after-rebind")
    assert pull.recv() == b"after-rebind"
    push.disconnect(endpoint)
    with pytest.raises(zloop.ZMQError) as info:
        push.disconnect(endpoint)
    assert info.value.errno == errno.ENOENT


# -- errno values --------------------------------------------------------------------------------


def test_errno_values_equal_pyzmq() -> None:
    names = [n for n in dir(zmq) if n.startswith("E") and n.isupper() and not n.startswith("EV")]
    assert "EINVAL" in names and "ENOTSUP" in names and "ETERM" in names
    for name in names:
        assert getattr(zloop, name) == getattr(zmq, name), name
    assert zloop.EMFILE == errno.EMFILE


def test_enotsup_for_wrong_direction_like_pyzmq(ctx: zloop.Context, zctx: Any) -> None:
    push, pull = ctx.socket(zloop.PUSH), ctx.socket(zloop.PULL)
    ref_push, ref_pull = zctx.socket(zmq.PUSH), zctx.socket(zmq.PULL)
    for sock, ref, op in ((push, ref_push, "recv"), (pull, ref_pull, "send")):
        args: tuple[Any, ...] = (zloop.NOBLOCK,) if op == "recv" else (b"x", zloop.NOBLOCK)
        with pytest.raises(zloop.ZMQError) as info:
            getattr(sock, op)(*args)
        with pytest.raises(zmq.ZMQError) as ref_info:
            getattr(ref, op)(*args)
        assert info.value.errno == ref_info.value.errno == zmq.ENOTSUP
        ref.close(linger=0)


def test_unknown_socket_type(ctx: zloop.Context) -> None:
    with pytest.raises(zloop.ZMQError) as info:
        ctx.socket(9999)
    assert info.value.errno == zmq.EINVAL


# -- sending and receiving -----------------------------------------------------------------------


def test_send_str_raises_type_error(ctx: zloop.Context) -> None:
    a, _b = _pair(ctx)
    with pytest.raises(TypeError):
        a.send("text")
    with pytest.raises(TypeError):
        a.send_multipart([b"ok", "text"])
    with pytest.raises(TypeError):
        a.send(12345)
    with pytest.raises(TypeError):
        a.send_string(b"bytes")


@pytest.mark.parametrize("transport", ["inproc", "tcp"])
def test_send_accepts_buffer_types(ctx: zloop.Context, transport: str) -> None:
    a, b = _pair(ctx, transport)
    a.send(b"bytes")
    a.send(bytearray(b"bytearray"))
    a.send(memoryview(b"memoryview"))
    a.send(memoryview(b"xxsliced-viewxx")[2:-2])
    a.send(zloop.Frame(b"frame"))
    a.send_multipart([bytearray(b"m1"), memoryview(b"m2"), zloop.Frame(b"m3"), b""])
    assert [b.recv() for _ in range(5)] == [
        b"bytes",
        b"bytearray",
        b"memoryview",
        b"sliced-view",
        b"frame",
    ]
    assert b.recv_multipart() == [b"m1", b"m2", b"m3", b""]


@pytest.mark.parametrize("transport", ["inproc", "tcp"])
def test_copied_bytearray_mutation_after_send_is_invisible(
    ctx: zloop.Context, transport: str
) -> None:
    a, b = _pair(ctx, transport)
    buf = bytearray(b"original")
    a.send(buf, copy=True)
    buf[:] = b"MUTATED!"
    parts = [bytearray(b"part-one"), bytearray(b"part-two")]
    a.send_multipart(parts, copy=True)
    parts[0][:4] = b"XXXX"
    parts[1].extend(b"-grown")
    assert b.recv() == b"original"
    assert b.recv_multipart() == [b"part-one", b"part-two"]


def test_recv_copy_false_gives_frames(ctx: zloop.Context) -> None:
    a, b = _pair(ctx)
    a.send_multipart([b"first", b"", b"last"])
    first = b.recv(copy=False)
    assert isinstance(first, zloop.Frame)
    assert first.bytes == b"first"
    assert bytes(first.buffer) == b"first"
    assert isinstance(first.buffer, memoryview)
    assert first.more is True
    assert first.get(zloop.MORE) == 1
    assert b.getsockopt(zloop.RCVMORE) == 1
    rest = b.recv_multipart(copy=False)
    assert [f.bytes for f in rest] == [b"", b"last"]
    assert [f.more for f in rest] == [True, False]
    assert [f.get(zloop.MORE) for f in rest] == [1, 0]
    assert b.getsockopt(zloop.RCVMORE) == 0
    a.send(b"single")
    single = b.recv(copy=False)
    assert single.bytes == b"single"
    assert single != b"single"  # frames compare by identity, as pyzmq's
    assert len(single) == 6
    assert not single.more


def test_rcvmore_frame_by_frame(ctx: zloop.Context) -> None:
    a, b = _pair(ctx)
    a.send(b"one", zloop.SNDMORE)
    a.send(b"", zloop.SNDMORE)
    a.send(b"three")
    a.send(b"next")
    got = []
    more = []
    while True:
        got.append(b.recv())
        more.append(b.getsockopt(zloop.RCVMORE))
        if not b.rcvmore:
            break
    assert got == [b"one", b"", b"three"]
    assert more == [1, 1, 0]
    assert b.recv() == b"next"
    assert b.getsockopt(zloop.RCVMORE) == 0


def test_multipart_string_json_pyobj(ctx: zloop.Context) -> None:
    a, b = _pair(ctx)
    a.send_multipart([b"a", b"", b"c" * 1000])
    assert b.recv_multipart() == [b"a", b"", b"c" * 1000]
    a.send_string("héllo wörld")
    assert b.recv_string() == "héllo wörld"
    a.send_string("latin", encoding="latin-1")
    assert b.recv_string(encoding="latin-1") == "latin"
    doc = {"key": [1, 2.5, None, True], "nested": {"s": "x"}}
    a.send_json(doc)
    assert b.recv_json() == doc
    a.send_json(doc)
    assert json.loads(b.recv()) == doc
    obj = {"set": {1, 2}, "tuple": (1, b"x"), "bytes": b"\x00\xff"}
    a.send_pyobj(obj)
    assert b.recv_pyobj() == obj
    # and the other way
    b.send_multipart([b"back"])
    assert a.recv_multipart() == [b"back"]


def test_recv_noblock_and_timeout_raise_again(ctx: zloop.Context) -> None:
    _a, b = _pair(ctx)
    with pytest.raises(zloop.Again) as info:
        b.recv(zloop.NOBLOCK)
    assert info.value.errno == zmq.EAGAIN
    assert isinstance(info.value, zloop.ZMQError)
    b.rcvtimeo = 1
    with pytest.raises(zloop.Again):
        b.recv()


# -- closed sockets, context managers ------------------------------------------------------------


def test_closed_socket_raises_enotsock(ctx: zloop.Context) -> None:
    sock = ctx.socket(zloop.PAIR)
    assert not sock.closed
    sock.close()
    assert sock.closed
    sock.close()  # idempotent
    calls: list[Callable[[], Any]] = [
        lambda: sock.send(b"x"),
        lambda: sock.send_multipart([b"x"]),
        lambda: sock.recv(),
        lambda: sock.recv_multipart(),
        lambda: sock.setsockopt(zloop.LINGER, 0),
        lambda: sock.getsockopt(zloop.LINGER),
        lambda: sock.bind("inproc://closed"),
        lambda: sock.connect("inproc://closed"),
        lambda: sock.poll(0),
        lambda: sock.EVENTS,
    ]
    for call in calls:
        with pytest.raises(zloop.ZMQError) as info:
            call()
        assert info.value.errno == zmq.ENOTSOCK


def _loses_pollout(sock: Any, pollout: int) -> bool:
    """The edge-triggered wait for EVENTS to lose POLLOUT (False if the FD stays quiet)."""
    deadline = time.monotonic() + DEADLINE_S
    while sock.EVENTS & pollout:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not fd_readable(sock.FD, remaining):
            return False
    return True


def test_inproc_connecter_loses_its_peer_when_the_binder_closes(impl: Any, impl_ctx: Any) -> None:
    """The reference for the race below: a PUSH connected over inproc to a PULL that then closes
    is told (its FD wakes) that it has no peer left (no POLLOUT, EAGAIN), rather than keeping a
    pipe nobody will ever read. (libzmq tells it from its reaper thread, a moment later.)"""
    pull = impl_ctx.socket(impl.PULL)
    pull.linger = 0
    pull.bind("inproc://binder-closes")
    push = impl_ctx.socket(impl.PUSH)
    push.linger = 0
    push.connect("inproc://binder-closes")
    assert push.getsockopt(impl.EVENTS) & impl.POLLOUT
    pull.close()
    assert _loses_pollout(push, impl.POLLOUT), "the PUSH still has a peer"
    with pytest.raises(impl.Again):
        push.send(b"lost?", impl.NOBLOCK)
    push.close()


def test_inproc_connect_racing_the_binder_close(
    ctx: zloop.Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    """connect() finds the binder, which closes before the attach of the new pipe is posted to
    it: the connecter still ends up as above (the attach used to land in the mailbox of a socket
    that had already run its last commands, and the PUSH wrote into that pipe for good). The
    interleaving is forced (``CloseWhilePosting``); zloop-only, as it patches the binder."""
    pull = ctx.socket(zloop.PULL)
    pull.linger = 0
    pull.bind("inproc://binder-closing")
    race = CloseWhilePosting(pull, monkeypatch)
    push = ctx.socket(zloop.PUSH)
    push.linger = 0
    push.connect("inproc://binder-closing")
    race.join()
    assert _loses_pollout(push, zloop.POLLOUT), "the PUSH still has a peer"
    with pytest.raises(zloop.Again):
        push.send(b"lost?", zloop.NOBLOCK)
    push.close()


def test_context_manager_forms() -> None:
    with zloop.Context() as context:
        with context.socket(zloop.PUSH) as sock:
            assert not sock.closed
        assert sock.closed
        assert not context.closed
    assert context.closed
    with pytest.raises(zloop.ZMQError) as info:
        context.socket(zloop.PUSH)
    assert info.value.errno == zmq.ENOTSUP  # pyzmq's error for a closed context


def test_context_instance_singleton_renewed_after_term() -> None:
    first = zloop.Context.instance()
    try:
        assert zloop.Context.instance() is first
        first.term()
        assert first.closed
        second = zloop.Context.instance()
        assert second is not first
        assert not second.closed
        assert zloop.Context.instance() is second
        sock = second.socket(zloop.PUSH)
        sock.close()
    finally:
        zloop.Context.instance().term()


# -- context options -----------------------------------------------------------------------------


def test_context_io_threads_and_max_sockets(zctx: Any) -> None:
    context = zloop.Context()
    try:
        assert context.get(zloop.IO_THREADS) == zctx.get(zmq.IO_THREADS) == 1
        assert context.get(zloop.MAX_SOCKETS) == zctx.get(zmq.MAX_SOCKETS)
        context.set(zloop.IO_THREADS, 2)
        assert context.get(zloop.IO_THREADS) == 2
        context.set(zloop.MAX_SOCKETS, 2)
        assert context.get(zloop.MAX_SOCKETS) == 2
        s1, s2 = context.socket(zloop.PUSH), context.socket(zloop.PULL)
        with pytest.raises(zloop.ZMQError) as info:
            context.socket(zloop.PAIR)
        assert info.value.errno == errno.EMFILE
        assert "MAX_SOCKETS" in str(info.value)
        s1.close()
        s3 = context.socket(zloop.PAIR)  # a slot was freed
        for bad_option, bad_value in (
            (zloop.MAX_SOCKETS, 0),
            (zloop.IO_THREADS, -1),
        ):
            with pytest.raises(zloop.ZMQError) as info:
                context.set(bad_option, bad_value)
            assert info.value.errno == zmq.EINVAL
        with pytest.raises(TypeError):  # as pyzmq
            context.set(zloop.MAX_SOCKETS, "many")
        with pytest.raises(zloop.ZMQError):
            context.get(9999)
        # Once the I/O threads run, IO_THREADS is fixed.
        s2.bind("tcp://127.0.0.1:*")
        with pytest.raises(zloop.ZMQError) as info:
            context.set(zloop.IO_THREADS, 3)
        assert info.value.errno == zmq.EINVAL
        s2.close()
        s3.close()
    finally:
        context.destroy(linger=0)


def test_pyzmq_reference_emfile(zctx: Any) -> None:
    zctx.set(zmq.MAX_SOCKETS, 1)
    sock = zctx.socket(zmq.PUSH)
    with pytest.raises(zmq.ZMQError) as info:
        zctx.socket(zmq.PUSH)
    assert info.value.errno == errno.EMFILE
    sock.close(linger=0)


# -- termination ---------------------------------------------------------------------------------


@pytest.mark.parametrize("linger", [200, 0])
def test_term_after_close_with_queued_message_returns(linger: int) -> None:
    context = zloop.Context()
    push = context.socket(zloop.PUSH)
    push.linger = linger
    push.connect(_free_tcp_endpoint())  # nobody binds: the message can never leave
    push.send(b"stuck", zloop.NOBLOCK)
    push.close()
    thread, outcome = _in_thread(context.term, "term")
    _joined(thread, outcome, "term()")
    assert context.closed


def test_term_with_infinite_linger_delivers_to_late_peer() -> None:
    context = zloop.Context()
    receiver_ctx = zloop.Context()
    try:
        endpoint = _free_tcp_endpoint()
        push = context.socket(zloop.PUSH)
        push.linger = -1
        push.connect(endpoint)
        push.send_multipart([b"late", b"delivery"], zloop.NOBLOCK)
        push.close()
        thread, outcome = _in_thread(context.term, "term")
        # term() cannot return before the message is sent, and it cannot be sent before this bind.
        assert thread.is_alive()
        pull = with_deadlines(receiver_ctx.socket(zloop.PULL), DEADLINE_MS)
        pull.bind(endpoint)
        assert pull.recv_multipart() == [b"late", b"delivery"]
        _joined(thread, outcome, "term() with LINGER=-1")
        assert context.closed
    finally:
        context.destroy(linger=0)
        receiver_ctx.destroy(linger=0)


def test_term_blocks_until_other_thread_closes_socket() -> None:
    context = zloop.Context()
    sock = context.socket(zloop.PULL)
    sock.bind("inproc://term-wait")
    in_recv = threading.Event()
    got_eterm = threading.Event()
    may_close = threading.Event()
    errors: list[BaseException] = []

    def owner() -> None:
        try:
            in_recv.set()
            try:
                sock.recv()
            except zloop.ContextTerminated:
                got_eterm.set()
            assert may_close.wait(DEADLINE_S)
            sock.close()
        except BaseException as exc:
            errors.append(exc)

    owner_thread = threading.Thread(target=owner, name="socket-owner", daemon=True)
    owner_thread.start()
    assert in_recv.wait(DEADLINE_S)
    term_thread, outcome = _in_thread(context.term, "term")
    # The blocked recv is woken with ETERM (so term has started) ...
    assert got_eterm.wait(DEADLINE_S), f"recv was not interrupted by term: {errors}"
    # ... but term cannot finish while the socket is open in the owner thread.
    assert term_thread.is_alive()
    assert not context.closed
    may_close.set()
    owner_thread.join(DEADLINE_S)
    assert not owner_thread.is_alive()
    assert not errors, errors
    _joined(term_thread, outcome, "term()")
    assert context.closed


def test_destroy_closes_every_socket() -> None:
    context = zloop.Context()
    push = context.socket(zloop.PUSH)
    push.connect(_free_tcp_endpoint())
    push.send(b"never-delivered", zloop.NOBLOCK)
    pull = context.socket(zloop.PULL)
    pull.bind("tcp://127.0.0.1:*")
    pair = context.socket(zloop.PAIR)
    pair.bind("inproc://destroy")
    thread, outcome = _in_thread(lambda: context.destroy(linger=0), "destroy")
    _joined(thread, outcome, "destroy(linger=0)")
    assert push.closed and pull.closed and pair.closed
    assert context.closed
    with pytest.raises(zloop.ZMQError) as info:
        push.send(b"x")
    assert info.value.errno == zmq.ENOTSOCK


# -- `import zloop as zmq` ------------------------------------------------------------------------


def pyzmq_style_program(zmq: ModuleType) -> list[Any]:
    """A small program written for pyzmq; it must run unchanged with zloop as ``zmq``."""
    out: list[Any] = []
    context = zmq.Context()
    try:
        pull = context.socket(zmq.PULL)
        pull.setsockopt(zmq.LINGER, 0)
        pull.rcvtimeo = 5000
        port = pull.bind_to_random_port("tcp://127.0.0.1")
        push = context.socket(zmq.PUSH)
        push.linger = 0
        push.connect(f"tcp://127.0.0.1:{port}")

        try:
            pull.recv(zmq.NOBLOCK)
        except zmq.Again:
            out.append("again")
        else:
            out.append("no-again")
        out.append(pull.poll(0))

        push.send(b"hello")
        push.send_multipart([b"multi", b"part"])
        push.send_string("text")
        push.send_json({"n": 1})

        poller = zmq.Poller()
        poller.register(pull, zmq.POLLIN)
        events = dict(poller.poll(5000))
        out.append(events.get(pull) == zmq.POLLIN)
        out.append(pull.recv())
        out.append(pull.recv_multipart())
        readable, _, _ = zmq.select([pull], [], [], 5.0)
        out.append([sock is pull for sock in readable])
        out.append(pull.recv_string())
        out.append(pull.recv_json())
        out.append(pull.getsockopt(zmq.RCVMORE))
        out.append(bool(push.getsockopt(zmq.EVENTS) & zmq.POLLOUT))
        while True:
            try:
                pull.recv(flags=zmq.NOBLOCK)
            except zmq.Again:
                break
        try:
            push.connect("bogus")
        except zmq.ZMQError as exc:
            out.append(exc.errno == zmq.EINVAL)
        out.append(isinstance(zmq.Frame(b"f").bytes, bytes))
        push.close()
        pull.close()
    except BaseException:
        context.destroy(linger=0)
        raise
    context.term()
    return out


@pytest.mark.interop
@pytest.mark.parametrize("module", ["zmq", "zloop"])
def test_program_runs_with_zmq_or_zloop(module: str) -> None:
    mod = zmq if module == "zmq" else zloop
    thread, outcome = _in_thread(lambda: pyzmq_style_program(mod), f"program-{module}")
    result = _joined(thread, outcome, f"the pyzmq-style program with {module}")
    assert result == [
        "again",
        0,
        True,
        b"hello",
        [b"multi", b"part"],
        [True],
        "text",
        {"n": 1},
        0,
        True,
        True,
        True,
    ]
