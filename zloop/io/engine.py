"""The stream engine: OS socket <-> :class:`zloop.protocol.Connection` <-> the session's pipe.

Theory of operation
-------------------
One engine serves one established tcp/ipc connection in the I/O thread. It owns the OS socket and a
sans-I/O ``Connection`` and talks to its session (:class:`~zloop.io.interfaces.EngineHost`), whose
``pipe`` leads to the application socket.

*Input.* When the fd is readable the engine does one ``recv_into`` into the receive buffer of its
I/O thread (``IOThread.recv_buffer``, shared by all the thread's engines, so a connection holds no
buffer of its own however idle or busy it is: ``Connection.receive_data`` copies what it keeps
before the next read of any connection reuses the buffer), feeds the bytes to the connection and
takes **every** event decoded from them (``Connection.events``) before going back to the selector.
While a large frame body is in progress the ``recv_into`` goes straight into that frame's own buffer
(``Connection.recv_buffer``), so the kernel's copy is the only one, and the read after such a body
is kept short (``AFTER_LARGE_READ``) so that the start of the next large body does not pass through
the shared buffer (rests under ``DIRECT_MIN`` still take the shared buffer: a batched read beats a
syscall per frame). A full read through the shared buffer that begins a body with ``DIRECT_MIN`` or
more to come reads that rest at once, in the same turn (``_rest_ready``): it is most likely in the
kernel already, and not waiting for another reactor round saved the asyncio receiver of a tcp 1 MiB
stream 5-13 % CPU per message (interleaved A/B, four runs). Messages arrive as plain frame lists
(``Connection.message_lists``), the form the pipe carries. Messages and subscriptions are written to
the pipe; the pipe is flushed once per batch, so the socket is woken at most once per batch. If the
pipe is full (RCVHWM) the undelivered events are kept and the fd is removed from the selector: the
kernel buffer fills and TCP pushes back on the peer, as libzmq does. The session's
``write_activated`` (the socket has read an lwm batch) resumes delivery and reading.

*Output.* Nothing leaves before the handshake completed (and, with NULL, the peer's READY arrived).
After that, whenever the pipe becomes readable, the engine reads a bounded batch of messages, encodes
them in one go and writes them with one ``send`` (small batches are joined) or ``sendmsg`` (large
frames go out as memoryviews, never copied). A partial write keeps the remainder and waits for
writability; the pipe is not read again until the remainder is gone, so SNDHWM backpressure reaches
the application. One call writes batches only until ``OUT_TURN`` bytes went out (as libzmq's
``out_batch_size``): if the pipe may hold more, the engine registers for writability and returns, so
the other connections of this I/O thread -- typically the receiving end of the same traffic, and
the commands that resume a stalled delivery -- get their turn before the next batch is encoded.
Without that bound a sender whose encoding is slow (CURVE, small frames) kept the I/O thread busy
filling megabytes of kernel buffer while the receiving side starved. A batch takes up to
``OUT_BATCH`` messages, fewer once the last batch showed large messages (about ``OUT_BATCH_BYTES``
of output per batch), so CURVE does not hold a batch of freshly encrypted 64 KiB frames in memory.

*Direct writes from the application thread.* A reply on an idle connection need not wake the I/O
thread. When the socket's flush would post ``activate_read`` to a session whose pipe end is asleep
(it found the pipe empty, so every earlier message was taken by :meth:`_pump`), the session calls
:meth:`try_direct_write` in the application thread instead. It takes the engine's lock **without
blocking** and proceeds only if the handshake is done, nothing is waiting in ``_out``, the
connection is not closed and peer data arrived since the last direct write (so replies take this
path while a one-way stream stays batched by the I/O thread, and SNDHWM fills as before); it then
takes the queued messages out of the pipe itself, encodes them and sends them. Ownership: every
I/O-thread path that touches the ``Connection``, ``_out``, ``_writing`` or the sending side of the
OS socket holds the same (re-entrant) lock, and ``_pump`` holds it from ``read_many`` until the
batch is in ``_out`` or sent, so a message is never overtaken. The lock covers the read and the
decoding of input but not the delivery to the pipe, so the application woken by that delivery
finds the engine free. What a direct write cannot finish (partial write, EAGAIN, an error, an
encoder exception) stays in ``_out`` (or is re-raised) in the I/O thread through one posted
command, which registers writability or handles the error exactly as its own write would. Any
doubt (lock busy, conflating pipe, a non-plain message) falls back to the normal post: correct,
only slower.

*Reads in the application thread.* The mirror of direct writes, for the way in: an application
thread about to block in ``recv`` on a socket whose only pipe leads to this connection reads the OS
socket itself (``Socket._read_here`` -> :meth:`app_read`) instead of sleeping until the I/O thread
has read, decoded, delivered and signalled. It first tries a non-blocking read; only if nothing is
there does it *park* the fd (:meth:`IOThread.park_reader`: the I/O thread's selector stops watching
its readability; every mask change of the selector is serialised by the reactor's mask lock, so a
parked fd never gets its read interest back behind the parker's back), poll the fd and its own
mailbox's signal together, read once more, and unpark, whatever happened. A read takes as much as
the I/O thread's next read would (``_read_size``): short right after a large body, long otherwise,
so a stream of small messages is read in batches by whichever thread finds the bytes first. Ownership and
order: the I/O thread holds ``_input_lock`` from each read of the OS socket until what it decoded is
in the pipe (or stalled), and ``_lock`` around the read and the decoding, as before; the
application thread only *tries* both (any doubt: it waits as before, so it never waits for a lock
the I/O thread holds and no lock order can be inverted), and holds both through its delivery (the
I/O thread ends a connection, and on the bind side its pipe, under ``_lock``: what was read before
an error is delivered before it). It reads only while the connection is
handshaken and idle on input: not stalled on RCVHWM, no large body in progress with ``DIRECT_MIN``
or more to come (that goes into its own buffer, in the I/O thread; a shorter rest goes through a
buffer whoever reads it, so a 64 KiB stream whose bodies straddle two reads stays with the waiting
thread), no heartbeat timer armed (only the I/O thread touches timers), no
earlier hand-over pending. What it decoded goes into the pipe from the application thread if it is
only messages and the pipe has room for all of them (the reader is the calling thread, whose count
of messages read is then exact: it brings the writer's view of it up to date first); the flush's
``activate_read`` is not posted to the socket's mailbox but run by the caller, the reader's owner
(no command, no signal written and read back). Anything else
-- a control event (PING, ERROR, the end of the stream), a read error, more messages than room --
is *handed over*: kept in ``_handed`` and delivered by the I/O thread (a posted command, or its next
read, whichever comes first; both take ``_handed`` before reading again), exactly as if it had read
them itself. The read uses the calling thread's own buffer, never the I/O thread's shared one.
A connection the I/O thread ends while an application thread waits on its fd (parked) keeps the
fd open until that thread unparks it (:meth:`IOThread.remove_fd` defers the close, and the socket's
mailbox gets a wake-up), so a waiter never watches a closed fd, nor one whose number was reused.
The gevent and asyncio adapters do the same from their loop for a task waiting to receive. Their
thread may then stop running (a blocked loop, a busy greenlet) with the fd parked: :meth:`park`
refuses while the connection is in a state only the I/O thread reads (a handshake, a stall, a
heartbeat wait), the I/O thread revokes a park when it sends a PING (the PONG is its to read), and
its park audit reads again an fd that stayed readable with no read by the parker ("Parked fds" in
zloop/io/reactor.py), so the peer is never held back by an application's loop. Per
round trip this saves the I/O thread's wake-up, its reactor turn and the mailbox hand-off.

*Draining a full pipe.* libzmq's I/O thread, in C, keeps a connection's outgoing pipe nearly empty:
messages wait in the kernel's socket buffers, and the pipe reaches SNDHWM only once those are full.
This I/O thread is a Python thread sharing the GIL with the application threads, so a burst (a proxy
forwarding the thousand replies one read gave it) can fill the pipe before the I/O thread had a
turn, and a socket that drops at the HWM (ROUTER, PUB) would drop what libzmq delivers. So a write
that finds the pipe full first runs the session's drain (:meth:`drain`, in the application thread),
which does what the I/O thread will do: under the lock (waiting for it: the holder is the I/O
thread, busy with this connection for one bounded turn) it brings the writer's count of messages
read up to date (the reader reports it only every lwm messages), writes what ``_out`` still holds,
then takes the queued messages in batches, encodes and sends them until the pipe is empty or the OS
socket takes no more. Taken messages count as never written, as with direct writes. A pipe to a
connection is thus full only when the OS socket is too, as with libzmq, and a blocking sender (PUSH,
DEALER) goes on without waiting for the I/O thread.

*Timers.* ``HANDSHAKE_IVL`` bounds the handshake. With ``HEARTBEAT_IVL`` a PING goes out every
interval and arms a ``HEARTBEAT_TIMEOUT`` timer; a peer PING with a TTL arms a TTL timer; any event
received after the handshake cancels both (ZMTP 3.1 / libzmq ``stream_engine_base``). Expiry is a
timeout error: the connecting side reconnects.

*Errors.* Any failure (peer closed, reset, protocol violation, timeout, or a bug raising inside this
connection's handlers) emits libzmq's monitor events, closes this connection only (logged at DEBUG:
a peer never writes to the application's log, see :mod:`zloop.io.logs`), and reports to
the session, which decides between reconnecting and ending. A local close (:meth:`close`) emits
nothing, as in libzmq. A ZMTP 1.0 / 2.0 peer has no security mechanism, and libzmq reports such a
connection as one whose handshake never finished: no HANDSHAKE_SUCCEEDED (nor heartbeats), its
end is HANDSHAKE_FAILED_NO_DETAIL (errno) + DISCONNECTED, or DISCONNECTED alone for a protocol
error (``Connection.legacy_peer``).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import socket
from collections.abc import Callable
from itertools import islice
from typing import Any, cast

from zloop import _real
from zloop.constants import Event, ProtocolErrorCode, SecurityMechanism, SocketType
from zloop.io.interfaces import EngineHost, ErrorReason, SocketCore
from zloop.io.logs import internal_error, limited, log
from zloop.io.reactor import RECV_BUFFER_SIZE, IOThread, Timer
from zloop.io.sendbuf import SendQueue, write_buffers
from zloop.options import Options
from zloop.pipe import Msg, Pipe, SubscriptionMsg
from zloop.protocol import (
    AuthenticationFailed,
    Cancel,
    Connection,
    ConnectionClosed,
    HandshakeComplete,
    Message,
    PeerError,
    Ping,
    ProtocolError,
    Subscribe,
    ZapRequest,
)
from zloop.security import (
    NO_HANDLER_ACCEPTS,
    ZapClient,
    ZapHandlerUnusable,
    ZapReplyError,
    make_mechanism,
    parse_zap_reply,
    with_zap_handler,
    zap_properties,
    zap_request_frames,
)

#: A large body with at least this many bytes still to come is received straight into its own
#: buffer (``Connection.recv_buffer``); shorter rests go through the shared buffer.
DIRECT_MIN = 128 * 1024
#: Bytes read right after a body was received directly (the next frame's header and small frames).
AFTER_LARGE_READ = 4096
#: Messages taken from the pipe per encode/send batch.
OUT_BATCH = 256
#: Bytes one ``_pump`` call writes (whole batches) before it yields to the reactor (see "Output").
OUT_TURN = 16 * 1024
#: Encoded bytes aimed at per batch: the next batch takes fewer than ``OUT_BATCH`` messages when
#: the last one's messages were large (a CURVE batch is all new buffers, alive until written).
OUT_BATCH_BYTES = 256 * 1024
#: Received messages written to the pipe per ``write_many`` (bounds the work redone after a stall).
DELIVER_BATCH = 256
#: Batches below this many bytes are joined into one buffer for a plain ``send``.
JOIN_LIMIT = 64 * 1024

#: What a CURVE peer's MESSAGE can fail with after the handshake. libzmq's CURVE decoder reports
#: these as HANDSHAKE_FAILED_PROTOCOL even then (``curve_mechanism_base_t::decode``); any other
#: error after the handshake is reported by DISCONNECTED alone.
_CURVE_TRAFFIC_ERRORS = frozenset(
    {
        ProtocolErrorCode.ZMTP_UNEXPECTED_COMMAND,
        ProtocolErrorCode.ZMTP_MALFORMED_COMMAND_MESSAGE,
        ProtocolErrorCode.ZMTP_INVALID_SEQUENCE,
        ProtocolErrorCode.ZMTP_CRYPTOGRAPHIC,
    }
)
#: What :meth:`StreamEngine.app_read` found.
APP_READ_BUSY = 0
APP_READ_EMPTY = 1
APP_READ_GOT = 2
APP_READ_WOKE = 3
_SUBSCRIBE_PREFIX = b"\x01"
_CANCEL_PREFIX = b"\x00"
_ONLY_LISTS = {list}


def _noop() -> None:
    pass


def event_source(core: SocketCore, delta: int) -> None:
    """Tell the socket that an emitter of its monitor events started (+1) or ended (-1).

    Connecters and engines count themselves, so a closed socket's monitor stops only after their
    last event (``Socket.event_source``). Optional: a core without the hook is not counted.
    """
    hook = getattr(core, "event_source", None)
    if hook is not None:
        hook(delta)


def _raiser(exc: Exception) -> Callable[[], None]:
    def run() -> None:
        raise exc

    return run


class _ReadFailed:
    """An error an application thread's read hit, handed to the I/O thread."""

    __slots__ = ("err",)

    def __init__(self, err: int) -> None:
        self.err = err


