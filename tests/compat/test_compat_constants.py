"""Every name of pyzmq 27's ``zmq_constants`` exists in zloop, with pyzmq's value and enum."""

from __future__ import annotations

from enum import Enum
from typing import Any

import pytest

import zloop
import zloop.constants

zmq = pytest.importorskip("zmq")
zmq_constants = pytest.importorskip("zmq.constants")

pytestmark = pytest.mark.interop

ENUMS = [
    name
    for name, value in vars(zmq_constants).items()
    if isinstance(value, type)
    and issubclass(value, Enum)
    and not name.startswith("_")
    and value.__module__ == "zmq.constants"
]


def test_every_constant_name_and_value() -> None:
    for name in zmq_constants.__all__:
        theirs = getattr(zmq_constants, name)
        assert hasattr(zloop, name), name
        ours = getattr(zloop, name)
        if isinstance(theirs, int):
            assert ours == theirs, name
            assert type(ours).__name__ == type(theirs).__name__ or name.startswith(
                "PROTOCOL_ERROR_"  # zloop also names them in its ProtocolErrorCode enum
            ), name
        else:
            assert ours is getattr(zloop.constants, name, ours), name


@pytest.mark.parametrize("name", ENUMS)
def test_enums_have_pyzmq_members(name: str) -> None:
    theirs = getattr(zmq_constants, name)
    ours = getattr(zloop, name)
    assert issubclass(ours, theirs.__mro__[1]), name  # IntEnum / IntFlag alike
    for member, value in theirs.__members__.items():
        assert ours[member] == value, f"{name}.{member}"


def test_constants_module_names() -> None:
    """``from zmq_constants import PUSH`` works as ``from zloop.constants import PUSH``."""
    from zloop.constants import PUSH, ReconnectStop  # noqa: F401

    for name in zmq_constants.__all__:
        theirs = getattr(zmq_constants, name)
        if isinstance(theirs, int):
            assert getattr(zloop.constants, name) == theirs, name
        else:
            assert hasattr(zloop.constants, name), name
    assert set(zmq_constants.__all__) <= set(zloop.constants.__all__)


def test_draft_socket_types_are_named_but_refused(impl: Any, impl_ctx: Any) -> None:
    """libzmq 4.3.5 makes draft sockets even in a non-draft build; zloop implements none yet and
    says so at once (EINVAL)."""
    for name in ("SERVER", "CLIENT", "RADIO", "DISH", "GATHER", "SCATTER", "DGRAM", "PEER"):
        stype = getattr(impl, name)
        if impl is zloop:
            with pytest.raises(zloop.ZMQError) as info:
                impl_ctx.socket(stype)
            assert info.value.errno == zloop.EINVAL and "draft" in str(info.value)
        else:
            impl_ctx.socket(stype).close()


def test_join_and_leave_need_drafts(impl: Any, impl_ctx: Any) -> None:
    sock = impl_ctx.socket(impl.SUB)
    with pytest.raises(RuntimeError):
        sock.join("group")
    with pytest.raises(RuntimeError):
        sock.leave("group")
    sock.close()


def test_aliases(impl: Any) -> None:
    assert impl.XREQ == impl.DEALER and impl.XREP == impl.ROUTER
    assert impl.NOBLOCK == impl.DONTWAIT
    assert impl.IDENTITY == impl.ROUTING_ID and impl.CONNECT_RID == impl.CONNECT_ROUTING_ID
    assert impl.EVENT_ALL == impl.EVENT_ALL_V1 == 0xFFFF
    assert impl.BLOCKY == impl.SocketOption.BLOCKY
    assert impl.THREAD_PRIORITY == impl.SOCKET_LIMIT == 3
