"""Shared fixtures for the live wire tests: pyzmq (libzmq 4.3) on one side, a hand-driven
``zloop.protocol.Connection`` on the other, over TCP or IPC, with zloop connecting or accepting."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

zmq = pytest.importorskip("zmq")

from zmtp_links import Link, Linker  # noqa: E402

from zloop.constants import SocketType  # noqa: E402

# Both directions of establishing the TCP connection; every pattern test runs over both.
TCP_MODES = ("zloop-connects", "zloop-accepts")


@pytest.fixture
def zctx() -> Iterator[Any]:
    ctx = zmq.Context()
    try:
        yield ctx
    finally:
        ctx.destroy(linger=0)


@pytest.fixture
def linker(zctx: Any, tmp_path: Path) -> Iterator[Linker]:
    # AF_UNIX paths are limited to ~107 bytes; pytest's tmp_path is well below that here.
    assert len(os.fsencode(tmp_path)) < 90, tmp_path
    linker = Linker(zctx, tmp_path)
    try:
        yield linker
    finally:
        linker.close()


@pytest.fixture(params=TCP_MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_link(linker: Linker, mode: str) -> Callable[..., Link]:
    """``make_link(zmq.ROUTER, SocketType.DEALER, options={...}, routing_id=b"x")`` in this
    test's connection mode."""

    def make(zmq_type: int, own_type: SocketType, **kwargs: Any) -> Link:
        return linker.link(zmq_type, own_type, mode, **kwargs)

    return make
