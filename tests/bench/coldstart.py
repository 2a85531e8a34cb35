"""Benchmark 3: cold start from the local cache, process start to the first painted
rooms pane with correct counts, against a minimal Textual app in the same run.

Both run in a fresh ``python`` under a pseudo-terminal of 160x50 (Textual's real Linux
driver, writing real escape sequences), started alternately. The time is taken by the
parent just before ``Popen`` and by the child (``tests/bench/coldstart_child.py``) when the
wanted frame's bytes have been written; both read CLOCK_MONOTONIC. The readmark child
runs the real ``readmark`` entry (``app.cli.main``) with an isolated XDG profile: a
session for a homeserver that accepts connections and never answers, and a cache of the
synthetic account written by ``app.store.cache``. Its painted rows are checked against
the counts computed from the synthetic sync itself.

Also: what each top-level import costs in a fresh interpreter (``-X importtime``).
"""

from __future__ import annotations

import contextlib
import json
import os
import pty
import statistics
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from app.matrix.translate import apply_sync_changes
from app.model.account import AccountState
from app.model.unread import room_unread
from tests.bench.fixtures import silent_port, write_profile
from tests.bench.harness import Report, Table, Target
from tests.bench.synthetic import ME, Shape, initial_sync

NAME = "coldstart"
TITLE = "cold start from the cache to the first painted rooms pane, against a minimal Textual app"

REPO = Path(__file__).resolve().parents[2]
FULL = (1_000, 7)
QUICK = (30, 1)
# Issue 16 (issue 6 asked for 1.5x).
TARGET_RATIO = 1.3
COLUMNS, LINES = 160, 50
CHILD_TIMEOUT_S = 60
IMPORTS = (
    "textual.app",
    "nio",
    "aiohttp",
    "app.model.account",
    "app.store.cache",
    "app.matrix.translate",
    "app.matrix.client",
    "app.matrix.service",
    "app.ui.app",
    "app.cli",
)


@contextlib.contextmanager
def profile(
    rooms: int, sync: dict | None = None, prepare: Callable[[dict[str, str]], None] | None = None
) -> Iterator[tuple[dict[str, str], dict[str, str]]]:
    """An isolated XDG profile holding a session and the cache of a synthetic account
    (``sync``'s, when given; ``prepare`` is called with the profile's XDG variables, to
    add to it); yields the child environment and the expected count label of every
    joined room."""
    with tempfile.TemporaryDirectory(prefix="readmark-bench-") as home, silent_port() as port:
        env = dict(os.environ)
        env.update(TERM="xterm-256color", COLORTERM="truecolor", COLUMNS=str(COLUMNS), LINES=str(LINES))
        env.pop("TEXTUAL", None)
        # As installed: pip compiles a package's modules to bytecode, so Textual's are
        # (site-packages) and readmark's must be too, or each start would compile
        # readmark's source again (PYTHONDONTWRITEBYTECODE is set on these machines).
        # The untimed first start of each writes them, outside the checkout.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = os.path.join(home, "pycache")
        account, _ = apply_sync_changes(AccountState(ME), sync if sync is not None else initial_sync(Shape(rooms)))
        expected = {
            room_id: room_unread(room).label() for room_id, room in account.rooms.items() if room.membership == "join"
        }
        xdg = write_profile(home, account, f"http://127.0.0.1:{port}")
        if prepare is not None:
            prepare(xdg)
        env.update(xdg)
        expect_path = os.path.join(home, "expected.json")
        with open(expect_path, "w", encoding="utf-8") as out:
            json.dump(expected, out)
        env["READMARK_BENCH_EXPECT"] = expect_path
        env["READMARK_BENCH_ROOMS"] = str(len(expected))
        env["READMARK_BENCH_REPORT"] = os.path.join(home, "report.json")
        yield env, expected


