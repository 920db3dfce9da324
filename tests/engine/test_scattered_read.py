"""The rest of a large body and what follows it read with one scattered ``recvmsg_into`` (the
rest straight into the body, the rest of the read into the shared buffer, decoded from there:
StreamEngine._read_scattered), across many short reads (a small SO_RCVBUF), over tcp and ipc,
from zloop and pyzmq (libzmq) senders: every message arrives whole and in order."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from zl_testing import link, with_deadlines

import zloop
from zloop.io import engine as engine_module

#: Bodies below, at and above the sizes the read path decides on (LARGE_BODY 8 KiB,
#: VIEW_FRAME_MIN 4 KiB, DIRECT_MIN 128 KiB, PREALLOC_LIMIT 1 MiB), with small messages between.
SIZES = (9_000, 65_536, 5, 100_000, 131_072, 131_073, 300, 70_000, 1 << 20, (1 << 20) + 3, 4_096)


def _messages() -> list[list[bytes]]:
    msgs: list[list[bytes]] = []
    for round_ in range(3):
        for index, size in enumerate(SIZES):
            body = os.urandom(size)
            way = (round_ + index) % 3
            if way == 0:
                msgs.append([body])
            elif way == 1:
                msgs.append([b"envelope", body])
            else:
                msgs.append([body, os.urandom(20_000), b"tail"])
    return msgs


def _count_scattered(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls = [0]
    scattered = engine_module.StreamEngine._read_scattered

    def counting(self: engine_module.StreamEngine, target: memoryview) -> list[Any]:
        calls[0] += 1
        return scattered(self, target)

    monkeypatch.setattr(engine_module.StreamEngine, "_read_scattered", counting)
    return calls


def _send_in_thread(
    send: Callable[[list[bytes]], Any], msgs: list[list[bytes]]
) -> threading.Thread:
    def run() -> None:
        for msg in msgs:
            send(msg)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@pytest.mark.skipif(not engine_module._SCATTER, reason="no recvmsg_into on this platform")
@pytest.mark.parametrize("transport", ["tcp", "ipc"])
def test_bodies_across_short_reads_from_zloop(
    ctx: zloop.Context, transport: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _count_scattered(monkeypatch)
    pull = with_deadlines(ctx.socket(zloop.PULL))
    pull.setsockopt(zloop.RCVBUF, 4096)
    if transport == "tcp":
        pull.bind("tcp://127.0.0.1:*")
    else:
        pull.bind(f"ipc://{tmp_path / 'scatter.ipc'}")
    push = with_deadlines(ctx.socket(zloop.PUSH))
    push.setsockopt(zloop.SNDBUF, 4096)
    push.connect(pull.last_endpoint.decode())
    msgs = _messages()
    sender = _send_in_thread(push.send_multipart, msgs)
    for msg in msgs:
        assert pull.recv_multipart() == msg
    sender.join(timeout=10)
    assert calls[0] > 0, "the scattered read was never used"


@pytest.mark.interop
@pytest.mark.skipif(not engine_module._SCATTER, reason="no recvmsg_into on this platform")
@pytest.mark.parametrize("transport", ["tcp", "ipc"])
def test_bodies_across_short_reads_from_libzmq(
    ctx: zloop.Context, zctx: Any, transport: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import zmq

    calls = _count_scattered(monkeypatch)
    pull = with_deadlines(ctx.socket(zloop.PULL))
    pull.setsockopt(zloop.RCVBUF, 4096)
    push = with_deadlines(zctx.socket(zmq.PUSH))
    push.setsockopt(zmq.SNDBUF, 4096)
    link(push, pull, zloop_binds=True, transport=transport, path=tmp_path, name="scatter")
    msgs = _messages()
    sender = _send_in_thread(push.send_multipart, msgs)
    for msg in msgs:
        assert pull.recv_multipart() == msg
    sender.join(timeout=10)
    assert calls[0] > 0, "the scattered read was never used"
