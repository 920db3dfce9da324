"""CURVE between real sockets (issue 7): ZAP refusals with certificate directories, tampering and
replay by a man in the middle, and socket patterns over encrypted connections.

test_curve.py covers the mechanism itself (layouts, hostile input) and raw-socket interop. Here every
peer is a real socket, refusals are observed the way an application sees them (monitor events), and
most tests also run with libzmq on one or both sides: the libzmq-only runs are the reference for the
values asserted, so a zloop run passing the same assertions behaves as libzmq 4.3.5 does.

The man in the middle (:class:`Relay`) is a small TCP relay with plain sockets that parses ZMTP on
its way (64-byte greeting, then frames): after the handshake every frame is a CURVE MESSAGE, so it
can count them (heartbeats included), flip a ciphertext byte, re-send an earlier one or swallow them.
"""

from __future__ import annotations

import contextlib
import errno
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from zl_testing import DEADLINE, DEADLINE_MS, endpoint_for, monitor_events_until

pytest.importorskip("nacl")

import zloop
from zloop.auth import (
    CURVE_ALLOW_ANY,
    ThreadAuthenticator,
    create_certificates,
    load_certificate,
)
from zloop.constants import Event, ProtocolErrorCode

HFP = int(Event.HANDSHAKE_FAILED_PROTOCOL)
HFA = int(Event.HANDSHAKE_FAILED_AUTH)
NO_DETAIL = int(Event.HANDSHAKE_FAILED_NO_DETAIL)
SUCCEEDED = int(Event.HANDSHAKE_SUCCEEDED)
DISCONNECTED = int(Event.DISCONNECTED)
CONNECTED = int(Event.CONNECTED)
EVENT_ALL = 0xFFFF
CRYPTOGRAPHIC = int(ProtocolErrorCode.ZMTP_CRYPTOGRAPHIC)
INVALID_SEQUENCE = int(ProtocolErrorCode.ZMTP_INVALID_SEQUENCE)
FAILURES = {HFP, HFA, NO_DETAIL}

MESSAGE = b"\x07MESSAGE"


# ----------------------------------------------------------------------------- libraries and keys


@dataclass
class Lib:
    """One side's library: the module (zloop or zmq) and a context of it."""

    name: str
    mod: Any
    ctx: Any

    def socket(self, kind: str, linger_ms: int = 0) -> Any:
        sock = self.ctx.socket(getattr(self.mod, kind))
        sock.setsockopt(self.mod.LINGER, linger_ms)
        return sock

    def authenticator(self) -> Any:
        if self.mod is zloop:
            return ThreadAuthenticator(self.ctx)
        import zmq.auth.thread

        return zmq.auth.thread.ThreadAuthenticator(self.ctx)


@pytest.fixture
def libs(ctx: Any, request: pytest.FixtureRequest) -> Callable[[str], Lib]:
    """``libs("zloop")`` / ``libs("libzmq")`` (the pyzmq context is made only when asked for)."""

    def get(name: str) -> Lib:
        if name == "zloop":
            return Lib(name, zloop, ctx)
        zmq = pytest.importorskip("zmq")
        if not zmq.has("curve"):
            pytest.skip("libzmq without CURVE")
        return Lib(name, zmq, request.getfixturevalue("zctx"))

    return get


@dataclass
class Keys:
    """Z85 key pairs from certificate files; ``admitted`` holds the public certificates of
    ``client`` and ``client2`` only (``stranger`` is a valid pair nobody admitted)."""

    server: tuple[bytes, bytes]
    client: tuple[bytes, bytes]
    client2: tuple[bytes, bytes]
    stranger: tuple[bytes, bytes]
    admitted: Path


@pytest.fixture
def keys(tmp_path: Path) -> Keys:
    def pair(folder: str, name: str) -> tuple[bytes, bytes]:
        path = tmp_path / folder
        path.mkdir(exist_ok=True)
        public, secret = load_certificate(create_certificates(path, name)[1])
        assert secret is not None
        return public, secret

    return Keys(
        server=pair("server", "server"),
        client=pair("admitted", "client"),
        client2=pair("admitted", "client2"),
        stranger=pair("others", "stranger"),
        admitted=tmp_path / "admitted",
    )


