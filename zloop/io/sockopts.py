"""OS socket helpers shared by listeners and connecters: options, address resolution, names."""

from __future__ import annotations

import contextlib
import encodings.idna  # noqa: F401  (see below)
import socket

from zloop import _real
from zloop.io.endpoint import Endpoint
from zloop.options import Options


def tune_socket(sock: socket.socket, options: Options) -> None:
    """Apply SNDBUF/RCVBUF, TOS, TCP_NODELAY and TCP keepalive options (libzmq's rules)."""
    if options.sndbuf >= 0:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, options.sndbuf)
    if options.rcvbuf >= 0:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, options.rcvbuf)
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if options.tos:
        with contextlib.suppress(OSError):
            if sock.family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_TCLASS, options.tos)
            else:
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, options.tos)
    if options.tcp_keepalive != -1:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, options.tcp_keepalive)
        if options.tcp_keepalive == 1:
            for value, name in (
                (options.tcp_keepalive_cnt, "TCP_KEEPCNT"),
                (options.tcp_keepalive_idle, "TCP_KEEPIDLE"),
                (options.tcp_keepalive_intvl, "TCP_KEEPINTVL"),
            ):
                if value != -1 and hasattr(socket, name):
                    sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), value)


def format_tcp(host: str, port: int) -> str:
    return f"tcp://[{host}]:{port}" if ":" in host else f"tcp://{host}:{port}"


def peer_ip(sock: socket.socket) -> str:
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return ""
    try:
        return str(sock.getpeername()[0])
    except OSError:
        return ""


def resolve_tcp(
    endpoint: Endpoint, options: Options, *, passive: bool
) -> tuple[int, tuple[str, int]]:
    """(family, sockaddr) for a tcp endpoint; raises OSError/socket.gaierror."""
    host = endpoint.host or ""
    port = endpoint.port or 0
    if host == "*":
        return (
            (socket.AF_INET6, ("::", port)) if options.ipv6 else (socket.AF_INET, ("0.0.0.0", port))
        )
    if endpoint.ipv6_literal:
        return socket.AF_INET6, (host, port)
    family = socket.AF_UNSPEC if options.ipv6 else socket.AF_INET
    flags = socket.AI_PASSIVE if passive else 0
    # getaddrinfo encodes a str host with the "idna" codec, imported here at zloop's import rather
    # than on the I/O thread's first resolve: a fork() in the middle of that import would leave the
    # child's import lock for it held forever (its first tcp connect would hang).
    infos = _real.getaddrinfo(host, port, family, socket.SOCK_STREAM, 0, flags)
    fam, _, _, _, addr = infos[0]
    return int(fam), (str(addr[0]), int(addr[1]))
