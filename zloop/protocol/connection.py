"""One ZMTP connection as a pure state machine: bytes in, events out; messages in, bytes out.

Theory of operation
-------------------
A :class:`Connection` never touches a socket, a thread or a clock (the h11 model). The engine
feeds it whatever ``recv`` returned (``receive_data``; ``b""`` means EOF), drains events
(``next_event`` / ``events``), queues outgoing traffic (``send_message``, ``send_subscribe``,
``send_ping``...) and writes what ``data_to_send`` / ``buffers_to_send`` return. This module is
the receiving half and the state machine; the sending half is :mod:`zloop.protocol.sending`.

Stages (each a row of ``_State``)::

    GREETING --3.x--> HANDSHAKE --mechanism complete--> TRAFFIC
        |                                                  ^
        +--1.0/2.0--> LEGACY_IDENTITY --peer identity------+
    any stage --peer violation / ERROR / ZAP refusal / EOF--> DONE (terminal)

* GREETING: :class:`~zloop.protocol.greeting.Negotiation` sends our greeting in libzmq's order
  (10 octets at once, the major once the peer's signature is in, the rest once its 11th octet
  is) and detects the peer's generation.
* HANDSHAKE (ZMTP 3.x): every frame goes to the :class:`~zloop.protocol.mechanism.Mechanism`;
  a data frame here is fatal. A mechanism may pause for ZAP (``ZapRequest`` event, answered by
  :meth:`Connection.zap_reply`).
* LEGACY_IDENTITY (ZMTP 1.0 / 2.0): the first frame is the peer's identity (RFC 13 / RFC 15).
* TRAFFIC: data frames become ``Message`` events on the decoder's fast path; commands
  (SUBSCRIBE, CANCEL, PING, PONG, ERROR) become events; unknown commands are ignored, as libzmq
  does (RFC 37 allows mechanisms and future versions to define more).

Input is decoded eagerly: ``receive_data`` runs the decoder over every complete frame at once
(one pass over an immutable buffer with an offset; the incomplete tail, bounded by
``frames.LARGE_BODY``, is kept for the next call), so when ``next_event`` returns a ``Ping`` the
PONG is already queued. While a large frame body is in progress, :meth:`Connection.recv_buffer`
offers a writable view into that frame's own buffer so the engine can ``recv_into`` it directly
(then :meth:`Connection.received_into`); the two input paths mix freely. Commands may arrive between the frames of a multipart message (libzmq
sends a heartbeat PING whenever its timer fires) and are handled on their own without breaking
the message.

Failure model: parsers and mechanisms raise internal exceptions
(:mod:`zloop.protocol.errors`); :meth:`receive_data` converts the first one into exactly one
terminal event (``ProtocolError``, ``PeerError`` or ``AuthenticationFailed``) after the events
decoded before it, and stops. Nothing raised by peer input escapes ``receive_data``. Afterwards
``next_event`` keeps returning that terminal event, input is ignored, and ``send_*`` raise
:class:`~zloop.protocol.errors.LocalProtocolError`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

from zloop.constants import ProtocolErrorCode, SocketType
from zloop.protocol import commands as cmd
from zloop.protocol.compat import COMPATIBLE, ZMTP20_TYPE_BYTES, is_compatible, socket_type_name
from zloop.protocol.errors import (
    AuthenticationError,
    LocalProtocolError,
    MechanismError,
    PeerErrorReceived,
)
from zloop.protocol.events import (
    NEED_DATA,
    AuthenticationFailed,
    Cancel,
    ConnectionClosed,
    Event,
    HandshakeComplete,
    Message,
    NeedData,
    PeerError,
    Ping,
    Pong,
    ProtocolError,
    Subscribe,
)
from zloop.protocol.frames import (
    COMMAND,
    HANDSHAKE_MIN_LIMIT,
    MORE,
    RESERVED_V2,
    RESERVED_V3,
    Buffer,
    FrameDecoder,
    append_frame,
    frame_header,
)
from zloop.protocol.greeting import Negotiation, PeerGreeting
from zloop.protocol.legacy import V1Decoder, v1_header
from zloop.protocol.mechanism import HandshakeContext, Mechanism, ZapReply
from zloop.protocol.metadata import IDENTITY, SOCKET_TYPE, PropertyValue, basic_properties
from zloop.protocol.null import NullMechanism
from zloop.protocol.sending import FrameInput, Sender


class _State(enum.Enum):
    GREETING = "greeting"
    HANDSHAKE = "handshake"
    LEGACY_IDENTITY = "legacy identity"
    TRAFFIC = "traffic"
    DONE = "done"


class Connection(Sender):
    """A sans-I/O ZMTP 3.1 connection that also speaks to 3.0, 2.0 and 1.0 peers."""

    def __init__(
        self,
        socket_type: SocketType,
        *,
        mechanism: Mechanism | None = None,
        routing_id: bytes = b"",
        metadata: Mapping[str, PropertyValue] = {},
        maxmsgsize: int = -1,
        legacy: bool = True,
    ) -> None:
        try:
            socket_type = SocketType(socket_type)
        except ValueError:
            raise LocalProtocolError(f"unknown socket type {socket_type!r}") from None
        if socket_type not in COMPATIBLE:
            raise LocalProtocolError(f"{socket_type.name} sockets do not speak ZMTP")
        routing_id = bytes(routing_id)
        if len(routing_id) > 255:
            raise LocalProtocolError("routing_id must be at most 255 bytes")
        if maxmsgsize < -1:
            raise LocalProtocolError(f"maxmsgsize must be -1 or >= 0, not {maxmsgsize}")
        self.socket_type = socket_type
        self.routing_id = routing_id
        self.maxmsgsize = maxmsgsize
        self._mech = mechanism if mechanism is not None else NullMechanism()
        self._properties = basic_properties(socket_type, routing_id, metadata)
        self._negotiation = Negotiation(
            routing_id,
            int(socket_type),
            self._mech.name,
            self._mech.as_server,
            legacy and self._mech.allows_legacy,
        )
        self._out: list[Buffer] = list(self._negotiation.output)
        self._negotiation_sent = len(self._out)
        self._events: list[Event] = []
        self._events_read = 0
        self._completed = False
        self._buf = b""
        self._state = _State.GREETING
        self._decoder: FrameDecoder | V1Decoder | None = None
        self._terminal: Event | None = None
        self._error_sent = False
        self._wrapped_frames: list[bytes] = []
        self._peer_version: tuple[int, int] | None = None
        self._legacy_peer = False
        self._peer_socket_type: str | None = None
        self._peer_metadata: dict[str, bytes] = {}
        self._peer_routing_id = b""
        self._message_lists = False

    # ------------------------------------------------------------------ properties

    @property
    def _in_traffic(self) -> bool:
        return self._state is _State.TRAFFIC

    @property
    def handshake_complete(self) -> bool:
        """True once HandshakeComplete was produced (stays true after a later failure)."""
        return self._completed

    @property
    def peer_version(self) -> tuple[int, int] | None:
        return self._peer_version

    @property
    def legacy_peer(self) -> bool:
        """True once the peer's greeting showed ZMTP 1.0 or 2.0, also when it was refused.

        Such a connection has no security mechanism (no ZMTP 3 handshake): libzmq emits no
        HANDSHAKE_SUCCEEDED for it and reports its end like a handshake that never finished
        (``stream_engine_base_t::error`` with ``_mechanism == NULL``); the engine follows that.
        """
        return self._legacy_peer

    @property
    def peer_socket_type(self) -> str | None:
        return self._peer_socket_type

    @property
    def peer_metadata(self) -> dict[str, bytes]:
        return self._peer_metadata

    @property
    def message_lists(self) -> bool:
        """When True, ``events()`` / ``next_event()`` return each message as its plain frames list
        (``list`` of bytes-like) instead of a :class:`Message` event: one object less per message
        for an engine that only forwards the frames. Every other event is unchanged."""
        return self._message_lists

    @message_lists.setter
    def message_lists(self, value: bool) -> None:
        self._message_lists = bool(value)
        if self._decoder is not None:
            self._decoder.lists = self._message_lists

    @property
    def failed(self) -> bool:
        return self._terminal is not None and not isinstance(self._terminal, ConnectionClosed)

    @property
    def closed(self) -> bool:
        return isinstance(self._terminal, ConnectionClosed)

    # ------------------------------------------------------------------ input

    def receive_data(self, data: FrameInput) -> None:
        """Feed bytes received from the peer; ``b""`` means the peer closed (EOF).

        Nothing keeps a reference to ``data`` unless it is ``bytes``: a ``bytearray`` or
        ``memoryview`` is copied first, so the caller may overwrite it as soon as this returns
        (the engines read every connection of an I/O thread into one shared buffer). A byte
        ``memoryview`` that starts with large data frames (``FrameDecoder.feed_view``) has those
        copied out one by one instead, and only what follows them copied as a whole.
        """
        if self._terminal is not None:
            return
        held = self._buf
        if held and data:
            # A partial frame is left over: join it with the new bytes directly (one copy of
            # them; copying a view to ``bytes`` first and then joining would be two).
            self._buf = b""
            if type(data) is memoryview and not data.c_contiguous:
                data = bytes(data)  # ``bytes + view`` takes contiguous views only
            buf = held + data
        elif type(data) is not bytes:
            decoder = self._decoder
            if (
                type(decoder) is FrameDecoder
                and decoder.plain
                and type(data) is memoryview
                and data.format == "B"
                and data
            ):
                # Large frames are copied out of the view one by one: the copy of the whole
                # view below would be a second copy of every large body.
                decoder.lists = self._message_lists
                try:
                    pos = decoder.feed_view(data)
                except Exception as exc:
                    self._input_failed(exc)
                    return
                if pos == len(data):
                    return
                data = data[pos:]
            buf = bytes(data)  # the copy that lets the caller reuse its buffer (see above)
        else:
            buf = data
        if not buf:
            self._buf = b""
            self._finish(ConnectionClosed())
            return
        try:
            pos = self._process(buf)
        except Exception as exc:
            self._input_failed(exc)
            return
        if self._terminal is None and pos < len(buf):
            self._buf = buf[pos:]

    def _input_failed(self, exc: Exception) -> None:
        """Turn what decoding raised into the one terminal event."""
        if isinstance(exc, MechanismError):
            self._protocol_error(exc.code, exc.reason, exc.error_reason)
        elif isinstance(exc, PeerErrorReceived):
            self._finish(PeerError(bytes(exc.reason)))
        elif isinstance(exc, AuthenticationError):
            self._auth_failed(exc)
        else:  # pragma: no cover - safety net; fuzz tests assert it never fires
            self._protocol_error(
                ProtocolErrorCode.ZMTP_UNSPECIFIED, f"internal error while decoding: {exc!r}"
            )

    def recv_buffer(self) -> memoryview | None:
        """Where the next body bytes of a large frame go, for ``recv_into`` (None: use
        :meth:`receive_data`).

        While a large frame body (at least ``frames.LARGE_BODY`` bytes, its size already checked
        against ``maxmsgsize`` and 2^63-1) is being received, this is a writable view into the
        frame's own ``bytearray``, covering at most the rest of that body. Write into its start,
        then call :meth:`received_into` with the count, and drop the view before the next call
        (bodies beyond ``frames.PREALLOC_LIMIT`` grow in bounded steps here, never to a size the
        peer merely announced). The finished ``bytearray`` is delivered as the frame: the kernel's
        copy is the only one. Mixing with :meth:`receive_data` at any point is allowed.
        """
        decoder = self._decoder
        if decoder is None or self._terminal is not None or decoder._large is None:
            return None
        return decoder.large_buffer()

    def large_body_rest(self) -> int:
        """Bytes still to come of the large frame body in progress (0: none in progress)."""
        decoder = self._decoder
        if decoder is None or self._terminal is not None or decoder._large is None:
            return 0
        return decoder._large_size - decoder._large_filled

    def received_into(self, count: int) -> None:
        """``count`` bytes were written at the start of the last :meth:`recv_buffer` view;
        ``0`` means EOF (as ``recv_into`` returning 0), like ``receive_data(b"")``."""
        if self._terminal is not None:
            return
        if count == 0:
            self.receive_data(b"")
            return
        decoder = self._decoder
        if decoder is None or decoder._large is None:
            raise LocalProtocolError("received_into() without a recv_buffer() in progress")
        try:
            decoder.large_filled(count)
        except LocalProtocolError:
            raise
        except Exception as exc:
            self._input_failed(exc)

    def _process(self, buf: bytes) -> int:
        pos = 0
        if self._state is _State.GREETING:
            try:
                greeting = self._negotiation.feed(buf, 0)
            except MechanismError as exc:
                # Negotiation fails in two ways only: a 3.x mechanism mismatch, or a 1.0 / 2.0
                # peer refused because legacy protocols are disabled.
                self._legacy_peer = exc.code is not ProtocolErrorCode.ZMTP_MECHANISM_MISMATCH
                raise
            self._flush_negotiation()
            if greeting is None:
                return 0
            pos = greeting.consumed
            self._begin(greeting)
        decoder = self._decoder
        if decoder is None or self._terminal is not None:
            return pos
        decoder.lists = self._message_lists
        return decoder.feed(buf, pos)

    def _flush_negotiation(self) -> None:
        output = self._negotiation.output
        if len(output) > self._negotiation_sent:
            self._out.extend(output[self._negotiation_sent :])
            self._negotiation_sent = len(output)

    def _begin(self, greeting: PeerGreeting) -> None:
        """The peer's greeting is complete: pick framing and start the handshake."""
        self._peer_version = greeting.version
        self._legacy_peer = greeting.legacy
        rid = self.routing_id
        if greeting.version >= (3, 0):
            self._decoder = FrameDecoder(
                self._events, self._on_frame, self._handshake_limit(), RESERVED_V3
            )
            # libzmq 4.3.5 reports a handshake frame it refuses as ZMTP_UNEXPECTED_COMMAND (⚠ it
            # ignores reserved flag bits; we refuse them, with its code).
            self._decoder.flags_error = ProtocolErrorCode.ZMTP_UNEXPECTED_COMMAND
            # Until the handshake is over, bodies grow only as their bytes arrive (frames.py).
            self._decoder.reserve_ahead = False
            self._state = _State.HANDSHAKE
            ctx = HandshakeContext(
                self.socket_type, rid, self._properties, greeting.version, greeting.as_server
            )
            for body in self._mech.start(ctx):
                append_frame(self._out, COMMAND, body)
            self._after_mechanism()
            return
        self._state = _State.LEGACY_IDENTITY
        if greeting.version == (2, 0):
            assert greeting.type_byte is not None
            name = ZMTP20_TYPE_BYTES.get(greeting.type_byte)
            # RFC 15 "Socket Compatibility": "The implementation SHOULD enforce that an incoming
            # connection has a valid socket type". ⚠ libzmq does not check 2.0 peers.
            if name is None or not is_compatible(self.socket_type, name):
                label = name if name is not None else f"unknown type byte {greeting.type_byte}"
                raise MechanismError(
                    ProtocolErrorCode.ZMTP_UNSPECIFIED,
                    f"ZMTP 2.0 peer socket type {label} is not compatible with "
                    f"{socket_type_name(self.socket_type)}",
                )
            self._peer_socket_type = name
            # RFC 15 "Formal Grammar": identity = final-short body.
            self._out += (frame_header(0, len(rid)), rid)
            self._decoder = FrameDecoder(
                self._events, self._on_frame, self._handshake_limit(), RESERVED_V2
            )
        elif greeting.revision is None:
            # RFC 15 "Backwards Interoperability": our 10 octets were the identity frame header
            # for this ZMTP 1.0 peer; "We continue by sending the body of the identity frame".
            self._out.append(rid)
            self._decoder = V1Decoder(self._events, self._on_frame, self._handshake_limit())
        else:
            # Revision 0: libzmq (handshake_v1_0) sends a whole v1 identity frame after the
            # 12-octet greeting and uses RFC 13 framing.
            self._out += (v1_header(0, len(rid)), rid)
            self._decoder = V1Decoder(self._events, self._on_frame, self._handshake_limit())
        self._decoder.reserve_ahead = False  # until the peer's identity arrived (as above)

    def _handshake_limit(self) -> int:
        """Frame size limit until the handshake completes.

        ⚠ libzmq applies ZMQ_MAXMSGSIZE to handshake commands too, so a small limit breaks every
        handshake (libzmq issue #4436). We apply maxmsgsize to traffic only and, while
        handshaking, at least ``HANDSHAKE_MIN_LIMIT`` (still bounded when maxmsgsize is set).
        """
        if self.maxmsgsize < 0:
            return -1
        return max(self.maxmsgsize, HANDSHAKE_MIN_LIMIT)

    def _after_mechanism(self) -> None:
        request = self._mech.take_zap_request()
        if request is not None:
            self._events.append(request)
        if self._state is _State.HANDSHAKE and self._mech.complete:
            props = self._mech.peer_properties
            peer_type = props.get(SOCKET_TYPE)
            self._peer_socket_type = peer_type.decode("latin-1") if peer_type is not None else None
            self._peer_metadata = props
            self._peer_routing_id = bytes(props.get(IDENTITY, b""))
            self._enter_traffic(plain=not self._mech.wraps_frames)

    def _enter_traffic(self, plain: bool) -> None:
        assert self._peer_version is not None and self._decoder is not None
        self._state = _State.TRAFFIC
        self._completed = True
        self._decoder.plain = plain
        self._decoder.max_size = self.maxmsgsize
        self._decoder.reserve_ahead = True
        if isinstance(self._decoder, FrameDecoder):  # after a handshake: a plain protocol error
            self._decoder.flags_error = ProtocolErrorCode.ZMTP_UNSPECIFIED
        self._events.append(
            HandshakeComplete(
                self._peer_socket_type,
                self._peer_version,
                self._peer_metadata,
                self._peer_routing_id,
            )
        )

    def _on_frame(self, flags: int, body: bytes) -> None:
        """Every frame the decoder does not turn into a Message itself."""
        state = self._state
        if state is _State.TRAFFIC:
            if self._mech.wraps_frames:
                flags, plain = self._mech.decode_frame(flags, body)
                body = plain  # type: ignore[assignment]  # a bytearray is a frame of its own
                if not flags & COMMAND:
                    self._wrapped_frames.append(body)
                    if not flags & MORE:
                        frames = self._wrapped_frames
                        message = frames if self._message_lists else Message(frames)
                        self._events.append(message)  # type: ignore[arg-type]
                        self._wrapped_frames = []
                    return
            self._traffic_command(body)
        elif state is _State.HANDSHAKE:
            if not flags & COMMAND:
                # ⚠ libzmq feeds every handshake frame to the mechanism without checking the
                # COMMAND bit; RFC 37 ("handshake = 1*command") makes a message here a violation.
                raise MechanismError(
                    ProtocolErrorCode.ZMTP_UNEXPECTED_COMMAND,
                    f"data frame (flags 0x{flags:02x}) received before the handshake completed",
                )
            for reply in self._mech.receive_command(bytes(body)):
                append_frame(self._out, COMMAND, reply)
            self._after_mechanism()
        elif state is _State.LEGACY_IDENTITY:
            # RFC 13 "The Connection Layer" / RFC 15: the first frame is the peer's identity;
            # its flags "SHALL not be validated".
            self._peer_routing_id = bytes(body)
            self._enter_traffic(plain=True)

    def _traffic_command(self, body: bytes) -> None:
        name, offset = cmd.split_command(body)
        events = self._events
        if name == cmd.SUBSCRIBE:
            events.append(Subscribe(bytes(body[offset:])))
        elif name == cmd.CANCEL:
            events.append(Cancel(bytes(body[offset:])))
        elif name == cmd.PING:
            ttl, context = cmd.parse_ping(body, offset)
            context = bytes(context)
            # RFC 37 "Connection Heartbeating": "it SHALL respond with a PONG command that
            # echoes the ping-context". Queued before the event is visible.
            self._queue_command(cmd.pong_body(context))
            events.append(Ping(ttl, context))
        elif name == cmd.PONG:
            events.append(Pong(bytes(body[offset:])))
        elif name == cmd.ERROR:
            # ⚠ libzmq's session silently drops an ERROR after the handshake; RFC 37 "Error
            # Handling" says a peer SHALL treat ERROR as fatal, and the peer is closing anyway.
            raise PeerErrorReceived(cmd.parse_error(body, offset))
        # Any other command after the handshake is ignored (libzmq session_base::push_msg).

    # ------------------------------------------------------------------ terminal events

    def _finish(self, event: Event) -> None:
        self._events.append(event)
        self._terminal = event
        self._state = _State.DONE
        if self._decoder is not None:
            self._decoder.stopped = True

    def _protocol_error(
        self, code: ProtocolErrorCode, reason: str, error_reason: bytes | None = None
    ) -> None:
        if error_reason is not None and not self._can_send_command():
            error_reason = None
        if error_reason is not None:
            self._queue_command(self._mech.error_command(error_reason))
        self._finish(ProtocolError(code, reason, error_reason))

    def _auth_failed(self, exc: AuthenticationError) -> None:
        error_reason = exc.error_reason if self._can_send_command() else None
        if error_reason is not None:
            self._queue_command(self._mech.error_command(error_reason))
        self._finish(AuthenticationFailed(exc.status_code, error_reason))

    # ------------------------------------------------------------------ events out

    def next_event(self) -> Event | NeedData:
        """The next event, or :data:`NEED_DATA`; after a terminal event, that event again."""
        events = self._events
        index = self._events_read
        if index < len(events):
            event = events[index]
            index += 1
            if index == len(events):
                events.clear()
                index = 0
            self._events_read = index
            return event
        if self._terminal is not None:
            return self._terminal
        return NEED_DATA

    def events(self) -> list[Event]:
        """Every event available now (the terminal event only once), without NEED_DATA."""
        events = self._events
        if not events:
            return []
        result = events[self._events_read :] if self._events_read else events.copy()
        events.clear()
        self._events_read = 0
        return result

    # ------------------------------------------------------------------ ZAP

    def zap_reply(
        self,
        status_code: bytes,
        status_text: bytes = b"",
        user_id: bytes = b"",
        metadata: Mapping[str, bytes] | None = None,
    ) -> None:
        """Answer the mechanism's ``ZapRequest`` (RFC 27 reply fields the mechanism needs)."""
        if self._state is not _State.HANDSHAKE:
            raise LocalProtocolError("no handshake is waiting for a ZAP reply")
        reply = ZapReply(bytes(status_code), bytes(status_text), bytes(user_id), metadata or {})
        try:
            for body in self._mech.zap_reply(reply):
                append_frame(self._out, COMMAND, body)
            self._after_mechanism()
        except MechanismError as exc:
            self._protocol_error(exc.code, exc.reason, exc.error_reason)
        except AuthenticationError as exc:
            self._auth_failed(exc)

    def __repr__(self) -> str:
        return (
            f"<Connection {self.socket_type.name} {self._state.value}"
            f" peer={self._peer_socket_type or '?'} {self._peer_version or ''}>"
        )
