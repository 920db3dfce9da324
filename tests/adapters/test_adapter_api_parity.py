"""pyzmq's socket conveniences on every adapter Socket and on zloop.Socket: the same signatures
(parameter names, kinds, order, defaults; ``inspect.signature``), the same errors and the same
behaviour (bytes on the wire, keyword arguments routed where pyzmq routes them).

Blocking sockets (zloop.Socket, the gevent adapter) are compared with ``zmq.Socket``, awaitable
ones (asyncio, trio, tornado) with ``zmq.asyncio.Socket``, tornado's ``ZMQStream`` with pyzmq's.
The behaviour scenario is written once (``await resolve(...)`` around every call) and also run on
pyzmq's own sockets, so its expectations are checked against pyzmq itself.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import pickle
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from drivers_extra import FLAVOURS, sync_pair

import zloop

CONVENIENCES = (
    "send_string",
    "recv_string",
    "send_unicode",
    "recv_unicode",
    "send_json",
    "recv_json",
    "send_pyobj",
    "recv_pyobj",
    "send_serialized",
    "recv_serialized",
)
SENDS = tuple(name for name in CONVENIENCES if name.startswith("send_"))
STREAM_CONVENIENCES = ("send_string", "send_unicode", "send_json", "send_pyobj")

#: adapter -> (module holding its Socket, pyzmq class it must match)
ADAPTERS = {
    "zloop": ("zloop", "zmq.Socket"),
    "gevent": ("zloop.adapters.gevent", "zmq.Socket"),
    "asyncio": ("zloop.adapters.asyncio", "zmq.asyncio.Socket"),
    "trio": ("zloop.adapters.trio", "zmq.asyncio.Socket"),
    "tornado": ("zloop.adapters.tornado", "zmq.asyncio.Socket"),
    "anyio": ("zloop.adapters.anyio", "zmq.asyncio.Socket"),
    "twisted": ("zloop.adapters.twisted", "zmq.asyncio.Socket"),  # Deferreds are awaitable
}
AWAITABLE = {"asyncio", "trio", "tornado", "anyio", "twisted"}


def our_socket_class(adapter: str) -> Any:
    module_name = ADAPTERS[adapter][0]
    if adapter != "zloop":
        pytest.importorskip(adapter)
    module = __import__(module_name, fromlist=["Socket"])
    return module.Socket


def pyzmq_socket_class(adapter: str) -> Any:
    import zmq
    import zmq.asyncio

    return zmq.asyncio.Socket if ADAPTERS[adapter][1] == "zmq.asyncio.Socket" else zmq.Socket


def shape(function: Callable[..., Any]) -> list[tuple[str, Any, Any]]:
    """What a caller sees of a signature: each parameter's name, kind and default, in order."""
    return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]


# -- signatures ---------------------------------------------------------------------------------------


@pytest.mark.interop
@pytest.mark.parametrize("name", CONVENIENCES)
@pytest.mark.parametrize("adapter", list(ADAPTERS))
def test_signature_matches_pyzmq(adapter: str, name: str) -> None:
    ours = getattr(our_socket_class(adapter), name)
    theirs = getattr(pyzmq_socket_class(adapter), name)
    assert shape(ours) == shape(theirs), f"{adapter} Socket.{name}{inspect.signature(ours)}"


@pytest.mark.interop
@pytest.mark.parametrize("adapter", list(ADAPTERS))
def test_unicode_aliases_are_the_string_methods(adapter: str) -> None:
    cls = our_socket_class(adapter)
    assert cls.send_unicode is cls.send_string
    assert cls.recv_unicode is cls.recv_string


@pytest.mark.interop
@pytest.mark.parametrize("name", STREAM_CONVENIENCES)
def test_zmqstream_signature_matches_pyzmq(name: str) -> None:
    pytest.importorskip("tornado")
    from zmq.eventloop.zmqstream import ZMQStream as TheirStream

    from zloop.adapters.tornado import ZMQStream

    ours, theirs = getattr(ZMQStream, name), getattr(TheirStream, name)
    assert shape(ours) == shape(theirs), f"ZMQStream.{name}{inspect.signature(ours)}"


# -- errors -------------------------------------------------------------------------------------------


def wrap(adapter: str, raw: Any) -> Any:
    return raw if adapter == "zloop" else our_socket_class(adapter).from_socket(raw)


def pyzmq_wrap(adapter: str, raw: Any) -> Any:
    """pyzmq's counterpart of ``wrap``: the raw pyzmq socket, or zmq.asyncio's over it."""
    cls = pyzmq_socket_class(adapter)
    return raw if cls.__module__.startswith("zmq.sugar") else cls.from_socket(raw)


def type_error_of(call: Callable[[], Any]) -> str:
    """The message of the TypeError ``call()`` raises at once (not when awaited)."""
    with pytest.raises(TypeError) as info:
        result = call()
        if inspect.isawaitable(result):  # pragma: no cover - the failure being tested for
            getattr(result, "close", lambda: None)()
            pytest.fail("returned an awaitable instead of raising at the call")
    return str(info.value)


