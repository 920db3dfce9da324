"""What the socket tools share: socket specs, options, CURVE settings, stopping on a signal.

A socket is given on the command line as ``[TYPE:]ENDPOINT[,ENDPOINT...]``:

* ``TYPE`` is a socket type name in any case (``router``, ``PUB``); each tool has a default;
* an endpoint starting with ``@`` is bound, one starting with ``>`` is connected (CZMQ's
  convention); a bare endpoint gets the tool's default (``proxy`` binds, the others connect).

So ``zloop proxy router:tcp://*:5555 dealer:tcp://*:5556``, ``zloop recv sub:>tcp://host:5556``,
``zloop send push:@ipc:///tmp/jobs``. Status lines (what was bound, with the real port of a ``*``)
go to stderr, data to stdout, so the tools can be piped.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import zloop
from zloop.constants import SocketType
from zloop.z85 import ALPHABET as Z85_ALPHABET

__all__ = [
    "CliError",
    "SocketSpec",
    "add_curve_arguments",
    "add_option_arguments",
    "apply_curve",
    "apply_options",
    "attach_dash_keys",
    "open_socket",
    "parse_spec",
    "stop_on_signals",
]

#: Options whose value is a byte string; every other option named on the command line is an int.
BYTES_OPTIONS = frozenset(
    {
        "ROUTING_ID",
        "IDENTITY",
        "CONNECT_ROUTING_ID",
        "SUBSCRIBE",
        "UNSUBSCRIBE",
        "PLAIN_USERNAME",
        "PLAIN_PASSWORD",
        "ZAP_DOMAIN",
        "CURVE_PUBLICKEY",
        "CURVE_SECRETKEY",
        "CURVE_SERVERKEY",
        "SOCKS_PROXY",
        "BINDTODEVICE",
        "XPUB_WELCOME_MSG",
    }
)


class CliError(Exception):
    """A bad argument or environment: the tool prints ``zloop <tool>: <message>`` and exits 2."""


@dataclass
class SocketSpec:
    """A socket type and its endpoints, each with ``True`` to bind or ``False`` to connect."""

    type: SocketType
    endpoints: list[tuple[bool, str]] = field(default_factory=list)

    def describe(self) -> str:
        return f"{self.type.name} " + ",".join(("@" if b else ">") + e for b, e in self.endpoints)


def parse_spec(text: str, default_type: str | None, bind: bool) -> SocketSpec:
    """``[TYPE:]ENDPOINT[,ENDPOINT...]`` (see the module docstring); ``CliError`` when malformed."""
    kind: str | None = default_type
    rest = text
    head, sep, tail = text.partition(":")
    if sep and not tail.startswith("//") and head.upper() in SocketType.__members__:
        kind, rest = head, tail
    elif sep and not tail.startswith("//") and head and "/" not in head and "@" not in head:
        names = ", ".join(n.lower() for n in SocketType.__members__)
        raise CliError(f"unknown socket type {head!r} in {text!r} (one of: {names})")
    if kind is None:
        raise CliError(f"{text!r}: say which socket type, as TYPE:ENDPOINT (e.g. router:{text})")
    spec = SocketSpec(SocketType[kind.upper()])
    for item in rest.split(","):
        item = item.strip()
        this_bind = bind
        if item.startswith("@"):
            this_bind, item = True, item[1:]
        elif item.startswith(">"):
            this_bind, item = False, item[1:]
        if "://" not in item:
            raise CliError(f"{item!r} is not an endpoint (transport://address, e.g. tcp://*:5555)")
        spec.endpoints.append((this_bind, item))
    return spec


def add_option_arguments(parser: argparse.ArgumentParser) -> None:
    """``-o NAME=VALUE``: any socket option, by pyzmq's name (``-o sndhwm=10``)."""
    parser.add_argument(
        "-o",
        "--option",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a socket option before bind/connect, e.g. -o sndhwm=10 -o routing_id=me "
        "(repeatable)",
    )


def apply_options(sock: zloop.Socket, options: list[str]) -> None:
    for item in options:
        name, sep, value = item.partition("=")
        key = name.strip().upper()
        number = getattr(zloop, key, None)
        if not sep or not isinstance(number, int) or key not in zloop.SocketOption.__members__:
            raise CliError(f"-o {item!r}: expected NAME=VALUE with a socket option's name")
        converted: int | bytes
        if key in BYTES_OPTIONS:
            converted = value.encode()
        else:
            try:
                converted = int(value, 0)
            except ValueError:
                raise CliError(f"-o {item!r}: {key.lower()} takes an integer") from None
        try:
            sock.setsockopt(number, converted)
        except zloop.ZMQError as exc:
            raise CliError(f"-o {item!r}: {exc}") from None


def add_curve_arguments(parser: argparse.ArgumentParser) -> None:
    """CURVE as a client (``--curve-serverkey``) or as a server (``--curve-server``)."""
    group = parser.add_argument_group("CURVE security (needs the curve extra)")
    group.add_argument(
        "--curve-serverkey",
        metavar="KEY|FILE",
        help="be a CURVE client of the server with this public key (Z85, or a certificate file "
        "written by zloop keygen)",
    )
    group.add_argument(
        "--curve-server",
        action="store_true",
        help="be a CURVE server (needs --curve-secret); without a ZAP handler every client key "
        "is accepted, as in libzmq",
    )
    group.add_argument(
        "--curve-secret",
        metavar="KEY|FILE",
        help="this side's secret key (Z85, or a NAME.key_secret certificate); a client without "
        "one uses a fresh key pair",
    )


