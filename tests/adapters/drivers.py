"""Drivers: run one loop-neutral scenario on every adapter (the conformance suite's abstraction).

A **scenario** is a generator function ``scenario(*socks)``; ``socks`` are the raw sockets handed to
:meth:`Driver.run`, already wrapped by the driver's adapter. The scenario never touches a loop API:
it *yields commands* (built with the functions below) and gets each command's result back::

    def scenario(pull, push):
        t = yield spawn(receiver, pull)          # a concurrent task running another scenario
        yield send(push, b"x")
        msg = yield recv(pull, timeout=DEADLINE) # TIMEOUT sentinel if it did not come in time
        yield cancel(t)
        result = yield join(t)                   # raises Cancelled if t ended by cancellation
        return msg

Commands: ``recv``/``recv_multipart`` (optional ``timeout`` seconds -> ``TIMEOUT``), ``send``/
``send_multipart`` (optional ``copy``/``track``; the result is what the adapter's send returned,
e.g. a ``MessageTracker``), ``poll`` (mask, timeout ms -> events), ``events`` (the wrapper's EVENTS, as
user code would read it), ``spawn``/``join``/``cancel`` (tasks/greenlets, native cancellation of the
loop), ``checkpoint`` (let every other runnable task run once; never a sleep), ``new_event``/
``set_event``/``wait_event`` (native events), ``call(fn, *args)`` (run a plain function in the
loop, e.g. a blocking-free sync operation on another socket).

Native cancellation reaches the scenario as :class:`Cancelled` thrown at its current ``yield``.
A scenario that does not finish within the deadline raises :class:`ScenarioHung` (no-hang check).

Adding a loop (trio, gevent, tornado): write ``tests/adapters/drivers_<loop>.py`` with a subclass of
:class:`Driver` named as in :data:`DRIVER_SPECS` (implement ``run``, ``_start``, ``_cancel_task``
and ``event_type``; interpret the waiting commands and hand the rest to ``Driver._exec_now``, or
derive from :class:`AwaitingDriver` when the loop awaits; see :class:`AsyncioDriver` for a complete
example). The conformance suite picks it up automatically through :func:`driver_params`; nothing
else needs editing.
"""

from __future__ import annotations

import asyncio
import importlib
import time
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass, field
from typing import Any

import pytest
from zl_testing import DEADLINE

Scenario = Callable[..., Generator[Any, Any, Any]]


class Cancelled(Exception):
    """Thrown into a scenario whose task was cancelled natively (and raised by ``join``)."""


class ScenarioHung(AssertionError):
    """The scenario did not finish within its deadline: a lost wake-up or a deadlock."""


class _Timeout:
    def __repr__(self) -> str:
        return "TIMEOUT"


#: Result of a ``recv`` with a timeout that expired.
TIMEOUT = _Timeout()

# -- commands ---------------------------------------------------------------------------------------


@dataclass
class Recv:
    sock: Any
    multipart: bool
    copy: bool = True
    timeout: float | None = None


@dataclass
class Send:
    sock: Any
    data: Any
    multipart: bool
    flags: int = 0
    copy: bool = True
    track: bool = False


@dataclass
class Poll:
    sock: Any
    mask: int
    timeout_ms: int | None


@dataclass
class Events:
    sock: Any


@dataclass
class Spawn:
    fn: Scenario
    args: tuple[Any, ...]


@dataclass
class Join:
    task: Any


@dataclass
class Cancel:
    task: Any


@dataclass
class Checkpoint:
    pass


@dataclass
class NewEvent:
    pass


@dataclass
class SetEvent:
    event: Any


@dataclass
class WaitEvent:
    event: Any


@dataclass
class Call:
    fn: Callable[..., Any]
    args: tuple[Any, ...] = field(default_factory=tuple)


def recv(sock: Any, copy: bool = True, timeout: float | None = None) -> Recv:
    return Recv(sock, False, copy, timeout)


def recv_multipart(sock: Any, copy: bool = True, timeout: float | None = None) -> Recv:
    return Recv(sock, True, copy, timeout)


