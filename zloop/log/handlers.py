"""``PUBHandler``: log records published on a PUB socket, with topics a SUB can filter on.

Each record becomes a two-frame message ``[topic, text]``:

* ``topic`` is ``root_topic`` (left out while empty), then the level name (``INFO``, ``ERROR`` ...),
  then an optional subtopic, joined by dots, UTF-8: ``b"myapp.WARNING.db.pool"``. The subtopic
  comes from the message itself: ``log.warning("db.pool::%d connections left", n)`` -- what precedes
  the first ``::`` (:data:`TOPIC_DELIM`) is the subtopic, the rest the message (the record the other
  handlers see is not changed). :class:`TopicLogger` writes that form for you:
  ``log.warning("db.pool", "%d connections left", n)``.
* ``text`` is the record formatted with the level's formatter, UTF-8. The defaults (pyzmq's):
  INFO ``"%(message)s\\n"``; DEBUG, WARNING and CRITICAL
  ``"%(levelname)s %(filename)s:%(lineno)d - %(message)s\\n"``; ERROR the same plus
  ``" - %(exc_info)s"`` before the newline. ``setFormatter(fmt)`` sets one formatter for every
  level, ``setFormatter(fmt, level)`` one level's.

A SUB subscribing to ``b""`` gets everything; to ``b"myapp.ERROR"`` only that level (with the
root topic first). A record whose formatting fails goes to ``handleError`` (logging's rule) and is
not sent.

Differences from pyzmq 27: a record of a level with no formatter of its own (a custom level such as
25) is formatted with the formatter of the nearest standard level below it (pyzmq raises KeyError
into ``handleError`` and sends nothing); :class:`TopicLogger`'s ``debug`` ... ``critical`` log at
their own level and report the caller's file and line (pyzmq 27's raise ``TypeError``: its
generated methods all end up in ``fatal``).
"""

from __future__ import annotations

import copy
import logging
from typing import Any, Final

from zloop.constants import SocketType
from zloop.context import Context

__all__ = ["TOPIC_DELIM", "PUBHandler", "TopicLogger"]

#: Separates the subtopic from the message in a log message (``"sub.topic::message"``).
TOPIC_DELIM: Final = "::"

_WITH_PLACE = "%(levelname)s %(filename)s:%(lineno)d - %(message)s\n"


class PUBHandler(logging.Handler):
    """A ``logging.Handler`` publishing each record on a PUB socket (see the module docstring).

    ``PUBHandler(sock)`` uses a socket you made (usually a bound PUB); ``PUBHandler("tcp://...")``
    makes a PUB in ``context`` (a new :class:`~zloop.Context` if None) and binds it there.
    """

    def __init__(
        self,
        interface_or_socket: Any,
        context: Any = None,
        root_topic: str = "",
    ) -> None:
        super().__init__()
        self.root_topic = root_topic
        #: The formatter of each level (``setFormatter`` changes them).
        self.formatters: dict[int, logging.Formatter | None] = {
            logging.DEBUG: logging.Formatter(_WITH_PLACE),
            logging.INFO: logging.Formatter("%(message)s\n"),
            logging.WARNING: logging.Formatter(_WITH_PLACE),
            logging.ERROR: logging.Formatter(
                "%(levelname)s %(filename)s:%(lineno)d - %(message)s - %(exc_info)s\n"
            ),
            logging.CRITICAL: logging.Formatter(_WITH_PLACE),
        }
        if isinstance(interface_or_socket, str | bytes):
            self.ctx = context or Context()
            self.socket = self.ctx.socket(SocketType.PUB)
            addr = interface_or_socket
            self.socket.bind(addr.decode() if isinstance(addr, bytes) else addr)
        else:
            self.socket = interface_or_socket
            self.ctx = interface_or_socket.context

    @property
    def root_topic(self) -> str:
        """The first part of every topic ("" leaves it out)."""
        return self._root_topic

    @root_topic.setter
    def root_topic(self, value: str | bytes) -> None:
        self.setRootTopic(value)

    def setRootTopic(self, root_topic: str | bytes) -> None:
        """Set :attr:`root_topic` (bytes are decoded as UTF-8). A SUB must subscribe to a prefix of
        it (``b""`` for everything) to receive this handler's records."""
        self._root_topic = (
            root_topic.decode("utf-8") if isinstance(root_topic, bytes) else root_topic
        )

    def setFormatter(self, fmt: logging.Formatter | None, level: int = logging.NOTSET) -> None:
        """Use ``fmt`` for ``level``, or for every level when ``level`` is NOTSET (the default)."""
        if level == logging.NOTSET:
            for known in self.formatters:
                self.formatters[known] = fmt
        else:
            self.formatters[level] = fmt

    def format(self, record: logging.LogRecord) -> str:
        """The record's text, with its level's formatter (see the module docstring)."""
        formatter = self.formatters.get(record.levelno)
        if formatter is None and record.levelno not in self.formatters:
            below = [level for level in self.formatters if level <= record.levelno]
            formatter = self.formatters[max(below) if below else min(self.formatters)]
        return (formatter or logging.Formatter()).format(record)

    def emit(self, record: logging.LogRecord) -> None:
        """Publish ``record`` as ``[topic, text]`` on the socket."""
        subtopic, sep, message = str(record.msg).partition(TOPIC_DELIM)
        if sep:
            record = copy.copy(record)  # the other handlers keep the record as it was
            record.msg = message
        else:
            subtopic = ""
        try:
            text = self.format(record).encode("utf-8")
        except Exception:
            self.handleError(record)
            return
        parts = [p for p in (self.root_topic, record.levelname, subtopic) if p]
        self.socket.send_multipart([".".join(parts).encode("utf-8", "replace"), text])


