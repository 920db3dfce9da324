"""``Socket`` (``zmq.sugar.socket``)."""

from __future__ import annotations

from zloop.socket import Socket, SyncSocket

__all__ = ["Socket", "SyncSocket"]
