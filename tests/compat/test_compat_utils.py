"""``utils.*`` (jsonapi, z85, strtypes, monitor, garbage, interop, win32) on pyzmq and zloop."""

from __future__ import annotations

import asyncio
import importlib
import os
import threading
import warnings
from typing import Any

import pytest
from zl_testing import DEADLINE_MS

import zloop


def _utils(impl: Any, name: str) -> Any:
    return importlib.import_module(f"{impl.__name__}.utils.{name}")


def test_jsonapi_round_trip(impl: Any) -> None:
    jsonapi = _utils(impl, "jsonapi")
    doc = {"name": "zéro", "n": [1, 2.5, None, True]}
    wire = jsonapi.dumps(doc)
    assert isinstance(wire, bytes) and wire == jsonapi.dumps(doc)
    assert wire.decode("utf-8").startswith('{"name": "z')
    assert jsonapi.loads(wire) == doc and jsonapi.loads(wire.decode()) == doc
    assert jsonapi.dumps([1], separators=(",", ":")) == b"[1]"  # keywords go to json
    assert jsonapi.loads(b'{"a": 1.5}', parse_float=str) == {"a": "1.5"}
    assert jsonapi.jsonmod.dumps is __import__("json").dumps


def test_z85_round_trip_and_rfc_vector(impl: Any) -> None:
    z85 = _utils(impl, "z85")
    # ZeroMQ RFC 32's test vector.
    raw = bytes([0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B])
    assert z85.encode(raw) == b"HelloWorld"
    assert z85.decode(b"HelloWorld") == raw and z85.decode("HelloWorld") == raw
    data = os.urandom(64)
    assert z85.decode(z85.encode(data)) == data
    assert z85.encode(data) == zloop.z85.encode(data)
    assert len(z85.Z85CHARS) == 85 and z85.Z85MAP[z85.Z85CHARS[84]] == 84
    with pytest.raises(ValueError):
        z85.encode(b"abc")
    with pytest.raises(ValueError):
        z85.decode(b"abcd")
    with pytest.raises(ValueError):
        z85.decode("Hellö")


def test_z85_bad_character(impl: Any) -> None:
    """Difference: zloop raises ValueError for a character outside the alphabet (pyzmq KeyError)."""
    z85 = _utils(impl, "z85")
    with pytest.raises(ValueError if impl is zloop else KeyError):
        z85.decode(b"Hello Worl")


def test_strtypes(impl: Any) -> None:
    strtypes = _utils(impl, "strtypes")
    assert strtypes.bytes is bytes and strtypes.unicode is str and strtypes.basestring == (str,)
    with pytest.warns(DeprecationWarning):
        assert strtypes.cast_bytes("é") == "é".encode()
    with pytest.warns(DeprecationWarning):
        assert strtypes.cast_unicode(b"\xc3\xa9") == "é"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        assert strtypes.b(b"x") == b"x" and strtypes.asbytes("x") == b"x"
        assert (
            strtypes.u("x") == "x" and strtypes.cast_unicode(b"\xff", errors="replace") == "\ufffd"
        )
        with pytest.raises(TypeError, match="Expected unicode or bytes"):
            strtypes.cast_bytes(1)


def test_interop_and_win32(impl: Any) -> None:
    interop = _utils(impl, "interop")
    assert interop.cast_int_addr(12345) == 12345
    with pytest.raises(ValueError, match="Cannot cast"):
        interop.cast_int_addr("x")
    win32 = _utils(impl, "win32")
    called: list[int] = []
    with win32.allow_interrupt(lambda: called.append(1)):
        pass
    assert called == []  # nothing to do off Windows (and everywhere in zloop)


def test_garbage_collector_api(impl: Any) -> None:
    """The collector's API exists on both; pyzmq's runs a thread for zero-copy sends, zloop's never
    does (zloop.utils.garbage says why)."""
    garbage = _utils(impl, "garbage")
    gc = garbage.gc
    assert isinstance(gc, garbage.GarbageCollector)
    assert isinstance(gc.refs, dict) and isinstance(gc.url, str)
    fresh = garbage.GarbageCollector()
    ctx = impl.Context()
    try:
        fresh.context = ctx
        assert fresh.context is ctx
        assert not fresh.is_alive() and fresh.thread is None
        fresh.stop()  # not started: nothing happens
    finally:
        ctx.destroy(linger=0)
    if impl is zloop:
        event = threading.Event()
        assert gc.store(b"data", event) == 0 and event.is_set() and gc.refs == {}
        gc.start()
        assert not gc.is_alive()


def _connect_events(impl: Any, ctx: Any) -> tuple[Any, Any, Any]:
    server = ctx.socket(impl.ROUTER)
    server.linger = 0
    port = server.bind_to_random_port("tcp://127.0.0.1")
    client = ctx.socket(impl.DEALER)
    client.linger = 0
    monitor = client.get_monitor_socket(impl.EVENT_CONNECTED | impl.EVENT_HANDSHAKE_SUCCEEDED)
    monitor.rcvtimeo = DEADLINE_MS
    client.connect(f"tcp://127.0.0.1:{port}")
    return server, client, monitor


def test_monitor_messages_from_real_events(impl: Any, impl_ctx: Any) -> None:
    monitor_mod = _utils(impl, "monitor")
    server, client, monitor = _connect_events(impl, impl_ctx)
    endpoint = client.last_endpoint
    first = monitor_mod.recv_monitor_message(monitor)
    assert first["event"] == impl.EVENT_CONNECTED and isinstance(first["event"], impl.Event)
    assert first["endpoint"] == endpoint and int(first["value"]) > 0  # the fd
    raw = monitor.recv_multipart()
    second = monitor_mod.parse_monitor_message(raw)
    assert second == {"event": impl.EVENT_HANDSHAKE_SUCCEEDED, "value": 0, "endpoint": endpoint}
    assert monitor_mod.recv_monitor_message is impl.utils.monitor.recv_monitor_message
    with pytest.raises(RuntimeError, match="Invalid event message format"):
        monitor_mod.parse_monitor_message([b"\x01\x00", b"x"])
    with pytest.raises(RuntimeError):
        monitor_mod.parse_monitor_message([raw[0]])
    client.disable_monitor()
    for sock in (monitor, client, server):
        sock.close(linger=0)


def test_monitor_message_on_an_async_socket(impl: Any, impl_ctx: Any) -> None:
    """With an awaitable socket the helper returns an awaitable of the decoded message."""
    monitor_mod = _utils(impl, "monitor")
    aio = importlib.import_module(f"{impl.__name__}.asyncio")
    server, client, monitor = _connect_events(impl, impl_ctx)

    async def main() -> Any:
        amon = aio.Socket.from_socket(monitor)
        pending = monitor_mod.recv_monitor_message(amon)
        assert not isinstance(pending, dict)
        return await asyncio.wait_for(pending, 5)

    event = asyncio.run(main())
    assert event["event"] == impl.EVENT_CONNECTED and event["endpoint"] == client.last_endpoint
    client.disable_monitor()
    for sock in (monitor, client, server):
        sock.close(linger=0)
