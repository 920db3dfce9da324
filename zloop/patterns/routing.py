"""DEALER and ROUTER (RFC 28 / libzmq 4.3): the asynchronous request-reply sockets.

DEALER round-robins whole messages over its peers (blocking when none has room) and fair-queues
what they send. ROUTER names every peer with a *routing id* and exchanges messages whose first frame
is that id: incoming messages get the id prepended, outgoing ones are routed by it.

Routing ids, as libzmq assigns them (``router_t::identify_peer``):

* a pipe made by this socket's ``connect`` with CONNECT_ROUTING_ID set is known by that id at once
  (:meth:`Socket.connect` stores it in ``pipe.routing_id`` before attaching);
* otherwise the peer's handshake ``Identity`` if non-empty, else an automatic 5-byte id ``00`` +
  big-endian uint32 counter (starting at a random value). A connect-side pipe whose handshake has not
  happened yet (no metadata) stays *anonymous* — neither readable nor routable — until the socket
  learns the peer (:meth:`Pattern.peer_updated`). A reconnect keeps the id (libzmq assumes the peer
  never changes it).
* A duplicate id: the new pipe is terminated, unless ROUTER_HANDOVER, which terminates the old pipe
  and gives the id to the new one.

The id a ROUTER knows a pipe by lives in ``pipe.data`` (``pipe.routing_id`` is what the peer said).
"""

from __future__ import annotations

import random
from typing import Any

from zloop.constants import Errno, SocketOption
from zloop.errors import ZMQError
from zloop.options import Options
from zloop.patterns.base import Pattern
from zloop.patterns.lb import FairQueue, LoadBalancer
from zloop.pipe import Msg, Pipe

#: The empty single-frame message PROBE_ROUTER sends on every new pipe.
PROBE: Msg = [b""]


def int_flag(option: SocketOption, value: Any) -> bool:
    """A boolean option as libzmq takes it: an int >= 0, non-zero meaning on."""
    if not isinstance(value, int) or value < 0:
        raise ZMQError(Errno.EINVAL, f"{option.name} takes an int >= 0, got {value!r}")
    return value != 0


class SendingLB(LoadBalancer):
    """:class:`LoadBalancer` that tells which pipe took the message (REQ needs it)."""

    __slots__ = ()

    def send_pipe(self, msg: Msg) -> Pipe | None:
        while self.active:
            pipe = self.pipes[self.current]
            if pipe.write_flush(msg):
                self.advance()
                return pipe
            self.deactivate_current()
        return None


class Dealer(Pattern):
    """Round-robin out (lb), fair-queue in (fq)."""

    def __init__(self, options: Options) -> None:
        super().__init__(options)
        self._lb = SendingLB()
        self._fq = FairQueue()
        self._probe = False

    def attach(self, pipe: Pipe) -> None:
        if self._probe and pipe.write(list(PROBE)):
            pipe.flush()
        self._lb.attach(pipe)
        self._fq.attach(pipe)

    def read_activated(self, pipe: Pipe) -> None:
        self._fq.activated(pipe)

    def write_activated(self, pipe: Pipe) -> None:
        self._lb.activated(pipe)

    def pipe_terminated(self, pipe: Pipe) -> None:
        self._lb.remove(pipe)
        self._fq.remove(pipe)

    def pipes(self) -> list[Pipe]:
        return list(self._lb.pipes)

    def send(self, msg: Msg) -> bool:
        return self._lb.send(msg)

    def recv(self) -> tuple[Msg, Pipe] | None:
        return self._fq.recv()

    def has_in(self) -> bool:
        return self._fq.has_in()

    def has_out(self) -> bool:
        return self._lb.has_out()

    def setsockopt(self, option: SocketOption, value: Any) -> bool:
        if option == SocketOption.PROBE_ROUTER:
            self._probe = int_flag(option, value)
            return True
        return False


