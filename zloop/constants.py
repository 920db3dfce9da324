"""Layer 0: ZeroMQ's numbers, with the names and values pyzmq (and libzmq's zmq.h) use.

Everything here is an ``IntEnum`` / ``IntFlag`` so values compare equal to plain ints from pyzmq
programs, and every name is also exported flat from :mod:`zloop` (``zloop.PUSH``, ``zloop.NOBLOCK``)
so ``import zloop as zmq`` keeps pyzmq code working. As in pyzmq's ``zmq.constants``, the flat names
are in this module too (``from zloop.constants import PUSH``): :mod:`zloop` adds them when the
package is imported (they are spelt out in :mod:`zloop._names`).
"""

from __future__ import annotations

import errno as _errno
import sys
from enum import Enum, IntEnum, IntFlag

__all__ = [
    "DRAFT_API",
    "IPC_PATH_MAX_LEN",
    "PYZMQ_DRAFT_API",
    "ContextOption",
    "DeviceType",
    "Enum",
    "Errno",
    "Event",
    "Flag",
    "IntEnum",
    "IntFlag",
    "MessageOption",
    "NormMode",
    "PollEvent",
    "ProtocolErrorCode",
    "ReconnectStop",
    "RouterNotify",
    "SecurityMechanism",
    "SocketOption",
    "SocketType",
]


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
    # Deprecated aliases (pyzmq keeps them).
    XREQ = 5
    XREP = 6
    # libzmq's draft types (thread-safe, single-part): named so programs and tables can refer to
    # them, but zloop implements none yet; ``Context.socket`` refuses them (EINVAL, saying so).
    SERVER = 12
    CLIENT = 13
    RADIO = 14
    DISH = 15
    GATHER = 16
    SCATTER = 17
    DGRAM = 18
    PEER = 19
    CHANNEL = 20


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
    MULTICAST_MAXTPDU = 84
    VMCI_BUFFER_SIZE = 85
    VMCI_BUFFER_MIN_SIZE = 86
    VMCI_BUFFER_MAX_SIZE = 87
    VMCI_CONNECT_TIMEOUT = 88
    USE_FD = 89
    BINDTODEVICE = 92
    IPC_FILTER_PID = 58
    IPC_FILTER_UID = 59
    IPC_FILTER_GID = 60
    LOOPBACK_FASTPATH = 94
    METADATA = 95
    MULTICAST_LOOP = 96
    ROUTER_NOTIFY = 97
    XPUB_MANUAL_LAST_VALUE = 98
    SOCKS_USERNAME = 99
    SOCKS_PASSWORD = 100
    IN_BATCH_SIZE = 101
    OUT_BATCH_SIZE = 102
    WSS_KEY_PEM = 103
    WSS_CERT_PEM = 104
    WSS_TRUST_PEM = 105
    WSS_HOSTNAME = 106
    WSS_TRUST_SYSTEM = 107
    ONLY_FIRST_SUBSCRIBE = 108
    RECONNECT_STOP = 109
    HELLO_MSG = 110
    DISCONNECT_MSG = 111
    PRIORITY = 112
    BUSY_POLL = 113
    HICCUP_MSG = 114
    XSUB_VERBOSE_UNSUBSCRIBE = 115
    TOPICS_COUNT = 116
    NORM_MODE = 117
    NORM_UNICAST_NACK = 118
    NORM_BUFFER_SIZE = 119
    NORM_SEGMENT_SIZE = 120
    NORM_BLOCK_SIZE = 121
    NORM_NUM_PARITY = 122
    NORM_NUM_AUTOPARITY = 123
    NORM_PUSH = 124
    # Legacy aliases (pyzmq keeps them).
    IDENTITY = 5
    CONNECT_RID = 61
    DELAY_ATTACH_ON_CONNECT = 39
    FAIL_UNROUTABLE = 33
    ROUTER_BEHAVIOR = 33
    # libzmq 2's option, gone from libzmq 4: getting or setting it is EINVAL there and here
    # (``Socket.hwm`` / ``set_hwm`` set SNDHWM and RCVHWM, as pyzmq's).
    HWM = 1


