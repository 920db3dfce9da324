"""``zloop send`` and ``zloop recv``: ZeroMQ messages from stdin and to stdout, any socket type.

In the spirit of zmqc: ``send`` reads messages from stdin, one a line (or NUL-separated with
``-0``), and sends each; ``recv`` prints every message that arrives. ``-F SEP`` splits a line into
frames at SEP on the way in (``send``) and joins frames with SEP on the way out (``recv``, which
joins with a TAB by default).

Socket types and what the tools do with them:

* ``send`` (PUSH by default): every line is one message. REQ waits for each reply and prints it;
  DEALER/ROUTER/PAIR/PUB/... just send (a ROUTER's first frame is the peer's routing id).
* ``recv`` (PULL by default): every message is printed. REP sends each request back as the
  reply (an echo); SUB subscribes to everything unless ``--subscribe`` names prefixes.

Endpoints are connected unless written ``@endpoint`` (bind); see :mod:`zloop.cli._sockets`.
"""

from __future__ import annotations

import argparse
import binascii
import os
import sys
from collections.abc import Iterator
from typing import BinaryIO

import zloop
from zloop.cli._sockets import (
    CliError,
    add_curve_arguments,
    add_option_arguments,
    open_socket,
    parse_spec,
    stop_on_signals,
)
from zloop.constants import SocketType

__all__ = ["add_parsers", "recv", "send"]

FORMATS = ("raw", "hex", "repr")


def _unescape(text: str) -> bytes:
    r"""A separator from the command line: ``\t``, ``\n``, ``\0``, ``\\`` are understood."""
    return text.encode().decode("unicode_escape").encode("latin-1")


