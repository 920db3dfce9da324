"""The adapters' sends return what the socket's send returned: with ``copy=False, track=True`` a
``MessageTracker`` (as zmq.asyncio's future and zmq.green's send do), for zloop and pyzmq sockets
on every loop; tornado's ``on_send`` callback gets it as its ``status``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from drivers import Driver, recv, recv_multipart, send, send_multipart
from zl_testing import DEADLINE

import zloop

MakePair = Callable[..., tuple[Any, Any]]
BIG = 200_000  # above the copy threshold (64 KiB): shared, hence tracked


def test_send_returns_the_tracker(driver: Driver, make_pair: MakePair) -> None:
    pull, push = make_pair(zloop.PULL, zloop.PUSH, "tcp")
    data = bytearray(b"t" * BIG)

    def scenario(pull: Any, push: Any) -> Any:
        tracker = yield send(push, data, copy=False, track=True)
        got = yield recv(pull)
        return tracker, got

    tracker, got = driver.run(scenario, pull, push)
    assert got == data
    assert tracker is not None and not isinstance(tracker, bool)
    tracker.wait(DEADLINE)  # delivered: the engine let go of the buffer
    assert tracker.done


def test_send_multipart_returns_the_tracker(driver: Driver, make_pair: MakePair) -> None:
    pull, push = make_pair(zloop.PULL, zloop.PUSH, "tcp")
    parts = [bytearray(b"a" * BIG), bytearray(b"b" * BIG)]

    def scenario(pull: Any, push: Any) -> Any:
        tracker = yield send_multipart(push, parts, copy=False, track=True)
        got = yield recv_multipart(pull)
        return tracker, got

    tracker, got = driver.run(scenario, pull, push)
    assert got == parts
    tracker.wait(DEADLINE)
    assert tracker.done


def test_untracked_send_returns_none(driver: Driver, make_pair: MakePair) -> None:
    pull, push = make_pair(zloop.PULL, zloop.PUSH, "tcp")

    def scenario(pull: Any, push: Any) -> Any:
        result = yield send(push, b"plain")
        yield recv(pull)
        return result

    assert driver.run(scenario, pull, push) is None