def curve_server(lib: Lib, kind: str, keys: Keys) -> Any:
    sock = lib.socket(kind)
    sock.curve_server = True
    sock.curve_secretkey = keys.server[1]
    sock.curve_publickey = keys.server[0]
    return sock


def curve_client(
    lib: Lib,
    kind: str,
    server_key: bytes,
    pair: tuple[bytes, bytes] | None,
    *,
    secret: bool = True,
) -> Any:
    """A CURVE client; ``pair=None`` sets the server key only, ``secret=False`` omits the secret."""
    sock = lib.socket(kind)
    sock.curve_serverkey = server_key
    if pair is not None:
        sock.curve_publickey = pair[0]
        if secret:
            sock.curve_secretkey = pair[1]
    return sock


@contextlib.contextmanager
def authenticator(lib: Lib, location: str | Path | None) -> Iterator[Any]:
    """The library's ThreadAuthenticator with ``configure_curve("*", location)`` (None: no
    handler at all)."""
    if location is None:
        yield None
        return
    auth = lib.authenticator()
    auth.start()
    try:
        auth.configure_curve(domain="*", location=str(location))
        yield auth
    finally:
        auth.stop()


def recv(sock: Any, copy: bool = True) -> Any:
    assert sock.poll(DEADLINE_MS), "nothing arrived"
    return sock.recv_multipart(copy=copy)


def send_soon(sock: Any, msg: list[bytes], lib: Lib) -> None:
    """Send without blocking: a refused connection may already have dropped its pipe."""
    with contextlib.suppress(lib.mod.Again):
        sock.send_multipart(msg, lib.mod.NOBLOCK)


def events_within(monitor: Any, seconds: float) -> list[tuple[int, int]]:
    """Every monitor event arriving within ``seconds`` (the poll on the monitor is the wait; 0:
    the events already there)."""
    seen: list[tuple[int, int]] = []
    deadline = time.monotonic() + seconds
    while monitor.poll(max(0, int((deadline - time.monotonic()) * 1000))):
        header = monitor.recv_multipart()[0]
        seen.append(struct.unpack("=HI", bytes(header)[:6]))
    return seen


def interop_params(*combos: tuple[str, ...]) -> list[Any]:
    """pytest params, marked ``interop`` whenever libzmq takes part."""
    return [
        pytest.param(*c, id="-".join(c), marks=[pytest.mark.interop] if "libzmq" in c else [])
        for c in combos
    ]


ALL_PAIRS = interop_params(
    ("zloop", "zloop"), ("zloop", "libzmq"), ("libzmq", "zloop"), ("libzmq", "libzmq")
)


# ----------------------------------------------------------------------------- 1. admission


@pytest.mark.parametrize(
    ("transport", "client_lib"),
    [
        ("tcp", "zloop"),
        ("ipc", "zloop"),
        pytest.param("tcp", "libzmq", marks=pytest.mark.interop),
    ],
)
def test_known_client_admitted_with_its_key_as_user_id(
    libs: Callable[[str], Lib], keys: Keys, tmp_path: Path, transport: str, client_lib: str
) -> None:
    ours, theirs = libs("zloop"), libs(client_lib)
    with authenticator(ours, keys.admitted):
        server = curve_server(ours, "ROUTER", keys)
        server.bind(endpoint_for(transport, tmp_path, "curve"))
        client = curve_client(theirs, "DEALER", keys.server[0], keys.client)
        client.routing_id = b"known"
        client.connect(server.last_endpoint.decode())
        client.send_multipart([b"hello", b""])
        rid, first, last = recv(server, copy=False)
        assert (rid.bytes, first.bytes, last.bytes) == (b"known", b"hello", b"")
        assert first.get("User-Id") == keys.client[0].decode()
        assert last.get("User-Id") == keys.client[0].decode()
        server.send_multipart([b"known", b"welcome"])
        assert recv(client) == [b"welcome"]


