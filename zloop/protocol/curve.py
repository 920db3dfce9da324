"""The CURVE security mechanism (CurveZMQ, ZeroMQ RFC 26, on ZMTP as RFC 25 / RFC 37 define).

Byte layouts, nonce rules and every place libzmq 4.3 differs from the RFCs are in
``docs/wire.md`` (section 5, CURVE); in short (C/S permanent client/server keys, C'/S'
transient ones, lowercase = secret, ``Box[X](A->B)`` = crypto_box with A's secret, B's public)::

    C -> S  HELLO     05 HELLO, 01 00, 72 zeros, C', nonce(8), Box[64 zeros](C'->S)        200 B
    S -> C  WELCOME   07 WELCOME, nonce(16), Box[S' + cookie](S->C')                       168 B
    C -> S  INITIATE  08 INITIATE, cookie(96), nonce(8), Box[C + vouch + metadata](C'->S') 257+M
    S -> C  READY     05 READY, nonce(8), Box[metadata](S'->C')                            30+M
    either  MESSAGE   07 MESSAGE, nonce(8), Box[inner flags + frame](sender'->receiver')   33+N

cookie = nonce(16) + secretbox[C' + s'](K) (K: random per connection), vouch = nonce(16) +
Box[C' + S](C->S'). After the handshake every ZMTP frame -- data, PING/PONG, SUBSCRIBE/CANCEL
-- becomes one MESSAGE (inner flags MORE=01, COMMAND=02; outer flags 00/02, never a command
frame, as libzmq sends it). Short nonces count up per direction (client: HELLO 1, INITIATE 2,
messages 3...; server: READY 1, messages 2...) and each received MESSAGE nonce must be strictly
greater than the last (gaps allowed, as libzmq; RFC 26 asks for "correctly incrementing").

The server asks ZAP (RFC 27) after a valid INITIATE when ``zap`` is true (mechanism ``CURVE``,
credentials = the client's permanent public key) and sends READY only after a 200 reply.

Errors follow libzmq's monitor codes (``curve_server.cpp`` / ``curve_client.cpp``): a command
out of place is ZMTP_UNEXPECTED_COMMAND, a bad HELLO/INITIATE/READY size ZMTP_MALFORMED_COMMAND_*,
any box that does not open ZMTP_CRYPTOGRAPHIC (no ERROR is sent: libzmq closes silently), a
replayed or decreasing MESSAGE nonce ZMTP_INVALID_SEQUENCE. Crypto comes from PyNaCl
(``nacl.bindings``, the optional ``curve`` extra).

MESSAGE boxes (the traffic, per frame) call libsodium through PyNaCl's cffi module
(``nacl._sodium.lib``) when it is there: a box is sealed in place inside the bytearray that becomes
the frame (one copy of the body in, none out), and opened into a reused scratch buffer (small
frames: one copy out, as ``bytes``) or in place inside a large body's own bytearray (no copy at
all). ``nacl.bindings`` allocates, copies and re-slices three to four times per box: 17-23% of
the codec's per-frame cost from 16 B to 64 KiB frames (``bench/bench_curve.py``, "protocol").
Without ``nacl._sodium`` the public bindings are used.

⚠ The GIL. cffi releases the GIL around every call. For a box of a few hundred bytes (about 1 µs of
work) that is a trap: the I/O thread gives the GIL away and must then wait for the application
thread to hand it back -- up to the interpreter's switch interval (5 ms) when that thread is busy
in Python. Measured: one seal, 1.7 µs alone, 237 µs per seal while another thread runs a Python
loop. So boxes up to :data:`_HOLD_GIL_MAX` bytes call the same two libsodium functions through
``ctypes.PyDLL`` on the library PyNaCl ships, which keeps the GIL (3.8 µs per seal in that same
test); larger boxes, where crypto dominates and other threads can run meanwhile, keep cffi.
"""

from __future__ import annotations

import ctypes
import os
import struct
from enum import Enum
from typing import Any, ClassVar, Final

from zloop.constants import Errno, ProtocolErrorCode
from zloop.errors import ZMQError
from zloop.keys import KEY_SIZE, require_nacl
from zloop.protocol.commands import ERROR_PREFIX, READY_PREFIX, parse_error, split_command
from zloop.protocol.errors import LocalProtocolError, MechanismError, PeerErrorReceived
from zloop.protocol.mechanism import HandshakeContext, Mechanism, ZapReply, check_zap_reply

