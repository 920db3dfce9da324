"""Conformance-suite drivers for Twisted: scenarios as coroutines (``Deferred.fromCoroutine``) over
``zloop.adapters.twisted`` sockets, on a fresh reactor per scenario: the epoll reactor (Twisted's
default here) and the asyncio reactor over a new asyncio loop.

``cancel`` is ``Deferred.cancel()`` on the task (Twisted's native cancellation: the Deferred the
task awaits is cancelled and ``CancelledError`` raised in the coroutine; a scenario sees it as
:class:`drivers.Cancelled`). Receive timeouts are ``Deferred.addTimeout`` (which cancels the
receive); ``checkpoint`` is ``deferLater(reactor, 0)``; events are a list of waiting Deferreds.
A reactor cannot be restarted, so the driver never touches the global one: it makes its own and
hands it to the adapter (``Socket.from_socket(raw, reactor)``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from typing import Any

from drivers import (
    TIMEOUT,
    AwaitingDriver,
    Cancelled,
    Checkpoint,
    Join,
    Recv,
    Scenario,
    ScenarioHung,
    WaitEvent,
)
from twisted.internet import defer, task
from zl_testing import DEADLINE


class _Event:
    def __init__(self) -> None:
        self.is_set = False
        self.waiters: list[defer.Deferred[None]] = []

    def set(self) -> None:
        self.is_set = True
        waiters, self.waiters = self.waiters, []
        for d in waiters:
            d.callback(None)

    def wait(self) -> defer.Deferred[None]:
        if self.is_set:
            return defer.succeed(None)
        d: defer.Deferred[None] = defer.Deferred()
        self.waiters.append(d)
        return d


class _Task:
    def __init__(self) -> None:
        self.deferred: Any = None
        self.done = _Event()
        self.result: Any = None
        self.error: BaseException | None = None
        self.cancelled = False


class TwistedDriver(AwaitingDriver):
    name = "twisted"
    event_type = _Event

    def make_reactor(self) -> Any:
        from twisted.internet.epollreactor import EPollReactor

        return EPollReactor()

    def dispose_reactor(self, reactor: Any) -> None:
        waker = reactor.waker
        if waker is not None:
            reactor.removeReader(waker)
            waker.connectionLost(None)
        reactor._poller.close()

    def sleep(self, delay: float) -> Any:
        return task.deferLater(self.reactor, delay)

    def run(self, scenario: Scenario, *socks: Any, deadline: float = DEADLINE) -> Any:
        from zloop.adapters.twisted import Socket

        self.reactor = reactor = self.make_reactor()
        wrapped = [Socket.from_socket(s, reactor) for s in socks]
        outcome: dict[str, Any] = {}

        def finish(result: Any) -> None:
            outcome["result"] = result
            if reactor.running:
                reactor.stop()

        def start() -> None:
            main = self._start(scenario(*wrapped))
            outcome["task"] = main
            main.done.wait().addCallback(finish)

        def hung() -> None:
            outcome["hung"] = True
            reactor.stop()

        reactor.callWhenRunning(start)
        limit = reactor.callLater(deadline, hung)
        try:
            reactor.run(installSignalHandlers=False)
        finally:
            if limit.active():
                limit.cancel()
            for w in wrapped:
                w._release()
            for t in self.tasks:
                if not t.done.is_set:
                    t.deferred.cancel()
            self.dispose_reactor(reactor)
        if outcome.get("hung"):
            raise ScenarioHung(f"scenario {scenario.__name__} hung ({self.name})")
        main = outcome["task"]
        if main.cancelled:
            raise Cancelled()
        if main.error is not None:
            raise main.error
        return main.result

    @property
    def tasks(self) -> list[_Task]:
        return self.__dict__.setdefault("_tasks", [])

    def _start(self, gen: Generator[Any, Any, Any]) -> _Task:
        """Start the task on the next reactor turn (as asyncio and trio do): a Deferred that fired
        already continues synchronously, so a task started at once could run to its end inside
        ``spawn`` before anything else had a chance to happen."""
        t = _Task()
        self.tasks.append(t)

        def begin() -> defer.Deferred[None]:
            return defer.Deferred.fromCoroutine(self._task(t, gen))

        def not_started(failure: Any) -> None:
            if not t.done.is_set:  # cancelled before it began
                failure.trap(defer.CancelledError)
                t.cancelled = True
                t.done.set()

        t.deferred = task.deferLater(self.reactor, 0, begin)
        t.deferred.addErrback(not_started)
        return t

    def _cancel_task(self, t: _Task) -> None:
        if not t.done.is_set:
            t.deferred.cancel()  # forwarded to the Deferred the task awaits

    async def _task(self, t: _Task, gen: Generator[Any, Any, Any]) -> None:
        try:
            t.result = await self._drive(gen)
        except (Cancelled, defer.CancelledError):
            t.cancelled = True
        except Exception as exc:
            t.error = exc
        finally:
            t.done.set()

    async def _drive(self, gen: Generator[Any, Any, Any]) -> Any:
        value: Any = None
        exc: BaseException | None = None
        while True:
            try:
                cmd = gen.throw(exc) if exc is not None else gen.send(value)
            except StopIteration as stop:
                return stop.value
            value, exc = None, None
            try:
                value = await self._exec(cmd)
            except defer.CancelledError:
                exc = Cancelled()
            except Exception as e:
                exc = e

    async def _exec(self, cmd: Any) -> Any:
        if isinstance(cmd, Recv):
            sock = cmd.sock
            d = sock.recv_multipart(copy=cmd.copy) if cmd.multipart else sock.recv(copy=cmd.copy)
            if cmd.timeout is None:
                return await d
            d.addTimeout(cmd.timeout, self.reactor)
            try:
                return await d
            except defer.TimeoutError:
                return TIMEOUT
        if isinstance(cmd, Join):
            other: _Task = cmd.task
            await other.done.wait()
            if other.cancelled:
                raise Cancelled()
            if other.error is not None:
                raise other.error
            return other.result
        if isinstance(cmd, Checkpoint):
            await task.deferLater(self.reactor, 0)
            return None
        if isinstance(cmd, WaitEvent):
            await cmd.event.wait()
            return None
        return await self._exec_awaiting(cmd)


class TwistedAsyncioDriver(TwistedDriver):
    name = "twisted-asyncio"

    def make_reactor(self) -> Any:
        from twisted.internet.asyncioreactor import AsyncioSelectorReactor

        return AsyncioSelectorReactor(asyncio.new_event_loop())

    def dispose_reactor(self, reactor: Any) -> None:
        reactor._asyncioEventloop.close()
