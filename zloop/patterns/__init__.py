"""Layer 2: the message-routing logic of each socket type, written against pipes only.

A pattern never touches OS sockets, threads or the clock; it is driven by its :class:`Socket` in the
socket's own thread. See :mod:`zloop.patterns.base` for the interface.
"""

from __future__ import annotations

from zloop.constants import SocketType
from zloop.patterns.base import Pattern
from zloop.patterns.pair import Pair
from zloop.patterns.pipeline import Pull, Push
from zloop.patterns.pubsub import Pub, Sub, XPub, XSub
from zloop.patterns.reqrep import Rep, Req
from zloop.patterns.routing import Dealer, Router
from zloop.patterns.stream import Stream

#: CONFLATE applies to these types (libzmq ``get_effective_conflate_option``), in the directions
#: (inbound, outbound) that carry their data; subscriptions are never conflated.
CONFLATE_DIRECTIONS: dict[SocketType, tuple[bool, bool]] = {
    SocketType.PULL: (True, False),
    SocketType.SUB: (True, False),
    SocketType.PUSH: (False, True),
    SocketType.PUB: (False, True),
    SocketType.DEALER: (True, True),
}

#: Socket type -> pattern class. Types not listed yet raise EINVAL in ``Context.socket``.
PATTERNS: dict[SocketType, type[Pattern]] = {
    SocketType.PAIR: Pair,
    SocketType.PUSH: Push,
    SocketType.PULL: Pull,
    SocketType.PUB: Pub,
    SocketType.SUB: Sub,
    SocketType.XPUB: XPub,
    SocketType.XSUB: XSub,
    SocketType.REQ: Req,
    SocketType.REP: Rep,
    SocketType.DEALER: Dealer,
    SocketType.ROUTER: Router,
    SocketType.STREAM: Stream,
}

__all__ = ["CONFLATE_DIRECTIONS", "PATTERNS", "Pattern"]
