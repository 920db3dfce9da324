"""PUB, XPUB, SUB and XSUB (RFC 29 as libzmq 4.3 implements it).

Matching is a binary prefix match of each subscription against the first frame of a message only;
``b""`` matches everything (see :mod:`zloop.patterns.trie`).

*Publishers.* PUB and XPUB fan each message out to every pipe with a matching subscription; a pipe
at its high-water mark misses the whole message, so a slow subscriber never blocks the publisher or
the other subscribers (XPUB_NODROP turns that into "would block"). Subscriptions arrive on the same
pipes as messages whose first frame is ``\\x01topic`` (subscribe) or ``\\x00topic`` (cancel): the
stream engine turns ZMTP 3.1 SUBSCRIBE/CANCEL commands into that form, 3.0 peers and inproc peers
send it directly, and both are accepted from any peer. The publisher reads its pipes whenever they
become readable, so it applies subscriptions as the socket processes commands (PUB/XPUB ask for
that on every send, like libzmq's throttled command processing). XPUB hands subscriptions (and any
other upstream message) to its application; PUB drops anything that is not a subscription.

*Subscribers.* SUB and XSUB keep a reference-counted trie of their subscriptions. Every subscribe is
forwarded upstream, a cancel only when the count drops to zero; every new pipe, and every new
connection of a connect-side pipe (reconnect), gets the current subscriptions again, one message per
distinct topic. A subscription meeting a full pipe is dropped. SUB filters again on receipt; XSUB
does not filter and lets its application send anything upstream.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from zloop.constants import Errno, SocketOption
from zloop.errors import ZMQError
from zloop.options import Options
from zloop.patterns.base import Pattern
from zloop.patterns.lb import FairQueue
from zloop.patterns.trie import MultiTrie, RmResult, Trie
from zloop.pipe import Msg, Pipe, SubscriptionMsg

_SUBSCRIBE = 1
_CANCEL = 0


def _first_frame(msg: Msg) -> bytes:
    first = msg[0]
    return first if type(first) is bytes else bytes(first)


def _topic_value(value: Any) -> bytes:
    """A SUBSCRIBE/UNSUBSCRIBE option value, as pyzmq accepts it (bytes-like, not str)."""
    if isinstance(value, str):
        raise TypeError("unicode not allowed, use setsockopt_string")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"expected bytes, got {type(value).__name__}")


def _flag_value(value: Any) -> bool:
    """INVERT_MATCHING as libzmq takes it: any int, non-zero meaning on."""
    if not isinstance(value, int):
        raise TypeError(f"expected int, got: {value!r}")
    return value != 0


def _xpub_flag(option: SocketOption, value: Any) -> bool:
    """The XPUB options as libzmq takes them: an int >= 0, non-zero meaning on."""
    if not isinstance(value, int):
        raise TypeError(f"expected int, got: {value!r}")
    if value < 0:
        raise ZMQError(Errno.EINVAL, f"{option.name} takes an int >= 0, got {value}")
    return value != 0


def _not_implemented(option: SocketOption, value: Any) -> None:
    """A libzmq option zloop does not implement: off is accepted, on is refused (EINVAL)."""
    if _xpub_flag(option, value):
        raise ZMQError(Errno.EINVAL, f"{option.name} is not implemented by zloop")


class _Publisher(Pattern):
    """PUB and XPUB: fan-out to matching subscribers; subscriptions come in on the pipes."""

    #: Whether subscriptions and upstream messages are handed to the application (XPUB).
    _deliver = False

    def __init__(self, options: Options) -> None:
        super().__init__(options)
        self._pipes: list[Pipe] = []
        self._subscriptions: MultiTrie[Pipe] = MultiTrie()
        # XPUB_MANUAL: what each subscriber asked for (the application decides _subscriptions).
        self._manual_subscriptions: MultiTrie[Pipe] = MultiTrie()
        # For the application: (message, pipe whose metadata it carries, pipe for XPUB_MANUAL).
        self._pending: deque[tuple[Msg, Pipe, Pipe | None]] = deque()
        self._last_pipe: Pipe | None = None
        self._verbose_subs = False
        self._verbose_unsubs = False
        self._manual = False
        self._lossy = True
        self._invert = False
        self._welcome: bytes = b""

    # -- pipes -------------------------------------------------------------------------------------

    def attach(self, pipe: Pipe) -> None:
        self._pipes.append(pipe)
        if self._welcome and pipe.write([self._welcome]):
            pipe.flush()
        # Subscriptions may already be queued (and an empty pipe must be read once so that it
        # announces its next message).
        self._read_subscriptions(pipe)

    def read_activated(self, pipe: Pipe) -> None:
        self._read_subscriptions(pipe)

    def pipe_terminated(self, pipe: Pipe) -> None:
        try:
            self._pipes.remove(pipe)
        except ValueError:
            return

        def unsubscribed(topic: bytes) -> None:
            # Nobody (VERBOSER / MANUAL: this subscriber) wants ``topic`` any more. The pipe only
            # lends its metadata: XPUB_MANUAL cannot apply anything to a subscriber that is gone.
            if self._deliver:
                self._pending.append(([b"\x00" + topic], pipe, None))

        if self._manual:
            self._manual_subscriptions.rm_value(pipe, unsubscribed, only_last=False)
            self._subscriptions.rm_value(pipe)
        else:
            self._subscriptions.rm_value(pipe, unsubscribed, only_last=not self._verbose_unsubs)
        if self._last_pipe is pipe:
            self._last_pipe = None

    def pipes(self) -> list[Pipe]:
        return list(self._pipes)

    def _read_subscriptions(self, pipe: Pipe) -> None:
        while True:
            msg = pipe.read()
            if msg is None:
                return
            first = _first_frame(msg)
            if first and first[0] <= _SUBSCRIBE:
                self._apply(first[0] == _SUBSCRIBE, first[1:], pipe)
            elif self._deliver:
                self._pending.append((msg, pipe, pipe))
            # else PUB: an upstream message that is not a subscription is dropped

    def _apply(self, subscribe: bool, topic: bytes, pipe: Pipe) -> None:
        if self._manual:
            if subscribe:
                self._manual_subscriptions.add(topic, pipe)
            else:
                self._manual_subscriptions.rm(topic, pipe)
            notify = True
        elif subscribe:
            notify = self._subscriptions.add(topic, pipe) or self._verbose_subs
        else:
            result = self._subscriptions.rm(topic, pipe)
            # As libzmq: an unknown cancel is reported too (only "others still want it" is not).
            notify = result is not RmResult.VALUES_REMAIN or self._verbose_unsubs
        if notify and self._deliver:
            self._pending.append(([(b"\x01" if subscribe else b"\x00") + topic], pipe, pipe))

    # -- messages ----------------------------------------------------------------------------------

    def _matching(self, msg: Msg) -> list[Pipe]:
        matched = self._subscriptions.match(_first_frame(msg))
        if self._invert:
            return [pipe for pipe in self._pipes if pipe not in matched]
        return list(matched)

    def send(self, msg: Msg) -> bool:
        if not self._pipes:
            return True  # nobody subscribed: dropped
        targets = self._matching(msg)
        if not self._lossy:
            for pipe in targets:
                if not pipe.check_write() and not pipe.peer_terminated:
                    return False  # XPUB_NODROP: wait until every matching subscriber has room
        last = len(targets) - 1
        for i, pipe in enumerate(targets):
            # Each reader gets its own list (an inproc reader hands it to its application).
            if pipe.write(msg if i == last else list(msg)):
                pipe.flush()
            # else: at its high-water mark, this subscriber misses the whole message
        return True

    def has_out(self) -> bool:
        if self._lossy:
            return True
        for pipe in self._pipes:
            if not pipe.peer_terminated and not pipe.check_write():
                return False
        return True

    # -- options -----------------------------------------------------------------------------------

    def setsockopt(self, option: SocketOption, value: Any) -> bool:
        if option == SocketOption.XPUB_VERBOSE:
            self._verbose_subs = _xpub_flag(option, value)
            self._verbose_unsubs = False
        elif option == SocketOption.XPUB_VERBOSER:
            self._verbose_subs = self._verbose_unsubs = _xpub_flag(option, value)
        elif option == SocketOption.XPUB_MANUAL:
            self._manual = _xpub_flag(option, value)
        elif option == SocketOption.XPUB_NODROP:
            self._lossy = not _xpub_flag(option, value)
        elif option in (SocketOption.XPUB_MANUAL_LAST_VALUE, SocketOption.ONLY_FIRST_SUBSCRIBE):
            _not_implemented(option, value)
        elif option == SocketOption.INVERT_MATCHING:
            self._invert = _flag_value(value)
        elif option == SocketOption.XPUB_WELCOME_MSG:
            self._welcome = b"" if value is None else _topic_value(value)
        elif option in (SocketOption.SUBSCRIBE, SocketOption.UNSUBSCRIBE) and self._manual:
            topic = _topic_value(value)
            pipe = self._last_pipe
            if pipe is not None and pipe in self._pipes:
                if option == SocketOption.SUBSCRIBE:
                    self._subscriptions.add(topic, pipe)
                else:
                    self._subscriptions.rm(topic, pipe)
        else:
            return False
        return True

    def getsockopt(self, option: SocketOption) -> Any:
        if option == SocketOption.INVERT_MATCHING:
            return int(self._invert)
        if option == SocketOption.TOPICS_COUNT:
            return len(set(self._subscriptions))  # distinct topics, as libzmq's mtrie counts
        raise KeyError(option)  # the XPUB options are write-only, as in libzmq


class Pub(_Publisher):
    """PUB: never readable (recv raises ENOTSUP)."""


class XPub(_Publisher):
    """XPUB: PUB that hands subscriptions and upstream messages to its application."""

    _deliver = True

    def recv(self) -> tuple[Msg, Pipe] | None:
        if not self._pending:
            return None  # every pipe was read until empty, so each announces its next message
        msg, pipe, source = self._pending.popleft()
        if self._manual:
            self._last_pipe = source
        return msg, pipe

    def has_in(self) -> bool:
        return bool(self._pending)


class XSub(Pattern):
    """XSUB: fair-queued receipt without filtering; sends anything upstream to every publisher."""

    def __init__(self, options: Options) -> None:
        super().__init__(options)
        self._fq = FairQueue()
        self._pipes: list[Pipe] = []
        self._subscriptions = Trie()
        self._connected: set[Pipe] = set()  # connect-side pipes that had a connection already
        self._invert = False

    # -- pipes -------------------------------------------------------------------------------------

    def attach(self, pipe: Pipe) -> None:
        self._fq.attach(pipe)
        self._pipes.append(pipe)
        self._resend(pipe)

    def peer_updated(self, pipe: Pipe) -> None:
        # The first connection of a connect-side pipe reads what attach queued; later ones
        # (reconnects) start from a publisher that knows nothing of us.
        if pipe in self._connected:
            self._resend(pipe)
        else:
            self._connected.add(pipe)

    def _resend(self, pipe: Pipe) -> None:
        sent = False
        for topic in self._subscriptions:
            if not pipe.write(SubscriptionMsg(True, topic)):
                break  # full: the rest is dropped, as libzmq does
            sent = True
        if sent:
            pipe.flush()

    def read_activated(self, pipe: Pipe) -> None:
        self._fq.activated(pipe)

    def pipe_terminated(self, pipe: Pipe) -> None:
        self._fq.remove(pipe)
        if pipe in self._pipes:
            self._pipes.remove(pipe)
        self._connected.discard(pipe)

    def pipes(self) -> list[Pipe]:
        return list(self._pipes)

    # -- sending -----------------------------------------------------------------------------------

    def _send_to_all(self, msg: Msg) -> None:
        """Queue ``msg`` to every publisher; a full pipe drops it."""
        pipes = self._pipes
        last = len(pipes) - 1
        share = type(msg) is SubscriptionMsg  # never handed to an application: one is enough
        for i, pipe in enumerate(pipes):
            if pipe.write(msg if share or i == last else list(msg)):
                pipe.flush()

    def _subscribe(self, topic: bytes, msg: Msg | None = None) -> None:
        self._subscriptions.add(topic)
        self._send_to_all(SubscriptionMsg(True, topic) if msg is None else msg)

    def _unsubscribe(self, topic: bytes, msg: Msg | None = None) -> None:
        if self._subscriptions.rm(topic):  # the last reference: tell the publishers
            self._send_to_all(SubscriptionMsg(False, topic) if msg is None else msg)

    def send(self, msg: Msg) -> bool:
        first = _first_frame(msg)
        if first and first[0] <= _SUBSCRIBE:
            # A one-frame (un)subscription travels as a subscription (a SUBSCRIBE/CANCEL command to
            # ZMTP 3.1 peers); a longer message starting like one is forwarded as it is.
            whole = None if len(msg) == 1 else msg
            if first[0] == _SUBSCRIBE:
                self._subscribe(first[1:], whole)
            else:
                self._unsubscribe(first[1:], whole)
        else:
            self._send_to_all(msg)
        return True

    def has_out(self) -> bool:
        return True  # never blocks: a full publisher pipe drops

    # -- options -----------------------------------------------------------------------------------

    def setsockopt(self, option: SocketOption, value: Any) -> bool:
        if option == SocketOption.INVERT_MATCHING:
            self._invert = _flag_value(value)  # XSUB does not filter: kept for getsockopt only
            return True
        if option == SocketOption.ONLY_FIRST_SUBSCRIBE and type(self) is XSub:
            _not_implemented(option, value)
            return True
        return False

    def getsockopt(self, option: SocketOption) -> Any:
        if option == SocketOption.INVERT_MATCHING:
            return int(self._invert)
        if option == SocketOption.TOPICS_COUNT:
            return len(self._subscriptions)
        raise KeyError(option)

    # -- receiving ---------------------------------------------------------------------------------

    def recv(self) -> tuple[Msg, Pipe] | None:
        return self._fq.recv()

    def has_in(self) -> bool:
        return self._fq.has_in()


class Sub(XSub):
    """SUB: subscriptions by option only; filters on receipt; cannot send."""

    def __init__(self, options: Options) -> None:
        super().__init__(options)
        self._prefetched: tuple[Msg, Pipe] | None = None

    def send(self, msg: Msg) -> bool:
        raise ZMQError(Errno.ENOTSUP, "SUB sockets cannot send")

    def can_begin(self, first: Any) -> bool:
        raise ZMQError(Errno.ENOTSUP, "SUB sockets cannot send")

    def has_out(self) -> bool:
        return False

    def _matches(self, msg: Msg) -> bool:
        return self._subscriptions.check(_first_frame(msg)) != self._invert

    def recv(self) -> tuple[Msg, Pipe] | None:
        got = self._prefetched
        if got is not None:
            self._prefetched = None
            return got
        recv = self._fq.recv
        while True:
            got = recv()
            if got is None or self._matches(got[0]):
                return got
            # not subscribed: dropped

    def has_in(self) -> bool:
        if self._prefetched is not None:
            return True
        got = self.recv()  # found empty: every pipe announces its next message
        self._prefetched = got
        return got is not None

    def setsockopt(self, option: SocketOption, value: Any) -> bool:
        if option == SocketOption.SUBSCRIBE:
            self._subscribe(_topic_value(value))
        elif option == SocketOption.UNSUBSCRIBE:
            self._unsubscribe(_topic_value(value))
        else:
            return super().setsockopt(option, value)
        return True
