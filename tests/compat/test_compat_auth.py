"""``auth`` on pyzmq and zloop: the policy API's semantics, the ZAP replies, and the thread
authenticator with a CURVE callback (plain and ``async def``) over real CURVE handshakes.

ZAP replies are compared by driving ``handle_zap_message`` (a coroutine in both) with a socket
stand-in that records what would be sent.
"""

from __future__ import annotations

import asyncio
import importlib
import threading
from pathlib import Path
from typing import Any

import pytest
from zl_testing import DEADLINE, DEADLINE_MS, monitor_events_until

import zloop


def _auth(impl: Any, name: str = "") -> Any:
    return importlib.import_module(f"{impl.__name__}.auth{'.' + name if name else ''}")


class Recorder:
    """Stands in for the ZAP socket: keeps the replies."""

    def __init__(self) -> None:
        self.sent: list[list[bytes]] = []

    def send_multipart(self, frames: list[bytes]) -> None:
        self.sent.append([bytes(f) for f in frames])


def _answer(auth: Any, *frames: bytes) -> list[bytes]:
    """The reply's status, text and user id to one request, or [] if none was sent."""
    auth.zap_socket = recorder = Recorder()
    asyncio.run(auth.handle_zap_message(list(frames)))
    assert len(recorder.sent) <= 1
    return recorder.sent[0][2:5] if recorder.sent else []


def _request(mechanism: bytes, *credentials: bytes, address: bytes = b"127.0.0.1") -> list[bytes]:
    return [b"1.0", b"42", b"", address, b"", mechanism, *credentials]


def test_allow_and_deny_exclude_each_other(impl: Any, impl_ctx: Any) -> None:
    base = _auth(impl, "base")
    auth = base.Authenticator(impl_ctx)
    auth.deny("10.0.0.1")
    auth.deny("10.0.0.2")  # more of the same kind is fine
    with pytest.raises(ValueError, match="allow or deny"):
        auth.allow("10.0.0.3")
    other = base.Authenticator(impl_ctx)
    other.allow("10.0.0.3")
    with pytest.raises(ValueError, match="allow or deny"):
        other.deny("10.0.0.1")
    assert _answer(auth, *_request(b"NULL", address=b"10.0.0.2")) == [
        b"400",
        b"Address denied",
        b"",
    ]
    assert _answer(other, *_request(b"NULL", address=b"10.0.0.1"))[:2] == [
        b"400",
        b"Address not allowed",
    ]
    assert _answer(other, *_request(b"NULL", address=b"10.0.0.3")) == [b"200", b"OK", b"anonymous"]


def test_zap_replies(impl: Any, impl_ctx: Any) -> None:
    auth = _auth(impl, "base").Authenticator(impl_ctx)
    assert _answer(auth, *_request(b"NULL")) == [b"200", b"OK", b"anonymous"]
    assert _answer(auth, *_request(b"PLAIN", b"u", b"p"))[:2] == [b"400", b"No passwords defined"]
    auth.configure_plain("*", {"admin": "secret"})
    auth.configure_plain("*")  # no passwords: nothing changes
    auth.configure_plain("*", {})
    assert _answer(auth, *_request(b"PLAIN", b"admin", b"secret")) == [b"200", b"OK", b"admin"]
    assert _answer(auth, *_request(b"PLAIN", b"admin", b"x"))[:2] == [b"400", b"Invalid password"]
    assert _answer(auth, *_request(b"PLAIN", b"bob", b"x"))[:2] == [b"400", b"Invalid username"]
    other_domain = [b"1.0", b"42", b"other", b"127.0.0.1", b"", b"PLAIN", b"admin", b"secret"]
    assert _answer(auth, *other_domain)[:2] == [b"400", b"Invalid domain"]
    assert _answer(auth, *_request(b"PLAIN", b"only-a-name"))[:2] == [
        b"400",
        b"Invalid credentials",
    ]
    assert _answer(auth, b"1.0", b"42", b"")[:2] == [b"400", b"Not enough frames"]
    assert _answer(auth, b"1.0") == []  # too short to answer
    assert _answer(auth, b"2.0", *_request(b"NULL")[1:])[:2] == [b"400", b"Invalid version"]
    assert _answer(auth, *_request(b"GSSAPI", b"alice@REALM")) == [b"200", b"OK", b"alice@REALM"]
    auth.configure_gssapi()  # a no-op in both


def test_unknown_mechanism(impl: Any, impl_ctx: Any) -> None:
    """Difference: pyzmq admits an unknown mechanism from an allowed address; zloop refuses it (a
    zloop server never asks about one). Without an address list both refuse."""
    auth = _auth(impl, "base").Authenticator(impl_ctx)
    assert _answer(auth, *_request(b"FOO"))[:2] == [b"400", b"NO ACCESS"]
    auth.allow("127.0.0.1")
    assert _answer(auth, *_request(b"FOO"))[0] == (b"400" if impl is zloop else b"200")


