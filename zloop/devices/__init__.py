"""Devices, as pyzmq's ``zmq.devices``: proxies described by socket types and run in the caller, a
background thread or a background process.

* :class:`Device` / :class:`ThreadDevice` / :class:`ProcessDevice`: a proxy between two sockets
  (:mod:`zloop.devices.basedevice` explains the life cycle);
* :class:`Proxy` / :class:`ThreadProxy` / :class:`ProcessProxy`: plus a monitor socket;
* :class:`ProxySteerable` / :class:`ThreadProxySteerable` / :class:`ProcessProxySteerable`: plus a
  control socket (PAUSE, RESUME, TERMINATE, STATISTICS);
* :func:`monitored_queue` and :class:`MonitoredQueue` / :class:`ThreadMonitoredQueue` /
  :class:`ProcessMonitoredQueue`: a queue whose monitor copies carry a direction prefix and that
  works between two ROUTERs.

``zloop.proxy``, ``zloop.proxy_steerable`` and ``zloop.device`` are the functions they run.
"""

from __future__ import annotations

# Here as in pyzmq, though not in ``__all__``: ``DeviceType``, ``proxy`` and the submodules.
from zloop.constants import DeviceType as DeviceType
from zloop.devices import basedevice as basedevice
from zloop.devices import monitoredqueue as monitoredqueue
from zloop.devices import monitoredqueuedevice as monitoredqueuedevice
from zloop.devices import proxydevice as proxydevice
from zloop.devices import proxysteerabledevice as proxysteerabledevice
from zloop.devices.basedevice import Device, ProcessDevice, ThreadDevice
from zloop.devices.monitoredqueue import monitored_queue
from zloop.devices.monitoredqueuedevice import (
    MonitoredQueue,
    ProcessMonitoredQueue,
    ThreadMonitoredQueue,
)
from zloop.devices.proxydevice import ProcessProxy, Proxy, ThreadProxy
from zloop.devices.proxysteerabledevice import (
    ProcessProxySteerable,
    ProxySteerable,
    ThreadProxySteerable,
)
from zloop.proxy import proxy as proxy

__all__ = [
    "Device",
    "MonitoredQueue",
    "ProcessDevice",
    "ProcessMonitoredQueue",
    "ProcessProxy",
    "ProcessProxySteerable",
    "Proxy",
    "ProxySteerable",
    "ThreadDevice",
    "ThreadMonitoredQueue",
    "ThreadProxy",
    "ThreadProxySteerable",
    "monitored_queue",
]
