"""Benchmark 9: 10,000 rooms against 1,000 (issue 16, row 6): does each cost grow
linearly in rooms (ms per room within 1.2x of the 1,000-room figure), and does the
memory stay under 1 GB?

The same synthetic account shape at both sizes (``Shape(rooms)``; digest printed), each
measure by the method of its own benchmark, the two sizes beside each other:

1. Initial sync (benchmark 1's ``process``: ``parse_sync`` + ``apply_sync_changes``),
   interleaved with ``json.loads`` of the same body; GC on. Linear: parse+apply ms per
   room at 10,000 within 1.2x of that at 1,000.
2. Cold start (benchmark 3's child under a pseudo-terminal: process start to the painted
   rooms pane with its counts checked), alternating with the minimal Textual app. What a
   start costs beyond the minimal app, per cached room, within 1.2x.
3. Key to frame (benchmark 4's ``measure``: Pilot, the real ``MatrixService``): ``j`` in
   the rooms pane, ``n``, ``r`` and the unbound key. A key's cost should not grow with
   the account at all: each key's median at 10,000 within 1.2x of its median at 1,000.
4. Memory (benchmark 6's children): the model alone and the TUI's first start (the
   initial sync through the real sync loop), peak RSS; under 1 GB at 10,000 rooms, and
   what the sync adds to the process per room within 1.2x.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import tempfile
from typing import Any

from tests.bench import coldstart, keys, memory
from tests.bench.harness import Report, Table, Target, interleaved
from tests.bench.initial_sync import process
from tests.bench.synthetic import Shape, digest, encode, initial_sync

NAME = "scale"
TITLE = "10,000 rooms against 1,000: initial sync, cold start, key to frame, memory"

FULL = {"sizes": (1_000, 10_000), "sync_repeat": {1_000: 7, 10_000: 3}, "cold_repeat": 3, "key_samples": 15}
QUICK = {"sizes": (20, 60), "sync_repeat": {20: 2, 60: 2}, "cold_repeat": 1, "key_samples": 2}
LINEAR = 1.2
MEMORY_MB = 1024.0
KEYS = (
    "(unbound key: the method's floor)",
    "j (rooms pane: next room)",
    "n (next unread thread, across rooms)",
    "r (threaded receipt, optimistic count)",
)


def _sync_figures(bodies: dict[int, bytes], repeat: dict[int, int]) -> tuple[Table, dict[str, Any]]:
    table = Table(
        "Initial sync, median ms (min-max), interleaved with json.loads of the same body; GC on",
        ["rooms", "body MB", "digest", "json.loads", "parse+apply", "ratio", "parse+apply ms/room", "json.loads ms/room"],
    )
    figures: dict[str, Any] = {}
    for rooms, body in bodies.items():
        stats = interleaved(
            {"loads": lambda body=body: json.loads(body), "apply": lambda body=body: process(body)},
            repeat=repeat[rooms],
            settle=frozenset({"loads", "apply"}),
        )
        loads, apply = stats["loads"], stats["apply"]
        table.add(
            rooms,
            len(body) / 1e6,
            digest(body),
            f"{loads.median_ms:.0f} ({loads.min_ms:.0f}-{loads.max_ms:.0f})",
            f"{apply.median_ms:.0f} ({apply.min_ms:.0f}-{apply.max_ms:.0f})",
            f"{apply.median_ms / loads.median_ms:.2f}x",
            apply.median_ms / rooms,
            loads.median_ms / rooms,
        )
        figures[str(rooms)] = {
            "loads_ms": loads.median_ms,
            "apply_ms": apply.median_ms,
            "apply_ms_per_room": apply.median_ms / rooms,
            "loads_ms_per_room": loads.median_ms / rooms,
        }
    return table, figures


def _cold_figures(syncs: dict[int, dict], repeat: int) -> tuple[Table, dict[str, Any]]:
    table = Table(
        f"Cold start to the painted rooms pane (counts checked), ms, median of {repeat} (min-max), alternating "
        "with the minimal Textual app",
        ["rooms", "minimal app", "readmark", "ratio", "beyond the minimal app, ms per room", "rows wrong", "max RSS MB"],
    )
    figures: dict[str, Any] = {}
    for rooms, sync in syncs.items():
        runs: dict[str, list[dict]] = {"minimal": [], "readmark": []}
        with coldstart.profile(rooms, sync) as (env, _expected):
            for kind in runs:  # untimed: the OS file cache and the bytecode cache
                coldstart.start_once(kind, env)
            for _ in range(repeat):
                for kind in runs:
                    runs[kind].append(coldstart.start_once(kind, env))
        medians = {kind: statistics.median(coldstart.ms(r, "painted_ns") for r in reports) for kind, reports in runs.items()}
        painted = [coldstart.ms(r, "painted_ns") for r in runs["readmark"]]
        wrong = max(r["rows_wrong"] for r in runs["readmark"])
        checked = min(r["rows_checked"] for r in runs["readmark"])
        beyond = (medians["readmark"] - medians["minimal"]) / rooms
        table.add(
            rooms,
            medians["minimal"],
            f"{medians['readmark']:.0f} ({min(painted):.0f}-{max(painted):.0f})",
            f"{medians['readmark'] / medians['minimal']:.2f}x",
            f"{beyond:.4f}",
            f"{wrong} of {checked}",
            statistics.median(r["maxrss_kb"] for r in runs["readmark"]) / 1024,
        )
        figures[str(rooms)] = {
            "minimal_ms": medians["minimal"],
            "readmark_ms": medians["readmark"],
            "beyond_ms_per_room": beyond,
            "rows_wrong": wrong,
            "rows_checked": checked,
        }
    return table, figures


def _key_figures(syncs: dict[int, dict], samples: int) -> tuple[Table, dict[str, Any]]:
    sizes = list(syncs)
    outcomes = {rooms: asyncio.run(keys.measure(rooms, samples, sync=sync)) for rooms, sync in syncs.items()}
    table = Table(
        f"Key to frame, median ms (p90) of {samples}, 160x50 (benchmark 4's method)",
        ["input", *(f"{rooms:,} rooms" for rooms in sizes), f"{sizes[-1]:,} / {sizes[0]:,}"],
    )
    figures: dict[str, Any] = {}
    for label in KEYS:
        stats = [outcomes[rooms]["stats"][label] for rooms in sizes]  # type: ignore[index]
        growth = stats[-1].median_ms / stats[0].median_ms
        table.add(label, *(f"{s.median_ms:.1f} ({s.p90_ms:.1f})" for s in stats), f"{growth:.2f}x")
        figures[label] = {**{str(rooms): s.median_ms for rooms, s in zip(sizes, stats)}, "growth": growth}
    for rooms in sizes:
        figures[f"{rooms}/rooms_shown"] = outcomes[rooms]["rooms"]
        figures[f"{rooms}/requests_sent"] = outcomes[rooms]["requests_sent"]
    return table, figures


def _memory_figures(bodies: dict[int, bytes]) -> tuple[Table, dict[str, Any]]:
    table = Table(
        "Peak RSS, MB (VmHWM), each row a fresh interpreter (benchmark 6's children)",
        ["rooms", "scenario", "RSS before", "peak RSS", "peak - before", "peak - before, KB per room"],
    )
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="readmark-bench-") as home:
        for rooms, body in bodies.items():
            path = os.path.join(home, f"sync-{rooms}.json")
            with open(path, "wb") as out:
                out.write(body)
            for mode, label in (("model", "model only"), ("tui", "TUI, first start through the sync loop")):
                result = memory.child(mode, path, rooms)
                before, peak = result["before"]["VmRSS"], result["end"]["VmHWM"]
                table.add(rooms, label, before, peak, peak - before, (peak - before) * 1024 / rooms)
                figures[f"{rooms}/{mode}"] = {"before_mb": before, "peak_mb": peak, "added_kb_per_room": (peak - before) * 1024 / rooms}
            os.unlink(path)
    return table, figures


def run(quick: bool = False) -> Report:
    plan = QUICK if quick else FULL
    sizes: tuple[int, int] = plan["sizes"]  # type: ignore[assignment]
    report = Report(NAME, TITLE)
    syncs = {rooms: initial_sync(Shape(rooms)) for rooms in sizes}
    bodies = {rooms: encode(sync) for rooms, sync in syncs.items()}
    small, big = sizes

    table, figures = _sync_figures(bodies, plan["sync_repeat"])  # type: ignore[arg-type]
    report.tables.append(table)
    report.figures["sync"] = figures
    sync_growth = figures[str(big)]["apply_ms_per_room"] / figures[str(small)]["apply_ms_per_room"]
    loads_growth = figures[str(big)]["loads_ms_per_room"] / figures[str(small)]["loads_ms_per_room"]

    table, figures = _memory_figures(bodies)
    report.tables.append(table)
    report.figures["memory"] = figures
    del bodies

    table, figures = _cold_figures(syncs, plan["cold_repeat"])  # type: ignore[arg-type]
    report.tables.append(table)
    report.figures["coldstart"] = figures

    table, figures = _key_figures(syncs, plan["key_samples"])  # type: ignore[arg-type]
    report.tables.append(table)
    report.figures["keys"] = figures

    if not quick:
        report.targets.append(
            Target(
                f"initial sync linear: parse+apply ms per room at {big:,} within {LINEAR}x of {small:,}",
                f"x{sync_growth:.2f} (json.loads' own: x{loads_growth:.2f})",
                sync_growth <= LINEAR,
            )
        )
        cold = report.figures["coldstart"]
        cold_growth = cold[str(big)]["beyond_ms_per_room"] / cold[str(small)]["beyond_ms_per_room"]
        report.targets.append(
            Target(
                f"cold start linear: ms beyond the minimal app per cached room at {big:,} within {LINEAR}x of {small:,}",
                f"x{cold_growth:.2f} ({cold[str(big)]['readmark_ms']:.0f} ms at {big:,}, "
                f"{cold[str(small)]['readmark_ms']:.0f} ms at {small:,}; rows wrong {cold[str(big)]['rows_wrong']})",
                cold_growth <= LINEAR and cold[str(big)]["rows_wrong"] == 0,
            )
        )
        for label in KEYS[1:]:
            growth = report.figures["keys"][label]["growth"]
            report.targets.append(
                Target(f"{label}: median at {big:,} rooms within {LINEAR}x of {small:,}", f"x{growth:.2f}", growth <= LINEAR)
            )
        mem = report.figures["memory"]
        peak = max(mem[f"{big}/model"]["peak_mb"], mem[f"{big}/tui"]["peak_mb"])
        added = mem[f"{big}/tui"]["added_kb_per_room"] / mem[f"{small}/tui"]["added_kb_per_room"]
        report.targets.append(
            Target(
                f"memory: peak RSS under {MEMORY_MB:.0f} MB at {big:,} rooms, what the sync adds per room within {LINEAR}x",
                f"{peak:.0f} MB; per room x{added:.2f}",
                peak < MEMORY_MB and added <= LINEAR,
            )
        )
    return report
