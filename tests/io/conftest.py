from __future__ import annotations

from collections.abc import Iterator

import pytest

from zloop.io.reactor import IOThread


@pytest.fixture
def io() -> Iterator[IOThread]:
    thread = IOThread("zloop-test-io")
    thread.start()
    yield thread
    thread.stop()
    thread.join(10)
    assert thread.stopped, "I/O thread did not stop"


@pytest.fixture
def zmq_ctx() -> Iterator[object]:
    zmq = pytest.importorskip("zmq")
    ctx = zmq.Context()
    yield ctx
    ctx.destroy(linger=0)
