"""CI smoke of the benchmark suite: every benchmark runs at tiny sizes
(``--quick``) and reports numbers. No time is asserted: on a shared CI machine a time
means nothing. Two behaviours are asserted, because they are not times: a burst of
``r`` presses sends at most two requests when the round trip outlasts the burst (the
receipt queue coalesces), and the cold start paints counts that match the account;
with encrypted rooms, what is decrypted is what the model wants, a thread looked at is
decrypted then, and the cold start paints before any decryption.
"""

from __future__ import annotations

import importlib
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from tests.bench import BENCHMARKS
from tests.bench.harness import Report

REPO = Path(__file__).resolve().parents[2]


def _numbers(value: object):
    if isinstance(value, dict):
        for item in value.values():
            yield from _numbers(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _numbers(item)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield value


# The burst's request count depends on its timing: it runs alone (the serial pass).
@pytest.mark.parametrize(
    "name", [pytest.param(name, marks=pytest.mark.serial) if name == "burst" else name for name in BENCHMARKS]
)
def test_benchmark_runs_and_reports_numbers(name: str) -> None:
    module = importlib.import_module(f"tests.bench.{name}")
    report = module.run(quick=True)
    assert isinstance(report, Report) and report.name == name
    assert report.tables and all(table.rows for table in report.tables)
    numbers = list(_numbers(report.figures))
    assert numbers and all(math.isfinite(n) and n >= 0 for n in numbers)
    assert any(n > 0 for n in numbers)
    assert report.text() and report.markdown()

    if name == "burst":
        rows = report.figures["rows"]
        assert rows
        for row in rows:
            # The round trip (500 ms) outlasts the burst (160 ms): one request in flight,
            # every later press coalesced into one more, aimed at the furthest event.
            assert row["requests"] <= 2, row
            assert row["last_is_furthest"], row
        assert [r["requests"] for r in rows if r["scenario"].startswith("same target")] == [1]
    elif name == "coldstart":
        assert report.figures["rows_checked"] > 0
        assert report.figures["rows_wrong"] == 0, report.figures["row_examples"]
    elif name == "keys":
        assert report.figures["requests_sent"] > 0
        assert report.figures["r_counts_dropped"] > 0
    elif name == "encrypted":
        sync = report.figures["sync"]
        # Exactly what the model wants is decrypted, nothing fails, and more of the sync
        # stays encrypted until it is looked at.
        assert 0 < sync["decrypted"] == sync["wanted"] < sync["present"], sync
        assert sync["failed"] == 0 and sync["revealed"] > 0, sync
        cold = report.figures["coldstart"]
        assert cold["decrypts_at_first_frame"] == 0 and cold["decrypts_at_paint"] == 0, cold
        assert cold["first_decrypt_after_paint"] and cold["decrypts_total"] == cold["wanted"] > 0, cold
        assert cold["encrypted_rows_wrong"] == 0 and cold["encrypted_rows_checked"] > 0, cold
        keys = report.figures["keys"]
        assert keys["thread shown: decrypted on demand (service.open_thread to frame)"]["decrypted"] > 0, keys
    elif name == "scale":
        # Both sizes' painted rows are checked (the bigger one shows its rooms in
        # groups), and the keys sent what they should.
        for figures in report.figures["coldstart"].values():
            assert figures["rows_checked"] > 0 and figures["rows_wrong"] == 0, figures
        assert all(value > 0 for key, value in report.figures["keys"].items() if key.endswith("/requests_sent"))
    elif name == "spaces":
        # The grouped runs showed groups and the flat ones none (a comparison of two
        # flat panes would fail the run), and A painted the dry run's dialog of the
        # rooms with unread each time, sending nothing (escape closed it).
        headers = report.figures["group_headers"]
        assert headers["grouped"] > 0 and headers["flat"] == 0, headers
        bulk = report.figures["bulk_key"]
        assert 0 < bulk["rooms_cleared"] <= bulk["rooms"] and bulk["requests_sent"] == 0, bulk
        assert bulk["key_ms"] > 0 and bulk["floor_ms"] > 0, bulk
    elif name == "status":
        # Every timed status run printed the account's rooms with the right counts, and it
        # asked the fake homeserver for nothing the fixture does not serve.
        assert report.figures["rooms_wrong"] == 0 and report.figures["unknown_requests"] == [], report.figures
        sizes = [value for value in report.figures.values() if isinstance(value, dict)]
        assert sizes and all(f["rooms_checked"] == f["expected_rooms"] == f["rooms"] > 0 for f in sizes), sizes
    elif name == "incremental":
        timed = [value for key, value in report.figures.items() if isinstance(value, dict)]
        assert timed and all(value["n"] > 0 for value in timed)
        calls = [value for key, value in report.figures.items() if key.endswith("/calls")]
        assert calls and all(value > 0 for value in calls)


def test_command_line_writes_json_and_markdown(tmp_path: Path) -> None:
    figures, markdown = tmp_path / "bench.json", tmp_path / "bench.md"
    subprocess.run(
        [sys.executable, "-m", "tests.bench", "--quick", "--only", "incremental", "--json", str(figures), "--markdown", str(markdown)],
        cwd=REPO,
        check=True,
        capture_output=True,
        timeout=120,
    )
    written = json.loads(figures.read_text(encoding="utf-8"))
    assert written["quick"] is True and "incremental" in written["reports"]
    assert "nproc" in written["machine"]
    assert "### incremental" in markdown.read_text(encoding="utf-8")
