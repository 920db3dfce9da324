"""Every example runs on its own, exits by itself, and prints what it shows."""

from __future__ import annotations

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
