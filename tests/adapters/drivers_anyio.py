"""Conformance-suite drivers for anyio: scenarios as anyio tasks over ``zloop.adapters.anyio``,
once on anyio's asyncio backend and once on its trio backend (the adapter is the same code).

Tasks run in one task group, each in its own ``anyio.CancelScope`` (``cancel`` = ``scope.cancel()``,
anyio's native cancellation; a scenario sees it as :class:`drivers.Cancelled`). Receive timeouts
are ``anyio.move_on_after``; ``checkpoint`` is ``anyio.sleep(0)``; events are ``anyio.Event``.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import anyio
from drivers import TIMEOUT, AwaitingDriver, Cancelled, Join, Recv, Scenario, ScenarioHung
from zl_testing import DEADLINE


class _Task:
    def __init__(self) -> None:
        self.scope = anyio.CancelScope()
        self.done = anyio.Event()
        self.result: Any = None
        self.error: BaseException | None = None
        self.cancelled = False


class AnyioDriver(AwaitingDriver):
    name = "anyio"
    backend = "asyncio"
    backend_options: dict[str, Any] = {}
    event_type = anyio.Event
    sleep = staticmethod(anyio.sleep)

    def run(self, scenario: Scenario, *socks: Any, deadline: float = DEADLINE) -> Any:
        from zloop.adapters.anyio import Socket

        async def main() -> Any:
            wrapped = [Socket.from_socket(s) for s in socks]
            try:
                async with anyio.create_task_group() as tg:
                    self.tg = tg
                    task = self._start(scenario(*wrapped))
                    with anyio.move_on_after(deadline) as limit:
                        await task.done.wait()
                    tg.cancel_scope.cancel()  # stray child tasks end with the scenario
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

        return anyio.run(main, backend=self.backend, backend_options=self.backend_options)

    def _start(self, gen: Generator[Any, Any, Any]) -> _Task:
        task = _Task()
        self.tg.start_soon(self._task, task, gen)
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
        cancelled_exc = anyio.get_cancelled_exc_class()
        value: Any = None
        exc: BaseException | None = None
        native: BaseException | None = None
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
            except cancelled_exc as c:
                native = c
                exc = Cancelled()
            except Exception as e:
                exc = e

    async def _exec(self, cmd: Any) -> Any:
        if isinstance(cmd, Recv):
            sock = cmd.sock
            op = sock.recv_multipart if cmd.multipart else sock.recv
            if cmd.timeout is None:
                return await op(copy=cmd.copy)
            with anyio.move_on_after(cmd.timeout):
                return await op(copy=cmd.copy)
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


class AnyioTrioDriver(AnyioDriver):
    name = "anyio-trio"
    backend = "trio"
