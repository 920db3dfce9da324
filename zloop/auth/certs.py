"""CURVE certificate files in the ZPL layout libzmq's ``zcert`` (CZMQ) and pyzmq's ``zmq.auth`` use.

A pair is ``<name>.key`` (public: metadata + ``public-key``) and ``<name>.key_secret`` (also
``secret-key``, mode 0600). Keys are Z85 text (40 characters) in double quotes::

    #   ZeroMQ CURVE Public Certificate
    metadata
        name = "value"
    curve
        public-key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
"""

from __future__ import annotations

import datetime
import glob
import os
from collections.abc import Mapping

__all__ = ["create_certificates", "load_certificate", "load_certificates"]

_PUBLIC_BANNER = """\
#   ****  Generated on {date} by zloop  ****
#   ZeroMQ CURVE Public Certificate
#   Exchange securely, or use a secure mechanism to verify the contents
#   of this file after exchange. Store public certificates in your home
#   directory, in the .curve subdirectory.
"""
_SECRET_BANNER = """\
#   ****  Generated on {date} by zloop  ****
#   ZeroMQ CURVE **Secret** Certificate
#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.
"""


def _text(value: str | bytes) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _write(
    path: str,
    banner: str,
    public_key: bytes,
    secret_key: bytes | None,
    metadata: Mapping[str, str | bytes] | None,
) -> None:
    date = datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S.%f")
    lines = [banner.format(date=date), "metadata"]
    for name, value in (metadata or {}).items():
        lines.append(f'    {_text(name)} = "{_text(value)}"')
    lines.append("curve")
    lines.append(f'    public-key = "{public_key.decode("ascii")}"')
    if secret_key is not None:
        lines.append(f'    secret-key = "{secret_key.decode("ascii")}"')
    # Secret files are created 0600 from the start (never readable by others, even briefly).
    mode = 0o600 if secret_key is not None else 0o644
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    if secret_key is not None:
        os.chmod(path, 0o600)


def create_certificates(
    key_dir: str | os.PathLike[str],
    name: str,
    metadata: Mapping[str, str | bytes] | None = None,
) -> tuple[str, str]:
    """Make a new key pair and write ``<name>.key`` and ``<name>.key_secret`` in ``key_dir``.

    Returns ``(public_file, secret_file)``, as ``zmq.auth.create_certificates``. Needs PyNaCl.
    """
    from zloop.keys import curve_keypair  # lazy: CURVE is an optional extra

    public_key, secret_key = curve_keypair()
    base = os.path.join(os.fspath(key_dir), name)
    public_file = base + ".key"
    secret_file = base + ".key_secret"
    _write(public_file, _PUBLIC_BANNER, public_key, None, metadata)
    _write(secret_file, _SECRET_BANNER, public_key, secret_key, metadata)
    return public_file, secret_file


def _value(line: bytes) -> bytes:
    return line.split(b"=", 1)[1].strip(b" \t'\"")


def load_certificate(filename: str | os.PathLike[str]) -> tuple[bytes, bytes | None]:
    """``(public_key, secret_key or None)`` as Z85 bytes from one certificate file.

    Raises OSError if the file is missing and ValueError if it has no public key.
    """
    path = os.fspath(filename)
    if not os.path.exists(path):
        raise OSError(f"Invalid certificate file: {path}")
    public_key: bytes | None = None
    secret_key: bytes | None = None
    with open(path, "rb") as handle:
        for raw in handle:
            line = raw.strip()
            if not line or line.startswith(b"#") or b"=" not in line:
                continue
            key = line.split(b"=", 1)[0].strip()
            if key == b"public-key":
                public_key = _value(line)
            elif key == b"secret-key":
                secret_key = _value(line)
    if public_key is None:
        raise ValueError(f"No public key found in {path}")
    return public_key, secret_key


def load_certificates(directory: str | os.PathLike[str] = ".") -> dict[bytes, bool]:
    """Every public key (Z85 bytes) of the ``*.key`` files in ``directory``, mapped to True."""
    path = os.fspath(directory)
    if not os.path.isdir(path):
        raise OSError(f"Invalid certificate directory: {path}")
    certs: dict[bytes, bool] = {}
    for cert_file in sorted(glob.glob(os.path.join(path, "*.key"))):
        public_key, _ = load_certificate(cert_file)
        if public_key:  # as pyzmq: an empty public-key line names no client
            certs[public_key] = True
    return certs
