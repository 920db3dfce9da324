"""``Proxy``, ``ThreadProxy``, ``ProcessProxy``: a device with a third, monitor socket.

Every message forwarded in either direction is also sent on the monitor socket (``capture`` of
:func:`zloop.proxy`); a PUB is the usual choice (``mon_type``, the default). Configure it with
``setsockopt_mon`` / ``bind_mon`` / ``bind_mon_to_random_port`` / ``connect_mon``.
"""

from __future__ import annotations

from typing import Any

from zloop.constants import SocketType
from zloop.devices.basedevice import Device, ProcessDevice, SocketPlan, ThreadDevice

__all__ = ["ProcessProxy", "Proxy", "ProxyBase", "ThreadProxy"]


class ProxyBase(Device):
    """The monitor socket's configuration and the three-socket run; mixed into the launchers."""

    def __init__(self, in_type: int, out_type: int, mon_type: int = SocketType.PUB) -> None:
        super().__init__(in_type=in_type, out_type=out_type)
        self.mon_type = mon_type
        self._plans["mon"] = SocketPlan()

    def bind_mon(self, addr: str) -> None:
        """Queue ``mon_socket.bind(addr)``, done when the device starts."""
        self._plans["mon"].binds.append(addr)

    def bind_mon_to_random_port(self, addr: str, *args: int, **kwargs: int) -> int:
        """Pick a free port on ``addr``, queue a bind of the monitor socket to it, return it."""
        return self._bind_random("mon", addr, *args, **kwargs)

    def connect_mon(self, addr: str) -> None:
        """Queue ``mon_socket.connect(addr)``, done when the device starts."""
        self._plans["mon"].connects.append(addr)

    def setsockopt_mon(self, opt: int, value: Any) -> None:
        """Queue ``mon_socket.setsockopt(opt, value)``, done before any bind or connect."""
        self._plans["mon"].sockopts.append((opt, value))

    def _setup_sockets(self) -> tuple[Any, ...]:
        """``(in_socket, out_socket, mon_socket)``, configured."""
        return (*super()._setup_sockets(), self._socket(self.mon_type, "mon"))

    def run_device(self) -> None:
        from zloop.proxy import proxy

        ins, outs, mons = self._setup_sockets()
        proxy(ins, outs, mons)


class Proxy(ProxyBase, Device):
    """A proxy with a monitor socket, run in the calling thread by ``start()``."""


class ThreadProxy(ProxyBase, ThreadDevice):
    """A :class:`Proxy` in a background thread."""


class ProcessProxy(ProxyBase, ProcessDevice):
    """A :class:`Proxy` in a background process."""
