"""Security settings never fall back silently (issue 11, part 5).

An option of a mechanism that cannot run raises ``ZMQError(EINVAL)`` when set or read, as libzmq
does when built without that mechanism: GSSAPI always (zloop has none; the pyzmq wheel's libzmq has
none either, so the reference run shows the very same errors), CURVE without PyNaCl. Where zloop
refuses what libzmq accepts and then ignores (a mechanism on a STREAM socket, a ZAP handler socket
of the wrong type), the test says so.
"""

from __future__ import annotations

import contextlib
import errno
import sys
from typing import Any

import pytest
from zl_testing import DEADLINE_MS, monitor_events_until

import zloop

GSSAPI_OPTIONS = [
    ("GSSAPI_SERVER", 1),
    ("GSSAPI_SERVER", 0),
    ("GSSAPI_PLAINTEXT", 1),
    ("GSSAPI_PRINCIPAL", b"zloop@EXAMPLE.ORG"),
    ("GSSAPI_SERVICE_PRINCIPAL", b"zmq/host@EXAMPLE.ORG"),
    ("GSSAPI_PRINCIPAL_NAMETYPE", 0),
    ("GSSAPI_SERVICE_PRINCIPAL_NAMETYPE", 1),
]


def _einval(call: Any, *args: Any) -> str:
    with pytest.raises(Exception) as info:
        call(*args)
    assert getattr(info.value, "errno", None) == errno.EINVAL, repr(info.value)
    return str(info.value)


def test_has_gssapi_is_false(impl: Any) -> None:
    assert impl.has("gssapi") is False


@pytest.mark.parametrize(("name", "value"), GSSAPI_OPTIONS)
def test_gssapi_options_raise_einval(impl: Any, impl_ctx: Any, name: str, value: Any) -> None:
    """Set (by number and by attribute) and get both raise EINVAL; nothing is recorded."""
    sock = impl_ctx.socket(impl.DEALER)
    option = getattr(impl, name)
    assert int(option) == int(getattr(zloop, name))  # the numbers are libzmq's
    message = _einval(sock.setsockopt, option, value)
    if impl is zloop:
        assert "GSSAPI" in message
    _einval(setattr, sock, name.lower(), value)
    _einval(sock.getsockopt, option)
    assert sock.getsockopt(impl.MECHANISM) == impl.NULL
    sock.close(0)


def test_gssapi_server_lets_no_null_client_in(impl: Any, impl_ctx: Any) -> None:
    """The reported bug: GSSAPI_SERVER=1 was accepted and a NULL client then got in. Now the option
    is refused and the socket stays an honest NULL server."""
    server = impl_ctx.socket(impl.PULL)
    _einval(setattr, server, "gssapi_server", 1)
    assert server.getsockopt(impl.MECHANISM) == impl.NULL
    server.close(0)


# -- CURVE without PyNaCl ---------------------------------------------------------------------------

CURVE_SETTINGS = [
    ("CURVE_SERVER", 1),
    ("CURVE_SERVER", 0),
    ("CURVE_PUBLICKEY", b"k" * 32),
    ("CURVE_SECRETKEY", b"k" * 32),
    ("CURVE_SERVERKEY", b"k" * 32),
]


@pytest.mark.parametrize(("name", "value"), CURVE_SETTINGS)
def test_curve_options_without_pynacl_raise_einval(
    monkeypatch: pytest.MonkeyPatch, ctx: zloop.Context, name: str, value: Any
) -> None:
    """libzmq built without CURVE refuses every CURVE option with EINVAL (their cases are compiled
    out of ``options_t::setsockopt``/``getsockopt``). zloop without PyNaCl used to accept the keys
    and fail later, in the I/O thread, at connect time (a traceback and no connection)."""
    monkeypatch.setitem(sys.modules, "nacl", None)
    monkeypatch.setitem(sys.modules, "nacl.bindings", None)
    assert not zloop.has("curve")
    sock = ctx.socket(zloop.PUSH)
    option = getattr(zloop, name)
    assert "PyNaCl" in _einval(sock.setsockopt, option, value)
    _einval(sock.getsockopt, option)
    assert sock.mechanism == zloop.NULL
    sock.close(0)


# -- STREAM: raw bytes, no mechanism --------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CURVE_SERVER", 1),
        ("CURVE_SERVERKEY", b"k" * 32),
        ("PLAIN_SERVER", 1),
        ("PLAIN_USERNAME", b"admin"),
        ("ZAP_DOMAIN", b"global"),
    ],
)
def test_stream_refuses_security(impl: Any, impl_ctx: Any, name: str, value: Any) -> None:
    """⚠ Deliberate difference: libzmq accepts a mechanism (or a ZAP domain) on a STREAM socket and
    then exchanges raw, unauthenticated bytes with anyone; zloop refuses the setting at once."""
    if name.startswith("CURVE"):
        pytest.importorskip("nacl")
    sock = impl_ctx.socket(impl.STREAM)
    option = getattr(impl, name)
    if impl is zloop:
        assert "STREAM" in _einval(sock.setsockopt, option, value)
        assert sock.mechanism == zloop.NULL and sock.zap_domain == b""
    else:
        sock.setsockopt(option, value)  # libzmq: accepted, and ignored on the wire
    sock.close(0)


def test_stream_accepts_null_settings(ctx: zloop.Context) -> None:
    """Settings that select NULL (or clear a domain) stay allowed on STREAM."""
    sock = ctx.socket(zloop.STREAM)
    sock.plain_server = 0
    sock.setsockopt(zloop.PLAIN_USERNAME, None)
    sock.setsockopt(zloop.ZAP_DOMAIN, None)
    assert sock.mechanism == zloop.NULL
    sock.close(0)


