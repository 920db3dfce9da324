"""The throughput benchmark, which lives in ``zloop/_bench/throughput.py`` (``zloop bench`` runs it too).

Run: ``uv run python bench/throughput.py [--quick] ...`` (``--help`` lists the options).
"""

from __future__ import annotations

import sys

from zloop._bench.throughput import *  # noqa: F403 - run_all.py and others use its names
from zloop._bench.throughput import main

if __name__ == "__main__":
    sys.exit(main())
