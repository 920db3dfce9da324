"""``ProxySteerable`` and its thread/process variants: a monitored proxy with a control socket.

The control socket (``ctrl_type``; configure with ``setsockopt_ctrl`` / ``bind_ctrl`` /
``bind_ctrl_to_random_port`` / ``connect_ctrl``) takes :func:`zloop.proxy_steerable`'s commands:
``PAUSE``, ``RESUME``, ``TERMINATE`` (the device ends), ``STATISTICS``.
"""

from __future__ import annotations

from typing import Any

from zloop.constants import SocketType
from zloop.devices.basedevice import SocketPlan
from zloop.devices.proxydevice import ProcessProxy, Proxy, ProxyBase, ThreadProxy

__all__ = ["ProcessProxySteerable", "ProxySteerable", "ProxySteerableBase", "ThreadProxySteerable"]


class ProxySteerableBase(ProxyBase):
    """The control socket's configuration and the four-socket run; mixed into the launchers."""

    def __init__(
        self,
        in_type: int,
        out_type: int,
        mon_type: int = SocketType.PUB,
        ctrl_type: int | None = None,
    ) -> None:
        super().__init__(in_type=in_type, out_type=out_type, mon_type=mon_type)
        self.ctrl_type = ctrl_type
        self._plans["ctrl"] = SocketPlan()

    def bind_ctrl(self, addr: str) -> None:
        """Queue ``ctrl_socket.bind(addr)``, done when the device starts."""
        self._plans["ctrl"].binds.append(addr)

    def bind_ctrl_to_random_port(self, addr: str, *args: int, **kwargs: int) -> int:
        """Pick a free port on ``addr``, queue a bind of the control socket to it, return it."""
        return self._bind_random("ctrl", addr, *args, **kwargs)

    def connect_ctrl(self, addr: str) -> None:
        """Queue ``ctrl_socket.connect(addr)``, done when the device starts."""
        self._plans["ctrl"].connects.append(addr)

    def setsockopt_ctrl(self, opt: int, value: Any) -> None:
        """Queue ``ctrl_socket.setsockopt(opt, value)``, done before any bind or connect."""
        self._plans["ctrl"].sockopts.append((opt, value))

    def _setup_sockets(self) -> tuple[Any, ...]:
        """``(in_socket, out_socket, mon_socket, ctrl_socket)``, configured."""
        if self.ctrl_type is None:
            raise TypeError("ctrl_type must be specified to run a steerable proxy")
        return (*super()._setup_sockets(), self._socket(self.ctrl_type, "ctrl"))

    def run_device(self) -> None:
        from zloop.proxy import proxy_steerable

        ins, outs, mons, ctrls = self._setup_sockets()
        proxy_steerable(ins, outs, mons, ctrls)


class ProxySteerable(ProxySteerableBase, Proxy):
    """A steerable proxy, run in the calling thread by ``start()``."""


class ThreadProxySteerable(ProxySteerableBase, ThreadProxy):
    """A :class:`ProxySteerable` in a background thread."""


class ProcessProxySteerable(ProxySteerableBase, ProcessProxy):
    """A :class:`ProxySteerable` in a background process."""
