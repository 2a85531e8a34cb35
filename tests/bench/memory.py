"""Benchmark 6: memory with 1,000 rooms and about 10,000 threads loaded, against the
size of the synthetic sync JSON.

Each scenario runs in a fresh interpreter (``tests/bench/memory_child.py``) so its peak RSS
is its own: the model alone (translate an initial sync, count every room), the same
under ``tracemalloc`` (Python's own allocations: peak while translating, and what the
model keeps), and the real TUI taking the initial sync through the real sync loop
(the first start of a big account, the worst case: the decoded JSON, the model, the
cache write and the panes at once). RSS is read from ``/proc/self/status``: ``VmHWM``
is the peak (what ``resource.getrusage`` calls ``ru_maxrss``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

from tests.bench.harness import Report, Table, Target
from tests.bench.synthetic import Shape, initial_sync_bytes

NAME = "memory"
TITLE = "peak memory with 1,000 rooms / 10,000 threads loaded"

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FULL = (1_000, 5_000)
QUICK = (30,)
# Issue 16 (issue 6 asked for 200 MB).
TARGET_MB = 120.0
TARGET_ROOMS = 1_000


def child(mode: str, body_path: str, rooms: int) -> dict:
    env = dict(os.environ, READMARK_BENCH_ROOMS=str(rooms))
    done = subprocess.run(
        [sys.executable, "-m", "tests.bench.memory_child", mode, body_path],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        check=True,
        timeout=600,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(quick: bool = False) -> Report:
    report = Report(NAME, TITLE)
    table = Table(
        "MB; RSS from /proc/self/status (peak = VmHWM); each row a fresh interpreter",
        ["rooms", "body JSON", "scenario", "RSS before", "RSS after", "peak RSS", "peak - before", "tracemalloc peak", "model kept"],
    )
    for rooms in QUICK if quick else FULL:
        with tempfile.TemporaryDirectory(prefix="readmark-bench-") as home:
            path = os.path.join(home, "sync.json")
            body = initial_sync_bytes(Shape(rooms))
            with open(path, "wb") as out:
                out.write(body)
            body_mb = len(body) / 2**20
            del body
            joined = rooms  # invites are listed apart
            scenarios = ["model", "traced"] + (["tui"] if rooms <= TARGET_ROOMS else [])
            for mode in scenarios:
                result = child(mode, path, joined)
                if mode == "traced":
                    table.add(
                        rooms, body_mb, "model, under tracemalloc", "", "", "", "",
                        result["traced_peak_mb"], result["traced_retained_mb"],
                    )
                    report.figures[f"{rooms}/traced"] = result
                    continue
                before = result["before"]["VmRSS"]
                peak = result["end"]["VmHWM"]
                table.add(
                    rooms,
                    body_mb,
                    "model only" if mode == "model" else "TUI, initial sync through the sync loop",
                    before,
                    result["loaded"]["VmRSS"],
                    peak,
                    peak - before,
                    "",
                    "",
                )
                report.figures[f"{rooms}/{mode}"] = {"peak_mb": peak, "before_mb": before, "body_mb": body_mb, **result}
    report.tables.append(table)
    if not quick:
        tui = report.figures[f"{TARGET_ROOMS}/tui"]
        report.targets.append(
            Target(
                f"peak RSS under {TARGET_MB:.0f} MB with {TARGET_ROOMS:,} rooms loaded (TUI, first start)",
                f"{tui['peak_mb']:.0f} MB for a {tui['body_mb']:.1f} MB sync body",
                tui["peak_mb"] < TARGET_MB,
            )
        )
    return report
