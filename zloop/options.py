"""Socket options shared by every socket type: defaults, validation and the snapshot L3 uses.

Options that only one pattern understands (ROUTER_MANDATORY, SUBSCRIBE, ...) belong to that pattern;
everything here applies to any socket. ``bind``/``connect`` hand the I/O thread a *copy* of the
options (:meth:`Options.snapshot`), as libzmq does: changing an option affects later endpoints only
(except LINGER, which is read when the socket closes).

Security options never fall back silently: an option of a mechanism zloop cannot run raises
``ZMQError(EINVAL)`` when set or read, as libzmq does when built without that mechanism -- GSSAPI
always (zloop has none), CURVE when PyNaCl is missing. ⚠ Two refusals go beyond libzmq, which
accepts and then ignores: a mechanism or a ZAP domain on a STREAM socket (raw bytes, no handshake),
and an empty ZAP_DOMAIN is EINVAL as libzmq's ``setsockopt`` makes it (``None`` clears the domain,
as libzmq's NULL pointer does). Security does not apply to ``inproc://`` connections, in zloop as in
libzmq: nothing crosses a wire there.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from zloop.constants import (
    BYTES_OPTIONS,
    DEFAULT_HWM,
    INT64_OPTIONS,
    Errno,
    SocketOption,
    SocketType,
)
from zloop.errors import ZMQError


@dataclass(slots=True)
class Options:
    socket_type: SocketType
    sndhwm: int = DEFAULT_HWM
    rcvhwm: int = DEFAULT_HWM
    linger: int = -1
    rcvtimeo: int = -1
    sndtimeo: int = -1
    routing_id: bytes = b""
    connect_routing_id: bytes = b""
    reconnect_ivl: int = 100
    reconnect_ivl_max: int = 0
    connect_timeout: int = 0
    immediate: bool = False
    maxmsgsize: int = -1
    backlog: int = 100
    handshake_ivl: int = 30_000
    tcp_keepalive: int = -1
    tcp_keepalive_cnt: int = -1
    tcp_keepalive_idle: int = -1
    tcp_keepalive_intvl: int = -1
    ipv6: bool = False
    sndbuf: int = -1
    rcvbuf: int = -1
    tos: int = 0
    heartbeat_ivl: int = 0
    heartbeat_ttl: int = 0
    heartbeat_timeout: int = -1
    conflate: bool = False
    zap_domain: bytes = b""
    # libzmq draft ZAP_ENFORCE_DOMAIN: a server with a ZAP domain but no handler refuses (instead of
    # proceeding unauthenticated), and a CURVE server without a domain no longer asks ZAP.
    zap_enforce_domain: bool = False
    metadata: dict[str, bytes] = field(default_factory=dict)
    # Security (libzmq options_t): ``mechanism`` is a SecurityMechanism value; ``as_server`` is
    # shared by PLAIN and CURVE exactly as in libzmq (see ``_set_security``).
    mechanism: int = 0
    as_server: bool = False
    plain_username: bytes = b""
    plain_password: bytes = b""
    curve_publickey: bytes = b""
    curve_secretkey: bytes = b""
    curve_serverkey: bytes = b""
    # Stored and reported as libzmq does, without effect in zloop (no pgm/norm/udp transport, one
    # process-wide choice of I/O thread, no Windows loopback fast path): see INERT_OPTIONS.
    affinity: int = 0
    rate: int = 100
    recovery_ivl: int = 10_000
    multicast_hops: int = 1
    multicast_maxtpdu: int = 1500
    multicast_loop: bool = True
    loopback_fastpath: bool = False
    # TCP_USER_TIMEOUT on tcp connections (libzmq's TCP_MAXRT on Linux), applied by zloop.io.
    tcp_maxrt: int = 0
    # INVERT_MATCHING of a socket type that does not filter (the pub/sub patterns keep their own).
    invert_matching: bool = False

    def __post_init__(self) -> None:
        if self.socket_type in (SocketType.SUB, SocketType.XSUB):
            # libzmq's xsub_t: a subscriber closes at once (its queued subscriptions are moot).
            self.linger = 0

    def snapshot(self) -> Options:
        """An independent copy for the I/O thread."""
        return copy.deepcopy(self)


#: C ``int`` and ``int64_t``: an option value outside its type's range is an OverflowError in pyzmq.
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1

#: Options that take ``None`` (libzmq's NULL pointer): a zloop extension, see the module docstring.
_NONE_ALLOWED = frozenset(
    {
        SocketOption.ZAP_DOMAIN,
        SocketOption.PLAIN_USERNAME,
        SocketOption.PLAIN_PASSWORD,
        SocketOption.XPUB_WELCOME_MSG,
    }
)


def check_value_type(option: int, value: Any) -> None:
    """pyzmq's type rules, checked before the option itself (as pyzmq does before calling libzmq):
    a str is a TypeError (use ``setsockopt_string``); a bytes option takes bytes (zloop also takes
    ``bytearray``/``memoryview``, and ``None`` where libzmq takes NULL), any other option an int
    (``bool`` included) within its C type's range (else OverflowError). Unknown options are ints."""
    if isinstance(value, str):
        raise TypeError("unicode not allowed, use setsockopt_string")
    if option in BYTES_OPTIONS:
        if isinstance(value, (bytes, bytearray, memoryview)):
            return
        if value is None and option in _NONE_ALLOWED:
            return
        raise TypeError(f"expected bytes, got: {value!r}")
    if not isinstance(value, int):
        raise TypeError(f"expected int, got: {value!r}")
    lo, hi = (_INT64_MIN, _INT64_MAX) if option in INT64_OPTIONS else (_INT_MIN, _INT_MAX)
    if not lo <= value <= hi:
        raise OverflowError(f"value {value} too large for option {option}")


