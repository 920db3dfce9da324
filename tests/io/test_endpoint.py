from __future__ import annotations

import errno

import pytest

from zloop.constants import Errno
from zloop.errors import ZMQError
from zloop.io.endpoint import Endpoint, parse_endpoint


@pytest.mark.parametrize(
    ("addr", "bind", "host", "port", "v6"),
    [
        ("tcp://127.0.0.1:5555", False, "127.0.0.1", 5555, False),
        ("tcp://127.0.0.1:5555", True, "127.0.0.1", 5555, False),
        ("tcp://localhost:80", False, "localhost", 80, False),
        ("tcp://example.com:65535", False, "example.com", 65535, False),
        ("tcp://*:5555", True, "*", 5555, False),
        ("tcp://*:*", True, "*", 0, False),
        ("tcp://*:0", True, "*", 0, False),
        ("tcp://127.0.0.1:0", True, "127.0.0.1", 0, False),
        ("tcp://[::1]:5555", False, "::1", 5555, True),
        ("tcp://[::]:*", True, "::", 0, True),
        ("tcp://[fe80::1%lo]:1", False, "fe80::1%lo", 1, True),
    ],
)
def test_tcp_good(addr: str, bind: bool, host: str, port: int, v6: bool) -> None:
    ep = parse_endpoint(addr, bind=bind)
    assert ep.transport == "tcp"
    assert (ep.host, ep.port, ep.ipv6_literal) == (host, port, v6)
    assert str(ep) == addr


@pytest.mark.parametrize(
    ("addr", "bind", "fragment"),
    [
        ("tcp://127.0.0.1", False, "missing port"),
        ("tcp://127.0.0.1:", False, "missing port"),
        ("tcp://:5555", True, "missing host"),
        ("tcp://", True, "missing host:port"),
        ("tcp://127.0.0.1:abc", False, "not a number"),
        ("tcp://127.0.0.1:70000", False, "out of range"),
        ("tcp://127.0.0.1:-1", False, "not a number"),
        ("tcp://*:5555", False, "only valid for bind"),
        ("tcp://*:*", False, "only valid for bind"),
        ("tcp://127.0.0.1:*", False, "only valid for bind"),
        ("tcp://127.0.0.1:0", False, "only valid for bind"),
        ("tcp://::1:5555", False, "brackets"),
        ("tcp://[::1:5555", False, "unterminated"),
        ("tcp://[::1]5555", False, "missing port after"),
        ("tcp://[nonsense]:5555", False, "not an IPv6 address"),
        ("tcp://bad host:5555", False, "not a valid address"),
        ("tcp://10.0.0.1:5555;10.0.0.2:5555", False, "source-address"),
        ("127.0.0.1:5555", False, "transport://"),
        ("ipc://", True, "empty"),
        ("ipc://*", False, "only valid for bind"),
        ("ipc://@", True, "abstract ipc name is empty"),
        ("inproc://", True, "empty"),
    ],
)
def test_bad(addr: str, bind: bool, fragment: str) -> None:
    with pytest.raises(ZMQError) as info:
        parse_endpoint(addr, bind=bind)
    assert info.value.errno == Errno.EINVAL
    assert fragment in str(info.value)
    assert addr in str(info.value)


@pytest.mark.parametrize("addr", ["pgm://eth0;239.1.1.1:5555", "udp://1.2.3.4:5", "foo://x"])
def test_unsupported_transport(addr: str) -> None:
    with pytest.raises(ZMQError) as info:
        parse_endpoint(addr, bind=False)
    assert info.value.errno == Errno.EPROTONOSUPPORT
    assert addr.split(":")[0] in str(info.value)


def test_ipc_forms() -> None:
    assert parse_endpoint("ipc:///tmp/x.sock", bind=True).path == "/tmp/x.sock"
    assert parse_endpoint("ipc://relative.sock", bind=False).path == "relative.sock"
    assert parse_endpoint("ipc://*", bind=True).path == "*"
    abstract = parse_endpoint("ipc://@zloop-test", bind=True)
    assert abstract.path == "\0zloop-test"
    assert str(abstract) == "ipc://@zloop-test"


def test_ipc_too_long() -> None:
    with pytest.raises(ZMQError) as info:
        parse_endpoint("ipc:///" + "x" * 200, bind=True)
    assert info.value.errno == errno.ENAMETOOLONG


def test_inproc_and_type() -> None:
    assert parse_endpoint("inproc://a-b", bind=True) == Endpoint("inproc", "a-b")
    with pytest.raises(ZMQError):
        parse_endpoint(b"tcp://x:1", bind=False)  # type: ignore[arg-type]
