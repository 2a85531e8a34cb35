"""Benchmark 7: encrypted rooms (``tests/bench/encrypted_account.py``: real Megolm
ciphertext made by vodozemac outbound sessions, one per room).

1. Initial sync of the 1,000-room account with every room encrypted, against the same
   account in plain rooms and a bare vodozemac decrypt loop of exactly the events
   readmark decrypted, all interleaved sample by sample. Subject and plain figure are
   ``ReadStateCore.receive_sync(body, decrypt)`` on a fresh core (what the service runs
   on an initial sync), ``decrypt`` the app's own (``encryption.decryptor`` on a
   ``CryptoDevice`` on a temporary store, the rooms' keys imported as a key export
   would bring them). The bare loop is ``InboundGroupSession.decrypt(MegolmMessage.
   from_base64(ciphertext))`` on vodozemac's own sessions: no lookup, no checks, no
   JSON. Target: (encrypted - plain) / bare <= 1.25.
2. What was decrypted against what the sync holds: the decryptions counted in the
   decryptor equal ``app.model.decryption.wanted`` of the undecrypted account, and a
   thread looked at (``ReadStateCore.reveal``) decrypts the rest of it on demand.
3. Cold start from a cache of the encrypted rooms (``coldstart``'s child under a
   pseudo-terminal, with a crypto store holding the keys): decryptions counted at the
   first frame and at the painted rooms pane (must be 0), and when the store opened and
   the first decryption ran, after the paint; against the same start on plain rooms.
4. Key to frame (``keys``' method) on the encrypted account: each key's median, its
   ratio to the unbound key's (the method's floor in the same session), and the
   decryptions it caused (a thread shown is decrypted then); the plain account's run
   beside it.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
from pathlib import Path
from typing import Any

from app.matrix.core import ReadStateCore
from app.matrix.crypto import CryptoDevice
from app.matrix.encryption import decryptor
from app.model import decryption
from app.model.events import is_undecrypted
from app.model.ids import MAIN
from tests.bench import coldstart, keys
from tests.bench.encrypted_account import EncryptedAccount, encrypted_account, encrypted_events, import_into
from tests.bench.fixtures import DEVICE, in_profile
from tests.bench.harness import Report, Table, Target, interleaved
from tests.bench.synthetic import ME, Shape, encode

NAME = "encrypted"
TITLE = "encrypted rooms: initial sync against plain rooms and a bare vodozemac decrypt, cold start, keys"

FULL = {"rooms": 1_000, "sync_repeat": 5, "cold_repeat": 5, "keys": (1_000, 30)}
QUICK = {"rooms": 20, "sync_repeat": 2, "cold_repeat": 1, "keys": (20, 3)}
TARGET_RATIO = 1.25
KEYS_MS = 16.0
NAVIGATION = ("j (rooms pane: next room)", "j (threads pane: next thread)", "n (next unread thread, across rooms)")


def _device(directory: Path, account: EncryptedAccount) -> CryptoDevice:
    device = CryptoDevice.open(ME, DEVICE, directory)
    import_into(device, account)
    return device


def sync_figures(account: EncryptedAccount, device: CryptoDevice, repeat: int) -> tuple[list[Table], dict[str, Any]]:
    """Parts 1 and 2."""
    import vodozemac

    plain_body, encrypted_body = encode(account.plain), encode(account.encrypted)
    decrypt = decryptor(device)

    # What readmark decrypts (counted in the decryptor), and what it should.
    seen: list[dict[str, Any]] = []

    def counting(room_id: str, event_id: str, sender: str, ts: int, content: Any) -> Any:
        seen.append(dict(content))
        return decrypt(room_id, event_id, sender, ts, content)

    core = ReadStateCore(ME)
    core.receive_sync(encrypted_body, counting)
    failed = sum(1 for room in core.account.rooms.values() for e in room.events if e.undecryptable)
    undecrypted = ReadStateCore(ME)
    undecrypted.receive_sync(encrypted_body)
    kinds = {"unread": 0, "thread root": 0, "edit": 0}
    wanted = 0
    for room in undecrypted.account.rooms.values():
        for position in decryption.wanted(room):
            event = room.events[position]
            wanted += 1
            if event.event_id in room.thread_positions:
                kinds["thread root"] += 1
            elif event.rel_type == "m.replace":
                kinds["edit"] += 1
            else:
                kinds["unread"] += 1
    present = encrypted_events(account.encrypted)
    threads = latest_decrypted = 0
    for room in core.account.rooms.values():
        for thread_id in room.thread_positions:
            latest = room.latest_event(thread_id)
            if latest is None or latest.ciphertext is None:
                continue
            threads += 1
            latest_decrypted += not is_undecrypted(latest)
    # On demand: the thread with the most events still encrypted, looked at.
    best = max(
        ((room.room_id, t, len(decryption.in_thread(room, t))) for room in core.account.rooms.values() for t in room.thread_positions if t != MAIN),
        key=lambda item: item[2],
        default=None,
    )
    revealed = 0
    if best is not None and best[2]:
        before = len(seen)
        core.reveal(best[0], best[1], counting)
        revealed = len(seen) - before

    pairs = [(account.inbound[c["session_id"]], c["ciphertext"]) for c in seen[: len(seen) - revealed]]

    def bare() -> None:
        for session, ciphertext in pairs:
            session.decrypt(vodozemac.MegolmMessage.from_base64(ciphertext))

    cases = {
        "loads plain": lambda: json.loads(plain_body),
        "loads encrypted": lambda: json.loads(encrypted_body),
        "plain": lambda: ReadStateCore(ME).receive_sync(plain_body, decrypt),
        "encrypted": lambda: ReadStateCore(ME).receive_sync(encrypted_body, decrypt),
        "bare": bare,
    }
    stats = interleaved(cases, repeat=repeat, settle=frozenset(cases))
    med = {name: value.median_ms for name, value in stats.items()}
    extra = med["encrypted"] - med["plain"]
    ratio = extra / med["bare"] if med["bare"] else float("inf")
    extra_loads = med["loads encrypted"] - med["loads plain"]
    rooms = len(account.encrypted["rooms"]["join"])

    timing = Table(
        f"Initial sync of {rooms:,} rooms, median ms (min-max) of {repeat}, interleaved; GC on, young collections "
        "timed (ReadStateCore.receive_sync with the app's decryptor on a CryptoDevice)",
        ["case", "body MB", "median ms", "min-max"],
    )
    for name, label, size in (
        ("loads plain", "json.loads, plain rooms", len(plain_body)),
        ("loads encrypted", "json.loads, encrypted rooms", len(encrypted_body)),
        ("plain", "receive_sync, plain rooms", len(plain_body)),
        ("encrypted", "receive_sync, encrypted rooms (decrypting what is wanted)", len(encrypted_body)),
        ("bare", f"bare vodozemac decrypt of the {len(pairs):,} events readmark decrypted", None),
    ):
        value = stats[name]
        timing.add(label, f"{size / 1e6:.1f}" if size else "", value.median_ms, f"{value.min_ms:.0f}-{value.max_ms:.0f}")
    timing.add("(encrypted - plain) / bare", "", f"{ratio:.2f}x", "")
    timing.add("(encrypted - plain - json.loads' extra) / bare", "", f"{(extra - extra_loads) / med['bare']:.2f}x", "")

    counts = Table(
        "What was decrypted (counted in the decryptor) against what the sync holds",
        ["measure", "events"],
    )
    counts.add("encrypted events in the sync (with ciphertext)", present)
    counts.add("decrypted during the sync", len(pairs))
    counts.add("wanted (app.model.decryption.wanted of the undecrypted account)", wanted)
    for kind, number in kinds.items():
        counts.add(f"  of them: {kind}", number)
    counts.add("failed to decrypt", failed)
    counts.add("threads (and main timelines) whose latest event is encrypted", threads)
    counts.add("  of them with the latest event decrypted by the sync", latest_decrypted)
    counts.add("one thread looked at afterwards (reveal): decrypted then", revealed)
    figures = {
        "sync": {name: value.median_ms for name, value in stats.items()},
        "ratio": ratio,
        "ratio_without_loads": (extra - extra_loads) / med["bare"],
        "present": present,
        "decrypted": len(pairs),
        "wanted": wanted,
        "failed": failed,
        "revealed": revealed,
        "latest_threads": threads,
        "latest_decrypted": latest_decrypted,
        "bare_us_per_event": med["bare"] * 1000 / max(1, len(pairs)),
    }
    return [timing, counts], figures


def _wanted_count(account: EncryptedAccount) -> int:
    core = ReadStateCore(ME)
    core.receive_sync(encode(account.encrypted))
    return sum(len(decryption.wanted(room)) for room in core.account.rooms.values())


def cold_figures(account: EncryptedAccount, repeat: int) -> tuple[Table, dict[str, Any]]:
    """Part 3: the encrypted cache's start beside the plain cache's, alternately."""
    wanted = _wanted_count(account)

    def keys_in_store(xdg: dict[str, str]) -> None:
        with in_profile(xdg):
            device = CryptoDevice.open(ME, DEVICE)
            try:
                import_into(device, account)
            finally:
                device.close()

    runs: dict[str, list[dict]] = {"plain": [], "encrypted": []}
    rooms = len(account.plain["rooms"]["join"])
    with coldstart.profile(rooms, account.plain) as (plain_env, _), coldstart.profile(
        rooms, account.encrypted, keys_in_store
    ) as (encrypted_env, expected):
        encrypted_env = dict(encrypted_env, READMARK_BENCH_DECRYPTS=str(wanted))
        envs = {"plain": plain_env, "encrypted": encrypted_env}
        for kind in runs:  # untimed: file and bytecode caches
            coldstart.start_once("readmark", envs[kind])
        for _ in range(repeat):
            for kind in runs:
                runs[kind].append(coldstart.start_once("readmark", envs[kind]))
    table = Table(
        f"Cold start from the cache of {rooms:,} rooms, ms since process start (median of {repeat}); decryptions "
        "counted in CryptoDevice.decrypt",
        ["cache", "first frame", "rooms pane painted", "rows checked / wrong", "decrypted at first frame",
         "decrypted at paint", "store opened", "first decryption", "last decryption", "decrypted in all"],
    )
    figures: dict[str, Any] = {"wanted": wanted}
    for kind, reports in runs.items():
        painted = statistics.median(coldstart.ms(r, "painted_ns") for r in reports)
        row: list[object] = [
            f"{kind} rooms",
            statistics.median(coldstart.ms(r, "first_frame_ns") for r in reports),
            painted,
            f"{reports[-1]['rows_checked']} / {reports[-1]['rows_wrong']}",
        ]
        figures[f"{kind}_painted_ms"] = painted
        figures[f"{kind}_rows_wrong"] = sum(r["rows_wrong"] for r in reports)
        figures[f"{kind}_rows_checked"] = reports[-1]["rows_checked"]
        if kind == "encrypted":
            def since(r: dict, key: str) -> float | None:
                return coldstart.ms(r, key) if r.get(key) else None

            firsts = [since(r, "first_decrypt_ns") for r in reports]
            figures.update(
                decrypts_at_first_frame=max(r["decrypts_at_first_frame"] for r in reports),
                decrypts_at_paint=max(r["decrypts_at_paint"] for r in reports),
                decrypts_total=min(r["decrypts_total"] for r in reports),
                first_decrypt_after_paint=all(
                    r.get("first_decrypt_ns") is not None and r["first_decrypt_ns"] > r["painted_ns"] for r in reports
                ),
            )
            row += [
                figures["decrypts_at_first_frame"],
                figures["decrypts_at_paint"],
                statistics.median(since(r, "crypto_opened_ns") or 0.0 for r in reports),
                statistics.median(f or 0.0 for f in firsts),
                statistics.median(since(r, "last_decrypt_ns") or 0.0 for r in reports),
                f"{figures['decrypts_total']:,} (wanted {wanted:,})",
            ]
        else:
            row += ["", "", "", "", "", ""]
        table.add(*row)
    figures["expected_rooms"] = len(expected)
    return table, figures


def keys_figures(account: EncryptedAccount, rooms: int, samples: int) -> tuple[Table, dict[str, Any]]:
    """Part 4: the keys benchmark's inputs on the plain and the encrypted account."""
    plain = asyncio.run(keys.measure(rooms, samples))
    encrypted = asyncio.run(keys.measure(rooms, samples, encrypted=account))
    floor_label = "(unbound key: the method's floor)"
    table = Table(
        f"Key (or sync) to frame, median ms (p90): {encrypted['rooms']:,} rooms, {encrypted['threads']:,} threads, "
        f"n={samples}; ratio to the unbound key of the same session",
        ["input", "plain rooms", "ratio", "encrypted rooms", "ratio", "decrypted (all samples)"],
    )
    figures: dict[str, Any] = {}
    p_floor = plain["stats"][floor_label].median_ms  # type: ignore[index]
    e_floor = encrypted["stats"][floor_label].median_ms  # type: ignore[index]
    for label, stats in encrypted["stats"].items():  # type: ignore[union-attr]
        other = plain["stats"].get(label)  # type: ignore[union-attr]
        table.add(
            label,
            f"{other.median_ms:.2f} ({other.p90_ms:.1f})" if other else "(no such input)",
            f"{other.median_ms / p_floor:.2f}x" if other else "",
            f"{stats.median_ms:.2f} ({stats.p90_ms:.1f})",
            f"{stats.median_ms / e_floor:.2f}x",
            encrypted["decrypted"][label],  # type: ignore[index]
        )
        figures[label] = {
            "plain_ms": other.median_ms if other else 0.0,
            "encrypted_ms": stats.median_ms,
            "encrypted_p90_ms": stats.p90_ms,
            "ratio_to_floor": stats.median_ms / e_floor,
            "decrypted": encrypted["decrypted"][label],  # type: ignore[index]
        }
    figures["requests_sent"] = encrypted["requests_sent"]
    return table, figures


