"""The Socket, Context, Frame and Poller surface of pyzmq 27, run on pyzmq and on zloop.

Every test takes ``impl`` (``zloop``, or ``zmq`` = pyzmq) and runs the very same calls on both, so
the pyzmq run shows what the assertions expect. Where zloop deliberately differs the test says so
(and README's "Differences from pyzmq" says why).
"""

from __future__ import annotations

import copy
import re
import socket
import subprocess
import sys
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from zl_testing import DEADLINE_MS, with_deadlines

import zloop

zmq = pytest.importorskip("zmq")


def _pair(impl: Any, ctx: Any, name: str) -> tuple[Any, Any]:
    a = with_deadlines(ctx.socket(impl.PAIR))
    b = with_deadlines(ctx.socket(impl.PAIR))
    a.bind(f"inproc://{name}")
    b.connect(f"inproc://{name}")
    return a, b


# -- what exists ---------------------------------------------------------------------------------

#: pyzmq's module names that zloop leaves out, and why.
ABSENT_FROM_ZLOOP = {
    # Incidental imports of pyzmq's __init__, no API.
    "contextmanager": "incidental import",
    "os": "incidental import",
    "sys": "incidental import",
    # For building Cython extensions against pyzmq's libzmq: zloop has no C headers or library.
    "get_includes": "no C library to link against",
    "get_library_dirs": "no C library to link against",
}
#: Names another part of the compatibility work provides (zloop.devices, zloop.utils).
OTHER_AREA = {"device", "utils"}


def _public(obj: Any) -> set[str]:
    return {name for name in dir(obj) if not name.startswith("_")}


