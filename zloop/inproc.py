"""``inproc://``: sockets of one context joined by a pipe pair, with no I/O thread in between.

Bind-before-connect and connect-before-bind both work. A connect to a name nobody has bound yet
creates the pipe at once (messages queue as with IMMEDIATE=0 elsewhere); its far end is owned by a
:class:`_PendingOwner` that holds the commands meant for the binder until a socket binds the name.
Readiness works exactly as for tcp: each pipe end's owner is a socket whose mailbox signals its FD.
The registry deals in socket cores (:mod:`zloop.socket_core`), never in the Socket handles.

A command for a socket found bound under a name (the attach of a connect's pipe, of a ZAP
request's pipe) is posted with the name held bound (:meth:`InprocRegistry.with_bound`). A closing
socket unbinds its names before it runs its mailbox one last time, so such a command is always
run, even by a socket closing at that moment; once closed, ``attach_pipe`` terminates the pipe.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from zloop import _real
from zloop.constants import Errno, SocketType
from zloop.errors import ZMQError
from zloop.options import Options
from zloop.pipe import Pipe, pipe_pair

if TYPE_CHECKING:
    from zloop.socket_core import SocketCore as Socket

T = TypeVar("T")


def _sum_hwm(send_hwm: int, recv_hwm: int) -> int:
    """libzmq adds the sender's SNDHWM and the receiver's RCVHWM; 0 (unlimited) wins."""
    return 0 if send_hwm == 0 or recv_hwm == 0 else send_hwm + recv_hwm


def _properties(stype: SocketType, routing_id: bytes) -> dict[str, Any]:
    return {"Socket-Type": stype.name.encode(), "Identity": routing_id}


def _updater(
    connecter: Socket, pipe: Pipe, routing_id: bytes, stype: SocketType
) -> Callable[[], None]:
    metadata = _properties(stype, routing_id)
    return lambda: connecter.update_pipe(pipe, routing_id, metadata)


class _PendingOwner:
    """Stands in for the binder of a name that is not bound yet; replays commands once it is."""

    def __init__(self) -> None:
        self._lock = _real.Lock()
        self._target: Socket | None = None
        self._queued: list[tuple[Callable[[], Any], int]] = []
        self.pipes: list[Pipe] = []

    def post(self, command: Callable[[], Any], hint: int) -> None:
        with self._lock:
            target = self._target
            if target is None:
                self._queued.append((command, hint))
                return
        target.post(command, hint)

    def adopt(self, target: Socket) -> list[tuple[Callable[[], Any], int]]:
        with self._lock:
            self._target = target
            queued, self._queued = self._queued, []
        return queued

    # The pipe only calls these through post()-ed commands, which run once adopted; the methods
    # exist to satisfy PipeOwner and forward to the real owner.
    def read_activated(self, pipe: Pipe) -> None:
        if self._target is not None:
            self._target.read_activated(pipe)

    def write_activated(self, pipe: Pipe) -> None:
        if self._target is not None:
            self._target.write_activated(pipe)

    def pipe_terminated(self, pipe: Pipe) -> None:
        if self._target is not None:
            self._target.pipe_terminated(pipe)


class _Connection:
    """The connecter's handle for one inproc connection (closed by disconnect/close)."""

    def __init__(self, registry: InprocRegistry, name: str, pipe: Pipe, bound: bool) -> None:
        self._registry = registry
        self._name = name
        self.pipe = pipe
        #: Was the name bound at connect time (the peer is known), or does the pipe wait for a bind?
        self.bound = bound

    def owns(self, pipe: Pipe) -> bool:
        return pipe is self.pipe

    def close(self, linger_ms: int) -> None:
        self._registry._forget_pending(self._name, self.pipe.peer)
        self.pipe.terminate()


class _Binding:
    def __init__(self, registry: InprocRegistry, name: str, socket: Socket) -> None:
        self._registry = registry
        self.name = name
        self.socket = socket

    def close(self, linger_ms: int) -> None:
        self._registry._unbind(self.name, self.socket)


