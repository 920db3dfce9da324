"""``python -m zloop.log URL``: print the records a :class:`~zloop.log.handlers.PUBHandler`
publishes at ``URL`` (pyzmq's ``python -m zmq.log``, same options).

Each message prints as ``topic | text`` (``--separator``), optionally after the local time
(``--timestamp``, ``--dateformat``), with topic parts padded to line up (``--align``) and coloured by
level (``--color``, needs the ``colorama`` package). ``--topic`` subscribes to a prefix (the
handler's root topic, say); the default ``""`` receives everything. Ctrl-C stops it.
"""

from __future__ import annotations

import argparse
import datetime
import sys

import zloop


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m zloop.log", description="Print log records published by a PUBHandler."
    )
    parser.add_argument("zmq_pub_url", help="the address the PUBHandler's socket is bound to")
    parser.add_argument("-t", "--topic", default="", help="receive only topics with this prefix")
    parser.add_argument("--timestamp", action="store_true", help="print the local time first")
    parser.add_argument("--separator", default=" | ", help="between topic and message")
    parser.add_argument(
        "--dateformat", default="%Y-%d-%m %H:%M", help="strftime format for --timestamp"
    )
    parser.add_argument("--align", action="store_true", help="pad topic parts to line up")
    parser.add_argument("--color", action="store_true", help="colour by level (needs colorama)")
    return parser


def _colours(enabled: bool) -> dict[str, str]:
    if not enabled:
        return {}
    try:
        import colorama  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError:
        sys.exit("python -m zloop.log: --color needs the colorama package (pip install colorama)")
    colorama.init()
    fore = colorama.Fore
    return {
        "DEBUG": fore.LIGHTCYAN_EX,
        "INFO": fore.LIGHTWHITE_EX,
        "WARNING": fore.YELLOW,
        "ERROR": fore.LIGHTRED_EX,
        "CRITICAL": fore.LIGHTRED_EX,
        "": fore.RESET,
    }


class _Aligner:
    """Pads each dot-separated part of a topic to the widest seen at that position."""

    def __init__(self) -> None:
        self.widths: list[int] = []

    def __call__(self, parts: list[str]) -> str:
        parts = parts + [" "] * (len(self.widths) - len(parts))
        self.widths += [0] * (len(parts) - len(self.widths))
        for i, part in enumerate(parts):
            self.widths[i] = max(self.widths[i], len(part))
        return ".".join(part.ljust(self.widths[i]) for i, part in enumerate(parts))


def main(argv: list[str] | None = None) -> int:
    """Run the watcher until interrupted."""
    args = _parser().parse_args(argv)
    colours = _colours(args.color)
    align = _Aligner() if args.align else None
    ctx = zloop.Context()
    sub = ctx.socket(zloop.SUB)
    sub.setsockopt(zloop.SUBSCRIBE, args.topic.encode("utf-8"))
    sub.connect(args.zmq_pub_url)
    try:
        while True:
            frames = sub.recv_multipart()
            if len(frames) != 2:
                continue  # not a PUBHandler record
            topic = frames[0].decode("utf-8", "replace").strip()
            text = frames[1].decode("utf-8", "replace").strip()
            parts = topic.split(".")
            level = parts[0] if len(parts) == 1 else parts[1]
            stamp = (
                datetime.datetime.now().strftime(args.dateformat) + " " if args.timestamp else ""
            )
            shown = align(parts) if align is not None else topic
            colour, reset = colours.get(level, ""), colours.get("", "")
            print(f"{stamp}{colour}{shown}{args.separator}{text}{reset}", flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        ctx.destroy(linger=0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