@pytest.mark.interop
def test_module_names() -> None:
    # What ``import zmq`` gives (a fresh interpreter: other tests import zmq.asyncio and co.).
    out = subprocess.run(
        [sys.executable, "-c", "import zmq; print(' '.join(dir(zmq)))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    theirs = {name for name in out.split() if not name.startswith("_")}
    missing = theirs - _public(zloop) - set(ABSENT_FROM_ZLOOP) - OTHER_AREA
    assert not missing
    for name in ("__version__", "__revision__", "_FINISHED_TRACKER"):
        assert hasattr(zloop, name)
    for name in ABSENT_FROM_ZLOOP:
        assert not hasattr(zloop, name), name
    assert set(zmq.__all__) - set(zloop.__all__) <= set(ABSENT_FROM_ZLOOP) | OTHER_AREA


@pytest.mark.interop
@pytest.mark.parametrize("name", ["Socket", "Context", "Frame", "Poller", "MessageTracker"])
def test_class_names(name: str) -> None:
    assert not _public(getattr(zmq, name)) - _public(getattr(zloop, name))


@pytest.mark.interop
@pytest.mark.parametrize("name", ["error", "backend", "sugar"])
def test_submodule_names(name: str) -> None:
    theirs = __import__(f"zmq.{name}", fromlist=["_"])
    ours = __import__(f"zloop.{name}", fromlist=["_"])
    names = set(theirs.__all__) - {"device", "monitored_queue"}
    assert not names - set(ours.__all__)
    for attr in names:
        assert getattr(ours, attr) is not None, attr


def test_from_error_import(impl: Any) -> None:
    error = __import__(f"{impl.__name__}.error", fromlist=["ZMQError"])
    assert error.ZMQError is impl.ZMQError and error.Again is impl.Again
    assert issubclass(error.DraftFDWarning, RuntimeWarning)


def test_version_functions(impl: Any) -> None:
    assert impl.zmq_version_info() == (4, 3, 5)
    assert impl.zmq_version() == "4.3.5"
    assert impl.pyzmq_version_info() >= (27,)
    assert impl.pyzmq_version().startswith("27.")


def test_has_answers_truthfully(impl: Any) -> None:
    assert impl.has("ipc") is True
    assert impl.has("draft") is False
    assert impl.has("gssapi") is False
    assert impl.has("pgm") is False
    assert impl.has("no such thing") is False
    assert impl.DRAFT_API is False and impl.PYZMQ_DRAFT_API is False
    assert impl.IPC_PATH_MAX_LEN == 107 if sys.platform.startswith("linux") else True


def test_has_curve_and_tipc() -> None:
    """zloop has CURVE with PyNaCl (installed here) and no TIPC transport (libzmq: Linux)."""
    assert zloop.has("curve") is True
    assert zloop.has("tipc") is False


def test_stopwatch(impl: Any) -> None:
    with pytest.warns(DeprecationWarning):
        watch = impl.Stopwatch()
    watch.start()
    assert watch.stop() >= 0


def test_zmq_errno(impl: Any, impl_ctx: Any) -> None:
    sock = impl_ctx.socket(impl.PULL)
    with pytest.raises(impl.Again):
        sock.recv(impl.NOBLOCK)
    assert impl.zmq_errno() == impl.EAGAIN
    sock.close()


# -- options as attributes ---------------------------------------------------------------------------


def test_dir_lists_option_names(impl: Any, impl_ctx: Any) -> None:
    sock = impl_ctx.socket(impl.DEALER)
    names = dir(sock)
    for name in ("LINGER", "SNDHWM", "ROUTING_ID", "get_hwm", "recv_into", "shadow"):
        assert name in names, name
    assert "IO_THREADS" in dir(impl_ctx) and "MAX_SOCKETS" in dir(impl_ctx)
    sock.close()


def test_fd_and_hwm_attributes(impl: Any, impl_ctx: Any) -> None:
    sock = impl_ctx.socket(impl.DEALER)
    assert sock.fd == sock.FD == sock.getsockopt(impl.FD) == sock.fileno()
    assert sock.hwm == sock.get_hwm() == 1000
    sock.hwm = 7
    assert (sock.sndhwm, sock.rcvhwm, sock.hwm) == (7, 7, 7)
    sock.set_hwm(9)
    assert (sock.sndhwm, sock.rcvhwm) == (9, 9)
    with pytest.raises(impl.ZMQError) as info:
        sock.setsockopt(impl.HWM, 5)  # libzmq 2's option: EINVAL in libzmq 4
    assert info.value.errno == impl.EINVAL
    with pytest.raises(AttributeError):
        sock.lingr = 0  # a misspelt option
    with pytest.raises(TypeError):
        sock.linger = "0"
    sock.close()


def test_socket_type_attributes(impl: Any, impl_ctx: Any) -> None:
    sock = impl_ctx.socket(impl.ROUTER)
    assert sock.type == impl.ROUTER and isinstance(sock.type, impl.SocketType)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # pyzmq deprecates it
        assert sock.socket_type == impl.ROUTER
    assert sock.context is impl_ctx
    sock.close()


def test_unicode_option_helpers(impl: Any, impl_ctx: Any) -> None:
    sock = impl_ctx.socket(impl.DEALER)
    sock.setsockopt_unicode(impl.ROUTING_ID, "héllo")
    assert sock.getsockopt_unicode(impl.ROUTING_ID) == "héllo"
    sock.set_string(impl.ROUTING_ID, "x")
    assert sock.get_string(impl.ROUTING_ID) == "x"
    with pytest.raises(TypeError):
        sock.setsockopt_string(impl.ROUTING_ID, b"bytes")
    with pytest.raises(TypeError):
        sock.getsockopt_string(impl.LINGER)  # not a bytes option
    with pytest.raises(TypeError):
        sock.setsockopt(impl.ROUTING_ID, "str")
    sock.close()


def test_options_libzmq_reads(impl: Any, impl_ctx: Any) -> None:
    sock = impl_ctx.socket(impl.SUB)
    assert sock.getsockopt(impl.AFFINITY) == 0
    assert sock.rate == 100 and sock.recovery_ivl == 10000
    assert sock.multicast_hops == 1 and sock.multicast_maxtpdu == 1500
    assert sock.thread_safe == 0 and sock.use_fd == -1 and sock.tcp_maxrt == 0
    assert sock.linger == 0  # libzmq's SUB default
    sock.affinity = 3
    assert sock.affinity == 3
    with pytest.raises(AttributeError):
        _ = sock.connect_routing_id  # write-only
    sock.close()


# -- context options and defaults --------------------------------------------------------------------


def test_context_attribute_options(impl: Any) -> None:
    ctx = impl.Context()
    assert ctx.io_threads == 1 and ctx.max_sockets == 1023
    ctx.max_sockets = 100
    assert ctx.get(impl.MAX_SOCKETS) == 100
    ctx.linger = 5
    ctx.sndhwm = 10
    ctx.subscribe = b"topic"  # not for PUSH: skipped when a PUSH is made, as pyzmq
    assert ctx.linger == 5 and ctx.sockopts[impl.LINGER] == 5
    push = ctx.socket(impl.PUSH)
    assert (push.linger, push.sndhwm) == (5, 10)
    del ctx.linger
    with pytest.raises(AttributeError):
        _ = ctx.linger
    assert ctx.socket(impl.PULL).linger == -1
    ctx.setsockopt(impl.RCVHWM, 3)
    assert ctx.getsockopt(impl.RCVHWM) == 3
    with pytest.raises(AttributeError):
        ctx.no_such_option = 1
    ctx.destroy(linger=0)


def test_blocky_false_sockets_do_not_linger(impl: Any) -> None:
    ctx = impl.Context()
    ctx.set(impl.BLOCKY, 0)
    assert ctx.get(impl.BLOCKY) == 0
    push = ctx.socket(impl.PUSH)
    assert push.linger == 0
    push.connect("tcp://127.0.0.1:1")  # nobody there: term must not wait for the message
    push.send(b"x")
    push.close()
    ctx.term()


def test_socket_class_and_kwargs(impl: Any, impl_ctx: Any) -> None:
    class Tagged(impl.Socket):  # type: ignore[name-defined,misc]
        tag: str = "tagged"

    sock = impl_ctx.socket(impl.PUSH, socket_class=Tagged, copy_threshold=10)
    assert isinstance(sock, Tagged) and sock.copy_threshold == 10
    sock.tag = "mine"  # declared in the class: allowed
    with pytest.raises(AttributeError):
        sock.undeclared = 1
    sock.close()

    class TaggedContext(impl.Context):  # type: ignore[name-defined,misc]
        _socket_class = Tagged

    ctx = TaggedContext()
    made = ctx.socket(impl.PULL)
    assert isinstance(made, Tagged)
    assert re.match(r"<.*TaggedContext\(1 socket\) at 0x[0-9a-f]+>", repr(ctx)), repr(ctx)
    ctx.destroy(linger=0)
    plain = impl.Socket(impl_ctx, impl.PAIR, copy_threshold=0)
    assert plain.copy_threshold == 0
    plain.close()


def test_closed_context_refuses_sockets(impl: Any) -> None:
    ctx = impl.Context()
    ctx.term()
    with pytest.raises(impl.ZMQError) as info:
        ctx.socket(impl.PUSH)
    assert info.value.errno == impl.ENOTSUP


# -- shadows -------------------------------------------------------------------------------------------


def test_context_shadows(impl: Any) -> None:
    ctx = impl.Context()
    assert isinstance(ctx.underlying, int)
    for n, shadow in enumerate(
        (
            impl.Context.shadow(ctx.underlying),
            impl.Context.shadow(ctx),
            impl.Context(ctx),
            impl.Context(shadow=ctx.underlying),
            copy.copy(ctx),
            copy.deepcopy(ctx),
        )
    ):
        assert shadow.underlying == ctx.underlying
        pull = shadow.socket(impl.PULL)
        pull.bind(f"inproc://shadowed-{n}")
        push = ctx.socket(impl.PUSH)  # inproc names are the context's, whatever the handle
        push.connect(f"inproc://shadowed-{n}")
        push.send(b"x")
        assert pull.poll(DEADLINE_MS) and pull.recv() == b"x"
        push.close(0)
        pull.close(0)
        del shadow  # a dropped shadow leaves the context alone
    assert not ctx.closed
    ctx.term()


def test_socket_shadows(impl: Any, impl_ctx: Any) -> None:
    a, b = _pair(impl, impl_ctx, "socket-shadows")
    assert isinstance(b.underlying, int)
    for shadow in (
        impl.Socket.shadow(b.underlying),
        impl.Socket.shadow(b),
        impl.Socket(b),
        impl.Socket(shadow=b.underlying),
        copy.copy(b),
    ):
        assert shadow.underlying == b.underlying
        assert shadow.type == impl.PAIR and shadow.linger == 0
        a.send(b"to the shadow")
        assert shadow.recv() == b"to the shadow"
        shadow.send(b"from the shadow")
        assert a.recv() == b"from the shadow"
        del shadow  # closes nothing
    a.send(b"still open")
    assert b.recv() == b"still open"
    last = impl.Socket.shadow(b.underlying)
    last.close()  # the socket itself
    assert b.closed
    a.close()


# -- endpoints ---------------------------------------------------------------------------------------


def test_bind_and_connect_are_context_managers(impl: Any, impl_ctx: Any) -> None:
    server = with_deadlines(impl_ctx.socket(impl.REP))
    client = with_deadlines(impl_ctx.socket(impl.REQ))
    with server.bind("tcp://127.0.0.1:0") as bound:
        assert bound is server
        endpoint = server.last_endpoint
        assert isinstance(endpoint, bytes)
        with client.connect(endpoint) as connected:  # bytes, straight from last_endpoint
            assert connected is client
            client.send(b"ping")
            server.send(server.recv() + b" pong")
            assert client.recv() == b"ping pong"
        # disconnected on exit
        with pytest.raises(impl.ZMQError):
            client.disconnect(endpoint)
    # unbound on exit (with the port the wildcard got): nothing left to unbind
    with pytest.raises(impl.ZMQError):
        server.unbind(endpoint)
    context = server.bind("inproc://cm")
    assert "bind" in repr(context) and "inproc://cm" in repr(context)
    server.close()
    context.__exit__(None, None, None)  # a closed socket: nothing to do
    client.close()


def test_bytes_endpoints(impl: Any, impl_ctx: Any) -> None:
    pull, push = impl_ctx.socket(impl.PULL), impl_ctx.socket(impl.PUSH)
    pull.bind(b"inproc://bytes-endpoint")
    push.connect(b"inproc://bytes-endpoint")
    push.send(b"x")
    assert pull.poll(DEADLINE_MS) and pull.recv() == b"x"
    push.disconnect(b"inproc://bytes-endpoint")
    pull.unbind(b"inproc://bytes-endpoint")
    with pytest.raises(TypeError):
        pull.bind(5)
    pull.close(0)
    push.close(0)


# -- receiving into buffers, frames --------------------------------------------------------------------


def test_recv_into(impl: Any, impl_ctx: Any) -> None:
    a, b = _pair(impl, impl_ctx, "recv-into")
    a.send(b"hello world")
    buf = bytearray(4)
    assert b.recv_into(buf) == 11  # the frame's size: truncated
    assert buf == b"hell"
    a.send_multipart([b"ab", b"cd"])
    buf = bytearray(10)
    assert b.recv_into(buf, nbytes=1) == 2 and buf[:2] == b"a\x00"
    assert b.rcvmore == 1
    assert b.recv_into(memoryview(buf)[4:]) == 2 and buf[4:6] == b"cd"
    assert b.rcvmore == 0
    with pytest.raises(BufferError):
        b.recv_into(b"read-only", flags=impl.NOBLOCK)
    with pytest.raises(ValueError):
        b.recv_into(bytearray(3), nbytes=5)
    with pytest.raises(TypeError):
        b.recv_into("text")
    with pytest.raises(impl.Again):
        b.recv_into(bytearray(3), flags=impl.NOBLOCK)
    a.send(b"dropped")
    assert b.recv_into(bytearray()) == 7  # an empty buffer discards the frame
    a.close()
    b.close()


def test_frames(impl: Any, impl_ctx: Any) -> None:
    a, b = _pair(impl, impl_ctx, "frames")
    a.send(b"payload")
    frame = b.recv(copy=False, track=True)
    assert isinstance(frame, impl.Frame)
    assert frame.bytes is frame.bytes and frame.bytes == b"payload"
    assert frame.buffer is frame.buffer and frame.buffer.tobytes() == b"payload"
    assert frame.tracker is not None and frame.tracker.done  # a received frame: done
    assert frame != b"payload" and hash(frame) == hash(frame)  # identity, as pyzmq's
    assert frame.get(impl.MORE) == 0 and frame.more is False
    with pytest.raises(impl.ZMQError):
        frame.get(99)
    with pytest.raises(impl.ZMQError):
        frame.set(impl.MORE, 1)
    with pytest.raises(RuntimeError):  # draft features (pyzmq built without them)
        _ = frame.routing_id
    with pytest.raises(RuntimeError):
        _ = frame.group
    with pytest.raises(RuntimeError):
        a.send(b"x", routing_id=1)
    twin = copy.copy(frame)
    assert twin.bytes == b"payload" and twin is not frame
    assert len(impl.Frame()) == 0 and impl.Frame().bytes == b""
    with pytest.raises(TypeError):
        impl.Frame("text")
    a.close()
    b.close()


def test_frame_buffer_protocol(impl: Any) -> None:
    frame = impl.Frame(b"abc")
    if impl is zloop and sys.version_info < (3, 12):
        # A class written in Python lends its buffer only from 3.12 (PEP 688): documented.
        with pytest.raises(TypeError):
            memoryview(frame)
        assert frame.buffer.tobytes() == b"abc"
        return
    assert memoryview(frame).tobytes() == b"abc"
    assert bytes(frame) == b"abc"


def test_frame_tracking_and_copy_threshold(impl: Any, impl_ctx: Any) -> None:
    big = bytearray(200_000)
    frame = impl.Frame(big, track=True)  # shared (over COPY_THRESHOLD)
    assert frame.tracker is not None and frame.tracker_event is not None
    small = impl.Frame(b"x" * 10, track=True)  # copied: a done tracker, no event
    assert small.tracker.done and small.tracker_event is None
    assert impl.Frame(b"x").tracker is None
    pull, push = impl_ctx.socket(impl.PULL), impl_ctx.socket(impl.PUSH)
    push.copy_threshold = 0
    assert push.copy_threshold == 0
    pull.bind("inproc://tracking")
    push.connect("inproc://tracking")
    tracker = push.send(b"x" * 100, copy=False, track=True)
    assert isinstance(tracker, impl.MessageTracker)
    assert pull.poll(DEADLINE_MS)
    del frame
    pull.close(0)
    push.close(0)


@pytest.mark.parametrize("size", [0, 3, 16, 17, 2000, 2 * 2**20])
def test_frame_repr(impl: Any, size: int) -> None:
    shown = re.sub(r"^<(zmq|zloop)\.", "<", repr(impl.Frame(b"x" * size)))
    reference = re.sub(r"^<zmq\.", "<", repr(zmq.Frame(b"x" * size)))
    assert shown == reference


def test_socket_and_context_repr(impl: Any) -> None:
    name = impl.__name__
    ctx = impl.Context()
    assert re.fullmatch(rf"<{name}\.Context\(\) at 0x[0-9a-f]+>", repr(ctx))
    socks = [ctx.socket(impl.PUSH), ctx.socket(impl.PULL)]
    assert re.fullmatch(rf"<{name}\.Context\(2 sockets\) at 0x[0-9a-f]+>", repr(ctx))
    assert re.fullmatch(rf"<{name}\.Socket\({name}\.PUSH\) at 0x[0-9a-f]+>", repr(socks[0]))
    for sock in socks:
        sock.close()
    assert repr(socks[0]).endswith(" closed>")
    ctx.term()
    assert repr(ctx).endswith(" closed>")


# -- polling ---------------------------------------------------------------------------------------


@pytest.fixture
def raw_pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    yield a, b
    a.close()
    b.close()


def test_poller_keys(
    impl: Any, impl_ctx: Any, raw_pair: tuple[socket.socket, socket.socket]
) -> None:
    """The registered object for a ZeroMQ socket, the fd for anything else (pyzmq's zmq_poll)."""
    a, b = raw_pair
    pull, push = impl_ctx.socket(impl.PULL), impl_ctx.socket(impl.PUSH)
    pull.bind("inproc://poller-keys")
    push.connect("inproc://poller-keys")
    push.send(b"x")
    b.send(b"y")
    poller = impl.Poller()
    poller.register(pull, impl.POLLIN)
    poller.register(a, impl.POLLIN)
    poller.register(b.fileno(), impl.POLLOUT)
    assert pull.poll(DEADLINE_MS)
    events = dict(poller.poll(DEADLINE_MS))
    assert events == {pull: impl.POLLIN, a.fileno(): impl.POLLIN, b.fileno(): impl.POLLOUT}
    assert pull in poller and a in poller
    assert impl.zmq_poll([(a, impl.POLLIN)], 0) == [(a.fileno(), impl.POLLIN)]
    readable, writable, _ = impl.select([pull, a], [b], [], 0)
    assert readable == [pull, a.fileno()] or set(readable) == {pull, a.fileno()}
    assert writable == [b.fileno()]
    pull.close(0)
    push.close(0)


# -- ZMQStream ---------------------------------------------------------------------------------------


def test_zmqstream_rejects_non_callable(impl: Any, impl_ctx: Any) -> None:
    pytest.importorskip("tornado")
    if impl is zloop:
        from zloop.adapters.tornado import ZMQStream
    else:
        from zmq.eventloop.zmqstream import ZMQStream
    import asyncio

    async def main() -> None:
        sock = impl_ctx.socket(impl.PULL)
        stream = ZMQStream(sock)
        with pytest.raises(AssertionError):
            stream.on_recv("not callable")
        with pytest.raises(AssertionError):
            stream.on_send(42)
        stream.on_recv(None)
        stream.close()

    asyncio.run(main())


def test_sync_shadow_of_an_async_socket(impl: Any) -> None:
    """``zmq.Socket(async_socket)`` / ``zmq.Context(async_context)``: a blocking handle on an
    awaitable socket's socket (pyzmq >= 25), and an async context over a sync one."""
    if impl is zloop:
        from zloop.adapters.asyncio import Context as AsyncContext
    else:
        from zmq.asyncio import Context as AsyncContext
    sync_ctx = impl.Context()
    actx = AsyncContext(sync_ctx)
    assert actx.underlying == sync_ctx.underlying
    apull = actx.socket(impl.PULL)
    apull.bind("inproc://async-shadow")
    pull = impl.Socket(apull)
    assert pull.underlying == apull.underlying and pull.type == impl.PULL
    push = sync_ctx.socket(impl.PUSH)
    push.connect("inproc://async-shadow")
    push.send(b"x")
    assert pull.poll(DEADLINE_MS) and pull.recv() == b"x"
    push.close(0)
    apull.close(0)
    sync_ctx.term()
