"""``allow_interrupt`` (``zmq.utils.win32``), a context manager for Ctrl-C on Windows.

With libzmq, a Windows process blocked in ``zmq_poll`` does not see Ctrl-C until the poll returns;
pyzmq's ``allow_interrupt(action)`` installs a console handler that calls ``action`` to unblock it,
and does nothing elsewhere. zloop blocks in Python, and Windows is not a tested platform for zloop
(see the README): here it does nothing on every platform, so programs that use it keep running.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["allow_interrupt"]


class allow_interrupt:
    """``with allow_interrupt(action): ...`` -- accepted and ignored (see the module docstring)."""

    def __init__(self, action: Callable[[], Any] | None = None) -> None:
        self.action = action

    def __enter__(self) -> None:
        return None

    def __exit__(self, *args: object) -> None:
        return None
