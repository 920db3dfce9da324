"""``Context`` (``zmq.sugar.context``)."""

from __future__ import annotations

from zloop.context import Context, SyncContext

__all__ = ["Context", "SyncContext"]
