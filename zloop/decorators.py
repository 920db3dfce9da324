"""``@context()`` and ``@socket(type)``: a function gets a fresh context or socket per call, closed
when it returns (``zmq.decorators``)::

    from zloop.decorators import context, socket

    @context()
    @socket(zloop.PUSH)
    def work(ctx, push):
        push.connect("tcp://127.0.0.1:5555")
        push.send(b"job")

Each decorator makes its object when the function is *called*, passes it in, and closes it when the
call ends (``with``: the context is destroyed, the socket closed), whatever the function raised.

Passing the object: by default it is appended to the positional arguments (so stacked decorators
give ``(ctx, sock)`` in the order written). A name -- the first positional argument if it is a
``str``, or ``name=`` -- passes it as that keyword argument instead; a call that already gives that
keyword raises ``TypeError``, as Python does for a duplicate argument. The other arguments go to
``Context(...)`` / ``ctx.socket(...)``.

Which context a socket comes from, looked up at each call: the keyword argument named
``context_name`` (default ``"context"``) if it holds a context, else the first positional argument
that is a context (e.g. one passed in by an outer ``@context()``), else ``Context.instance()``.
The green and trio adapters' contexts count (their sockets are then green or trio sockets).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Protocol, TypeVar, cast

from zloop.context import Context

__all__ = ["context", "socket"]

_F = TypeVar("_F", bound=Callable[..., object])


class _Decorator(Protocol):
    def __call__(self, func: _F, /) -> _F: ...


def _split_name(
    args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[str | None, tuple[Any, ...]]:
    """The keyword to pass the object under (None: positional), and the remaining positionals."""
    if isinstance(kwargs.get("name"), str):
        return str(kwargs.pop("name")), args
    if args and isinstance(args[0], str):
        return args[0], args[1:]
    return None, args


def _decorate(
    kw_name: str | None,
    make: Callable[[tuple[Any, ...], dict[str, Any]], AbstractContextManager[Any]],
) -> _Decorator:
    """A decorator that, per call, enters ``make(call_args, call_kwargs)`` and passes its value."""

    def decorator(func: _F) -> _F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with make(args, kwargs) as obj:
                if kw_name is None:
                    return func(*args, obj, **kwargs)
                if kw_name in kwargs:
                    raise TypeError(
                        f"{func.__name__}() got multiple values for argument '{kw_name}'"
                    )
                return func(*args, **{**kwargs, kw_name: obj})

        return cast(_F, wrapper)

    return decorator


def context(*args: Any, **kwargs: Any) -> _Decorator:
    """Give the decorated function a new :class:`~zloop.Context` per call, destroyed after it.

    ``@context()`` appends it to the positional arguments; ``@context("ctx")`` or
    ``@context(name="ctx")`` passes it as the keyword ``ctx``. Other arguments go to ``Context()``.
    """
    kw_name, ctx_args = _split_name(args, kwargs)
    return _decorate(kw_name, lambda _args, _kwargs: Context(*ctx_args, **kwargs))


def socket(*args: Any, **kwargs: Any) -> _Decorator:
    """Give the decorated function a new socket per call, closed after it.

    ``@socket(zloop.PUSH)`` appends it to the positional arguments; ``@socket("push", zloop.PUSH)``
    or ``@socket(zloop.PUSH, name="push")`` passes it as a keyword. ``context_name=`` names the
    keyword argument to take the context from (default ``"context"``); other arguments go to
    ``ctx.socket()``. The module docstring says which context is used.
    """
    kw_name, sock_args = _split_name(args, kwargs)
    context_name = kwargs.pop("context_name", "context")

    def make(
        call_args: tuple[Any, ...], call_kwargs: dict[str, Any]
    ) -> AbstractContextManager[Any]:
        ctx = _find_context(context_name, call_args, call_kwargs)
        return cast(AbstractContextManager[Any], ctx.socket(*sock_args, **kwargs))

    return _decorate(kw_name, make)


def _find_context(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if name in kwargs and _is_context(kwargs[name]):
        return kwargs[name]
    for arg in args:
        if _is_context(arg):
            return arg
    return Context.instance()


def _is_context(obj: Any) -> bool:
    """A zloop context, or one of the green / trio adapters' contexts (checked only if loaded)."""
    if isinstance(obj, Context):
        return True
    for module in ("zloop.adapters.gevent", "zloop.adapters.trio"):
        adapter = sys.modules.get(module)
        if adapter is not None and isinstance(obj, adapter.Context):
            return True
    return False
