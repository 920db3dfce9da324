"""OS socket helpers shared by listeners and connecters: options, address resolution, names."""

from __future__ import annotations

import contextlib
import encodings.idna  # noqa: F401  (see below)
import socket

from zloop import _real
from zloop.io.endpoint import Endpoint
from zloop.options import Options

# The send buffer an ipc (AF_UNIX stream) socket gets when SNDBUF is left at -1. Linux does not
# autotune AF_UNIX buffers the way it does tcp's: the default (net.core.wmem_default, 208 KiB on
# most systems) is all that can be in flight from one side, so a 1 MiB message needs five or six
# write / wake / read cycles between the two processes. A larger buffer lets one write carry a
# whole large message. The kernel caps the request at net.core.wmem_max (and doubles it for its
# bookkeeping); a socket that already has more is left alone, and a refusal is ignored: this is
# a tuning, not an option the user set. An explicit SNDBUF (>= 0) always wins.
IPC_SNDBUF = 1 << 20


def tune_socket(sock: socket.socket, options: Options) -> None:
    """Apply SNDBUF/RCVBUF, TOS, TCP_NODELAY and TCP keepalive options (libzmq's rules).

    One deliberate difference from libzmq: an ipc socket whose SNDBUF is the default (-1) gets a
    send buffer of at least :data:`IPC_SNDBUF` where the kernel allows it (see above).
    """
    if options.sndbuf >= 0:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, options.sndbuf)
    elif sock.family == getattr(socket, "AF_UNIX", None):
        _raise_sndbuf(sock, IPC_SNDBUF)
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


def _raise_sndbuf(sock: socket.socket, size: int) -> None:
    """Best effort: give ``sock`` a send buffer of at least ``size`` bytes (never shrink it)."""
    with contextlib.suppress(OSError):
        if sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) < size:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)


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