def _int_range(lo: int | None, hi: int | None = None) -> Callable[[SocketOption, Any], int]:
    """An int option accepted in ``lo..hi`` (None: unbounded), as libzmq checks it."""

    def check(option: SocketOption, value: Any) -> int:
        if not isinstance(value, int):
            raise TypeError(f"expected int, got: {value!r}")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            if hi is None:
                bound = f">= {lo}"
            elif lo is None:
                bound = f"<= {hi}"
            else:
                bound = f"{lo}..{hi}"
            raise ZMQError(Errno.EINVAL, f"{option.name} must be {bound}, got {value}")
        return int(value)

    return check


def _flag(option: SocketOption, value: Any) -> bool:
    """libzmq's strict boolean options: 0 or 1 only."""
    if value in (0, 1) and isinstance(value, int):  # ints and bools alike, as pyzmq
        return bool(value)
    raise ZMQError(Errno.EINVAL, f"{option.name} takes 0 or 1, got {value!r}")


def _any_flag(option: SocketOption, value: Any) -> bool:
    """libzmq's relaxed boolean options: any int, non-zero meaning on."""
    if not isinstance(value, int):
        raise TypeError(f"expected int, got: {value!r}")
    return value != 0


def _heartbeat_ttl(option: SocketOption, value: Any) -> int:
    """libzmq keeps the TTL in deciseconds (the PING command's unit): the value is truncated to
    a multiple of 100 ms first, and must then fit in 16 bits."""
    deciseconds = int(_int_range(None)(option, value) / 100)  # C division: towards zero
    if not 0 <= deciseconds <= 0xFFFF:
        raise ZMQError(Errno.EINVAL, f"HEARTBEAT_TTL must be 0..6553599 ms, got {value}")
    return deciseconds * 100


def _blob(max_len: int | None, min_len: int = 0) -> Callable[[SocketOption, Any], bytes]:
    def check(option: SocketOption, value: Any) -> bytes:
        if isinstance(value, str):
            raise TypeError(f"{option.name} takes bytes, not str (use setsockopt_string)")
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise TypeError(f"expected bytes, got: {value!r}")
        data = bytes(value)
        if len(data) < min_len or (max_len is not None and len(data) > max_len):
            bound = f"{min_len}..{max_len}" if max_len is not None else f"at least {min_len}"
            raise ZMQError(Errno.EINVAL, f"{option.name} must be {bound} bytes, got {len(data)}")
        return data

    return check


