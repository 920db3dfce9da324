"""PAIR (RFC 31): exactly one peer; further peers' pipes are terminated, as libzmq does."""

from __future__ import annotations

from zloop.options import Options
from zloop.patterns.base import Pattern
from zloop.pipe import Msg, Pipe


class Pair(Pattern):
    def __init__(self, options: Options) -> None:
        super().__init__(options)
        self._pipe: Pipe | None = None

    def attach(self, pipe: Pipe) -> None:
        if self._pipe is not None:
            pipe.terminate()  # PAIR talks to one peer only
            return
        self._pipe = pipe

    def pipe_terminated(self, pipe: Pipe) -> None:
        if pipe is self._pipe:
            self._pipe = None

    def pipes(self) -> list[Pipe]:
        return [] if self._pipe is None else [self._pipe]

    def send(self, msg: Msg) -> bool:
        pipe = self._pipe
        return pipe is not None and pipe.write_flush(msg)

    def recv(self) -> tuple[Msg, Pipe] | None:
        pipe = self._pipe
        if pipe is None:
            return None
        msg = pipe.read()
        return None if msg is None else (msg, pipe)

    def has_in(self) -> bool:
        return self._pipe is not None and self._pipe.check_read()

    def has_out(self) -> bool:
        return self._pipe is not None and self._pipe.check_write()
