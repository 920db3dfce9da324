"""The flat constant names match pyzmq's and the enums they come from."""

from __future__ import annotations

import pytest

import zloop
from zloop import _names
from zloop.constants import flat_names


def test_flat_names_cover_every_enum_member() -> None:
    expected = flat_names()
    assert set(_names._NAMES) == set(expected)
    for name, value in expected.items():
        assert getattr(zloop, name) == value, name


@pytest.mark.interop
def test_values_equal_pyzmq() -> None:
    zmq = pytest.importorskip("zmq")
    for name in _names._NAMES:
        if hasattr(zmq, name):
            assert getattr(zloop, name) == getattr(zmq, name), name
    for name in (
        "PUSH",
        "PULL",
        "PAIR",
        "NOBLOCK",
        "SNDMORE",
        "POLLIN",
        "POLLOUT",
        "EAGAIN",
        "ETERM",
        "EFSM",
    ):
        assert getattr(zloop, name) == getattr(zmq, name), name
