"""Layer 0: ZeroMQ's numbers, with the names and values pyzmq (and libzmq's zmq.h) use.

Everything here is an ``IntEnum`` / ``IntFlag`` so values compare equal to plain ints from pyzmq
programs, and every name is also exported flat from :mod:`zloop` (``zloop.PUSH``, ``zloop.NOBLOCK``)
so ``import zloop as zmq`` keeps pyzmq code working.
"""

from __future__ import annotations

import errno as _errno
from enum import IntEnum, IntFlag


class SocketType(IntEnum):
    """Socket types; the numbers are libzmq's (also the type byte of a ZMTP 2.0 greeting)."""

    PAIR = 0
    PUB = 1
    SUB = 2
    REQ = 3
    REP = 4
    DEALER = 5
    ROUTER = 6
    PULL = 7
    PUSH = 8
    XPUB = 9
    XSUB = 10
    STREAM = 11


class SocketOption(IntEnum):
    """Socket option numbers (``setsockopt``/``getsockopt``), as in zmq.h."""

    AFFINITY = 4
    ROUTING_ID = 5
    SUBSCRIBE = 6
    UNSUBSCRIBE = 7
    RATE = 8
    RECOVERY_IVL = 9
    SNDBUF = 11
    RCVBUF = 12
    RCVMORE = 13
    FD = 14
    EVENTS = 15
    TYPE = 16
    LINGER = 17
    RECONNECT_IVL = 18
    BACKLOG = 19
    RECONNECT_IVL_MAX = 21
    MAXMSGSIZE = 22
    SNDHWM = 23
    RCVHWM = 24
    MULTICAST_HOPS = 25
    RCVTIMEO = 27
    SNDTIMEO = 28
    IPV4ONLY = 31
    LAST_ENDPOINT = 32
    ROUTER_MANDATORY = 33
    TCP_KEEPALIVE = 34
    TCP_KEEPALIVE_CNT = 35
    TCP_KEEPALIVE_IDLE = 36
    TCP_KEEPALIVE_INTVL = 37
    TCP_ACCEPT_FILTER = 38
    IMMEDIATE = 39
    XPUB_VERBOSE = 40
    ROUTER_RAW = 41
    IPV6 = 42
    MECHANISM = 43
    PLAIN_SERVER = 44
    PLAIN_USERNAME = 45
    PLAIN_PASSWORD = 46
    CURVE_SERVER = 47
    CURVE_PUBLICKEY = 48
    CURVE_SECRETKEY = 49
    CURVE_SERVERKEY = 50
    PROBE_ROUTER = 51
    REQ_CORRELATE = 52
    REQ_RELAXED = 53
    CONFLATE = 54
    ZAP_DOMAIN = 55
    ROUTER_HANDOVER = 56
    TOS = 57
    CONNECT_ROUTING_ID = 61
    # GSSAPI (libzmq built with Kerberos): zloop has no GSSAPI mechanism, so setting or reading
    # these raises EINVAL, as libzmq built without GSSAPI does (``zloop.has("gssapi")`` is False).
    GSSAPI_SERVER = 62
    GSSAPI_PRINCIPAL = 63
    GSSAPI_SERVICE_PRINCIPAL = 64
    GSSAPI_PLAINTEXT = 65
    HANDSHAKE_IVL = 66
    SOCKS_PROXY = 68
    XPUB_NODROP = 69
    BLOCKY = 70
    XPUB_MANUAL = 71
    XPUB_WELCOME_MSG = 72
    STREAM_NOTIFY = 73
    INVERT_MATCHING = 74
    HEARTBEAT_IVL = 75
    HEARTBEAT_TTL = 76
    HEARTBEAT_TIMEOUT = 77
    XPUB_VERBOSER = 78
    CONNECT_TIMEOUT = 79
    TCP_MAXRT = 80
    THREAD_SAFE = 81
    GSSAPI_PRINCIPAL_NAMETYPE = 90
    GSSAPI_SERVICE_PRINCIPAL_NAMETYPE = 91
    ZAP_ENFORCE_DOMAIN = 93
    METADATA = 95
    ROUTER_NOTIFY = 97
    # Legacy aliases (pyzmq keeps them).
    IDENTITY = 5
    HWM = 1


class ContextOption(IntEnum):
    IO_THREADS = 1
    MAX_SOCKETS = 2
    SOCKET_LIMIT = 3
    MAX_MSGSZ = 5
    BLOCKY = 70


class Flag(IntFlag):
    """Flags for ``send``/``recv``."""

    DONTWAIT = 1
    SNDMORE = 2
    NOBLOCK = 1


class PollEvent(IntFlag):
    """Bits of ``EVENTS`` and of ``poll`` results."""

    POLLIN = 1
    POLLOUT = 2
    POLLERR = 4
    POLLPRI = 8


class MessageOption(IntEnum):
    MORE = 1
    SRCFD = 2
    SHARED = 3


class SecurityMechanism(IntEnum):
    NULL = 0
    PLAIN = 1
    CURVE = 2
    GSSAPI = 3