@pytest.mark.interop
@pytest.mark.parametrize("bad", [b"bytes", 12345, None], ids=["bytes", "int", "None"])
@pytest.mark.parametrize("adapter", list(ADAPTERS))
def test_send_string_of_non_str_raises_type_error_as_pyzmq(
    adapter: str, bad: Any, ctx: Any, zctx: Any
) -> None:
    a, b = sync_pair("zloop", ctx, zctx, zloop.PAIR, zloop.PAIR)
    za, zb = sync_pair("pyzmq", ctx, zctx, zloop.PAIR, zloop.PAIR)
    ours, theirs = wrap(adapter, a), pyzmq_wrap(adapter, za)
    for name in ("send_string", "send_unicode"):
        expected = type_error_of(lambda s=theirs, n=name: getattr(s, n)(bad))
        assert type_error_of(lambda s=ours, n=name: getattr(s, n)(bad)) == expected
    # nothing was sent: a frame sent now is the first one the peer gets
    a.send(b"next")
    za.send(b"next")
    assert b.recv() == b"next" and zb.recv() == b"next"


@pytest.mark.interop
@pytest.mark.parametrize("adapter", sorted(AWAITABLE))
def test_awaitable_sends_check_arguments_at_the_call_as_zmq_asyncio(
    adapter: str, ctx: Any, zctx: Any
) -> None:
    """zmq.asyncio pickles / encodes when the send is called: an unpicklable object or bad JSON
    raises there, before anything is awaited."""
    a, _b = sync_pair("zloop", ctx, zctx, zloop.PAIR, zloop.PAIR)
    za, _zb = sync_pair("pyzmq", ctx, zctx, zloop.PAIR, zloop.PAIR)
    for sock in (wrap(adapter, a), pyzmq_wrap(adapter, za)):
        with pytest.raises((pickle.PicklingError, TypeError, AttributeError)):
            sock.send_pyobj(lambda: None)
        with pytest.raises(TypeError):
            sock.send_json({"not json": object()})
        with pytest.raises(TypeError):
            sock.send_json({"k": 1}, no_such_json_option=True)


@pytest.mark.interop
def test_zmqstream_send_string_of_non_str_raises_as_pyzmq(ctx: Any, zctx: Any) -> None:
    pytest.importorskip("tornado")
    from zmq.eventloop.zmqstream import ZMQStream as TheirStream

    from zloop.adapters.tornado import ZMQStream

    async def main() -> tuple[str, str]:
        a, _b = sync_pair("zloop", ctx, zctx, zloop.PAIR, zloop.PAIR)
        za, _zb = sync_pair("pyzmq", ctx, zctx, zloop.PAIR, zloop.PAIR)
        ours, theirs = ZMQStream(a), TheirStream(za)
        try:
            return (
                type_error_of(lambda: ours.send_string(b"x")),
                type_error_of(lambda: theirs.send_string(b"x")),
            )
        finally:
            ours.close()
            theirs.close()

    mine, expected = asyncio.run(main())
    assert mine == expected


# -- behaviour ----------------------------------------------------------------------------------------


async def resolve(value: Any) -> Any:
    """``value``, awaited when it is awaitable: one scenario for blocking and awaitable sockets."""
    return await value if inspect.isawaitable(value) else value


def frame_bytes(frames: list[Any]) -> list[bytes]:
    return [f.bytes for f in frames]


async def conveniences_scenario(a: Any, b: Any) -> None:
    """Every convenience, checked by what arrives on the wire and what the other side returns."""
    obj = {"tuple": (1, "x"), "set": {1, 2}, "bytes": b"\x00\xff", "float": 2.5}

    # pyobj: round trip; pickle.DEFAULT_PROTOCOL by default; protocol= used; kwargs go to send.
    await resolve(a.send_pyobj(obj))
    assert await resolve(b.recv_pyobj()) == obj
    await resolve(a.send_pyobj(obj))
    assert await resolve(b.recv()) == pickle.dumps(obj, pickle.DEFAULT_PROTOCOL)
    await resolve(a.send_pyobj(obj, protocol=2))
    assert await resolve(b.recv()) == pickle.dumps(obj, 2)
    await resolve(a.send_pyobj([1, 2], 0, -1, copy=False))
    assert await resolve(b.recv_pyobj(0)) == [1, 2]

    # string: utf-8 by default, encoding= both ways, the _unicode aliases.
    await resolve(a.send_string("héllo wörld"))
    assert await resolve(b.recv()) == "héllo wörld".encode()
    await resolve(a.send_string("héllo", encoding="latin-1"))
    assert await resolve(b.recv_string(encoding="latin-1")) == "héllo"
    await resolve(a.send_unicode("ünï", 0, True, "utf-16"))
    assert await resolve(b.recv_unicode(0, "utf-16")) == "ünï"

    # json: kwargs to json.dumps / json.loads.
    doc = {"b": 1, "a": [1, None, "é"]}
    await resolve(a.send_json(doc))
    assert await resolve(b.recv()) == json.dumps(doc).encode()
    await resolve(a.send_json(doc, sort_keys=True, separators=(",", ":")))
    assert await resolve(b.recv()) == b'{"a":[1,null,"\\u00e9"],"b":1}'
    await resolve(a.send_json(doc, ensure_ascii=False))
    assert await resolve(b.recv_json()) == doc
    await resolve(a.send_json(doc))
    assert await resolve(b.recv_json(object_pairs_hook=list)) == [("b", 1), ("a", [1, None, "é"])]

    # serialized: serialize(msg) goes out as one message; deserialize gets the list of frames.
    def serialize(msg: Any) -> list[bytes]:
        return [b"head", json.dumps(msg).encode()]

    def deserialize(frames: list[Any]) -> Any:
        return frames[0], json.loads(frames[1])

    await resolve(a.send_serialized(doc, serialize))
    assert await resolve(b.recv_serialized(deserialize)) == (b"head", doc)
    await resolve(a.send_serialized(doc, serialize=serialize, flags=0, copy=False))
    assert await resolve(b.recv_multipart()) == serialize(doc)
    await resolve(a.send_serialized(doc, serialize))
    got = await resolve(b.recv_serialized(frame_bytes, copy=False))
    assert got == serialize(doc)


