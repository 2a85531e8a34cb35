"""Benchmark 1: an initial sync, from HTTP body bytes to an updated ``AccountState``.

Subject: ``translate.parse_sync`` then ``translate.apply_sync_changes`` on an empty
account (what ``MatrixService`` does with an initial sync). Baseline: ``json.loads`` of
the same bytes, interleaved with the subject sample by sample. Also shown: the same
with the counts of every room computed (what the first paint of the rooms pane needs),
each with the garbage collector enabled (what the app runs with) and disabled for the
call, and, in the full run, nio's ``SyncResponse.from_dict`` at 1,000 rooms: the cost
issue 6 set out to beat.
"""

from __future__ import annotations

import json

from app.matrix.translate import apply_sync_changes, parse_sync
from app.model.account import AccountState
from app.model.receipts import Receipt, ReceiptKey, ReceiptType
from app.model.room import add_pending
from app.model.unread import room_unread
from tests.bench.harness import Report, Table, Target, interleaved
from tests.bench.synthetic import ME, Shape, digest, encode, initial_sync, initial_sync_bytes

NAME = "initial_sync"
TITLE = "initial sync: body bytes to read state, against json.loads"

FULL_SIZES = ((100, 15), (1_000, 7), (5_000, 3))
QUICK_SIZES = ((20, 2), (60, 2))
TARGET_ROOMS = 1_000
# Issue 16 (issue 6 asked for 3x).
TARGET_RATIO = 1.5


def process(body: bytes) -> AccountState:
    account, _ = apply_sync_changes(AccountState(ME), parse_sync(body))
    return account


def process_and_count(body: bytes) -> AccountState:
    account = process(body)
    for room in account.rooms.values():
        room_unread(room)
    return account


def describe(body: bytes) -> dict[str, int]:
    account = process(body)
    return {
        "joined": sum(1 for r in account.rooms.values() if r.membership == "join"),
        "invites": sum(1 for r in account.rooms.values() if r.membership == "invite"),
        "events": sum(len(r.events) for r in account.rooms.values()),
        "threads": sum(len(r.thread_positions) - 1 for r in account.rooms.values()),
        "receipts": sum(len(r.receipts) for r in account.rooms.values()),
    }


def run(quick: bool = False) -> Report:
    report = Report(NAME, TITLE)
    shapes = Table(
        "Synthetic accounts (deterministic; digest = sha256 of the body)",
        ["rooms", "body MB", "digest", "invites", "events", "threads", "receipts"],
    )
    timings = Table(
        "Median ms (min-max) of n samples, interleaved with the baseline; ratio = subject / json.loads (same GC "
        "mode). GC on: the call and the young collections it leaves (gc.collect(1), timed); GC off: the call alone",
        ["rooms", "GC", "json.loads", "parse+apply", "ratio", "+ counts", "ratio", "parse+apply ms/room"],
    )
    per_room: dict[int, float] = {}
    for rooms, repeat in QUICK_SIZES if quick else FULL_SIZES:
        body = initial_sync_bytes(Shape(rooms))
        facts = describe(body)
        shapes.add(rooms, len(body) / 1e6, digest(body), facts["invites"], facts["events"], facts["threads"], facts["receipts"])
        cases = {
            "loads": lambda body=body: json.loads(body),
            "apply": lambda body=body: process(body),
            "count": lambda body=body: process_and_count(body),
            "loads/off": lambda body=body: json.loads(body),
            "apply/off": lambda body=body: process(body),
            "count/off": lambda body=body: process_and_count(body),
        }
        stats = interleaved(
            cases,
            repeat=repeat,
            gc_off=frozenset({"loads/off", "apply/off", "count/off"}),
            settle=frozenset({"loads", "apply", "count"}),
        )
        for mode, suffix in (("on", ""), ("off", "/off")):
            loads, apply, count = (stats[k + suffix] for k in ("loads", "apply", "count"))
            ratio = apply.median_ms / loads.median_ms
            timings.add(
                rooms,
                mode,
                _fmt(loads),
                _fmt(apply),
                f"{ratio:.2f}x",
                _fmt(count),
                f"{count.median_ms / loads.median_ms:.2f}x",
                f"{apply.median_ms / rooms:.3f}",
            )
            report.figures[f"{rooms}/{mode}"] = {
                "loads_ms": loads.median_ms,
                "apply_ms": apply.median_ms,
                "count_ms": count.median_ms,
                "ratio": ratio,
                "body_bytes": len(body),
            }
        per_room[rooms] = stats["apply"].median_ms / rooms
        del body, cases, stats
    report.tables += [shapes, timings]

    report.tables.append(big_room_receipts(quick))
    if not quick:
        report.tables.append(_nio_baseline())
        at = report.figures.get(f"{TARGET_ROOMS}/on")
        if at is not None:
            report.targets.append(
                Target(
                    f"at most {TARGET_RATIO:g}x json.loads at {TARGET_ROOMS:,} rooms (GC on)",
                    f"{at['ratio']:.2f}x",
                    at["ratio"] <= TARGET_RATIO,
                )
            )
        low, high = min(per_room), max(per_room)
        growth = per_room[high] / per_room[low]
        loads_growth = (report.figures[f"{high}/on"]["loads_ms"] / high) / (report.figures[f"{low}/on"]["loads_ms"] / low)
        report.targets.append(
            Target(
                f"cost linear in rooms (ms per room at {high:,} vs {low:,}, no worse than json.loads' own growth x1.25)",
                f"x{growth:.2f} (json.loads: x{loads_growth:.2f})",
                growth <= max(1.25, loads_growth * 1.25),
            )
        )
    report.figures["per_room_ms"] = per_room
    return report


