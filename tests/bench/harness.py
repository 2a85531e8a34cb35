"""The timing harness and the report format shared by every benchmark.

Why a small ``time.perf_counter_ns`` harness rather than pyperf or pytest-benchmark
(see ``tests/bench/RESULTS.md``): every figure here is a ratio against a baseline *measured
in the same run*, and on a shared, loaded machine the only fair way to get one is to
interleave the subject and its baseline sample by sample (A, B, A, B, ...), so both
see the same load. pyperf runs each benchmark to completion in its own worker
processes, one after the other; pytest-benchmark ties the suite to pytest. And four of
the six benchmarks are not "call a function N times": a subprocess until its first
painted frame, a keypress until the next frame in Pilot, a burst of presses against
the real receipt queue, peak memory. Neither tool measures those; a shared
``interleaved()`` with min/median/max of N samples does all of them the same way.
The figures are milliseconds, far above ``perf_counter_ns``' resolution, so loop
calibration (pyperf's strength for microsecond benchmarks) buys nothing here.

Each sample starts after a ``gc.collect()`` (outside the timed part), so garbage
from the previous sample is not charged to the next one. The GC stays enabled during
samples unless a case says otherwise: that is what the application runs with.
"""

from __future__ import annotations

import gc
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Stats:
    """Samples in nanoseconds; figures in milliseconds."""

    samples: tuple[int, ...]

    @property
    def n(self) -> int:
        return len(self.samples)

    @property
    def min_ms(self) -> float:
        return min(self.samples) / 1e6

    @property
    def median_ms(self) -> float:
        return statistics.median(self.samples) / 1e6

    @property
    def max_ms(self) -> float:
        return max(self.samples) / 1e6

    @property
    def p90_ms(self) -> float:
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))] / 1e6

    def brief(self) -> str:
        return f"{self.median_ms:.2f} (min {self.min_ms:.2f}, max {self.max_ms:.2f}, n={self.n})"


def time_call(fn: Callable[[], Any], *, gc_off: bool = False, collect: bool = True, settle: bool = False) -> int:
    """One sample of ``fn()`` in nanoseconds, after a collection outside the timing
    (unless ``collect`` is False: for sub-millisecond cases, where the collector's own
    pauses are part of what is measured). With ``settle``, the young-generation
    collections the call leaves behind (``gc.collect(1)``) are timed with it, so work
    a call defers (by pausing the collector, say) is charged to that call."""
    if collect:
        gc.collect()
    if gc_off:
        gc.disable()
    try:
        start = time.perf_counter_ns()
        result = fn()
        if settle:
            gc.collect(1)
        elapsed = time.perf_counter_ns() - start
    finally:
        if gc_off:
            gc.enable()
    del result
    return elapsed


def interleaved(
    cases: dict[str, Callable[[], Any]],
    *,
    repeat: int,
    warmup: int = 1,
    gc_off: frozenset[str] = frozenset(),
    collect: bool = True,
    settle: frozenset[str] = frozenset(),
) -> dict[str, Stats]:
    """Run the cases in turn, ``repeat`` rounds (after ``warmup`` untimed rounds), so
    each case and its baseline share the machine's load. Cases named in ``gc_off``
    run with the garbage collector disabled for the timed call only; cases named in
    ``settle`` include the young collections they leave (see ``time_call``)."""
    for _ in range(warmup):
        for fn in cases.values():
            fn()
    samples: dict[str, list[int]] = {name: [] for name in cases}
    for _ in range(repeat):
        for name, fn in cases.items():
            samples[name].append(time_call(fn, gc_off=name in gc_off, collect=collect, settle=name in settle))
    return {name: Stats(tuple(values)) for name, values in samples.items()}


# ---- reports -------------------------------------------------------------------


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)

    def add(self, *cells: object) -> None:
        self.rows.append([_cell(c) for c in cells])

    def markdown(self) -> str:
        lines = [f"**{self.title}**", "", "| " + " | ".join(self.columns) + " |"]
        lines.append("|" + "|".join("---" for _ in self.columns) + "|")
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        return "\n".join(lines)

    def text(self) -> str:
        widths = [max(len(str(x)) for x in col) for col in zip(self.columns, *self.rows)]
        out = [self.title]
        out.append("  ".join(c.ljust(w) for c, w in zip(self.columns, widths)))
        out.append("  ".join("-" * w for w in widths))
        out += ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in self.rows]
        return "\n".join(out)


@dataclass
class Target:
    """One target of issue 6: what it asks, what was measured, whether it is met."""

    goal: str
    measured: str
    met: bool


@dataclass
class Report:
    name: str
    title: str
    tables: list[Table] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Raw figures for the smoke test and for --json.
    figures: dict[str, Any] = field(default_factory=dict)

    def text(self) -> str:
        parts = [f"== {self.name}: {self.title}"]
        parts += [table.text() for table in self.tables]
        for target in self.targets:
            parts.append(f"[{'met' if target.met else 'NOT MET'}] {target.goal}: {target.measured}")
        parts += [f"- {note}" for note in self.notes]
        return "\n\n".join(parts)

    def markdown(self) -> str:
        parts = [f"### {self.name}: {self.title}"]
        parts += [table.markdown() for table in self.tables]
        if self.targets:
            parts.append(
                "\n".join(
                    f"- {'**met**' if t.met else '**not met**'}: {t.goal} (measured: {t.measured})"
                    for t in self.targets
                )
            )
        if self.notes:
            parts.append("\n".join(f"- {note}" for note in self.notes))
        return "\n\n".join(parts)


def _cell(value: object) -> str:
    if isinstance(value, float):
        if value >= 100:
            return f"{value:,.0f}"
        if value >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def machine() -> dict[str, str]:
    """What the figures were measured on."""
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "unknown"
    memory = "unknown"
    try:
        with open("/proc/meminfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("MemTotal"):
                    memory = f"{int(line.split()[1]) // 1024:,} MB"
                    break
    except OSError:
        pass
    import textual

    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "memory": memory,
        "python": f"{platform.python_implementation()} {sys.version.split()[0]}",
        "textual": getattr(textual, "__version__", "?"),
        "os": platform.platform(),
        "load average (1, 5, 15 min)": load,
    }