#: The options whose value may be a Z85 key (see :func:`attach_dash_keys`).
KEY_OPTIONS = frozenset({"--curve-serverkey", "--curve-secret"})
_Z85_CHARS = frozenset(Z85_ALPHABET.decode())


def attach_dash_keys(argv: Sequence[str]) -> list[str]:
    """``argv`` with a Z85 key that begins with ``-`` joined to its option as ``--opt=KEY``.

    Z85 spells with ``-`` among its characters, so about one key in 85 begins with a dash, and
    argparse takes ``--curve-serverkey -{-^uc...`` for an option missing its value. A word after a
    key option that is a whole key (40 Z85 characters; no option name is that long) is its value.
    """
    out: list[str] = []
    words = iter(argv)
    for word in words:
        out.append(word)
        if word in KEY_OPTIONS:
            value = next(words, None)
            if value is None:
                break
            if value.startswith("-") and len(value) == 40 and set(value) <= _Z85_CHARS:
                out[-1] = f"{word}={value}"
            else:
                out.append(value)
    return out


def _key(value: str, want_secret: bool) -> bytes:
    """A Z85 key from the command line: 40 Z85 characters, or a certificate file."""
    if len(value) == 40 and not os.path.exists(value):
        return value.encode()
    from zloop.auth import load_certificate

    try:
        public, secret = load_certificate(value)
    except (OSError, ValueError) as exc:
        raise CliError(f"{value!r}: not a Z85 key nor a readable certificate ({exc})") from None
    if want_secret:
        if secret is None:
            raise CliError(f"{value!r} holds no secret key (use the NAME.key_secret file)")
        return secret
    return public


def apply_curve(sock: zloop.Socket, args: argparse.Namespace) -> None:
    serverkey = getattr(args, "curve_serverkey", None)
    server = getattr(args, "curve_server", False)
    secret = getattr(args, "curve_secret", None)
    if not (serverkey or server or secret):
        return
    if server and serverkey:
        raise CliError("--curve-server and --curve-serverkey exclude each other")
    if not (server or serverkey):
        raise CliError("--curve-secret needs --curve-server or --curve-serverkey")
    try:
        if server:
            if not secret:
                raise CliError("--curve-server needs --curve-secret (zloop keygen makes one)")
            sock.setsockopt(zloop.CURVE_SERVER, 1)
            sock.setsockopt(zloop.CURVE_SECRETKEY, _key(secret, want_secret=True))
            return
        assert serverkey is not None
        sock.setsockopt(zloop.CURVE_SERVERKEY, _key(serverkey, want_secret=False))
        if secret:
            own_secret = _key(secret, want_secret=True)
            own_public = zloop.curve_public(own_secret)
        else:
            own_public, own_secret = zloop.curve_keypair()
        sock.setsockopt(zloop.CURVE_PUBLICKEY, own_public)
        sock.setsockopt(zloop.CURVE_SECRETKEY, own_secret)
    except ImportError as exc:  # PyNaCl missing: the message names the extra
        raise CliError(str(exc)) from None
    except zloop.ZMQError as exc:
        raise CliError(f"CURVE: {exc}") from None


@contextmanager
def open_socket(
    ctx: zloop.Context,
    spec: SocketSpec,
    args: argparse.Namespace | None = None,
    *,
    tool: str,
    role: str = "",
    prepare: Callable[[zloop.Socket], None] | None = None,
) -> Iterator[zloop.Socket]:
    """A socket of ``spec`` with the options and CURVE settings of ``args``, bound/connected.

    Every bind prints ``<tool>: <role> TYPE bound ENDPOINT`` (the real port of ``*``) to stderr.
    A SUB socket subscribes to everything unless ``args.subscribe`` names prefixes. ``prepare``
    runs on the socket after its options are set and before it binds or connects.
    """
    sock = ctx.socket(spec.type)
    try:
        if args is not None:
            apply_options(sock, getattr(args, "option", []))
            apply_curve(sock, args)
        if spec.type == SocketType.SUB:
            prefixes = getattr(args, "subscribe", None) or [""]
            for prefix in prefixes:
                sock.setsockopt(zloop.SUBSCRIBE, prefix.encode())
        if prepare is not None:
            prepare(sock)
        label = f"{role} " if role else ""
        for bind, endpoint in spec.endpoints:
            try:
                if bind:
                    sock.bind(endpoint)
                    where = sock.last_endpoint.decode()
                    print(f"{tool}: {label}{spec.type.name} bound {where}", file=sys.stderr)
                else:
                    sock.connect(endpoint)
            except zloop.ZMQError as exc:
                verb = "bind" if bind else "connect"
                raise CliError(f"cannot {verb} {endpoint}: {exc}") from None
        sys.stderr.flush()
        yield sock
    except BaseException:
        # An error, Ctrl-C or SIGTERM: leave at once, whatever is still queued (LINGER 0).
        sock.close(linger=0)
        raise
    sock.close()


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """SIGTERM stops the tool like Ctrl-C (``KeyboardInterrupt``), so both end it cleanly."""
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