def big_room_sync(threads: int, readers: int) -> tuple[AccountState, bytes]:
    """One big room already loaded, with one of my receipts pending (a press not yet
    confirmed), and a sync carrying my threaded receipt on each of ``threads`` threads
    and ``readers`` other members' receipts: the shape of an initial sync of a big
    room after a restart with a receipt still queued."""
    sync = initial_sync(Shape(1, seed="big-room"))
    room_id, entry = next(iter(sync["rooms"]["join"].items()))
    account, _ = apply_sync_changes(AccountState(ME), sync)
    room = account.rooms[room_id]
    loaded = [event.event_id for event in room.events]
    room = add_pending(room, ReceiptKey(ME, ReceiptType.PRIVATE, "main"), Receipt(loaded[-1]))
    account = account.with_room(room)
    content: dict = {}
    for t in range(threads):
        # My receipt in each thread, on an event the window does not hold.
        content.setdefault(f"$read-in-thread-{t}", {}).setdefault("m.read.private", {})[ME] = {
            "thread_id": f"$thread-root-{t}",
            "ts": 1,
        }
    for r in range(readers):
        content.setdefault(loaded[r % len(loaded)], {}).setdefault("m.read", {})[f"@reader{r}:example.org"] = {"ts": 1}
    body = {"next_batch": "s-big", "rooms": {"join": {room_id: {"ephemeral": {"events": [{"type": "m.receipt", "content": content}]}}}}}
    return account, encode(body)


def big_room_receipts(quick: bool) -> Table:
    """Receipts of a big room applied in one sync, against json.loads of its body."""
    table = Table(
        "A big room's receipts in one sync, with one of my receipts pending (median ms)",
        ["my threaded receipts", "others' receipts", "json.loads", "parse+apply", "ratio"],
    )
    for threads, readers in ((50, 25),) if quick else ((500, 250), (2_000, 1_000), (8_000, 4_000)):
        account, body = big_room_sync(threads, readers)
        stats = interleaved(
            {
                "loads": lambda body=body: json.loads(body),
                "apply": lambda: apply_sync_changes(account, parse_sync(body)),
            },
            repeat=3 if quick else 7,
        )
        loads, apply = stats["loads"].median_ms, stats["apply"].median_ms
        table.add(threads, readers, loads, apply, f"{apply / loads:.1f}x")
    return table


def _nio_baseline() -> Table:
    """nio's own parse at 1,000 rooms, for reference (about 2 s in MATRIX_NOTES)."""
    import logging
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import nio

    # nio logs every event that fails its schema (the filtered bodies drop fields its
    # schemas require, such as an image's url): thousands of lines, none of interest here.
    nio_log = logging.getLogger("nio")
    level = nio_log.level
    nio_log.setLevel(logging.CRITICAL)
    body = initial_sync_bytes(Shape(TARGET_ROOMS))
    try:
        stats = interleaved(
            {
                "loads": lambda body=body: json.loads(body),
                "nio": lambda: nio.SyncResponse.from_dict(json.loads(body)),
                "apply": lambda body=body: process(body),
            },
            repeat=3,
            warmup=0,
        )
    finally:
        nio_log.setLevel(level)
    table = Table(
        f"For reference: nio SyncResponse.from_dict(json.loads(body)) at {TARGET_ROOMS:,} rooms (GC on, n=3)",
        ["decoder", "median ms", "vs json.loads"],
    )
    for label, key in (("json.loads", "loads"), ("nio SyncResponse.from_dict", "nio"), ("readmark parse+apply", "apply")):
        table.add(label, stats[key].median_ms, f"{stats[key].median_ms / stats['loads'].median_ms:.2f}x")
    return table


def _fmt(stats) -> str:  # noqa: ANN001 - Stats
    return f"{stats.median_ms:.1f} ({stats.min_ms:.1f}-{stats.max_ms:.1f})"
