"""REQ and REP (RFC 28 / libzmq 4.3): the strict, synchronous request-reply sockets.

REQ is a DEALER that prepends the empty delimiter frame (and, with REQ_CORRELATE, a 4-byte request id
before it), allows one outstanding request (EFSM otherwise, unless REQ_RELAXED) and accepts a reply
only from the pipe the request went to, only if it starts with the expected envelope; anything else
is discarded. Starting a request discards every reply already queued (stale ones).

REP is a ROUTER that, on receipt, keeps the envelope (routing id, any hops, the empty delimiter) of
the request and prepends it to the reply, which thus returns the way the request came. A request with
no delimiter is discarded; a reply whose peer is gone is dropped.

Both answer EVENTS precisely: a pending (validated) message is kept in a slot, so POLLIN means that
``recv`` will return a message. While the state machine forbids a direction, EVENTS still asks the
pipes first (arming their wake-ups) and then answers "no".
"""

from __future__ import annotations

import random
import sys
from typing import Any

from zloop.constants import Errno, SocketOption
from zloop.errors import ZMQError
from zloop.options import Options
from zloop.patterns.routing import Dealer, Router, int_flag
from zloop.pipe import Msg, Pipe


def _efsm(what: str) -> ZMQError:
    return ZMQError(Errno.EFSM, f"Operation cannot be accomplished in current state ({what})")


class Req(Dealer):
    def __init__(self, options: Options) -> None:
        super().__init__(options)
        self._receiving_reply = False
        self._reply_pipe: Pipe | None = None
        self._pending: tuple[Msg, Pipe] | None = None
        self._strict = True  # not REQ_RELAXED
        self._correlate = False
        self._request_id = random.getrandbits(32)
        self._id_frame = b""

    def pipe_terminated(self, pipe: Pipe) -> None:
        if pipe is self._reply_pipe:
            self._reply_pipe = None  # as libzmq: a reply is then accepted from any peer
        super().pipe_terminated(pipe)

    # -- sending -----------------------------------------------------------------------------------

    def _check_send(self) -> None:
        if self._receiving_reply and self._strict:
            raise _efsm("REQ is waiting for a reply")

    def can_begin(self, first: Any) -> bool:
        self._check_send()
        return self._lb.has_out()

    def send(self, msg: Msg) -> bool:
        self._check_send()
        envelope: Msg = [b""]
        request_id = (self._request_id + 1) & 0xFFFFFFFF
        if self._correlate:
            id_frame = request_id.to_bytes(4, sys.byteorder)  # host byte order, as libzmq
            envelope = [id_frame, b""]
        # Discard replies that are already queued: they answer earlier requests. (Before writing:
        # the request is whole at once here, so its reply could otherwise arrive and be eaten.)
        self._pending = None
        while self._fq.recv() is not None:
            pass
        pipe = self._lb.send_pipe([*envelope, *msg])
        if pipe is None:
            return False
        if self._correlate:
            self._request_id = request_id
            self._id_frame = envelope[0]
        self._reply_pipe = pipe
        self._receiving_reply = True
        return True

    def has_out(self) -> bool:
        ready = self._lb.has_out()  # asked even when the answer is "no", to arm the wake-up
        return ready and not (self._receiving_reply and self._strict)

    # -- receiving ---------------------------------------------------------------------------------

    def _next_reply(self) -> tuple[Msg, Pipe] | None:
        """The next valid reply (body only), discarding everything else that is queued before it."""
        pending = self._pending
        if pending is not None:
            return pending
        skip = 2 if self._correlate else 1
        while True:
            got = self._fq.recv()
            if got is None:
                return None
            msg, pipe = got
            if self._reply_pipe is not None and pipe is not self._reply_pipe:
                continue
            if len(msg) <= skip or len(msg[skip - 1]) != 0:
                continue  # no delimiter (with MORE) where expected
            if self._correlate and bytes(msg[0]) != self._id_frame:
                continue
            self._pending = pending = (msg[skip:], pipe)
            return pending

    def recv(self) -> tuple[Msg, Pipe] | None:
        if not self._receiving_reply:
            raise _efsm("REQ must send a request before receiving")
        got = self._next_reply()
        if got is not None:
            self._pending = None
            self._receiving_reply = False
        return got

    def has_in(self) -> bool:
        if not self._receiving_reply:
            self._fq.has_in()  # arm the wake-ups; nothing is receivable before a request
            return False
        return self._next_reply() is not None

    # -- options -----------------------------------------------------------------------------------

    def setsockopt(self, option: SocketOption, value: Any) -> bool:
        if option == SocketOption.REQ_RELAXED:
            self._strict = not int_flag(option, value)
        elif option == SocketOption.REQ_CORRELATE:
            self._correlate = int_flag(option, value)
        else:
            return super().setsockopt(option, value)
        return True


class Rep(Router):
    def __init__(self, options: Options) -> None:
        super().__init__(options)
        self._sending_reply = False
        self._envelope: Msg = []
        self._pending: tuple[Msg, Msg, Pipe] | None = None  # (envelope, body, pipe)

    # -- receiving ---------------------------------------------------------------------------------

    def _next_request(self) -> tuple[Msg, Msg, Pipe] | None:
        pending = self._pending
        if pending is not None:
            return pending
        while True:
            got = super().recv()
            if got is None:
                return None
            msg, pipe = got
            last = len(msg) - 1
            for i in range(1, last):  # frame 0 is the routing id; the delimiter must have MORE
                if len(msg[i]) == 0:
                    self._pending = pending = (msg[: i + 1], msg[i + 1 :], pipe)
                    return pending
            # No delimiter: a malformed request, discarded.

    def recv(self) -> tuple[Msg, Pipe] | None:
        if self._sending_reply:
            raise _efsm("REP must send the reply before receiving")
        got = self._next_request()
        if got is None:
            return None
        self._pending = None
        envelope, body, pipe = got
        self._envelope = envelope
        self._sending_reply = True
        return body, pipe

    def has_in(self) -> bool:
        if self._sending_reply:
            self._fq.has_in()  # arm the wake-ups; the next request is receivable after the reply
            return False
        return self._next_request() is not None

    # -- sending -----------------------------------------------------------------------------------

    def can_begin(self, first: Any) -> bool:
        if not self._sending_reply:
            raise _efsm("REP must receive a request before sending")
        return True

    def send(self, msg: Msg) -> bool:
        if not self._sending_reply:
            raise _efsm("REP must receive a request before sending")
        if not super().send([*self._envelope, *msg]):
            return False
        self._envelope = []
        self._sending_reply = False
        return True

    def has_out(self) -> bool:
        ready = super().has_out()
        return ready and self._sending_reply