def run_sync(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run a scenario on blocking sockets: its ``resolve`` calls never suspend."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    coro.close()
    raise AssertionError("a scenario on blocking sockets suspended")


def run_on(
    adapter: str, scenario: Callable[[Any, Any], Coroutine[Any, Any, Any]], a: Any, b: Any
) -> Any:
    if adapter == "anyio":
        import anyio

        async def anyio_main() -> Any:
            with anyio.fail_after(30):
                return await scenario(a, b)

        return anyio.run(anyio_main)
    if adapter == "twisted":
        return _run_twisted(scenario, a, b)
    if adapter == "trio":
        import trio

        async def main() -> Any:
            with trio.fail_after(30):
                return await scenario(a, b)

        return trio.run(main)
    if adapter in AWAITABLE:

        async def amain() -> Any:
            return await asyncio.wait_for(scenario(a, b), 30)

        return asyncio.run(amain())
    return run_sync(scenario(a, b))


def _run_twisted(scenario: Callable[[Any, Any], Coroutine[Any, Any, Any]], a: Any, b: Any) -> Any:
    """Run the scenario on a fresh epoll reactor given to both (unbound) Twisted sockets."""
    from twisted.internet import defer
    from twisted.internet.epollreactor import EPollReactor

    reactor = EPollReactor()
    a._reactor = b._reactor = reactor
    outcome: list[Any] = []

    def start() -> None:
        d = defer.Deferred.fromCoroutine(scenario(a, b)).addTimeout(30, reactor)
        d.addBoth(lambda result: (outcome.append(result), reactor.stop()))

    reactor.callWhenRunning(start)
    reactor.run(installSignalHandlers=False)
    reactor.removeReader(reactor.waker)
    reactor.waker.connectionLost(None)
    reactor._poller.close()
    a._release()
    b._release()
    if hasattr(outcome[0], "raiseException"):
        outcome[0].raiseException()
    return outcome[0]


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("adapter", list(ADAPTERS))
def test_conveniences_behave_as_pyzmq(adapter: str, flavour: str, ctx: Any, zctx: Any) -> None:
    """On the zloop adapter with the pyzmq flavour this runs pyzmq's own zmq.Socket: the control."""
    raw_a, raw_b = sync_pair(flavour, ctx, zctx, zloop.PAIR, zloop.PAIR)
    run_on(adapter, conveniences_scenario, wrap(adapter, raw_a), wrap(adapter, raw_b))


@pytest.mark.interop
def test_scenario_holds_for_zmq_asyncio(ctx: Any, zctx: Any) -> None:
    """The control for the awaitable adapters: the same scenario on zmq.asyncio's sockets."""
    import zmq.asyncio

    raw_a, raw_b = sync_pair("pyzmq", ctx, zctx, zloop.PAIR, zloop.PAIR)
    a, b = zmq.asyncio.Socket.from_socket(raw_a), zmq.asyncio.Socket.from_socket(raw_b)
    run_on("asyncio", conveniences_scenario, a, b)


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("adapter", list(ADAPTERS))
def test_pyobj_round_trip(adapter: str, flavour: str, ctx: Any, zctx: Any) -> None:
    """recv_pyobj gives back what send_pyobj sent, for objects pickle needs protocol >= 2 for."""
    values: list[Any] = [None, 0, "str", b"bytes", (1, [2, {3: {4}}]), frozenset({1}), 10**40]

    async def scenario(a: Any, b: Any) -> list[Any]:
        got = []
        for value in values:
            await resolve(a.send_pyobj(value))
            got.append(await resolve(b.recv_pyobj()))
        return got

    raw_a, raw_b = sync_pair(flavour, ctx, zctx, zloop.PAIR, zloop.PAIR)
    assert run_on(adapter, scenario, wrap(adapter, raw_a), wrap(adapter, raw_b)) == values
