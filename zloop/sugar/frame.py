"""``Frame`` and ``Message`` (``zmq.sugar.frame``)."""

from __future__ import annotations

from zloop.message import Frame, Message

__all__ = ["Frame", "Message"]
