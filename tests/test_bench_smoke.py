"""The benchmark suite still runs: ``bench/run_all.py --quick`` exits 0 and prints its tables.

No timing is asserted (timings live in the benchmark, never in a timed unit test).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

RUN_ALL = Path(__file__).resolve().parent.parent / "bench" / "run_all.py"


@pytest.mark.interop
@pytest.mark.timeout(150)
def test_run_all_quick_exits_cleanly_and_prints_tables() -> None:
    proc = subprocess.run(
        [sys.executable, str(RUN_ALL), "--quick"],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert "== zloop benchmark suite ==" in out
    assert "pyzmq:" in out and "libzmq" in out
    assert "transport/size  zloop msg/s  zloop MB/s  pyzmq msg/s  pyzmq MB/s  zloop/pyzmq" in out
    assert "raw python socket ceiling" in out
    assert "PAIR round-trip latency" in out
    assert "Memory per connection" in out and "tcp silent" in out and "tcp ready" in out
    for row in ("tcp 16 B", "tcp 1 MiB", "ipc 16 B", "ipc 1 MiB"):
        assert row in out
    assert "FAILED" not in out