__all__ = ["CurveMechanism", "require_nacl"]

HELLO_PREFIX: Final = b"\x05HELLO"
WELCOME_PREFIX: Final = b"\x07WELCOME"
INITIATE_PREFIX: Final = b"\x08INITIATE"
MESSAGE_PREFIX: Final = b"\x07MESSAGE"

HELLO_SIZE: Final = 200
WELCOME_SIZE: Final = 168
INITIATE_MIN_SIZE: Final = 257
READY_MIN_SIZE: Final = 30
#: ``07 MESSAGE`` + nonce(8) + MAC(16) + inner flags(1).
MESSAGE_MIN_SIZE: Final = 33
MAC_SIZE: Final = 16

#: Nonce prefixes (RFC 26 "Command Nonces", docs/wire.md §5: the MESSAGE prefixes end in C / S).
HELLO_NONCE: Final = b"CurveZMQHELLO---"
INITIATE_NONCE: Final = b"CurveZMQINITIATE"
READY_NONCE: Final = b"CurveZMQREADY---"
MESSAGE_NONCE_CLIENT: Final = b"CurveZMQMESSAGEC"
MESSAGE_NONCE_SERVER: Final = b"CurveZMQMESSAGES"
WELCOME_NONCE: Final = b"WELCOME-"
COOKIE_NONCE: Final = b"COOKIE--"
VOUCH_NONCE: Final = b"VOUCH---"

#: Inner flags of a MESSAGE box (libzmq's msg_t flag values) and the ZMTP frame flags they map to.
INNER_MORE: Final = 0x01
INNER_COMMAND: Final = 0x02
_ZMTP_MORE: Final = 0x01
_ZMTP_COMMAND: Final = 0x04

_U64 = struct.Struct(">Q")
_MAX_NONCE: Final = 2**64 - 1

#: Bytes of a MESSAGE body before the box's ciphertext: ``07 MESSAGE`` + nonce(8) + MAC(16).
_BOX_AT: Final = 32
#: What follows ``07 MESSAGE`` + nonce in a frame being sealed: room for the MAC, then the inner
#: flags byte (indexed by the inner flags).
_MAC_ROOM: Final = tuple(bytes(MAC_SIZE) + bytes((inner,)) for inner in range(4))
#: Opened small frames go through a scratch buffer of this size (bigger ones get their own).
_SCRATCH: Final = 8192


#: Boxes up to this size are sealed / opened without releasing the GIL (module docstring).
_HOLD_GIL_MAX: Final = 16 * 1024


class _GilHeld:
    """libsodium's MESSAGE functions through ``ctypes.PyDLL`` (calls that keep the GIL)."""

    __slots__ = ("open", "seal")

    def __init__(self, path: str) -> None:
        dll = ctypes.PyDLL(path)
        self.seal = dll.crypto_box_easy_afternm
        self.open = dll.crypto_box_open_easy_afternm
        # (out, in, length, nonce, key): addresses as integers, or bytes for what is read only.
        self.seal.argtypes = (
            ctypes.c_void_p,
            ctypes.c_void_p,
            ctypes.c_ulonglong,
            ctypes.c_char_p,
            ctypes.c_char_p,
        )
        self.open.argtypes = (
            ctypes.c_void_p,
            ctypes.c_char_p,
            ctypes.c_ulonglong,
            ctypes.c_char_p,
            ctypes.c_char_p,
        )
        self.seal.restype = self.open.restype = ctypes.c_int


def _gil_held() -> _GilHeld | None:
    """The GIL-keeping entry points, or None if PyNaCl's library does not export them."""
    try:
        from nacl import _sodium  # type: ignore[attr-defined,unused-ignore]

        return _GilHeld(str(_sodium.__file__))
    except (ImportError, OSError, AttributeError):  # pragma: no cover - other PyNaCl builds
        return None


_GIL_HELD = _gil_held()


