"""asyncio support under pyzmq's module name: ``import zloop.asyncio`` as ``import zmq.asyncio``.

``Context``, ``Socket`` and ``Poller`` are :mod:`zloop.adapters.asyncio`'s very objects (one
implementation, two names): ``zloop.asyncio.Socket is zloop.adapters.asyncio.Socket``. The rest is
pyzmq's module surface: ``Future`` (asyncio's), and the deprecated ``ZMQEventLoop`` (a plain
``SelectorEventLoop``) and ``install()`` (does nothing), which warn once as pyzmq's do.

``ProactorSelectorThreadWarning`` exists for programs that filter it; zloop never emits it: pyzmq
runs a selector thread (from tornado) to serve sockets on Windows' proactor loop, the zloop adapter
instead says at the first wait that it needs a loop with ``add_reader`` (see the README).
"""

from __future__ import annotations

import warnings
from asyncio import Future as Future  # a module attribute, as in pyzmq
from asyncio import SelectorEventLoop
from typing import Any

from zloop.adapters.asyncio import (
    Context,
    Poller,
    Socket,
)

__all__ = ["Context", "Poller", "Socket", "ZMQEventLoop", "install"]


class ProactorSelectorThreadWarning(RuntimeWarning):
    """pyzmq's warning that it started a selector thread for a Windows proactor loop (never
    emitted by zloop; see the module docstring)."""


_warned = False


def _deprecated() -> None:
    global _warned
    if _warned:
        return
    _warned = True
    warnings.warn(
        "ZMQEventLoop and zloop.asyncio.install are deprecated (as in pyzmq 17): any asyncio "
        "event loop with add_reader works, no special loop is needed.",
        DeprecationWarning,
        stacklevel=3,
    )


class ZMQEventLoop(SelectorEventLoop):
    """Deprecated: a plain ``asyncio.SelectorEventLoop`` (zloop sockets work on any such loop)."""

    def __init__(self, selector: Any = None) -> None:
        """``selector``: a ``selectors.BaseSelector`` (None: the default one)."""
        _deprecated()
        super().__init__(selector)


def install() -> None:
    """Deprecated and does nothing (pyzmq 17 stopped needing it)."""
    _deprecated()
