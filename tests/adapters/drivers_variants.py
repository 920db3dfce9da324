"""Conformance-suite drivers for the real-world variants of the loops we support: the same
adapters, run the way programs run them.

* ``asyncio-uvloop``: the asyncio adapter on uvloop's event loop (``asyncio.Runner`` with
  ``uvloop.new_event_loop``).
* ``tornado-in-asyncio``: ``ZMQStream`` on ``IOLoop.current()`` inside a running ``asyncio.run``
  program (tornado wraps the running loop), next to the ``tornado`` driver's own ``IOLoop``.
* ``trio-guest``: trio in guest mode (``trio.lowlevel.start_guest_run``) on top of an asyncio host
  loop, as Qt or asyncio programs embed trio.
* ``gevent-libuv``: the gevent adapter on a hub whose loop is gevent's libuv loop (the default is
  libev; ``GEVENT_LOOP=libuv`` selects libuv for a whole process). The choice is made when a
  thread's hub is created, so this driver runs each scenario in a fresh thread with its own libuv
  hub; ``tests/adapters/test_adapter_variants.py`` also runs a program with ``GEVENT_LOOP=libuv``.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from drivers import AsyncioDriver, Scenario, ScenarioHung
from drivers_gevent import GeventDriver
from drivers_tornado import TornadoDriver, _StreamSocket
from drivers_trio import TrioDriver
from zl_testing import DEADLINE


class UvloopDriver(AsyncioDriver):
    name = "asyncio-uvloop"

    def run(self, scenario: Scenario, *socks: Any, deadline: float = DEADLINE) -> Any:
        import uvloop

        from zloop.adapters.asyncio import Socket

        async def main() -> Any:
            assert isinstance(asyncio.get_running_loop(), uvloop.Loop)
            return await self._main(scenario, Socket.from_socket, socks, deadline)

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(main())


class TornadoInAsyncioDriver(TornadoDriver):
    name = "tornado-in-asyncio"

    def run(self, scenario: Scenario, *socks: Any, deadline: float = DEADLINE) -> Any:
        from tornado.ioloop import IOLoop

        async def main() -> Any:
            io_loop = IOLoop.current()  # the running asyncio loop, as a tornado IOLoop
            assert io_loop.asyncio_loop is asyncio.get_running_loop()  # type: ignore[attr-defined]

            def wrap(raw: Any) -> _StreamSocket:
                return _StreamSocket(raw, io_loop)

            return await self._main(scenario, wrap, socks, deadline)

        return asyncio.run(main())


class TrioGuestDriver(TrioDriver):
    name = "trio-guest"

    def run(self, scenario: Scenario, *socks: Any, deadline: float = DEADLINE) -> Any:
        import trio

        async def host() -> Any:
            loop = asyncio.get_running_loop()
            done: asyncio.Future[Any] = loop.create_future()
            trio.lowlevel.start_guest_run(
                self._main,
                scenario,
                socks,
                deadline,
                run_sync_soon_threadsafe=loop.call_soon_threadsafe,
                done_callback=done.set_result,
                host_uses_signal_set_wakeup_fd=True,
            )
            outcome = await done
            return outcome.unwrap()

        return asyncio.run(host())


class GeventLibuvDriver(GeventDriver):
    name = "gevent-libuv"
    unsupported = {
        "test_stress_cancel_at_random_points": (
            "gevent's libuv loop starves its own timers and io watchers under this scenario's "
            "pattern (spawn a greenlet, sleep(0) 0-3 times at random, kill, join): a plain gevent "
            "program with no socket at all never fires a 0.5 s timer (libev: fires at once)"
        ),
    }

    def run(self, scenario: Scenario, *socks: Any, deadline: float = DEADLINE) -> Any:
        import gevent
        import gevent.hub
        from gevent.libuv.loop import loop as uv_loop

        result: dict[str, Any] = {}

        def in_thread() -> None:
            hub = gevent.hub.Hub(loop=uv_loop(default=False))
            gevent.hub.set_hub(hub)
            try:
                assert type(gevent.get_hub().loop).__module__ == "gevent.libuv.loop"
                result["value"] = GeventDriver.run(self, scenario, *socks, deadline=deadline)
            except BaseException as exc:
                result["error"] = exc
            finally:
                hub.destroy(destroy_loop=True)

        thread = threading.Thread(target=in_thread, name="gevent-libuv driver")
        thread.start()
        thread.join(deadline + 10)
        if thread.is_alive():
            raise ScenarioHung(f"scenario {scenario.__name__} hung (gevent-libuv thread)")
        if "error" in result:
            raise result["error"]
        return result["value"]
