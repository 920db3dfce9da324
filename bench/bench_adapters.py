"""The adapter benchmark, which lives in ``zloop/_bench/adapters.py`` (``zloop bench --adapters``
runs it too).

Run: ``uv run python bench/bench_adapters.py [--quick] [--count N] [--repeat N] [--loops asyncio]
[--sizes 16,65536,1048576] [--no-rtt] [--no-throughput]`` (``--help`` lists the options).
"""

from __future__ import annotations

import sys

from zloop._bench.adapters import *  # noqa: F403 - older callers use its names
from zloop._bench.adapters import main

if __name__ == "__main__":
    sys.exit(main())
