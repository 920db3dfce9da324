"""zloop.auth: the thread authenticator (IP lists, PLAIN passwords, CURVE keys) and certificates."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from zl_testing import DEADLINE_MS

import zloop
from zloop.auth import (
    CURVE_ALLOW_ANY,
    Authenticator,
    ThreadAuthenticator,
    create_certificates,
    load_certificate,
    load_certificates,
)
from zloop.constants import Event
from zloop.monitor import recv_monitor_message


def _request(
    mech: bytes, *creds: bytes, address: bytes = b"127.0.0.1", domain: bytes = b""
) -> list[bytes]:
    return [b"1.0", b"1", domain, address, b"", mech, *creds]


def test_decisions_follow_pyzmq(ctx: Any) -> None:
    # Reasons as pyzmq 27's (tests/compat/test_compat_auth.py runs the same requests on both).
    auth = Authenticator(ctx)
    assert auth.decide(_request(b"NULL"))[2:5] == [b"200", b"OK", b"anonymous"]
    assert auth.decide(_request(b"PLAIN", b"u", b"p"))[2:4] == [b"400", b"No passwords defined"]
    auth.configure_plain("*", {"u": "p"})
    assert auth.decide(_request(b"PLAIN", b"u", b"p"))[2:5] == [b"200", b"OK", b"u"]
    assert auth.decide(_request(b"PLAIN", b"u", b"x"))[2:4] == [b"400", b"Invalid password"]
    assert auth.decide(_request(b"PLAIN", b"v", b"p"))[2:4] == [b"400", b"Invalid username"]
    assert auth.decide(_request(b"PLAIN", b"u", b"p", domain=b"other"))[3] == b"Invalid domain"
    auth.deny("10.0.0.1")
    assert auth.decide(_request(b"NULL", address=b"10.0.0.1"))[2:4] == [b"400", b"Address denied"]
    with pytest.raises(ValueError, match="allow or deny"):
        auth.allow("127.0.0.1")  # a list is allow or deny, not both (pyzmq)
    allowing = Authenticator(ctx)
    allowing.configure_plain("*", {"u": "p"})
    allowing.allow("127.0.0.1")
    assert allowing.decide(_request(b"NULL", address=b"10.0.0.2"))[3] == b"Address not allowed"
    assert allowing.decide(_request(b"PLAIN", b"u", b"p"))[2] == b"200"
    assert auth.decide([b"2.0", b"1", b"", b"", b"", b"NULL"])[3] == b"Invalid version"


def test_curve_decisions(ctx: Any, tmp_path: Path) -> None:
    pytest.importorskip("nacl")
    auth = Authenticator(ctx)
    public, _ = load_certificate(create_certificates(tmp_path, "client")[0])
    raw = zloop.z85.decode(public)
    assert auth.decide(_request(b"CURVE", raw))[3] == b"Unknown domain"
    auth.configure_curve("*", tmp_path)
    assert auth.decide(_request(b"CURVE", raw))[2:5] == [b"200", b"OK", public]
    assert auth.decide(_request(b"CURVE", bytes(32)))[3] == b"Unknown key"
    auth.configure_curve("*", CURVE_ALLOW_ANY)
    assert auth.decide(_request(b"CURVE", bytes(32)))[2] == b"200"


def test_certificate_files(tmp_path: Path) -> None:
    pytest.importorskip("nacl")
    public_file, secret_file = create_certificates(tmp_path, "server", metadata={"name": "srv"})
    assert public_file.endswith("server.key") and secret_file.endswith("server.key_secret")
    assert os.stat(secret_file).st_mode & 0o077 == 0
    public, secret = load_certificate(secret_file)
    assert secret is not None and len(public) == 40 and len(secret) == 40
    assert zloop.curve_public(secret) == public
    assert load_certificate(public_file) == (public, None)
    assert 'name = "srv"' in Path(public_file).read_text()
    assert load_certificates(tmp_path) == {public: True}
    with pytest.raises(OSError):
        load_certificates(tmp_path / "missing")
    (tmp_path / "bad.key").write_text("curve\n")
    with pytest.raises(ValueError):
        load_certificate(tmp_path / "bad.key")


@pytest.mark.interop
def test_pyzmq_reads_our_certificates_and_we_read_theirs(tmp_path: Path) -> None:
    pytest.importorskip("nacl")
    import zmq.auth

    ours = tmp_path / "ours"
    theirs = tmp_path / "theirs"
    ours.mkdir()
    theirs.mkdir()
    _, secret_file = create_certificates(ours, "a")
    assert zmq.auth.load_certificate(secret_file) == load_certificate(secret_file)
    _, their_secret = zmq.auth.create_certificates(str(theirs), "b")
    assert load_certificate(their_secret) == zmq.auth.load_certificate(their_secret)
    assert load_certificates(theirs) == zmq.auth.load_certificates(str(theirs))


def _events_until(monitor: Any, wanted: int) -> list[tuple[int, int]]:
    seen: list[tuple[int, int]] = []
    while not seen or seen[-1][0] != wanted:
        assert monitor.poll(DEADLINE_MS), seen
        msg = recv_monitor_message(monitor)
        seen.append((int(msg["event"]), int(msg["value"])))
    return seen


def test_thread_authenticator_guards_a_plain_server(ctx: Any) -> None:
    with ThreadAuthenticator(ctx) as auth:
        auth.configure_plain("*", {"admin": "secret"})
        server = ctx.socket(zloop.REP)
        server.linger = 0
        server.plain_server = True
        server.bind("tcp://127.0.0.1:*")
        s_mon = server.get_monitor_socket()
        endpoint = server.last_endpoint.decode()
        bad = ctx.socket(zloop.REQ)
        bad.linger = 0
        bad.plain_username, bad.plain_password = b"admin", b"nope"
        bad.connect(endpoint)
        bad.send(b"x")
        assert (Event.HANDSHAKE_FAILED_AUTH, 400) in _events_until(
            s_mon, Event.HANDSHAKE_FAILED_AUTH
        )
        good = ctx.socket(zloop.REQ)
        good.linger = 0
        good.plain_username, good.plain_password = b"admin", b"secret"
        good.connect(endpoint)
        good.send(b"hello")
        assert server.poll(DEADLINE_MS)
        frame = server.recv(copy=False)
        assert frame.bytes == b"hello" and frame.get("User-Id") == "admin"
        server.send(b"ok")
        assert good.poll(DEADLINE_MS) and good.recv() == b"ok"
        assert auth.is_alive()
    assert not auth.is_alive()
    # stop() unbound the ZAP endpoint: a new authenticator can bind it again.
    again = ThreadAuthenticator(ctx)
    again.start()
    again.stop()


def test_thread_authenticator_ip_deny_for_null(ctx: Any) -> None:
    with ThreadAuthenticator(ctx) as auth:
        auth.deny("127.0.0.1")
        server = ctx.socket(zloop.PULL)
        server.linger = 0
        server.zap_domain = b"global"  # NULL asks ZAP only with a domain
        server.bind("tcp://127.0.0.1:*")
        s_mon = server.get_monitor_socket()
        client = ctx.socket(zloop.PUSH)
        client.linger = 0
        client.connect(server.last_endpoint.decode())
        client.send(b"x")
        assert (Event.HANDSHAKE_FAILED_AUTH, 400) in _events_until(
            s_mon, Event.HANDSHAKE_FAILED_AUTH
        )
        assert server.poll(0) == 0


@pytest.mark.interop
def test_zloop_authenticator_guards_libzmq_client(ctx: Any, zctx: Any) -> None:
    import zmq

    with ThreadAuthenticator(ctx) as auth:
        auth.allow("127.0.0.1")
        auth.configure_plain("*", {"admin": "secret"})
        server = ctx.socket(zloop.REP)
        server.linger = 0
        server.plain_server = True
        server.bind("tcp://127.0.0.1:*")
        client = zctx.socket(zmq.REQ)
        client.linger = 0
        client.plain_username, client.plain_password = b"admin", b"secret"
        client.connect(server.last_endpoint.decode())
        client.send(b"from libzmq")
        assert server.poll(DEADLINE_MS)
        frame = server.recv(copy=False)
        assert frame.bytes == b"from libzmq" and frame.get("User-Id") == "admin"
        server.send(b"ok")
        assert client.poll(DEADLINE_MS) and client.recv() == b"ok"


@pytest.mark.interop
def test_pyzmq_authenticator_guards_zloop_client(ctx: Any, zctx: Any) -> None:
    import zmq
    import zmq.auth.thread

    auth = zmq.auth.thread.ThreadAuthenticator(zctx)
    auth.start()
    try:
        auth.allow("127.0.0.1")
        auth.configure_plain("*", {"admin": "secret"})
        server = zctx.socket(zmq.REP)
        server.linger = 0
        server.plain_server = True
        port = server.bind_to_random_port("tcp://127.0.0.1")
        client = ctx.socket(zloop.REQ)
        client.linger = 0
        client.plain_username, client.plain_password = b"admin", b"secret"
        client.connect(f"tcp://127.0.0.1:{port}")
        client.send(b"from zloop")
        assert server.poll(DEADLINE_MS)
        frame = server.recv(copy=False)
        assert frame.bytes == b"from zloop" and frame.get("User-Id") == "admin"
        server.send(b"ok")
        assert client.poll(DEADLINE_MS) and client.recv() == b"ok"
        server.close(0)
    finally:
        auth.stop()