def _zap_domain(option: SocketOption, value: Any) -> bytes:
    if value is None:  # libzmq: a NULL value clears the domain
        return b""
    return _blob(255, 1)(option, value)


def _metadata(option: SocketOption, value: Any) -> tuple[str, bytes]:
    raw = value.decode() if isinstance(value, (bytes, bytearray)) else value
    if not isinstance(raw, str) or ":" not in raw:
        raise ZMQError(Errno.EINVAL, 'METADATA takes "X-Name:value"')
    name, _, val = raw.partition(":")
    if not name.startswith("X-") or len(name) < 3 or len(name) > 255:
        raise ZMQError(Errno.EINVAL, f"METADATA property name must start with 'X-' (got {name!r})")
    return name, val.encode()


_INT = _int_range(-1)
_NONNEG = _int_range(0)
_POSITIVE = _int_range(1)
Opt = SocketOption

#: option -> (attribute, validator). Flags are returned as 0/1 by getsockopt, as pyzmq does.
COMMON_OPTIONS: dict[SocketOption, tuple[str, Callable[[SocketOption, Any], Any]]] = {
    Opt.SNDHWM: ("sndhwm", _NONNEG),
    Opt.RCVHWM: ("rcvhwm", _NONNEG),
    Opt.LINGER: ("linger", _INT),
    Opt.RCVTIMEO: ("rcvtimeo", _INT),
    Opt.SNDTIMEO: ("sndtimeo", _INT),
    Opt.ROUTING_ID: ("routing_id", _blob(255, 1)),
    # The id a ROUTER (REP, STREAM) gives the peer of its next connect: a local name, any length.
    Opt.CONNECT_ROUTING_ID: ("connect_routing_id", _blob(None, 1)),
    Opt.RECONNECT_IVL: ("reconnect_ivl", _INT),
    Opt.RECONNECT_IVL_MAX: ("reconnect_ivl_max", _NONNEG),
    Opt.CONNECT_TIMEOUT: ("connect_timeout", _NONNEG),
    Opt.IMMEDIATE: ("immediate", _flag),
    # Any value, as libzmq: a negative one means no limit.
    Opt.MAXMSGSIZE: ("maxmsgsize", _int_range(None)),
    Opt.BACKLOG: ("backlog", _NONNEG),
    Opt.HANDSHAKE_IVL: ("handshake_ivl", _NONNEG),
    Opt.TCP_KEEPALIVE: ("tcp_keepalive", _int_range(-1, 1)),
    Opt.TCP_KEEPALIVE_CNT: ("tcp_keepalive_cnt", _INT),
    Opt.TCP_KEEPALIVE_IDLE: ("tcp_keepalive_idle", _INT),
    Opt.TCP_KEEPALIVE_INTVL: ("tcp_keepalive_intvl", _INT),
    Opt.TCP_MAXRT: ("tcp_maxrt", _NONNEG),
    Opt.IPV6: ("ipv6", _flag),
    Opt.SNDBUF: ("sndbuf", _INT),
    Opt.RCVBUF: ("rcvbuf", _INT),
    Opt.TOS: ("tos", _NONNEG),
    Opt.HEARTBEAT_IVL: ("heartbeat_ivl", _NONNEG),
    Opt.HEARTBEAT_TTL: ("heartbeat_ttl", _heartbeat_ttl),
    Opt.HEARTBEAT_TIMEOUT: ("heartbeat_timeout", _NONNEG),
    Opt.CONFLATE: ("conflate", _flag),
    Opt.ZAP_DOMAIN: ("zap_domain", _zap_domain),
    Opt.ZAP_ENFORCE_DOMAIN: ("zap_enforce_domain", _any_flag),
    Opt.INVERT_MATCHING: ("invert_matching", _any_flag),
    # INERT_OPTIONS: libzmq's values and checks, no effect in zloop.
    Opt.AFFINITY: ("affinity", _int_range(None)),
    Opt.RATE: ("rate", _POSITIVE),
    Opt.RECOVERY_IVL: ("recovery_ivl", _NONNEG),
    Opt.MULTICAST_HOPS: ("multicast_hops", _POSITIVE),
    Opt.MULTICAST_MAXTPDU: ("multicast_maxtpdu", _POSITIVE),
    Opt.MULTICAST_LOOP: ("multicast_loop", _any_flag),
    Opt.LOOPBACK_FASTPATH: ("loopback_fastpath", _any_flag),
}

