"""``zloop proxy FRONTEND BACKEND``: libzmq's ``zmq_proxy`` as a program, optionally steerable.

``zloop proxy router:tcp://*:5555 dealer:tcp://*:5556`` is a shared queue (REQ clients on 5555,
REP workers on 5556); ``xsub:tcp://*:5557 xpub:tcp://*:5558`` a pub-sub forwarder;
``pull:tcp://*:5559 push:tcp://*:5560`` a streamer. Endpoints are bound unless written
``>endpoint`` (connect); a type must be given. A SUB frontend subscribes to everything.

``--capture [TYPE:]ENDPOINT`` (PUB by default, bound) gets a copy of every message forwarded in
either direction. ``--control [TYPE:]ENDPOINT`` (REP by default, bound) makes it the steerable
proxy: PAUSE, RESUME, TERMINATE and STATISTICS (8 frames of native uint64, as libzmq) arrive
there; TERMINATE ends the program (exit 0), and so do Ctrl-C and SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import Any

import zloop
from zloop.cli._sockets import (
    add_option_arguments,
    open_socket,
    parse_spec,
    stop_on_signals,
)

__all__ = ["add_parser", "run"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``proxy``."""
    parser = sub.add_parser(
        "proxy",
        help="forward messages between two sockets (zmq_proxy), optionally steerable",
        description="Forward messages between FRONTEND and BACKEND until Ctrl-C, SIGTERM or a "
        "TERMINATE on the control socket. Example: zloop proxy router:tcp://*:5555 "
        "dealer:tcp://*:5556",
    )
    parser.add_argument("frontend", metavar="TYPE:ENDPOINT", help="e.g. router:tcp://*:5555")
    parser.add_argument("backend", metavar="TYPE:ENDPOINT", help="e.g. dealer:tcp://*:5556")
    parser.add_argument(
        "--capture",
        metavar="[TYPE:]ENDPOINT",
        help="a copy of every forwarded message goes here (PUB by default)",
    )
    parser.add_argument(
        "--control",
        metavar="[TYPE:]ENDPOINT",
        help="steerable: PAUSE / RESUME / TERMINATE / STATISTICS arrive here (REP by default)",
    )
    add_option_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """``zloop proxy``."""
    specs = {
        "frontend": parse_spec(args.frontend, None, bind=True),
        "backend": parse_spec(args.backend, None, bind=True),
    }
    if args.capture:
        specs["capture"] = parse_spec(args.capture, "pub", bind=True)
    if args.control:
        specs["control"] = parse_spec(args.control, "rep", bind=True)
    tool = "zloop proxy"
    ctx = zloop.Context()
    try:
        with stop_on_signals(), contextlib.ExitStack() as stack:
            socks: dict[str, Any] = {}
            for role, spec in specs.items():
                # Options (-o) apply to the frontend and the backend.
                options = args if role in ("frontend", "backend") else None
                socks[role] = stack.enter_context(
                    open_socket(ctx, spec, options, tool=tool, role=role)
                )
                socks[role].linger = 0
            print(f"{tool}: running", file=sys.stderr, flush=True)
            try:
                zloop.proxy_steerable(
                    socks["frontend"], socks["backend"], socks.get("capture"), socks.get("control")
                )
                stopped = "TERMINATE"
            except KeyboardInterrupt:
                stopped = "a signal"
        print(f"{tool}: stopped by {stopped}", file=sys.stderr)
    finally:
        ctx.term()
    return 0
