"""Endpoint strings: ``transport://address`` parsed and checked before anything touches the network.

Accepted forms (libzmq 4.3 semantics):

* ``tcp://HOST:PORT`` — HOST is an IPv4 literal, an IPv6 literal in brackets (``[::1]``), a host name
  (connect; on bind it must resolve to a local address), or ``*`` (bind only: every interface).
  PORT is 1..65535; ``*`` or ``0`` (bind only) picks an ephemeral port. libzmq's source-address form
  ``tcp://src:port;dst:port`` is rejected with EINVAL (not supported by zloop).
* ``ipc://PATH`` — a filesystem path, ``ipc://@name`` for a Linux abstract socket (the ``@`` becomes
  the leading NUL), or ``ipc://*`` on bind, which binds a fresh path in a new temporary directory.
* ``inproc://NAME`` — any non-empty name (handled by the Socket, not by the I/O thread).

Malformed addresses raise ``ZMQError(EINVAL)`` with a message saying what is wrong; transports zloop
does not implement raise ``ZMQError(EPROTONOSUPPORT)``.
"""

from __future__ import annotations

import errno
import socket
import sys
from dataclasses import dataclass

from zloop.constants import Errno
from zloop.errors import ZMQError

#: Longest ipc path (``sockaddr_un.sun_path`` minus the terminating NUL on Linux).
IPC_PATH_MAX = 107 if sys.platform.startswith("linux") else 103

_KNOWN_UNSUPPORTED = frozenset(
    {"pgm", "epgm", "norm", "udp", "ws", "wss", "tipc", "vmci", "vsock", "tls"}
)


@dataclass(frozen=True)
class Endpoint:
    """A parsed endpoint. ``str(endpoint)`` is the address as given."""

    transport: str
    address: str
    #: tcp: host as written (brackets removed; ``*`` = any interface); None otherwise.
    host: str | None = None
    #: tcp: port (0 = ephemeral, bind only); None otherwise.
    port: int | None = None
    #: tcp: the host is an IPv6 literal.
    ipv6_literal: bool = False
    #: ipc: the filesystem path, or ``"\\0name"`` for an abstract name, or ``"*"`` (bind: temp path).
    path: str | None = None

    def __str__(self) -> str:
        return f"{self.transport}://{self.address}"

    @property
    def is_wildcard_host(self) -> bool:
        return self.host == "*"


def _invalid(addr: str, why: str) -> ZMQError:
    return ZMQError(Errno.EINVAL, f"invalid endpoint {addr!r}: {why}")


def parse_endpoint(addr: str, *, bind: bool) -> Endpoint:
    """Parse and validate ``addr`` for ``bind`` (True) or ``connect`` (False)."""
    if not isinstance(addr, str):
        raise ZMQError(Errno.EINVAL, f"endpoint must be a str, not {type(addr).__name__}")
    transport, sep, rest = addr.partition("://")
    if not sep:
        raise _invalid(addr, "expected transport://address (e.g. tcp://127.0.0.1:5555)")
    if transport == "tcp":
        return _parse_tcp(addr, rest, bind)
    if transport == "ipc":
        return _parse_ipc(addr, rest, bind)
    if transport == "inproc":
        if not rest:
            raise _invalid(addr, "inproc name is empty")
        return Endpoint("inproc", rest)
    if transport in _KNOWN_UNSUPPORTED:
        raise ZMQError(
            Errno.EPROTONOSUPPORT, f"transport {transport!r} is not supported by zloop ({addr!r})"
        )
    raise ZMQError(Errno.EPROTONOSUPPORT, f"unknown transport {transport!r} in {addr!r}")


def _parse_port(addr: str, text: str, bind: bool) -> int:
    if text in ("*", "0"):
        if not bind:
            raise _invalid(
                addr, f"port {text!r} is only valid for bind (connect needs a real port)"
            )
        return 0
    if not text:
        raise _invalid(addr, "missing port (expected host:port)")
    if not text.isdigit() or not text.isascii():
        raise _invalid(addr, f"port {text!r} is not a number")
    port = int(text)
    if not 0 < port <= 65535:
        raise _invalid(addr, f"port {port} is out of range 1..65535")
    return port


def _is_ipv4(host: str) -> bool:
    try:
        socket.inet_pton(socket.AF_INET, host)
    except OSError:
        return False
    return True


def _is_ipv6(host: str) -> bool:
    try:
        socket.inet_pton(socket.AF_INET6, host.split("%", 1)[0])
    except OSError:
        return False
    return True


def _valid_hostname(host: str) -> bool:
    if len(host) > 253 or not host.isascii():
        return False
    labels = host.rstrip(".").split(".")
    return all(
        0 < len(label) <= 63
        and all(c.isalnum() or c in "-_" for c in label)
        and not label.startswith("-")
        for label in labels
    )


def _parse_tcp(addr: str, rest: str, bind: bool) -> Endpoint:
    if ";" in rest:
        raise _invalid(addr, "the source-address form 'src;dst' is not supported")
    if not rest:
        raise _invalid(addr, "missing host:port")
    if rest.startswith("["):
        close = rest.find("]")
        if close < 0:
            raise _invalid(addr, "unterminated '[' in IPv6 address")
        host = rest[1:close]
        tail = rest[close + 1 :]
        if not tail.startswith(":"):
            raise _invalid(addr, "missing port after ']' (expected [address]:port)")
        port_text = tail[1:]
        if not _is_ipv6(host):
            raise _invalid(addr, f"{host!r} is not an IPv6 address")
        return Endpoint("tcp", rest, host, _parse_port(addr, port_text, bind), ipv6_literal=True)
    host, sep, port_text = rest.rpartition(":")
    if not sep:
        raise _invalid(addr, "missing port (expected host:port)")
    if not host:
        raise _invalid(addr, "missing host (use '*' to bind every interface)")
    if ":" in host:
        if _is_ipv6(host):
            raise _invalid(addr, "IPv6 addresses must be written in brackets, e.g. [::1]:5555")
        raise _invalid(addr, f"host {host!r} is malformed")
    port = _parse_port(addr, port_text, bind)
    if host == "*":
        if not bind:
            raise _invalid(
                addr, "host '*' is only valid for bind; connect needs a host name or address"
            )
        return Endpoint("tcp", rest, host, port)
    if not _is_ipv4(host) and not _valid_hostname(host):
        raise _invalid(addr, f"host {host!r} is not a valid address or host name")
    return Endpoint("tcp", rest, host, port)


def _parse_ipc(addr: str, rest: str, bind: bool) -> Endpoint:
    if not rest:
        raise _invalid(addr, "ipc path is empty")
    if rest == "*":
        if not bind:
            raise _invalid(addr, "ipc://* is only valid for bind")
        return Endpoint("ipc", rest, path="*")
    if rest.startswith("@"):
        if not sys.platform.startswith("linux"):
            raise _invalid(addr, "abstract ipc names (@name) exist only on Linux")
        if len(rest) == 1:
            raise _invalid(addr, "abstract ipc name is empty")
        path = "\0" + rest[1:]
    else:
        path = rest
    if "\0" in rest:
        raise _invalid(addr, "ipc path contains a NUL byte")
    if len(path.encode()) > IPC_PATH_MAX:
        raise ZMQError(
            errno.ENAMETOOLONG,
            f"ipc path too long ({len(path.encode())} bytes, at most {IPC_PATH_MAX}): {addr!r}",
        )
    return Endpoint("ipc", rest, path=path)