#: Options zloop stores and reports as libzmq does but that change nothing here, and why: AFFINITY
#: (which I/O threads serve new connections: zloop picks the least loaded), RATE, RECOVERY_IVL,
#: MULTICAST_HOPS, MULTICAST_MAXTPDU, MULTICAST_LOOP (pgm/epgm/norm/udp transports, which zloop
#: does not have), LOOPBACK_FASTPATH (Windows only in libzmq).
INERT_OPTIONS = frozenset(
    {
        Opt.AFFINITY,
        Opt.RATE,
        Opt.RECOVERY_IVL,
        Opt.MULTICAST_HOPS,
        Opt.MULTICAST_MAXTPDU,
        Opt.MULTICAST_LOOP,
        Opt.LOOPBACK_FASTPATH,
    }
)


class _Unsupported:
    """A libzmq feature zloop does not have: ``accept`` (its "off" value, if libzmq takes one) is
    accepted, any other value is ``ZMQError(EINVAL)`` saying so -- never silently ignored, since
    the program relies on what it asked for. ``read`` is what getsockopt returns (libzmq's
    default), ``None`` for an option libzmq cannot read back."""

    __slots__ = ("accept", "read", "why")

    def __init__(self, accept: Any, read: Any, why: str) -> None:
        self.accept = accept
        self.read = read
        self.why = why

    def set(self, option: SocketOption, value: Any) -> None:
        if self.accept is not None and value == self.accept:
            return
        raise ZMQError(Errno.EINVAL, f"{option.name}: {self.why}")


_NO_SOCKS = "zloop has no SOCKS proxy support (connections go direct)"
_NO_IPC_FILTER = "zloop does not filter ipc peers by pid/uid/gid"

#: Options of features zloop does not implement (see :class:`_Unsupported`).
UNSUPPORTED_OPTIONS: dict[SocketOption, _Unsupported] = {
    Opt.SOCKS_PROXY: _Unsupported(None, b"", _NO_SOCKS),
    Opt.SOCKS_USERNAME: _Unsupported(b"", b"", _NO_SOCKS),
    Opt.SOCKS_PASSWORD: _Unsupported(b"", b"", _NO_SOCKS),
    Opt.USE_FD: _Unsupported(-1, -1, "zloop cannot adopt a listening fd (USE_FD)"),
    Opt.BINDTODEVICE: _Unsupported(
        None, b"", "zloop does not bind its sockets to a network device (SO_BINDTODEVICE)"
    ),
    Opt.RECONNECT_STOP: _Unsupported(0, 0, "zloop always keeps reconnecting (RECONNECT_STOP)"),
    Opt.IPC_FILTER_PID: _Unsupported(None, None, _NO_IPC_FILTER),
    Opt.IPC_FILTER_UID: _Unsupported(None, None, _NO_IPC_FILTER),
    Opt.IPC_FILTER_GID: _Unsupported(None, None, _NO_IPC_FILTER),
    Opt.TCP_ACCEPT_FILTER: _Unsupported(
        None, None, "zloop does not filter tcp peers by address (TCP_ACCEPT_FILTER)"
    ),
}

#: Socket types that may name the peer of their next connect (libzmq: ROUTER and its REP, STREAM).
_CONNECT_ROUTING_ID_TYPES = frozenset({SocketType.ROUTER, SocketType.REP, SocketType.STREAM})

#: libzmq options that cannot be read back (getsockopt is EINVAL there, and here).
WRITE_ONLY_COMMON = frozenset({Opt.CONNECT_ROUTING_ID, Opt.METADATA})


