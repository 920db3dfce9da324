"""Security plumbing between the options, the mechanisms and the ZAP handler (RFC 27).

* :func:`make_mechanism` is the one place that turns socket options into a mechanism (NULL, PLAIN,
  CURVE), following libzmq's option rules (see ``zloop.options._set_security``).
* The ZAP client: when a mechanism asks for a decision (``ZapRequest``), the stream engine (I/O
  thread) calls :func:`with_zap_handler`; with a handler it starts a :class:`ZapClient`, which sends
  :func:`zap_request_frames` and hands the reply, checked by :func:`parse_zap_reply`, back to the
  engine. Without one the engine applies libzmq's rules (:data:`NO_HANDLER_ACCEPTS`).

Theory of operation of the ZAP client
-------------------------------------
libzmq's session connects an inproc pipe to the socket bound at ``inproc://zeromq.zap.01`` in the
same context and reads the reply when the pipe says it has one. :class:`ZapClient` does the same with
zloop's pipes: it owns one end of a fresh unlimited pipe pair (the other end is attached to the
handler socket through that socket's mailbox, exactly like an inproc connect), writes the request
as one message and arms the pipe's wake-up. Commands for its end run in the I/O thread
(``PipeOwner.post`` = ``IOThread.post``); when the handler's reply lands, ``read_activated`` reads
it -- nothing ever blocks the I/O thread, and the handshake timer of the engine keeps running
meanwhile. One client serves one request; it terminates its pipe after the reply (or when the
engine closes), and the handler socket forgets the pipe like any other peer.

Two lifetimes to keep apart. The pipe pair lives until the handler has run its commands for it
(the attach, then the end of the pipe) -- later, for a busy or slow handler, than the exchange,
which ends with the reply or the engine's close: a finished client lets go of the engine then, so
the handler's backlog never keeps closed connections (their buffers, their sessions) alive. And
the handler is looked up and sent the attach with its name held bound (:func:`with_zap_handler`):
a handler that closes at that moment still runs the attach, which ends the exchange at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from zloop.constants import ProtocolErrorCode, SecurityMechanism, SocketType
from zloop.options import Options
from zloop.pipe import Msg, Pipe, pipe_pair
from zloop.protocol.errors import MechanismError
from zloop.protocol.mechanism import Mechanism, ZapReply
from zloop.protocol.metadata import parse_properties
from zloop.protocol.null import NullMechanism
from zloop.protocol.plain import PlainMechanism

if TYPE_CHECKING:
    from zloop.protocol.events import ZapRequest

__all__ = [
    "NO_HANDLER_ACCEPTS",
    "ZAP_ENDPOINT",
    "ZAP_VERSION",
    "ZapClient",
    "ZapHandlerUnusable",
    "ZapReplyError",
    "make_mechanism",
    "parse_zap_reply",
    "with_zap_handler",
    "zap_request_frames",
]

T = TypeVar("T")

#: The inproc name every ZAP handler binds (RFC 27).
ZAP_ENDPOINT = "zeromq.zap.01"
ZAP_VERSION = b"1.0"
#: libzmq always uses request id "1" (one request per connection at a time).
ZAP_REQUEST_ID = b"1"
#: What libzmq does when no handler is bound (docs/wire.md §6): NULL proceeds (it only asks when
#: ZAP_DOMAIN is set), CURVE admits everyone; PLAIN refuses. With ZAP_ENFORCE_DOMAIN every
#: mechanism refuses (HANDSHAKE_FAILED_NO_DETAIL, EFAULT), as libzmq's draft option does.
NO_HANDLER_ACCEPTS = frozenset({b"NULL", b"CURVE"})
#: Handler socket types libzmq accepts at the ZAP endpoint.
_HANDLER_TYPES = frozenset({SocketType.REP, SocketType.ROUTER})
_NO_KEY = bytes(32)


def make_mechanism(options: Options) -> Mechanism:
    """The security mechanism for one new connection, from a snapshot of the socket options."""
    mech = options.mechanism
    if mech == SecurityMechanism.PLAIN:
        return PlainMechanism(
            server=options.as_server,
            username=options.plain_username,
            password=options.plain_password,
        )
    if mech == SecurityMechanism.CURVE:
        from zloop.protocol.curve import CurveMechanism  # lazy: optional (PyNaCl)

        # Unset keys are zero, as in libzmq: the handshake then fails on the wire.
        if options.as_server:
            return CurveMechanism(
                server=True,
                public_key=options.curve_publickey or _NO_KEY,
                secret_key=options.curve_secretkey or _NO_KEY,
                # libzmq curve_server_t::process_initiate: with ZAP_ENFORCE_DOMAIN and no domain
                # the server does not consult ZAP at all.
                zap=bool(options.zap_domain) or not options.zap_enforce_domain,
            )
        return CurveMechanism(
            server=False,
            public_key=options.curve_publickey or _NO_KEY,
            secret_key=options.curve_secretkey or _NO_KEY,
            server_key=options.curve_serverkey or _NO_KEY,
        )
    # NULL consults ZAP only with a domain (libzmq 4.3, ZAP_ENFORCE_DOMAIN off).
    return NullMechanism(zap=bool(options.zap_domain))


class ZapHandlerUnusable(Exception):
    """A socket is bound at the ZAP endpoint but cannot serve ZAP (it is not REP or ROUTER)."""


def with_zap_handler(socket_core: Any, use: Callable[[Any | None], T]) -> T:
    """``use(handler)``: the socket bound at ``inproc://zeromq.zap.01`` in ``socket_core``'s
    context, or None when nothing is bound there.

    The handler stays bound while ``use`` runs (``InprocRegistry.with_bound``), so the attach a
    :class:`ZapClient` posts from ``use`` is run even by a handler closing at that moment: the
    exchange then ends at once, as with a handler that went away holding the request, instead of
    waiting in a dead mailbox for the handshake timeout (or forever without one).

    Only REP and ROUTER sockets can serve ZAP. ⚠ libzmq asserts (the process aborts) when a
    handshake finds another type bound there; zloop raises :class:`ZapHandlerUnusable` and the
    engine refuses that handshake. Treating such a socket as "no handler" would let NULL (with a
    ZAP domain) and CURVE clients in unauthenticated: a silent security fallback.
    """
    registry = getattr(getattr(socket_core, "context", None), "inproc", None)
    if registry is None:
        return use(None)

    def use_handler(bound: Any | None) -> T:
        if bound is None:
            return use(None)
        kind = getattr(bound, "socket_type", None)
        if kind not in _HANDLER_TYPES:
            name = getattr(kind, "name", repr(kind))
            raise ZapHandlerUnusable(
                f"the socket bound at inproc://{ZAP_ENDPOINT} is a {name} socket; a ZAP handler "
                "must be REP or ROUTER"
            )
        return use(bound)

    return registry.with_bound(ZAP_ENDPOINT, use_handler)  # type: ignore[no-any-return]


def zap_request_frames(
    request: ZapRequest, *, domain: bytes, address: str, routing_id: bytes
) -> Msg:
    """The RFC 27 request as libzmq sends it, with the REQ-style empty delimiter first.

    ``address`` is the peer's numeric IP without port ("" for ipc); ``routing_id`` is the
    **local** socket's ROUTING_ID (libzmq sends its own, not the peer's).
    """
    return [
        b"",
        ZAP_VERSION,
        ZAP_REQUEST_ID,
        bytes(domain),
        address.encode(),
        bytes(routing_id),
        bytes(request.mechanism),
        *(bytes(c) for c in request.credentials),
    ]


class ZapReplyError(Exception):
    """A reply libzmq would reject; ``code`` is the HANDSHAKE_FAILED_PROTOCOL value."""

    def __init__(self, code: ProtocolErrorCode, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def parse_zap_reply(frames: Msg) -> ZapReply:
    """Check a reply as libzmq's ``zap_client_t`` does and return its fields.

    7 frames exactly (ZAP_MALFORMED_REPLY), empty delimiter (ZAP_UNSPECIFIED), version "1.0"
    (ZAP_BAD_VERSION), request id "1" (ZAP_BAD_REQUEST_ID), status 200/300/400/500
    (ZAP_INVALID_STATUS_CODE), metadata in property encoding (ZAP_INVALID_METADATA).
    """
    code = ProtocolErrorCode
    if len(frames) != 7:
        raise ZapReplyError(code.ZAP_MALFORMED_REPLY, f"ZAP reply has {len(frames)} frames, not 7")
    parts = [bytes(f) for f in frames]
    if parts[0]:
        raise ZapReplyError(code.ZAP_UNSPECIFIED, "ZAP reply does not start with an empty frame")
    if parts[1] != ZAP_VERSION:
        raise ZapReplyError(code.ZAP_BAD_VERSION, f"ZAP reply version {parts[1]!r}")
    if parts[2] != ZAP_REQUEST_ID:
        raise ZapReplyError(code.ZAP_BAD_REQUEST_ID, f"ZAP reply request id {parts[2]!r}")
    status = parts[3]
    if status not in (b"200", b"300", b"400", b"500"):
        raise ZapReplyError(code.ZAP_INVALID_STATUS_CODE, f"ZAP status code {status!r}")
    try:
        metadata = parse_properties(parts[6], 0, code.ZAP_INVALID_METADATA)
    except MechanismError as exc:
        raise ZapReplyError(code.ZAP_INVALID_METADATA, exc.reason) from None
    return ZapReply(status, parts[4], parts[5], metadata)


def zap_properties(reply: ZapReply) -> dict[str, bytes]:
    """Connection properties from an accepted reply: ``User-Id`` plus the ZAP metadata."""
    props = {"User-Id": bytes(reply.user_id)}
    for name, value in reply.metadata.items():
        props.setdefault(name, bytes(value))
    return props


class ZapClient:
    """One ZAP exchange with the handler socket, in the I/O thread (see the module docstring).

    ``post`` runs a command in the I/O thread; ``on_reply`` receives the reply frames, or None if
    the handler went away before answering. It is called at most once, never after :meth:`close`
    and never from inside the constructor.
    """

    def __init__(
        self,
        post: Callable[[Callable[[], Any]], None],
        handler: Any,
        request: Msg,
        on_reply: Callable[[Msg | None], None],
    ) -> None:
        self._post = post
        self._on_reply = on_reply
        self._done = False
        mine, theirs = pipe_pair(self, handler, 0, 0)  # unlimited both ways, as libzmq
        self._pipe = mine
        theirs.routing_id = b""
        # The request carries a REQ envelope (empty delimiter); a known peer type also makes a
        # ROUTER handler identify the pipe at once instead of waiting for a handshake.
        theirs.metadata = {"Socket-Type": b"REQ"}
        mine.write(request)
        # The handler's end is attached through its mailbox, like an inproc connect; the request
        # is already queued, so the handler sees it as soon as it processes the attach.
        handler.post(lambda: handler.attach_pipe(theirs), 3)
        # The first read (which arms the wake-up for the reply) is a command of its own: a handler
        # quick enough to answer before this constructor returns must not have ``on_reply`` called
        # from inside it (the engine would keep the finished client and re-enter its own event
        # processing). A reply already queued by then is read by that command.
        post(self._try_read)

    # -- PipeOwner (every call runs in the I/O thread) ------------------------------------------------

    def post(self, command: Callable[[], Any], hint: int = 0) -> None:
        self._post(command)

    def read_activated(self, pipe: Pipe) -> None:
        self._try_read()

    def write_activated(self, pipe: Pipe) -> None:
        pass

    def pipe_terminated(self, pipe: Pipe) -> None:
        if not self._done:
            self._finish()(None)

    # -- internals ------------------------------------------------------------------------------------

    def _try_read(self) -> None:
        if self._done:
            return
        msg = self._pipe.read()
        if msg is None:
            return
        on_reply = self._finish()
        self._pipe.terminate()
        on_reply(msg)

    def _finish(self) -> Callable[[Msg | None], None]:
        """End the exchange and let go of the engine; returns the callback still to be called.

        The pipe pair outlives the exchange until the handler has run its commands for it (the
        attach, the end of the pipe): a busy or slow handler must not keep closed connections'
        engines -- their buffers, their sessions -- alive all that time.
        """
        self._done = True
        on_reply, self._on_reply = self._on_reply, _no_reply
        return on_reply

    def close(self) -> None:
        """The engine is gone: drop the exchange (the handler's late reply is discarded)."""
        if not self._done:
            self._finish()
            self._pipe.terminate()


def _no_reply(frames: Msg | None) -> None:
    """The ``on_reply`` of a finished exchange (never called: ``_done`` guards every path)."""
