"""User code under ``mypy --strict`` type-checks with zloop as it does with pyzmq.

One mypy run (in a fresh directory, without the project's configuration, cache in tmp) checks
three small user programs:

* ``user_zloop.py``: sync sockets, option attributes, ``getsockopt``, the ``recv``/``recv_multipart``
  overloads (``bytes``/``list[bytes]``, ``Frame``/``list[Frame]`` with ``copy=False``), ``Poller``,
  ``zloop.auth``, and every adapter's awaitables (asyncio, tornado, trio, anyio, Twisted Deferreds,
  gevent) -- imported as ``zloop.adapters.*``, which mypy must see as typed (py.typed);
* ``user_pyzmq.py``: the part of the same program whose names pyzmq has, on pyzmq: it passes there
  too, so the program is no stricter than pyzmq's own types;
* ``user_misspelt.py``: a misspelt option attribute and a value of the wrong type are reported.

The rest keeps the option attributes (``zloop/_sockattrs.py``), which are both the runtime
attributes and what mypy reads, in step with :class:`zloop.SocketOption` and its value types.
"""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import zloop
from zloop._sockattrs import (
    SOCKET_OWN_NAMES,
    BytesOption,
    IntOption,
    NullableBytesOption,
    OptionAttribute,
    ReadOnlyBytesOption,
    ReadOnlyIntOption,
    SocketOptionAttributes,
)
from zloop.constants import BYTES_OPTIONS, SocketOption
from zloop.options import _NONE_ALLOWED
from zloop.socket import _READ_ONLY

pytest.importorskip("mypy")

ZLOOP_HEADER = """\
import zloop as zmq
import zloop.adapters.asyncio as zasyncio
import zloop.adapters.tornado as ztornado
import zloop.auth
from zloop.auth.thread import ThreadAuthenticator
"""


PYZMQ_HEADER = """\
import zmq
import zmq.asyncio as zasyncio
import zmq.auth
import zmq.eventloop.future as ztornado
from zmq.auth.thread import ThreadAuthenticator
"""


COMMON = """\
from typing import Any


def sync_sockets() -> None:
    ctx = zmq.Context()
    push = ctx.socket(zmq.PUSH)
    push.sndhwm = 10
    push.SNDHWM = 10
    push.linger = 0
    push.routing_id = b"pusher"
    push.curve_server = True
    push.send(b"one")
    push.send_multipart([b"a", b"b"])
    push.send_string("text")
    pull = ctx.socket(zmq.PULL)
    data: bytes = pull.recv()
    frame: zmq.Frame = pull.recv(copy=False)
    frame2: zmq.Frame = pull.recv(0, False)
    body: bytes = frame.bytes
    parts: list[bytes] = pull.recv_multipart()
    frames: list[zmq.Frame] = pull.recv_multipart(copy=False)
    text: str = pull.recv_string()
    obj: Any = pull.recv_json()
    sub = ctx.socket(zmq.SUB)
    sub.subscribe(b"topic")
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    events: int = pull.poll(0)
    poller = zmq.Poller()
    poller.register(pull, zmq.POLLIN)
    ready: dict[Any, int] = dict(poller.poll(100))
    found: bool = pull in ready
    public, secret = zmq.curve_keypair()
    key: bytes = public + secret
    for sock in (push, pull, sub):
        sock.close(linger=0)
    ctx.term()


def authenticator() -> None:
    ctx = zmq.Context()
    auth = ThreadAuthenticator(ctx)
    auth.start()
    auth.allow("127.0.0.1")
    auth.configure_curve(domain="*", location=zmq.auth.CURVE_ALLOW_ANY)
    auth.stop()


async def asyncio_sockets() -> None:
    ctx = zasyncio.Context()
    sock = ctx.socket(zmq.PULL)
    message: list[bytes] = await sock.recv_multipart()
    frames: list[zmq.Frame] = await sock.recv_multipart(copy=False)
    data: bytes = await sock.recv()
    frame: zmq.Frame = await sock.recv(copy=False)
    text: str = await sock.recv_string()
    await sock.send(b"x")
    await sock.send_multipart([b"x", b"y"])
    await sock.poll(100)
    poller = zasyncio.Poller()
    poller.register(sock, zmq.POLLIN)
    ready: list[tuple[Any, int]] = await poller.poll(100)
    sock.close()


async def tornado_sockets() -> None:
    sock = ztornado.Context().socket(zmq.DEALER)
    message: list[bytes] = await sock.recv_multipart()
    data: bytes = await sock.recv()
    frame: zmq.Frame = await sock.recv(copy=False)
    await sock.send_multipart([b"", b"request"])
"""


