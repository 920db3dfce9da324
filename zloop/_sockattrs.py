"""Socket options as attributes, as pyzmq's sockets have them.

pyzmq routes ``sock.linger = 0``, ``sock.RCVTIMEO``, ``sock.hwm = 100`` and ``sub.subscribe = b"a"``
to ``set``/``get`` through ``__setattr__``/``__getattr__``, and raises ``AttributeError`` for a name
that is no option (``sock.lingr = 0``). zloop gets the same behaviour without a ``__setattr__`` on
:class:`zloop.Socket`, which would tax every attribute write of the send/recv path:

* every option is a typed descriptor under its lower-case and its upper-case name (aliases
  included), declared once in :class:`SocketOptionAttributes`, the base class of ``Socket``: the
  declarations are what runs and what type checkers read (``sock.sndhwm = 10`` checks, ``n: int =
  sock.sndhwm`` too, ``sock.sndhwm = b"x"`` and ``sock.sndhwn`` are type errors), and
  ``tests/test_user_typing.py`` keeps them in step with :class:`zloop.SocketOption`;
* reading a write-only option raises ``AttributeError`` as pyzmq's does (libzmq's EINVAL), writing a
  read-only one raises ``ZMQError(EINVAL)`` (and is a type error: its value type is ``NoReturn``);
* ``subscribe`` / ``unsubscribe`` are methods that are also write-only attributes
  (:class:`OptionMethod`);
* ``Socket`` has ``__slots__``, so writing any other name raises ``AttributeError``;
* a subclass that has a ``__dict__`` gets pyzmq's rule (:func:`declared_only_setattr`): a name
  already set on the instance, or defined or annotated in a class, may be written; any other name
  raises ``AttributeError``.

Deliberately different from pyzmq: option names in mixed case (``sock.Linger``) and constants that
are no socket option (``sock.noblock``) are not options (``AttributeError``; pyzmq upper-cases any
name and looks it up among all its constants), and a method cannot be replaced on a plain
``zloop.Socket`` instance (no ``__dict__``; a subclass may).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from types import MethodType
from typing import Any, Generic, NoReturn, TypeVar, overload

from zloop.constants import Errno, SocketOption
from zloop.constants import SocketOption as Opt
from zloop.errors import ZMQError

__all__ = [
    "SOCKET_OWN_NAMES",
    "BytesOption",
    "IntOption",
    "NullableBytesOption",
    "OptionAttribute",
    "OptionMethod",
    "ReadOnlyBytesOption",
    "ReadOnlyIntOption",
    "SocketOptionAttributes",
    "declared",
    "declared_only_setattr",
    "install_option_attributes",
]

#: Errors of a getsockopt that mean "this option cannot be read" (pyzmq: write-only).
_WRITE_ONLY_ERRNOS = (int(Errno.EINVAL), int(Errno.EFAULT))

_Get = TypeVar("_Get")
_Set = TypeVar("_Set")
_Attr = TypeVar("_Attr", bound="OptionAttribute[Any, Any]")

#: What a bytes option accepts (zloop also takes bytearray and memoryview, see zloop.options).
_Buffer = bytes | bytearray | memoryview


class OptionAttribute(Generic[_Get, _Set]):
    """A socket option as an attribute: reading is ``getsockopt(option)`` (typed ``_Get``),
    writing ``setsockopt(option, value)`` (typed ``_Set``)."""

    def __init__(self, option: SocketOption, doc: str) -> None:
        self.option = option
        self.name = option.name.lower()
        self.__doc__ = doc

    def __set_name__(self, owner: type, name: str) -> None:
        if name.islower():
            self.name = name  # the name the error messages use (an alias's own)

    @overload
    def __get__(self: _Attr, obj: None, objtype: type | None = None) -> _Attr: ...

    @overload
    def __get__(self, obj: object, objtype: type | None = None) -> _Get: ...

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        if obj is None:
            return self
        try:
            return obj.getsockopt(self.option)
        except ZMQError as exc:
            if exc.errno in _WRITE_ONLY_ERRNOS:
                raise AttributeError(f"{self.name} attribute is write-only") from None
            raise

    def __set__(self, obj: Any, value: _Set) -> None:
        obj.setsockopt(self.option, value)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.option.name}>"


class IntOption(OptionAttribute[int, int]):
    """An integer option (``bool`` is one: ``sock.curve_server = True``)."""


class BytesOption(OptionAttribute[bytes, _Buffer]):
    """A bytes option (read as ``bytes``; ``bytearray`` and ``memoryview`` are accepted)."""


class NullableBytesOption(OptionAttribute[bytes, _Buffer | None]):
    """A bytes option that also takes ``None`` (libzmq's NULL: cleared)."""


class ReadOnlyIntOption(OptionAttribute[int, NoReturn]):
    """A read-only integer option: writing raises ``ZMQError(EINVAL)`` (and is a type error)."""


class ReadOnlyBytesOption(OptionAttribute[bytes, NoReturn]):
    """A read-only bytes option: writing raises ``ZMQError(EINVAL)`` (and is a type error)."""


class SocketOptionAttributes:
    """The option attributes of :class:`zloop.Socket` (its base class): one per
    :class:`~zloop.SocketOption` member, under its lower-case and upper-case names. ``FD``,
    ``EVENTS``, ``type``, ``last_endpoint``, ``hwm``, ``subscribe`` and ``unsubscribe`` are the
    socket's own (properties and methods)."""

    __slots__ = ()

    affinity = AFFINITY = IntOption(
        Opt.AFFINITY,
        "Bitmask of the I/O threads that serve new connections (stored; zloop picks the least loaded).",
    )
    routing_id = ROUTING_ID = BytesOption(
        Opt.ROUTING_ID,
        "The identity this socket announces to its peers (ROUTER addresses it by it).",
    )
    SUBSCRIBE = BytesOption(
        Opt.SUBSCRIBE,
        "Write-only: add a SUB/XSUB topic prefix (the method ``subscribe`` does the same).",
    )
    UNSUBSCRIBE = BytesOption(Opt.UNSUBSCRIBE, "Write-only: remove one SUB/XSUB topic prefix.")
    rate = RATE = IntOption(
        Opt.RATE, "Multicast data rate in kbit/s (stored; zloop has no multicast transports)."
    )
    recovery_ivl = RECOVERY_IVL = IntOption(
        Opt.RECOVERY_IVL,
        "Multicast recovery interval in ms (stored; zloop has no multicast transports).",
    )
    sndbuf = SNDBUF = IntOption(
        Opt.SNDBUF,
        "Kernel send buffer size in bytes (SO_SNDBUF; -1: the OS default, except that an ipc "
        "connection's send buffer is raised to at least 1 MiB where the kernel allows it).",
    )
    rcvbuf = RCVBUF = IntOption(
        Opt.RCVBUF, "Kernel receive buffer size in bytes (SO_RCVBUF; -1: the OS default)."
    )
    rcvmore = RCVMORE = ReadOnlyIntOption(
        Opt.RCVMORE, "Read-only: 1 while more frames of the current message are to be received."
    )
    fd = ReadOnlyIntOption(
        Opt.FD,
        "Read-only: the edge-triggered file descriptor that signals EVENTS may have changed.",
    )
    events = ReadOnlyIntOption(
        Opt.EVENTS, "Read-only: POLLIN/POLLOUT, what the socket can do now (re-arms the FD)."
    )
    TYPE = ReadOnlyIntOption(Opt.TYPE, "Read-only: the socket type.")
    linger = LINGER = IntOption(
        Opt.LINGER, "How long close() waits for unsent messages, in ms (-1: forever, 0: drop them)."
    )
    reconnect_ivl = RECONNECT_IVL = IntOption(
        Opt.RECONNECT_IVL, "First reconnect interval in ms (-1: never reconnect)."
    )
    backlog = BACKLOG = IntOption(
        Opt.BACKLOG, "Length of the queue of pending incoming connections (listen backlog)."
    )
    reconnect_ivl_max = RECONNECT_IVL_MAX = IntOption(
        Opt.RECONNECT_IVL_MAX,
        "Upper bound of the exponential reconnect backoff in ms (0: no backoff).",
    )
    maxmsgsize = MAXMSGSIZE = IntOption(
        Opt.MAXMSGSIZE, "Largest inbound message a peer may send, in bytes (-1: no limit)."
    )
    sndhwm = SNDHWM = IntOption(Opt.SNDHWM, "High-water mark of outbound messages per peer.")
    rcvhwm = RCVHWM = IntOption(Opt.RCVHWM, "High-water mark of inbound messages per peer.")
    multicast_hops = MULTICAST_HOPS = IntOption(
        Opt.MULTICAST_HOPS, "Multicast TTL (stored; zloop has no multicast transports)."
    )
    rcvtimeo = RCVTIMEO = IntOption(
        Opt.RCVTIMEO, "Timeout of a blocking receive in ms (-1: forever); EAGAIN when it expires."
    )
    sndtimeo = SNDTIMEO = IntOption(
        Opt.SNDTIMEO, "Timeout of a blocking send in ms (-1: forever); EAGAIN when it expires."
    )
    ipv4only = IPV4ONLY = IntOption(
        Opt.IPV4ONLY, "1: IPv4 only; 0: IPv6 too (the inverse of IPV6)."
    )
    LAST_ENDPOINT = ReadOnlyBytesOption(
        Opt.LAST_ENDPOINT, "Read-only: the endpoint last bound or connected (with the chosen port)."
    )
    router_mandatory = ROUTER_MANDATORY = IntOption(
        Opt.ROUTER_MANDATORY,
        "ROUTER: 1 makes a message to an unknown peer an error (EHOSTUNREACH) instead of a drop.",
    )
    tcp_keepalive = TCP_KEEPALIVE = IntOption(
        Opt.TCP_KEEPALIVE, "TCP keep-alive (SO_KEEPALIVE): -1 the OS default, 0 off, 1 on."
    )
    tcp_keepalive_cnt = TCP_KEEPALIVE_CNT = IntOption(
        Opt.TCP_KEEPALIVE_CNT, "TCP keep-alive probe count (TCP_KEEPCNT; -1: the OS default)."
    )
    tcp_keepalive_idle = TCP_KEEPALIVE_IDLE = IntOption(
        Opt.TCP_KEEPALIVE_IDLE, "TCP keep-alive idle time in s (TCP_KEEPIDLE; -1: the OS default)."
    )
    tcp_keepalive_intvl = TCP_KEEPALIVE_INTVL = IntOption(
        Opt.TCP_KEEPALIVE_INTVL,
        "TCP keep-alive probe interval in s (TCP_KEEPINTVL; -1: the OS default).",
    )
    tcp_accept_filter = TCP_ACCEPT_FILTER = BytesOption(
        Opt.TCP_ACCEPT_FILTER, "libzmq's tcp peer address filter (zloop: unsupported)."
    )
    immediate = IMMEDIATE = IntOption(
        Opt.IMMEDIATE, "1: queue messages only to completed connections."
    )
    xpub_verbose = XPUB_VERBOSE = IntOption(
        Opt.XPUB_VERBOSE, "XPUB: 1 passes every subscription upstream, duplicates included."
    )
    router_raw = ROUTER_RAW = IntOption(
        Opt.ROUTER_RAW, "ROUTER: raw mode (no ZMTP), as a STREAM socket."
    )
    ipv6 = IPV6 = IntOption(Opt.IPV6, "1: IPv6 (and IPv4) addresses; 0: IPv4 only.")
    mechanism = MECHANISM = ReadOnlyIntOption(
        Opt.MECHANISM, "Read-only: the security mechanism in use (NULL, PLAIN, CURVE, GSSAPI)."
    )
    plain_server = PLAIN_SERVER = IntOption(Opt.PLAIN_SERVER, "1: act as a PLAIN server.")
    plain_username = PLAIN_USERNAME = NullableBytesOption(
        Opt.PLAIN_USERNAME, "PLAIN client user name (setting it makes the socket a PLAIN client)."
    )
    plain_password = PLAIN_PASSWORD = NullableBytesOption(
        Opt.PLAIN_PASSWORD, "PLAIN client password."
    )
    curve_server = CURVE_SERVER = IntOption(
        Opt.CURVE_SERVER, "1: act as a CURVE server (needs CURVE_SECRETKEY)."
    )
    curve_publickey = CURVE_PUBLICKEY = BytesOption(
        Opt.CURVE_PUBLICKEY,
        "This socket's long-term CURVE public key (32 bytes or 40 Z85 characters).",
    )
    curve_secretkey = CURVE_SECRETKEY = BytesOption(
        Opt.CURVE_SECRETKEY,
        "This socket's long-term CURVE secret key (32 bytes or 40 Z85 characters).",
    )
    curve_serverkey = CURVE_SERVERKEY = BytesOption(
        Opt.CURVE_SERVERKEY,
        "CURVE client: the server's public key (32 bytes or 40 Z85 characters).",
    )
    probe_router = PROBE_ROUTER = IntOption(
        Opt.PROBE_ROUTER, "1: send an empty message to a ROUTER peer on connect."
    )
    req_correlate = REQ_CORRELATE = IntOption(
        Opt.REQ_CORRELATE, "REQ: 1 tags requests with an id and matches replies to it."
    )
    req_relaxed = REQ_RELAXED = IntOption(
        Opt.REQ_RELAXED, "REQ: 1 allows a new request before the reply to the last one arrived."
    )
    conflate = CONFLATE = IntOption(Opt.CONFLATE, "1: keep only the last message in the queues.")
    zap_domain = ZAP_DOMAIN = NullableBytesOption(
        Opt.ZAP_DOMAIN, "The ZAP authentication domain (None: none)."
    )
    router_handover = ROUTER_HANDOVER = IntOption(
        Opt.ROUTER_HANDOVER, "ROUTER: 1 hands an identity over to a new connection that claims it."
    )
    tos = TOS = IntOption(Opt.TOS, "IP type-of-service (DSCP) byte of outgoing packets.")
    connect_routing_id = CONNECT_ROUTING_ID = BytesOption(
        Opt.CONNECT_ROUTING_ID,
        "Write-only: the routing id of the peer of the next connect() (ROUTER, STREAM).",
    )
    gssapi_server = GSSAPI_SERVER = IntOption(
        Opt.GSSAPI_SERVER, "GSSAPI server role (zloop has no GSSAPI)."
    )
    gssapi_principal = GSSAPI_PRINCIPAL = BytesOption(
        Opt.GSSAPI_PRINCIPAL, "GSSAPI principal name (zloop has no GSSAPI)."
    )
    gssapi_service_principal = GSSAPI_SERVICE_PRINCIPAL = BytesOption(
        Opt.GSSAPI_SERVICE_PRINCIPAL, "GSSAPI service principal name (zloop has no GSSAPI)."
    )
    gssapi_plaintext = GSSAPI_PLAINTEXT = IntOption(
        Opt.GSSAPI_PLAINTEXT, "GSSAPI without encryption (zloop has no GSSAPI)."
    )
    handshake_ivl = HANDSHAKE_IVL = IntOption(
        Opt.HANDSHAKE_IVL, "Maximum time of the ZMTP handshake in ms (0: no limit)."
    )
    socks_proxy = SOCKS_PROXY = BytesOption(
        Opt.SOCKS_PROXY, "SOCKS5 proxy address (zloop: unsupported)."
    )
    xpub_nodrop = XPUB_NODROP = IntOption(
        Opt.XPUB_NODROP,
        "XPUB: 1 makes a send at the high-water mark fail with EAGAIN instead of dropping.",
    )
    blocky = BLOCKY = IntOption(
        Opt.BLOCKY,
        "A context option in libzmq (``Context.blocky``: whether term() waits for lingering sockets).",
    )
    xpub_manual = XPUB_MANUAL = IntOption(
        Opt.XPUB_MANUAL, "XPUB: 1 leaves subscription handling to the application."
    )
    xpub_welcome_msg = XPUB_WELCOME_MSG = NullableBytesOption(
        Opt.XPUB_WELCOME_MSG, "XPUB: a message sent to each new subscriber (None: none)."
    )
    stream_notify = STREAM_NOTIFY = IntOption(
        Opt.STREAM_NOTIFY, "STREAM: 1 delivers a zero-length message on connect and disconnect."
    )
    invert_matching = INVERT_MATCHING = IntOption(
        Opt.INVERT_MATCHING, "PUB/SUB/XPUB/XSUB: 1 delivers what does not match the subscriptions."
    )
    heartbeat_ivl = HEARTBEAT_IVL = IntOption(
        Opt.HEARTBEAT_IVL, "Interval of ZMTP PING heartbeats in ms (0: none)."
    )
    heartbeat_ttl = HEARTBEAT_TTL = IntOption(
        Opt.HEARTBEAT_TTL,
        "Time-to-live sent in PINGs: the peer drops the connection after this long without traffic, in ms.",
    )
    heartbeat_timeout = HEARTBEAT_TIMEOUT = IntOption(
        Opt.HEARTBEAT_TIMEOUT, "How long to wait for a PONG before closing the connection, in ms."
    )
    xpub_verboser = XPUB_VERBOSER = IntOption(
        Opt.XPUB_VERBOSER, "XPUB: 1 passes every subscription and unsubscription upstream."
    )
    connect_timeout = CONNECT_TIMEOUT = IntOption(
        Opt.CONNECT_TIMEOUT, "Timeout of a TCP connect in ms (0: the OS's)."
    )
    tcp_maxrt = TCP_MAXRT = IntOption(Opt.TCP_MAXRT, "Maximum TCP retransmit timeout in ms.")
    thread_safe = THREAD_SAFE = ReadOnlyIntOption(
        Opt.THREAD_SAFE, "Read-only: 1 for libzmq's thread-safe socket types (none in zloop)."
    )
    gssapi_principal_nametype = GSSAPI_PRINCIPAL_NAMETYPE = IntOption(
        Opt.GSSAPI_PRINCIPAL_NAMETYPE, "GSSAPI principal name type (zloop has no GSSAPI)."
    )
    gssapi_service_principal_nametype = GSSAPI_SERVICE_PRINCIPAL_NAMETYPE = IntOption(
        Opt.GSSAPI_SERVICE_PRINCIPAL_NAMETYPE,
        "GSSAPI service principal name type (zloop has no GSSAPI).",
    )
    zap_enforce_domain = ZAP_ENFORCE_DOMAIN = IntOption(
        Opt.ZAP_ENFORCE_DOMAIN,
        "1: RFC 27's strict ZAP rule (a ZAP request needs a domain); libzmq's default is the older one.",
    )
    multicast_maxtpdu = MULTICAST_MAXTPDU = IntOption(
        Opt.MULTICAST_MAXTPDU,
        "Multicast maximum transport data unit (stored; zloop has no multicast transports).",
    )
    vmci_buffer_size = VMCI_BUFFER_SIZE = IntOption(
        Opt.VMCI_BUFFER_SIZE, "VMCI buffer size (libzmq's vmci transport)."
    )
    vmci_buffer_min_size = VMCI_BUFFER_MIN_SIZE = IntOption(
        Opt.VMCI_BUFFER_MIN_SIZE, "VMCI minimum buffer size (libzmq's vmci transport)."
    )
    vmci_buffer_max_size = VMCI_BUFFER_MAX_SIZE = IntOption(
        Opt.VMCI_BUFFER_MAX_SIZE, "VMCI maximum buffer size (libzmq's vmci transport)."
    )
    vmci_connect_timeout = VMCI_CONNECT_TIMEOUT = IntOption(
        Opt.VMCI_CONNECT_TIMEOUT, "VMCI connect timeout (libzmq's vmci transport)."
    )
    use_fd = USE_FD = IntOption(
        Opt.USE_FD, "Bind to an already listening fd (zloop: unsupported, -1 only)."
    )
    bindtodevice = BINDTODEVICE = BytesOption(
        Opt.BINDTODEVICE, "Network device to bind sockets to (SO_BINDTODEVICE; zloop: unsupported)."
    )
    ipc_filter_pid = IPC_FILTER_PID = IntOption(
        Opt.IPC_FILTER_PID, "ipc peer filter by process id (zloop: unsupported)."
    )
    ipc_filter_uid = IPC_FILTER_UID = IntOption(
        Opt.IPC_FILTER_UID, "ipc peer filter by user id (zloop: unsupported)."
    )
    ipc_filter_gid = IPC_FILTER_GID = IntOption(
        Opt.IPC_FILTER_GID, "ipc peer filter by group id (zloop: unsupported)."
    )
    loopback_fastpath = LOOPBACK_FASTPATH = IntOption(
        Opt.LOOPBACK_FASTPATH, "Windows loopback fast path (stored; no effect)."
    )
    metadata = METADATA = BytesOption(
        Opt.METADATA, "Write-only: an ``X-Name:value`` property sent in the handshake."
    )
    multicast_loop = MULTICAST_LOOP = IntOption(
        Opt.MULTICAST_LOOP, "Multicast loopback (stored; zloop has no multicast transports)."
    )
    router_notify = ROUTER_NOTIFY = IntOption(
        Opt.ROUTER_NOTIFY,
        "ROUTER: deliver an empty message on peer connect (1) and/or disconnect (2).",
    )
    xpub_manual_last_value = XPUB_MANUAL_LAST_VALUE = IntOption(
        Opt.XPUB_MANUAL_LAST_VALUE,
        "As XPUB_MANUAL, and a message sent after a subscription goes to that (last) subscriber only.",
    )
    socks_username = SOCKS_USERNAME = BytesOption(
        Opt.SOCKS_USERNAME, "SOCKS5 user name (zloop: unsupported)."
    )
    socks_password = SOCKS_PASSWORD = BytesOption(
        Opt.SOCKS_PASSWORD, "SOCKS5 password (zloop: unsupported)."
    )
    in_batch_size = IN_BATCH_SIZE = IntOption(
        Opt.IN_BATCH_SIZE, "Bytes read from the OS socket at once."
    )
    out_batch_size = OUT_BATCH_SIZE = IntOption(
        Opt.OUT_BATCH_SIZE, "Bytes written to the OS socket at once."
    )
    wss_key_pem = WSS_KEY_PEM = BytesOption(
        Opt.WSS_KEY_PEM, "Private key of the wss transport (libzmq draft)."
    )
    wss_cert_pem = WSS_CERT_PEM = BytesOption(
        Opt.WSS_CERT_PEM, "Certificate of the wss transport (libzmq draft)."
    )
    wss_trust_pem = WSS_TRUST_PEM = BytesOption(
        Opt.WSS_TRUST_PEM, "Trusted certificate of the wss transport (libzmq draft)."
    )
    wss_hostname = WSS_HOSTNAME = BytesOption(
        Opt.WSS_HOSTNAME, "Host name checked by the wss transport (libzmq draft)."
    )
    wss_trust_system = WSS_TRUST_SYSTEM = IntOption(
        Opt.WSS_TRUST_SYSTEM, "Trust the system's certificates in the wss transport (libzmq draft)."
    )
    only_first_subscribe = ONLY_FIRST_SUBSCRIBE = IntOption(
        Opt.ONLY_FIRST_SUBSCRIBE, "XPUB/XSUB: only the first frame of a message is a subscription."
    )
    reconnect_stop = RECONNECT_STOP = IntOption(
        Opt.RECONNECT_STOP, "When to stop reconnecting (zloop always reconnects: 0 only)."
    )
    hello_msg = HELLO_MSG = BytesOption(
        Opt.HELLO_MSG, "A message sent to each new peer (libzmq draft)."
    )
    disconnect_msg = DISCONNECT_MSG = BytesOption(
        Opt.DISCONNECT_MSG, "A message received when a peer disconnects (libzmq draft)."
    )
    priority = PRIORITY = IntOption(Opt.PRIORITY, "SO_PRIORITY of the OS sockets (libzmq draft).")
    busy_poll = BUSY_POLL = IntOption(
        Opt.BUSY_POLL, "SO_BUSY_POLL of the OS sockets (libzmq draft)."
    )
    hiccup_msg = HICCUP_MSG = BytesOption(
        Opt.HICCUP_MSG, "A message received when a connected peer was lost (libzmq draft)."
    )
    xsub_verbose_unsubscribe = XSUB_VERBOSE_UNSUBSCRIBE = IntOption(
        Opt.XSUB_VERBOSE_UNSUBSCRIBE, "XSUB: 1 passes every unsubscription upstream."
    )
    topics_count = TOPICS_COUNT = ReadOnlyIntOption(
        Opt.TOPICS_COUNT, "Read-only: the number of subscriptions of an XPUB/XSUB/SUB socket."
    )
    norm_mode = NORM_MODE = IntOption(Opt.NORM_MODE, "NORM transport option (libzmq draft).")
    norm_unicast_nack = NORM_UNICAST_NACK = IntOption(
        Opt.NORM_UNICAST_NACK, "NORM transport option (libzmq draft)."
    )
    norm_buffer_size = NORM_BUFFER_SIZE = IntOption(
        Opt.NORM_BUFFER_SIZE, "NORM transport option (libzmq draft)."
    )
    norm_segment_size = NORM_SEGMENT_SIZE = IntOption(
        Opt.NORM_SEGMENT_SIZE, "NORM transport option (libzmq draft)."
    )
    norm_block_size = NORM_BLOCK_SIZE = IntOption(
        Opt.NORM_BLOCK_SIZE, "NORM transport option (libzmq draft)."
    )
    norm_num_parity = NORM_NUM_PARITY = IntOption(
        Opt.NORM_NUM_PARITY, "NORM transport option (libzmq draft)."
    )
    norm_num_autoparity = NORM_NUM_AUTOPARITY = IntOption(
        Opt.NORM_NUM_AUTOPARITY, "NORM transport option (libzmq draft)."
    )
    norm_push = NORM_PUSH = IntOption(Opt.NORM_PUSH, "NORM transport option (libzmq draft).")
    identity = IDENTITY = BytesOption(
        Opt.ROUTING_ID,
        "Alias of ROUTING_ID: the identity this socket announces to its peers (ROUTER addresses it by it).",
    )
    connect_rid = CONNECT_RID = BytesOption(
        Opt.CONNECT_ROUTING_ID,
        "Alias of CONNECT_ROUTING_ID: write-only: the routing id of the peer of the next connect() (ROUTER, STREAM).",
    )
    delay_attach_on_connect = DELAY_ATTACH_ON_CONNECT = IntOption(
        Opt.IMMEDIATE, "Alias of IMMEDIATE: 1: queue messages only to completed connections."
    )
    fail_unroutable = FAIL_UNROUTABLE = IntOption(
        Opt.ROUTER_MANDATORY,
        "Alias of ROUTER_MANDATORY: rOUTER: 1 makes a message to an unknown peer an error (EHOSTUNREACH) instead of a drop.",
    )
    router_behavior = ROUTER_BEHAVIOR = IntOption(
        Opt.ROUTER_MANDATORY,
        "Alias of ROUTER_MANDATORY: rOUTER: 1 makes a message to an unknown peer an error (EHOSTUNREACH) instead of a drop.",
    )
    HWM = IntOption(
        Opt.HWM, "The old (libzmq 2) high-water mark option; ``hwm`` sets SNDHWM and RCVHWM."
    )


class OptionMethod:
    """A method that is also a write-only attribute: ``sock.subscribe(b"a")`` and
    ``sock.subscribe = b"a"`` (pyzmq's spelling of ``setsockopt(SUBSCRIBE, b"a")``) do the same."""

    def __init__(self, func: Callable[[Any, Any], None]) -> None:
        self.__wrapped__ = func
        self.__name__ = func.__name__
        self.__doc__ = func.__doc__

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        return self.__wrapped__ if obj is None else MethodType(self.__wrapped__, obj)

    def __set__(self, obj: Any, value: Any) -> None:
        self.__wrapped__(obj, value)


#: The socket's own attributes of option names (see :class:`SocketOptionAttributes`).
SOCKET_OWN_NAMES = ("FD", "EVENTS", "type", "last_endpoint", "hwm", "subscribe", "unsubscribe")


def install_option_attributes(cls: type) -> None:
    """Finish ``cls`` (:class:`zloop.Socket`): its read-only views of options (``FD``, ``EVENTS``,
    ``type``, ``last_endpoint``) raise setsockopt's ``ZMQError(EINVAL)`` when written, as pyzmq's
    do, and ``subscribe`` / ``unsubscribe`` become :class:`OptionMethod`."""
    for name in ("FD", "EVENTS", "type", "last_endpoint"):
        existing = cls.__dict__[name]
        if isinstance(existing, property) and existing.fset is None:
            option = SocketOption[name.upper()]

            def fset(self: Any, value: Any, _option: SocketOption = option) -> None:
                self.setsockopt(_option, value)

            setattr(cls, name, existing.setter(fset))
    for name in ("subscribe", "unsubscribe"):
        method = cls.__dict__[name]
        if not isinstance(method, OptionMethod):
            setattr(cls, name, OptionMethod(method))


def declared(cls: type, name: str) -> bool:
    """Is ``name`` defined or annotated in ``cls`` or one of its bases (pyzmq's rule)?"""
    return any(
        name in klass.__dict__ or name in inspect.get_annotations(klass) for klass in cls.__mro__
    )


#: (class, name) pairs found declared: a subclass's own writes (its hot path) look once.
_declared_seen: set[tuple[type, str]] = set()


def declared_only_setattr(self: Any, name: str, value: Any) -> None:
    """``__setattr__`` of a socket subclass with a ``__dict__``: options and declared names only."""
    key = (type(self), name)
    if key in _declared_seen or name in self.__dict__:
        object.__setattr__(self, name, value)
        return
    if declared(key[0], name):
        _declared_seen.add(key)
        object.__setattr__(self, name, value)
        return
    raise AttributeError(f"{type(self).__name__} has no such option: {name.upper()}")