#: Security options (libzmq ``options_t::setsockopt``): setting them switches the mechanism.
SECURITY_OPTIONS = frozenset(
    {
        Opt.MECHANISM,
        Opt.PLAIN_SERVER,
        Opt.PLAIN_USERNAME,
        Opt.PLAIN_PASSWORD,
        Opt.CURVE_SERVER,
        Opt.CURVE_PUBLICKEY,
        Opt.CURVE_SECRETKEY,
        Opt.CURVE_SERVERKEY,
    }
)

#: GSSAPI needs Kerberos, which zloop does not have: every GSSAPI option raises EINVAL on set and
#: get, exactly as in a libzmq built without GSSAPI (``zloop.has("gssapi")`` is False).
GSSAPI_OPTIONS = frozenset(
    {
        Opt.GSSAPI_SERVER,
        Opt.GSSAPI_PRINCIPAL,
        Opt.GSSAPI_SERVICE_PRINCIPAL,
        Opt.GSSAPI_PLAINTEXT,
        Opt.GSSAPI_PRINCIPAL_NAMETYPE,
        Opt.GSSAPI_SERVICE_PRINCIPAL_NAMETYPE,
    }
)
#: CURVE needs PyNaCl; without it these raise EINVAL, as in a libzmq built without CURVE.
CURVE_OPTIONS = frozenset(
    {Opt.CURVE_SERVER, Opt.CURVE_PUBLICKEY, Opt.CURVE_SECRETKEY, Opt.CURVE_SERVERKEY}
)

_NULL, _PLAIN, _CURVE = 0, 1, 2  # SecurityMechanism values
_CURVE_KEY_ATTRS = {
    Opt.CURVE_PUBLICKEY: "curve_publickey",
    Opt.CURVE_SECRETKEY: "curve_secretkey",
    Opt.CURVE_SERVERKEY: "curve_serverkey",
}


def _no_gssapi(option: SocketOption) -> ZMQError:
    return ZMQError(
        Errno.EINVAL,
        f"{option.name}: zloop has no GSSAPI mechanism (zloop.has('gssapi') is False), "
        "as libzmq built without GSSAPI",
    )


def _check_available(option: SocketOption) -> None:
    """EINVAL for a CURVE option without PyNaCl (see the module docstring)."""
    if option in CURVE_OPTIONS:
        from zloop.keys import NACL_MISSING, has_curve  # lazy: CURVE is an optional extra

        if not has_curve():
            raise ZMQError(Errno.EINVAL, f"{option.name}: CURVE is not available. {NACL_MISSING}")
        # Imported by the application's thread, not on the I/O thread's first CURVE handshake (a
        # fork() during an import there would leave that module's import lock held in the child).
        import zloop.protocol.curve  # noqa: F401


def _set_security(options: Options, option: SocketOption, value: Any) -> None:
    """libzmq's rules: PLAIN_SERVER / CURVE_SERVER set ``as_server`` and the mechanism (0: NULL);
    a PLAIN user name or password makes a PLAIN client; any CURVE key selects CURVE and the
    server key makes a client. Keys are 32 raw bytes or Z85 (40 chars, or 41 with a NUL)."""
    if option == Opt.MECHANISM:
        raise ZMQError(Errno.EINVAL, "MECHANISM is read-only")
    if option in (Opt.PLAIN_SERVER, Opt.CURVE_SERVER):
        server = _flag(option, value)
        options.as_server = server
        options.mechanism = (_PLAIN if option == Opt.PLAIN_SERVER else _CURVE) if server else _NULL
        return
    if option in (Opt.PLAIN_USERNAME, Opt.PLAIN_PASSWORD):
        if value is None:  # libzmq: a NULL value switches back to NULL
            options.mechanism = _NULL
            return
        data = _blob(255, 1)(option, value)
        if option == Opt.PLAIN_USERNAME:
            options.plain_username = data
        else:
            options.plain_password = data
        options.as_server = False
        options.mechanism = _PLAIN
        return
    from zloop.keys import key_from_option  # lazy: keeps options.py light

    key = key_from_option(value)
    setattr(options, _CURVE_KEY_ATTRS[option], key)
    options.mechanism = _CURVE
    if option == Opt.CURVE_SERVERKEY:
        options.as_server = False