def run(quick: bool = False) -> Report:
    sizes = QUICK if quick else FULL
    report = Report(NAME, TITLE)
    account = encrypted_account(Shape(sizes["rooms"]))
    with tempfile.TemporaryDirectory(prefix="readmark-bench-crypto-") as home:
        device = _device(Path(home) / "store", account)
        try:
            tables, figures = sync_figures(account, device, sizes["sync_repeat"])
        finally:
            device.close()
    report.tables += tables
    report.figures["sync"] = figures
    cold, cold_fig = cold_figures(account, sizes["cold_repeat"])
    report.tables.append(cold)
    report.figures["coldstart"] = cold_fig
    key_rooms, key_samples = sizes["keys"]
    if key_rooms != sizes["rooms"]:
        account = encrypted_account(Shape(key_rooms))
    key_table, key_fig = keys_figures(account, key_rooms, key_samples)
    report.tables.append(key_table)
    report.figures["keys"] = key_fig

    report.notes.append(
        f"bare vodozemac decrypt: {figures['bare_us_per_event']:.0f} us per event on this machine; the "
        f"encrypted body is {len(encode(account.encrypted)) / max(1, len(encode(account.plain))):.2f}x the plain "
        "one's bytes (base64 ciphertext), which json.loads pays before anything is decrypted"
    )
    report.notes.append(
        "the bench's CryptoDevice knows no other device: decrypt's check of the sender key's owner "
        "(_device_owner) walks every known device per event, which an account that knows many devices pays on top"
    )
    if not quick:
        report.targets.append(
            Target(
                f"initial sync of {sizes['rooms']:,} encrypted rooms at most the plain figure + {TARGET_RATIO}x a bare "
                "vodozemac decrypt of the events decrypted",
                f"(encrypted - plain) / bare = {figures['ratio']:.2f}x "
                f"({figures['sync']['encrypted']:.0f} - {figures['sync']['plain']:.0f} ms against "
                f"{figures['sync']['bare']:.0f} ms)",
                figures["ratio"] <= TARGET_RATIO,
            )
        )
        report.targets.append(
            Target(
                "only what is wanted is decrypted, the rest on demand",
                f"{figures['decrypted']:,} decrypted = {figures['wanted']:,} wanted, of {figures['present']:,} encrypted "
                f"events; a thread looked at decrypted {figures['revealed']} more",
                figures["decrypted"] == figures["wanted"] and figures["revealed"] > 0,
            )
        )
        report.targets.append(
            Target(
                "cold start paints before any decryption",
                f"{cold_fig['decrypts_at_paint']} decryptions at the painted rooms pane; first decryption after it in "
                f"every run: {'yes' if cold_fig['first_decrypt_after_paint'] else 'no'}; "
                f"{cold_fig['decrypts_total']:,} of {cold_fig['wanted']:,} wanted decrypted after",
                cold_fig["decrypts_at_paint"] == 0 and cold_fig["first_decrypt_after_paint"],
            )
        )
        for label in NAVIGATION:
            median = key_fig[label]["encrypted_ms"]
            report.targets.append(
                Target(f"{label} with encrypted rooms: median under {KEYS_MS:.0f} ms", f"{median:.1f} ms", median < KEYS_MS)
            )
    return report
