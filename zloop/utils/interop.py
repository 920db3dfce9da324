"""``cast_int_addr`` (``zmq.utils.interop``): a memory address as a Python int.

pyzmq uses it to accept libzmq pointers (plain ints or CFFI pointers) in ``Context.shadow``. zloop
has no C objects and so no addresses to cast: an int is returned as it is, anything else is
refused with pyzmq's ``ValueError``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["cast_int_addr"]


def cast_int_addr(n: Any) -> int:
    """``n`` if it is an int; ``ValueError`` otherwise (zloop has no CFFI pointers)."""
    if isinstance(n, int):
        return n
    raise ValueError(f"Cannot cast {n!r} to int")