def _release_if_owned(lock: Any) -> None:
    """For an application thread's ``lock.acquire(blocking=False)`` that an exception cut short
    as the call returned (a KeyboardInterrupt: Python runs signal handlers when a call returns):
    the caller's ``try`` had not begun, and a lock left held would stop the I/O thread for good."""
    if lock._is_owned():
        lock.release()


class StreamEngine:
    """Moves bytes between one OS socket and one ZMTP connection and messages to/from a pipe."""

    def __init__(
        self,
        io: IOThread,
        host: EngineHost,
        sock: socket.socket,
        *,
        socket_core: SocketCore,
        options: Options,
        endpoint: str,
    ) -> None:
        self._io = io
        self._host = host
        self._sock = sock
        self._fd = sock.fileno()
        self._core = socket_core
        self._options = options
        self._endpoint = endpoint
        self._conn = Connection(
            SocketType(options.socket_type),
            mechanism=make_mechanism(options),
            routing_id=options.routing_id,
            metadata=options.metadata,
            maxmsgsize=max(options.maxmsgsize, -1),  # libzmq: any negative means no limit
            legacy=not options.zap_domain,
        )
        self._conn.message_lists = True  # messages arrive as frame lists, ready for the pipe
        self._read_size = RECV_BUFFER_SIZE  # bytes the next read through io.recv_buffer takes
        # The last read filled the shared buffer and began a large body: read its rest in the
        # same turn (see "Input").
        self._rest_ready = False
        self._out = SendQueue()  # bytes / memoryview chunks waiting for the socket
        self._out_batch = OUT_BATCH  # messages per batch (see OUT_BATCH_BYTES)
        self._writing = False  # registered for writability
        self._reading = False
        self._stalled: list[Any] | None = None  # events the full pipe did not take yet ...
        self._stalled_at = 0  # ... from this index on
        self._handshaked = False
        self._closed = False
        self._handshake_timer: Timer | None = None
        self._hb_ivl_timer: Timer | None = None
        self._hb_timeout_timer: Timer | None = None
        self._hb_ttl_timer: Timer | None = None
        # Owner of the sending side (see "Direct writes"): the I/O thread holds it around all its
        # work on this connection, an application thread only tries it (never blocks on it).
        self._lock = _real.RLock()
        # A direct write is allowed once per arrival of peer data: replies (request/reply,
        # ping-pong) skip the I/O thread, while a one-way stream keeps being batched by _pump
        # (one syscall per batch, and SNDHWM fills as it always did).
        self._direct_ok = False
        #: Reads made by app_read (the park audit sees whether a parker still reads).
        self._app_reads = 0
        # Input ordering (see "Reads in the application thread"): held from a read of the OS
        # socket until its messages are in the pipe, by the I/O thread (waiting for it) and by an
        # application thread (only trying it). Taken before _lock, never after.
        self._input_lock = _real.RLock()
        # Events an application thread read but could not deliver itself: delivered by the I/O
        # thread before anything read later (None: nothing handed over).
        self._handed: list[Any] | None = None
        # ZAP (zloop.security): the exchange in progress, and User-Id + ZAP metadata once accepted.
        self._zap: ZapClient | None = None
        self._zap_properties: dict[str, bytes] = {}
        event_source(socket_core, 1)  # until _teardown: this connection's events may still come

    def __repr__(self) -> str:
        return f"<StreamEngine fd={self._fd} {self._endpoint}>"

    @property
    def fd(self) -> int:
        return self._fd

    @property
    def handshaked(self) -> bool:
        return self._handshaked

    def has_pending_output(self) -> bool:
        # Under the lock: a direct write between taking messages from the pipe and queueing
        # their bytes must not look like "nothing pending" (linger).
        with self._lock:
            return bool(self._out)

    # -- life cycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Register with the reactor and send the first greeting bytes."""
        with self._lock:
            self._start()

    def _start(self) -> None:
        self._reading = True
        self._io.add_reader(self._fd, self._guarded(self._on_readable, locked=False))
        ivl = self._options.handshake_ivl
        if ivl > 0:
            self._handshake_timer = self._io.call_later(
                ivl / 1000, self._guarded(self._on_handshake_timeout)
            )
        self._queue_connection_output()

    def close(self) -> None:
        """Local close (session ending): no monitor events, like libzmq's ``terminate``."""
        with self._lock:
            self._teardown()

    def _teardown(self) -> None:
        if self._closed:
            return
        self._closed = True
        for timer in (
            self._handshake_timer,
            self._hb_ivl_timer,
            self._hb_timeout_timer,
            self._hb_ttl_timer,
        ):
            if timer is not None:
                timer.cancel()
        if self._zap is not None:
            self._zap.close()
            self._zap = None
        if self._io.remove_fd(self._fd, self._close_socket):
            # An application thread waits on the fd (parked): the close waits for it to unpark
            # (see "Reads in the application thread"); wake it, its wait may not end by itself.
            self._core.post(_noop, 0)
        self._out.clear()
        self._stalled = None
        event_source(self._core, -1)

    def _close_socket(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.close()

    def _guarded(self, handler: Callable[[], None], locked: bool = True) -> Callable[[], None]:
        """Wrap a reactor callback: a bug in one connection closes that connection only.

        ``locked``: run ``handler`` holding the engine lock (``_on_readable`` takes it itself).
        """

        lock = self._lock

        def run() -> None:
            if self._closed:
                return
            try:
                if locked:
                    with lock:
                        handler()
                else:
                    handler()
            except Exception:
                internal_error(self._endpoint)
                with lock:
                    self._error(ErrorReason.CONNECTION, errno.EPROTO)

        return run

    def _error(self, reason: ErrorReason, err: int) -> None:
        """The connection is over: events as libzmq emits them, then tell the session."""
        if self._closed:
            return
        handshaked = self._handshaked
        pipe = self._host.pipe
        if pipe is not None:
            pipe.flush()
        # The session first: a pipe that ends with this connection is terminated (its pipe_term
        # posted to the socket) before the monitor reports DISCONNECTED, so a program that reacts
        # to the event finds the socket's next send already routing around the departed peer.
        self._host.engine_error(reason, handshaked)
        # libzmq (stream_engine_base_t::error): any end but a protocol error of a connection
        # whose mechanism is not ready -- or that has none: a ZMTP 1.0 / 2.0 peer, even one that
        # exchanged messages -- is a HANDSHAKE_FAILED_NO_DETAIL carrying the errno (EPIPE for EOF).
        if reason is not ErrorReason.PROTOCOL and (not handshaked or self._conn.legacy_peer):
            self._core.event(Event.HANDSHAKE_FAILED_NO_DETAIL, err, self._endpoint)
        self._core.event(Event.DISCONNECTED, self._fd, self._endpoint)
        self._teardown()

    # -- input -----------------------------------------------------------------------------------

    def _on_readable(self) -> None:
        # The engine lock covers the read and the decoding, not the delivery: the pipe flush wakes
        # the application, whose reply should find the engine free for a direct write. The input
        # lock covers both, so that an application thread's read cannot overtake this one.
        with self._input_lock:
            if self._handed is not None:
                self._take_handed()
                if self._closed or self._stalled is not None:
                    return
            with self._lock:
                events = self._read_events()
            if events:
                if self._handshaked:
                    self._heard_from_peer()
                self._process(events)
            if self._rest_ready:
                # That read began a large body whose rest is most likely in the kernel already:
                # read it straight into the body now, not after another reactor round (what came
                # before it was delivered first, so a read error is reported after it).
                self._rest_ready = False
                if not self._closed and self._stalled is None:
                    with self._lock:
                        events = self._read_events()
                    if events:
                        self._process(events)
        if not self._closed:
            with self._lock:
                self._queue_connection_output()

    def _read_events(self) -> list[Any]:
        """Under the lock: one read from the socket, decoded (empty when nothing came or the
        connection failed)."""
        conn = self._conn
        # A large frame body in progress is received straight into its own bytearray (the
        # kernel's copy is the only one); everything else goes through the shared buffer.
        target = conn.recv_buffer()
        if target is not None and len(target) < DIRECT_MIN:
            # A short rest: one batched read through the shared buffer is cheaper than a syscall
            # (and a reactor round) per frame; its bytes are copied once more, that's all.
            target.release()
            target = None
        try:
            if target is None:
                buf = self._io.recv_buffer  # shared: decoded (copied) before anyone reads again
                n = self._sock.recv_into(buf, self._read_size)
            else:
                n = self._sock.recv_into(target)
        except (BlockingIOError, InterruptedError):
            return []
        except OSError as exc:
            self._error(ErrorReason.CONNECTION, exc.errno or errno.ECONNRESET)
            return []
        self._direct_ok = True
        if target is None:
            asked, self._read_size = self._read_size, RECV_BUFFER_SIZE
            if n == 0:
                conn.receive_data(b"")
            else:
                conn.receive_data(buf[:n])
                self._rest_ready = n == asked and conn.large_body_rest() >= DIRECT_MIN
        else:
            target.release()  # the body may grow before the next recv_buffer()
            conn.received_into(n)
            # The next read starts at a frame header: keep it short, so that the start of a
            # following large body is not copied through the shared buffer.
            self._read_size = AFTER_LARGE_READ
        return conn.events()

    def _heard_from_peer(self) -> None:
        """Any frame from the peer cancels the heartbeat timeout and TTL timers (libzmq)."""
        if self._hb_timeout_timer is not None:
            self._hb_timeout_timer.cancel()
            self._hb_timeout_timer = None
        if self._hb_ttl_timer is not None:
            self._hb_ttl_timer.cancel()
            self._hb_ttl_timer = None

    def _process(self, events: list[Any], index: int = 0) -> None:
        """Deliver ``events[index:]`` in order: messages and subscriptions go to the pipe in runs of
        up to ``DELIVER_BATCH``, one ``write_many`` and one flush per run; control events are
        handled between runs."""
        end = len(events)
        while index < end:
            start = index
            stop = min(end, index + DELIVER_BATCH)
            run: list[Any] = events if not index and stop == end else events[index:stop]
            if set(map(type, run)) == _ONLY_LISTS:
                index = stop  # only messages (the common case): no per-event work
            else:
                run = []
            append = run.append
            while index < stop:
                event = events[index]
                kind = type(event)
                if kind is list:  # a message (Connection.message_lists)
                    append(event)
                elif kind is Message:
                    append(event.frames)
                elif kind is Subscribe:
                    append([_SUBSCRIBE_PREFIX + event.topic])
                elif kind is Cancel:
                    append([_CANCEL_PREFIX + event.topic])
                else:
                    break
                index += 1
            if run:
                pipe = self._host.pipe
                # Without a live pipe nobody will read them: dropped, as libzmq does.
                if pipe is not None and not pipe.terminated and not pipe.peer_terminated:
                    written = pipe.write_many(run)
                    if written:
                        pipe.flush()
                    if written < len(run):
                        # RCVHWM reached: keep the rest and stop reading until write_activated.
                        self._stalled = events
                        self._stalled_at = start + written
                        if self._reading:
                            self._reading = False
                            self._io.remove_reader(self._fd)
                        return
            if index < stop:  # the run ended at a control event
                event = events[index]
                index += 1
                with self._lock:  # control events use the connection (handshake, errors, ZAP)
                    if not self._control_event(event):
                        return

    def _control_event(self, event: Any) -> bool:
        """Handle a non-message event; False when the connection ended."""
        kind = type(event)
        if kind is HandshakeComplete:
            self._on_handshake(event)
        elif kind is Ping:
            if event.ttl > 0 and self._hb_ttl_timer is None:
                self._hb_ttl_timer = self._io.call_later(
                    event.ttl / 10, self._guarded(self._on_ttl_expired)
                )
        elif kind is ProtocolError:
            # No HANDSHAKE_FAILED_PROTOCOL for a 1.0 / 2.0 peer (refused, malformed or
            # incompatible): libzmq has no mechanism there to report one, only DISCONNECTED.
            if not self._conn.legacy_peer and (
                not self._handshaked
                or (
                    self._options.mechanism == SecurityMechanism.CURVE
                    and event.code in _CURVE_TRAFFIC_ERRORS
                )
            ):
                self._core.event(Event.HANDSHAKE_FAILED_PROTOCOL, int(event.code), self._endpoint)
            log.debug(
                "zloop: protocol error from %s (%s): %s; closing the connection",
                self._peer_name(),
                self._endpoint,
                event.reason,
            )
            self._send_final_output()
            self._error(ErrorReason.PROTOCOL, errno.EPROTO)
            return False
        elif kind is PeerError:
            reason = bytes(event.reason)
            if not self._handshaked and len(reason) == 3 and reason.isdigit():
                self._core.event(Event.HANDSHAKE_FAILED_AUTH, int(reason), self._endpoint)
            log.debug("zloop: peer %s sent ERROR %r; closing", self._endpoint, reason)
            self._error(ErrorReason.PROTOCOL, errno.EPROTO)
            return False
        elif kind is AuthenticationFailed:
            code = bytes(event.status_code)
            self._core.event(
                Event.HANDSHAKE_FAILED_AUTH, int(code) if code.isdigit() else 0, self._endpoint
            )
            self._send_final_output()
            self._error(ErrorReason.PROTOCOL, errno.EACCES)
            return False
        elif kind is ConnectionClosed:
            self._error(ErrorReason.CONNECTION, errno.EPIPE)
            return False
        elif kind is ZapRequest:
            return self._on_zap_request(event)
        # Pong: nothing to do (any frame already reset the timers).
        return not self._closed

    def _on_zap_request(self, event: ZapRequest) -> bool:
        """Ask the ZAP handler bound in our context (zloop.security), or apply libzmq's rules
        when none is bound: NULL and CURVE proceed unauthenticated unless ZAP_ENFORCE_DOMAIN is set,
        PLAIN fails the handshake (libzmq ``plain_server_t::process_hello``, and NULL / CURVE under
        ZAP_ENFORCE_DOMAIN: HANDSHAKE_FAILED_NO_DETAIL with EFAULT). A socket of the wrong type
        bound at the ZAP endpoint refuses every handshake that needs ZAP the same way (libzmq
        aborts the process there; admitting the peer would be a silent security fallback)."""
        mechanism = bytes(event.mechanism)

        def ask(handler: Any | None) -> bool:
            # Runs with the handler's name held bound (with_zap_handler): only post the request.
            if handler is None:
                return False
            request = zap_request_frames(
                event,
                domain=self._options.zap_domain,
                address=str(getattr(self._host, "peer_address", "")),
                routing_id=self._options.routing_id,
            )
            self._zap = ZapClient(self._io.post, handler, request, self._zap_answer)
            return True

        try:
            asked = with_zap_handler(self._core, ask)
        except ZapHandlerUnusable as exc:
            limited(
                "zap handler unusable", logging.ERROR, "zloop: %s; refusing %s", exc, self._endpoint
            )
            return self._refuse_without_zap()
        if not asked:
            if mechanism in NO_HANDLER_ACCEPTS and not self._options.zap_enforce_domain:
                self._conn.zap_reply(b"200", b"OK")
                self._process(self._conn.events())
                return not self._closed
            limited(
                "no zap handler",
                logging.WARNING,
                "zloop: a handshake on %s needs a ZAP handler, none is bound; closing it",
                self._endpoint,
            )
            return self._refuse_without_zap()
        return not self._closed

    def _refuse_without_zap(self) -> bool:
        self._core.event(Event.HANDSHAKE_FAILED_NO_DETAIL, errno.EFAULT, self._endpoint)
        self._error(ErrorReason.PROTOCOL, errno.EFAULT)
        return False

    def _zap_answer(self, reply: Msg | None) -> None:
        """I/O thread (a pipe command): the ZAP handler answered (None: it went away)."""
        self._guarded(lambda: self._on_zap_reply(reply))()

    def _on_zap_reply(self, frames: Msg | None) -> None:
        self._zap = None
        if frames is None:
            limited(
                "zap handler gone",
                logging.WARNING,
                "zloop: the ZAP handler went away before answering %s",
                self._endpoint,
            )
            self._error(ErrorReason.CONNECTION, errno.ECONNREFUSED)
            return
        try:
            reply = parse_zap_reply(frames)
        except ZapReplyError as exc:
            # libzmq zap_client_t: a bad reply is a protocol error of this handshake.
            limited(
                "bad zap reply",
                logging.WARNING,
                "zloop: bad ZAP reply for %s: %s",
                self._endpoint,
                exc.reason,
            )
            self._core.event(Event.HANDSHAKE_FAILED_PROTOCOL, int(exc.code), self._endpoint)
            self._error(ErrorReason.PROTOCOL, errno.EPROTO)
            return
        if reply.status_code == b"200":
            self._zap_properties = zap_properties(reply)
        self._conn.zap_reply(reply.status_code, reply.status_text, reply.user_id, reply.metadata)
        self._process(self._conn.events())
        if not self._closed:
            self._queue_connection_output()

    def _on_handshake(self, event: HandshakeComplete) -> None:
        self._handshaked = True
        if self._handshake_timer is not None:
            self._handshake_timer.cancel()
            self._handshake_timer = None
        if not self._conn.legacy_peer:
            # libzmq starts heartbeats and emits HANDSHAKE_SUCCEEDED in mechanism_ready() only:
            # never for a ZMTP 1.0 / 2.0 peer (no mechanism, no PING/PONG to answer a timeout).
            ivl = self._options.heartbeat_ivl
            if ivl > 0 and self._hb_ivl_timer is None:
                self._hb_ivl_timer = self._io.call_later(
                    ivl / 1000, self._guarded(self._on_heartbeat)
                )
        if self._zap_properties:
            # libzmq (stream_engine_base::mechanism_ready): ZAP properties win over the peer's.
            event = HandshakeComplete(
                event.peer_socket_type,
                event.peer_version,
                {**event.peer_metadata, **self._zap_properties},
                event.peer_routing_id,
            )
        # The pipe's attach (or update) is posted to the socket before the monitor reports the
        # handshake: a program that reacts to the event finds the peer known to its next send.
        self._host.engine_ready(event)
        if not self._conn.legacy_peer:
            self._core.event(Event.HANDSHAKE_SUCCEEDED, 0, self._endpoint)
        self._io.post(self._guarded(self.restart_output))

    def restart_input(self) -> None:
        """The pipe has room again: deliver what was held back, then read the socket again."""
        with self._input_lock:
            if self._closed or self._stalled is None:
                return
            events, self._stalled = self._stalled, None
            self._process(events, self._stalled_at)
            if self._closed or self._is_stalled():
                return
            if not self._reading:
                self._reading = True
                self._io.add_reader(self._fd, self._guarded(self._on_readable, locked=False))
        with self._lock:
            self._queue_connection_output()

    # -- reads in the application thread ---------------------------------------------------------

    def app_read(self, buf: memoryview, reader: Pipe) -> int:
        """Application thread, about to block in ``recv`` on this engine's pipe (found empty):
        read and decode the OS socket here instead of waiting for the I/O thread (see "Reads in
        the application thread"). ``buf``: the calling thread's own receive buffer; ``reader``:
        the calling socket's end of the pipe (the thread is its owner).

        Returns :data:`APP_READ_WOKE` (messages delivered to the pipe, whose reader was asleep:
        the caller runs ``reader``'s activation itself instead of a command through its mailbox),
        :data:`APP_READ_GOT` (delivered, or events handed to the I/O thread: look at the socket
        again), :data:`APP_READ_EMPTY` (nothing to read: wait for the fd, parked) or
        :data:`APP_READ_BUSY` (not now: wait for the I/O thread as usual).
        """
        input_lock = self._input_lock
        try:
            acquired = input_lock.acquire(blocking=False)
        except BaseException:
            _release_if_owned(input_lock)
            raise
        if not acquired:
            return APP_READ_BUSY
        try:
            lock = self._lock
            try:
                acquired = lock.acquire(blocking=False)
            except BaseException:
                _release_if_owned(lock)
                raise
            if not acquired:
                return APP_READ_BUSY
            # Held through the delivery too: the I/O thread ends a connection (and, bind side,
            # its pipe) under this lock, so what was read before an error is delivered before it.
            try:
                conn = self._conn
                if not self._input_idle() or self.reads_body_directly():
                    return APP_READ_BUSY
                try:
                    # As long as the I/O thread's own next read would be (``_read_size``): short
                    # right after a large body, so that the next body's start is not copied through
                    # this buffer but read by the I/O thread into its own (interleaved A/B: a
                    # 64 KiB read there cost tcp 1 MiB streams 12-20 % more receiver CPU); long
                    # otherwise, so that a stream of small messages is read in batches (4 KiB
                    # reads cut tcp 1 KiB streams to half their rate).
                    n = self._sock.recv_into(buf, min(len(buf), self._read_size))
                except (BlockingIOError, InterruptedError):
                    return APP_READ_EMPTY
                except OSError as exc:
                    self._hand_over([_ReadFailed(exc.errno or errno.ECONNRESET)])
                    return APP_READ_GOT
                self._direct_ok = True
                self._app_reads += 1
                self._read_size = RECV_BUFFER_SIZE
                conn.receive_data(buf[:n] if n else b"")
                events = conn.events()
                if not events:
                    return APP_READ_GOT  # part of a frame: read again
                pipe = self._host.pipe
                # Only messages, a live pipe and room for all of them: anything else is the I/O
                # thread's (control events use timers and the session; a full pipe stalls input).
                if (
                    set(map(type, events)) == _ONLY_LISTS
                    and pipe is not None
                    and pipe.peer is reader
                    and pipe._out_active
                    and not pipe.terminated
                    and not pipe.peer_terminated
                    and len(events) <= DELIVER_BATCH
                ):
                    # The reader (the calling thread) has read everything it was sent: its count
                    # is exact here, so the room is not understated by an activate_write to come.
                    if reader._msgs_read > pipe._peer_msgs_read:
                        pipe._peer_msgs_read = reader._msgs_read
                    if pipe._hwm <= 0 or pipe._hwm - pipe.rollback_count() >= len(events):
                        pipe.write_many(cast(list[Msg], events))
                        # Pipe.flush, except that the reader's owner is the calling thread: it
                        # activates the reader itself (no command, no signal through its mailbox).
                        queue = pipe._out
                        if queue.reader_asleep and not pipe.terminated:
                            queue.reader_asleep = False
                            return APP_READ_WOKE
                        return APP_READ_GOT
                self._hand_over(events)
                return APP_READ_GOT
            finally:
                lock.release()
        finally:
            input_lock.release()

    def reads_body_directly(self) -> bool:
        """Does the next read go straight into a large body's own buffer (``DIRECT_MIN`` bytes
        or more of it still to come)? Only the I/O thread reads that way: :meth:`app_read`
        answers busy then. A shorter rest is read through the reader's buffer, by either thread."""
        return self._conn.large_body_rest() >= DIRECT_MIN

    def _hand_over(self, events: list[Any]) -> None:
        """Under both locks, application thread: leave ``events`` to the I/O thread, which
        delivers them before reading again."""
        self._handed = events
        self._io.post(self._guarded(self._on_handed, locked=False))

    def _on_handed(self) -> None:
        with self._input_lock:
            if self._handed is not None:
                self._take_handed()
        if not self._closed:
            with self._lock:
                self._queue_connection_output()

    def _take_handed(self) -> None:
        """I/O thread, under the input lock: deliver what an application thread read."""
        events, self._handed = self._handed, None
        if not events:
            return
        first = events[0]
        if type(first) is _ReadFailed:
            with self._lock:
                self._error(ErrorReason.CONNECTION, first.err)
            return
        if self._handshaked:
            self._heard_from_peer()
        self._process(events)

    def park(self) -> object | None:
        """Application thread: stop the I/O thread watching the fd while the caller polls it
        (:meth:`IOThread.park_reader`); the token for :meth:`unpark`, or None: not while the
        connection is in a state only the I/O thread reads (:meth:`app_read` would answer
        busy): a handshake in progress, a stalled input, a hand-over pending, a heartbeat timer
        armed. A parker whose loop then stops running (a busy greenlet, a raw blocking call in
        the hub) would hold back what that state waits for -- the peer's greeting, a PONG --
        until the I/O thread's park audit takes the fd back."""
        if not self._input_idle():
            return None
        return self._io.park_reader(self._fd, self._app_read_count)

    def _input_idle(self) -> bool:
        """Handshaken and idle on input, which :meth:`app_read` and :meth:`park` require: not
        closed, reading (not stalled on RCVHWM), no hand-over pending, no heartbeat timer armed
        (only the I/O thread touches timers)."""
        return not (
            self._closed
            or not self._handshaked
            or not self._reading
            or self._stalled is not None
            or self._handed is not None
            or self._hb_timeout_timer is not None
            or self._hb_ttl_timer is not None
        )

    def _app_read_count(self) -> int:
        """How many reads :meth:`app_read` made (the park audit's progress count)."""
        return self._app_reads

    def unpark(self, token: object | None) -> None:
        """Undo :meth:`park` (``token`` None: a park an exception cut short)."""
        self._io.unpark_reader(self._fd, token)

    def _is_stalled(self) -> bool:
        return self._stalled is not None

    # -- output ----------------------------------------------------------------------------------

    def restart_output(self) -> None:
        """The pipe may have messages: encode and send them (after the handshake only)."""
        if self._closed or not self._handshaked or self._writing:
            return
        with self._lock:
            if not self._writing:
                self._pump()

    def _pump(self) -> None:
        """Move batches pipe -> connection -> socket until the pipe is empty, the socket is full or
        this turn wrote ``OUT_TURN`` bytes (then writability resumes it, see "Output")."""
        conn = self._conn
        turn = 0
        while not self._closed:
            pipe = self._host.pipe
            count = 0
            limit = self._out_batch
            if pipe is not None:
                msgs = pipe.read_many(limit)
                count = len(msgs)
                if SubscriptionMsg not in set(map(type, msgs)):
                    if count:  # only messages (the common case): one batch, no per-message check
                        conn.send_messages(msgs)
                else:
                    start = 0
                    for index, msg in enumerate(msgs):
                        if type(msg) is SubscriptionMsg:
                            if index > start:
                                conn.send_messages(msgs[start:index])
                            start = index + 1
                            if msg.subscribe:
                                conn.send_subscribe(msg.topic)
                            else:
                                conn.send_cancel(msg.topic)
                    if start < count:
                        conn.send_messages(msgs[start:] if start else msgs)
            bufs = conn.buffers_to_send()
            size = 0
            for buf in bufs:
                size += len(buf)
            turn += size
            if count:
                self._out_batch = max(1, min(OUT_BATCH, OUT_BATCH_BYTES * count // (size or 1)))
            self._queue(bufs)
            if not self._flush():
                return  # partial write: _on_writable resumes
            if count < limit:
                break  # the pipe is empty
            if turn >= OUT_TURN:
                # Yield: the pipe may hold more, but other fds and commands of this I/O thread
                # get their turn first; the socket is writable, so _on_writable resumes at once.
                if not self._writing:
                    self._writing = True
                    self._io.add_writer(self._fd, self._guarded(self._on_writable))
                return
        if not self._closed:
            self._host.engine_drained()

    def _queue_connection_output(self) -> None:
        """Send what the connection produced by itself (greeting, handshake, PONG, ERROR)."""
        bufs = self._conn.buffers_to_send()
        if bufs:
            self._queue(bufs)
            if not self._writing:
                self._flush()

    def _queue(self, bufs: list[Any]) -> None:
        if not bufs:
            return
        if len(bufs) > 1:
            total = 0
            for buf in bufs:
                total += len(buf)
            if total <= JOIN_LIMIT:
                bufs = [b"".join(bufs)]
        self._out.extend(bufs)

    def _flush(self) -> bool:
        """Write queued output; True when all of it went out."""
        out = self._out
        err = write_buffers(self._sock, out)
        if err:
            self._error(ErrorReason.CONNECTION, err)
            return False
        if out:
            if not self._writing:
                self._writing = True
                self._io.add_writer(self._fd, self._guarded(self._on_writable))
            return False
        if self._writing:
            self._writing = False
            self._io.remove_writer(self._fd)
        return True

    def _on_writable(self) -> None:
        if self._flush() and self._handshaked:
            self._pump()

    def try_direct_write(self, pipe: Pipe) -> bool:
        """Application thread: send what the socket just queued in ``pipe`` (this engine's pipe
        end, whose reader is asleep) without waking the I/O thread; False if it must be woken.

        See "Direct writes" in the module docstring. On True, the messages left the pipe: they are
        sent, or queued in ``_out`` with a command posted that finishes the write in the I/O thread.
        """
        lock = self._lock
        try:
            acquired = lock.acquire(blocking=False)
        except BaseException:
            _release_if_owned(lock)
            raise
        if not acquired:
            return False
        try:
            if (
                not self._direct_ok
                or self._closed
                or not self._handshaked
                or self._out
                or self._writing
            ):
                return False
            msgs = self._take_from_pipe(pipe, 0)
            if not msgs:
                return False
            self._direct_ok = False
            # The reader was asleep (the flush that called us lowered the flag) and stays so.
            pipe._in.reader_asleep = True
            self._send_from_app(msgs, False)
            return True
        finally:
            lock.release()

    def drain(self, pipe: Pipe) -> None:
        """Application thread: the socket's write found ``pipe`` (this engine's pipe end) full.
        Do now what the I/O thread will do when it gets its turn: bring the socket's count of
        messages read up to date and move the queued messages into the OS socket while it takes
        them (see "Draining a full pipe" in the module docstring)."""
        with self._lock:
            if self._closed or not self._handshaked or pipe is not self._host.pipe:
                return
            writer = pipe.peer
            # The reader's count is stable under the lock: the writer need not wait for the
            # next lwm boundary's activate_write to see what the I/O thread took already.
            if pipe._msgs_read > writer._peer_msgs_read:
                writer._peer_msgs_read = pipe._msgs_read
            if self._out and not self._send_out():
                return  # the OS socket is full: the pipe is full
            while True:
                msgs = self._take_from_pipe(pipe, self._out_batch)
                if not msgs or not self._send_from_app(msgs, True):
                    return

    def _take_from_pipe(self, pipe: Pipe, limit: int) -> list[Msg] | None:
        """Under the lock, application thread (the pipe's writer): take queued messages out of
        ``pipe``, as if never written -- up to ``limit`` of them, stopping before anything but a
        plain message (a subscription, the delimiter: the I/O thread sends those); with ``limit``
        0 all of them, or none if any is not plain. None when nothing was taken."""
        if pipe is not self._host.pipe or pipe.terminated:
            return None
        queue = pipe._in
        if queue.conflate:
            return None
        items = queue.items
        # The writer is the calling thread and the I/O thread reads only under the lock, so
        # nobody else changes the queue now.
        count = len(items)
        if limit and limit < count:
            count = limit
        for index, item in enumerate(islice(items, count)):
            if type(item) is not list:
                if not limit:
                    return None
                count = index
                break
        if not count:
            return None
        popleft = items.popleft
        msgs = [popleft() for _ in range(count)]
        # As if never written: the writer's HWM count stays in step with what the reader counts
        # (it never saw these).
        pipe.peer._msgs_written -= count
        return msgs

    def _send_from_app(self, msgs: list[Msg], adapt: bool) -> bool:
        """Under the lock, application thread: encode ``msgs`` and write them without touching
        the reactor; True when all went out. What remains (partial write, EAGAIN, an error, an
        encoder exception) is left to the I/O thread through one posted command."""
        try:
            self._conn.send_messages(msgs)
        except Exception as exc:
            # Re-raise in the I/O thread: the connection fails as if _pump had hit it.
            self._io.post(self._guarded(_raiser(exc)))
            return False
        bufs = self._conn.buffers_to_send()
        if adapt:
            size = 0
            for buf in bufs:
                size += len(buf)
            self._out_batch = max(1, min(OUT_BATCH, OUT_BATCH_BYTES * len(msgs) // (size or 1)))
        self._queue(bufs)
        if not self._send_out():
            self._io.post(self._guarded(self._finish_write))
            return False
        return True

    def _send_out(self) -> bool:
        """Application thread, under the lock: write ``_out`` without touching the reactor; True
        when all of it went out (anything else, errors included, is left to the I/O thread)."""
        return write_buffers(self._sock, self._out) == 0 and not self._out

    def _finish_write(self) -> None:
        """I/O thread: complete a direct write that left bytes behind (or hit an error)."""
        if self._out and not self._writing and self._flush() and self._handshaked:
            self._pump()

    def _send_final_output(self) -> None:
        """Best effort: push out an ERROR command queued by the connection before closing."""
        bufs = self._conn.buffers_to_send()
        if bufs:
            self._queue(bufs)
            with contextlib.suppress(OSError):
                self._sock.send(b"".join(bytes(b) for b in self._out))
            self._out.clear()

    # -- timers ----------------------------------------------------------------------------------

    def _on_handshake_timeout(self) -> None:
        self._handshake_timer = None
        if not self._closed and not self._handshaked:
            log.debug("zloop: handshake with %s timed out", self._endpoint)
            self._error(ErrorReason.TIMEOUT, errno.ETIMEDOUT)

    def _on_heartbeat(self) -> None:
        self._hb_ivl_timer = None
        if self._closed:
            return
        options = self._options
        self._conn.send_ping(min(options.heartbeat_ttl // 100, 0xFFFF))
        timeout = options.heartbeat_timeout
        if timeout < 0:
            timeout = options.heartbeat_ivl
        if self._hb_timeout_timer is None and timeout > 0:
            self._hb_timeout_timer = self._io.call_later(
                timeout / 1000, self._guarded(self._on_hb_timeout)
            )
            # The PONG must be read here (app_read refuses while this timer is armed): if an
            # application thread has the fd parked, read it again now, not at its next look.
            self._io.revoke_reader(self._fd)
        self._hb_ivl_timer = self._io.call_later(
            options.heartbeat_ivl / 1000, self._guarded(self._on_heartbeat)
        )
        self._queue_connection_output()

    def _on_hb_timeout(self) -> None:
        self._hb_timeout_timer = None
        if not self._closed:
            log.debug("zloop: heartbeat timeout on %s", self._endpoint)
            self._error(ErrorReason.TIMEOUT, errno.ETIMEDOUT)

    def _on_ttl_expired(self) -> None:
        self._hb_ttl_timer = None
        if not self._closed:
            log.debug("zloop: peer heartbeat TTL expired on %s", self._endpoint)
            self._error(ErrorReason.TIMEOUT, errno.ETIMEDOUT)

    def _peer_name(self) -> str:
        try:
            return str(self._sock.getpeername()) or "ipc peer"
        except OSError:
            return "?"
