"""Fixtures shared by every test folder: a zloop context and a pyzmq (libzmq) context.

Both are destroyed with linger 0 after the test, so a failing test cannot hang the suite.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import zloop


@pytest.fixture
def ctx() -> Iterator[zloop.Context]:
    context = zloop.Context()
    try:
        yield context
    finally:
        context.destroy(linger=0)


@pytest.fixture
def zctx() -> Iterator[Any]:
    """A pyzmq context (pyzmq is a test dependency: the real libzmq peer)."""
    import zmq

    context = zmq.Context()
    try:
        yield context
    finally:
        context.destroy(linger=0)
