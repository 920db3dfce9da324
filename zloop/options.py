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

from zloop.constants import DEFAULT_HWM, Errno, SocketOption, SocketType
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

    def snapshot(self) -> Options:
        """An independent copy for the I/O thread."""
        return copy.deepcopy(self)


def _int_range(lo: int, hi: int | None = None) -> Callable[[SocketOption, Any], int]:
    def check(option: SocketOption, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ZMQError(Errno.EINVAL, f"{option.name} takes an int, not {type(value).__name__}")
        if value < lo or (hi is not None and value > hi):
            bound = f"{lo}..{hi}" if hi is not None else f">= {lo}"
            raise ZMQError(Errno.EINVAL, f"{option.name} must be {bound}, got {value}")
        return value

    return check


def _flag(option: SocketOption, value: Any) -> bool:
    if value in (0, 1):  # ints and bools alike, as pyzmq
        return bool(value)
    raise ZMQError(Errno.EINVAL, f"{option.name} takes 0 or 1, got {value!r}")


def _blob(max_len: int, min_len: int = 0) -> Callable[[SocketOption, Any], bytes]:
    def check(option: SocketOption, value: Any) -> bytes:
        if isinstance(value, str):
            raise TypeError(f"{option.name} takes bytes, not str (use setsockopt_string)")
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise ZMQError(Errno.EINVAL, f"{option.name} takes bytes, not {type(value).__name__}")
        data = bytes(value)
        if not min_len <= len(data) <= max_len:
            raise ZMQError(
                Errno.EINVAL, f"{option.name} must be {min_len}..{max_len} bytes, got {len(data)}"
            )
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
Opt = SocketOption

#: option -> (attribute, validator). Flags are returned as 0/1 by getsockopt, as pyzmq does.
COMMON_OPTIONS: dict[SocketOption, tuple[str, Callable[[SocketOption, Any], Any]]] = {
    Opt.SNDHWM: ("sndhwm", _NONNEG),
    Opt.RCVHWM: ("rcvhwm", _NONNEG),
    Opt.LINGER: ("linger", _INT),
    Opt.RCVTIMEO: ("rcvtimeo", _INT),
    Opt.SNDTIMEO: ("sndtimeo", _INT),
    Opt.ROUTING_ID: ("routing_id", _blob(255, 1)),
    Opt.CONNECT_ROUTING_ID: ("connect_routing_id", _blob(255, 1)),
    Opt.RECONNECT_IVL: ("reconnect_ivl", _INT),
    Opt.RECONNECT_IVL_MAX: ("reconnect_ivl_max", _NONNEG),
    Opt.CONNECT_TIMEOUT: ("connect_timeout", _NONNEG),
    Opt.IMMEDIATE: ("immediate", _flag),
    Opt.MAXMSGSIZE: ("maxmsgsize", _INT),
    Opt.BACKLOG: ("backlog", _NONNEG),
    Opt.HANDSHAKE_IVL: ("handshake_ivl", _NONNEG),
    Opt.TCP_KEEPALIVE: ("tcp_keepalive", _int_range(-1, 1)),
    Opt.TCP_KEEPALIVE_CNT: ("tcp_keepalive_cnt", _INT),
    Opt.TCP_KEEPALIVE_IDLE: ("tcp_keepalive_idle", _INT),
    Opt.TCP_KEEPALIVE_INTVL: ("tcp_keepalive_intvl", _INT),
    Opt.IPV6: ("ipv6", _flag),
    Opt.SNDBUF: ("sndbuf", _INT),
    Opt.RCVBUF: ("rcvbuf", _INT),
    Opt.TOS: ("tos", _NONNEG),
    Opt.HEARTBEAT_IVL: ("heartbeat_ivl", _NONNEG),
    Opt.HEARTBEAT_TTL: ("heartbeat_ttl", _int_range(0, 6_553_599)),
    Opt.HEARTBEAT_TIMEOUT: ("heartbeat_timeout", _INT),
    Opt.CONFLATE: ("conflate", _flag),
    Opt.ZAP_DOMAIN: ("zap_domain", _zap_domain),
    Opt.ZAP_ENFORCE_DOMAIN: ("zap_enforce_domain", _flag),
}


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
    """Validate and store one common option (raises ZMQError(EINVAL) with a precise message)."""
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
    if option == Opt.IPV4ONLY:
        options.ipv6 = not _flag(option, value)
        return
    if option == Opt.METADATA:
        name, val = _metadata(option, value)
        options.metadata[name] = val
        return
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
    if option == Opt.IPV4ONLY:
        return int(not options.ipv6)
    if option == Opt.TYPE:
        return int(options.socket_type)
    attr, _ = COMMON_OPTIONS[option]
    value = getattr(options, attr)
    return int(value) if isinstance(value, bool) else value


def is_common(option: int) -> bool:
    return (
        option in COMMON_OPTIONS
        or option in SECURITY_OPTIONS
        or option in GSSAPI_OPTIONS
        or option in (Opt.IPV4ONLY, Opt.METADATA, Opt.TYPE)
    )
