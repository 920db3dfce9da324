"""``zloop monitor [TYPE:]ENDPOINT``: watch what happens to a socket's connections, event by event.

The tool makes a socket (DEALER by default; give the type the peer expects, e.g. ``sub:`` for a
PUB), starts libzmq's socket monitor on it, connects it (or binds it, ``@endpoint``) and prints one
line per monitor event, by name, with its value explained::

    CONNECT_DELAYED        tcp://127.0.0.1:5555  errno EINPROGRESS
    CONNECTED              tcp://127.0.0.1:5555  fd 7
    HANDSHAKE_SUCCEEDED    tcp://127.0.0.1:5555
    DISCONNECTED           tcp://127.0.0.1:5555  fd 7
    CONNECT_RETRIED        tcp://127.0.0.1:5555  retry in 100 ms

Binding shows who connects to you (ACCEPTED, HANDSHAKE_FAILED_PROTOCOL for a peer of the wrong
type or protocol, HANDSHAKE_FAILED_AUTH for one refused by security). ``--messages`` also prints
the messages the socket receives. The tool runs until Ctrl-C or SIGTERM, or ``-n`` events.
"""

from __future__ import annotations

import argparse
import errno
import time

import zloop
from zloop.cli._sockets import (
    CliError,
    add_curve_arguments,
    add_option_arguments,
    open_socket,
    parse_spec,
    stop_on_signals,
)
from zloop.constants import Event, ProtocolErrorCode

__all__ = ["add_parser", "describe_value", "run"]

_FD_EVENTS = {Event.LISTENING, Event.ACCEPTED, Event.CONNECTED, Event.CLOSED, Event.DISCONNECTED}
_ERRNO_EVENTS = {
    Event.BIND_FAILED,
    Event.ACCEPT_FAILED,
    Event.CONNECT_DELAYED,
    Event.CLOSE_FAILED,
    Event.HANDSHAKE_FAILED_NO_DETAIL,
}


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``monitor``."""
    parser = sub.add_parser(
        "monitor",
        help="print a socket's monitor events by name",
        description="Connect (or, with @endpoint, bind) a socket and print its monitor events. "
        "Example: zloop monitor req:tcp://127.0.0.1:5555",
    )
    parser.add_argument(
        "socket",
        metavar="[TYPE:]ENDPOINT",
        help="socket type (default dealer) and endpoint(s); @endpoint binds",
    )
    parser.add_argument("-n", "--count", type=int, help="stop after this many events")
    parser.add_argument(
        "--events",
        metavar="NAME,NAME",
        help="only these events (e.g. connected,disconnected; default all)",
    )
    parser.add_argument(
        "--messages",
        action="store_true",
        help="also print the messages the socket receives (as Python bytes literals)",
    )
    parser.add_argument(
        "--timestamps", action="store_true", help="start each line with the time of day"
    )
    add_option_arguments(parser)
    add_curve_arguments(parser)
    parser.set_defaults(run=run)


def describe_value(event: int, value: int) -> str:
    """What a monitor event's value means: an fd, an errno, a retry interval, a status."""
    try:
        kind = Event(event)
    except ValueError:
        return f"value {value}"
    if kind in _FD_EVENTS:
        return f"fd {value}"
    if kind in _ERRNO_EVENTS:
        return f"errno {errno.errorcode.get(value, value)}"
    if kind == Event.CONNECT_RETRIED:
        return f"retry in {value} ms"
    if kind == Event.HANDSHAKE_FAILED_AUTH:
        return f"ZAP status {value}"
    if kind == Event.HANDSHAKE_FAILED_PROTOCOL:
        try:
            return ProtocolErrorCode(value).name
        except ValueError:
            return f"protocol error {value:#x}"
    return ""


def _event_mask(names: str | None) -> int:
    if not names:
        return int(Event.ALL)
    mask = 0
    for name in names.split(","):
        key = name.strip().upper().removeprefix("EVENT_")
        if key not in Event.__members__:
            known = ", ".join(n.lower() for n in Event.__members__ if n != "ALL")
            raise CliError(f"unknown event {name!r} (one of: {known})")
        mask |= int(Event[key])
    return mask


def run(args: argparse.Namespace) -> int:
    """``zloop monitor``."""
    spec = parse_spec(args.socket, "dealer", bind=False)
    mask = _event_mask(args.events)
    ctx = zloop.Context()
    watches: list[zloop.Socket] = []

    def start_monitor(sock: zloop.Socket) -> None:
        # Before bind/connect, so the first events (LISTENING, CONNECT_DELAYED) are seen too.
        watches.append(sock.get_monitor_socket(mask))

    try:
        with (
            stop_on_signals(),
            open_socket(ctx, spec, args, tool="zloop monitor", prepare=start_monitor) as sock,
        ):
            sock.setsockopt(zloop.LINGER, 0)
            _tail(args, sock, watches[0])
    except KeyboardInterrupt:
        pass
    finally:
        for watch in watches:
            watch.close(linger=0)
        ctx.term()
    return 0


def _tail(args: argparse.Namespace, sock: zloop.Socket, watch: zloop.Socket) -> None:
    poller = zloop.Poller()
    poller.register(watch, zloop.POLLIN)
    if args.messages:
        poller.register(sock, zloop.POLLIN)
    seen = 0
    while args.count is None or seen < args.count:
        ready = dict(poller.poll())
        # Events first: what happened to a connection is printed before the messages it brought.
        for item in sorted(ready, key=lambda s: s is not watch):
            if item is watch:
                event = zloop.recv_monitor_message(watch)
                number = int(event["event"])
                try:
                    name = Event(number).name
                except ValueError:
                    name = str(number)
                fields = [f"{name:<26}", event["endpoint"].decode(errors="replace")]
                _print(args, [*fields, describe_value(number, event["value"])])
                seen += 1
                if number == Event.MONITOR_STOPPED:
                    return
            else:
                frames = sock.recv_multipart()
                _print(args, [f"{'message':<26}", " ".join(repr(f) for f in frames)])


def _print(args: argparse.Namespace, parts: list[str]) -> None:
    text = "  ".join(p for p in parts if p)
    if args.timestamps:
        text = time.strftime("%H:%M:%S ") + text
    print(text, flush=True)
