"""``MonitoredQueue``, ``ThreadMonitoredQueue``, ``ProcessMonitoredQueue``: :func:`monitored_queue`
as a device (the monitor socket is configured as a ``Proxy``'s: ``bind_mon``, ``connect_mon`` ...)."""

from __future__ import annotations

from zloop.constants import SocketType
from zloop.devices.monitoredqueue import monitored_queue
from zloop.devices.proxydevice import ProcessProxy, Proxy, ProxyBase, ThreadProxy

__all__ = ["MonitoredQueue", "MonitoredQueueBase", "ProcessMonitoredQueue", "ThreadMonitoredQueue"]


class MonitoredQueueBase(ProxyBase):
    """The prefixes and the monitored-queue run; mixed into the launchers."""

    def __init__(
        self,
        in_type: int,
        out_type: int,
        mon_type: int = SocketType.PUB,
        in_prefix: bytes = b"in",
        out_prefix: bytes = b"out",
    ) -> None:
        super().__init__(in_type=in_type, out_type=out_type, mon_type=mon_type)
        self._in_prefix = in_prefix
        self._out_prefix = out_prefix

    def run_device(self) -> None:
        ins, outs, mons = self._setup_sockets()
        monitored_queue(ins, outs, mons, self._in_prefix, self._out_prefix)


class MonitoredQueue(MonitoredQueueBase, Proxy):
    """:func:`monitored_queue` run in the calling thread by ``start()`` (ROUTER on both sides
    works, as with the function)."""


class ThreadMonitoredQueue(MonitoredQueueBase, ThreadProxy):
    """A :class:`MonitoredQueue` in a background thread."""


class ProcessMonitoredQueue(MonitoredQueueBase, ProcessProxy):
    """A :class:`MonitoredQueue` in a background process."""
