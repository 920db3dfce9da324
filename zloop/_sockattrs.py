"""Socket options as attributes, as pyzmq's sockets have them.

pyzmq routes ``sock.linger = 0``, ``sock.RCVTIMEO``, ``sock.hwm = 100`` and ``sub.subscribe = b"a"``
to ``set``/``get`` through ``__setattr__``/``__getattr__``, and raises ``AttributeError`` for a name
that is no option (``sock.lingr = 0``). zloop gets the same behaviour without a ``__setattr__`` on
:class:`zloop.Socket`, which would tax every attribute write of the send/recv path:

* every option has a property under its lower-case and its upper-case name (aliases included);
  reading a write-only option raises ``AttributeError`` as pyzmq's does (libzmq's EINVAL), writing a
  read-only one raises ``ZMQError(EINVAL)``;
* ``subscribe`` / ``unsubscribe`` are methods that are also write-only attributes
  (:class:`OptionMethod`);
* ``Socket`` has ``__slots__``, so writing any other name raises ``AttributeError``;
* a subclass that has a ``__dict__`` gets pyzmq's rule (:func:`declared_only_setattr`): a name
  already set on the instance, or defined or annotated in a class, may be written; any other name
  raises ``AttributeError``.

Deliberately different from pyzmq: option names in mixed case (``sock.Linger``) and constants that
are no socket option (``sock.noblock``) are not options (``AttributeError``; pyzmq upper-cases any
name and looks it up among all its constants), and a method cannot be replaced on a plain
``zloop.Socket`` instance (no ``__dict__``; a subclass may).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from types import MethodType
from typing import Any

from zloop.constants import Errno, SocketOption
from zloop.errors import ZMQError

__all__ = ["OptionMethod", "declared", "declared_only_setattr", "install_option_attributes"]

#: Errors of a getsockopt that mean "this option cannot be read" (pyzmq: write-only).
_WRITE_ONLY_ERRNOS = (int(Errno.EINVAL), int(Errno.EFAULT))


class OptionMethod:
    """A method that is also a write-only attribute: ``sock.subscribe(b"a")`` and
    ``sock.subscribe = b"a"`` (pyzmq's spelling of ``setsockopt(SUBSCRIBE, b"a")``) do the same."""

    def __init__(self, func: Callable[[Any, Any], None]) -> None:
        self.__wrapped__ = func
        self.__name__ = func.__name__
        self.__doc__ = func.__doc__

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        return self.__wrapped__ if obj is None else MethodType(self.__wrapped__, obj)

    def __set__(self, obj: Any, value: Any) -> None:
        self.__wrapped__(obj, value)


def _option_property(option: SocketOption, name: str) -> property:
    def fget(self: Any) -> Any:
        try:
            return self.getsockopt(option)
        except ZMQError as exc:
            if exc.errno in _WRITE_ONLY_ERRNOS:
                raise AttributeError(f"{name} attribute is write-only") from None
            raise

    def fset(self: Any, value: Any) -> None:
        self.setsockopt(option, value)

    return property(fget, fset, doc=f"The {option.name} socket option.")


def install_option_attributes(cls: type) -> None:
    """Give ``cls`` (:class:`zloop.Socket`) its option attributes (see the module docstring)."""
    for upper, option in SocketOption.__members__.items():
        for name in (upper.lower(), upper):
            existing = cls.__dict__.get(name)
            if existing is None:
                setattr(cls, name, _option_property(option, name))
            elif isinstance(existing, property) and existing.fset is None:
                # A read-only view (FD, EVENTS, type, last_endpoint): writing is setsockopt's
                # error, ZMQError(EINVAL), as in pyzmq.
                def fset(self: Any, value: Any, _option: SocketOption = option) -> None:
                    self.setsockopt(_option, value)

                setattr(cls, name, existing.setter(fset))
    for name in ("subscribe", "unsubscribe"):
        method = cls.__dict__[name]
        if not isinstance(method, OptionMethod):
            setattr(cls, name, OptionMethod(method))


def declared(cls: type, name: str) -> bool:
    """Is ``name`` defined or annotated in ``cls`` or one of its bases (pyzmq's rule)?"""
    return any(
        name in klass.__dict__ or name in inspect.get_annotations(klass) for klass in cls.__mro__
    )


#: (class, name) pairs found declared: a subclass's own writes (its hot path) look once.
_declared_seen: set[tuple[type, str]] = set()


def declared_only_setattr(self: Any, name: str, value: Any) -> None:
    """``__setattr__`` of a socket subclass with a ``__dict__``: options and declared names only."""
    key = (type(self), name)
    if key in _declared_seen or name in self.__dict__:
        object.__setattr__(self, name, value)
        return
    if declared(key[0], name):
        _declared_seen.add(key)
        object.__setattr__(self, name, value)
        return
    raise AttributeError(f"{type(self).__name__} has no such option: {name.upper()}")