def _common(parser: argparse.ArgumentParser, default_type: str) -> None:
    parser.add_argument(
        "socket",
        metavar="[TYPE:]ENDPOINT",
        help=f"socket type (default {default_type}) and endpoint(s); @endpoint binds, "
        "an endpoint alone connects",
    )
    parser.add_argument(
        "-n", "--count", type=int, help="stop after this many messages (default: no limit)"
    )
    parser.add_argument(
        "-0",
        "--null",
        action="store_true",
        help="messages are separated by NUL bytes instead of newlines",
    )
    parser.add_argument(
        "-F",
        "--frames",
        metavar="SEP",
        help="frame separator within a message (escapes such as \\t are understood)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="give up (exit 1) when nothing arrives for this long",
    )
    add_option_arguments(parser)
    add_curve_arguments(parser)


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``send`` and ``recv``."""
    send_parser = sub.add_parser(
        "send",
        help="send stdin's lines as messages",
        description="Send each line of stdin as a message (REQ: print each reply). "
        "Example: printf 'a\\nb\\n' | zloop send push:tcp://127.0.0.1:5555",
    )
    _common(send_parser, "push")
    send_parser.add_argument(
        "--wait-peers",
        type=int,
        default=0,
        metavar="N",
        help="before sending, wait until N peers have completed their handshake",
    )
    send_parser.add_argument(
        "--linger",
        type=int,
        default=-1,
        metavar="MS",
        help="at the end, wait this long for unsent messages to leave (default -1: until sent)",
    )
    send_parser.add_argument("--format", choices=FORMATS, default="raw", help="REQ replies")
    send_parser.set_defaults(run=send)

    recv_parser = sub.add_parser(
        "recv",
        help="print the messages that arrive",
        description="Print each message that arrives, frames joined by TAB (or -F SEP). "
        "Example: zloop recv pull:@tcp://*:5555",
    )
    _common(recv_parser, "pull")
    recv_parser.add_argument(
        "--subscribe",
        action="append",
        metavar="PREFIX",
        help="SUB: subscribe to this prefix (repeatable; default: everything)",
    )
    recv_parser.add_argument(
        "--format",
        choices=FORMATS,
        default="raw",
        help="raw bytes (default), hex, or Python bytes literals",
    )
    recv_parser.set_defaults(run=recv)


def _records(stream: BinaryIO, delimiter: bytes) -> Iterator[bytes]:
    """The records of ``stream`` as they arrive (a record is sent as soon as its line ends)."""
    fd = stream.fileno()
    pending = b""
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        pending += chunk
        *records, pending = pending.split(delimiter)
        yield from records
    if pending:
        yield pending


def _format(frames: list[bytes], how: str, separator: bytes) -> bytes:
    if how == "hex":
        parts = [binascii.hexlify(f) for f in frames]
    elif how == "repr":
        parts = [repr(f).encode() for f in frames]
    else:
        parts = frames
    return separator.join(parts)


class _Printer:
    def __init__(self, args: argparse.Namespace) -> None:
        self.how = args.format
        self.separator = _unescape(args.frames) if args.frames else b"\t"
        self.end = b"\0" if args.null else b"\n"
        self.out = sys.stdout.buffer

    def __call__(self, frames: list[bytes]) -> None:
        self.out.write(_format(frames, self.how, self.separator) + self.end)
        self.out.flush()


def _wait_peers(
    sock: zloop.Socket, monitor: zloop.Socket, count: int, timeout: float | None
) -> None:
    """Block until ``count`` HANDSHAKE_SUCCEEDED events of ``sock`` were seen on ``monitor``
    (started before the socket bound or connected, so no handshake can be missed)."""
    try:
        if timeout is not None:
            monitor.setsockopt(zloop.RCVTIMEO, int(timeout * 1000))
        for _ in range(count):
            try:
                zloop.recv_monitor_message(monitor)
            except zloop.Again:
                raise _Timeout(f"fewer than {count} peers within {timeout:g} s") from None
    finally:
        sock.disable_monitor()


class _Timeout(Exception):
    pass


def send(args: argparse.Namespace) -> int:
    """``zloop send``."""
    spec = parse_spec(args.socket, "push", bind=False)
    delimiter = b"\0" if args.null else b"\n"
    split = _unescape(args.frames) if args.frames else None
    printer = _Printer(args)
    ctx = zloop.Context()
    monitors: list[zloop.Socket] = []
    try:

        def watch_handshakes(sock: zloop.Socket) -> None:
            if args.wait_peers:
                monitors.append(sock.get_monitor_socket(zloop.EVENT_HANDSHAKE_SUCCEEDED))

        with (
            stop_on_signals(),
            open_socket(ctx, spec, args, tool="zloop send", prepare=watch_handshakes) as sock,
        ):
            sock.setsockopt(zloop.LINGER, args.linger)
            if args.timeout is not None:
                sock.setsockopt(zloop.RCVTIMEO, int(args.timeout * 1000))
                sock.setsockopt(zloop.SNDTIMEO, int(args.timeout * 1000))
            if args.wait_peers:
                _wait_peers(sock, monitors[0], args.wait_peers, args.timeout)
            for sent, record in enumerate(_records(sys.stdin.buffer, delimiter)):
                if args.count is not None and sent >= args.count:
                    break
                frames = record.split(split) if split is not None else [record]
                sock.send_multipart(frames)
                if spec.type == SocketType.REQ:
                    printer(sock.recv_multipart())
    except KeyboardInterrupt:
        return 0
    except zloop.Again:
        print(
            f"zloop send: nothing could be sent or received within {args.timeout:g} s",
            file=sys.stderr,
        )
        return 1
    except _Timeout as exc:
        print(f"zloop send: {exc}", file=sys.stderr)
        return 1
    finally:
        for monitor in monitors:
            monitor.close(linger=0)
        ctx.term()
    return 0


def recv(args: argparse.Namespace) -> int:
    """``zloop recv``."""
    spec = parse_spec(args.socket, "pull", bind=False)
    if args.subscribe and spec.type != SocketType.SUB:
        raise CliError("--subscribe is for SUB sockets")
    printer = _Printer(args)
    ctx = zloop.Context()
    try:
        with stop_on_signals(), open_socket(ctx, spec, args, tool="zloop recv") as sock:
            sock.setsockopt(zloop.LINGER, 0 if spec.type != SocketType.REP else 1000)
            if args.timeout is not None:
                sock.setsockopt(zloop.RCVTIMEO, int(args.timeout * 1000))
            received = 0
            while args.count is None or received < args.count:
                frames = sock.recv_multipart()
                received += 1
                printer(frames)
                if spec.type == SocketType.REP:
                    sock.send_multipart(frames)
    except KeyboardInterrupt:
        return 0
    except zloop.Again:
        print(f"zloop recv: nothing arrived within {args.timeout:g} s", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (``zloop recv ... | head -1``): stop quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    finally:
        ctx.term()
    return 0
