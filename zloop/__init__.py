"""zloop: ZeroMQ in pure Python, built for event loops.

``import zloop as zmq`` runs pyzmq programs: the names below mirror pyzmq's (``Context``, ``Socket``,
``Frame``, ``Poller``, ``poll``, ``select``, the error classes and every constant such as ``PUSH``,
``NOBLOCK``, ``POLLIN`` or ``EVENT_CONNECTED``).
"""

from __future__ import annotations

import socket as _socket
from enum import Enum, IntEnum, IntFlag
from typing import Any as _Any

from zloop import _adapters_path, constants, z85
from zloop._names import *  # noqa: F403 - the flat pyzmq names
from zloop._names import _NAMES
from zloop.constants import (
    DRAFT_API,
    IPC_PATH_MAX_LEN,
    PYZMQ_DRAFT_API,
    ContextOption,
    DeviceType,
    Errno,
    Event,
    Flag,
    MessageOption,
    NormMode,
    PollEvent,
    ProtocolErrorCode,
    ReconnectStop,
    RouterNotify,
    SecurityMechanism,
    SocketOption,
    SocketType,
)
from zloop.context import Context, SyncContext
from zloop.errors import (
    Again,
    ContextTerminated,
    DraftFDWarning,
    InterruptedSystemCall,
    NotDone,
    ZMQBaseError,
    ZMQBindError,
    ZMQError,
    ZMQVersionError,
    strerror,
    zmq_errno,
)
from zloop.keys import curve_keypair, curve_public
from zloop.keys import has_curve as _has_curve
from zloop.message import Frame, Message
from zloop.monitor import parse_monitor_message, recv_monitor_message
from zloop.poll import Poller, poll, select, zmq_poll
from zloop.proxy import device, proxy, proxy_steerable
from zloop.socket import Socket, SyncSocket
from zloop.stopwatch import Stopwatch
from zloop.tracker import COPY_THRESHOLD, MessageTracker
from zloop.tracker import FINISHED_TRACKER as _FINISHED_TRACKER  # pyzmq's name

__version__ = "0.1.0.dev0"
#: pyzmq's source revision (empty for a release); zloop has none.
__revision__ = ""

_adapters_path.install()

#: The libzmq version whose behaviour and wire protocol zloop follows.
ZMQ_VERSION_FOLLOWED = (4, 3, 5)
#: The pyzmq version whose API zloop follows (what ``pyzmq_version`` reports).
PYZMQ_VERSION_FOLLOWED = (27, 0, 0)


def zmq_version_info() -> tuple[int, int, int]:
    """The libzmq version zloop behaves like (pyzmq API)."""
    return ZMQ_VERSION_FOLLOWED


def zmq_version() -> str:
    """The libzmq version zloop behaves like, as a string."""
    return ".".join(map(str, ZMQ_VERSION_FOLLOWED))


def pyzmq_version() -> str:
    """The pyzmq version whose API zloop follows (zloop's own version is ``__version__``), so
    that programs checking pyzmq's version for a feature find what zloop provides."""
    return ".".join(map(str, PYZMQ_VERSION_FOLLOWED))


def pyzmq_version_info() -> tuple[int, int, int]:
    """:func:`pyzmq_version` as a tuple of ints."""
    return PYZMQ_VERSION_FOLLOWED


def has(capability: str) -> bool:
    """Which optional capabilities are available (``zmq.has``): ``ipc`` where the OS has Unix
    domain sockets, ``curve`` when PyNaCl is installed; everything else is False (zloop has no
    gssapi, pgm, norm, tipc, vmci, ws or draft API, and the options of a missing mechanism
    raise EINVAL, see :mod:`zloop.options`)."""
    if capability == "curve":
        return _has_curve()
    if capability == "ipc":
        return hasattr(_socket, "AF_UNIX")
    return False


__all__ = [
    "COPY_THRESHOLD",
    "DRAFT_API",
    "IPC_PATH_MAX_LEN",
    "PYZMQ_DRAFT_API",
    "PYZMQ_VERSION_FOLLOWED",
    "Again",
    "Context",
    "ContextOption",
    "ContextTerminated",
    "DeviceType",
    "DraftFDWarning",
    "Enum",
    "Errno",
    "Event",
    "Flag",
    "Frame",
    "IntEnum",
    "IntFlag",
    "InterruptedSystemCall",
    "Message",
    "MessageOption",
    "MessageTracker",
    "NormMode",
    "NotDone",
    "PollEvent",
    "Poller",
    "ProtocolErrorCode",
    "ReconnectStop",
    "RouterNotify",
    "SecurityMechanism",
    "Socket",
    "SocketOption",
    "SocketType",
    "Stopwatch",
    "SyncContext",
    "SyncSocket",
    "ZMQBaseError",
    "ZMQBindError",
    "ZMQError",
    "ZMQVersionError",
    "ZMQ_VERSION_FOLLOWED",
    "curve_keypair",
    "curve_public",
    "device",
    "has",
    "parse_monitor_message",
    "poll",
    "proxy",
    "proxy_steerable",
    "pyzmq_version",
    "pyzmq_version_info",
    "recv_monitor_message",
    "select",
    "strerror",
    "z85",
    "zmq_errno",
    "zmq_poll",
    "zmq_version",
    "zmq_version_info",
    "_FINISHED_TRACKER",
    "__revision__",
    "__version__",
    *_NAMES,
]

# ``from zloop.constants import PUSH``, as pyzmq's zmq.constants has the flat names too.
for _name in _NAMES:
    setattr(constants, _name, globals()[_name])
constants.__all__ = [*constants.__all__, *_NAMES]
del _name


#: pyzmq's importable modules, loaded on first attribute access: after ``import zloop``,
#: ``zloop.asyncio.Context()`` works as after ``import zmq.asyncio`` (pyzmq itself needs that
#: import; here both ways work). Only these names: nothing is imported before it is used.
_SUBMODULES = frozenset(
    {
        "asyncio",
        "auth",
        "backend",
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


def __dir__() -> list[str]:
    """The module's names and its submodules (importable on first access), as ``dir(zmq)``
    lists the submodules ``import zmq`` loads."""
    return sorted({*globals(), *_SUBMODULES})


def __getattr__(name: str) -> _Any:
    if name not in _SUBMODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ImportError as exc:
        # An AttributeError keeps hasattr() and getattr(zloop, name, None) working when the
        # module's event loop is not installed; the message says what is missing.
        raise AttributeError(f"zloop.{name} is not available: {exc}") from exc
