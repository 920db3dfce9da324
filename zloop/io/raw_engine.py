"""The raw engine of STREAM sockets: bytes between an OS socket and the session's pipe, no ZMTP.

Theory of operation
-------------------
One engine serves one established tcp/ipc connection of a STREAM socket (libzmq ``raw_engine_t``). It
has the same face towards its session as :class:`~zloop.io.engine.StreamEngine` (``start``, ``close``,
``restart_input``, ``restart_output``, ``has_pending_output``, ``handshaked``), so the session runs
either one.

*Start.* There is no handshake: the engine tells its session the connection is ready at once (the
session makes or updates the pipe with ``Peer-Address`` as its only property) and writes an empty
message into the pipe, the *connect notification* (the STREAM pattern drops it if STREAM_NOTIFY is
off).

*Input.* Every ``recv_into`` (into the I/O thread's shared receive buffer, ``IOThread.recv_buffer``:
a connection holds no buffer of its own) that returns data becomes one message ``[chunk]`` (a copy)
in the pipe (flushed at once, so the socket is woken once per chunk at most). If the pipe is full
(RCVHWM) the chunk is held and the fd leaves the selector until the session's ``write_activated``,
as the stream engine does.

*Output.* Whenever the pipe becomes readable the engine takes a bounded batch of messages and writes
their data frames, joined, with one ``send``; a partial write keeps the rest and waits for
writability, and the pipe is not read again until it is gone (SNDHWM backpressure).

*End.* EOF or a socket error: an empty message (the *disconnect notification*) goes into the pipe,
``HANDSHAKE_FAILED_NO_DETAIL`` (the errno) and ``DISCONNECTED`` are emitted (⚠ libzmq 4.3.5: a raw
engine has no mechanism, so its end is reported like a handshake that never finished, as for ZMTP
1.0 / 2.0 peers), and the session decides (the connect side reconnects with the same pipe,
so the same routing id, as libzmq). A local close emits nothing. The engine counts as an event
source of its socket until it closes, so a closed socket's MONITOR_STOPPED follows its events.
"""

from __future__ import annotations

import contextlib
import errno
import socket
from collections.abc import Callable

from zloop.constants import Event
from zloop.io.engine import event_source
from zloop.io.interfaces import EngineHost, ErrorReason, SocketCore
from zloop.io.logs import internal_error
from zloop.io.reactor import IOThread
from zloop.io.sendbuf import SendQueue, write_buffers
from zloop.options import Options
from zloop.protocol import HandshakeComplete

#: Bytes read per ``recv_into`` (one received message at most this big).
RECV_BUFFER = 64 * 1024
#: Messages taken from the pipe per send batch.
OUT_BATCH = 256

#: What the session is told on start: a raw peer has no type, version, properties or identity.
_RAW_PEER = HandshakeComplete(
    peer_socket_type=None, peer_version=(0, 0), peer_metadata={}, peer_routing_id=b""
)


class RawEngine:
    """Moves raw bytes between one OS socket and one pipe (STREAM sockets)."""

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
        self._out = SendQueue()  # bytes / memoryview chunks waiting for the socket
        self._writing = False
        self._reading = False
        self._held: list[bytes] | None = None  # a received chunk the full pipe did not take
        self._started = False
        self._closed = False
        event_source(socket_core, 1)  # until close(): DISCONNECTED may still come (see End)

    def __repr__(self) -> str:
        return f"<RawEngine fd={self._fd} {self._endpoint}>"

    @property
    def fd(self) -> int:
        return self._fd

    @property
    def handshaked(self) -> bool:
        """No handshake: ready as soon as started."""
        return self._started

    def has_pending_output(self) -> bool:
        return bool(self._out)

    # -- life cycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Register with the reactor, make the pipe ready and announce the connection."""
        self._started = True
        self._host.engine_ready(_RAW_PEER)
        self._deliver([b""])  # the connect notification
        if self._closed:
            return
        self._reading = True
        self._io.add_reader(self._fd, self._guarded(self._on_readable))
        self.restart_output()

    def close(self) -> None:
        """Local close (session ending): no monitor events, no notification (as libzmq)."""
        if self._closed:
            return
        self._closed = True
        self._io.remove_fd(self._fd)
        with contextlib.suppress(OSError):
            self._sock.close()
        self._out.clear()
        self._held = None
        event_source(self._core, -1)

    def _guarded(self, handler: Callable[[], None]) -> Callable[[], None]:
        """Wrap a reactor callback: a bug in one connection closes that connection only."""

        def run() -> None:
            if self._closed:
                return
            try:
                handler()
            except Exception:
                internal_error(self._endpoint)
                self._error(errno.EPROTO)

        return run

    def _error(self, err: int) -> None:
        """The peer closed or the socket failed: notify the application, then the session."""
        if self._closed:
            return
        self._held = None
        self._deliver([b""])  # the disconnect notification (dropped if the pipe is full, as libzmq)
        self._core.event(Event.HANDSHAKE_FAILED_NO_DETAIL, err, self._endpoint)  # see End
        self._core.event(Event.DISCONNECTED, self._fd, self._endpoint)
        self.close()
        self._host.engine_error(ErrorReason.CONNECTION, True)

    # -- input -----------------------------------------------------------------------------------

    def _deliver(self, msg: list[bytes]) -> bool:
        """Write one message to the pipe; False when the pipe is full (nothing written)."""
        pipe = self._host.pipe
        if pipe is None or pipe.terminated or pipe.peer_terminated:
            return True  # nobody will read it: dropped, as libzmq
        if not pipe.write(msg):
            return False
        pipe.flush()
        return True

    def _on_readable(self) -> None:
        buf = self._io.recv_buffer  # shared by the I/O thread's engines: copied out below
        try:
            n = self._sock.recv_into(buf, RECV_BUFFER)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._error(exc.errno or errno.ECONNRESET)
            return
        if n == 0:
            self._error(errno.EPIPE)
            return
        chunk = bytes(buf[:n])
        if not self._deliver([chunk]):
            # RCVHWM reached: hold the chunk and stop reading until write_activated.
            self._held = [chunk]
            self._reading = False
            self._io.remove_reader(self._fd)

    def restart_input(self) -> None:
        """The pipe has room again: deliver the held chunk, then read the socket again."""
        if self._closed or self._held is None:
            return
        if not self._deliver(self._held):
            return
        self._held = None
        if not self._reading:
            self._reading = True
            self._io.add_reader(self._fd, self._guarded(self._on_readable))

    # -- output ----------------------------------------------------------------------------------

    def restart_output(self) -> None:
        """The pipe may have messages: write their data (unless a write is still pending)."""
        if self._closed or not self._started or self._writing:
            return
        self._pump()

    def _pump(self) -> None:
        while not self._closed:
            pipe = self._host.pipe
            count = 0
            if pipe is not None:
                msgs = pipe.read_many(OUT_BATCH)
                count = len(msgs)
                for msg in msgs:
                    if msg and len(msg[0]):
                        self._out.append(msg[0])
            if self._out and not self._flush():
                return  # partial write (or error): _on_writable resumes
            if count < OUT_BATCH:
                break
        if not self._closed:
            self._host.engine_drained()

    def _flush(self) -> bool:
        """Write queued output; True when all of it went out."""
        out = self._out
        err = write_buffers(self._sock, out)
        if err:
            self._error(err)
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
        if self._flush():
            self._pump()