@pytest.mark.parametrize(("server_lib", "client_lib"), ALL_PAIRS)
def test_unknown_key_refused_while_an_admitted_client_is_served(
    libs: Callable[[str], Lib], keys: Keys, server_lib: str, client_lib: str
) -> None:
    """ERROR 400 from the ZAP refusal: HANDSHAKE_FAILED_AUTH 400 on both sides, then DISCONNECTED;
    the refused client does not reconnect; the admitted one keeps talking meanwhile."""
    srv, cli = libs(server_lib), libs(client_lib)
    with authenticator(srv, keys.admitted):
        server = curve_server(srv, "ROUTER", keys)
        s_mon = server.get_monitor_socket()
        server.bind("tcp://127.0.0.1:*")
        endpoint = server.last_endpoint.decode()
        good = curve_client(cli, "DEALER", keys.server[0], keys.client2)
        good.routing_id = b"good"
        good.connect(endpoint)
        good.send(b"before")
        assert recv(server) == [b"good", b"before"]

        bad = curve_client(cli, "DEALER", keys.server[0], keys.stranger)
        bad.setsockopt(cli.mod.RECONNECT_IVL, 20)
        b_mon = bad.get_monitor_socket()
        bad.connect(endpoint)
        send_soon(bad, [b"intruder"], cli)
        seen = monitor_events_until(b_mon, DISCONNECTED)
        assert (HFA, 400) in seen and SUCCEEDED not in [e for e, _ in seen]
        seen = monitor_events_until(s_mon, HFA)
        assert seen[-1] == (HFA, 400)
        assert monitor_events_until(s_mon, DISCONNECTED)[0][0] == DISCONNECTED

        # The admitted client was served all along, on the same connection.
        server.send_multipart([b"good", b"still here"])
        assert recv(good) == [b"still here"]
        good.send(b"after")
        assert recv(server) == [b"good", b"after"]  # never b"intruder"
        # ERROR means "do not retry": ten reconnect intervals pass without a new connection.
        assert [e for e in events_within(b_mon, 0.2) if e[0] == CONNECTED] == []
        assert server.poll(0) == 0


@pytest.mark.parametrize("case", ["wrong_server_key", "server_key_only", "no_secret_key"])
@pytest.mark.parametrize(("server_lib", "client_lib"), ALL_PAIRS)
def test_client_key_problems_fail_as_cryptographic(
    libs: Callable[[str], Lib], keys: Keys, server_lib: str, client_lib: str, case: str
) -> None:
    """A wrong server key (HELLO does not open) or missing client keys (zero keys: the vouch in
    INITIATE does not open): the server reports HANDSHAKE_FAILED_PROTOCOL CRYPTOGRAPHIC and closes
    without an ERROR, before asking ZAP; the client only sees the close (NO_DETAIL, EPIPE) and keeps
    retrying -- libzmq's reconnect loop (pitfalls #676), reproduced."""
    srv, cli = libs(server_lib), libs(client_lib)
    with authenticator(srv, keys.admitted):
        server = curve_server(srv, "ROUTER", keys)
        s_mon = server.get_monitor_socket()
        server.bind("tcp://127.0.0.1:*")
        if case == "wrong_server_key":
            client = curve_client(cli, "DEALER", keys.stranger[0], keys.client)
        elif case == "server_key_only":
            client = curve_client(cli, "DEALER", keys.server[0], None)
        else:
            client = curve_client(cli, "DEALER", keys.server[0], keys.client, secret=False)
        client.setsockopt(cli.mod.RECONNECT_IVL, 20)
        c_mon = client.get_monitor_socket()
        client.connect(server.last_endpoint.decode())
        send_soon(client, [b"never"], cli)
        seen = monitor_events_until(s_mon, DISCONNECTED)
        assert seen[-2:] == [(HFP, CRYPTOGRAPHIC), (DISCONNECTED, seen[-1][1])]
        seen = monitor_events_until(c_mon, DISCONNECTED)
        assert seen[-2:] == [(NO_DETAIL, errno.EPIPE), (DISCONNECTED, seen[-1][1])]
        assert SUCCEEDED not in [e for e, _ in seen]
        # ... and it tries again (the same failure each time).
        monitor_events_until(c_mon, CONNECTED)
        assert monitor_events_until(s_mon, HFP)[-1] == (HFP, CRYPTOGRAPHIC)
        assert server.poll(0) == 0