class TopicLogger(logging.Logger):
    """A logger whose methods take a topic first: ``log.info("db.pool", "%d left", n)`` logs
    ``"db.pool::%d left"``, which :class:`PUBHandler` publishes under that subtopic.

    ``logging.setLoggerClass(TopicLogger)`` before ``logging.getLogger(name)`` makes one.
    """

    def log(  # type: ignore[override]
        self, level: int, topic: str, msg: str, *args: Any, **kwargs: Any
    ) -> None:
        """Log ``msg % args`` at ``level`` under ``topic``."""
        kwargs["stacklevel"] = kwargs.get("stacklevel", 1) + 1  # the caller's file and line
        super().log(level, f"{topic}{TOPIC_DELIM}{msg}", *args, **kwargs)

    def _at(self, level: int, topic: str, msg: str, args: Any, kwargs: dict[str, Any]) -> None:
        if self.isEnabledFor(level):
            kwargs["stacklevel"] = kwargs.get("stacklevel", 1) + 2
            self._log(level, f"{topic}{TOPIC_DELIM}{msg}", args, **kwargs)

    def debug(self, topic: str, msg: str, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """Log at DEBUG under ``topic``."""
        self._at(logging.DEBUG, topic, msg, args, kwargs)

    def info(self, topic: str, msg: str, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """Log at INFO under ``topic``."""
        self._at(logging.INFO, topic, msg, args, kwargs)

    def warning(self, topic: str, msg: str, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """Log at WARNING under ``topic``."""
        self._at(logging.WARNING, topic, msg, args, kwargs)

    warn = warning  # type: ignore[assignment]

    def error(self, topic: str, msg: str, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """Log at ERROR under ``topic``."""
        self._at(logging.ERROR, topic, msg, args, kwargs)

    def exception(  # type: ignore[override]
        self, topic: str, msg: str, *args: Any, exc_info: Any = True, **kwargs: Any
    ) -> None:
        """Log at ERROR under ``topic``, with the exception being handled."""
        self._at(logging.ERROR, topic, msg, args, {**kwargs, "exc_info": exc_info})

    def critical(self, topic: str, msg: str, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """Log at CRITICAL under ``topic``."""
        self._at(logging.CRITICAL, topic, msg, args, kwargs)

    fatal = critical  # type: ignore[assignment]
