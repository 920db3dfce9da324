"""What the tests of the loops' connection readers share (test_gevent_conn_read.py and
test_asyncio_conn_read.py): the transports and peers they run on, a peer socket of either
implementation, and a count of the ``StreamEngine.app_read`` calls that delivered something
(the ``reads`` fixture in this folder's conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from zl_testing import with_deadlines

import zloop
from zloop.io.engine import APP_READ_GOT, APP_READ_WOKE, StreamEngine
from zloop.pipe import Pipe

TRANSPORTS = ("tcp", "ipc")
PEERS = ("zloop", "pyzmq")


class Reads:
    def __init__(self) -> None:
        self.delivered = 0  # app_read calls that delivered (or handed over) something


def count_reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[Reads]:
    """Body of the ``reads`` fixture: counts delivering ``app_read`` calls while a test runs."""
    counts = Reads()
    original = StreamEngine.app_read

    def counting(self: StreamEngine, buf: memoryview, reader: Pipe) -> int:
        result = original(self, buf, reader)
        if result in (APP_READ_GOT, APP_READ_WOKE):
            counts.delivered += 1
        return result

    monkeypatch.setattr(StreamEngine, "app_read", counting)
    yield counts


def peer_socket(peer: str, ctx: Any, zctx: Any, kind: str) -> Any:
    """A socket of type ``kind`` (a name, e.g. "PUSH") of zloop or of pyzmq (libzmq)."""
    if peer == "zloop":
        return with_deadlines(ctx.socket(getattr(zloop, kind)))
    import zmq

    return with_deadlines(zctx.socket(getattr(zmq, kind)))
