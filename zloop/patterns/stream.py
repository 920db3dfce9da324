"""STREAM (libzmq 4.3 ``stream_t``): raw TCP peers addressed by routing id, no ZMTP.

Each connection is one pipe to a raw engine (:mod:`zloop.io.raw_engine`), which turns every chunk of
bytes it receives into a one-frame message and writes the data frame of every message it reads raw.
This pattern adds and strips the routing id, as ROUTER does:

* Ids: every pipe gets an automatic 5-byte id (``00`` + big-endian uint32 counter starting at a
  random value), except a pipe made by this socket's ``connect`` with CONNECT_ROUTING_ID set, which
  is known by that id. As libzmq, the last automatic id is also stored in the socket's ROUTING_ID
  option (its documented way of learning the id of a connection just made by ``connect``).
* Receiving: ``[id, data]``. The raw engine puts an empty message in the pipe when the connection is
  established and when it ends; with STREAM_NOTIFY (default on) they reach the application as
  ``[id, b""]``, with it off this pattern drops them (libzmq decides at bind/connect time instead).
* Sending ``[id, data]``: an unknown id raises EHOSTUNREACH (libzmq STREAM always behaves as a
  mandatory router); a full pipe would block (EAGAIN with NOBLOCK); empty ``data`` closes that
  connection once what was sent before it has been written (the session ends, no reconnect). A
  message without data frame is dropped, and frames after the data frame are ignored (libzmq sends
  only the second frame; it would also take a lone id frame as the start of a message and swallow
  the next message's first frame, which zloop does not imitate).
"""

from __future__ import annotations

import random
from typing import Any

from zloop.constants import Errno, SocketOption
from zloop.errors import ZMQError
from zloop.options import Options
from zloop.patterns.base import Pattern
from zloop.patterns.lb import FairQueue
from zloop.pipe import Msg, Pipe


class Stream(Pattern):
    """Raw connections, each named by a routing id; see the module docstring."""

    def __init__(self, options: Options) -> None:
        super().__init__(options)
        self._fq = FairQueue()
        self._out: dict[bytes, Pipe] = {}
        self._next_id = random.getrandbits(32)
        self._notify = True
        # A message taken from a pipe by has_in (skipping dropped notifications), kept for recv.
        self._prefetched: tuple[Msg, Pipe] | None = None

    # -- pipes -------------------------------------------------------------------------------------

    def attach(self, pipe: Pipe) -> None:
        """A pipe of an accepted connection: always an automatic id."""
        self._identify(pipe, self._auto_id())

    def attach_pending(self, pipe: Pipe) -> None:
        """A pipe made by ``connect``: CONNECT_ROUTING_ID (already in ``pipe.routing_id``) or auto."""
        rid = bytes(pipe.routing_id)
        if rid:
            if rid in self._out:
                pipe.terminate()  # the session sees it and ends
                raise ZMQError(Errno.EINVAL, f"CONNECT_ROUTING_ID {rid!r} is already in use")
        else:
            rid = self._auto_id()
        self._identify(pipe, rid)

    def _auto_id(self) -> bytes:
        while True:
            rid = b"\x00" + self._next_id.to_bytes(4, "big")
            self._next_id = (self._next_id + 1) & 0xFFFFFFFF
            if rid not in self._out:
                self.options.routing_id = rid
                return rid

    def _identify(self, pipe: Pipe, rid: bytes) -> None:
        pipe.data = rid
        self._out[rid] = pipe
        self._fq.attach(pipe)

    def _forget(self, pipe: Pipe) -> None:
        self._fq.remove(pipe)
        rid = pipe.data
        if isinstance(rid, bytes) and self._out.get(rid) is pipe:
            del self._out[rid]

    def read_activated(self, pipe: Pipe) -> None:
        self._fq.activated(pipe)

    def pipe_terminated(self, pipe: Pipe) -> None:
        self._forget(pipe)

    def pipes(self) -> list[Pipe]:
        return list(self._out.values())

    # -- messages ----------------------------------------------------------------------------------

    def _lookup(self, rid: Any) -> Pipe:
        pipe = self._out.get(bytes(rid))
        if pipe is None or pipe.terminated or pipe.peer_terminated:
            raise ZMQError(Errno.EHOSTUNREACH)
        return pipe

    def send(self, msg: Msg) -> bool:
        if len(msg) < 2:
            return True  # an id with no data frame: dropped
        pipe = self._lookup(msg[0])
        data = msg[1]
        if not len(data):
            self._forget(pipe)
            pipe.terminate()  # close the connection after what was queued before
            return True
        if pipe.write([data]):
            pipe.flush()
            return True
        return False  # full: would block

    def can_begin(self, first: Any) -> bool:
        return self._lookup(first).check_write()

    def _take(self) -> tuple[Msg, Pipe] | None:
        fq = self._fq
        while True:
            got = fq.recv()
            if got is None:
                return None
            msg, pipe = got
            if self._notify or len(msg[0]):
                return [pipe.data, *msg], pipe
            # An empty message is a connect/disconnect notification: dropped without STREAM_NOTIFY.

    def recv(self) -> tuple[Msg, Pipe] | None:
        got = self._prefetched
        if got is not None:
            self._prefetched = None
            return got
        return self._take()

    def has_in(self) -> bool:
        if self._prefetched is None:
            self._prefetched = self._take()
        return self._prefetched is not None

    def has_out(self) -> bool:
        return True  # as libzmq: whether a send succeeds depends on the peer it names

    # -- options -----------------------------------------------------------------------------------

    def setsockopt(self, option: SocketOption, value: Any) -> bool:
        if option == SocketOption.STREAM_NOTIFY:
            if value not in (0, 1):  # libzmq: strictly 0 or 1
                raise ZMQError(Errno.EINVAL, f"STREAM_NOTIFY takes 0 or 1, got {value!r}")
            self._notify = bool(value)
            return True
        return False

    # STREAM_NOTIFY is write-only, as in libzmq (Pattern.getsockopt: KeyError -> EINVAL).
