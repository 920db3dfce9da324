"""``Device``, ``ThreadDevice``, ``ProcessDevice``: a proxy whose sockets are made where it runs.

Theory of operation
-------------------
A device is described before it runs: socket *types* (not sockets) and, per socket, the options,
binds and connects to apply (``setsockopt_in``, ``bind_in``, ``connect_out`` ...). Nothing is
created until it runs; then, in the thread or process that runs it, it takes a context from
``context_factory``, makes its sockets, applies the options first (an ``IDENTITY`` must precede
``bind``/``connect``), then the binds, then the connects, and forwards with :func:`zloop.proxy`
(or the subclass's loop) until the context is terminated. A socket belongs to one thread, so
making the sockets in the device's own thread is what keeps them single-threaded.

* :class:`Device` runs in the caller (``start()`` returns when the device ends);
* :class:`ThreadDevice` in a background OS thread (a real one even under gevent's monkey-patching,
  see :mod:`zloop._real`), sharing ``Context.instance()``;
* :class:`ProcessDevice` in a ``multiprocessing.Process``, with a new ``Context()`` (a context
  inherited across ``fork()`` must never be used by the child).

The device ends when its context is terminated (or its sockets closed under it): ``ETERM`` and
``ENOTSOCK`` end it quietly, it closes the sockets it made and sets :attr:`Device.done`. Any other
error propagates out of ``run()`` (the thread's or process's error).

``daemon`` (default True) as in pyzmq: a daemon device does not keep the interpreter alive; a
``ThreadDevice`` with ``daemon = False`` is waited for at interpreter exit (a ``ProcessDevice`` is
a non-daemon process then, which ``multiprocessing`` waits for).

``*_to_random_port`` (as pyzmq) picks a free port by binding and closing a throw-away socket, then
queues a bind to that port; another program could take the port in between.
"""

from __future__ import annotations

import atexit
import multiprocessing
from collections.abc import Callable
from typing import Any

from zloop import _real
from zloop.constants import DeviceType, Errno, SocketType
from zloop.context import Context
from zloop.errors import ZMQBindError, ZMQError

__all__ = ["BackgroundDevice", "Device", "ProcessDevice", "ThreadDevice"]

#: How a device ends quietly: its context terminated, or its sockets closed by ``destroy()``.
_QUIET_ENDINGS = (int(Errno.ETERM), int(Errno.ENOTSOCK))


class SocketPlan:
    """What to do to one socket of a device once it exists: options, then binds, then connects."""

    __slots__ = ("binds", "connects", "sockopts")

    def __init__(self) -> None:
        self.sockopts: list[tuple[int, Any]] = []
        self.binds: list[str] = []
        self.connects: list[str] = []

    def apply(self, sock: Any) -> None:
        for option, value in self.sockopts:
            sock.setsockopt(option, value)
        for addr in self.binds:
            sock.bind(addr)
        for addr in self.connects:
            sock.connect(addr)


