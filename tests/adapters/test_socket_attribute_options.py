"""Socket options as attributes, on every socket class: pyzmq's (``zmq.Socket``, ``zmq.green``'s,
``zmq.asyncio``'s) are the reference, and ``zloop.Socket`` and every adapter's wrapper (gevent,
asyncio — tornado's Socket is the same class —, trio; each over a zloop and over a pyzmq socket)
must behave the same:

* ``s.linger = 10`` sets the socket's option and ``s.linger`` reads it (nothing is kept on a
  wrapper); upper case too (``s.SNDTIMEO``); ``s.hwm`` sets SNDHWM and RCVHWM;
* a misspelt option (``s.lingr``) raises ``AttributeError``, read or written, as does any other
  name that is no option nor declared by the class (``s.my_note = 1``);
* ``sub.subscribe = "c"`` (or ``b"c"``) subscribes, and ``subscribe`` stays the method;
* reading a write-only option raises ``AttributeError``; writing a read-only one ``ZMQError``;
* a subclass may write the names it declares (annotated or defined), and nothing else.

What zloop does differently on purpose is in ``zloop/_sockattrs.py`` and tested at the end.
"""

from __future__ import annotations

import asyncio
import errno
import time
from collections.abc import Iterator
from typing import Any

import pytest
from zl_testing import DEADLINE

import zloop

pytest.importorskip("zmq")
import zmq
import zmq.asyncio
import zmq.green

#: pyzmq's socket classes (the reference), zloop.Socket, and each adapter's wrapper over a zloop
#: and over a pyzmq socket.
KINDS = [
    pytest.param("zmq.Socket", marks=pytest.mark.interop),
    pytest.param("zmq.green.Socket", marks=pytest.mark.interop),
    pytest.param("zmq.asyncio.Socket", marks=pytest.mark.interop),
    "zloop.Socket",
    "gevent/zloop",
    pytest.param("gevent/pyzmq", marks=pytest.mark.interop),
    "asyncio/zloop",
    pytest.param("asyncio/pyzmq", marks=pytest.mark.interop),
    "trio/zloop",
    pytest.param("trio/pyzmq", marks=pytest.mark.interop),
    "anyio/zloop",
    pytest.param("anyio/pyzmq", marks=pytest.mark.interop),
    "twisted/zloop",
    pytest.param("twisted/pyzmq", marks=pytest.mark.interop),
]


def _wrapper_class(adapter: str) -> Any:
    pytest.importorskip(adapter)
    module = __import__(f"zloop.adapters.{adapter}", fromlist=["Socket"])
    return module.Socket


class Maker:
    """Makes sockets of one kind; every socket made is closed at the end of the test."""

    def __init__(self, kind: str, ctx: zloop.Context, zctx: Any) -> None:
        self.kind = kind
        self.ctx = ctx
        self.zctx = zctx
        self.made: list[Any] = []

    def base_class(self) -> type:
        """The class a user would subclass for this kind."""
        if self.kind == "zmq.Socket":
            return zmq.Socket  # type: ignore[no-any-return]
        if self.kind == "zmq.green.Socket":
            return zmq.green.Socket  # type: ignore[no-any-return]
        if self.kind == "zmq.asyncio.Socket":
            return zmq.asyncio.Socket  # type: ignore[no-any-return]
        if self.kind == "zloop.Socket":
            return zloop.Socket
        return _wrapper_class(self.kind.split("/")[0])  # type: ignore[no-any-return]

    def __call__(self, socket_type: int, cls: type | None = None) -> Any:
        cls = cls or self.base_class()
        if self.kind.startswith("zmq."):
            sock = cls(self.zctx, socket_type)
        elif self.kind == "zloop.Socket":
            sock = cls(self.ctx, socket_type)
        else:
            raw = (self.ctx if self.kind.endswith("/zloop") else self.zctx).socket(socket_type)
            self.made.append(raw)
            sock = cls.from_socket(raw)
        self.made.append(sock)
        return sock

    def close_all(self) -> None:
        for sock in reversed(self.made):
            if not sock.closed:
                sock.close(linger=0)


@pytest.fixture(params=KINDS)
def make(request: pytest.FixtureRequest, ctx: zloop.Context, zctx: Any) -> Iterator[Maker]:
    maker = Maker(request.param, ctx, zctx)
    try:
        yield maker
    finally:
        maker.close_all()


def raw_of(sock: Any) -> Any:
    """A synchronous socket of the same underlying socket, to check options and receive."""
    if isinstance(sock, zmq.asyncio.Socket):
        return zmq.Socket.shadow(sock.underlying)
    if isinstance(sock, zmq.Socket | zloop.Socket):
        return sock
    return sock.socket  # a zloop adapter's wrapper


def own_attributes(sock: Any) -> dict[str, Any]:
    """What is stored on the object itself (zloop.Socket has slots, no __dict__)."""
    return getattr(sock, "__dict__", {})


def test_option_attributes_reach_the_socket(make: Maker) -> None:
    s = make(zmq.DEALER)
    raw = raw_of(s)
    s.linger = 10
    assert raw.getsockopt(zmq.LINGER) == 10
    assert s.linger == 10
    assert "linger" not in own_attributes(s)
    s.SNDTIMEO = 7
    assert raw.getsockopt(zmq.SNDTIMEO) == 7
    assert s.sndtimeo == 7 and s.SNDTIMEO == 7
    s.routing_id = b"me"
    assert raw.getsockopt(zmq.ROUTING_ID) == b"me"


