"""readmark's benchmark suite (issue 6): ``python -m tests.bench`` or ``make bench``.

One module per benchmark, each with ``run(quick: bool) -> Report``; ``synthetic`` builds
the deterministic accounts, ``harness`` times and reports. Results: ``tests/bench/RESULTS.md``.
"""

BENCHMARKS = ("initial_sync", "incremental", "coldstart", "keys", "burst", "memory", "encrypted", "spaces", "scale", "status")
