"""PUSH and PULL (RFC 30): the pipeline pattern.

PUSH round-robins whole messages over its connected PULL peers and blocks when every peer is at its
high-water mark (or when there is none yet: a bound PUSH with no peer blocks, as in libzmq). PULL
fair-queues messages from its PUSH peers.
"""

from __future__ import annotations

from zloop.options import Options
from zloop.patterns.base import Pattern
from zloop.patterns.lb import FairQueue, LoadBalancer
from zloop.pipe import Msg, Pipe


class Push(Pattern):
    def __init__(self, options: Options) -> None:
        super().__init__(options)
        self._lb = LoadBalancer()
        # Per-message hot path: let Socket call the balancer directly (same as send() below).
        self.send = self._lb.send  # type: ignore[method-assign]

    def attach(self, pipe: Pipe) -> None:
        self._lb.attach(pipe)

    def write_activated(self, pipe: Pipe) -> None:
        self._lb.activated(pipe)

    def pipe_terminated(self, pipe: Pipe) -> None:
        self._lb.remove(pipe)

    def pipes(self) -> list[Pipe]:
        return list(self._lb.pipes)

    def send(self, msg: Msg) -> bool:
        return self._lb.send(msg)

    def has_out(self) -> bool:
        return self._lb.has_out()


class Pull(Pattern):
    def __init__(self, options: Options) -> None:
        super().__init__(options)
        self._fq = FairQueue()
        # Per-message hot path: let Socket call the fair queue directly (same as recv() below).
        self.recv = self._fq.recv  # type: ignore[method-assign]

    def attach(self, pipe: Pipe) -> None:
        self._fq.attach(pipe)

    def read_activated(self, pipe: Pipe) -> None:
        self._fq.activated(pipe)

    def pipe_terminated(self, pipe: Pipe) -> None:
        self._fq.remove(pipe)

    def pipes(self) -> list[Pipe]:
        return list(self._fq.pipes)

    def recv(self) -> tuple[Msg, Pipe] | None:
        return self._fq.recv()

    def has_in(self) -> bool:
        return self._fq.has_in()