ZLOOP_ONLY = """\


def zloop_only_typing() -> None:
    sock = zmq.Context().socket(zmq.PUSH)
    hwm: int = sock.getsockopt(zmq.SNDHWM)
    linger: int = sock.linger
    endpoint: bytes = sock.last_endpoint
    identity: bytes = sock.IDENTITY
    sock.zap_domain = None


async def asyncio_poll() -> None:
    sock = zasyncio.Context().socket(zmq.PULL)
    events: int = await sock.poll(100)
    async for msg in sock:
        first: bytes = msg[0]


async def trio_sockets() -> None:
    import zloop.adapters.trio as ztrio

    sock = ztrio.Context().socket(zmq.PULL)
    message: list[bytes] = await sock.recv_multipart()
    frames: list[zmq.Frame] = await sock.recv_multipart(copy=False)
    data: bytes = await sock.recv()
    frame: zmq.Frame = await sock.recv(copy=False)
    await sock.send(b"x")
    events: int = await sock.poll(100)
    poller = ztrio.Poller()
    poller.register(sock, zmq.POLLIN)
    ready: list[tuple[Any, int]] = await poller.poll(100)
    async for msg in sock:
        first: bytes = msg[0]


async def anyio_sockets() -> None:
    import zloop.adapters.anyio as zanyio

    sock = zanyio.Context().socket(zmq.PULL)
    message: list[bytes] = await sock.recv_multipart()
    frames: list[zmq.Frame] = await sock.recv_multipart(copy=False)
    data: bytes = await sock.recv()
    await sock.send_multipart([b"x"])
    events: int = await sock.poll(100)
    poller = zanyio.Poller()
    poller.register(sock, zmq.POLLIN)
    ready: list[tuple[Any, int]] = await poller.poll(100)


def twisted_sockets() -> None:
    from twisted.internet import defer

    import zloop.adapters.twisted as ztwisted

    sock = ztwisted.Context().socket(zmq.PULL)
    message: defer.Deferred[list[bytes]] = sock.recv_multipart()
    frames: defer.Deferred[list[zmq.Frame]] = sock.recv_multipart(copy=False)
    data: defer.Deferred[bytes] = sock.recv()
    frame: defer.Deferred[zmq.Frame] = sock.recv(copy=False)
    events: defer.Deferred[int] = sock.poll(100)
    ready: defer.Deferred[list[tuple[Any, int]]] = ztwisted.Poller().poll(100)


async def twisted_awaiting() -> None:
    import zloop.adapters.twisted as ztwisted

    sock = ztwisted.Context().socket(zmq.PULL)
    message: list[bytes] = await sock.recv_multipart()
    data: bytes = await sock.recv()


def gevent_sockets() -> None:
    import zloop.adapters.gevent as zgevent

    sock = zgevent.Context().socket(zmq.PULL)
    message: list[bytes] = sock.recv_multipart()
    frames: list[zmq.Frame] = sock.recv_multipart(copy=False)
    data: bytes = sock.recv()
    events: int = sock.poll(100)
    ready: list[tuple[Any, int]] = zgevent.Poller().poll(100)
"""

MISSPELT = """\
import zloop

sock = zloop.Context().socket(zloop.PUSH)
sock.sndhwn = 10
sock.linger = b"0"
"""


def run_mypy(tmp_path: Path, programs: dict[str, str]) -> dict[str, list[str]]:
    """``mypy --strict`` on ``programs`` (file name -> source) in one run: the errors per file."""
    for name, source in programs.items():
        (tmp_path / name).write_text(source)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MYPY")}
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "mypy", "--strict", "--no-color-output", "--no-error-summary"),
            *("--cache-dir", str(tmp_path / "mypy-cache"), *sorted(programs)),
        ],
        cwd=tmp_path,  # no project configuration: a user's own directory
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
    )
    assert not proc.stderr.strip(), proc.stderr
    errors: dict[str, list[str]] = {name: [] for name in programs}
    for line in proc.stdout.splitlines():
        match = re.match(r"([\w.]+):\d+: error: (.*)", line)
        if match:
            errors[match.group(1)].append(line)
    return errors


