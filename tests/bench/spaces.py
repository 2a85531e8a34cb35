"""Benchmark 8 (issue 14): the rooms pane grouped under spaces, against the same account
as one flat list, and a bulk read's dry run.

1. Key to frame (the keys benchmark's method, real ``MatrixService``) on 5,000 rooms in
   200 spaces (20 top-level spaces of 9 sub-spaces each; every room in one space, one
   in twenty in a second; the synthetic account's DMs), grouped, and the same account
   with ``[display] group_rooms = false``: ``j`` in the rooms pane, ``n``, ``r``. Runs
   alternate flat and grouped; each key's ratio is grouped / flat of the
   medians of the rounds. Target: at most 1.2 each.
2. The dry run of reading all of 1,000 rooms (``ReadStateCore.bulk_plan``, each room
   planned in its own mode with what it clears): target within one frame (16.7 ms).
"""

from __future__ import annotations

import asyncio
import statistics
import time

from app.config import Settings
from app.matrix.core import ReadStateCore
from app.matrix.translate import apply_sync_changes
from app.model.account import AccountState
from tests.bench.harness import Report, Table, Target
from tests.bench.keys import measure
from tests.bench.synthetic import ME, SERVER, Shape, initial_sync

NAME = "spaces"
TITLE = "rooms grouped under 200 spaces vs one flat list (key to frame), and a bulk read's dry run"

FULL = (5_000, 200, 20, 40)
QUICK = (60, 6, 2, 3)
RATIO = 1.2
FRAME_MS = 1000 / 60
KEYS = ("j (rooms pane: next room)", "n (next unread thread, across rooms)", "r (threaded receipt, optimistic count)")


def with_spaces(sync: dict, spaces: int, top: int) -> dict:
    """``sync`` with ``spaces`` space-rooms joined: ``top`` top-level ones, each holding
    an equal share of the rest as sub-spaces; the rooms dealt round the spaces, one in
    twenty into a second one too."""
    join = sync["rooms"]["join"]
    room_ids = [room_id for room_id in join]
    space_ids = [f"!space{i:04d}:{SERVER}" for i in range(spaces)]
    children: dict[str, list[str]] = {space_id: [] for space_id in space_ids}
    subs = space_ids[top:]
    for i, sub in enumerate(subs):
        children[space_ids[i % top]].append(sub)
    for i, room_id in enumerate(room_ids):
        children[space_ids[i % spaces]].append(room_id)
        if i % 20 == 0:
            children[space_ids[(i * 7 + 3) % spaces]].append(room_id)
    for n, space_id in enumerate(space_ids):
        state = [
            {"type": "m.room.create", "state_key": "", "sender": ME, "origin_server_ts": 1, "event_id": f"$c{n}",
             "content": {"type": "m.space", "room_version": "11"}},
            {"type": "m.room.name", "state_key": "", "sender": ME, "origin_server_ts": 2, "event_id": f"$n{n}",
             "content": {"name": f"Space {n:03d}"}},
        ]
        for k, child in enumerate(children[space_id]):
            state.append({"type": "m.space.child", "state_key": child, "sender": ME, "origin_server_ts": 10 + k,
                          "event_id": f"$s{n}_{k}", "content": {"via": [SERVER]}})
        join[space_id] = {"state": {"events": state}, "timeline": {"events": [], "limited": False},
                          "ephemeral": {"events": []}, "account_data": {"events": []},
                          "unread_notifications": {}, "summary": {"m.joined_member_count": 1}}
    return sync


def dry_run_ms(rooms: int, samples: int) -> tuple[float, int, int]:
    account, _ = apply_sync_changes(AccountState(ME), initial_sync(Shape(rooms)))
    core = ReadStateCore(ME)
    core.load(account, ())
    core.private_supported = True
    ids = [room_id for room_id, room in account.rooms.items() if room.membership == "join"]
    times = []
    plan = None
    for _ in range(samples):
        began = time.perf_counter()
        plan = core.bulk_plan("all rooms", ids)
        times.append((time.perf_counter() - began) * 1000)
    assert plan is not None
    return statistics.median(times), len(ids), len(plan.sending)


def run(quick: bool = False) -> Report:
    rooms, spaces, top, samples = QUICK if quick else FULL
    report = Report(NAME, TITLE)
    medians: dict[str, dict[str, list[float]]] = {"flat": {}, "grouped": {}}
    counted = {}
    for round_ in range(3):
        for mode in ("flat", "grouped"):
            sync = with_spaces(initial_sync(Shape(rooms)), spaces, top)
            outcome = asyncio.run(measure(rooms, samples, sync=sync, settings=Settings(group_rooms=mode == "grouped")))
            counted = {"rooms": outcome["rooms"], "threads": outcome["threads"]}
            for label in KEYS:
                medians[mode].setdefault(label, []).append(outcome["stats"][label].median_ms)  # type: ignore[index]
    table = Table(
        f"Key to frame, ms (median of each run; {counted['rooms']:,} rooms in {spaces} spaces, "
        f"{counted['threads']:,} threads)",
        ["key", "flat runs", "grouped runs", "grouped / flat"],
    )
    for label in KEYS:
        flat, grouped = statistics.median(medians["flat"][label]), statistics.median(medians["grouped"][label])
        ratio = grouped / flat if flat else float("inf")
        table.add(label, " / ".join(f"{v:.1f}" for v in medians["flat"][label]),
                  " / ".join(f"{v:.1f}" for v in medians["grouped"][label]), f"{ratio:.2f}x")
        report.figures[label] = {"flat_ms": flat, "grouped_ms": grouped, "ratio": ratio}
        if not quick:
            report.targets.append(Target(f"{label}: grouped at most {RATIO}x flat", f"{ratio:.2f}x", ratio <= RATIO))
    report.tables.append(table)
    dry_rooms = 60 if quick else 1_000
    median, listed, sending = dry_run_ms(dry_rooms, 5 if quick else 30)
    dry = Table("A bulk read's dry run (core.bulk_plan over every joined room)",
                ["rooms", "rooms with unread (receipts planned)", "median ms"])
    dry.add(listed, sending, median)
    report.tables.append(dry)
    report.figures["dry_run_ms"] = median
    if not quick:
        report.targets.append(Target(f"dry run of {listed:,} rooms within one frame ({FRAME_MS:.1f} ms)",
                                     f"{median:.1f} ms", median <= FRAME_MS))
    return report
