"""Writing a queue of buffers to a non-blocking OS socket, shared by the stream and raw engines."""

from __future__ import annotations

import errno
import socket
from typing import Any

#: At most this many buffers per ``sendmsg`` (IOV_MAX is 1024 on Linux).
IOV_MAX = 1024


def write_buffers(sock: socket.socket, out: list[Any]) -> int:
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
        for buf in out:
            size = len(buf)
            if sent < size:
                if sent:
                    out[done] = memoryview(buf)[sent:]
                break
            sent -= size
            done += 1
        del out[:done]
    return 0
