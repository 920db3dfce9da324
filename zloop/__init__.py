"""zloop: ZeroMQ in pure Python, built for event loops.

``import zloop as zmq`` runs pyzmq programs: the names below mirror pyzmq's (``Context``, ``Socket``,
``Frame``, ``Poller``, ``poll``, ``select``, the error classes and every constant such as ``PUSH``,
``NOBLOCK``, ``POLLIN`` or ``EVENT_CONNECTED``).
"""

from __future__ import annotations

from typing import Any

from zloop import _adapters_path, z85
from zloop._names import *  # noqa: F403 - the flat pyzmq names
from zloop._names import NAMES as _NAMES
from zloop.constants import (
    ContextOption,
    DeviceType,
    Errno,
    Event,
    Flag,
    MessageOption,
    PollEvent,
    ProtocolErrorCode,
    SecurityMechanism,
    SocketOption,
    SocketType,
)
from zloop.context import Context
from zloop.errors import (
    Again,
    ContextTerminated,
    InterruptedSystemCall,
    NotDone,
    ZMQBaseError,
    ZMQBindError,
    ZMQError,
    ZMQVersionError,
    strerror,
)
from zloop.keys import curve_keypair, curve_public, has_curve
from zloop.message import Frame, Message
from zloop.monitor import parse_monitor_message, recv_monitor_message
from zloop.poll import Poller, poll, select
from zloop.proxy import device, proxy, proxy_steerable
from zloop.socket import Socket
from zloop.tracker import COPY_THRESHOLD, MessageTracker

__version__ = "0.1.0.dev0"

_adapters_path.install()

#: The libzmq version whose behaviour and wire protocol zloop follows.
ZMQ_VERSION_FOLLOWED = (4, 3, 5)


def zmq_version_info() -> tuple[int, int, int]:
    """The libzmq version zloop behaves like (pyzmq API)."""
    return ZMQ_VERSION_FOLLOWED


def zmq_version() -> str:
    return ".".join(map(str, ZMQ_VERSION_FOLLOWED))


def pyzmq_version() -> str:
    return __version__


def has(capability: str) -> bool:
    """Which optional capabilities are available (``zmq.has``): ipc, and curve with PyNaCl.

    Everything else is False: zloop has no gssapi, pgm, norm, tipc, vmci or draft API, and the
    options of a missing mechanism raise EINVAL (see :mod:`zloop.options`).
    """
    if capability == "curve":
        return has_curve()
    return capability == "ipc"


__all__ = [
    "COPY_THRESHOLD",
    "Again",
    "Context",
    "ContextOption",
    "ContextTerminated",
    "DeviceType",
    "Errno",
    "Event",
    "Flag",
    "Frame",
    "InterruptedSystemCall",
    "Message",
    "MessageOption",
    "MessageTracker",
    "NotDone",
    "PollEvent",
    "Poller",
    "ProtocolErrorCode",
    "SecurityMechanism",
    "Socket",
    "SocketOption",
    "SocketType",
    "ZMQBaseError",
    "ZMQBindError",
    "ZMQError",
    "ZMQVersionError",
    "curve_keypair",
    "curve_public",
    "device",
    "has",
    "z85",
    "parse_monitor_message",
    "poll",
    "proxy",
    "proxy_steerable",
    "pyzmq_version",
    "recv_monitor_message",
    "select",
    "strerror",
    "zmq_version",
    "zmq_version_info",
    *_NAMES,
]

#: pyzmq's importable modules, loaded on first attribute access: after ``import zloop``,
#: ``zloop.asyncio.Context()`` works as after ``import zmq.asyncio`` (pyzmq itself needs that
#: import; here both ways work). Only these names: nothing is imported before it is used.
_SUBMODULES = frozenset(
    {
        "asyncio",
        "auth",
        "decorators",
        "devices",
        "error",
        "eventloop",
        "green",
        "log",
        "sugar",
        "utils",
    }
)


def __getattr__(name: str) -> Any:
    if name not in _SUBMODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ImportError as exc:
        # An AttributeError keeps hasattr() and getattr(zloop, name, None) working when the
        # module's event loop is not installed; the message says what is missing.
        raise AttributeError(f"zloop.{name} is not available: {exc}") from exc
