"""Every public name of the documented modules has a docstring, and no internal looks public.

The API reference is built from docstrings, so a public name without one is a hole in it. The
documented modules are ``zloop``, ``zloop.auth`` (and its public submodules) and each
``zloop.adapters`` module. Public means: the names in the module's ``__all__`` (each module here
has one), and for each zloop class among them every attribute of it, or of a zloop base class, whose
name has no leading underscore. Checked there: modules, classes, functions, methods (also static and
class methods), properties, and ``__slots__`` attributes (documented in the class docstring's
``Attributes:`` section, or by a ``__slots__`` mapping).

Not checked: plain data (constants such as ``zloop.PUSH``: their enum class is documented) and, on
sockets and the adapters' socket wrappers, the socket options as attributes (``sock.sndhwm``,
``sock.SNDHWM``...), which
:func:`zloop._sockattrs.install_option_attributes` makes from :class:`zloop.constants.SocketOption`
and documents itself. Names that come from other projects (``enum.Enum`` re-exported as pyzmq
does) are documented there.

A method must carry its own docstring even when it overrides a documented one: an adapter's
``recv`` returns an awaitable where the socket's returns bytes, so an inherited text would be wrong.
"""

from __future__ import annotations
import __future__

import importlib
import inspect
import re
import types
from collections.abc import Iterator
from typing import Any

import pytest

import zloop
from zloop._extras import MissingExtraError
from zloop.constants import SocketOption

MODULES = [
    "zloop",
    "zloop.auth",
    "zloop.auth.base",
    "zloop.auth.thread",
    "zloop.auth.certs",
    "zloop.auth.asyncio",
    "zloop.auth.ioloop",
    "zloop.auth.trio",
    "zloop.auth.gevent",
    "zloop.adapters",
    "zloop.adapters.selectors",
    "zloop.adapters.asyncio",
    "zloop.adapters.trio",
    "zloop.adapters.gevent",
    "zloop.adapters.tornado",
    "zloop.adapters.anyio",
    "zloop.adapters.twisted",
]

#: The socket options as attributes, under both spellings (see zloop._sockattrs).
OPTION_ATTRIBUTES = frozenset(
    spelling for upper in SocketOption.__members__ for spelling in (upper, upper.lower())
)


def _import(name: str) -> types.ModuleType:
    try:
        return importlib.import_module(name)
    except MissingExtraError as exc:  # pragma: no cover - the dev environment has every extra
        pytest.skip(str(exc))


def _ours(obj: Any) -> bool:
    return (getattr(obj, "__module__", None) or "").split(".")[0] == "zloop"


def _has_doc(obj: Any) -> bool:
    return bool((getattr(obj, "__doc__", None) or "").strip())


def _documented_in_attributes(cls: type, name: str) -> bool:
    """Is ``name`` listed in the ``Attributes:`` section of the class docstring?"""
    doc = inspect.cleandoc(cls.__doc__ or "")
    section = re.search(r"^Attributes:\n((?:[ \t]+.*\n?|\n)*)", doc, re.MULTILINE)
    return bool(section and re.search(rf"^\s+{re.escape(name)}\b", section.group(1), re.MULTILINE))


def _takes_options(cls: type) -> bool:
    """Are socket options attributes of ``cls``'s instances (a socket, or an adapter's wrapper)?"""
    from zloop.adapters._wrapper import SocketWrapper

    return issubclass(cls, zloop.Socket | SocketWrapper)


def _undocumented_members(cls: type) -> Iterator[str]:
    for klass in cls.__mro__:
        if not _ours(klass):
            continue
        slots = klass.__dict__.get("__slots__")
        options = OPTION_ATTRIBUTES if _takes_options(klass) else frozenset()
        for name, attr in vars(klass).items():
            if name.startswith("_") or name in options:
                continue
            where = f"{klass.__module__}.{klass.__qualname__}.{name}"
            if isinstance(attr, staticmethod | classmethod):
                if not _has_doc(attr.__func__):
                    yield where
            elif isinstance(attr, property) or inspect.isfunction(attr):
                if not _has_doc(attr):
                    yield where
            elif isinstance(attr, types.MemberDescriptorType):
                in_mapping = isinstance(slots, dict) and bool(slots.get(name))
                if not (in_mapping or _documented_in_attributes(klass, name)):
                    yield where
            elif callable(getattr(attr, "__wrapped__", None)) and not _has_doc(attr):
                yield where  # a wrapped method (zloop._sockattrs.OptionMethod)


