"""What the I/O layer writes to the application's log (logger ``"zloop"``), and what a peer cannot.

Policy
------
libzmq writes nothing about connections: what happens to them is reported through the socket
monitor (``sock.monitor`` / ``get_monitor_socket``), and zloop emits the same monitor events. Its
log follows two rules, so that no remote peer can flood the application's log:

* **What one peer did to its own connection is logged at DEBUG only**: a malformed greeting, frame
  or command, a refused or mismatched mechanism, an ERROR command, a reset or an early close, a
  handshake or heartbeat timeout. Each such line names the endpoint and the reason; nothing at INFO
  or above is ever written per connection.
* **A local fault that peers may trigger over and over is logged at WARNING or ERROR,
  rate-limited** (:data:`limited`): a bug caught by a safety net (an exception in a connection's
  handler or in a reactor callback), accepting failing for lack of descriptors or memory, a
  handshake that needs a ZAP handler when none is bound, a ZAP handler that answered garbage or went
  away. The first occurrence of each kind is written at its level, later ones within
  :data:`SUMMARY_INTERVAL` seconds go to DEBUG, and the next one written after the interval says
  how many were left out.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from zloop import _real

log = logging.getLogger("zloop")

#: Seconds between two records of one kind of rate-limited local fault.
SUMMARY_INTERVAL = 60.0


class RateLimitedLog:
    """At most one record per kind and interval at its own level; the rest at DEBUG, counted."""

    def __init__(
        self,
        logger: logging.Logger,
        interval: float = SUMMARY_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self._interval = interval
        self._clock = clock
        self._lock = _real.Lock()  # I/O threads (and closing application threads) share it
        # kind -> [time of the last record written at its level, records left out since]
        self._kinds: dict[str, list[float]] = {}

    def __call__(self, kind: str, level: int, msg: str, *args: Any, exc_info: bool = False) -> bool:
        """Log ``msg % args`` at ``level`` unless a record of ``kind`` was written less than the
        interval ago (then at DEBUG, and counted). ``kind`` is a fixed name (bounded set). True
        when written at ``level``."""
        with self._lock:
            now = self._clock()
            state = self._kinds.get(kind)
            if state is not None and now - state[0] < self._interval:
                state[1] += 1
                limited = True
            else:
                skipped = int(state[1]) if state is not None else 0
                since = now - state[0] if state is not None else 0.0
                self._kinds[kind] = [now, 0]
                limited = False
        if limited:
            self._logger.debug(msg, *args, exc_info=exc_info)
            return False
        if skipped:
            msg += " (%d more like this in the last %.0f s were logged at DEBUG only)"
            args = (*args, skipped, since)
        self._logger.log(level, msg, *args, exc_info=exc_info)
        return True


#: The I/O layer's rate-limited log (see the module docstring).
limited = RateLimitedLog(log)


def internal_error(endpoint: str) -> None:
    """From an engine's safety net (inside ``except``): a bug closed the connection to
    ``endpoint``; logged with its traceback, rate-limited."""
    limited(
        "internal error",
        logging.ERROR,
        "zloop: internal error on connection %s; closing it",
        endpoint,
        exc_info=True,
    )