@pytest.mark.timeout(300)
def test_user_programs_type_check_as_with_pyzmq(tmp_path: Path) -> None:
    programs = {
        "user_zloop.py": ZLOOP_HEADER + COMMON + ZLOOP_ONLY,
        "user_misspelt.py": MISSPELT,
    }
    have_pyzmq = True
    try:
        import zmq  # noqa: F401
    except ImportError:
        have_pyzmq = False
    if have_pyzmq:
        programs["user_pyzmq.py"] = PYZMQ_HEADER + COMMON
    errors = run_mypy(tmp_path, programs)
    assert errors["user_zloop.py"] == []
    if have_pyzmq:
        assert errors["user_pyzmq.py"] == []
    misspelt = errors["user_misspelt.py"]
    assert len(misspelt) == 2, misspelt
    assert 'user_misspelt.py:4: error: "Socket" has no attribute "sndhwn"' in misspelt[0]
    assert "user_misspelt.py:5: error: Incompatible types in assignment" in misspelt[1]
    assert 'expression has type "bytes", variable has type "int"' in misspelt[1]


def expected_kind(option: SocketOption) -> type[OptionAttribute[object, object]]:
    """The descriptor class an option's attributes must have, from the runtime tables."""
    if option in _READ_ONLY:
        return ReadOnlyBytesOption if option in BYTES_OPTIONS else ReadOnlyIntOption
    if option in BYTES_OPTIONS:
        return NullableBytesOption if option in _NONE_ALLOWED else BytesOption
    return IntOption


def test_option_attributes_follow_the_option_table() -> None:
    """Every SocketOption member (aliases included) has its lower- and upper-case attribute, of the
    option's value type, with a docstring; nothing else is declared."""
    wanted: set[str] = set()
    for name, option in SocketOption.__members__.items():
        for attr in (name.lower(), name):
            if attr in SOCKET_OWN_NAMES:
                assert attr in zloop.Socket.__dict__, attr
                continue
            wanted.add(attr)
            found = inspect.getattr_static(zloop.Socket, attr)
            assert isinstance(found, OptionAttribute), attr
            assert found.option is option, attr
            assert type(found) is expected_kind(option), attr
            assert found.__doc__ and found.__doc__ != type(found).__doc__, attr
    declared = {
        name
        for name, value in vars(SocketOptionAttributes).items()
        if isinstance(value, OptionAttribute)
    }
    assert declared == wanted
    assert SocketOptionAttributes in zloop.Socket.__mro__


@pytest.mark.parametrize("socket_type", [zloop.PUSH, zloop.SUB, zloop.ROUTER, zloop.XPUB])
def test_option_values_have_their_declared_types(
    ctx: zloop.Context, socket_type: zloop.SocketType
) -> None:
    """What reading an attribute returns is what its declaration tells mypy (int or bytes)."""
    sock = ctx.socket(socket_type)
    try:
        for name in dir(SocketOptionAttributes):
            attr = inspect.getattr_static(zloop.Socket, name)
            if not isinstance(attr, OptionAttribute):
                continue
            try:
                value = getattr(sock, name)
            except (AttributeError, zloop.ZMQError):
                continue  # write-only, or not an option of this socket type
            kind = type(attr)
            if kind in (BytesOption, NullableBytesOption, ReadOnlyBytesOption):
                assert isinstance(value, bytes), (name, value)
            else:
                assert isinstance(value, int) and not isinstance(value, bytes), (name, value)
    finally:
        sock.close(linger=0)


def test_misspelt_option_attribute_is_an_attribute_error(ctx: zloop.Context) -> None:
    sock = ctx.socket(zloop.PUSH)
    try:
        with pytest.raises(AttributeError):
            sock.sndhwn = 10  # type: ignore[attr-defined]
        with pytest.raises(AttributeError):
            _ = sock.sndhwn  # type: ignore[attr-defined]
        sock.sndhwm = 7
        assert sock.SNDHWM == 7 == sock.getsockopt(zloop.SNDHWM)
        with pytest.raises(zloop.ZMQError):
            sock.fd = 3  # read-only: setsockopt's EINVAL at run time, NoReturn for mypy
    finally:
        sock.close(linger=0)