class InprocRegistry:
    """The names bound in one context, and the connects waiting for a name."""

    def __init__(self) -> None:
        self._lock = _real.Lock()
        self._bound: dict[str, Socket] = {}
        self._pending: dict[str, list[tuple[_PendingOwner, Pipe, Options]]] = {}

    def bind(self, socket: Socket, name: str) -> _Binding:
        with self._lock:
            if name in self._bound:
                raise ZMQError(Errno.EADDRINUSE, f"inproc://{name} is already bound")
            self._bound[name] = socket
            pending = self._pending.pop(name, [])
        for owner, binder_end, connecter_options in pending:
            binder_end.owner = socket
            binder_end.routing_id = connecter_options.routing_id
            binder_end.metadata = _properties(
                connecter_options.socket_type, connecter_options.routing_id
            )
            # The connecter's end belongs to the connecter's thread: tell it there (update_pipe).
            # The properties are published at once too (one reference assignment), so that messages
            # read before that command runs already carry them (Frame.get).
            connecter = cast("Socket", binder_end.peer.owner)
            binder_end.peer.metadata = _properties(socket.socket_type, socket.options.routing_id)
            connecter.post(
                _updater(connecter, binder_end.peer, socket.options.routing_id, socket.socket_type),
                3,
            )
            binder_end.set_hwm(_sum_hwm(socket.options.sndhwm, connecter_options.rcvhwm))
            socket.attach_pipe(binder_end)
            for command, hint in owner.adopt(socket):
                socket.post(command, hint)
        return _Binding(self, name, socket)

    def with_bound(self, name: str, use: Callable[[Socket | None], T]) -> T:
        """``use(the socket bound at name, or None)``, with the name kept bound meanwhile.

        The rule for posting to a bound socket found here: whatever ``use`` posts to it is in its
        mailbox before that socket's ``close()`` can get past unbinding it, and ``close()`` runs
        its mailbox after unbinding. So an ``attach_pipe`` posted here always runs -- once the
        socket is closed it terminates the pipe, and the peer learns it at once -- instead of
        landing in the mailbox of a socket that already ran its last commands, its peer waiting
        forever. ``use`` runs under the registry lock: keep it short.
        """
        with self._lock:
            return use(self._bound.get(name))

    def connect(self, socket: Socket, name: str, options: Options) -> tuple[_Connection, Pipe]:
        with self._lock:
            binder = self._bound.get(name)
            if binder is None:
                owner = _PendingOwner()
                mine, theirs = pipe_pair(socket, owner, options.sndhwm, options.rcvhwm)
                self._pending.setdefault(name, []).append((owner, theirs, options))
                return _Connection(self, name, mine, False), mine
            # Posted under the lock (see with_bound): the binder cannot finish closing first.
            bopts = binder.options
            mine, theirs = pipe_pair(
                socket,
                binder,
                _sum_hwm(options.sndhwm, bopts.rcvhwm),
                _sum_hwm(bopts.sndhwm, options.rcvhwm),
            )
            mine.routing_id = bopts.routing_id
            mine.metadata = _properties(binder.socket_type, bopts.routing_id)
            theirs.routing_id = options.routing_id
            theirs.metadata = _properties(options.socket_type, options.routing_id)
            binder.post(lambda: binder.attach_pipe(theirs), 3)
        return _Connection(self, name, mine, True), mine

    def _forget_pending(self, name: str, far_end: Pipe) -> None:
        with self._lock:
            waiting = self._pending.get(name)
            if waiting:
                waiting[:] = [entry for entry in waiting if entry[1] is not far_end]
                if not waiting:
                    del self._pending[name]

    def _unbind(self, name: str, socket: Socket) -> None:
        with self._lock:
            if self._bound.get(name) is socket:
                del self._bound[name]

    def unbind_all(self, socket: Socket) -> None:
        with self._lock:
            for name in [n for n, s in self._bound.items() if s is socket]:
                del self._bound[name]
