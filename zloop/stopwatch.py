"""``Stopwatch``: pyzmq's deprecated microsecond timer, kept so programs that use it run."""

from __future__ import annotations

import time
import warnings

__all__ = ["Stopwatch"]


class Stopwatch:
    """Deprecated in pyzmq (use ``time.monotonic``): ``start()``, then ``stop()`` returns the
    microseconds elapsed. Making one warns with DeprecationWarning, as pyzmq's."""

    def __init__(self) -> None:
        warnings.warn(
            "zmq.Stopwatch is deprecated. Use stdlib time.monotonic and friends instead",
            DeprecationWarning,
            stacklevel=2,
        )
        self._start = 0.0

    def start(self) -> None:
        """Start (or restart) counting."""
        self._start = time.monotonic()

    def stop(self) -> int:
        """Microseconds since :meth:`start`."""
        return int(1e6 * (time.monotonic() - self._start))
