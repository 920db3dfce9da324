"""Every example runs on its own, exits by itself, and prints what it shows."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name: str) -> str:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / name)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_edge_triggered_epoll() -> None:
    out = run_example("edge_triggered_epoll.py")
    for i in range(5):
        assert f"received: hello world {i}" in out
    assert "5 messages" in out


def test_level_triggered_fd() -> None:
    out = run_example("level_triggered_fd.py")
    assert "received 1000 messages in order" in out
    assert "level fd readable after the last message: False" in out


@pytest.mark.parametrize("argv", [["demo"], ["selfcheck"]])
def test_zloop_command(argv: list[str]) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "zloop", *argv], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("[ok]") == 3
    assert "FAIL" not in proc.stdout


def test_hello_reqrep() -> None:
    out = run_example("hello_reqrep.py")
    assert out.count("server: received 'Hello'") == 5
    assert "client: reply 4 = 'World'" in out


def test_poll_many() -> None:
    out = run_example("poll_many.py")
    assert out.count("task stream: task") == 5
    assert out.count("weather: 10001 ") == 5
    assert "90210" not in out


def test_multipart() -> None:
    out = run_example("multipart.py")
    assert "after two of three frames, receiver has a message: False" in out
    assert "received frame by frame: [b'header', b'', b'body']" in out
    assert "received at once: [b'a', b'b', b'c']" in out


def test_interrupt_during_blocking_recv() -> None:
    proc = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "interrupt.py")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # printed inside the try block, right before recv()
        assert first.startswith("waiting for a message on tcp://127.0.0.1:")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "interrupted: closing the socket and terminating the context" in out
    assert "clean exit" in out
    assert "Traceback" not in err


def test_pair_relay() -> None:
    out = run_example("pair_relay.py")
    assert out.splitlines() == [
        "step 1 ready, signalling step 2",
        "step 2 ready, signalling step 3",
        "test successful!",
    ]


def test_sync_pubsub() -> None:
    out = run_example("sync_pubsub.py")
    assert "updates received per subscriber: [100, 100, 100]" in out


def test_hwm() -> None:
    out = run_example("hwm.py")
    assert "PUSH: queued 20 messages, then send would block" in out
    assert "received all 20 of them, nothing dropped" in out
    assert "the slow subscriber got 20, 980 were dropped" in out


@pytest.mark.interop
def test_interop_pyzmq() -> None:
    out = run_example("interop_pyzmq.py")
    assert "libzmq REP got: 'ping from zloop'" in out
    assert "zloop REQ got: 'pong from libzmq'" in out
    assert "[b'multi', b'part']" in out
