"""Fixtures for the readiness-contract tests: a context per test, and connected socket pairs
parametrised over transports (tcp, ipc, inproc) and kinds (PUSH->PULL, PULL<-PUSH, PAIR<->PAIR)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import KINDS, TRANSPORTS, Pair, make_pair

import zloop


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def pair_factory(
    ctx: zloop.Context, transport: str, kind: str, tmp_path: Path
) -> Callable[..., Pair]:
    """``pair_factory(sndhwm=5, rcvhwm=5)``: a connected pair for this test's transport and kind."""

    def make(**options: Any) -> Pair:
        return make_pair(ctx, transport, kind, tmp_path, **options)

    return make


@pytest.fixture
def pair(pair_factory: Callable[..., Pair]) -> Pair:
    return pair_factory()