class Router(Pattern):
    """Routing by the first frame; see the module docstring for how peers get their ids."""

    def __init__(self, options: Options) -> None:
        super().__init__(options)
        self._fq = FairQueue()
        self._out: dict[bytes, Pipe] = {}
        self._anonymous: set[Pipe] = set()
        self._next_id = random.getrandbits(32)
        self._mandatory = False
        self._handover = False
        self._probe = False

    # -- pipes -------------------------------------------------------------------------------------

    def attach(self, pipe: Pipe) -> None:
        """A pipe whose peer is known (accepted connection, inproc to a bound peer)."""
        self._probe_pipe(pipe)
        self._identify(pipe)

    def attach_pending(self, pipe: Pipe) -> None:
        """A pipe made by ``connect``: known at once only by CONNECT_ROUTING_ID; otherwise anonymous
        until ``peer_updated``. (The I/O thread may already have finished the handshake and put
        the peer's properties on the pipe, but ``pipe.routing_id`` is only set by the socket when
        it processes ``update_pipe`` -- so never decide from ``pipe.metadata`` here.)"""
        self._probe_pipe(pipe)
        if pipe.routing_id:
            self._identify(pipe)
        else:
            self._anonymous.add(pipe)

    def _probe_pipe(self, pipe: Pipe) -> None:
        if self._probe and pipe.write(list(PROBE)):
            pipe.flush()

    def peer_updated(self, pipe: Pipe) -> None:
        if pipe in self._anonymous:
            self._anonymous.discard(pipe)
            self._identify(pipe)

    def _auto_id(self) -> bytes:
        rid = b"\x00" + self._next_id.to_bytes(4, "big")
        self._next_id = (self._next_id + 1) & 0xFFFFFFFF
        return rid

    def _identify(self, pipe: Pipe) -> None:
        rid = bytes(pipe.routing_id) or self._auto_id()
        old = self._out.get(rid)
        if old is not None:
            if not self._handover:
                pipe.terminate()  # libzmq ignores a peer with a duplicate id
                return
            self._forget(old)
            old.terminate()
        pipe.data = rid
        self._out[rid] = pipe
        self._fq.attach(pipe)

    def _forget(self, pipe: Pipe) -> None:
        self._anonymous.discard(pipe)
        self._fq.remove(pipe)
        rid = pipe.data
        if isinstance(rid, bytes) and self._out.get(rid) is pipe:
            del self._out[rid]

    def read_activated(self, pipe: Pipe) -> None:
        self._fq.activated(pipe)

    def pipe_terminated(self, pipe: Pipe) -> None:
        self._forget(pipe)

    def pipes(self) -> list[Pipe]:
        return [*self._out.values(), *self._anonymous]

    # -- messages ----------------------------------------------------------------------------------

    def _lookup(self, rid: Any) -> Pipe | None:
        """The pipe for an outgoing message's first frame; EHOSTUNREACH if unknown and MANDATORY."""
        pipe = self._out.get(bytes(rid))
        if pipe is None or pipe.terminated or pipe.peer_terminated:
            if self._mandatory:
                raise ZMQError(Errno.EHOSTUNREACH)
            return None
        return pipe

    def send(self, msg: Msg) -> bool:
        if len(msg) < 2:
            return True  # an id with nothing after it: silently dropped, as libzmq
        pipe = self._lookup(msg[0])
        if pipe is None:
            return True  # unknown peer: dropped
        if pipe.write(msg[1:]):
            pipe.flush()
            return True
        return not self._mandatory  # full: dropped, or would block with MANDATORY

    def can_begin(self, first: Any) -> bool:
        if not self._mandatory:
            return True
        pipe = self._lookup(first)
        return pipe is None or pipe.check_write()

    def recv(self) -> tuple[Msg, Pipe] | None:
        got = self._fq.recv()
        if got is None:
            return None
        msg, pipe = got
        return [pipe.data, *msg], pipe

    def has_in(self) -> bool:
        return self._fq.has_in()

    def has_out(self) -> bool:
        if not self._mandatory:
            return True
        # Ask every pipe, so that each full one will report when it has room again.
        ready = False
        for pipe in list(self._out.values()):
            if pipe.check_write():
                ready = True
        return ready

    # -- options -----------------------------------------------------------------------------------

    def setsockopt(self, option: SocketOption, value: Any) -> bool:
        if option == SocketOption.ROUTER_MANDATORY:
            self._mandatory = int_flag(option, value)
        elif option == SocketOption.ROUTER_HANDOVER:
            self._handover = int_flag(option, value)
        elif option == SocketOption.PROBE_ROUTER:
            self._probe = int_flag(option, value)
        elif option == SocketOption.ROUTER_RAW:
            if int_flag(option, value):  # libzmq's deprecated raw ROUTER: a STREAM socket does it
                raise ZMQError(
                    Errno.EINVAL, "ROUTER_RAW is not implemented by zloop: use a STREAM socket"
                )
        else:
            return False
        return True