def _get_security(options: Options, option: SocketOption) -> Any:
    if option == Opt.MECHANISM:
        return options.mechanism
    if option == Opt.PLAIN_SERVER:
        return int(options.as_server and options.mechanism == _PLAIN)
    if option == Opt.CURVE_SERVER:
        return int(options.as_server and options.mechanism == _CURVE)
    if option == Opt.PLAIN_USERNAME:
        return options.plain_username
    if option == Opt.PLAIN_PASSWORD:
        return options.plain_password
    # CURVE keys: the 32 raw bytes (libzmq's binary form); b"" while unset.
    return getattr(options, _CURVE_KEY_ATTRS[option])


def _refuse_on_stream(option: SocketOption) -> ZMQError:
    return ZMQError(
        Errno.EINVAL,
        f"{option.name} has no effect on a STREAM socket (raw bytes: no handshake, no security "
        "mechanism, no ZAP); refused rather than ignored",
    )


def set_common(options: Options, option: SocketOption, value: Any) -> None:
    """Validate and store one common option (raises ZMQError(EINVAL) with a precise message).

    The value's type was checked by :func:`check_value_type` (TypeError/OverflowError first, as
    pyzmq); what is left is libzmq's validation of the value itself."""
    if option in SECURITY_OPTIONS:
        _check_available(option)
        if options.socket_type == SocketType.STREAM:
            # ⚠ libzmq accepts a mechanism on STREAM and then speaks raw bytes unprotected.
            trial = copy.copy(options)
            _set_security(trial, option, value)
            if trial.mechanism != _NULL:
                raise _refuse_on_stream(option)
        _set_security(options, option, value)
        return
    if option in GSSAPI_OPTIONS:
        raise _no_gssapi(option)
    unsupported = UNSUPPORTED_OPTIONS.get(option)
    if unsupported is not None:
        unsupported.set(option, value)
        return
    if option == Opt.IPV4ONLY:
        options.ipv6 = not _flag(option, value)
        return
    if option == Opt.METADATA:
        name, val = _metadata(option, value)
        options.metadata[name] = val
        return
    if option == Opt.CONNECT_ROUTING_ID and options.socket_type not in _CONNECT_ROUTING_ID_TYPES:
        raise ZMQError(
            Errno.EINVAL, "CONNECT_ROUTING_ID applies to ROUTER, REP and STREAM sockets only"
        )
    attr, check = COMMON_OPTIONS[option]
    checked = check(option, value)
    if option == Opt.ZAP_DOMAIN and checked and options.socket_type == SocketType.STREAM:
        raise _refuse_on_stream(option)
    setattr(options, attr, checked)


def get_common(options: Options, option: SocketOption) -> Any:
    if option in SECURITY_OPTIONS:
        _check_available(option)
        return _get_security(options, option)
    if option in GSSAPI_OPTIONS:
        raise _no_gssapi(option)
    unsupported = UNSUPPORTED_OPTIONS.get(option)
    if unsupported is not None:
        if unsupported.read is None:
            raise ZMQError(Errno.EINVAL, f"{option.name} is write-only")
        return unsupported.read
    if option in WRITE_ONLY_COMMON:
        raise ZMQError(Errno.EINVAL, f"{option.name} is write-only")
    if option == Opt.IPV4ONLY:
        return int(not options.ipv6)
    if option == Opt.TYPE:
        return int(options.socket_type)
    if option == Opt.THREAD_SAFE:
        return 0  # no zloop socket type is thread-safe (libzmq: only the draft types are)
    attr, _ = COMMON_OPTIONS[option]
    value = getattr(options, attr)
    return int(value) if isinstance(value, bool) else value


def is_common(option: int) -> bool:
    return (
        option in COMMON_OPTIONS
        or option in SECURITY_OPTIONS
        or option in GSSAPI_OPTIONS
        or option in UNSUPPORTED_OPTIONS
        or option in (Opt.IPV4ONLY, Opt.METADATA, Opt.TYPE, Opt.THREAD_SAFE)
    )