class Device:
    """A proxy between two sockets of the given types, made and run by ``start()``.

    ``Device(device_type, in_type, out_type)``: ``device_type`` (``QUEUE``, ``FORWARDER``,
    ``STREAMER``) is kept for pyzmq programs and changes nothing; an ``out_type`` below 0 means one
    socket (the in socket) serves both sides. Configure with ``setsockopt_in/out``,
    ``bind_in/out``, ``bind_in/out_to_random_port`` and ``connect_in/out`` before ``start()``.
    """

    #: Where the device's context comes from: ``Context.instance`` (threads share the process's
    #: context); :class:`ProcessDevice` uses a new ``Context``.
    context_factory: Callable[[], Any] = Context.instance

    def __init__(
        self,
        device_type: int = DeviceType.QUEUE,
        in_type: int | None = None,
        out_type: int | None = None,
    ) -> None:
        if in_type is None:
            raise TypeError("in_type must be specified")
        if out_type is None:
            raise TypeError("out_type must be specified")
        self.device_type = device_type
        self.in_type = in_type
        self.out_type = out_type
        #: True: the device runs as a daemon (does not keep the interpreter alive).
        self.daemon = True
        #: Set once the device has stopped running (its sockets are closed by then).
        self.done = False
        self._plans: dict[str, SocketPlan] = {"in": SocketPlan(), "out": SocketPlan()}
        self._random_addrs: list[str] = []
        self._sockets: list[Any] = []
        self._context: Any = None
        self._finished = _real.Event()

    def __getstate__(self) -> dict[str, Any]:
        # A ProcessDevice started with the "spawn" or "forkserver" method is pickled: the real
        # Event stays behind (the child only sets its own copy's ``done``).
        state = self.__dict__.copy()
        state["_finished"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._finished = _real.Event()

    # -- configuration: in and out sockets ------------------------------------------------------------

    def bind_in(self, addr: str) -> None:
        """Queue ``in_socket.bind(addr)``, done when the device starts."""
        self._plans["in"].binds.append(addr)

    def bind_in_to_random_port(self, addr: str, *args: int, **kwargs: int) -> int:
        """Pick a free port on ``addr`` (``bind_to_random_port``'s arguments), queue a bind of the
        in socket to it, and return the port."""
        return self._bind_random("in", addr, *args, **kwargs)

    def connect_in(self, addr: str) -> None:
        """Queue ``in_socket.connect(addr)``, done when the device starts."""
        self._plans["in"].connects.append(addr)

    def setsockopt_in(self, opt: int, value: Any) -> None:
        """Queue ``in_socket.setsockopt(opt, value)``, done before any bind or connect."""
        self._plans["in"].sockopts.append((opt, value))

    def bind_out(self, addr: str) -> None:
        """Queue ``out_socket.bind(addr)``, done when the device starts."""
        self._plans["out"].binds.append(addr)

    def bind_out_to_random_port(self, addr: str, *args: int, **kwargs: int) -> int:
        """As :meth:`bind_in_to_random_port`, for the out socket."""
        return self._bind_random("out", addr, *args, **kwargs)

    def connect_out(self, addr: str) -> None:
        """Queue ``out_socket.connect(addr)``, done when the device starts."""
        self._plans["out"].connects.append(addr)

    def setsockopt_out(self, opt: int, value: Any) -> None:
        """Queue ``out_socket.setsockopt(opt, value)``, done before any bind or connect."""
        self._plans["out"].sockopts.append((opt, value))

    def _bind_random(self, role: str, addr: str, *args: int, **kwargs: int) -> int:
        port = self._reserve_random_port(addr, *args, **kwargs)
        self._plans[role].binds.append(f"{addr}:{port}")
        return port

    def _reserve_random_port(self, addr: str, *args: int, **kwargs: int) -> int:
        """A port on ``addr`` that was free a moment ago and that no queued bind uses yet."""
        with Context() as ctx, ctx.socket(SocketType.PUSH) as probe:
            for _ in range(5):
                port = int(probe.bind_to_random_port(addr, *args, **kwargs))
                if f"{addr}:{port}" not in self._random_addrs:
                    self._random_addrs.append(f"{addr}:{port}")
                    return port
        raise ZMQBindError("Could not reserve random port.")

    # -- running ------------------------------------------------------------------------------------

    def _socket(self, socket_type: int, role: str) -> Any:
        """A new socket of the device's context, configured by ``role``'s plan."""
        sock = self._context.socket(socket_type)
        self._sockets.append(sock)
        self._plans[role].apply(sock)
        return sock

    def _setup_sockets(self) -> tuple[Any, ...]:
        """Make the device's context and sockets (``(in_socket, out_socket)``), configured.

        Subclasses that add sockets extend the tuple (pyzmq's protocol, for ``run_device``).
        """
        self._context = self.context_factory()
        ins = self._socket(self.in_type, "in")
        outs = ins if self.out_type < 0 else self._socket(self.out_type, "out")
        return ins, outs

    def run_device(self) -> None:
        """Make the sockets and forward until the context ends (called by :meth:`run`)."""
        from zloop.proxy import proxy

        ins, outs = self._setup_sockets()
        proxy(ins, outs)

    def run(self) -> None:
        """Run the device here and now; a terminated context (or closed sockets) ends it quietly.

        Use :meth:`start` rather than calling this: that is what runs it in a thread or process.
        """
        try:
            self.run_device()
        except ZMQError as exc:
            if exc.errno not in _QUIET_ENDINGS:
                raise
        finally:
            self.done = True
            for sock in self._sockets:
                if not sock.closed:
                    sock.close()
            self._finished.set()

    def start(self) -> None:
        """Run the device. ``Device`` runs it in the calling thread (returns when it ends)."""
        self.run()

    def join(self, timeout: float | None = None) -> None:
        """Wait until the device has ended, for at most ``timeout`` seconds (None: no limit)."""
        self._finished.wait(timeout)


class _DeviceThread:
    """The launcher of a :class:`ThreadDevice`: a real OS thread with ``threading.Thread``'s
    ``daemon`` / ``start`` / ``join`` / ``is_alive`` / ``name`` / ``ident``."""

    def __init__(self, target: Callable[[], None], name: str = "zloop-device") -> None:
        self._thread = _real.Thread(target, name)
        self.daemon = True

    @property
    def name(self) -> str:
        return self._thread.name

    @property
    def ident(self) -> int | None:
        return self._thread.ident

    def start(self) -> None:
        self._thread.start()
        if not self.daemon:
            # A non-daemon thread keeps the interpreter alive (as threading's): joined at exit.
            atexit.register(self._thread.join)

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)


class BackgroundDevice(Device):
    """A device that ``start()`` launches in the background (``launcher``: a thread or process)."""

    _launch_class: Callable[..., Any] = _DeviceThread
    #: The thread or process running the device, once started.
    launcher: Any = None

    def start(self) -> None:
        """Launch the device in the background and return at once."""
        self.launcher = self._launch_class(target=self.run)
        self.launcher.daemon = self.daemon
        self.launcher.start()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the launcher to end, for at most ``timeout`` seconds (None: no limit)."""
        if self.launcher is not None:
            self.launcher.join(timeout)


class ThreadDevice(BackgroundDevice):
    """A :class:`Device` run in a background thread (``start()`` returns at once)."""

    _launch_class = _DeviceThread


class ProcessDevice(BackgroundDevice):
    """A :class:`Device` run in a ``multiprocessing.Process`` with its own new ``Context``."""

    _launch_class = multiprocessing.Process
    context_factory: Callable[[], Any] = Context
