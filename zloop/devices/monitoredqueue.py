"""``monitored_queue``: a queue between two sockets that reports every message on a third.

It predates libzmq's proxy and differs from :func:`zloop.proxy` with a capture socket in two ways:

* each copy sent on ``mon_socket`` starts with a frame naming its direction: ``in_prefix`` for a
  message that came in on ``in_socket``, ``out_prefix`` for one from ``out_socket``;
* it works between two ROUTER sockets: a message's first two frames (the routing id of the sender
  then the routing id of the recipient) change places on the way, so the out ROUTER delivers it to
  the named peer and the reply, swapped back, reaches the sender; the monitor sees the swapped
  message.

It runs :func:`zloop.proxy`'s loop (whole messages, bursts, back pressure per direction) until the
context is terminated, which raises ``ContextTerminated``.
"""

from __future__ import annotations

from typing import Any, NoReturn

from zloop.poll import poll
from zloop.proxy import monitored_directions, serve

__all__ = ["monitored_queue"]


def monitored_queue(
    in_socket: Any,
    out_socket: Any,
    mon_socket: Any,
    in_prefix: bytes = b"in",
    out_prefix: bytes = b"out",
) -> NoReturn:
    """Forward between ``in_socket`` and ``out_socket``, copying each message to ``mon_socket``
    after its direction's prefix frame; returns only by raising (``ContextTerminated``)."""
    for name, prefix in (("in_prefix", in_prefix), ("out_prefix", out_prefix)):
        if not isinstance(prefix, bytes):
            raise TypeError(
                f"Argument '{name}' has incorrect type (expected bytes, got {type(prefix).__name__})"
            )
    directions = monitored_directions(in_socket, out_socket, in_prefix, out_prefix)
    serve(directions, mon_socket, None, poll)
    raise AssertionError(
        "a proxy without a control socket only ends by raising"
    )  # pragma: no cover
