"""The process benchmark 6 starts: ``python -m tests.bench.memory_child MODE BODY_FILE``.

Modes (each in a fresh interpreter, so peak RSS belongs to one scenario):

- ``model``: read the initial sync body, ``parse_sync`` + ``apply_sync_changes``, the
  counts of every room; then drop the decoded JSON.
- ``traced``: the same under ``tracemalloc``: the peak of Python allocations while
  translating, and what the model keeps afterwards.
- ``tui``: the real ``ReadmarkApp`` (headless, 160x50) on ``MatrixService`` with no
  cache, the body fed through the real sync loop (translation, cache write, panes
  built) until the rooms pane lists every room: the first start of a big account.

Prints one JSON line: RSS figures from ``/proc/self/status`` (``VmRSS`` now,
``VmHWM`` the peak) in MB, at each step.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import sys
import tempfile
import tracemalloc


def status_mb() -> dict[str, float]:
    figures = {}
    with open("/proc/self/status", encoding="utf-8") as status:
        for line in status:
            if line.startswith(("VmRSS", "VmHWM")):
                name, value = line.split(":")
                figures[name] = int(value.split()[0]) / 1024
    return figures


def model(body: bytes, report: dict) -> None:
    from app.matrix.translate import apply_sync_changes, parse_sync
    from app.model.account import AccountState
    from app.model.unread import room_unread
    from tests.bench.synthetic import ME

    report["before"] = status_mb()
    account, _ = apply_sync_changes(AccountState(ME), parse_sync(body))
    for room in account.rooms.values():
        room_unread(room)
    gc.collect()
    report["loaded"] = status_mb()
    report["rooms"] = len(account.rooms)


def traced(body: bytes, report: dict) -> None:
    from app.matrix.translate import apply_sync_changes, parse_sync
    from app.model.account import AccountState
    from app.model.unread import room_unread
    from tests.bench.synthetic import ME

    tracemalloc.start()
    account, _ = apply_sync_changes(AccountState(ME), parse_sync(body))
    for room in account.rooms.values():
        room_unread(room)
    gc.collect()
    current, peak = tracemalloc.get_traced_memory()
    report["traced_peak_mb"] = peak / 2**20
    report["traced_retained_mb"] = current / 2**20
    tracemalloc.stop()
    report["rooms"] = len(account.rooms)


def tui(held: list[bytes], report: dict) -> None:
    from app.matrix.service import MatrixService
    from app.ui.app import ReadmarkApp
    from app.config import Settings
    from tests.bench.fixtures import SilentClient
    from tests.bench.keys import main_screen_ready

    rooms = int(os.environ["READMARK_BENCH_ROOMS"])

    async def run() -> None:
        with tempfile.TemporaryDirectory(prefix="readmark-bench-") as home:
            for name in ("CONFIG", "DATA", "STATE", "CACHE"):
                os.environ[f"XDG_{name}_HOME"] = os.path.join(home, name.lower())
            client = SilentClient()
            service = MatrixService(client)  # type: ignore[arg-type]
            app = ReadmarkApp(service, Settings())
            async with app.run_test(size=(160, 50)) as pilot:
                await pilot.pause()
                report["before"] = status_mb()
                # The sync loop gets the only reference, as it gets an HTTP body: it is
                # freed once translated, not held for the whole run.
                client.feed(held.pop())
                await main_screen_ready(pilot, rooms)
                await pilot.pause()
                gc.collect()
                report["loaded"] = status_mb()
            await service.close()

    asyncio.run(run())


def main() -> None:
    mode, path = sys.argv[1], sys.argv[2]
    report: dict = {"mode": mode, "start": status_mb()}
    with open(path, "rb") as source:
        body = source.read()
    report["body_mb"] = len(body) / 2**20
    if mode == "tui":
        held = [body]
        del body
        tui(held, report)
    else:
        {"model": model, "traced": traced}[mode](body, report)
    report["end"] = status_mb()
    print(json.dumps(report))


if __name__ == "__main__":
    main()