def test_curve_configuration(
    impl: Any, impl_ctx: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("nacl")
    auth_mod = _auth(impl)
    key_file, _ = zloop.auth.create_certificates(tmp_path, "client")
    public, _ = zloop.auth.load_certificate(key_file)
    raw = zloop.z85.decode(public)
    auth = auth_mod.Authenticator(impl_ctx)
    assert _answer(auth, *_request(b"CURVE", raw))[:2] == [b"400", b"Unknown domain"]
    monkeypatch.chdir(tmp_path)
    auth.configure_curve()  # the current directory's certificates, by default
    assert _answer(auth, *_request(b"CURVE", raw)) == [b"200", b"OK", public]
    assert _answer(auth, *_request(b"CURVE", bytes(32)))[:2] == [b"400", b"Unknown key"]
    auth.configure_curve("*", tmp_path / "missing")  # logged; the domain keeps its keys
    assert _answer(auth, *_request(b"CURVE", raw))[0] == b"200"
    auth.configure_curve(location=auth_mod.CURVE_ALLOW_ANY)
    assert _answer(auth, *_request(b"CURVE", bytes(32)))[0] == b"200"


class Provider:
    def __init__(self, verdict: bool) -> None:
        self.verdict = verdict
        self.asked: list[tuple[str, bytes]] = []

    def callback(self, domain: str, key: bytes) -> bool:
        self.asked.append((domain, key))
        return self.verdict


class AsyncProvider(Provider):
    async def callback(self, domain: str, key: bytes) -> bool:  # type: ignore[override]
        self.asked.append((domain, key))
        await asyncio.sleep(0.001)  # a real suspension on the running loop
        return self.verdict


@pytest.mark.parametrize("provider", [Provider, AsyncProvider])
def test_curve_callback_replies(impl: Any, impl_ctx: Any, provider: type[Provider]) -> None:
    auth = _auth(impl, "base").Authenticator(impl_ctx)
    yes, no = provider(True), provider(False)
    auth.configure_curve_callback("*", yes)
    auth.configure_curve_callback("*", None)  # logged; the provider stays
    key = bytes(range(32))
    z85_key = zloop.z85.encode(key)
    assert _answer(auth, *_request(b"CURVE", key)) == [b"200", b"OK", z85_key]
    assert yes.asked == [("*", z85_key)]
    auth.configure_curve_callback("*", no)
    assert _answer(auth, *_request(b"CURVE", key))[:2] == [b"400", b"Unknown key"]


def _curve_pair(impl: Any, ctx: Any) -> tuple[Any, Any, Any]:
    """A CURVE server (REP, ZAP domain set) and a client (REQ) monitored for the handshake."""
    server_public, server_secret = zloop.curve_keypair()
    client_public, client_secret = zloop.curve_keypair()
    server = ctx.socket(impl.REP)
    server.linger = 0
    server.curve_server = True
    server.curve_secretkey = server_secret
    server.zap_domain = b"global"
    port = server.bind_to_random_port("tcp://127.0.0.1")
    client = ctx.socket(impl.REQ)
    client.linger = 0
    client.curve_serverkey = server_public
    client.curve_publickey = client_public
    client.curve_secretkey = client_secret
    monitor = client.get_monitor_socket()
    client.connect(f"tcp://127.0.0.1:{port}")
    return server, client, monitor


@pytest.mark.parametrize("verdict", [True, False])
@pytest.mark.parametrize("provider", [Provider, AsyncProvider])
def test_thread_authenticator_curve_callback(
    impl: Any, impl_ctx: Any, provider: type[Provider], verdict: bool
) -> None:
    """The thread authenticator awaits an ``async def`` callback in its thread (pyzmq does), and
    the awaited result decides: an awaitable is never itself a yes."""
    if impl is zloop:
        pytest.importorskip("nacl")
    auth = _auth(impl, "thread").ThreadAuthenticator(impl_ctx)
    auth.start()
    try:
        assert auth.is_alive() and auth.thread.is_alive()
        answer = provider(verdict)
        auth.configure_curve_callback("global", answer)
        server, client, monitor = _curve_pair(impl, impl_ctx)
        wanted = impl.EVENT_HANDSHAKE_SUCCEEDED if verdict else impl.EVENT_HANDSHAKE_FAILED_AUTH
        events = monitor_events_until(monitor, wanted)
        if verdict:
            client.send(b"ping")
            assert server.poll(DEADLINE_MS) and server.recv() == b"ping"
        else:
            assert (int(impl.EVENT_HANDSHAKE_FAILED_AUTH), 400) in events
        assert answer.asked and answer.asked[0][0] == "global"
        client.disable_monitor()
        for sock in (monitor, client, server):
            sock.close(linger=0)
    finally:
        auth.stop()
    assert not auth.is_alive()


def test_thread_authenticator_stop_cancels_a_pending_async_callback(ctx: Any) -> None:
    """zloop only (pyzmq's stop() would wait for the callback forever): stop() cancels the await,
    the held request is answered 500, and the thread ends."""
    pytest.importorskip("nacl")
    held = threading.Event()

    class Forever(Provider):
        async def callback(self, domain: str, key: bytes) -> bool:  # type: ignore[override]
            held.set()
            await asyncio.Event().wait()
            return True

    auth = zloop.auth.ThreadAuthenticator(ctx)
    auth.start()
    auth.configure_curve_callback("global", Forever(True))
    server, client, monitor = _curve_pair(zloop, ctx)
    assert held.wait(DEADLINE)  # the request is being held by the callback
    auth.stop()
    assert not auth.is_alive()
    assert (int(zloop.EVENT_HANDSHAKE_FAILED_AUTH), 500) in monitor_events_until(
        monitor, zloop.EVENT_HANDSHAKE_FAILED_AUTH
    )
    client.disable_monitor()
    for sock in (monitor, client, server):
        sock.close(linger=0)
