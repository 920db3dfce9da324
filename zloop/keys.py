"""CURVE key tools: key pairs, public-from-secret, option decoding and ``zloop keygen``.

Keys are Curve25519 (32 bytes). Like pyzmq's ``zmq.curve_keypair`` / ``zmq.curve_public`` the
user-facing functions speak Z85 (RFC 32, 40 characters); the socket options accept either 32 raw
bytes or Z85 text (40 characters, or 41 with a trailing NUL as libzmq's ``zmq_setsockopt``).
The crypto comes from PyNaCl (the optional ``curve`` extra); without it these functions raise
:class:`ImportError` with an installation hint.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
from types import ModuleType

from zloop import z85
from zloop._extras import MissingExtraError, install_hint
from zloop.constants import Errno
from zloop.errors import ZMQError

__all__ = [
    "KEY_SIZE",
    "NACL_MISSING",
    "add_keygen_arguments",
    "curve_keypair",
    "curve_public",
    "has_curve",
    "key_from_option",
    "keygen",
    "require_nacl",
]

KEY_SIZE = 32
NACL_MISSING = "CURVE security needs PyNaCl, which is not installed: " + install_hint("curve")


def require_nacl() -> ModuleType:
    """``nacl.bindings``, or :class:`ImportError` with the installation hint."""
    try:
        import nacl.bindings
    except ImportError as exc:
        raise MissingExtraError("CURVE security", "PyNaCl", "curve", exc) from exc
    return nacl.bindings


def has_curve() -> bool:
    """True when PyNaCl imports (``zloop.has("curve")``)."""
    try:
        require_nacl()
    except ImportError:
        return False
    return True


def curve_keypair() -> tuple[bytes, bytes]:
    """A new key pair as Z85 ``(public, secret)``, 40 bytes each (as ``zmq.curve_keypair``)."""
    bindings = require_nacl()
    public, secret = bindings.crypto_box_keypair()
    return z85.encode(public), z85.encode(secret)


def curve_public(secret_key: bytes | str) -> bytes:
    """The Z85 public key of a secret key (Z85 or 32 raw bytes), as ``zmq.curve_public``."""
    bindings = require_nacl()
    secret = key_from_option(secret_key)
    return z85.encode(bindings.crypto_scalarmult_base(secret))


def key_from_option(value: bytes | bytearray | memoryview | str) -> bytes:
    """32 raw key bytes from 32 raw bytes, 40 Z85 characters or 41 (Z85 + NUL), as libzmq's
    CURVE_*KEY options accept; anything else is ``ZMQError(EINVAL)``."""
    raw = value.encode("latin-1") if isinstance(value, str) else bytes(value)
    if len(raw) == KEY_SIZE:
        return raw
    if len(raw) == 41 and raw[40] == 0:
        raw = raw[:40]
    if len(raw) == 40:
        try:
            return z85.decode(raw)
        except ValueError:
            pass
    raise ZMQError(Errno.EINVAL, "a CURVE key is 32 raw bytes or 40 Z85 characters")


# -- zloop keygen ----------------------------------------------------------------------------------


def add_keygen_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``zloop keygen``."""
    parser.add_argument(
        "name",
        nargs="?",
        help="write NAME.key (public) and NAME.key_secret certificates instead of printing",
    )
    parser.add_argument(
        "-d", "--directory", default=".", help="where to write the certificates (default: .)"
    )
    parser.add_argument(
        "-f",
        "--force",
        action="store_true",
        help="replace existing certificates of that name (their secret key is lost)",
    )


def keygen(args: argparse.Namespace) -> int:
    """``zloop keygen``: print a new key pair in Z85 (like libzmq's ``curve_keygen``), or write it
    as a certificate pair in the ZPL format libzmq / CZMQ / pyzmq read.

    Existing certificates are never replaced without ``--force`` (a secret key overwritten is a
    key lost); a directory that cannot be made or written is one line on stderr, exit status 1.
    """
    try:
        public, secret = curve_keypair()
    except ImportError as exc:
        print(f"zloop keygen: {exc}", file=sys.stderr)
        return 1
    name = getattr(args, "name", None)
    if not name:
        print("== CURVE PUBLIC KEY ==")
        print(public.decode())
        print("== CURVE SECRET KEY ==")
        print(secret.decode())
        return 0
    directory = getattr(args, "directory", ".")
    force = bool(getattr(args, "force", False))
    base = os.path.join(directory, name)
    if not force:
        for path in (base + ".key_secret", base + ".key"):
            if os.path.lexists(path):
                what = "a secret key" if path.endswith("_secret") else "a public key"
                print(
                    f"zloop keygen: {path} exists ({what}); use --force to replace it",
                    file=sys.stderr,
                )
                return 1
    try:
        if os.path.exists(directory) and not os.path.isdir(directory):
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), directory)
        os.makedirs(directory, exist_ok=True)
        write_certificate(base + ".key_secret", public, secret, replace=force)
        write_certificate(base + ".key", public, None, replace=force)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        print(
            f"zloop keygen: cannot write to {exc.filename or directory}: {reason}", file=sys.stderr
        )
        return 1
    print(f"wrote {base}.key and {base}.key_secret")
    return 0


def write_certificate(
    path: str, public: bytes, secret: bytes | None, *, replace: bool = True
) -> None:
    """One certificate file in ZPL (RFC 4), the layout ``zcert`` / ``zmq.auth`` use.

    A secret certificate is created readable by its owner only (mode 0600 from the start, never
    world-readable for a moment). With ``replace=False`` an existing file is ``FileExistsError``.
    """
    kind = "Secret" if secret is not None else "Public"
    lines = [
        "#   ****  Generated by zloop keygen  ****",
        f"#   ZeroMQ CURVE {kind} Certificate",
        "#   Exchange securely, or use a secure mechanism to verify the contents",
        "#   of this file after exchange. Store public certificates in your home",
        "#   directory, in the .curve subdirectory.",
        "",
        "metadata",
        "curve",
        f'    public-key = "{public.decode()}"',
    ]
    if secret is not None:
        lines.append(f'    secret-key = "{secret.decode()}"')
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if replace else os.O_EXCL)
    fd = os.open(path, flags, 0o600 if secret is not None else 0o644)
    with open(fd, "w", encoding="utf-8") as handle:
        if secret is not None:
            os.fchmod(fd, 0o600)  # a replaced file keeps its old mode otherwise
        handle.write("\n".join(lines) + "\n")
