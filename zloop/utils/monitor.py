"""Socket monitor helpers under pyzmq's module name: ``recv_monitor_message`` and
``parse_monitor_message`` (the functions of :mod:`zloop.monitor`)."""

from __future__ import annotations

from zloop.monitor import parse_monitor_message, recv_monitor_message

__all__ = ["parse_monitor_message", "recv_monitor_message"]
