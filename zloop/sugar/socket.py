"""``Socket`` (``zmq.sugar.socket``)."""

from __future__ import annotations

from zloop.socket import Socket

__all__ = ["Socket"]
