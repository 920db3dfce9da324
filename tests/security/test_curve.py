"""The CURVE mechanism (RFC 25/26, docs/wire.md §5): layouts, nonces, hostile input, libzmq.

Sans-I/O layout tests drive the mechanism directly with a HandshakeContext and open every box
with PyNaCl and the other side's keys, so they check the bytes, not just that two zloop peers
agree. The live tests run a zloop Connection over a raw TCP socket against pyzmq (libzmq 4.3.5).
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

nacl_bindings = pytest.importorskip("nacl.bindings")

from zloop import z85  # noqa: E402
from zloop.constants import ProtocolErrorCode, SocketType  # noqa: E402
from zloop.errors import ZMQError  # noqa: E402
from zloop.protocol import (  # noqa: E402
    Connection,
    Event,
    HandshakeComplete,
    Message,
    ProtocolError,
)
from zloop.protocol.curve import CurveMechanism  # noqa: E402
from zloop.protocol.events import (  # noqa: E402
    AuthenticationFailed,
    PeerError,
    Ping,
    Pong,
    Subscribe,
    ZapRequest,
)
from zloop.protocol.mechanism import HandshakeContext  # noqa: E402
from zloop.protocol.metadata import basic_properties  # noqa: E402

CLIENT_PUBLIC = z85.decode(b"Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID")
CLIENT_SECRET = z85.decode(b"D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs")
SERVER_PUBLIC = z85.decode(b"rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7")
SERVER_SECRET = z85.decode(b"JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6")

CRYPTO = ProtocolErrorCode.ZMTP_CRYPTOGRAPHIC


def client_mech(server_key: bytes = SERVER_PUBLIC, **kwargs: Any) -> CurveMechanism:
    return CurveMechanism(
        server=False,
        public_key=CLIENT_PUBLIC,
        secret_key=CLIENT_SECRET,
        server_key=server_key,
        **kwargs,
    )


def server_mech(zap: bool = False) -> CurveMechanism:
    return CurveMechanism(server=True, public_key=SERVER_PUBLIC, secret_key=SERVER_SECRET, zap=zap)


def hctx(socket_type: SocketType, **metadata: bytes) -> HandshakeContext:
    props = basic_properties(
        socket_type, b"", {k.replace("_", "-"): v for k, v in metadata.items()}
    )
    return HandshakeContext(socket_type, b"", props, (3, 1), False)


def u64(value: int) -> bytes:
    return struct.pack(">Q", value)


def pump(a: Connection, b: Connection, rounds: int = 10) -> tuple[list[Event], list[Event]]:
    events_a: list[Event] = []
    events_b: list[Event] = []
    for _ in range(rounds):
        moved = False
        for src, dst in ((a, b), (b, a)):
            data = src.data_to_send()
            if data:
                dst.receive_data(data)
                moved = True
        events_a += a.events()
        events_b += b.events()
        if not moved:
            break
    return events_a, events_b


def split_frames(data: bytes) -> list[tuple[int, bytes]]:
    """ZMTP 3.x frames in *data* (no greeting) as (flags, body)."""
    frames = []
    pos = 0
    while pos < len(data):
        flags = data[pos]
        if flags & 0x02:
            (size,) = struct.unpack_from(">Q", data, pos + 1)
            pos += 9
        else:
            size = data[pos + 1]
            pos += 2
        frames.append((flags, data[pos : pos + size]))
        pos += size
    return frames


def curve_pair(
    client_type: SocketType = SocketType.DEALER,
    server_type: SocketType = SocketType.ROUTER,
    server_zap: bool = False,
) -> tuple[Connection, Connection]:
    client = Connection(client_type, mechanism=client_mech())
    server = Connection(server_type, mechanism=server_mech(zap=server_zap))
    return client, server


def connected_pair(**kwargs: Any) -> tuple[Connection, Connection]:
    client, server = curve_pair(**kwargs)
    events_c, events_s = pump(client, server)
    assert isinstance(events_c[0], HandshakeComplete)
    assert isinstance(events_s[0], HandshakeComplete)
    return client, server


def only_error(events: list[Event]) -> ProtocolError:
    (error,) = [e for e in events if isinstance(e, ProtocolError)]
    assert not [e for e in events if isinstance(e, Message)]
    return error


# ----------------------------------------------------------------------------- handshake layouts


class Handshake:
    """Both mechanisms driven by hand; each command kept for inspection."""

    def __init__(self, zap: bool = False, **client_metadata: bytes) -> None:
        self.client = client_mech()
        self.server = server_mech(zap=zap)
        (self.hello,) = self.client.start(hctx(SocketType.DEALER, **client_metadata))
        assert self.server.start(hctx(SocketType.ROUTER)) == []
        (self.welcome,) = self.server.receive_command(self.hello)
        (self.initiate,) = self.client.receive_command(self.welcome)
        replies = self.server.receive_command(self.initiate)
        self.ready = replies[0] if replies else b""

    def finish(self) -> None:
        assert self.client.receive_command(self.ready) == []
        assert self.client.complete and self.server.complete


def test_hello_layout_and_box() -> None:
    hs = Handshake()
    hello = hs.hello
    assert len(hello) == 200
    assert hello[:8] == b"\x05HELLO\x01\x00" and hello[8:80] == bytes(72)
    client_transient = hello[80:112]
    assert hello[112:120] == u64(1)  # client nonce 1
    plain = nacl_bindings.crypto_box_open(
        hello[120:], b"CurveZMQHELLO---" + u64(1), client_transient, SERVER_SECRET
    )
    assert plain == bytes(64)
    # HELLO's frame header as in the test vector of docs/wire.md §10: 04 c8 05 HELLO 01 00 + 72 zeros.
    conn = Connection(SocketType.DEALER, mechanism=client_mech())
    conn.receive_data(b"\xff" + bytes(8) + b"\x7f\x03\x01CURVE" + bytes(15) + bytes(32))
    wire = conn.data_to_send()
    assert wire[12:17] == b"CURVE" and wire[32] == 0  # client greeting: as-server 0
    assert wire[64:74] == b"\x04\xc8\x05HELLO\x01\x00" and wire[74:146] == bytes(72)


def test_welcome_layout_box_and_cookie() -> None:
    hs = Handshake()
    welcome = hs.welcome
    assert len(welcome) == 168 and welcome[:8] == b"\x07WELCOME"
    client_transient = hs.hello[80:112]
    # Opened with the client's transient secret: Box[S' + cookie](S->C').
    plain = nacl_bindings.crypto_box_open(
        welcome[24:], b"WELCOME-" + welcome[8:24], SERVER_PUBLIC, hs.client._cn_secret
    )
    assert len(plain) == 128
    server_transient, cookie = plain[:32], plain[32:]
    assert server_transient == hs.server._cn_public
    # cookie = nonce(16) + secretbox[C' + s'](K)
    inside = nacl_bindings.crypto_secretbox_open(
        cookie[16:], b"COOKIE--" + cookie[:16], hs.server._cookie_key
    )
    assert inside == client_transient + hs.server._cn_secret


def test_initiate_layout_vouch_and_metadata() -> None:
    hs = Handshake(X_App=b"hello")
    initiate = hs.initiate
    welcome_plain = nacl_bindings.crypto_box_open(
        hs.welcome[24:], b"WELCOME-" + hs.welcome[8:24], SERVER_PUBLIC, hs.client._cn_secret
    )
    server_transient, cookie = welcome_plain[:32], welcome_plain[32:]
    metadata = basic_properties(SocketType.DEALER, b"", {"X-App": b"hello"})
    assert len(initiate) == 257 + len(metadata)
    assert initiate[:9] == b"\x08INITIATE" and initiate[9:105] == cookie
    assert initiate[105:113] == u64(2)  # client nonce 2
    plain = nacl_bindings.crypto_box_open(
        initiate[113:], b"CurveZMQINITIATE" + u64(2), hs.hello[80:112], hs.server._cn_secret
    )
    assert plain[:32] == CLIENT_PUBLIC
    vouch = nacl_bindings.crypto_box_open(
        plain[48:128], b"VOUCH---" + plain[32:48], CLIENT_PUBLIC, hs.server._cn_secret
    )
    assert vouch == hs.hello[80:112] + SERVER_PUBLIC
    assert plain[128:] == metadata
    assert server_transient == hs.server._cn_public


def test_ready_layout_and_peer_metadata() -> None:
    hs = Handshake(X_App=b"hello")
    ready = hs.ready
    props = basic_properties(SocketType.ROUTER, b"", {})
    assert len(ready) == 30 + len(props)
    assert ready[:6] == b"\x05READY" and ready[6:14] == u64(1)  # server nonce 1
    k = nacl_bindings.crypto_box_beforenm(hs.server._cn_public, hs.client._cn_secret)
    assert (
        nacl_bindings.crypto_box_open_afternm(ready[14:], b"CurveZMQREADY---" + u64(1), k) == props
    )
    assert hs.server.complete and not hs.client.complete
    assert hs.server.peer_properties == {
        "Socket-Type": b"DEALER",
        "Identity": b"",
        "X-App": b"hello",
    }
    assert hs.server.client_key == CLIENT_PUBLIC
    hs.finish()
    assert hs.client.peer_properties["Socket-Type"] == b"ROUTER"


def test_message_layout_flags_and_nonces() -> None:
    client, server = connected_pair()
    client.send_message([b"part1", b"x" * 300])
    client.send_ping(10, b"ctx")
    frames = split_frames(client.data_to_send())
    assert [f for f, _ in frames] == [0x00, 0x02, 0x00]  # outer flags: never MORE, never COMMAND
    k = nacl_bindings.crypto_box_beforenm(
        server._mech._cn_public,  # type: ignore[attr-defined]
        client._mech._cn_secret,  # type: ignore[attr-defined]
    )
    expected = [(0x01, b"part1"), (0x00, b"x" * 300), (0x02, b"\x04PING\x00\x0actx")]
    for nonce, ((_, body), (inner, data)) in enumerate(zip(frames, expected, strict=True), 3):
        assert body[:8] == b"\x07MESSAGE" and body[8:16] == u64(nonce)  # client: 3, 4, 5
        assert len(body) == 33 + len(data)
        plain = nacl_bindings.crypto_box_open_afternm(
            body[16:], b"CurveZMQMESSAGEC" + u64(nonce), k
        )
        assert plain == bytes((inner,)) + data
    server.send_message([b"back"])
    ((flags, body),) = split_frames(server.data_to_send())
    assert flags == 0 and body[8:16] == u64(2)  # server: READY 1, first MESSAGE 2
    plain = nacl_bindings.crypto_box_open_afternm(body[16:], b"CurveZMQMESSAGES" + u64(2), k)
    assert plain == b"\x00back"


@pytest.mark.parametrize(
    "configured_public", [bytes(32), CLIENT_PUBLIC], ids=["unset", "unrelated"]
)
def test_server_needs_only_its_secret_key(configured_public: bytes) -> None:
    """libzmq never reads CURVE_PUBLICKEY on a server: an unset (or unrelated) public key must not
    break the vouch check, which compares against the key the secret key makes."""
    server = Connection(
        SocketType.ROUTER,
        mechanism=CurveMechanism(
            server=True, public_key=configured_public, secret_key=SERVER_SECRET, zap=False
        ),
    )
    client = Connection(SocketType.DEALER, mechanism=client_mech())
    events_c, events_s = pump(client, server)
    assert isinstance(events_c[0], HandshakeComplete)
    assert isinstance(events_s[0], HandshakeComplete)


def test_zloop_pair_carries_messages_commands_and_metadata() -> None:
    client, server = connected_pair(client_type=SocketType.SUB, server_type=SocketType.PUB)
    assert server.peer_metadata["Socket-Type"] == b"SUB"
    assert client.peer_socket_type == "PUB"
    client.send_subscribe(b"topic")
    client.send_ping(5, b"p")
    wire = client.data_to_send()
    assert b"topic" not in wire and b"PING" not in wire and b"SUBSCRIBE" not in wire
    server.receive_data(wire)
    events_s = server.events()
    assert events_s == [Subscribe(b"topic"), Ping(5, b"p")]
    server.send_message([b"topic", b"payload" * 1000])
    events_c, _ = pump(client, server)
    assert events_c[0] == Pong(b"p")
    assert isinstance(events_c[1], Message)
    assert [bytes(f) for f in events_c[1].frames] == [b"topic", b"payload" * 1000]


def test_many_messages_both_ways() -> None:
    client, server = connected_pair()
    for i in range(200):
        client.send_message([b"%d" % i])
        server.send_message([b"r%d" % i, b""])
    events_c, events_s = pump(client, server)
    assert [[bytes(f) for f in m.frames] for m in events_s] == [[b"%d" % i] for i in range(200)]
    assert [[bytes(f) for f in m.frames] for m in events_c] == [
        [b"r%d" % i, b""] for i in range(200)
    ]


def test_server_greeting_sets_as_server() -> None:
    server = Connection(SocketType.ROUTER, mechanism=server_mech())
    server.receive_data(b"\xff" + bytes(8) + b"\x7f\x03")
    wire = server.data_to_send()
    assert wire[12:17] == b"CURVE" and wire[32] == 1


# ----------------------------------------------------------------------------- ZAP


def test_zap_request_then_200_sends_ready() -> None:
    client, server = curve_pair(server_zap=True)
    events_c, events_s = pump(client, server)
    assert events_c == []
    (request,) = events_s
    assert request == ZapRequest(b"CURVE", (CLIENT_PUBLIC,))
    server.zap_reply(b"200", b"OK", b"alice", {"X-Role": b"admin"})
    events_c, events_s = pump(client, server)
    assert isinstance(events_c[0], HandshakeComplete) and isinstance(events_s[0], HandshakeComplete)
    mech = server._mech
    assert isinstance(mech, CurveMechanism)
    assert mech.zap_user_id == b"alice" and mech.zap_metadata == {"X-Role": b"admin"}


@pytest.mark.parametrize(
    ("code", "error_sent"), [(b"400", b"400"), (b"500", b"500"), (b"300", None)]
)
def test_zap_refusal(code: bytes, error_sent: bytes | None) -> None:
    client, server = curve_pair(server_zap=True)
    pump(client, server)
    server.zap_reply(code)
    (failed,) = server.events()
    assert failed == AuthenticationFailed(code, error_sent)
    wire = server.data_to_send()
    if error_sent is None:
        assert wire == b""
    else:
        # ERROR travels in clear, as a command frame, never inside a MESSAGE box.
        assert wire == b"\x04\x0a\x05ERROR\x03" + error_sent
        client.receive_data(wire)
        assert client.events() == [PeerError(error_sent)]


# ----------------------------------------------------------------------------- hostile input


def test_wrong_server_key_fails_hello_as_cryptographic() -> None:
    other_public, _ = nacl_bindings.crypto_box_keypair()
    client = Connection(SocketType.DEALER, mechanism=client_mech(server_key=other_public))
    server = Connection(SocketType.ROUTER, mechanism=server_mech())
    events_c, events_s = pump(client, server)
    assert only_error(events_s).code == CRYPTO
    assert server.data_to_send() == b""  # libzmq closes silently, no ERROR
    assert not client.handshake_complete
    assert events_c == []  # the client just waits (the engine sees the connection close)


def start_server(zap: bool = False) -> tuple[CurveMechanism, HandshakeContext]:
    server = server_mech(zap=zap)
    ctx = hctx(SocketType.ROUTER)
    server.start(ctx)
    return server, ctx


def handshake_error(server_or_client: CurveMechanism, body: bytes) -> ProtocolErrorCode:
    from zloop.protocol.errors import MechanismError

    with pytest.raises(MechanismError) as info:
        server_or_client.receive_command(body)
    return info.value.code


def test_hello_hostile_inputs() -> None:
    hello = Handshake().hello
    server, _ = start_server()
    assert handshake_error(server, hello[:199]) == ProtocolErrorCode.ZMTP_MALFORMED_COMMAND_HELLO
    server, _ = start_server()
    assert (
        handshake_error(server, hello + b"\x00") == ProtocolErrorCode.ZMTP_MALFORMED_COMMAND_HELLO
    )
    server, _ = start_server()
    bad_version = hello[:6] + b"\x02\x00" + hello[8:]
    assert handshake_error(server, bad_version) == ProtocolErrorCode.ZMTP_MALFORMED_COMMAND_HELLO
    server, _ = start_server()
    tampered = hello[:150] + bytes((hello[150] ^ 1,)) + hello[151:]
    assert handshake_error(server, tampered) == CRYPTO
    server, _ = start_server()
    assert handshake_error(server, b"\x05READY") == ProtocolErrorCode.ZMTP_UNEXPECTED_COMMAND


def test_initiate_hostile_inputs() -> None:
    def fresh() -> Handshake:
        return Handshake()

    hs = fresh()
    short = hs.initiate[:256]
    server = server_mech()
    server.start(hctx(SocketType.ROUTER))
    server.receive_command(hs.hello)
    assert handshake_error(server, short) == ProtocolErrorCode.ZMTP_MALFORMED_COMMAND_INITIATE

    for offset in (20, 60, 110, 130, 300 - 30):  # cookie nonce, cookie box, nonce, box, box tail
        client = client_mech()
        server = server_mech()
        (hello,) = client.start(hctx(SocketType.DEALER))
        server.start(hctx(SocketType.ROUTER))
        (welcome,) = server.receive_command(hello)
        (initiate,) = client.receive_command(welcome)
        tampered = initiate[:offset] + bytes((initiate[offset] ^ 0x80,)) + initiate[offset + 1 :]
        assert handshake_error(server, tampered) == CRYPTO, offset

    hs = fresh()
    server = server_mech()
    server.start(hctx(SocketType.ROUTER))
    server.receive_command(hs.hello)
    assert handshake_error(server, hs.hello) == ProtocolErrorCode.ZMTP_UNEXPECTED_COMMAND


def test_initiate_replayed_on_another_connection_fails() -> None:
    # A recorded HELLO + INITIATE cannot be replayed: the new server's cookie key differs.
    hs = Handshake()
    server = server_mech()
    server.start(hctx(SocketType.ROUTER))
    server.receive_command(hs.hello)
    assert handshake_error(server, hs.initiate) == CRYPTO


def test_forged_vouch_is_key_exchange_error() -> None:
    # A client that knows C's secret but vouches for another transient key.
    hs = Handshake()
    server = server_mech()
    server.start(hctx(SocketType.ROUTER))
    cn_public, cn_secret = hs.client._cn_public, hs.client._cn_secret
    (welcome,) = server.receive_command(hs.hello[:80] + cn_public + hs.hello[112:])
    plain = nacl_bindings.crypto_box_open(
        welcome[24:], b"WELCOME-" + welcome[8:24], SERVER_PUBLIC, cn_secret
    )
    s_transient, cookie = plain[:32], plain[32:]
    other_transient, _ = nacl_bindings.crypto_box_keypair()
    vouch_nonce = bytes(16)
    vouch = nacl_bindings.crypto_box(
        other_transient + SERVER_PUBLIC, b"VOUCH---" + vouch_nonce, s_transient, CLIENT_SECRET
    )
    box = nacl_bindings.crypto_box(
        CLIENT_PUBLIC + vouch_nonce + vouch, b"CurveZMQINITIATE" + u64(2), s_transient, cn_secret
    )
    initiate = b"\x08INITIATE" + cookie + u64(2) + box
    assert handshake_error(server, initiate) == ProtocolErrorCode.ZMTP_KEY_EXCHANGE


def test_client_hostile_welcome_and_ready() -> None:
    hs = Handshake()
    client = client_mech()
    client.start(hctx(SocketType.DEALER))
    assert handshake_error(client, hs.welcome[:167]) == CRYPTO  # ⚠ as libzmq, not MALFORMED
    client = client_mech()
    client.start(hctx(SocketType.DEALER))
    tampered = hs.welcome[:100] + bytes((hs.welcome[100] ^ 1,)) + hs.welcome[101:]
    assert handshake_error(client, tampered) == CRYPTO
    client = client_mech()
    client.start(hctx(SocketType.DEALER))
    assert handshake_error(client, hs.ready) == ProtocolErrorCode.ZMTP_UNEXPECTED_COMMAND
    # READY: too short, then tampered.
    assert (
        handshake_error(hs.client, hs.ready[:29]) == ProtocolErrorCode.ZMTP_MALFORMED_COMMAND_READY
    )
    tampered = hs.ready[:20] + bytes((hs.ready[20] ^ 1,)) + hs.ready[21:]
    assert handshake_error(hs.client, tampered) == CRYPTO


def test_client_accepts_error_instead_of_welcome() -> None:
    client = Connection(SocketType.DEALER, mechanism=client_mech())
    client.receive_data(
        b"\xff"
        + bytes(8)
        + b"\x7f\x03\x01CURVE"
        + bytes(15)
        + b"\x01"
        + bytes(31)
        + b"\x04\x0a\x05ERROR\x03400"
    )
    assert client.events() == [PeerError(b"400")]


def traffic_error(
    tamper: Callable[[list[tuple[int, bytes]]], bytes], messages: int = 2
) -> tuple[list[Event], Connection]:
    client, server = connected_pair()
    for i in range(messages):
        client.send_message([b"m%d" % i])
    frames = split_frames(client.data_to_send())
    server.receive_data(tamper(frames))
    return server.events(), server


def frame_bytes(flags: int, body: bytes) -> bytes:
    if len(body) > 255:
        return struct.pack(">BQ", flags | 0x02, len(body)) + body
    return bytes((flags, len(body))) + body


@pytest.mark.parametrize(
    ("client_path", "server_path"),
    [("held", "bindings"), ("bindings", "held"), ("cffi", "held"), ("held", "cffi")],
)
def test_every_crypto_path_interoperates_and_refuses_tampering(
    monkeypatch: pytest.MonkeyPatch, client_path: str, server_path: str
) -> None:
    """MESSAGE boxes go through libsodium keeping the GIL (small boxes, "held"), through PyNaCl's
    cffi module (large boxes, or where ctypes cannot reach the library), or through PyNaCl's public
    bindings (where the cffi module is missing): all give the same wire, at every size boundary
    (the scratch buffer, the GIL threshold, a large body opened in place), and all refuse a
    tampered box."""
    import zloop.protocol.curve as curve_module

    sodium, held = curve_module._sodium, curve_module._GIL_HELD
    assert held is not None  # this PyNaCl exports the functions: the default path is "held"

    def make(path: str, factory: Callable[[], CurveMechanism]) -> CurveMechanism:
        monkeypatch.setattr(curve_module, "_sodium", sodium if path != "bindings" else lambda: None)
        monkeypatch.setattr(curve_module, "_GIL_HELD", held if path == "held" else None)
        mech = factory()
        assert (mech._lib is not None) is (path != "bindings")
        assert (mech._held is not None) is (path == "held")
        return mech

    def connect() -> tuple[Connection, Connection]:
        client = Connection(SocketType.DEALER, mechanism=make(client_path, client_mech))
        server = Connection(SocketType.ROUTER, mechanism=make(server_path, server_mech))
        pump(client, server)
        return client, server

    client, server = connect()
    sizes = [0, 1, 16, 8190, 8191, 8192, 10_000, 16_382, 16_383, 16_384, 300_000]
    sent = [[bytes([i % 251]) * size, b"tail"] for i, size in enumerate(sizes)]
    for msg in sent:
        client.send_message(msg)
        server.send_message(msg)
    client.send_subscribe(b"t" * 9000)  # a command larger than the scratch buffer
    events_c, events_s = pump(client, server, rounds=50)
    got_s = [[bytes(f) for f in e.frames] for e in events_s if hasattr(e, "frames")]
    got_c = [[bytes(f) for f in e.frames] for e in events_c if hasattr(e, "frames")]
    assert got_s == sent and got_c == sent
    assert [bytes(e.topic) for e in events_s if hasattr(e, "topic")] == [b"t" * 9000]
    for size in (16, 10_000, 300_000):  # scratch, own buffer, large body opened in place
        client, server = connect()
        client.send_message([b"x" * size])
        flags, body = split_frames(client.data_to_send())[0]
        server.receive_data(frame_bytes(flags, body[:-1] + bytes((body[-1] ^ 1,))))
        assert only_error(server.events()).code == CRYPTO


def test_tampered_ciphertext_is_cryptographic_and_delivers_nothing() -> None:
    def tamper(frames: list[tuple[int, bytes]]) -> bytes:
        flags, body = frames[0]
        return frame_bytes(flags, body[:-1] + bytes((body[-1] ^ 1,)))

    events, _ = traffic_error(tamper)
    assert only_error(events).code == CRYPTO


def test_replayed_nonce_is_invalid_sequence() -> None:
    def replay(frames: list[tuple[int, bytes]]) -> bytes:
        return frame_bytes(*frames[0]) + frame_bytes(*frames[0])

    events, _ = traffic_error(replay, messages=1)
    assert [bytes(f) for f in events[0].frames] == [b"m0"]  # type: ignore[union-attr]
    (error,) = [e for e in events if isinstance(e, ProtocolError)]
    assert error.code == ProtocolErrorCode.ZMTP_INVALID_SEQUENCE
    assert len(events) == 2


def test_decreasing_nonce_is_invalid_sequence_but_gaps_are_allowed() -> None:
    def reorder(frames: list[tuple[int, bytes]]) -> bytes:
        # Nonces 3, 4, 5 sent as 3, 5, 4: the gap (3 -> 5) is accepted, then 4 is refused.
        return frame_bytes(*frames[0]) + frame_bytes(*frames[2]) + frame_bytes(*frames[1])

    events, _ = traffic_error(reorder, messages=3)
    delivered = [[bytes(f) for f in e.frames] for e in events if isinstance(e, Message)]
    assert delivered == [[b"m0"], [b"m2"]]
    assert isinstance(events[-1], ProtocolError)
    assert events[-1].code == ProtocolErrorCode.ZMTP_INVALID_SEQUENCE


@pytest.mark.parametrize(
    ("wire", "code"),
    [
        (b"\x00\x03abc", ProtocolErrorCode.ZMTP_UNEXPECTED_COMMAND),  # clear data frame
        (
            b"\x04\x07\x04PING\x00\x01",
            ProtocolErrorCode.ZMTP_UNEXPECTED_COMMAND,
        ),
        (b"\x00\x20\x07MESSAGE" + bytes(24), ProtocolErrorCode.ZMTP_MALFORMED_COMMAND_MESSAGE),
        (b"\x00\x21\x07MESSAGE" + u64(9) + bytes(17), CRYPTO),
        (b"\x00\x21\x07MESSAGE" + u64(2) + bytes(17), ProtocolErrorCode.ZMTP_INVALID_SEQUENCE),
    ],
)
def test_hostile_traffic_frames(wire: bytes, code: ProtocolErrorCode) -> None:
    _, server = connected_pair()
    server.receive_data(wire)
    assert only_error(server.events()).code == code


def test_outer_flags_are_ignored_on_receipt() -> None:
    client, server = connected_pair()
    client.send_message([b"hi"])
    ((_, body),) = split_frames(client.data_to_send())
    server.receive_data(b"\x04" + bytes((len(body),)) + body)  # sent as a "command" frame
    (message,) = server.events()
    assert isinstance(message, Message) and [bytes(f) for f in message.frames] == [b"hi"]


def test_constructor_validates_keys() -> None:
    with pytest.raises(ZMQError):
        CurveMechanism(server=False, public_key=CLIENT_PUBLIC, secret_key=CLIENT_SECRET)
    with pytest.raises(ZMQError):
        CurveMechanism(server=True, public_key=SERVER_PUBLIC[:31], secret_key=SERVER_SECRET)
    with pytest.raises(ZMQError):
        client_mech(server_key=z85.encode(SERVER_PUBLIC))  # Z85 is the option layer's job


def test_data_frame_during_handshake_is_refused() -> None:
    server = Connection(SocketType.ROUTER, mechanism=server_mech())
    server.receive_data(
        b"\xff" + bytes(8) + b"\x7f\x03\x01CURVE" + bytes(15) + bytes(32) + b"\x00\x01x"
    )
    assert only_error(server.events()).code == ProtocolErrorCode.ZMTP_UNEXPECTED_COMMAND


# ----------------------------------------------------------------------------- libzmq, live


class Wire:
    """A zloop Connection over a blocking OS socket, pumped with a deadline."""

    def __init__(self, sock: socket.socket, conn: Connection) -> None:
        self.sock = sock
        self.conn = conn
        self.events: list[Event] = []
        sock.settimeout(0.05)

    def flush(self) -> None:
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            self.flush()
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; events so far: {self.events}")
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            self.conn.receive_data(data)
            self.events += self.conn.events()
            if not data:
                break
        self.flush()

    def messages(self) -> list[list[bytes]]:
        return [[bytes(f) for f in e.frames] for e in self.events if isinstance(e, Message)]

    def has(self, kind: type) -> bool:
        return any(isinstance(e, kind) for e in self.events)


@pytest.fixture
def zmq() -> Any:
    zmq = pytest.importorskip("zmq")
    if not zmq.has("curve"):
        pytest.skip("libzmq without CURVE")
    return zmq


@pytest.fixture
def raw_sockets() -> Iterator[list[socket.socket]]:
    sockets: list[socket.socket] = []
    yield sockets
    for sock in sockets:
        sock.close()


def libzmq_server(zmq: Any, zctx: Any, kind: int) -> tuple[Any, int]:
    sock = zctx.socket(kind)
    sock.linger = 0
    sock.rcvtimeo = sock.sndtimeo = 5000
    sock.curve_server = True
    sock.curve_secretkey = z85.encode(SERVER_SECRET)
    sock.curve_publickey = z85.encode(SERVER_PUBLIC)
    sock.bind("tcp://127.0.0.1:0")
    return sock, int(sock.last_endpoint.decode().rsplit(":", 1)[1])


def connect_wire(port: int, conn: Connection, sockets: list[socket.socket]) -> Wire:
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    sockets.append(raw)
    return Wire(raw, conn)


@pytest.mark.interop
def test_zloop_client_to_libzmq_server(
    zmq: Any, zctx: Any, raw_sockets: list[socket.socket]
) -> None:
    server, port = libzmq_server(zmq, zctx, zmq.ROUTER)
    wire = connect_wire(port, Connection(SocketType.DEALER, mechanism=client_mech()), raw_sockets)
    wire.until(lambda: wire.conn.handshake_complete)
    assert wire.conn.peer_socket_type == "ROUTER"
    wire.conn.send_message([b"hello", b"x" * 5000])
    wire.flush()
    routing_id, *body = server.recv_multipart()
    assert body == [b"hello", b"x" * 5000]
    server.send_multipart([routing_id, b"back", b""])
    wire.until(lambda: bool(wire.messages()))
    assert wire.messages() == [[b"back", b""]]
    # Heartbeat commands inside the encryption: libzmq answers our PING with a PONG.
    wire.conn.send_ping(10, b"hb")
    wire.until(lambda: wire.has(Pong))
    assert Pong(b"hb") in wire.events


@pytest.mark.interop
def test_libzmq_client_to_zloop_server(
    zmq: Any, zctx: Any, raw_sockets: list[socket.socket]
) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    raw_sockets.append(listener)
    client = zctx.socket(zmq.SUB)
    client.linger = 0
    client.rcvtimeo = 5000
    client.curve_serverkey = z85.encode(SERVER_PUBLIC)
    client.curve_publickey = z85.encode(CLIENT_PUBLIC)
    client.curve_secretkey = z85.encode(CLIENT_SECRET)
    client.setsockopt(zmq.SUBSCRIBE, b"news")
    client.setsockopt(zmq.HEARTBEAT_IVL, 50)
    client.connect(f"tcp://127.0.0.1:{listener.getsockname()[1]}")
    listener.settimeout(5)
    raw, _ = listener.accept()
    raw_sockets.append(raw)
    wire = Wire(raw, Connection(SocketType.PUB, mechanism=server_mech(zap=True)))
    wire.until(lambda: wire.has(ZapRequest))
    assert ZapRequest(b"CURVE", (CLIENT_PUBLIC,)) in wire.events
    wire.conn.zap_reply(b"200", b"OK", b"user")
    # The subscription and libzmq's heartbeat PING arrive as MESSAGE boxes.
    wire.until(lambda: wire.has(Subscribe) and wire.has(Ping))
    assert Subscribe(b"news") in wire.events
    assert wire.conn.peer_metadata["Socket-Type"] == b"SUB"
    wire.conn.send_message([b"news", b"flash"])
    wire.conn.send_message([b"other", b"skip"])  # sent anyway: we do not filter in this test
    wire.flush()
    assert client.recv_multipart() == [b"news", b"flash"]


@pytest.mark.interop
def test_libzmq_refuses_tampered_message_and_replay(
    zmq: Any, zctx: Any, raw_sockets: list[socket.socket]
) -> None:
    server, port = libzmq_server(zmq, zctx, zmq.ROUTER)
    monitor = server.get_monitor_socket(zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL)
    monitor.rcvtimeo = 5000
    for kind in ("tamper", "replay"):
        wire = connect_wire(
            port, Connection(SocketType.DEALER, mechanism=client_mech()), raw_sockets
        )
        wire.until(lambda w=wire: w.conn.handshake_complete)  # type: ignore[misc]
        wire.conn.send_message([b"first"])
        ((_, body),) = split_frames(wire.conn.data_to_send())
        if kind == "tamper":
            wire.sock.sendall(frame_bytes(0, body[:-1] + bytes((body[-1] ^ 1,))))
            expected = zmq.PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC
        else:
            wire.sock.sendall(frame_bytes(0, body) + frame_bytes(0, body))
            expected = zmq.PROTOCOL_ERROR_ZMTP_INVALID_SEQUENCE
        from zmq.utils.monitor import recv_monitor_message

        event = recv_monitor_message(monitor)
        assert event["event"] == zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
        assert event["value"] == expected
        if kind == "replay":
            _, got = server.recv_multipart()
            assert got == b"first"
    assert server.poll(0) == 0  # nothing else was delivered
    monitor.close()


@pytest.mark.interop
def test_tampered_libzmq_message_refused_by_zloop(
    zmq: Any, zctx: Any, raw_sockets: list[socket.socket]
) -> None:
    server, port = libzmq_server(zmq, zctx, zmq.ROUTER)
    wire = connect_wire(port, Connection(SocketType.DEALER, mechanism=client_mech()), raw_sockets)
    wire.until(lambda: wire.conn.handshake_complete)
    wire.conn.send_message([b"hi"])
    wire.flush()
    routing_id, _ = server.recv_multipart()
    server.send_multipart([routing_id, b"ok"])
    # libzmq's MESSAGE for "ok": header 2 + body 33 + 2 bytes; flip a ciphertext bit in transit.
    data = b""
    deadline = time.monotonic() + 5
    while len(data) < 37 and time.monotonic() < deadline:
        try:
            data += wire.sock.recv(37 - len(data))
        except TimeoutError:
            continue
    assert data[:2] == b"\x00\x23" and data[2:10] == b"\x07MESSAGE"
    wire.conn.receive_data(data[:-1] + bytes((data[-1] ^ 1,)))
    assert only_error(wire.conn.events()).code == CRYPTO


@pytest.mark.interop
def test_libzmq_rejects_zloop_client_with_wrong_server_key(
    zmq: Any, zctx: Any, raw_sockets: list[socket.socket]
) -> None:
    server, port = libzmq_server(zmq, zctx, zmq.ROUTER)
    monitor = server.get_monitor_socket(zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL)
    monitor.rcvtimeo = 5000
    other_public, _ = nacl_bindings.crypto_box_keypair()
    wire = connect_wire(
        port,
        Connection(SocketType.DEALER, mechanism=client_mech(server_key=other_public)),
        raw_sockets,
    )
    wire.until(lambda: wire.conn.closed or wire.conn.failed)
    from zmq.utils.monitor import recv_monitor_message

    event = recv_monitor_message(monitor)
    assert event["value"] == zmq.PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC
    assert not wire.conn.handshake_complete
    monitor.close()


# ----------------------------------------------------------------------------- sockets (engine)


def curve_sockets(server: Any, client: Any) -> None:
    server.curve_server = True
    server.curve_secretkey = z85.encode(SERVER_SECRET)
    server.curve_publickey = z85.encode(SERVER_PUBLIC)
    client.curve_serverkey = z85.encode(SERVER_PUBLIC)
    client.curve_publickey = z85.encode(CLIENT_PUBLIC)
    client.curve_secretkey = z85.encode(CLIENT_SECRET)
    for sock in (server, client):
        sock.linger = 0
        sock.rcvtimeo = sock.sndtimeo = 5000


@pytest.mark.interop
@pytest.mark.parametrize("zloop_side", ["server", "client"])
def test_req_rep_over_curve_with_libzmq(zmq: Any, ctx: Any, zctx: Any, zloop_side: str) -> None:
    import zloop

    if zloop_side == "server":
        rep, req = ctx.socket(zloop.REP), zctx.socket(zmq.REQ)
    else:
        rep, req = zctx.socket(zmq.REP), ctx.socket(zloop.REQ)
    curve_sockets(rep, req)
    rep.bind("tcp://127.0.0.1:0")
    req.connect(rep.last_endpoint.decode())
    for i in range(3):
        req.send_multipart([b"ping", b"%d" % i])
        assert rep.recv_multipart() == [b"ping", b"%d" % i]
        rep.send(b"pong %d" % i)
        assert req.recv() == b"pong %d" % i


@pytest.mark.interop
def test_pub_sub_over_curve_zloop_pub_libzmq_sub(zmq: Any, ctx: Any, zctx: Any) -> None:
    import zloop

    pub, sub = ctx.socket(zloop.PUB), zctx.socket(zmq.SUB)
    curve_sockets(pub, sub)
    sub.setsockopt(zmq.SUBSCRIBE, b"a")
    pub.bind("tcp://127.0.0.1:0")
    sub.connect(pub.last_endpoint.decode())
    # The subscription travels inside CURVE; publish until it has reached the PUB.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        pub.send_multipart([b"b", b"filtered"])
        pub.send_multipart([b"a", b"kept"])
        if sub.poll(50):
            break
    assert sub.recv_multipart() == [b"a", b"kept"]


@pytest.mark.interop
def test_libzmq_server_refuses_zloop_client_with_wrong_server_key(
    zmq: Any, ctx: Any, zctx: Any
) -> None:
    import zloop

    server, client = zctx.socket(zmq.ROUTER), ctx.socket(zloop.DEALER)
    curve_sockets(server, client)
    other_public, _ = nacl_bindings.crypto_box_keypair()
    client.curve_serverkey = other_public
    monitor = server.get_monitor_socket(zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL)
    monitor.rcvtimeo = 5000
    server.bind("tcp://127.0.0.1:0")
    client.connect(server.last_endpoint.decode())
    client.send(b"must not arrive")
    from zmq.utils.monitor import recv_monitor_message

    event = recv_monitor_message(monitor)
    assert event["event"] == zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
    assert event["value"] == zmq.PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC
    assert server.poll(100) == 0
    monitor.close()
