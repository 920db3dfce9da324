"""The conformance-suite driver for gevent: scenarios as greenlets over ``zloop.adapters.gevent``.

``cancel`` is ``Greenlet.kill(block=False)`` (gevent's native cancellation, ``GreenletExit`` thrown
at the blocking call; a scenario sees it as :class:`drivers.Cancelled`). Receive timeouts are
``gevent.Timeout``; ``checkpoint`` is ``gevent.sleep(0)``; events are ``gevent.event.Event``.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import gevent
import gevent.event
from drivers import (
    TIMEOUT,
    Cancelled,
    Checkpoint,
    Driver,
    Join,
    Poll,
    Recv,
    Scenario,
    ScenarioHung,
    Send,
    WaitEvent,
)
from zl_testing import DEADLINE


class _Task:
    def __init__(self) -> None:
        self.greenlet: Any = None
        self.result: Any = None
        self.error: BaseException | None = None
        self.cancelled = False
        self.started = False

    def was_cancelled(self) -> bool:
        # A greenlet killed before it ever ran never reaches _task: that is a cancellation too.
        return self.cancelled or (self.greenlet.dead and not self.started)


class GeventDriver(Driver):
    name = "gevent"
    event_type = gevent.event.Event

    def run(self, scenario: Scenario, *socks: Any, deadline: float = DEADLINE) -> Any:
        from zloop.adapters.gevent import Socket

        wrapped = [Socket.from_socket(s) for s in socks]
        self.tasks: list[_Task] = []
        try:
            task = self._start(scenario(*wrapped))
            task.greenlet.join(timeout=deadline)
            hung = not task.greenlet.dead
            gevent.killall([t.greenlet for t in self.tasks if not t.greenlet.dead])
        finally:
            for w in wrapped:
                w._release()
        if hung:
            raise ScenarioHung(f"scenario {scenario.__name__} hung (gevent)")
        if task.was_cancelled():
            raise Cancelled()
        if task.error is not None:
            raise task.error
        return task.result

    def _start(self, gen: Generator[Any, Any, Any]) -> _Task:
        task = _Task()
        task.greenlet = gevent.spawn(self._task, task, gen)
        self.tasks.append(task)
        return task

    def _cancel_task(self, task: _Task) -> None:
        task.greenlet.kill(block=False)

    def _task(self, task: _Task, gen: Generator[Any, Any, Any]) -> None:
        task.started = True
        try:
            task.result = self._drive(gen)
        except (Cancelled, gevent.GreenletExit):
            task.cancelled = True
        except Exception as exc:
            task.error = exc

    def _drive(self, gen: Generator[Any, Any, Any]) -> Any:
        value: Any = None
        exc: BaseException | None = None
        while True:
            try:
                cmd = gen.throw(exc) if exc is not None else gen.send(value)
            except StopIteration as stop:
                return stop.value
            value, exc = None, None
            try:
                value = self._exec(cmd)
            except gevent.GreenletExit:
                exc = Cancelled()
            except Exception as e:
                exc = e

    def _exec(self, cmd: Any) -> Any:
        if isinstance(cmd, Recv):
            sock = cmd.sock
            op = sock.recv_multipart if cmd.multipart else sock.recv
            if cmd.timeout is None:
                return op(copy=cmd.copy)
            timer = gevent.Timeout(cmd.timeout)
            timer.start()
            try:
                return op(copy=cmd.copy)
            except gevent.Timeout as t:
                if t is not timer:
                    raise
                return TIMEOUT
            finally:
                timer.close()
        if isinstance(cmd, Send):
            if cmd.multipart:
                return cmd.sock.send_multipart(cmd.data, copy=cmd.copy, track=cmd.track)
            return cmd.sock.send(cmd.data, cmd.flags, copy=cmd.copy, track=cmd.track)
        if isinstance(cmd, Poll):
            return cmd.sock.poll(cmd.timeout_ms, cmd.mask)
        if isinstance(cmd, Join):
            other: _Task = cmd.task
            other.greenlet.join()
            if other.was_cancelled():
                raise Cancelled()
            if other.error is not None:
                raise other.error
            return other.result
        if isinstance(cmd, Checkpoint):
            gevent.sleep(0)
            return None
        if isinstance(cmd, WaitEvent):
            cmd.event.wait()
            return None
        return self._exec_now(cmd)
