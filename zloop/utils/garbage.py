"""pyzmq's zero-copy garbage collector (``zmq.utils.garbage``), which zloop does not need.

Why pyzmq has one: ``send(buf, copy=False)`` hands libzmq, a C library, a pointer into a Python
object. libzmq may use it long after ``send`` returned (until the bytes are on the wire), and it
tells Python that it is done through a C callback that may run on libzmq's I/O thread, where
touching Python objects is unsafe. So pyzmq keeps every such object in a dict (``gc.refs``) and the
callback only sends its key on an inproc socket to a Python thread (``gc.thread``) that drops the
reference and sets the ``MessageTracker``'s event.

Why zloop does not: the message *is* a Python object all the way. A ``copy=False`` send puts a
reference to the buffer (a ``memoryview``) in the pipe; the I/O thread writes from it and drops it,
and ordinary reference counting frees the memory. ``MessageTracker`` learns that zloop let go of
the buffer without any collector (:mod:`zloop.tracker` explains how). There is no thread and no
context to manage, and nothing in zloop uses this module.

What is kept, so programs that import it or configure it (``gc.context = ctx``, ``gc.stop()``,
``gc.thread`` is None ...) still run: :class:`GarbageCollector` and the module's instance :data:`gc`,
with pyzmq's attributes and methods. Nothing ever runs: ``is_alive()`` is False, ``start()`` and
``stop()`` do nothing, ``refs`` stays empty, and ``store(obj, event)`` -- pyzmq's internal hook,
which zloop never calls -- sets ``event`` at once (nothing is held) and returns 0.
"""

from __future__ import annotations

from typing import Any, Final, NamedTuple

__all__ = ["GarbageCollector", "gc", "gcref"]


class gcref(NamedTuple):
    """A kept object and the event to set when it is released (pyzmq's record)."""

    obj: object
    event: Any


class GarbageCollector:
    """pyzmq's collector API, with nothing to collect (see the module docstring)."""

    #: pyzmq's inproc address for the collector; no socket is ever bound at it here.
    url = "inproc://pyzmq.gc.01"

    def __init__(self, context: Any = None) -> None:
        #: Objects held for zero-copy sends: always empty in zloop.
        self.refs: dict[int, gcref] = {}
        #: The collector's thread: never started in zloop.
        self.thread: Any = None
        #: The process the thread was started in (pyzmq's fork check): None, never started.
        self.pid: int | None = None
        self._context = context

    @property
    def context(self) -> Any:
        """The context pyzmq's collector would use; a new ``zloop.Context`` on first access if
        none was set (nothing of zloop uses it)."""
        if self._context is None:
            from zloop.context import Context

            self._context = Context()
        return self._context

    @context.setter
    def context(self, ctx: Any) -> None:
        self._context = ctx

    def start(self) -> None:
        """Nothing to start: zloop holds zero-copy buffers by reference (module docstring)."""

    def stop(self) -> None:
        """Nothing to stop."""

    def is_alive(self) -> bool:
        """False: there is no collector thread."""
        return False

    def store(self, obj: object, event: Any = None) -> int:
        """pyzmq's hook for a zero-copy send (never called by zloop): nothing is held, so ``event``
        (if any) is set at once; returns 0."""
        if event is not None:
            event.set()
        return 0


#: The module's collector, as pyzmq's ``zmq.utils.garbage.gc``.
gc: Final[GarbageCollector] = GarbageCollector()
