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


@pytest.fixture(params=["zloop", pytest.param("pyzmq", marks=pytest.mark.interop)])
def impl(request: pytest.FixtureRequest) -> Any:
    """The implementation under test: ``zloop``, or pyzmq (real libzmq) as the reference.

    A behaviour test written against ``impl`` runs the very same code on both, so the libzmq run
    shows what the assertion expects and the zloop run shows that zloop matches it.
    """
    if request.param == "pyzmq":
        import zmq

        return zmq
    return zloop


@pytest.fixture
def impl_ctx(impl: Any) -> Iterator[Any]:
    """A context of ``impl`` (destroyed with linger 0 after the test)."""
    context = impl.Context()
    try:
        yield context
    finally:
        context.destroy(linger=0)
