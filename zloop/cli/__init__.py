"""The ``zloop`` command (also ``python -m zloop``): one sub-command per tool.

* ``demo`` / ``selfcheck`` -- zloop working through every path (in :mod:`zloop.__main__`);
* ``bench`` -- throughput and latency, zloop beside pyzmq, and libzmq's perf-tool roles
  (:mod:`zloop.cli.bench`);
* ``proxy`` -- ``zmq_proxy`` as a program, steerable (:mod:`zloop.cli.proxy`);
* ``monitor`` -- a socket's monitor events by name (:mod:`zloop.cli.monitor`);
* ``send`` / ``recv`` -- stdin lines to messages and messages to stdout (:mod:`zloop.cli.sendrecv`);
* ``keygen`` -- CURVE key pairs and certificates (:mod:`zloop.keys`).

Each tool module has ``add_parser(s)`` registering its sub-command with a ``run`` default; a tool
reports a bad argument or environment with :class:`~zloop.cli._sockets.CliError`, which becomes
one line ``zloop TOOL: message`` on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import zloop
from zloop import keys
from zloop.cli import bench, monitor, proxy, sendrecv
from zloop.cli._sockets import CliError, attach_dash_keys

__all__ = ["build_parser", "main"]

DESCRIPTION = (
    "zloop: ZeroMQ in pure Python, built for event loops. "
    "Run 'zloop demo' to see it work, 'zloop COMMAND --help' for a command."
)


def build_parser() -> argparse.ArgumentParser:
    """The parser of every sub-command (each sets ``run``, a function of the parsed arguments)."""
    parser = argparse.ArgumentParser(prog="zloop", description=DESCRIPTION)
    parser.add_argument(
        "-V",
        "--version",
        action="version",
        version=f"zloop {zloop.__version__} (ZeroMQ wire protocol and API of libzmq "
        f"{zloop.zmq_version()})",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser(
        "demo", help="show zloop working: self-check, engine, every adapter, libzmq, CURVE"
    ).set_defaults(run=_demo)
    sub.add_parser("selfcheck", help="run the protocol self-check only").set_defaults(
        run=_selfcheck
    )
    bench.add_parser(sub)
    proxy.add_parser(sub)
    monitor.add_parser(sub)
    sendrecv.add_parsers(sub)
    keygen = sub.add_parser(
        "keygen",
        help="make a CURVE key pair (Z85), or certificate files",
        description="Print a new CURVE key pair, or write NAME.key and NAME.key_secret.",
    )
    keys.add_keygen_arguments(keygen)
    keygen.set_defaults(run=keys.keygen)
    sub.add_parser("version", help="print the version").set_defaults(run=_version)
    return parser


def _demo(args: argparse.Namespace) -> int:
    from zloop.__main__ import demo

    return demo()


def _selfcheck(args: argparse.Namespace) -> int:
    from zloop.__main__ import _selfcheck

    return 0 if _selfcheck() else 1


def _version(args: argparse.Namespace) -> int:
    print(zloop.__version__)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``zloop`` with ``argv`` (default: the command line); return the exit status."""
    parser = build_parser()
    args = parser.parse_args(attach_dash_keys(sys.argv[1:] if argv is None else argv))
    run = getattr(args, "run", None)
    if run is None:
        parser.print_help()
        return 2
    try:
        status: int = run(args)
    except CliError as exc:
        print(f"zloop {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return status
