"""``Poller`` and ``select`` (``zmq.sugar.poll``)."""

from __future__ import annotations

from zloop.poll import Poller, select

__all__ = ["Poller", "select"]