def start_once(kind: str, env: dict[str, str]) -> dict:
    """One child under a fresh pseudo-terminal; its report, with ``start_ns`` added."""
    report_path = env["READMARK_BENCH_REPORT"]
    with contextlib.suppress(FileNotFoundError):
        os.unlink(report_path)
    master, slave = pty.openpty()
    import fcntl
    import struct
    import termios

    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", LINES, COLUMNS, 0, 0))
    received = [0]

    def drain() -> None:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                return
            if not chunk:
                return
            received[0] += len(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    start_ns = __import__("time").monotonic_ns()
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.bench.coldstart_child", kind],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        cwd=REPO,
        start_new_session=True,
    )
    os.close(slave)
    try:
        child.wait(timeout=CHILD_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
        raise RuntimeError(f"the {kind} child never painted what was wanted within {CHILD_TIMEOUT_S} s") from None
    finally:
        os.close(master)
        reader.join(timeout=5)
    with open(report_path, encoding="utf-8") as source:
        report = json.load(source)
    if report.get("failed"):
        raise RuntimeError(f"the {kind} child exited before the wanted frame: {report}")
    report["start_ns"] = start_ns
    report["terminal_bytes"] = received[0]
    return report


def import_costs(repeat: int) -> list[tuple[str, float]]:
    """Cumulative import time of each module in a fresh interpreter, median of ``repeat``."""
    costs = []
    for module in IMPORTS:
        samples = []
        for _ in range(repeat):
            done = subprocess.run(
                [sys.executable, "-X", "importtime", "-c", f"import {module}"],
                capture_output=True,
                text=True,
                cwd=REPO,
                check=True,
            )
            # The last line is the module itself: "import time: self | cumulative | name".
            line = [row for row in done.stderr.splitlines() if row.startswith("import time:")][-1]
            samples.append(int(line.split("|")[1]) / 1000)
        costs.append((module, statistics.median(samples)))
    return costs


LABELS = {
    "minimal": "minimal Textual app (one Static)",
    "readmark": "readmark, rooms pane painted",
    "empty": "readmark, no cache (empty rooms pane)",
    "shaped": "plain Textual in readmark's shape (3 panes, status, footer)",
}


def _child_kind(kind: str) -> str:
    return "readmark" if kind == "empty" else kind


PHASE_RUNS = 3


def phase_table(rooms: int, repeat: int) -> Table:
    """Where each start goes: the child times a few of Textual's and readmark's steps
    (READMARK_BENCH_PHASES; the wrappers cost a little, so these runs are not the ones
    above)."""
    names: list[str] = []
    found: dict[str, dict[str, list[float]]] = {"minimal": {}, "readmark": {}}
    with profile(rooms) as (env, _):
        env = dict(env, READMARK_BENCH_PHASES="1")
        for kind in found:
            start_once(kind, env)
        for _ in range(repeat):
            for kind, phases in found.items():
                result = start_once(kind, env)
                timed = dict(result.get("phases", {}), total=ms(result, "painted_ns"))
                for name, value in timed.items():
                    if name not in names:
                        names.append(name)
                    phases.setdefault(name, []).append(value)
    table = Table(
        f"Where a start goes, ms (median of {repeat}; 'to ...' are times since the process began, the rest "
        "cumulative time inside those steps; compose includes the steps it runs)",
        ["step", "minimal app", "readmark", "difference"],
    )
    for name in names:
        a = statistics.median(found["minimal"].get(name, [0.0]))
        b = statistics.median(found["readmark"].get(name, [0.0]))
        table.add(name, a, b, b - a)
    return table


def ms(report: dict, key: str) -> float:
    return (report[key] - report["start_ns"]) / 1e6


def run(quick: bool = False) -> Report:
    report = Report(NAME, TITLE)
    rooms, repeat = QUICK if quick else FULL
    runs: dict[str, list[dict]] = {"minimal": [], "readmark": [], "empty": [], "shaped": []}
    with profile(rooms) as (env, expected):
        # The same start with no cache: the main screen with an empty rooms pane. What
        # a start costs whatever the account holds (its screen, its modules).
        empty_env = dict(env, XDG_CACHE_HOME=os.path.join(env["XDG_CACHE_HOME"], "none"), READMARK_BENCH_ROOMS="0")
        envs = {"minimal": env, "readmark": env, "empty": empty_env, "shaped": env}
        # One untimed start of each fills the OS file cache and Python's bytecode cache.
        for kind in runs:
            start_once(_child_kind(kind), envs[kind])
        for _ in range(repeat):
            for kind in runs:
                runs[kind].append(start_once(_child_kind(kind), envs[kind]))

    table = Table(
        f"Process start to frame on the terminal, ms (median of {repeat}, min-max); {rooms:,} cached rooms",
        ["app", "to interpreter ready", "to first frame", "to wanted frame", "frames", "max RSS MB", "nio imported"],
    )
    medians = {}
    for kind, reports in runs.items():
        painted = [ms(r, "painted_ns") for r in reports]
        medians[kind] = statistics.median(painted)
        table.add(
            LABELS[kind],
            statistics.median(ms(r, "child_start_ns") for r in reports),
            statistics.median(ms(r, "first_frame_ns") for r in reports),
            f"{medians[kind]:.0f} ({min(painted):.0f}-{max(painted):.0f})",
            statistics.median(r["frames"] for r in reports),
            statistics.median(r["maxrss_kb"] for r in reports) / 1024,
            "yes" if any(r["nio_loaded"] for r in reports) else "no",
        )
    ratio = medians["readmark"] / medians["minimal"]
    checked = runs["readmark"][-1]
    report.tables.append(table)
    report.figures.update(
        minimal_ms=medians["minimal"],
        readmark_ms=medians["readmark"],
        ratio=ratio,
        rows_checked=checked["rows_checked"],
        rows_wrong=checked["rows_wrong"],
        nio_loaded=checked["nio_loaded"],
        row_examples=checked["row_examples"],
        expected_rooms=len(expected),
    )
    report.notes.append(
        f"rows checked on the first painted frame: {checked['rows_checked']}, wrong counts: {checked['rows_wrong']}; "
        f"nio imported before the first paint: {'yes' if checked['nio_loaded'] else 'no'}"
    )
    report.figures["empty_ms"] = medians["empty"]
    report.figures["shaped_ms"] = medians["shaped"]
    report.notes.append(
        f"plain Textual in the same shape (three bordered panes, a status line, a footer): "
        f"{medians['shaped']:.0f} ms, {medians['shaped'] / medians['minimal']:.2f}x the minimal app"
    )
    report.notes.append(
        f"with no cache the same start takes {medians['empty']:.0f} ms: {medians['empty'] / medians['minimal']:.2f}x the "
        f"minimal app; the 1,000 cached rooms add {medians['readmark'] - medians['empty']:.0f} ms"
        if rooms == FULL[0]
        else f"with no cache: {medians['empty']:.0f} ms"
    )
    if not quick:
        report.tables.append(phase_table(rooms, PHASE_RUNS))
        imports = Table("Import cost in a fresh interpreter (-X importtime, cumulative, median of 3)", ["module", "ms"])
        for module, cost in import_costs(3):
            imports.add(module, cost)
        report.tables.append(imports)
        report.targets.append(
            Target(
                f"at most {TARGET_RATIO}x a minimal Textual app's start to first paint ({rooms:,} rooms)",
                f"{ratio:.2f}x ({medians['readmark']:.0f} ms against {medians['minimal']:.0f} ms)",
                ratio <= TARGET_RATIO and checked["rows_wrong"] == 0,
            )
        )
    return report