def _sodium() -> tuple[Any, Any] | None:
    """PyNaCl's cffi ``(ffi, lib)``, whose functions take pointers into our own buffers (see the
    module docstring), or None when this PyNaCl has no such module."""
    try:
        from nacl._sodium import ffi, lib  # type: ignore[import-not-found,unused-ignore]
    except ImportError:  # pragma: no cover - every PyNaCl release since 1.0 has it
        return None
    if not hasattr(lib, "crypto_box_easy_afternm"):  # pragma: no cover
        return None
    return ffi, lib


_CRYPTO = ProtocolErrorCode.ZMTP_CRYPTOGRAPHIC
_UNEXPECTED = ProtocolErrorCode.ZMTP_UNEXPECTED_COMMAND


class _State(Enum):
    # client
    EXPECT_WELCOME = "expecting WELCOME"
    EXPECT_READY = "expecting READY"
    # server
    EXPECT_HELLO = "expecting HELLO"
    EXPECT_INITIATE = "expecting INITIATE"
    WAIT_ZAP = "waiting for the ZAP reply"
    # both
    CONNECTED = "connected"


def _check_key(value: bytes | None, what: str) -> bytes:
    if value is None:
        raise ZMQError(Errno.EINVAL, f"CURVE needs {what}")
    key = bytes(value)
    if len(key) != KEY_SIZE:
        raise ZMQError(
            Errno.EINVAL, f"CURVE {what} must be {KEY_SIZE} raw bytes, not {len(key)} bytes"
        )
    return key