def _undocumented(module: types.ModuleType) -> Iterator[str]:
    if not _has_doc(module):
        yield f"{module.__name__} (the module)"
    names = getattr(module, "__all__", None)
    assert names is not None, f"{module.__name__} has no __all__"
    for name in names:
        if name.startswith("_"):
            continue
        obj = getattr(module, name)
        if isinstance(obj, types.ModuleType):
            if obj.__name__.startswith("zloop") and not _has_doc(obj):
                yield f"{obj.__name__} (the module)"
        elif inspect.isclass(obj):
            if _ours(obj):
                if not _has_doc(obj):
                    yield f"{obj.__module__}.{obj.__qualname__}"
                yield from _undocumented_members(obj)
        elif inspect.isroutine(obj) and _ours(obj) and not _has_doc(obj):
            yield f"{module.__name__}.{name}"


@pytest.mark.parametrize("module_name", MODULES)
def test_every_public_name_has_a_docstring(module_name: str) -> None:
    missing = sorted(set(_undocumented(_import(module_name))))
    assert not missing, f"{len(missing)} public names without a docstring:\n" + "\n".join(missing)


def test_the_checker_sees_a_missing_docstring() -> None:
    """The walk above finds what it is meant to find (it is not vacuously green)."""

    class Sample:
        """Documented."""

        __slots__ = ("_private", "hidden")

        def method(self) -> None:
            pass

        @property
        def prop(self) -> int:
            return 0

    Sample.__module__ = "zloop.sample"
    assert sorted(_undocumented_members(Sample)) == [
        f"zloop.sample.{Sample.__qualname__}.{name}" for name in ("hidden", "method", "prop")
    ]


# --- internals are not public --------------------------------------------------------------------

#: zloop's own additions to pyzmq's public names on these classes (each is documented API).
ZLOOP_EXTRAS = {
    "Socket": {"level_fd"},
    "Context": set(),
    "Frame": {"fast_copy"},
    "Poller": set(),
    "MessageTracker": set(),
}

#: Names that once were public by accident: the engine's entry points on a socket.
FORMER_INTERNALS = {"Socket": {"attach_pipe", "post", "options"}}


def _public(obj: Any) -> set[str]:
    return {name for name in dir(obj) if not name.startswith("_")}


def _zloop_and_pyzmq_objects(zmq: Any) -> Iterator[tuple[str, Any, Any]]:
    """(class name, zloop instance, pyzmq instance) for each class of ZLOOP_EXTRAS."""
    for name in ("Frame", "Poller", "MessageTracker"):
        yield (
            name,
            getattr(zloop, name)(*([b"x"] if name == "Frame" else [])),
            getattr(zmq, name)(*([b"x"] if name == "Frame" else [])),
        )
    zctx, pctx = zloop.Context(), zmq.Context()
    zsock, psock = zctx.socket(zloop.PUSH), pctx.socket(zmq.PUSH)
    try:
        yield "Context", zctx, pctx
        yield "Socket", zsock, psock
    finally:
        zsock.close(0)
        psock.close(0)
        zctx.term()
        pctx.term()


@pytest.mark.interop
def test_public_names_are_pyzmq_names_or_documented_extras() -> None:
    """A user sees on zloop's objects what pyzmq's have, plus the documented extras only.

    Class and instance are both looked at: pyzmq sets some attributes in ``__init__`` (a
    tracker's ``peers``) where zloop has a slot.
    """
    zmq = pytest.importorskip("zmq")
    extras = {}
    for name, ours, theirs in _zloop_and_pyzmq_objects(zmq):
        mine = _public(ours) | _public(type(ours))
        pyzmq = _public(theirs) | _public(type(theirs))
        extra = mine - pyzmq - OPTION_ATTRIBUTES - ZLOOP_EXTRAS[name]
        if extra:
            extras[name] = sorted(extra)
    assert not extras, f"zloop's objects expose names pyzmq's do not: {extras}"


def test_live_objects_expose_no_internal() -> None:
    """No former internal is reachable on a socket, and an instance adds no public name."""
    ctx = zloop.Context()
    try:
        sock = ctx.socket(zloop.PUSH)
        try:
            for name in FORMER_INTERNALS["Socket"]:
                assert not hasattr(sock, name), f"Socket.{name} is public"
            assert _public(sock) - _public(zloop.Socket) == set()
        finally:
            sock.close(0)
    finally:
        ctx.term()


def test_the_package_namespace_is_its_api_and_its_submodules() -> None:
    """``dir(zloop)`` (what completion offers) is ``__all__`` plus submodules (and the
    ``from __future__ import annotations`` every module has), nothing else."""
    stray = {
        name
        for name in _public(zloop)
        if name not in zloop.__all__
        and not isinstance(getattr(zloop, name), types.ModuleType | __future__._Feature)
    }
    assert not stray, f"zloop exposes names outside __all__: {sorted(stray)}"


@pytest.mark.parametrize("module_name", MODULES)
def test_all_names_exist(module_name: str) -> None:
    module = _import(module_name)
    for name in getattr(module, "__all__", ()):
        assert hasattr(module, name), f"{module_name}.__all__ names {name}, which does not exist"
