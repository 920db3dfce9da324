"""Large frame bodies are reused after ``recv()`` copied them (zloop.protocol.frames.recycle_body).

The reuse is invisible to a program: every message keeps its own content, and a body that anything
still holds (a ``Frame`` from ``copy=False``, a buffer the sender kept over inproc) is never
handed to another message.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from zl_testing import endpoint_for, with_deadlines

import zloop
from zloop import socket as zloop_socket
from zloop.protocol import frames

SIZES = (100_000, 700_000, 1 << 20, 64 * 1024, 1 << 20)


def _pair(ctx: zloop.Context, transport: str, tmp_path: Path) -> tuple[zloop.Socket, zloop.Socket]:
    pull = with_deadlines(ctx.socket(zloop.PULL))
    pull.bind(endpoint_for(transport, tmp_path))
    push = with_deadlines(ctx.socket(zloop.PUSH))
    push.connect(pull.last_endpoint.decode())
    return push, pull


@pytest.mark.parametrize("transport", ["tcp", "ipc"])
def test_every_large_message_keeps_its_content(
    ctx: zloop.Context, transport: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reused = []
    new_body = frames._new_body

    def counting_new_body(size: int) -> bytearray:
        reused.append(bool(frames._SPARE_BODIES))
        return new_body(size)

    monkeypatch.setattr(frames, "_new_body", counting_new_body)
    push, pull = _pair(ctx, transport, tmp_path)
    for round_ in range(4):
        for index, size in enumerate(SIZES):
            payload = os.urandom(size)
            way = (round_ + index) % 3
            if way == 0:
                push.send(payload)
                assert pull.recv() == payload
            elif way == 1:
                push.send_multipart([payload, b"tail"])
                assert pull.recv_multipart() == [payload, b"tail"]
            else:
                push.send_multipart([b"head", payload])
                assert pull.recv() == b"head"
                assert pull.recv() == payload
    # Reuse is on where zloop trusts the interpreter's reference counts (zloop.socket).
    assert any(reused) == zloop_socket.RECYCLES_BODIES, "reuse on/off not as zloop.socket says"


def test_a_frame_kept_from_copy_false_is_never_reused(ctx: zloop.Context, tmp_path: Path) -> None:
    push, pull = _pair(ctx, "tcp", tmp_path)
    first = os.urandom(1 << 20)
    push.send(first)
    kept = pull.recv(copy=False)
    for _ in range(6):
        payload = os.urandom(1 << 20)
        push.send(payload)
        assert pull.recv() == payload
    assert kept.bytes == first
    assert all(body is not kept.buffer.obj for body in frames._SPARE_BODIES)


def test_a_buffer_the_sender_keeps_is_never_reused(ctx: zloop.Context) -> None:
    """Over inproc the receiver gets the sender's own object (copy=False)."""
    pull = with_deadlines(ctx.socket(zloop.PULL))
    pull.bind("inproc://large-body-reuse")
    push = with_deadlines(ctx.socket(zloop.PUSH))
    push.connect("inproc://large-body-reuse")
    mine = bytearray(os.urandom(1 << 20))
    original = bytes(mine)
    push.send(mine, copy=False)
    assert pull.recv() == original
    assert all(body is not mine for body in frames._SPARE_BODIES)
    for _ in range(4):
        payload = os.urandom(1 << 20)
        push.send(payload)
        assert pull.recv() == payload
    assert mine == original


def test_only_bodies_that_can_be_reused_are_kept() -> None:
    """The pool keeps what a later body of at most PREALLOC_LIMIT bytes can reuse, a bounded count."""
    saved = list(frames._SPARE_BODIES)
    frames._SPARE_BODIES.clear()
    try:
        frames.recycle_body(bytearray(frames.RECYCLE_MIN - 1))
        frames.recycle_body(bytearray(2 * frames.PREALLOC_LIMIT))
        assert not frames._SPARE_BODIES
        for _ in range(20):
            frames.recycle_body(bytearray(frames.RECYCLE_MIN))
        assert len(frames._SPARE_BODIES) == frames._SPARE_BODIES.maxlen == 8
    finally:
        frames._SPARE_BODIES.clear()
        frames._SPARE_BODIES.extend(saved)