# -- ZAP_DOMAIN ---------------------------------------------------------------------------------


def test_empty_zap_domain_is_einval(impl: Any, impl_ctx: Any) -> None:
    """libzmq refuses an empty ZAP_DOMAIN given as a buffer (only a NULL pointer clears it)."""
    sock = impl_ctx.socket(impl.PULL)
    sock.zap_domain = b"global"
    _einval(sock.setsockopt, impl.ZAP_DOMAIN, b"")
    assert sock.zap_domain == b"global"
    _einval(sock.setsockopt, impl.ZAP_DOMAIN, b"d" * 256)
    sock.close(0)


def test_zap_domain_none_clears(ctx: zloop.Context) -> None:
    """zloop's spelling of libzmq's NULL pointer (pyzmq cannot pass one)."""
    sock = ctx.socket(zloop.PULL)
    sock.zap_domain = b"global"
    sock.setsockopt(zloop.ZAP_DOMAIN, None)
    assert sock.zap_domain == b""
    sock.close(0)


# -- a ZAP handler socket of the wrong type -----------------------------------------------------


@pytest.mark.parametrize("mechanism", ["NULL", "CURVE"])
def test_wrong_type_zap_handler_refuses_instead_of_admitting(
    ctx: zloop.Context, mechanism: str
) -> None:
    """A DEALER bound at inproc://zeromq.zap.01 cannot answer ZAP. zloop took it for "no handler"
    and so admitted NULL (with a domain) and CURVE clients unauthenticated. libzmq asserts there
    (the process aborts, ``session_base_t::zap_connect``); zloop refuses the handshake as when ZAP
    is required and missing: HANDSHAKE_FAILED_NO_DETAIL with EFAULT, nothing delivered."""
    wrong = ctx.socket(zloop.DEALER)
    wrong.bind("inproc://zeromq.zap.01")
    server = ctx.socket(zloop.PULL)
    monitor = server.get_monitor_socket()
    client = ctx.socket(zloop.PUSH)
    if mechanism == "CURVE":
        pytest.importorskip("nacl")
        public, secret = zloop.curve_keypair()
        server.curve_server = True
        server.curve_secretkey = secret
        client.curve_serverkey = public
        client.curve_publickey, client.curve_secretkey = zloop.curve_keypair()
    else:
        server.zap_domain = b"global"
    server.bind("tcp://127.0.0.1:*")
    client.connect(server.last_endpoint.decode())
    client.send(b"must not arrive")
    seen = monitor_events_until(monitor, zloop.EVENT_HANDSHAKE_FAILED_NO_DETAIL, DEADLINE_MS)
    assert (zloop.EVENT_HANDSHAKE_FAILED_NO_DETAIL, errno.EFAULT) in seen
    assert zloop.EVENT_HANDSHAKE_SUCCEEDED not in [event for event, _ in seen]
    assert server.poll(0) == 0
    assert wrong.poll(0) == 0  # and no request was sent to it
    for sock in (client, server, monitor, wrong):
        sock.close(0)


# -- one side only, and inproc -------------------------------------------------------------------

ONE_SIDED = {
    "plain-server-null-client": ({"plain_server": 1}, {}),
    "null-server-plain-client": ({}, {"plain_username": b"admin", "plain_password": b"secret"}),
    "curve-server-null-client": ({"curve_server": 1}, {}),
}


@pytest.mark.parametrize("case", list(ONE_SIDED))
def test_one_sided_mechanism_is_a_mismatch(impl: Any, impl_ctx: Any, case: str) -> None:
    """A mechanism on one side only never degrades to NULL: the greetings disagree, the side that
    reads the other's first reports MECHANISM_MISMATCH, and nothing is delivered."""
    server_opts, client_opts = ONE_SIDED[case]
    if "curve_server" in server_opts:
        pytest.importorskip("nacl")
        server_opts = {**server_opts, "curve_secretkey": impl.curve_keypair()[1]}
    server = impl_ctx.socket(impl.PULL)
    client = impl_ctx.socket(impl.PUSH)
    for sock, opts in ((server, server_opts), (client, client_opts)):
        sock.linger = 0
        for name, value in opts.items():
            setattr(sock, name, value)
    s_mon = server.get_monitor_socket()
    c_mon = client.get_monitor_socket()
    server.bind("tcp://127.0.0.1:*")
    client.connect(server.last_endpoint.decode())
    with contextlib.suppress(impl.Again):
        client.send(b"must not arrive", impl.NOBLOCK)
    seen = monitor_events_until(s_mon, impl.EVENT_DISCONNECTED) + monitor_events_until(
        c_mon, impl.EVENT_DISCONNECTED
    )
    mismatch = int(zloop.PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH)
    assert (impl.EVENT_HANDSHAKE_FAILED_PROTOCOL, mismatch) in seen
    assert impl.EVENT_HANDSHAKE_SUCCEEDED not in [event for event, _ in seen]
    assert server.poll(0) == 0
    for sock in (client, server, s_mon, c_mon):
        sock.close(0)


def test_inproc_has_no_security(impl: Any, impl_ctx: Any) -> None:
    """As libzmq: mechanisms apply to tcp/ipc connections; an inproc connection never handshakes,
    so a PLAIN server takes a NULL client's messages there (documented in zloop.options)."""
    server = impl_ctx.socket(impl.PULL)
    server.plain_server = 1
    server.bind("inproc://no-security")
    client = impl_ctx.socket(impl.PUSH)
    client.connect("inproc://no-security")
    client.send(b"in-process")
    assert server.poll(DEADLINE_MS) and server.recv() == b"in-process"
    server.close(0)
    client.close(0)
