"""``zloop.backend``: the names of pyzmq's ``zmq.backend`` (its binding to libzmq).

In pyzmq the backend is the Cython/CFFI layer over libzmq; zloop's engine is Python throughout, so
these are the very objects :mod:`zloop` exports, under the module name programs may import them
from (``from zmq.backend import zmq_poll``).
"""

from __future__ import annotations

from zloop import (
    IPC_PATH_MAX_LEN,
    PYZMQ_DRAFT_API,
    Context,
    Frame,
    Message,
    Socket,
    curve_keypair,
    curve_public,
    has,
    proxy,
    proxy_steerable,
    strerror,
    zmq_errno,
    zmq_poll,
    zmq_version_info,
)

__all__ = [
    "IPC_PATH_MAX_LEN",
    "PYZMQ_DRAFT_API",
    "Context",
    "Frame",
    "Message",
    "Socket",
    "curve_keypair",
    "curve_public",
    "has",
    "proxy",
    "proxy_steerable",
    "strerror",
    "zmq_errno",
    "zmq_poll",
    "zmq_version_info",
]