def test_hwm_sets_both_directions(make: Maker) -> None:
    s = make(zmq.DEALER)
    raw = raw_of(s)
    s.hwm = 100
    assert (raw.getsockopt(zmq.SNDHWM), raw.getsockopt(zmq.RCVHWM)) == (100, 100)
    assert s.hwm == 100


def test_misspelt_option_raises_attribute_error(make: Maker) -> None:
    s = make(zmq.DEALER)
    with pytest.raises(AttributeError):
        s.lingr = 0
    with pytest.raises(AttributeError):
        s.lingr  # noqa: B018
    with pytest.raises(AttributeError):
        s.my_note = 1  # not an option, and not declared by the class
    assert raw_of(s).getsockopt(zmq.LINGER) == -1


def _receives(sub: Any, pub: Any, wanted: bytes, unwanted: bytes) -> bool:
    """Does ``sub`` get ``wanted`` (sent after ``unwanted``) and not ``unwanted``?"""
    raw = raw_of(sub)
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:  # a subscription reaches the PUB asynchronously
        raw_of(pub).send(unwanted)
        raw_of(pub).send(wanted)
        if raw.poll(50):
            got = raw.recv()
            assert got != unwanted, f"{unwanted!r} was not subscribed to"
            return got == wanted
    return False


@pytest.mark.parametrize("topic", ["c", b"c"])
def test_subscribe_attribute_subscribes(make: Maker, topic: str | bytes) -> None:
    pub, sub = make(zmq.PUB), make(zmq.SUB)
    port = raw_of(pub).bind_to_random_port("tcp://127.0.0.1")
    raw_of(sub).connect(f"tcp://127.0.0.1:{port}")
    sub.subscribe = topic
    assert callable(sub.subscribe), "subscribe is still the method"
    assert "subscribe" not in own_attributes(sub)
    assert _receives(sub, pub, b"cx", b"zz")
    sub.unsubscribe = topic
    assert callable(sub.unsubscribe)
    sub.subscribe(b"z")
    assert _receives(sub, pub, b"zz", b"cy")


def test_write_only_and_read_only_options(make: Maker) -> None:
    router = make(zmq.ROUTER)
    with pytest.raises(AttributeError):
        router.router_mandatory  # noqa: B018 - write-only: libzmq's EINVAL on get
    router.router_mandatory = 1
    with pytest.raises((zmq.ZMQError, zloop.ZMQError)) as info:
        router.fd = 3
    assert info.value.errno == errno.EINVAL
    assert isinstance(router.fd, int) and router.fd == router.FD


def test_subclass_writes_what_it_declares(make: Maker) -> None:
    base = make.base_class()
    mine = type("Mine", (base,), {"__annotations__": {"note": "str"}, "tag": None})
    s = make(zmq.DEALER, mine)
    s.note = "declared by annotation"
    s.tag = "declared as a class attribute"
    assert (s.note, s.tag) == ("declared by annotation", "declared as a class attribute")
    s.linger = 5
    assert raw_of(s).getsockopt(zmq.LINGER) == 5
    with pytest.raises(AttributeError):
        s.undeclared = 1
    with pytest.raises(AttributeError):
        s.lingr = 1


# -- where zloop differs on purpose ------------------------------------------------------------------


def test_plain_zloop_socket_keeps_no_instance_attributes(ctx: zloop.Context) -> None:
    """zloop.Socket has __slots__ instead of pyzmq's __setattr__ (which would tax every attribute
    write of send/recv): a method cannot be replaced on an instance (a subclass may), and only
    lower- or upper-case option names are options (pyzmq upper-cases any spelling)."""
    s = ctx.socket(zloop.DEALER)
    with pytest.raises(AttributeError):
        s.send = print
    with pytest.raises(AttributeError):
        s.Linger = 0
    with pytest.raises(AttributeError):
        s.noblock = 1  # a constant, not a socket option (pyzmq: setsockopt(1) -> EINVAL)
    mine = type("Mine", (zloop.Socket,), {})
    t = mine(ctx, zloop.DEALER)
    try:
        t.send = print  # declared by the class: an instance may shadow it, as in pyzmq
        assert t.send is print
    finally:
        t.close(0)


def test_zmqstream_option_attributes_reach_the_socket(ctx: zloop.Context) -> None:
    """zloop's ZMQStream reads the socket's attributes through (pyzmq's has no such attributes),
    so it writes option attributes through too; other names stay the stream's, as in pyzmq."""
    pytest.importorskip("tornado")
    from zloop.adapters.tornado import ZMQStream

    async def main() -> None:
        s = ctx.socket(zloop.DEALER)
        stream = ZMQStream(s)
        try:
            stream.linger = 10
            assert s.getsockopt(zloop.LINGER) == 10 and stream.linger == 10
            sub = ctx.socket(zloop.SUB)
            sub_stream = ZMQStream(sub)
            sub_stream.subscribe = "c"
            assert callable(sub_stream.subscribe)
            sub_stream.my_tag = "mine"  # a user's own attribute, kept on the stream
            assert sub_stream.my_tag == "mine" and "my_tag" in vars(sub_stream)
            sub_stream.close()
        finally:
            stream.close()

    asyncio.run(main())