class CurveMechanism(Mechanism):
    """CURVE client (``server=False``, needs ``server_key``) or server (``server=True``).

    Keys are 32 raw bytes (the option layer decodes Z85). ``zap`` (server only): consult ZAP
    after INITIATE; pass ``False`` when no handler is bound (libzmq then admits every client).
    """

    name: ClassVar[bytes] = b"CURVE"
    wraps_frames: ClassVar[bool] = True

    def __init__(
        self,
        *,
        server: bool,
        public_key: bytes,
        secret_key: bytes,
        server_key: bytes | None = None,
        zap: bool = True,
    ) -> None:
        super().__init__()
        nacl = require_nacl()
        self._nacl: Any = nacl
        sodium = _sodium()
        self._ffi: Any = sodium[0] if sodium is not None else None
        self._lib: Any = sodium[1] if sodium is not None else None
        self._scratch: Any = None  # cffi buffer for opening small MESSAGE boxes, made on first use
        self._scratch_bytes: Any = None  # ffi.buffer over it: slicing it yields bytes
        self._held = _GIL_HELD if sodium is not None else None
        self._held_scratch: Any = None  # ctypes buffer for the GIL-keeping opens
        self.server = bool(server)
        self.zap = bool(zap) and self.server
        self._public = _check_key(public_key, "a public key (CURVE_PUBLICKEY)")
        self._secret = _check_key(secret_key, "a secret key (CURVE_SECRETKEY)")
        if self.server:
            # A server's own public key is whatever its secret key makes: libzmq never reads
            # CURVE_PUBLICKEY on a server, so servers configured with the secret key alone work.
            self._public = nacl.crypto_scalarmult_base(self._secret)
            self._server_key = self._public
        else:
            self._server_key = _check_key(server_key, "the server's public key (CURVE_SERVERKEY)")
        # Transient key pair, fresh per connection (libzmq makes it when the mechanism is created).
        keypair: tuple[bytes, bytes] = nacl.crypto_box_keypair()
        self._cn_public, self._cn_secret = keypair
        self._cn_peer = b""  # the peer's transient public key
        self._precom = b""  # crypto_box_beforenm(peer', own')
        self._cookie = b""  # client: cookie from WELCOME (96 bytes)
        self._cookie_key = b""  # server: K for this connection's cookie
        self._nonce = 1  # next short nonce we send
        self._peer_nonce = 0  # last short nonce accepted from the peer
        if self.server:
            self._state = _State.EXPECT_HELLO
            self._send_prefix, self._recv_prefix = MESSAGE_NONCE_SERVER, MESSAGE_NONCE_CLIENT
        else:
            self._state = _State.EXPECT_WELCOME
            self._send_prefix, self._recv_prefix = MESSAGE_NONCE_CLIENT, MESSAGE_NONCE_SERVER
        self._ctx: HandshakeContext | None = None
        self._peer: dict[str, bytes] = {}
        #: Server: the client's permanent public key, once INITIATE was verified.
        self.client_key: bytes | None = None
        #: After a ZAP 200 reply: its user id and metadata (the engine exposes them on messages).
        self.zap_user_id = b""
        self.zap_metadata: dict[str, bytes] = {}

    # ------------------------------------------------------------------ interface

    @property
    def as_server(self) -> bool:
        return self.server

    @property
    def complete(self) -> bool:
        return self._state is _State.CONNECTED

    @property
    def peer_properties(self) -> dict[str, bytes]:
        return self._peer

    def start(self, ctx: HandshakeContext) -> list[bytes]:
        self._ctx = ctx
        if self.server:
            return []
        return [self._hello()]

    def receive_command(self, body: bytes) -> list[bytes]:
        if self._ctx is None:
            raise LocalProtocolError("start() must be called first")
        state = self._state
        if state is _State.EXPECT_HELLO:
            if not body.startswith(HELLO_PREFIX):
                raise self._unexpected(body, "HELLO")
            return self._process_hello(body)
        if state is _State.EXPECT_INITIATE:
            if not body.startswith(INITIATE_PREFIX):
                raise self._unexpected(body, "INITIATE")
            return self._process_initiate(body)
        if state is _State.WAIT_ZAP:
            # libzmq curve_server_t::process_handshake_command: nothing may arrive here.
            raise MechanismError(
                ProtocolErrorCode.ZMTP_UNSPECIFIED,
                "CURVE client sent a command while the server waited for ZAP",
            )
        # Client: ERROR may replace WELCOME or READY (libzmq curve_client_t::process_error).
        if body.startswith(ERROR_PREFIX):
            raise PeerErrorReceived(parse_error(body, len(ERROR_PREFIX)))
        if state is _State.EXPECT_WELCOME:
            if not body.startswith(WELCOME_PREFIX):
                raise self._unexpected(body, "WELCOME")
            self._process_welcome(body)
            return [self._initiate()]
        if state is _State.EXPECT_READY:
            if not body.startswith(READY_PREFIX):
                raise self._unexpected(body, "READY")
            self._process_ready(body)
            return []
        raise LocalProtocolError(f"CURVE handshake command in state {state.value}")

    def zap_reply(self, reply: ZapReply) -> list[bytes]:
        if self._state is not _State.WAIT_ZAP:
            raise LocalProtocolError("the CURVE mechanism has no ZAP request pending")
        check_zap_reply(reply)
        self.zap_user_id = reply.user_id
        self.zap_metadata = dict(reply.metadata)
        return [self._ready()]

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _unexpected(body: bytes, wanted: str) -> MechanismError:
        try:
            name = split_command(body)[0].decode("latin-1")
        except MechanismError:
            name = body[:16].hex()
        return MechanismError(
            _UNEXPECTED, f"unexpected {name!r} command in the CURVE handshake (expected {wanted})"
        )

    def _next_nonce(self) -> bytes:
        nonce = self._nonce
        if nonce > _MAX_NONCE:  # pragma: no cover - 2^64 frames
            raise LocalProtocolError("CURVE nonce space exhausted")
        self._nonce = nonce + 1
        return _U64.pack(nonce)

    def _properties(self) -> bytes:
        assert self._ctx is not None
        return self._ctx.own_properties()

    # ------------------------------------------------------------------ client side

    def _hello(self) -> bytes:
        short = self._next_nonce()
        box: bytes = self._nacl.crypto_box(
            bytes(64), HELLO_NONCE + short, self._server_key, self._cn_secret
        )
        body = HELLO_PREFIX + b"\x01\x00" + bytes(72) + self._cn_public + short + box
        assert len(body) == HELLO_SIZE
        return body

    def _process_welcome(self, body: bytes) -> None:
        # ⚠ libzmq (curve_client_tools_t::process_welcome) reports a WELCOME of the wrong size
        # as ZMTP_CRYPTOGRAPHIC, not MALFORMED_COMMAND_WELCOME; we emit the same code.
        if len(body) != WELCOME_SIZE:
            raise MechanismError(_CRYPTO, f"CURVE WELCOME is {len(body)} bytes, not 168")
        try:
            plain = self._nacl.crypto_box_open(
                body[24:], WELCOME_NONCE + body[8:24], self._server_key, self._cn_secret
            )
        except Exception:
            raise MechanismError(
                _CRYPTO, "cannot open the CURVE WELCOME box (wrong server key?)"
            ) from None
        self._cn_peer = plain[:32]
        self._cookie = plain[32:128]
        self._precom = self._nacl.crypto_box_beforenm(self._cn_peer, self._cn_secret)
        self._state = _State.EXPECT_READY

    def _initiate(self) -> bytes:
        nacl = self._nacl
        vouch_nonce = os.urandom(16)
        vouch = nacl.crypto_box(
            self._cn_public + self._server_key,
            VOUCH_NONCE + vouch_nonce,
            self._cn_peer,
            self._secret,
        )
        short = self._next_nonce()
        box: bytes = nacl.crypto_box(
            self._public + vouch_nonce + vouch + self._properties(),
            INITIATE_NONCE + short,
            self._cn_peer,
            self._cn_secret,
        )
        return INITIATE_PREFIX + self._cookie + short + box

    def _process_ready(self, body: bytes) -> None:
        assert self._ctx is not None
        if len(body) < READY_MIN_SIZE:
            raise MechanismError(
                ProtocolErrorCode.ZMTP_MALFORMED_COMMAND_READY,
                f"CURVE READY is {len(body)} bytes, at least 30 are needed",
            )
        nonce = _U64.unpack_from(body, 6)[0]
        try:
            plain = self._nacl.crypto_box_open_easy_afternm(
                body[14:], READY_NONCE + body[6:14], self._precom
            )
        except Exception:
            raise MechanismError(_CRYPTO, "cannot open the CURVE READY box") from None
        self._peer = self._ctx.peer_properties(plain, 0)
        self._peer_nonce = nonce
        self._state = _State.CONNECTED

    # ------------------------------------------------------------------ server side

    def _process_hello(self, body: bytes) -> list[bytes]:
        nacl = self._nacl
        if len(body) != HELLO_SIZE:
            raise MechanismError(
                ProtocolErrorCode.ZMTP_MALFORMED_COMMAND_HELLO,
                f"CURVE HELLO is {len(body)} bytes, not 200",
            )
        if body[6:8] != b"\x01\x00":
            raise MechanismError(
                ProtocolErrorCode.ZMTP_MALFORMED_COMMAND_HELLO,
                f"CURVE HELLO version {body[6]}.{body[7]} is not 1.0",
            )
        client_transient = body[80:112]
        try:
            nacl.crypto_box_open(
                body[120:200], HELLO_NONCE + body[112:120], client_transient, self._secret
            )
        except Exception:
            raise MechanismError(
                _CRYPTO, "cannot open the CURVE HELLO box (client has the wrong server key?)"
            ) from None
        self._cn_peer = client_transient
        self._peer_nonce = _U64.unpack_from(body, 112)[0]
        # WELCOME: Box[S' + cookie](S->C'), cookie = nonce + secretbox[C' + s'](K).
        self._cookie_key = os.urandom(32)
        cookie_nonce = os.urandom(16)
        cookie = cookie_nonce + nacl.crypto_secretbox(
            client_transient + self._cn_secret, COOKIE_NONCE + cookie_nonce, self._cookie_key
        )
        welcome_nonce = os.urandom(16)
        box = nacl.crypto_box(
            self._cn_public + cookie, WELCOME_NONCE + welcome_nonce, client_transient, self._secret
        )
        self._state = _State.EXPECT_INITIATE
        welcome = WELCOME_PREFIX + welcome_nonce + box
        assert len(welcome) == WELCOME_SIZE
        return [welcome]

    def _process_initiate(self, body: bytes) -> list[bytes]:
        nacl = self._nacl
        assert self._ctx is not None
        if len(body) < INITIATE_MIN_SIZE:
            raise MechanismError(
                ProtocolErrorCode.ZMTP_MALFORMED_COMMAND_INITIATE,
                f"CURVE INITIATE is {len(body)} bytes, at least 257 are needed",
            )
        try:
            cookie = nacl.crypto_secretbox_open(
                body[25:105], COOKIE_NONCE + body[9:25], self._cookie_key
            )
        except Exception:
            raise MechanismError(_CRYPTO, "cannot open the CURVE INITIATE cookie") from None
        if cookie != self._cn_peer + self._cn_secret:
            raise MechanismError(_CRYPTO, "the CURVE INITIATE cookie is not ours")
        try:
            plain = nacl.crypto_box_open(
                body[113:], INITIATE_NONCE + body[105:113], self._cn_peer, self._cn_secret
            )
        except Exception:
            raise MechanismError(_CRYPTO, "cannot open the CURVE INITIATE box") from None
        client_key = plain[:32]
        try:
            vouch = nacl.crypto_box_open(
                plain[48:128], VOUCH_NONCE + plain[32:48], client_key, self._cn_secret
            )
        except Exception:
            raise MechanismError(_CRYPTO, "cannot open the CURVE INITIATE vouch") from None
        # ⚠ libzmq checks only the C' half of the vouch; RFC 26 "The INITIATE Command" says the
        # server SHALL check both (an honest client always puts our S there).
        if vouch != self._cn_peer + self._public:
            raise MechanismError(
                ProtocolErrorCode.ZMTP_KEY_EXCHANGE,
                "the CURVE vouch does not name this connection's keys",
            )
        self._peer = self._ctx.peer_properties(plain, 128)
        self._precom = nacl.crypto_box_beforenm(self._cn_peer, self._cn_secret)
        self._peer_nonce = _U64.unpack_from(body, 105)[0]
        self.client_key = client_key
        if self.zap:
            self._state = _State.WAIT_ZAP
            self.request_zap(b"CURVE", (client_key,))
            return []
        return [self._ready()]

    def _ready(self) -> bytes:
        short = self._next_nonce()
        box: bytes = self._nacl.crypto_box_easy_afternm(
            self._properties(), READY_NONCE + short, self._precom
        )
        self._state = _State.CONNECTED
        return READY_PREFIX + short + box

    # ------------------------------------------------------------------ traffic

    def encode_frame(self, flags: int, body: bytes) -> tuple[int, bytes | bytearray]:
        inner = (INNER_MORE if flags & _ZMTP_MORE else 0) | (
            INNER_COMMAND if flags & _ZMTP_COMMAND else 0
        )
        short = self._next_nonce()
        lib = self._lib
        if lib is None:  # PyNaCl without nacl._sodium (tested by forcing it)
            box = self._nacl.crypto_box_easy_afternm(
                bytes((inner,)) + body, self._send_prefix + short, self._precom
            )
            return 0, MESSAGE_PREFIX + short + box
        # Sealed in place: [07 MESSAGE][nonce][MAC room][inner][body] -> [...][MAC][ciphertext].
        frame = bytearray(MESSAGE_PREFIX + short + _MAC_ROOM[inner])
        frame += body
        held = self._held
        if held is not None and len(frame) - _BOX_AT <= _HOLD_GIL_MAX:
            anchor = ctypes.c_char.from_buffer(frame)  # pins the buffer while we write into it
            base = ctypes.addressof(anchor)
            rc = held.seal(
                base + 16,
                base + _BOX_AT,
                len(frame) - _BOX_AT,
                self._send_prefix + short,
                self._precom,
            )
            del anchor
            if rc:  # pragma: no cover - libsodium cannot fail here
                raise LocalProtocolError("crypto_box_easy_afternm failed")
            return 0, frame
        with self._ffi.from_buffer(frame) as ptr:
            rc = lib.crypto_box_easy_afternm(
                ptr + 16,
                ptr + _BOX_AT,
                len(frame) - _BOX_AT,
                self._send_prefix + short,
                self._precom,
            )
        if rc:  # pragma: no cover - libsodium cannot fail here
            raise LocalProtocolError("crypto_box_easy_afternm failed")
        # Outer flags 00 (02 = LONG is added by the framing): never a command frame, as libzmq.
        # A bytearray frame: small ones are copied into the output by append_frame, large ones
        # are queued as a memoryview of it (no copy).
        return 0, frame

    def decode_frame(
        self, flags: int, body: bytes | bytearray | memoryview
    ) -> tuple[int, bytes | bytearray]:
        # Outer flags are ignored, as libzmq does (it decrypts whatever the frame carries).
        if isinstance(body, memoryview):
            body = bytes(body)  # a zero-copy path may hand over a view
        if not body.startswith(MESSAGE_PREFIX):
            raise MechanismError(
                _UNEXPECTED, "frame after the CURVE handshake is not a MESSAGE command"
            )
        if len(body) < MESSAGE_MIN_SIZE:
            raise MechanismError(
                ProtocolErrorCode.ZMTP_MALFORMED_COMMAND_MESSAGE,
                f"CURVE MESSAGE is {len(body)} bytes, at least 33 are needed",
            )
        nonce = _U64.unpack_from(body, 8)[0]
        if nonce <= self._peer_nonce:
            raise MechanismError(
                ProtocolErrorCode.ZMTP_INVALID_SEQUENCE,
                f"CURVE MESSAGE nonce {nonce} is not above the last one ({self._peer_nonce})",
            )
        if self._lib is not None:
            inner, result = self._open(body, self._recv_prefix + bytes(body[8:16]))
        else:  # PyNaCl without nacl._sodium (tested by forcing it)
            cipher = bytes(body[16:]) if type(body) is not bytes else body[16:]
            try:
                plain = self._nacl.crypto_box_open_easy_afternm(
                    cipher, self._recv_prefix + bytes(body[8:16]), self._precom
                )
            except Exception:
                raise self._undecryptable() from None
            inner = plain[0]
            result = plain[1:]
        self._peer_nonce = nonce
        zmtp = (_ZMTP_MORE if inner & INNER_MORE else 0) | (
            _ZMTP_COMMAND if inner & INNER_COMMAND else 0
        )
        return zmtp, result

    @staticmethod
    def _undecryptable() -> MechanismError:
        return MechanismError(_CRYPTO, "CURVE MESSAGE does not decrypt (tampered or wrong key)")

    def _open(self, body: bytes | bytearray, nonce: bytes) -> tuple[int, bytes | bytearray]:
        """Open a MESSAGE box with ``nacl._sodium``: (inner flags, frame).

        A large body's own bytearray is opened in place and becomes the frame (its head is
        dropped, which CPython does without moving the bytes); a small frame is opened into the
        scratch buffer and sliced out as ``bytes``; any other gets one bytearray of its own.
        """
        ffi, lib = self._ffi, self._lib
        size = len(body) - _BOX_AT  # inner flags + frame
        clen = size + MAC_SIZE
        if type(body) is bytearray:
            with ffi.from_buffer(body) as ptr:
                rc = lib.crypto_box_open_easy_afternm(
                    ptr + _BOX_AT, ptr + 16, clen, nonce, self._precom
                )
            if rc:
                raise self._undecryptable()
            inner = body[_BOX_AT]
            try:
                del body[: _BOX_AT + 1]
            except BufferError:  # pragma: no cover - someone still holds a view of it
                return inner, bytes(memoryview(body)[_BOX_AT + 1 :])
            return inner, body  # a bytearray frame of its own, as frames.LargeBody
        held = self._held
        if held is not None and size <= _SCRATCH:
            scratch_held = self._held_scratch
            if scratch_held is None:
                scratch_held = self._held_scratch = (ctypes.c_ubyte * _SCRATCH)()
            cipher = body[16:] if type(body) is bytes else bytes(memoryview(body)[16:])
            if held.open(ctypes.addressof(scratch_held), cipher, clen, nonce, self._precom):
                raise self._undecryptable()
            return scratch_held[0], ctypes.string_at(ctypes.addressof(scratch_held) + 1, size - 1)
        if size <= _SCRATCH:
            scratch = self._scratch
            if scratch is None:
                scratch = self._scratch = ffi.new("unsigned char[]", _SCRATCH)
                self._scratch_bytes = ffi.buffer(scratch)
            with ffi.from_buffer(body) as src:
                rc = lib.crypto_box_open_easy_afternm(scratch, src + 16, clen, nonce, self._precom)
            if rc:
                raise self._undecryptable()
            return scratch[0], self._scratch_bytes[1:size]
        out = bytearray(size)
        with ffi.from_buffer(body) as src, ffi.from_buffer(out) as dst:
            rc = lib.crypto_box_open_easy_afternm(dst, src + 16, clen, nonce, self._precom)
        if rc:
            raise self._undecryptable()
        inner = out[0]
        del out[:1]
        return inner, out  # a bytearray frame of its own, as frames.LargeBody