#: Socket options whose value is bytes (pyzmq's ``_OptType.bytes``): ``setsockopt`` takes bytes
#: (anything else is a TypeError, as pyzmq), ``getsockopt`` returns bytes.
BYTES_OPTIONS: frozenset[SocketOption] = frozenset(
    {
        SocketOption.ROUTING_ID,
        SocketOption.SUBSCRIBE,
        SocketOption.UNSUBSCRIBE,
        SocketOption.LAST_ENDPOINT,
        SocketOption.TCP_ACCEPT_FILTER,
        SocketOption.PLAIN_USERNAME,
        SocketOption.PLAIN_PASSWORD,
        SocketOption.CURVE_PUBLICKEY,
        SocketOption.CURVE_SECRETKEY,
        SocketOption.CURVE_SERVERKEY,
        SocketOption.ZAP_DOMAIN,
        SocketOption.CONNECT_ROUTING_ID,
        SocketOption.GSSAPI_PRINCIPAL,
        SocketOption.GSSAPI_SERVICE_PRINCIPAL,
        SocketOption.SOCKS_PROXY,
        SocketOption.XPUB_WELCOME_MSG,
        SocketOption.BINDTODEVICE,
        SocketOption.METADATA,
        SocketOption.SOCKS_USERNAME,
        SocketOption.SOCKS_PASSWORD,
        SocketOption.WSS_KEY_PEM,
        SocketOption.WSS_CERT_PEM,
        SocketOption.WSS_TRUST_PEM,
        SocketOption.WSS_HOSTNAME,
        SocketOption.HELLO_MSG,
        SocketOption.DISCONNECT_MSG,
        SocketOption.HICCUP_MSG,
    }
)

#: Socket options that are 64-bit integers in libzmq (``int64_t``/``uint64_t``); the others that
#: are not bytes are C ``int`` (pyzmq: OverflowError outside that range).
INT64_OPTIONS: frozenset[SocketOption] = frozenset(
    {
        SocketOption.AFFINITY,
        SocketOption.MAXMSGSIZE,
        SocketOption.VMCI_BUFFER_SIZE,
        SocketOption.VMCI_BUFFER_MIN_SIZE,
        SocketOption.VMCI_BUFFER_MAX_SIZE,
    }
)


class ContextOption(IntEnum):
    """Context option numbers (``Context.get``/``Context.set``), as in zmq.h."""

    IO_THREADS = 1
    MAX_SOCKETS = 2
    SOCKET_LIMIT = 3
    THREAD_PRIORITY = 3  # libzmq's number too: set-only, while SOCKET_LIMIT is get-only
    THREAD_SCHED_POLICY = 4
    MAX_MSGSZ = 5
    MSG_T_SIZE = 6
    THREAD_AFFINITY_CPU_ADD = 7
    THREAD_AFFINITY_CPU_REMOVE = 8
    THREAD_NAME_PREFIX = 9
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
    """``Frame.get`` options."""

    MORE = 1
    SRCFD = 2
    SHARED = 3


class SecurityMechanism(IntEnum):
    """Values of the MECHANISM option."""

    NULL = 0
    PLAIN = 1
    CURVE = 2
    GSSAPI = 3


class Event(IntFlag):
    """Socket-monitor event numbers (first frame of a monitor message).

    As pyzmq's, it also names the values of HANDSHAKE_FAILED_PROTOCOL events
    (``PROTOCOL_ERROR_*``, also in :class:`ProtocolErrorCode` without the prefix).
    """

    PROTOCOL_ERROR_WS_UNSPECIFIED = 0x30000000
    PROTOCOL_ERROR_ZMTP_UNSPECIFIED = 0x10000000
    PROTOCOL_ERROR_ZMTP_UNEXPECTED_COMMAND = 0x10000001
    PROTOCOL_ERROR_ZMTP_INVALID_SEQUENCE = 0x10000002
    PROTOCOL_ERROR_ZMTP_KEY_EXCHANGE = 0x10000003
    PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_UNSPECIFIED = 0x10000011
    PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_MESSAGE = 0x10000012
    PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_HELLO = 0x10000013
    PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_INITIATE = 0x10000014
    PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_ERROR = 0x10000015
    PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_READY = 0x10000016
    PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_WELCOME = 0x10000017
    PROTOCOL_ERROR_ZMTP_INVALID_METADATA = 0x10000018
    PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC = 0x11000001
    PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH = 0x11000002
    PROTOCOL_ERROR_ZAP_UNSPECIFIED = 0x20000000
    PROTOCOL_ERROR_ZAP_MALFORMED_REPLY = 0x20000001
    PROTOCOL_ERROR_ZAP_BAD_REQUEST_ID = 0x20000002
    PROTOCOL_ERROR_ZAP_BAD_VERSION = 0x20000003
    PROTOCOL_ERROR_ZAP_INVALID_STATUS_CODE = 0x20000004
    PROTOCOL_ERROR_ZAP_INVALID_METADATA = 0x20000005

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
    ALL_V1 = 0xFFFF
    ALL = 0xFFFF
    # Draft (libzmq's version-2 monitor): zloop does not emit it.
    PIPES_STATS = 0x10000
    ALL_V2 = 0x1FFFF


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
    WS_UNSPECIFIED = 0x30000000