def send(sock: Any, data: Any, flags: int = 0, copy: bool = True, track: bool = False) -> Send:
    return Send(sock, data, False, flags, copy, track)


def send_multipart(sock: Any, parts: Any, copy: bool = True, track: bool = False) -> Send:
    return Send(sock, list(parts), True, 0, copy, track)


def poll(sock: Any, mask: int = 1, timeout_ms: int | None = None) -> Poll:
    return Poll(sock, mask, timeout_ms)


def events(sock: Any) -> Events:
    return Events(sock)


def spawn(fn: Scenario, *args: Any) -> Spawn:
    return Spawn(fn, args)


def join(task: Any) -> Join:
    return Join(task)


def cancel(task: Any) -> Cancel:
    return Cancel(task)


def checkpoint() -> Checkpoint:
    return Checkpoint()


def new_event() -> NewEvent:
    return NewEvent()


def set_event(event: Any) -> SetEvent:
    return SetEvent(event)


def wait_event(event: Any) -> WaitEvent:
    return WaitEvent(event)


def call(fn: Callable[..., Any], *args: Any) -> Call:
    return Call(fn, args)


# -- the driver interface ---------------------------------------------------------------------------


class Driver:
    """Runs scenarios on one loop through that loop's adapter."""

    name = "?"

    #: test function name -> why this loop cannot run that scenario (the test is skipped, saying so).
    #: Only for a limitation of the loop itself, shown without zloop; never to hide an adapter bug.
    unsupported: dict[str, str] = {}

    def run(self, scenario: Scenario, *socks: Any, deadline: float = DEADLINE) -> Any:
        """Wrap ``socks`` with the adapter (inside the loop), run ``scenario(*wrapped)`` as the main
        task until it returns (its value is returned) or raises; raise :class:`ScenarioHung` after
        ``deadline`` seconds. Wrappers are released afterwards; the raw sockets stay open."""
        raise NotImplementedError

    # -- commands that never wait, the same on every task-based loop (not the selectors trampoline) --

    #: The loop's native event class (``new_event``).
    event_type: Callable[[], Any]

    def _start(self, gen: Generator[Any, Any, Any]) -> Any:
        """Start a task running the scenario generator ``gen``; return what ``join``/``cancel`` take."""
        raise NotImplementedError

    def _cancel_task(self, task: Any) -> None:
        """Cancel ``task`` natively (it sees :class:`Cancelled`)."""
        raise NotImplementedError

    def _exec_now(self, cmd: Any) -> Any:
        """Run a command that never waits (events, spawn, cancel, new/set event, call); a driver's own
        ``_exec`` runs the waiting ones and hands everything else here."""
        if isinstance(cmd, Events):
            return int(cmd.sock.getsockopt(15))
        if isinstance(cmd, Spawn):
            return self._start(cmd.fn(*cmd.args))
        if isinstance(cmd, Cancel):
            self._cancel_task(cmd.task)
            return None
        if isinstance(cmd, NewEvent):
            return self.event_type()
        if isinstance(cmd, SetEvent):
            cmd.event.set()
            return None
        if isinstance(cmd, Call):
            return cmd.fn(*cmd.args)
        raise TypeError(f"unknown command {cmd!r}")


class AwaitingDriver(Driver):
    """A driver whose wrapped sockets and events are awaited (asyncio, trio, tornado)."""

    #: ``sleep(0)`` of the loop (``checkpoint``).
    sleep: Callable[[float], Awaitable[Any]]

    async def _exec_awaiting(self, cmd: Any) -> Any:
        """send / poll / checkpoint / wait_event, awaited; everything else by :meth:`_exec_now`."""
        if isinstance(cmd, Send):
            if cmd.multipart:
                return await cmd.sock.send_multipart(cmd.data, copy=cmd.copy, track=cmd.track)
            return await cmd.sock.send(cmd.data, cmd.flags, copy=cmd.copy, track=cmd.track)
        if isinstance(cmd, Poll):
            return await cmd.sock.poll(cmd.timeout_ms, cmd.mask)
        if isinstance(cmd, Checkpoint):
            await self.sleep(0)
            return None
        if isinstance(cmd, WaitEvent):
            await cmd.event.wait()
            return None
        return self._exec_now(cmd)


