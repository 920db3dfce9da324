"""``zloop proxy`` as a subprocess: a shared queue, a forwarder, capture, the steerable variant."""

from __future__ import annotations

import signal
import struct
from typing import Any

import pytest
from zl_cli import Tool, run

DEADLINE_MS = 20_000


def sock(ctx: Any, impl: Any, kind: str) -> Any:
    s = ctx.socket(getattr(impl, kind))
    s.setsockopt(impl.LINGER, 0)
    s.setsockopt(impl.RCVTIMEO, DEADLINE_MS)
    s.setsockopt(impl.SNDTIMEO, DEADLINE_MS)
    return s


def test_shared_queue_between_clients_and_workers(impl: Any, impl_ctx: Any) -> None:
    """REQ clients -> ROUTER | proxy | DEALER -> REP worker, peers of ``impl``."""
    args = ("proxy", "router:tcp://127.0.0.1:*", "dealer:tcp://127.0.0.1:*")
    with Tool(*args, "--capture", "pub:tcp://127.0.0.1:*") as proxy:
        front, back, capture_at = proxy.bound("frontend"), proxy.bound("backend"), proxy.bound()
        proxy.stderr_until("running")
        capture = sock(impl_ctx, impl, "SUB")
        capture.setsockopt(impl.SUBSCRIBE, b"")
        capture.connect(capture_at)
        worker = sock(impl_ctx, impl, "REP")
        worker.connect(back)
        client = sock(impl_ctx, impl, "REQ")
        client.connect(front)
        for i in range(3):
            client.send(b"request %d" % i)
            request = worker.recv()
            worker.send(request.upper())
            assert client.recv() == b"REQUEST %d" % i
        # The capture socket got every frame both ways (routing id, empty delimiter, body).
        seen = []
        while capture.poll(500):
            seen.append(capture.recv())
        assert b"request 2" in seen and b"REQUEST 2" in seen, seen
        assert proxy.stop() == 0
        _, err = proxy.rest()
        assert "stopped by a signal" in err and "Traceback" not in err


def test_forwarder_with_a_sub_frontend_subscribes_to_everything(impl: Any, impl_ctx: Any) -> None:
    with Tool("proxy", "sub:tcp://127.0.0.1:*", "pub:tcp://127.0.0.1:*") as proxy:
        front, back = proxy.bound("frontend"), proxy.bound("backend")
        publisher = sock(impl_ctx, impl, "PUB")
        publisher.connect(front)
        subscriber = sock(impl_ctx, impl, "SUB")
        subscriber.setsockopt(impl.SUBSCRIBE, b"news")
        subscriber.connect(back)
        # Publish until the subscription has travelled through the proxy.
        for _ in range(400):
            publisher.send(b"news flash")
            if subscriber.poll(50):
                break
        assert subscriber.recv() == b"news flash"
        assert proxy.stop(signal.SIGINT) == 0


def test_steerable_statistics_and_terminate(impl: Any, impl_ctx: Any) -> None:
    args = ("proxy", "pull:tcp://127.0.0.1:*", "push:tcp://127.0.0.1:*")
    with Tool(*args, "--control", "rep:tcp://127.0.0.1:*") as proxy:
        front, back, control_at = proxy.bound("frontend"), proxy.bound("backend"), proxy.bound()
        sender, receiver = sock(impl_ctx, impl, "PUSH"), sock(impl_ctx, impl, "PULL")
        sender.connect(front)
        receiver.connect(back)
        control = sock(impl_ctx, impl, "REQ")
        control.connect(control_at)
        for i in range(5):
            sender.send(b"x" * i)
        assert [len(receiver.recv()) for _ in range(5)] == [0, 1, 2, 3, 4]
        control.send(b"STATISTICS")
        stats = [struct.unpack("=Q", frame)[0] for frame in control.recv_multipart()]
        assert stats == [5, 10, 0, 0, 0, 0, 5, 10]
        control.send(b"TERMINATE")
        assert control.recv() == b""
        assert proxy.wait() == 0
        _, err = proxy.rest()
        assert "stopped by TERMINATE" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["tcp://127.0.0.1:1", "dealer:tcp://127.0.0.1:2"], "say which socket type"),
        (["router:tcp://127.0.0.1:*", "dealer:bogus://x"], "cannot bind bogus://x"),
    ],
)
def test_bad_proxy_arguments(args: list[str], message: str) -> None:
    proc = run("proxy", *args)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr
