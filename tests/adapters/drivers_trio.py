"""The conformance-suite driver for trio: scenarios as trio tasks over ``zloop.adapters.trio``.

Tasks run in one nursery, each in its own cancel scope (``cancel`` = ``scope.cancel()``, trio's native
cancellation; a scenario sees it as :class:`drivers.Cancelled`). Receive timeouts are
``trio.move_on_after``; ``checkpoint`` is ``trio.sleep(0)``; events are ``trio.Event``.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import trio
from drivers import TIMEOUT, AwaitingDriver, Cancelled, Join, Recv, Scenario, ScenarioHung
from zl_testing import DEADLINE


class _Task:
    def __init__(self) -> None:
        self.scope = trio.CancelScope()
        self.done = trio.Event()
        self.result: Any = None
        self.error: BaseException | None = None
        self.cancelled = False


class TrioDriver(AwaitingDriver):
    name = "trio"
    event_type = trio.Event
    sleep = staticmethod(trio.sleep)

    def run(self, scenario: Scenario, *socks: Any, deadline: float = DEADLINE) -> Any:
        return trio.run(self._main, scenario, socks, deadline)

    async def _main(self, scenario: Scenario, socks: Any, deadline: float) -> Any:
        from zloop.adapters.trio import Socket

        wrapped = [Socket.from_socket(s) for s in socks]
        try:
            async with trio.open_nursery() as nursery:
                self.nursery = nursery
                task = self._start(scenario(*wrapped))
                with trio.move_on_after(deadline) as limit:
                    await task.done.wait()
                nursery.cancel_scope.cancel()  # stray child tasks end with the scenario
        finally:
            for w in wrapped:
                w._release()
        if limit.cancelled_caught:
            raise ScenarioHung(f"scenario {scenario.__name__} hung ({self.name})")
        if task.cancelled:
            raise Cancelled()
        if task.error is not None:
            raise task.error
        return task.result

    def _start(self, gen: Generator[Any, Any, Any]) -> _Task:
        task = _Task()
        self.nursery.start_soon(self._task, task, gen)
        return task

    def _cancel_task(self, task: _Task) -> None:
        task.scope.cancel()

    async def _task(self, task: _Task, gen: Generator[Any, Any, Any]) -> None:
        try:
            with task.scope:
                task.result = await self._drive(gen)
        except Cancelled:
            task.cancelled = True
        except Exception as exc:
            task.error = exc
        finally:
            if task.scope.cancelled_caught:
                task.cancelled = True
            task.done.set()

    async def _drive(self, gen: Generator[Any, Any, Any]) -> Any:
        value: Any = None
        exc: BaseException | None = None
        native: trio.Cancelled | None = None
        while True:
            try:
                cmd = gen.throw(exc) if exc is not None else gen.send(value)
            except StopIteration as stop:
                return stop.value
            except Cancelled:
                if native is not None:
                    raise native from None
                raise
            value, exc = None, None
            try:
                value = await self._exec(cmd)
            except trio.Cancelled as c:
                native = c
                exc = Cancelled()
            except Exception as e:
                exc = e

    async def _exec(self, cmd: Any) -> Any:
        if isinstance(cmd, Recv):
            sock = cmd.sock
            if cmd.timeout is None:
                if cmd.multipart:
                    return await sock.recv_multipart(copy=cmd.copy)
                return await sock.recv(copy=cmd.copy)
            with trio.move_on_after(cmd.timeout):
                if cmd.multipart:
                    return await sock.recv_multipart(copy=cmd.copy)
                return await sock.recv(copy=cmd.copy)
            return TIMEOUT
        if isinstance(cmd, Join):
            other: _Task = cmd.task
            await other.done.wait()
            if other.cancelled:
                raise Cancelled()
            if other.error is not None:
                raise other.error
            return other.result
        return await self._exec_awaiting(cmd)
