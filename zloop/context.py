"""``Context``: owns the I/O threads, the inproc names and the sockets, as ``zmq.Context``.

``term()`` follows libzmq: every socket's blocking calls (in any thread) raise ``ContextTerminated``,
then term waits until every socket was closed by its owner and every closed socket's lingering
messages are sent (or its LINGER expired), and finally stops the I/O threads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from zloop import _real
from zloop.constants import ContextOption, Errno, SocketOption
from zloop.errors import ZMQError
from zloop.inproc import InprocRegistry
from zloop.socket import Socket

if TYPE_CHECKING:
    from zloop._real import LockType
    from zloop.io.reactor import IOThread

#: libzmq's ZMQ_MAX_SOCKETS_DFLT and ZMQ_SOCKET_LIMIT.
_MAX_SOCKETS_DEFAULT = 1023
_SOCKET_LIMIT = 65535


class Context:
    """A ZeroMQ context. Thread-safe; sockets made from it are not."""

    _instance: ClassVar[Context | None] = None
    _instance_lock: ClassVar[LockType] = _real.Lock()

    def __init__(self, io_threads: int = 1, **kwargs: Any) -> None:
        if isinstance(io_threads, bool) or not isinstance(io_threads, int) or io_threads < 0:
            raise ZMQError(Errno.EINVAL, f"io_threads must be an int >= 0, got {io_threads!r}")
        self._io_thread_count = io_threads
        self._io_threads: list[IOThread] = []
        self._lock = _real.Lock()
        self._all_closed = _real.Condition(self._lock)
        self._sockets: set[Socket] = set()
        self._max_sockets = _MAX_SOCKETS_DEFAULT
        self._terminating = False
        self._closed = False
        self._inproc = InprocRegistry()
        self._sockopts: dict[int, Any] = {}
        for name, value in kwargs.items():
            self.set(getattr(ContextOption, name.upper()), value)

    @classmethod
    def instance(cls, io_threads: int = 1) -> Context:
        """The process-wide shared context (made anew if the previous one was terminated)."""
        with cls._instance_lock:
            inst = cls._instance
            if inst is None or inst.closed:
                inst = cls._instance = cls(io_threads)
            return inst

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{len(self._sockets)} sockets"
        return f"<zloop.Context({state}) at {id(self):#x}>"

    def __enter__(self) -> Context:
        return self

    def __exit__(self, *exc: object) -> None:
        self.term()

    @property
    def closed(self) -> bool:
        return self._closed

    # -- sockets -----------------------------------------------------------------------------------

    def socket(self, socket_type: int, **kwargs: Any) -> Socket:
        """A new socket of ``socket_type`` (``zloop.PUSH`` ...)."""
        with self._lock:
            if self._terminating or self._closed:
                raise ZMQError(Errno.ETERM, "context was terminated")
            if len(self._sockets) >= self._max_sockets:
                raise ZMQError(Errno.EMFILE, f"too many sockets (MAX_SOCKETS={self._max_sockets})")
            sock = Socket(self, socket_type)
            self._sockets.add(sock)
        try:
            for option, value in self._sockopts.items():
                sock.setsockopt(option, value)
            for name, value in kwargs.items():
                sock.setsockopt(getattr(SocketOption, name.upper()), value)
        except BaseException:
            sock.close(linger=0)
            raise
        return sock

    def _socket_closed(self, sock: Socket) -> None:
        with self._lock:
            self._sockets.discard(sock)
            if not self._sockets:
                self._all_closed.notify_all()

    def _io_thread(self) -> IOThread:
        """The least loaded I/O thread, starting them on first use."""
        from zloop.io.reactor import IOThread

        with self._lock:
            if not self._io_threads:
                if self._io_thread_count == 0:
                    raise ZMQError(
                        Errno.EINVAL, "this context has io_threads=0: only inproc:// works"
                    )
                for i in range(self._io_thread_count):
                    thread = IOThread(f"zloop-io-{i}")
                    thread.start()
                    self._io_threads.append(thread)
            return min(self._io_threads, key=lambda t: t.load())

    # -- termination -------------------------------------------------------------------------------

    def term(self) -> None:
        """Terminate: wake blocked calls with ContextTerminated, wait for every socket to close."""
        with self._lock:
            if self._closed:
                return
            self._terminating = True
            sockets = list(self._sockets)
        for sock in sockets:
            sock.post(sock._process_stop, 3)
        with self._lock:
            while self._sockets:
                self._all_closed.wait()
            threads, self._io_threads = self._io_threads, []
        for thread in threads:
            thread.stop()
        for thread in threads:
            thread.join()
        with self._lock:
            self._closed = True

    def destroy(self, linger: int | None = None) -> None:
        """Close every socket (with ``linger`` if given), then terminate. Not thread-safe."""
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            if not sock.closed:
                sock.close(linger=linger)
        self.term()

    # -- options -----------------------------------------------------------------------------------

    def set(self, option: int, value: Any) -> None:
        if option == ContextOption.IO_THREADS:
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ZMQError(Errno.EINVAL, f"IO_THREADS must be an int >= 0, got {value!r}")
            with self._lock:
                if self._io_threads:
                    raise ZMQError(
                        Errno.EINVAL, "IO_THREADS cannot change after the I/O threads started"
                    )
                self._io_thread_count = value
        elif option == ContextOption.MAX_SOCKETS:
            if (
                isinstance(value, bool)
                or not isinstance(value, int)
                or not 1 <= value <= _SOCKET_LIMIT
            ):
                raise ZMQError(
                    Errno.EINVAL, f"MAX_SOCKETS must be 1..{_SOCKET_LIMIT}, got {value!r}"
                )
            self._max_sockets = value
        elif option == ContextOption.BLOCKY:
            pass  # linger behaviour of term() is already libzmq's default (blocky)
        else:
            raise ZMQError(Errno.EINVAL, f"unknown or unsupported context option {option!r}")

    def get(self, option: int) -> Any:
        if option == ContextOption.IO_THREADS:
            return self._io_thread_count
        if option == ContextOption.MAX_SOCKETS:
            return self._max_sockets
        if option == ContextOption.SOCKET_LIMIT:
            return _SOCKET_LIMIT
        raise ZMQError(Errno.EINVAL, f"unknown or unsupported context option {option!r}")

    # Default socket options for sockets made afterwards (pyzmq's ``ctx.setsockopt``).
    def setsockopt(self, option: int, value: Any) -> None:
        self._sockopts[option] = value

    def getsockopt(self, option: int) -> Any:
        try:
            return self._sockopts[option]
        except KeyError:
            raise ZMQError(Errno.EINVAL, f"no default set for socket option {option!r}") from None
