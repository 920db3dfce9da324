"""``decorators.context`` / ``decorators.socket`` on pyzmq and zloop: what is injected, where, and
that it is closed when the call ends."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from zl_testing import DEADLINE_MS


def _decorators(impl: Any) -> Any:
    return importlib.import_module(f"{impl.__name__}.decorators")


def test_context_is_appended_and_destroyed(impl: Any) -> None:
    dec = _decorators(impl)
    seen: list[Any] = []

    @dec.context()
    def work(a: int, ctx: Any) -> int:
        assert isinstance(ctx, impl.Context) and not ctx.closed
        seen.append(ctx)
        return a + 1

    assert work.__name__ == "work"
    assert work(1) == 2
    assert seen[0].closed
    assert work(1) == 2 and seen[1] is not seen[0]  # a new context per call


def test_context_by_name_and_duplicate(impl: Any) -> None:
    dec = _decorators(impl)

    @dec.context("ctx")
    def by_position_name(ctx: Any = None) -> Any:
        return ctx

    @dec.context(name="ctx")
    def by_keyword_name(**kwargs: Any) -> Any:
        return kwargs["ctx"]

    assert isinstance(by_position_name(), impl.Context)
    assert isinstance(by_keyword_name(), impl.Context)
    with pytest.raises(TypeError, match="multiple values for argument 'ctx'"):
        by_position_name(ctx=1)


def test_context_arguments_go_to_the_constructor(impl: Any) -> None:
    dec = _decorators(impl)

    @dec.context(2)
    def threads(ctx: Any) -> int:
        return int(ctx.get(impl.IO_THREADS))

    assert threads() == 2


def test_stacked_context_and_sockets(impl: Any) -> None:
    dec = _decorators(impl)
    kept: list[Any] = []

    @dec.context()
    @dec.socket(impl.PUSH)
    @dec.socket("pull", impl.PULL)
    def pipeline(ctx: Any, push: Any, pull: Any) -> list[bytes]:
        assert push.context is ctx and pull.context is ctx  # found among the arguments
        assert (push.type, pull.type) == (impl.PUSH, impl.PULL)
        kept.extend([ctx, push, pull])
        port = pull.bind_to_random_port("tcp://127.0.0.1")
        push.connect(f"tcp://127.0.0.1:{port}")
        pull.rcvtimeo = DEADLINE_MS
        push.send_multipart([b"a", b"b"])
        return list(pull.recv_multipart())

    assert pipeline() == [b"a", b"b"]
    ctx, push, pull = kept
    assert push.closed and pull.closed and ctx.closed


def test_socket_takes_the_context_keyword_or_the_instance(impl: Any, impl_ctx: Any) -> None:
    dec = _decorators(impl)

    @dec.socket(impl.PAIR)
    def with_keyword(sock: Any, context: Any = None) -> Any:
        return sock.context

    @dec.socket(impl.PAIR, context_name="c")
    def with_named_keyword(sock: Any, c: Any = None) -> Any:
        return sock.context

    @dec.socket(impl.PAIR)
    def without() -> Any:
        raise AssertionError("unreachable")

    @dec.socket(impl.PAIR)
    def from_instance(sock: Any) -> Any:
        return sock.context

    assert with_keyword(context=impl_ctx) is impl_ctx
    assert with_named_keyword(c=impl_ctx) is impl_ctx
    assert from_instance() is impl.Context.instance()
    with pytest.raises(TypeError):
        without()  # the socket is appended to no parameter


def test_socket_closed_when_the_function_raises(impl: Any, impl_ctx: Any) -> None:
    dec = _decorators(impl)
    kept: list[Any] = []

    @dec.socket(impl.REQ, name="req")
    def fails(ctx: Any, req: Any) -> None:
        kept.append(req)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fails(impl_ctx)
    assert kept[0].closed and kept[0].context is impl_ctx
