"""``python -m zloop.curve_keygen``: print a new CURVE key pair (pyzmq's ``python -m zmq.curve_keygen``).

Options as pyzmq's: ``--json`` prints ``{"public": ..., "secret": ...}``; ``--secret KEY`` derives
the public key of an existing Z85 secret key instead of making a new pair. Without ``--json`` the
output is libzmq's ``curve_keygen`` layout (the same as ``zloop keygen``, which also writes
certificate files). Keys are Z85 text. Needs PyNaCl (``pip install "zloop-zmq[curve]"``).
"""

from __future__ import annotations

import argparse
import json
import sys

from zloop.errors import ZMQError
from zloop.keys import curve_keypair, curve_public


def main(argv: list[str] | None = None) -> int:
    """Print a key pair (or derive a public key); 0 on success, 1 if CURVE is unavailable."""
    parser = argparse.ArgumentParser(
        prog="python -m zloop.curve_keygen",
        description="Print a new ZeroMQ CURVE key pair (Z85).",
    )
    parser.add_argument("--json", action="store_true", help="print the keys as a JSON object")
    parser.add_argument(
        "--secret",
        help="derive the public key of this Z85 secret key (one that begins with '-' is given "
        "as --secret=KEY)",
    )
    args = parser.parse_args(argv)
    try:
        if args.secret:
            secret = args.secret
            public = curve_public(secret.encode("ascii")).decode("ascii")
        else:
            public_b, secret_b = curve_keypair()
            public, secret = public_b.decode("ascii"), secret_b.decode("ascii")
    except ImportError as exc:
        print(f"python -m zloop.curve_keygen: {exc}", file=sys.stderr)
        return 1
    except (ValueError, ZMQError) as exc:  # a malformed --secret (not Z85, not ASCII)
        parser.error(f"--secret: {exc}")
    if args.json:
        json.dump({"public": public, "secret": secret}, sys.stdout, indent=1, sort_keys=True)
        sys.stdout.write("\n")
    else:
        print("== CURVE PUBLIC KEY ==")
        print(public)
        print()
        print("== CURVE SECRET KEY ==")
        print(secret)
    return 0


if __name__ == "__main__":
    sys.exit(main())
