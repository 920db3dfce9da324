"""``MessageTracker`` (``zmq.sugar.tracker``)."""

from __future__ import annotations

from zloop.tracker import FINISHED_TRACKER as _FINISHED_TRACKER
from zloop.tracker import MessageTracker

__all__ = ["_FINISHED_TRACKER", "MessageTracker"]
