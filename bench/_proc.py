"""The benchmarks' process plumbing, which lives in ``zloop/_bench/proc.py`` (``zloop bench`` uses it).

Loaded from that file by path rather than imported as ``zloop._bench.proc``, so the scripts here
keep working with any ``zloop`` on ``PYTHONPATH`` (``ab.py`` compares older trees, which may not
have ``zloop._bench``).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_PATH = Path(__file__).resolve().parent.parent / "zloop" / "_bench" / "proc.py"
_spec = importlib.util.spec_from_file_location("_proc_impl", _PATH)
assert _spec is not None and _spec.loader is not None
_impl = importlib.util.module_from_spec(_spec)
sys.modules["_proc_impl"] = _impl  # dataclasses and pickling look the module up by name
_spec.loader.exec_module(_impl)

BenchError = _impl.BenchError
Worker = _impl.Worker
run_pair = _impl.run_pair
median_run = _impl.median_run
import_impl = _impl.import_impl
emit = _impl.emit
fmt_rate = _impl.fmt_rate
fmt_size = _impl.fmt_size
render = _impl.render
