"""Links between a pyzmq socket and a hand-driven zloop Connection over a real OS connection."""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zmtp_raw import DEFAULT_TIMEOUT

from zloop.constants import SocketType

if TYPE_CHECKING:
    from zmtp_wire import Wire

TIMEOUT_MS = int(DEFAULT_TIMEOUT * 1000)


def make_zsocket(ctx: Any, kind: int, options: Mapping[Any, Any] | None = None) -> Any:
    """A pyzmq socket with LINGER 0 and bounded blocking send/recv."""
    sock = ctx.socket(kind)
    sock.linger = 0
    sock.rcvtimeo = TIMEOUT_MS
    sock.sndtimeo = TIMEOUT_MS
    for option, value in (options or {}).items():
        sock.setsockopt(option, value)
    return sock


@dataclass
class Link:
    """One pyzmq socket and the zloop Connection wired to it."""

    zsock: Any
    wire: Wire
    endpoint: str


class Linker:
    """Creates (pyzmq socket, zloop Connection) links and closes what it created."""

    def __init__(self, ctx: Any, tmp_path: Path) -> None:
        self.ctx = ctx
        self.tmp_path = tmp_path
        self._wires: list[Wire] = []
        self._sockets: list[socket.socket] = []
        self._count = 0

    def zsocket(self, kind: int, options: Mapping[Any, Any] | None = None) -> Any:
        return make_zsocket(self.ctx, kind, options)

    def raw_connect(self, endpoint: str) -> socket.socket:
        """A plain blocking OS socket connected to a pyzmq ``tcp://`` or ``ipc://`` endpoint."""
        if endpoint.startswith("ipc://"):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(DEFAULT_TIMEOUT)
            sock.connect(endpoint[len("ipc://") :])
        else:
            host, port = endpoint[len("tcp://") :].rsplit(":", 1)
            sock = socket.create_connection((host, int(port)), timeout=DEFAULT_TIMEOUT)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sockets.append(sock)
        return sock

    def listen(self, transport: str) -> tuple[socket.socket, str]:
        """A listening OS socket and the endpoint pyzmq should connect to."""
        if transport == "ipc":
            self._count += 1
            path = str(self.tmp_path / f"l{self._count}.ipc")
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            listener.bind(path)
            endpoint = f"ipc://{path}"
        else:
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.bind(("127.0.0.1", 0))
            endpoint = f"tcp://127.0.0.1:{listener.getsockname()[1]}"
        listener.listen(8)
        listener.settimeout(DEFAULT_TIMEOUT)
        self._sockets.append(listener)
        return listener, endpoint

    def bind(self, zsock: Any, transport: str = "tcp") -> str:
        if transport == "ipc":
            self._count += 1
            zsock.bind(f"ipc://{self.tmp_path / f'b{self._count}.ipc'}")
        else:
            zsock.bind("tcp://127.0.0.1:0")
        return str(zsock.last_endpoint.decode())

    def wire(
        self, sock: socket.socket, own_type: SocketType, *, zsockets: Any = (), **conn_kwargs: Any
    ) -> Wire:
        # Imported here so the raw-socket tests run even before zloop.protocol exists.
        from zmtp_wire import Wire

        from zloop.protocol import Connection

        wire = Wire(sock, Connection(own_type, **conn_kwargs), zsockets=zsockets)
        self._wires.append(wire)
        return wire

    def connect_to(
        self, endpoint: str, own_type: SocketType, *, zsockets: Any = (), **conn_kwargs: Any
    ) -> Wire:
        """A zloop Connection over a fresh OS connection to an endpoint pyzmq has bound."""
        return self.wire(self.raw_connect(endpoint), own_type, zsockets=zsockets, **conn_kwargs)

    def link(
        self,
        zmq_type: int,
        own_type: SocketType,
        mode: str = "zloop-connects",
        *,
        transport: str = "tcp",
        options: Mapping[Any, Any] | None = None,
        **conn_kwargs: Any,
    ) -> Link:
        """A pyzmq socket of ``zmq_type`` and a zloop Connection of ``own_type`` joined by a real
        OS connection; in ``zloop-accepts`` mode pyzmq connects to a socket this test listens on."""
        zsock = self.zsocket(zmq_type, options)
        if mode == "zloop-connects":
            endpoint = self.bind(zsock, transport)
            sock = self.raw_connect(endpoint)
        elif mode == "zloop-accepts":
            listener, endpoint = self.listen(transport)
            zsock.connect(endpoint)
            sock, _ = listener.accept()
            if transport == "tcp":
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._sockets.append(sock)
        else:
            raise ValueError(mode)
        return Link(zsock, self.wire(sock, own_type, zsockets=[zsock], **conn_kwargs), endpoint)

    def close(self) -> None:
        for wire in self._wires:
            wire.close()
        for sock in self._sockets:
            sock.close()
