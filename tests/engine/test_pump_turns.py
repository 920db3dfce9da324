"""Output turns (zloop/io/engine.py, "Output"; issue 7): an engine with a backlog writes whole
batches only until ``OUT_TURN`` bytes went out in one call, then registers for writability and
returns to the reactor, which resumes it; large messages make smaller batches (``OUT_BATCH_BYTES``).
Every message still arrives, in order. Before the bound, one ``_pump`` call drained a CURVE backlog
of small frames for as long as the kernel took bytes, and the receiving connection on the same I/O
thread starved.

The backlog is made deterministic by queueing every message before the peer exists (the PUSH
connects to an ipc path nobody has bound yet), so the first ``_pump`` after the handshake finds
all of them in the pipe.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from zl_testing import endpoint_for, with_deadlines

import zloop
from zloop.io import engine as engine_module
from zloop.io.engine import OUT_BATCH, OUT_BATCH_BYTES, OUT_TURN, StreamEngine


@dataclass
class PumpCall:
    batches: list[int] = field(default_factory=list)  # bytes queued per batch
    messages: list[int] = field(default_factory=list)  # messages taken per batch
    yielded: bool = False  # returned with the writer registered and no bytes left over


# Notified whenever a ``_pump`` call is recorded. The receiver can have every message while the
# sending I/O thread is still returning from the ``_pump`` call that wrote the last ones (its
# record is appended after), so a test waits for the records, not only for the messages.
_recorded = threading.Condition()


def _wait_for_messages(calls: list[PumpCall], total: int) -> None:
    with _recorded:
        assert _recorded.wait_for(
            lambda: sum(sum(call.messages) for call in calls) >= total, timeout=10.0
        ), calls


@pytest.fixture
def pump_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[PumpCall]]:
    """Every ``_pump`` call of every engine, with what each of its batches queued."""
    calls: list[PumpCall] = []
    current: list[PumpCall] = []
    pump = StreamEngine._pump
    queue = StreamEngine._queue

    def counting_pump(self: StreamEngine) -> None:
        call = PumpCall()
        current.append(call)
        try:
            pump(self)
        finally:
            current.pop()
        call.yielded = self._writing and not self._out
        if sum(call.messages):  # the PULL side's engine pumps too, finding nothing to send
            with _recorded:
                calls.append(call)
                _recorded.notify_all()

    def counting_queue(self: StreamEngine, bufs: list[Any]) -> None:
        if current:
            current[-1].batches.append(sum(len(buf) for buf in bufs))
        queue(self, bufs)

    original_read_many = engine_module.Pipe.read_many

    def counting_read_many(self: Any, limit: int) -> list[Any]:
        msgs = original_read_many(self, limit)
        if current:
            current[-1].messages.append(len(msgs))
        return msgs

    monkeypatch.setattr(StreamEngine, "_pump", counting_pump)
    monkeypatch.setattr(StreamEngine, "_queue", counting_queue)
    monkeypatch.setattr(engine_module.Pipe, "read_many", counting_read_many)
    yield calls


def _curve(push: Any, pull: Any) -> None:
    (spub, ssec), (cpub, csec) = zloop.curve_keypair(), zloop.curve_keypair()
    pull.curve_server = True
    pull.curve_secretkey = ssec
    push.curve_serverkey = spub
    push.curve_publickey = cpub
    push.curve_secretkey = csec


def _backlog_then_receive(
    ctx: zloop.Context, tmp_path: Path, mechanism: str, payloads: list[bytes]
) -> list[bytes]:
    push = with_deadlines(ctx.socket(zloop.PUSH))
    pull = with_deadlines(ctx.socket(zloop.PULL))
    push.sndhwm = pull.rcvhwm = len(payloads) + 1
    push.reconnect_ivl = 10
    if mechanism == "curve":
        pytest.importorskip("nacl")
        _curve(push, pull)
    endpoint = endpoint_for("ipc", tmp_path, "turns")
    push.connect(endpoint)
    for payload in payloads:
        push.send(payload)
    pull.bind(endpoint)
    return [pull.recv() for _ in payloads]


@pytest.mark.parametrize("mechanism", ["null", "curve"])
def test_a_backlog_of_small_messages_goes_out_in_bounded_turns_in_order(
    ctx: zloop.Context, tmp_path: Path, mechanism: str, pump_calls: list[PumpCall]
) -> None:
    payloads = [b"%015d" % i for i in range(6000)]  # 16 B each: 6000 of them far exceed OUT_TURN
    assert _backlog_then_receive(ctx, tmp_path, mechanism, payloads) == payloads
    _wait_for_messages(pump_calls, len(payloads))
    for call in pump_calls:
        # No batch starts once the call has written OUT_TURN bytes.
        assert sum(call.batches[:-1]) < OUT_TURN, call
    # The backlog was cut into turns: some calls ended by yielding to the reactor after a turn.
    turns = [call for call in pump_calls if call.yielded]
    assert turns, pump_calls
    assert all(sum(call.batches) >= OUT_TURN for call in turns), turns


@pytest.mark.parametrize("mechanism", ["null", "curve"])
def test_large_messages_make_smaller_batches(
    ctx: zloop.Context, tmp_path: Path, mechanism: str, pump_calls: list[PumpCall]
) -> None:
    size = 16 * 1024
    payloads = [bytes([i % 251]) * size for i in range(OUT_BATCH + 50)]
    assert _backlog_then_receive(ctx, tmp_path, mechanism, payloads) == payloads
    _wait_for_messages(pump_calls, len(payloads))
    taken = [count for call in pump_calls for count in call.messages if count]
    # The connection's first batch takes OUT_BATCH messages (it knows no sizes yet); after it a
    # batch aims at OUT_BATCH_BYTES of output: a few 16 KiB messages at a time.
    assert taken[0] == OUT_BATCH
    assert sum(taken) == len(payloads)
    assert max(taken[1:]) <= OUT_BATCH_BYTES // size, taken
