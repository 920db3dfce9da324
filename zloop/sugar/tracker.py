"""``MessageTracker`` (``zmq.sugar.tracker``)."""

from __future__ import annotations

from zloop.tracker import MessageTracker

__all__ = ["MessageTracker"]
