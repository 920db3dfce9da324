"""The conformance-suite driver for tornado: scenarios as coroutines on a tornado ``IOLoop``.

Whole messages travel through ``zloop.adapters.tornado.ZMQStream`` — the callback API that is
tornado's own: ``recv_multipart`` is a one-shot ``on_recv`` (the driver keeps a FIFO of waiting
scenario tasks and calls ``stop_on_recv()`` inside the callback as soon as nobody waits, so the
stream never takes a message nobody asked for), ``send``/``send_multipart`` queue on the stream and
complete from ``on_send``. Single-frame ``recv``, ``poll`` and ``EVENTS`` use the tornado module's
awaitable ``Socket`` on the same socket (one shared watcher).

A callback stream hands a message to the application when it calls ``on_recv``; if the scenario
task that asked for it was cancelled meanwhile, the driver — as any application would — keeps the
message and gives it to the next ``recv_multipart`` (the adapter itself never takes a message for a
cancelled request: that is what ``stop_on_recv`` guarantees and what the suite checks).
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

from drivers import (
    TIMEOUT,
    AsyncioDriver,
    Recv,
    Scenario,
    ScenarioHung,
    Send,
)
from zl_testing import DEADLINE


class _StreamSocket:
    """What a scenario holds: a ZMQStream plus an awaitable socket over one raw socket."""

    def __init__(self, raw: Any, io_loop: Any) -> None:
        from zloop.adapters.tornado import Socket, ZMQStream

        self.raw = raw
        self.stream = ZMQStream(raw, io_loop)
        self.asock = Socket.from_socket(raw)
        self.loop: asyncio.AbstractEventLoop = io_loop.asyncio_loop
        self.recv_waiters: deque[tuple[asyncio.Future[Any], bool]] = deque()
        self.kept: deque[list[Any]] = deque()
        self.send_waiters: deque[asyncio.Future[Any]] = deque()
        self.copy: bool | None = None
        self.stream.on_send(self._on_send)

    def getsockopt(self, option: int) -> Any:
        return self.asock.getsockopt(option)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)

    # -- receiving through on_recv --------------------------------------------------------------------

    def _arm(self) -> None:
        while self.recv_waiters and self.recv_waiters[0][0].done():
            self.recv_waiters.popleft()
        if self.recv_waiters:
            copy = self.recv_waiters[0][1]
            if not self.stream.receiving() or copy != self.copy:
                self.copy = copy
                self.stream.on_recv(self._on_recv, copy=copy)
        elif self.stream.receiving():
            self.stream.stop_on_recv()

    def _on_recv(self, msg: list[Any]) -> None:
        self._deliver(msg)
        self._arm()

    def _deliver(self, msg: list[Any]) -> None:
        while self.recv_waiters:
            fut, _ = self.recv_waiters.popleft()
            if not fut.done():
                fut.set_result(msg)
                return
        self.kept.append(msg)

    async def recv_multipart(self, copy: bool) -> list[Any]:
        if self.kept:
            return self.kept.popleft()
        fut: asyncio.Future[Any] = self.loop.create_future()
        self.recv_waiters.append((fut, copy))
        self._arm()
        try:
            result: list[Any] = await fut
            return result
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                # on_recv handed it over before the cancellation landed: keep it, in order.
                msg = fut.result()
                if self.recv_waiters:
                    self._deliver(msg)
                else:
                    self.kept.appendleft(msg)
            self._arm()
            raise

    # -- sending through the stream's queue ----------------------------------------------------------

    def _on_send(self, msg: list[Any], status: Any) -> None:
        while self.send_waiters:
            fut = self.send_waiters.popleft()
            if not fut.done():
                if isinstance(status, BaseException):
                    fut.set_exception(status)
                else:
                    fut.set_result(status)
                return

    async def send(
        self, parts: list[Any], flags: int, copy: bool = True, track: bool = False
    ) -> Any:
        fut: asyncio.Future[Any] = self.loop.create_future()
        self.send_waiters.append(fut)
        self.stream.send_multipart(parts, flags=flags, copy=copy, track=track)
        try:
            return await fut
        except asyncio.CancelledError:
            # Still queued: take it back, so a cancelled send sent nothing (all or nothing).
            self.stream._discard_queued(parts)
            raise

    def _release(self) -> None:
        self.stream._release()
        self.asock._release()


class TornadoDriver(AsyncioDriver):
    name = "tornado"

    def run(self, scenario: Scenario, *socks: Any, deadline: float = DEADLINE) -> Any:
        from tornado.ioloop import IOLoop

        io_loop = IOLoop(make_current=False)

        def wrap(raw: Any) -> _StreamSocket:
            return _StreamSocket(raw, io_loop)

        async def main() -> Any:
            return await self._main(scenario, wrap, socks, deadline)

        try:
            return io_loop.run_sync(main, timeout=deadline + 5)
        except TimeoutError as exc:
            raise ScenarioHung(f"scenario {scenario.__name__} hung (tornado)") from exc
        finally:
            io_loop.close(all_fds=False)

    async def _exec(self, cmd: Any) -> Any:
        if isinstance(cmd, Recv):
            sock: _StreamSocket = cmd.sock
            if cmd.multipart:
                coro = sock.recv_multipart(cmd.copy)
            else:
                coro = sock.asock.recv(copy=cmd.copy)
            if cmd.timeout is None:
                return await coro
            try:
                return await asyncio.wait_for(coro, cmd.timeout)
            except asyncio.TimeoutError:
                return TIMEOUT
        if isinstance(cmd, Send):
            parts = cmd.data if cmd.multipart else [cmd.data]
            return await cmd.sock.send(
                parts, 0 if cmd.multipart else cmd.flags, copy=cmd.copy, track=cmd.track
            )
        if hasattr(cmd, "sock") and isinstance(cmd.sock, _StreamSocket):
            cmd.sock = cmd.sock.asock  # poll / events: the awaitable socket
        return await super()._exec(cmd)
