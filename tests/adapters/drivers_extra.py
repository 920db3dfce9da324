"""Helpers for the trio / gevent / tornado adapter tests (loop-idiom tests and conformance drivers).

``sync_pair`` makes two connected plain sockets of one flavour ("zloop" or "pyzmq"); the adapters
under test wrap them with ``Socket.from_socket``.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

import zloop

_names = itertools.count()

#: The socket flavours every loop-idiom test runs with (pyzmq sockets are real libzmq: interop).
FLAVOURS = [
    pytest.param("zloop", id="zloop"),
    pytest.param("pyzmq", id="pyzmq", marks=pytest.mark.interop),
]


def sync_pair(
    flavour: str, ctx: Any, zctx: Any, bind_type: int, connect_type: int, transport: str = "inproc"
) -> tuple[Any, Any]:
    """A bound socket of ``bind_type`` and a connected ``connect_type`` socket (LINGER 0)."""
    context = ctx if flavour == "zloop" else zctx
    a = context.socket(bind_type)
    b = context.socket(connect_type)
    for s in (a, b):
        s.setsockopt(zloop.LINGER, 0)
    if transport == "inproc":
        addr = f"inproc://extra-{flavour}-{next(_names)}"
        a.bind(addr)
    else:
        a.bind("tcp://127.0.0.1:*")
        addr = a.getsockopt(zloop.LAST_ENDPOINT).decode()
    b.connect(addr)
    return a, b
