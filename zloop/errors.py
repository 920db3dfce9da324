"""Layer 0: the error tree, shaped like pyzmq's so ``except zmq.Again`` keeps working.

``ZMQError`` carries an ``errno`` (an :class:`~zloop.constants.Errno` value) and a message that
says what went wrong. Subclasses exist for the errors callers catch by type: :class:`Again`
(would block), :class:`ContextTerminated` (ETERM) and :class:`InterruptedSystemCall` (EINTR).
:class:`NotDone` (a ``MessageTracker`` wait that timed out) has no errno, as in pyzmq.
"""

from __future__ import annotations

import os

from zloop import _real
from zloop.constants import Errno

#: The errno of the last ZMQError made in each OS thread (libzmq's errno, for ``zmq_errno``).
_last = _real.ThreadLocal()


def zmq_errno() -> int:
    """The errno of the most recent ZeroMQ error in the calling thread (0 if none), as libzmq's
    ``zmq_errno()``: zloop has no C errno, so this is the last ``ZMQError`` made in this thread."""
    return int(getattr(_last, "errno", 0))


_ZMQ_MESSAGES = {
    Errno.EFSM: "Operation cannot be accomplished in current state",
    Errno.ENOCOMPATPROTO: "The protocol is not compatible with the socket type",
    Errno.ETERM: "Context was terminated",
    Errno.EMTHREAD: "No thread available",
}


def strerror(errnum: int) -> str:
    """The message for an errno value, including ZeroMQ's own codes."""
    try:
        return _ZMQ_MESSAGES[Errno(errnum)]
    except (KeyError, ValueError):
        return os.strerror(errnum)


class ZMQBaseError(Exception):
    """Base of every zloop exception."""


class ZMQError(ZMQBaseError):
    """An error with an ``errno``, as raised by libzmq calls."""

    errno: int
    strerror: str

    def __init__(self, errno: int | None = None, msg: str | None = None) -> None:
        if errno is None:
            errno = Errno.EINVAL
        self.errno = _last.errno = errno
        self.strerror = msg if msg is not None else strerror(errno)
        super().__init__(self.strerror)

    def __str__(self) -> str:
        return self.strerror

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.errno!r}, {self.strerror!r})"


class Again(ZMQError):
    """EAGAIN: the operation would block (NOBLOCK given, or a timeout expired)."""

    def __init__(self, errno: int | None = None, msg: str | None = None) -> None:
        if errno is None:
            # The common case (every NOBLOCK call that finds nothing): the message is made once.
            errno = Errno.EAGAIN
            if msg is None:
                msg = _EAGAIN_MESSAGE
        super().__init__(errno, msg)


_EAGAIN_MESSAGE = strerror(Errno.EAGAIN)


class ContextTerminated(ZMQError):
    """ETERM: the socket's context was terminated."""

    def __init__(self, errno: int | None = None, msg: str | None = None) -> None:
        super().__init__(Errno.ETERM if errno is None else errno, msg)


class InterruptedSystemCall(ZMQError):
    """EINTR: a blocking call was interrupted by a signal whose handler did not raise."""

    def __init__(self, errno: int | None = None, msg: str | None = None) -> None:
        super().__init__(Errno.EINTR if errno is None else errno, msg)


class NotDone(ZMQBaseError):
    """``MessageTracker.wait`` timed out while zloop still held the tracked buffer."""


class ZMQBindError(ZMQBaseError):
    """``bind_to_random_port`` found no free port in its range."""


class ZMQVersionError(NotImplementedError):
    """A feature is not available."""


class DraftFDWarning(RuntimeWarning):
    """pyzmq's warning for its experimental FD on thread-safe (draft) sockets. zloop has no draft
    socket type, so it never issues it; the class exists for programs that filter it."""

    def __init__(self, msg: str = "") -> None:
        super().__init__(msg or "FD support on thread-safe (draft) sockets is experimental")


def error_for(errnum: int, msg: str | None = None) -> ZMQError:
    """The most specific exception for an errno value."""
    if errnum == Errno.EAGAIN:
        return Again(errnum, msg)
    if errnum == Errno.ETERM:
        return ContextTerminated(errnum, msg)
    if errnum == Errno.EINTR:
        return InterruptedSystemCall(errnum, msg)
    return ZMQError(errnum, msg)