class RouterNotify(IntEnum):
    """Values of the ROUTER_NOTIFY option (flat names ``NOTIFY_CONNECT``, ``NOTIFY_DISCONNECT``)."""

    CONNECT = 1
    DISCONNECT = 2


class NormMode(IntEnum):
    """Values of the NORM_MODE option (flat names ``NORM_FIXED`` ...); zloop has no NORM transport."""

    FIXED = 0
    CC = 1
    CCL = 2
    CCE = 3
    CCE_ECNONLY = 4


class ReconnectStop(IntEnum):
    """Bits of the RECONNECT_STOP option (flat names ``RECONNECT_STOP_CONN_REFUSED`` ...)."""

    CONN_REFUSED = 0x1
    HANDSHAKE_FAILED = 0x2
    AFTER_DISCONNECT = 0x4


class DeviceType(IntEnum):
    """Device types of ``zmq.device`` (flat names ``STREAMER``, ``FORWARDER``, ``QUEUE``)."""

    STREAMER = 1
    FORWARDER = 2
    QUEUE = 3


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


#: Longest ``ipc://`` path libzmq accepts (``sizeof(sockaddr_un.sun_path) - 1``), as pyzmq's.
IPC_PATH_MAX_LEN = 103 if sys.platform == "darwin" or "bsd" in sys.platform else 107

#: pyzmq's "draft API available" flags: zloop implements no draft socket type (see SocketType).
DRAFT_API = False
PYZMQ_DRAFT_API = False

#: Default high-water mark (messages) for SNDHWM and RCVHWM, as libzmq.
DEFAULT_HWM = 1000

#: Names exported flat (``zloop.PUSH`` ...), as pyzmq does; a later enum's name wins (``BLOCKY`` is
#: the socket option, as in pyzmq).
_FLAT_ENUMS: tuple[type[IntEnum] | type[IntFlag], ...] = (
    ContextOption,
    DeviceType,
    SocketType,
    SocketOption,
    Flag,
    PollEvent,
    MessageOption,
    SecurityMechanism,
    Errno,
    DeviceType,
)

#: Enums whose flat names carry a prefix (pyzmq's ``_global_name``).
_PREFIXED_ENUMS: tuple[tuple[type[IntEnum] | type[IntFlag], str], ...] = (
    (RouterNotify, "NOTIFY_"),
    (NormMode, "NORM_"),
    (ReconnectStop, "RECONNECT_STOP_"),
    (ProtocolErrorCode, "PROTOCOL_ERROR_"),
)


def flat_names() -> dict[str, int]:
    """Every constant by its flat pyzmq name (``EVENT_*`` and ``PROTOCOL_ERROR_*`` prefixed)."""
    names: dict[str, int] = {}
    for enum in _FLAT_ENUMS:
        for name, member in enum.__members__.items():
            names[name] = member
    for name, member in Event.__members__.items():
        names[name if name.startswith("PROTOCOL_ERROR_") else "EVENT_" + name] = member
    for prefixed, prefix in _PREFIXED_ENUMS:
        for name, member in prefixed.__members__.items():
            names[prefix + name] = member
    names["MECHANISM_NULL"] = SecurityMechanism.NULL
    return names