class Event(IntFlag):
    """Socket-monitor event numbers (first frame of a monitor message)."""

    CONNECTED = 0x0001
    CONNECT_DELAYED = 0x0002
    CONNECT_RETRIED = 0x0004
    LISTENING = 0x0008
    BIND_FAILED = 0x0010
    ACCEPTED = 0x0020
    ACCEPT_FAILED = 0x0040
    CLOSED = 0x0080
    CLOSE_FAILED = 0x0100
    DISCONNECTED = 0x0200
    MONITOR_STOPPED = 0x0400
    HANDSHAKE_FAILED_NO_DETAIL = 0x0800
    HANDSHAKE_SUCCEEDED = 0x1000
    HANDSHAKE_FAILED_PROTOCOL = 0x2000
    HANDSHAKE_FAILED_AUTH = 0x4000
    ALL = 0xFFFF


class ProtocolErrorCode(IntEnum):
    """Value of a HANDSHAKE_FAILED_PROTOCOL monitor event: what the peer did wrong (zmq.h)."""

    ZMTP_UNSPECIFIED = 0x10000000
    ZMTP_UNEXPECTED_COMMAND = 0x10000001
    ZMTP_INVALID_SEQUENCE = 0x10000002
    ZMTP_KEY_EXCHANGE = 0x10000003
    ZMTP_MALFORMED_COMMAND_UNSPECIFIED = 0x10000011
    ZMTP_MALFORMED_COMMAND_MESSAGE = 0x10000012
    ZMTP_MALFORMED_COMMAND_HELLO = 0x10000013
    ZMTP_MALFORMED_COMMAND_INITIATE = 0x10000014
    ZMTP_MALFORMED_COMMAND_ERROR = 0x10000015
    ZMTP_MALFORMED_COMMAND_READY = 0x10000016
    ZMTP_MALFORMED_COMMAND_WELCOME = 0x10000017
    ZMTP_INVALID_METADATA = 0x10000018
    ZMTP_CRYPTOGRAPHIC = 0x11000001
    ZMTP_MECHANISM_MISMATCH = 0x11000002
    ZAP_UNSPECIFIED = 0x20000000
    ZAP_MALFORMED_REPLY = 0x20000001
    ZAP_BAD_REQUEST_ID = 0x20000002
    ZAP_BAD_VERSION = 0x20000003
    ZAP_INVALID_STATUS_CODE = 0x20000004
    ZAP_INVALID_METADATA = 0x20000005


class Errno(IntEnum):
    """errno values as pyzmq reports them (POSIX values from this OS, plus ZeroMQ's own)."""

    EAGAIN = _errno.EAGAIN
    EINTR = _errno.EINTR
    EFAULT = _errno.EFAULT
    EINVAL = _errno.EINVAL
    ENOTSUP = getattr(_errno, "ENOTSUP", _errno.EOPNOTSUPP)
    EPROTONOSUPPORT = _errno.EPROTONOSUPPORT
    ENOBUFS = _errno.ENOBUFS
    ENETDOWN = _errno.ENETDOWN
    EADDRINUSE = _errno.EADDRINUSE
    EADDRNOTAVAIL = _errno.EADDRNOTAVAIL
    ECONNREFUSED = _errno.ECONNREFUSED
    EINPROGRESS = _errno.EINPROGRESS
    ENOTSOCK = _errno.ENOTSOCK
    EMSGSIZE = _errno.EMSGSIZE
    EAFNOSUPPORT = _errno.EAFNOSUPPORT
    ENETUNREACH = _errno.ENETUNREACH
    ECONNABORTED = _errno.ECONNABORTED
    ECONNRESET = _errno.ECONNRESET
    ENOTCONN = _errno.ENOTCONN
    ETIMEDOUT = _errno.ETIMEDOUT
    EHOSTUNREACH = _errno.EHOSTUNREACH
    ENETRESET = _errno.ENETRESET
    ENOENT = _errno.ENOENT
    EMFILE = _errno.EMFILE
    EPROTO = _errno.EPROTO
    # ZeroMQ's own errors: ZMQ_HAUSNUMERO (156384712) + 51..54.
    EFSM = 156384763
    ENOCOMPATPROTO = 156384764
    ETERM = 156384765
    EMTHREAD = 156384766


class DeviceType(IntEnum):
    """The first argument of ``device()`` and of the :mod:`zloop.devices` classes (pyzmq's values).

    Kept for old programs: every device is a ``proxy``, whatever its type (as in libzmq >= 3.2)."""

    STREAMER = 1
    FORWARDER = 2
    QUEUE = 3


#: Default high-water mark (messages) for SNDHWM and RCVHWM, as libzmq.
DEFAULT_HWM = 1000

#: Names exported flat (``zloop.PUSH`` ...), as pyzmq does.
_FLAT_ENUMS: tuple[type[IntEnum] | type[IntFlag], ...] = (
    SocketType,
    SocketOption,
    ContextOption,
    Flag,
    PollEvent,
    MessageOption,
    SecurityMechanism,
    Errno,
    DeviceType,
)


def flat_names() -> dict[str, int]:
    """Every constant by its flat pyzmq name (``EVENT_*`` and ``PROTOCOL_ERROR_*`` prefixed)."""
    names: dict[str, int] = {}
    for enum in _FLAT_ENUMS:
        for name, member in enum.__members__.items():
            names[name] = member
    for name, member in Event.__members__.items():
        names["EVENT_" + name] = member
    for name, member in ProtocolErrorCode.__members__.items():
        names["PROTOCOL_ERROR_" + name] = member
    names["MECHANISM_NULL"] = SecurityMechanism.NULL
    return names