#: name -> (module, class). Modules are imported lazily; a missing module or loop skips its driver.
DRIVER_SPECS: dict[str, tuple[str, str]] = {
    "asyncio": ("drivers", "AsyncioDriver"),
    "selectors": ("drivers", "SelectorsDriver"),
    "trio": ("drivers_trio", "TrioDriver"),
    "gevent": ("drivers_gevent", "GeventDriver"),
    "tornado": ("drivers_tornado", "TornadoDriver"),
    "anyio": ("drivers_anyio", "AnyioDriver"),
    "anyio-trio": ("drivers_anyio", "AnyioTrioDriver"),
    "twisted": ("drivers_twisted", "TwistedDriver"),
    "twisted-asyncio": ("drivers_twisted", "TwistedAsyncioDriver"),
    "asyncio-uvloop": ("drivers_variants", "UvloopDriver"),
    "tornado-in-asyncio": ("drivers_variants", "TornadoInAsyncioDriver"),
    "trio-guest": ("drivers_variants", "TrioGuestDriver"),
    "gevent-libuv": ("drivers_variants", "GeventLibuvDriver"),
}


def load_driver(name: str) -> Driver:
    module_name, class_name = DRIVER_SPECS[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        pytest.skip(f"driver {name} not available: {exc}")
    cls = getattr(module, class_name, None)
    if cls is None:
        pytest.skip(f"driver {name}: {module_name}.{class_name} not written yet")
    driver: Driver = cls()
    return driver


def driver_params() -> list[Any]:
    return [pytest.param(name, id=name) for name in DRIVER_SPECS]


def _throw_or_send(gen: Generator[Any, Any, Any], value: Any, exc: BaseException | None) -> Any:
    if exc is not None:
        return gen.throw(exc)
    return gen.send(value)


# -- asyncio ----------------------------------------------------------------------------------------


class AsyncioDriver(AwaitingDriver):
    """Scenarios as asyncio tasks over ``zloop.adapters.asyncio`` sockets."""

    name = "asyncio"
    event_type = asyncio.Event
    sleep = staticmethod(asyncio.sleep)

    def run(self, scenario: Scenario, *socks: Any, deadline: float = DEADLINE) -> Any:
        from zloop.adapters.asyncio import Socket

        return asyncio.run(self._main(scenario, Socket.from_socket, socks, deadline))

    async def _main(
        self, scenario: Scenario, wrap: Callable[[Any], Any], socks: Any, deadline: float
    ) -> Any:
        """Run ``scenario`` on the sockets wrapped (in the loop) by ``wrap`` as the main task, then
        ``_release()`` every wrapper."""
        wrapped = [wrap(s) for s in socks]
        task = self._start(scenario(*wrapped))
        try:
            done, _ = await asyncio.wait({task}, timeout=deadline)
            if not done:
                task.cancel()
                raise ScenarioHung(f"scenario {scenario.__name__} hung ({self.name})")
            if task.cancelled():
                raise Cancelled()
            return task.result()
        finally:
            for w in wrapped:
                w._release()

    def _start(self, gen: Generator[Any, Any, Any]) -> asyncio.Future[Any]:
        return asyncio.ensure_future(self._task(gen))

    def _cancel_task(self, task: Any) -> None:
        task.cancel()

    async def _task(self, gen: Generator[Any, Any, Any]) -> Any:
        value: Any = None
        exc: BaseException | None = None
        while True:
            try:
                cmd = _throw_or_send(gen, value, exc)
            except StopIteration as stop:
                return stop.value
            except Cancelled:
                raise asyncio.CancelledError() from None
            value, exc = None, None
            try:
                value = await self._exec(cmd)
            except asyncio.CancelledError:
                exc = Cancelled()
            except Exception as e:
                exc = e

    async def _exec(self, cmd: Any) -> Any:
        if isinstance(cmd, Recv):
            coro = (
                cmd.sock.recv_multipart(copy=cmd.copy)
                if cmd.multipart
                else cmd.sock.recv(copy=cmd.copy)
            )
            if cmd.timeout is None:
                return await coro
            try:
                return await asyncio.wait_for(coro, cmd.timeout)
            except asyncio.TimeoutError:
                return TIMEOUT
        if isinstance(cmd, Join):
            await asyncio.wait({cmd.task})
            if cmd.task.cancelled():
                raise Cancelled()
            return cmd.task.result()
        return await self._exec_awaiting(cmd)


# -- selectors (the Reactor) ------------------------------------------------------------------------


class _GenTask:
    """A scenario trampolined on the Reactor through callbacks."""

    def __init__(self, driver: SelectorsDriver, gen: Generator[Any, Any, Any]) -> None:
        self.driver = driver
        self.gen = gen
        self.done = False
        self.cancelled = False
        self.result: Any = None
        self.error: BaseException | None = None
        self.joiners: list[_GenTask] = []
        # What the task waits on, to undo on cancel: ("op", sock, pending) / ("timer", handle) /
        # ("event", ev) / ("join", task) / ("soon", None)
        self.blocked: tuple[Any, ...] | None = None
        self.timer: Any = None
        self.token = 0
        self.join_target: _GenTask | None = None

    def resume(self, token: int, value: Any, exc: BaseException | None) -> None:
        if token != self.token or self.done:
            return  # stale wake-up (the task was cancelled meanwhile)
        self.token += 1
        self.blocked = None
        other, self.join_target = self.join_target, None
        if other is not None and exc is None:
            if other.cancelled:
                exc = Cancelled()
            elif other.error is not None:
                exc = other.error
            else:
                value = other.result
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.driver._step(self, value, exc)

    def finish(self, result: Any, error: BaseException | None, cancelled: bool) -> None:
        self.done = True
        self.result = result
        self.error = error
        self.cancelled = cancelled
        for joiner in self.joiners:
            self.driver.reactor.call_soon(joiner.resume, joiner.token, None, None)
        self.joiners.clear()


class _ReactorEvent:
    def __init__(self) -> None:
        self.is_set = False
        self.waiters: list[_GenTask] = []


class SelectorsDriver(Driver):
    """Scenarios as callback trampolines on ``zloop.adapters.selectors.Reactor`` (``submit``/``cancel``)."""

    name = "selectors"

    def run(self, scenario: Scenario, *socks: Any, deadline: float = DEADLINE) -> Any:
        from zloop.adapters.selectors import Reactor

        self.reactor = reactor = Reactor()
        main = _GenTask(self, scenario(*socks))
        reactor.call_soon(main.resume, main.token, None, None)
        end = time.monotonic() + deadline
        try:
            while not main.done:
                remaining = end - time.monotonic()
                if remaining <= 0:
                    raise ScenarioHung(f"scenario {scenario.__name__} hung (selectors)")
                reactor.run_once(timeout=remaining)
        finally:
            for s in socks:
                reactor.forget_socket(s)
            reactor.close()
        if main.cancelled:
            raise Cancelled()
        if main.error is not None:
            raise main.error
        return main.result

    def _step(self, task: _GenTask, value: Any, exc: BaseException | None) -> None:
        while True:
            try:
                cmd = _throw_or_send(task.gen, value, exc)
            except StopIteration as stop:
                task.finish(stop.value, None, False)
                return
            except Cancelled:
                task.finish(None, None, True)
                return
            except Exception as e:
                task.finish(None, e, False)
                return
            value, exc = None, None
            token = task.token
            try:
                immediate, value = self._exec(task, token, cmd)
            except Exception as e:
                exc = e
                continue
            if immediate:
                continue
            return

    def _wake(self, task: _GenTask, token: int) -> Callable[[Any, BaseException | None], None]:
        return lambda value, error: task.resume(token, value, error)

    def _exec(self, task: _GenTask, token: int, cmd: Any) -> tuple[bool, Any]:
        """(True, value) for an immediate result, or (False, None) after arranging a resume."""
        from zloop.adapters._core import Op

        reactor = self.reactor
        if isinstance(cmd, (Recv, Send)):
            if isinstance(cmd, Recv):
                op = Op.recv_multipart(cmd.copy) if cmd.multipart else Op.recv(cmd.copy)
            else:
                op = (
                    Op.send_multipart(cmd.data, 0, cmd.copy, cmd.track)
                    if cmd.multipart
                    else Op.send(cmd.data, cmd.flags, cmd.copy, cmd.track)
                )
            pending = reactor.submit(cmd.sock, op, self._wake(task, token))
            task.blocked = ("op", cmd.sock, pending)
            if isinstance(cmd, Recv) and cmd.timeout is not None:

                def expire() -> None:
                    if task.token == token and not task.done:
                        reactor.cancel(cmd.sock, pending)
                        task.resume(token, TIMEOUT, None)

                task.timer = reactor.call_later(cmd.timeout, expire)
            return False, None
        if isinstance(cmd, Poll):
            watcher = reactor.watcher(cmd.sock)
            ev = watcher.poll_now(cmd.mask)
            if ev or cmd.timeout_ms == 0:
                return True, ev
            from zloop.adapters.selectors import _CallbackWaiter

            pending = watcher.wait_poll(cmd.mask, _CallbackWaiter(reactor, self._wake(task, token)))
            task.blocked = ("op", cmd.sock, pending)
            if cmd.timeout_ms is not None and cmd.timeout_ms > 0:

                def expire_poll() -> None:
                    if task.token == token and not task.done:
                        reactor.cancel(cmd.sock, pending)
                        task.resume(token, 0, None)

                task.timer = reactor.call_later(cmd.timeout_ms / 1000, expire_poll)
            return False, None
        if isinstance(cmd, Events):
            return True, reactor.watcher(cmd.sock).events()
        if isinstance(cmd, Spawn):
            child = _GenTask(self, cmd.fn(*cmd.args))
            reactor.call_soon(child.resume, child.token, None, None)
            return True, child
        if isinstance(cmd, Join):
            other: _GenTask = cmd.task
            if other.done:
                if other.cancelled:
                    raise Cancelled()
                if other.error is not None:
                    raise other.error
                return True, other.result
            other.joiners.append(task)
            task.blocked = ("join", other)
            task.join_target = other  # resume() turns its outcome into the result
            return False, None
        if isinstance(cmd, Cancel):
            self._cancel(cmd.task)
            return True, None
        if isinstance(cmd, Checkpoint):
            task.blocked = ("soon",)
            reactor.call_soon(task.resume, token, None, None)
            return False, None
        if isinstance(cmd, NewEvent):
            return True, _ReactorEvent()
        if isinstance(cmd, SetEvent):
            ev: _ReactorEvent = cmd.event
            ev.is_set = True
            for waiter in ev.waiters:
                reactor.call_soon(waiter.resume, waiter.token, None, None)
            ev.waiters.clear()
            return True, None
        if isinstance(cmd, WaitEvent):
            if cmd.event.is_set:
                return True, None
            cmd.event.waiters.append(task)
            task.blocked = ("event", cmd.event)
            return False, None
        if isinstance(cmd, Call):
            return True, cmd.fn(*cmd.args)
        raise TypeError(f"unknown command {cmd!r}")

    def _cancel(self, task: _GenTask) -> None:
        if task.done:
            return
        blocked = task.blocked
        if blocked is not None:
            if blocked[0] == "op":
                self.reactor.cancel(blocked[1], blocked[2])
            elif blocked[0] == "event":
                blocked[1].waiters.remove(task)
            elif blocked[0] == "join":
                blocked[1].joiners.remove(task)
                task.join_target = None
        # Invalidate any scheduled resume, then deliver the cancellation on the next turn.
        task.token += 1
        task.blocked = ("soon",)
        self.reactor.call_soon(task.resume, task.token, None, Cancelled())