@pytest.mark.parametrize("lib_name", interop_params(("zloop",), ("libzmq",)))
@pytest.mark.parametrize("handler", ["allow_any", "none"])
def test_any_key_admitted_with_allow_any_or_without_handler(
    libs: Callable[[str], Lib], keys: Keys, lib_name: str, handler: str
) -> None:
    """CURVE_ALLOW_ANY admits a key no certificate names (User-Id: that key); with no ZAP handler
    bound CURVE admits everyone unauthenticated and there is no User-Id (EINVAL), as libzmq."""
    lib = libs(lib_name)
    location = CURVE_ALLOW_ANY if handler == "allow_any" else None
    with authenticator(lib, location):
        server = curve_server(lib, "ROUTER", keys)
        server.bind("tcp://127.0.0.1:*")
        client = curve_client(lib, "DEALER", keys.server[0], keys.stranger)
        client.routing_id = b"anyone"
        client.connect(server.last_endpoint.decode())
        client.send(b"let me in")
        _rid, frame = recv(server, copy=False)
        assert frame.bytes == b"let me in"
        assert frame.get("Socket-Type") == "DEALER"
        if handler == "allow_any":
            assert frame.get("User-Id") == keys.stranger[0].decode()
        else:
            with pytest.raises(lib.mod.ZMQError) as info:
                frame.get("User-Id")
            assert info.value.errno == errno.EINVAL
        server.send_multipart([b"anyone", b"in"])
        assert recv(client) == [b"in"]


# ----------------------------------------------------------------------------- the man in the middle


