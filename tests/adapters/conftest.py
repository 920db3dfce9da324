"""Fixtures of the adapter conformance suite: ``driver`` (every loop) x ``flavour`` (zloop, pyzmq).

``make_pair(bind_type, connect_type, transport="inproc", bind_opts=..., connect_opts=...)`` returns
two connected raw sockets of the current flavour (LINGER 0; options set before bind/connect).
pyzmq cases are real libzmq and carry the ``interop`` mark.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conn_read_helpers import Reads, count_reads
from drivers import Driver, driver_params, load_driver
from zl_testing import endpoint_for


@pytest.fixture(params=driver_params())
def driver(request: pytest.FixtureRequest) -> Driver:
    loaded = load_driver(request.param)
    reason = loaded.unsupported.get(getattr(request.node, "originalname", request.node.name))
    if reason is not None:
        pytest.skip(f"{loaded.name}: {reason}")
    return loaded


@pytest.fixture(
    params=[
        pytest.param("zloop", id="zloop"),
        pytest.param("pyzmq", id="pyzmq", marks=pytest.mark.interop),
    ]
)
def flavour(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def flavour_ctx(flavour: str, ctx: Any, zctx: Any) -> Any:
    """The context of the current flavour (zloop or pyzmq)."""
    return ctx if flavour == "zloop" else zctx


@pytest.fixture
def make_pair(flavour_ctx: Any, tmp_path: Path) -> Callable[..., tuple[Any, Any]]:
    def make(
        bind_type: int,
        connect_type: int,
        transport: str = "inproc",
        bind_opts: dict[int, Any] | None = None,
        connect_opts: dict[int, Any] | None = None,
    ) -> tuple[Any, Any]:
        a = flavour_ctx.socket(bind_type)
        b = flavour_ctx.socket(connect_type)
        for sock, opts in ((a, bind_opts), (b, connect_opts)):
            sock.setsockopt(17, 0)  # LINGER
            for option, value in (opts or {}).items():
                sock.setsockopt(option, value)
        a.bind(endpoint_for(transport, tmp_path, "adp"))
        b.connect(a.getsockopt(32).decode())  # LAST_ENDPOINT
        return a, b

    return make


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[Reads]:
    """Counts the ``StreamEngine.app_read`` calls that delivered something (conn_read_helpers)."""
    yield from count_reads(monkeypatch)


@pytest.fixture
def no_cyclic_gc() -> Iterator[None]:
    """Only reference counting frees anything while a test runs (tests that prove an object is
    let go of at once, not at the next cyclic collection)."""
    was = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
