"""Writing a queue of buffers to a non-blocking OS socket, shared by the stream and raw engines."""

from __future__ import annotations

import errno
import socket
from typing import Any

#: At most this many buffers per ``sendmsg`` (IOV_MAX is 1024 on Linux).
IOV_MAX = 1024


class SendQueue(list[Any]):
    """Buffers (bytes / byte memoryviews) waiting for the OS socket, in order.

    After a partial write the head is a new view of the rest of a buffer; ``origin`` keeps that
    buffer itself alive until the rest is written or dropped, so a frame leaves zloop's hands only
    once all of it went out (what a ``MessageTracker`` waits for, see :mod:`zloop.tracker`: the
    new view alone would not keep a tracked frame alive).
    """

    __slots__ = ("origin",)

    def __init__(self) -> None:
        super().__init__()
        self.origin: Any = None

    def clear(self) -> None:
        super().clear()
        self.origin = None


def write_buffers(sock: socket.socket, out: SendQueue) -> int:
    """Write as much of ``out`` as the kernel takes now, removing what went out (a partly sent
    buffer is replaced by a memoryview of its rest, so nothing is copied).

    Returns 0 when everything went out or the socket would block (look at ``out`` to tell which),
    else the errno of the failure.
    """
    while out:
        try:
            sent = sock.send(out[0]) if len(out) == 1 else sock.sendmsg(out[:IOV_MAX])
        except (BlockingIOError, InterruptedError):
            return 0
        except OSError as exc:
            return exc.errno or errno.EPIPE
        done = 0
        rest = None
        for buf in out:
            size = len(buf)
            if sent < size:
                if sent:
                    rest = memoryview(buf)[sent:]
                break
            sent -= size
            done += 1
        if rest is not None:
            # Keep the partly written buffer itself: out[done] (an original, since only the head
            # can be a rest) when the head went out, else the head's own origin if it has one.
            if done or out.origin is None:
                out.origin = out[done]
            out[done] = rest
        elif done:
            out.origin = None
        del out[:done]
    return 0