def read_exact(sock: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


class Relay:
    """A TCP man in the middle: each connection accepted on 127.0.0.1 gets its own connection to
    ``upstream`` (host, port) and two threads relaying ZMTP 3 -- the 64-byte greeting, then frame
    by frame. When either side closes, both are closed.

    ``alter`` maps a direction ("c2s": from the connecting side, "s2c": back) to what happens to
    the MESSAGE frames of the **first** connection only (later ones pass untouched), counting from 1:
    ``("tamper", n)`` flips the last ciphertext byte of the n-th, ``("replay", n)`` sends a copy of
    the (n-1)-th instead of the n-th, ``("drop", n)`` swallows the n-th and every later one.
    ``counts[(connection, direction)]`` counts MESSAGE frames seen (:meth:`messages`), ``wire``
    keeps the first connection's bytes as passed on (:meth:`seen`); :meth:`wait_for` waits on them.
    """

    def __init__(self, upstream: tuple[str, int], **alter: tuple[str, int]) -> None:
        self.upstream = upstream
        self.alter = alter
        self.counts: dict[tuple[int, str], int] = {}
        self.wire = {"c2s": bytearray(), "s2c": bytearray()}
        self.accepted = 0
        self._cond = threading.Condition()
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.endpoint = f"tcp://127.0.0.1:{self._listener.getsockname()[1]}"
        self._start(self._accept)

    def _start(self, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while True:
            try:
                down, _ = self._listener.accept()
                up = socket.create_connection(self.upstream, timeout=DEADLINE)
            except OSError:
                return  # closed
            up.settimeout(None)
            with self._cond:
                index = self.accepted
                self.accepted += 1
                self._sockets += [down, up]
                self._cond.notify_all()
            self._start(self._pump, index, "c2s", down, up)
            self._start(self._pump, index, "s2c", up, down)

    def _pump(self, index: int, direction: str, src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError, EOFError):
            greeting = 0
            while greeting < 64:  # as it comes: peers send a part and wait for the other's
                chunk = src.recv(64 - greeting)
                if not chunk:
                    raise EOFError
                greeting += len(chunk)
                self._send(index, direction, dst, chunk)
            previous = (b"", b"")
            while True:
                head = read_exact(src, 2)
                if head[0] & 0x02:  # long frame: 8-byte size
                    head += read_exact(src, 7)
                    (size,) = struct.unpack(">Q", head[1:])
                else:
                    size = head[1]
                body = read_exact(src, size)
                if not body.startswith(MESSAGE):
                    self._send(index, direction, dst, head + body)  # a handshake command
                    continue
                with self._cond:
                    n = self.counts.get((index, direction), 0) + 1
                    self.counts[(index, direction)] = n
                    self._cond.notify_all()
                action, at = self.alter.get(direction, ("", 0)) if index == 0 else ("", 0)
                if action == "drop" and n >= at:
                    continue
                if n == at and action == "tamper":
                    body = body[:-1] + bytes((body[-1] ^ 1,))
                elif n == at and action == "replay":
                    head, body = previous
                previous = (head, body)
                self._send(index, direction, dst, head + body)
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _send(self, index: int, direction: str, dst: socket.socket, data: bytes) -> None:
        if index == 0:
            with self._cond:
                self.wire[direction] += data
        dst.sendall(data)

    def seen(self, direction: str) -> bytes:
        """The first connection's bytes so far, one way."""
        with self._cond:
            return bytes(self.wire[direction])

    def messages(self, direction: str, index: int = 0) -> int:
        with self._cond:
            return self.counts.get((index, direction), 0)

    def wait_for(self, predicate: Callable[[], bool], timeout: float = DEADLINE) -> None:
        with self._cond:
            assert self._cond.wait_for(predicate, timeout), f"relay: timed out ({self.counts})"

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        with self._cond:
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(DEADLINE)
        for sock in sockets:
            sock.close()


@pytest.fixture
def relays() -> Iterator[Callable[..., Relay]]:
    made: list[Relay] = []

    def make(endpoint: str, **alter: tuple[str, int]) -> Relay:
        host, port = endpoint.removeprefix("tcp://").rsplit(":", 1)
        relay = Relay((host, int(port)), **alter)
        made.append(relay)
        return relay

    yield make
    for relay in made:
        relay.close()


# ----------------------------------------------------------------------------- 2. tampering, replay

SENDER_RECEIVER = interop_params(("zloop", "zloop"), ("libzmq", "zloop"), ("zloop", "libzmq"))


@pytest.mark.parametrize("kind", ["tamper", "replay"])
@pytest.mark.parametrize("direction", ["c2s", "s2c"])
@pytest.mark.parametrize(("sender_lib", "receiver_lib"), SENDER_RECEIVER)
def test_altered_message_closes_only_that_connection(
    libs: Callable[[str], Lib],
    keys: Keys,
    relays: Callable[..., Relay],
    kind: str,
    direction: str,
    sender_lib: str,
    receiver_lib: str,
) -> None:
    """The relay flips a ciphertext byte of the 3rd MESSAGE, or puts a copy of the 2nd in its
    place. The receiver reports HANDSHAKE_FAILED_PROTOCOL with CRYPTOGRAPHIC / INVALID_SEQUENCE
    (libzmq's CURVE decoder emits it even after the handshake) then DISCONNECTED, and closes that
    connection only: messages 1 and 2 were delivered once, the 3rd never, the receiver's other
    connection keeps flowing. The sender just sees the close: a connecting sender reconnects, a
    connecting receiver does not (a protocol error is final).

    A libzmq receiver is monitored without HANDSHAKE_FAILED_PROTOCOL: when that event is monitored
    libzmq 4.3.5 never closes the connection (see the next test)."""
    snd, rcv = libs(sender_lib), libs(receiver_lib)
    code = CRYPTOGRAPHIC if kind == "tamper" else INVALID_SEQUENCE
    r_events = EVENT_ALL if receiver_lib == "zloop" else EVENT_ALL & ~HFP
    # The receiver is a PULL with two connections: "a" through the relay, "b" direct; each
    # sender is a PUSH with that one peer. c2s: the senders are the CURVE clients.
    if direction == "c2s":
        receiver = curve_server(rcv, "PULL", keys)
        r_mon = receiver.get_monitor_socket(r_events)
        receiver.bind("tcp://127.0.0.1:*")
        relay = relays(receiver.last_endpoint.decode(), c2s=(kind, 3))
        a = curve_client(snd, "PUSH", keys.server[0], keys.client)
        b = curve_client(snd, "PUSH", keys.server[0], keys.client2)
        b.connect(receiver.last_endpoint.decode())
    else:
        a, b = curve_server(snd, "PUSH", keys), curve_server(snd, "PUSH", keys)
        a.bind("tcp://127.0.0.1:*")
        b.bind("tcp://127.0.0.1:*")
        relay = relays(a.last_endpoint.decode(), s2c=(kind, 3))
        receiver = curve_client(rcv, "PULL", keys.server[0], keys.client)
        receiver.setsockopt(rcv.mod.RECONNECT_IVL, 20)
        r_mon = receiver.get_monitor_socket(r_events)
        receiver.connect(b.last_endpoint.decode())
    a_mon = a.get_monitor_socket()
    b.send(b"via b")
    assert recv(receiver) == [b"via b"]
    if direction == "c2s":
        a.connect(relay.endpoint)
    else:
        receiver.connect(relay.endpoint)
    a.send(b"m1")
    a.send(b"m2")
    assert recv(receiver) == [b"m1"]
    assert recv(receiver) == [b"m2"]
    a.send(b"m3")

    seen = monitor_events_until(r_mon, DISCONNECTED)
    if receiver_lib == "zloop":
        assert seen[-2:] == [(HFP, code), (DISCONNECTED, seen[-1][1])]
        seen = seen[:-1]
    assert [e for e in seen[:-1] if e[0] in FAILURES] == []
    seen = monitor_events_until(a_mon, DISCONNECTED)
    assert [e for e in seen if e[0] in FAILURES] == []  # handshaked: a plain close for the sender
    assert relay.messages(direction) == 3

    b.send(b"b again")
    assert recv(receiver) == [b"b again"]  # not m3, not a second m2
    if direction == "c2s":
        a.send(b"m4")  # after reconnecting through the relay (unaltered from now on)
        assert recv(receiver) == [b"m4"]
        assert relay.accepted == 2
    else:
        assert [e for e in events_within(r_mon, 0.2) if e[0] == CONNECTED] == []
        assert relay.accepted == 1
    assert receiver.poll(0) == 0


@pytest.mark.interop
@pytest.mark.parametrize("kind", ["tamper", "replay"])
def test_libzmq_monitoring_the_decode_error_leaves_the_connection_open(
    libs: Callable[[str], Lib], keys: Keys, relays: Callable[..., Relay], kind: str
) -> None:
    """libzmq 4.3.5 quirk, documented (zloop does not copy it): when a CURVE MESSAGE fails after the
    handshake and HANDSHAKE_FAILED_PROTOCOL is being monitored, sending that monitor event leaves
    errno at EAGAIN, the engine takes the failure for "input full" and just stops reading -- no
    DISCONNECTED, the sender keeps a half-dead connection (unmonitored, it closes: previous test).
    A zloop receiver closes in both cases."""
    zmq, ours = libs("libzmq"), libs("zloop")
    receiver = curve_server(zmq, "PULL", keys)
    r_mon = receiver.get_monitor_socket()
    receiver.bind("tcp://127.0.0.1:*")
    relay = relays(receiver.last_endpoint.decode(), c2s=(kind, 2))
    sender = curve_client(ours, "PUSH", keys.server[0], keys.client)
    s_mon = sender.get_monitor_socket()
    sender.connect(relay.endpoint)
    sender.send(b"m1")
    assert recv(receiver) == [b"m1"]
    sender.send(b"m2")
    code = CRYPTOGRAPHIC if kind == "tamper" else INVALID_SEQUENCE
    assert monitor_events_until(r_mon, HFP)[-1] == (HFP, code)
    sender.send(b"m3")  # goes through the relay, into the stopped connection
    relay.wait_for(lambda: relay.messages("c2s") == 3)
    later = events_within(r_mon, 0.3) + events_within(s_mon, 0.0)
    assert DISCONNECTED not in [e for e, _ in later]
    assert relay.accepted == 1
    assert receiver.poll(0) == 0


# ----------------------------------------------------------------------------- 3. patterns


@pytest.mark.parametrize(
    ("router_lib", "dealer_lib"),
    interop_params(("zloop", "zloop"), ("zloop", "libzmq"), ("libzmq", "zloop")),
)
def test_dealer_router_routing_ids_and_multipart(
    libs: Callable[[str], Lib], keys: Keys, router_lib: str, dealer_lib: str
) -> None:
    """Two DEALERs with routing ids behind one CURVE ROUTER: envelopes, empty and large frames
    (each frame is one MESSAGE box; 200 kB ones take the engine's direct-receive path)."""
    rtr, dlr = libs(router_lib), libs(dealer_lib)
    router = curve_server(rtr, "ROUTER", keys)
    router.bind("tcp://127.0.0.1:*")
    big = bytes(range(256)) * 800
    dealers = {}
    for name, pair in ((b"alpha", keys.client), (b"beta", keys.client2)):
        dealer = curve_client(dlr, "DEALER", keys.server[0], pair)
        dealer.routing_id = name
        dealer.connect(router.last_endpoint.decode())
        dealer.send_multipart([b"", name, b"", big + name])
        dealers[name] = dealer
    got = {}
    for _ in dealers:
        rid, *body = recv(router)
        got[rid] = body
    assert got == {name: [b"", name, b"", big + name] for name in dealers}
    for name in (b"beta", b"alpha"):
        router.send_multipart([name, b"", b"for " + name, big])
    for name, dealer in dealers.items():
        assert recv(dealer) == [b"", b"for " + name, big]
        assert dealer.poll(0) == 0


@pytest.mark.parametrize(
    ("pub_lib", "sub_lib"),
    interop_params(("zloop", "zloop"), ("zloop", "libzmq"), ("libzmq", "zloop")),
)
def test_xpub_sees_encrypted_subscriptions_and_sub_filters(
    libs: Callable[[str], Lib], keys: Keys, relays: Callable[..., Relay], pub_lib: str, sub_lib: str
) -> None:
    """The subscription crosses inside CURVE (the relay never sees it in clear) and reaches the
    XPUB as ``\\x01topic``; the SUB gets only its topic; the unsubscription arrives as ``\\x00``."""
    pub, sub = libs(pub_lib), libs(sub_lib)
    xpub = curve_server(pub, "XPUB", keys)
    xpub.bind("tcp://127.0.0.1:*")
    relay = relays(xpub.last_endpoint.decode())
    subscriber = curve_client(sub, "SUB", keys.server[0], keys.client)
    subscriber.connect(relay.endpoint)
    topic = b"topic-secret-A"
    subscriber.setsockopt(sub.mod.SUBSCRIBE, topic)
    assert recv(xpub) == [b"\x01" + topic]
    xpub.send_multipart([b"topic-secret-B", b"payload-secret-skip"])
    xpub.send_multipart([topic, b"payload-secret-keep"])
    assert recv(subscriber) == [topic, b"payload-secret-keep"]  # B was filtered out (sent first)
    subscriber.setsockopt(sub.mod.UNSUBSCRIBE, topic)
    assert recv(xpub) == [b"\x00" + topic]
    assert subscriber.poll(0) == 0
    # On the wire: the handshake, then only MESSAGE boxes; nothing readable.
    assert relay.messages("c2s") == 2  # SUBSCRIBE, CANCEL
    assert relay.messages("s2c") == 2  # topic + payload of the one message sent (B was not)
    c2s, s2c = relay.seen("c2s"), relay.seen("s2c")
    for secret in (topic, b"SUBSCRIBE", b"CANCEL"):
        assert secret not in c2s
    for secret in (b"topic-secret", b"payload-secret"):
        assert secret not in s2c


@pytest.mark.parametrize(
    ("client_lib", "server_lib"),
    interop_params(("zloop", "zloop"), ("zloop", "libzmq"), ("libzmq", "zloop")),
)
def test_heartbeats_inside_curve_keep_an_idle_connection_up(
    libs: Callable[[str], Lib],
    keys: Keys,
    relays: Callable[..., Relay],
    client_lib: str,
    server_lib: str,
) -> None:
    """HEARTBEAT_IVL 40 ms, HEARTBEAT_TIMEOUT 100 ms on the client, nothing else sent: the relay
    counts the PINGs (client -> server MESSAGE boxes) and PONGs (the other way) -- never a PING in
    clear -- and over 12 intervals (> 3 timeouts) neither side disconnects; then the same
    connection still carries messages and no heartbeat leaked to the application."""
    cli, srv = libs(client_lib), libs(server_lib)
    server = curve_server(srv, "ROUTER", keys)
    s_mon = server.get_monitor_socket()
    server.bind("tcp://127.0.0.1:*")
    relay = relays(server.last_endpoint.decode())
    client = curve_client(cli, "DEALER", keys.server[0], keys.client)
    client.routing_id = b"idle"
    client.setsockopt(cli.mod.HEARTBEAT_IVL, 40)
    client.setsockopt(cli.mod.HEARTBEAT_TIMEOUT, 100)
    c_mon = client.get_monitor_socket()
    client.connect(relay.endpoint)
    monitor_events_until(c_mon, SUCCEEDED)
    relay.wait_for(lambda: relay.messages("c2s") >= 12 and relay.messages("s2c") >= 12)
    for seen in (events_within(c_mon, 0), events_within(s_mon, 0)):
        assert [e for e in seen if e[0] == DISCONNECTED or e[0] in FAILURES] == []
    assert b"PING" not in relay.seen("c2s") and b"PONG" not in relay.seen("s2c")
    assert client.poll(0) == 0 and server.poll(0) == 0
    client.send(b"still up")
    assert recv(server) == [b"idle", b"still up"]
    server.send_multipart([b"idle", b"yes"])
    assert recv(client) == [b"yes"]
    assert relay.accepted == 1


@pytest.mark.parametrize("client_lib", interop_params(("zloop",), ("libzmq",)))
def test_heartbeat_timeout_when_the_pongs_are_swallowed(
    libs: Callable[[str], Lib], keys: Keys, relays: Callable[..., Relay], client_lib: str
) -> None:
    """The control for the test above: the relay swallows every MESSAGE from the server (the
    PONGs) and the client gives up after HEARTBEAT_TIMEOUT -- DISCONNECTED, no handshake-failure
    event (it had handshaked) -- then reconnects."""
    cli, ours = libs(client_lib), libs("zloop")
    server = curve_server(ours, "ROUTER", keys)
    server.bind("tcp://127.0.0.1:*")
    relay = relays(server.last_endpoint.decode(), s2c=("drop", 1))
    client = curve_client(cli, "DEALER", keys.server[0], keys.client)
    client.setsockopt(cli.mod.HEARTBEAT_IVL, 40)
    client.setsockopt(cli.mod.HEARTBEAT_TIMEOUT, 100)
    client.setsockopt(cli.mod.RECONNECT_IVL, 20)
    c_mon = client.get_monitor_socket()
    client.connect(relay.endpoint)
    seen = monitor_events_until(c_mon, DISCONNECTED)
    assert SUCCEEDED in [e for e, _ in seen]
    assert [e for e in seen if e[0] in FAILURES] == []
    assert relay.messages("s2c") >= 1  # a PONG was swallowed
    monitor_events_until(c_mon, SUCCEEDED)  # reconnected through the relay
    assert relay.accepted == 2
