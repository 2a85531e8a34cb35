"""Benchmark 4: key to screen, in-process with Pilot, on a synthetic account of 1,000
rooms and about 10,000 threads served by the real ``MatrixService`` (cache loaded at
start, receipts planned, applied optimistically and queued durably with fsync; only
the transport is ``SilentClient``).

The measure, per keypress (and the same for a sync arriving):

1. ``t0``: the key event is handed to the app's driver, as Pilot does.
2. Every message pump (the app, the screen and every widget on it) is run until all
   their queues are empty, repeatedly, so that messages posted by handlers (a cursor
   move posts ``Highlighted``, which changes the selection, which rebinds three panes)
   are handled too.
3. The screen's update (``Screen._on_timer_update``, what Textual's 60 Hz update timer
   and ``pilot.pause()`` call) composes the frame and hands it to ``App._display``;
   steps 2 and 3 repeat while the frame left work behind (a scroll after refresh).
4. ``t1``: the last frame has been composed *and* turned into the terminal's escape
   sequences (``render_segments``; the headless driver skips that, so the probe does it).

``t1 - t0`` is the work a key costs from input to bytes for the terminal. It leaves
out Textual's frame clock: on a real terminal the update timer runs at most 60 times a
second, so a frame waits up to 16.7 ms more for its tick. A key whose work fits in one
frame therefore shows on the next tick. The floor of the method itself is measured
with a key bound to nothing.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from textual import events

from app.matrix.crypto import CryptoDevice
from app.matrix.service import MatrixService
from app.matrix.translate import apply_sync_changes
from app.model import decryption
from app.model.account import AccountState
from app.model.ids import MAIN
from app.model.unread import thread_unread
from app.ui.app import ReadmarkApp
from app.ui.widgets.room_list import GROUP_PREFIX
from app.config import Settings
from tests.bench.encrypted_account import EncryptedAccount, import_into
from tests.bench.fixtures import DEVICE, SilentClient, in_profile, write_profile
from tests.bench.harness import Report, Stats, Table, Target
from tests.bench.synthetic import ME, Shape, encode, incremental_sync, initial_sync

NAME = "keys"
TITLE = "key to screen with 1,000 rooms and 10,000 threads (Pilot, real MatrixService)"

FULL = (1_000, 40)
QUICK = (30, 3)
SIZE = (160, 50)
NAVIGATION_MS = 16.0
RECEIPT_MS = 50.0
FLOOR = "(unbound key: the method's floor)"
J_ROOMS = "j (rooms pane: next room)"
N_NEXT = "n (next unread thread, across rooms)"
R_READ = "r (threaded receipt, optimistic count)"
TAB = "tab (focus to the next pane)"
ENTER = "enter (rooms pane: open the room)"
# Issue 16 row 3: each key's median against the floor's median in the same run.
FLOOR_RATIOS = {J_ROOMS: 2.5, N_NEXT: 3.0, R_READ: 3.0, TAB: 3.0, ENTER: 3.0}


class CollectorWatch:
    """Times the garbage collector's full (generation 2) collections while active."""

    def __init__(self) -> None:
        self.durations: list[int] = []
        self._started = 0
        self.active = False

    def __enter__(self) -> CollectorWatch:
        gc.callbacks.append(self._callback)
        self.active = True
        return self

    def __exit__(self, *exc: object) -> None:
        self.active = False
        gc.callbacks.remove(self._callback)

    def _callback(self, phase: str, info: dict) -> None:
        if info.get("generation") != 2:
            return
        if phase == "start":
            self._started = time.perf_counter_ns()
        elif self._started:
            self.durations.append(time.perf_counter_ns() - self._started)


class FrameProbe:
    """Wraps ``app._display``: counts frames, encodes each one as a terminal would."""

    def __init__(self, app: ReadmarkApp) -> None:
        self.frames: list[int] = []
        original = app._display

        def display(screen, renderable) -> None:  # noqa: ANN001
            original(screen, renderable)
            if renderable is None:
                return
            if app.is_headless and hasattr(renderable, "render_segments"):
                renderable.render_segments(app.console)
            self.frames.append(time.perf_counter_ns())

        app._display = display  # type: ignore[method-assign]


def _pumps(app: ReadmarkApp) -> list:
    return [app, *app.screen.walk_children(with_self=True)]


def _busy(app: ReadmarkApp) -> bool:
    return any(not pump._message_queue.empty() or pump._next_callbacks for pump in _pumps(app))


def _dirty(app: ReadmarkApp) -> bool:
    screen = app.screen
    return bool(
        screen._dirty_widgets
        or screen._layout_required
        or screen._repaint_required
        or screen._scroll_required
        or screen._callbacks
    )


async def settle(pilot) -> None:  # noqa: ANN001
    """Until no pump has anything queued (messages posted while handling included):
    the event loop is stepped with ``asyncio.sleep(0)`` and every pump's queue looked
    at, until two looks in a row find nothing. Cheap enough to time through (Pilot's
    own ``_wait_for_screen`` posts a callback to every widget and costs milliseconds)."""
    app = pilot.app
    idle = 0
    for _ in range(100_000):
        await asyncio.sleep(0)
        if _busy(app):
            idle = 0
        else:
            idle += 1
            if idle == 2:
                return
    raise RuntimeError("the app never went quiet")


async def _frames(pilot) -> None:  # noqa: ANN001
    app = pilot.app
    for _ in range(10):
        app.screen._on_timer_update()
        await settle(pilot)
        if not _dirty(app):
            return


async def to_frame(pilot, probe: FrameProbe, act: Callable[[], None]) -> tuple[int, int, int]:  # noqa: ANN001
    """Nanoseconds from ``act()`` to the last frame it caused, the frames drawn, and
    nanoseconds until the app was quiet (handlers done) before its frame was composed.

    After the timed part, Pilot's thorough ``_wait_for_screen`` checks that nothing was
    left: if it finds work that draws another frame, that frame's time is the end."""
    app = pilot.app
    before = len(probe.frames)
    start = time.perf_counter_ns()
    act()
    await settle(pilot)
    handled = time.perf_counter_ns() - start
    await _frames(pilot)
    # The check, untimed unless it finds more to draw.
    await pilot._wait_for_screen()
    await settle(pilot)
    if _dirty(app):
        await _frames(pilot)
    drawn = len(probe.frames) - before
    end = probe.frames[-1] if drawn else time.perf_counter_ns()
    return end - start, drawn, handled


def press(app: ReadmarkApp, key: str) -> Callable[[], None]:
    def act() -> None:
        event = events.Key(key, key if len(key) == 1 else None)
        event.set_sender(app)
        app._driver.send_message(event)

    return act


async def main_screen_ready(pilot, rooms: int):  # noqa: ANN001, ANN201
    app = pilot.app
    for _ in range(400):
        await pilot.pause()
        screen = app.main_screen
        if screen is not None and len(screen.rooms.shown_rooms) == rooms and screen.selection is not None:
            return screen
        await asyncio.sleep(0.01)
    raise RuntimeError("the account never showed")


class Sampler:
    """Times inputs to the last frame each caused (``to_frame``), by label."""

    def __init__(self, pilot) -> None:  # noqa: ANN001
        self.pilot = pilot
        self.probe = FrameProbe(pilot.app)
        self.results: dict[str, list[int]] = {}
        self.frames: dict[str, list[int]] = {}
        self.handling: dict[str, list[int]] = {}

    async def sample(self, label: str, act: Callable[[], None]) -> int:
        """One input's time; returns the frames it drew."""
        elapsed, drawn, handled = await to_frame(self.pilot, self.probe, act)
        self.results.setdefault(label, []).append(elapsed)
        self.frames.setdefault(label, []).append(drawn)
        self.handling.setdefault(label, []).append(handled)
        return drawn

    def notes(self) -> dict[str, object]:
        """``stats`` (a ``Stats`` per label), ``frames`` and ``handled`` (ms): medians."""
        return {
            "stats": {label: Stats(tuple(values)) for label, values in self.results.items()},
            "frames": {label: statistics.median(values) for label, values in self.frames.items()},
            "handled": {label: statistics.median(values) / 1e6 for label, values in self.handling.items()},
        }


class Running:
    """The app on screen over the real ``MatrixService``, and what drives it."""

    def __init__(self, app: ReadmarkApp, pilot, screen, service: MatrixService, client: SilentClient) -> None:  # noqa: ANN001
        self.app, self.pilot, self.screen, self.service, self.client = app, pilot, screen, service, client
        self.sampler = Sampler(pilot)

    async def quiet(self) -> None:
        """Untimed: let receipts settle (the fake server answers after rtt_s), and draw."""
        for _ in range(500):
            await settle(self.pilot)
            if not self.service.queued:
                break
            await asyncio.sleep(0.005)
        await settle(self.pilot)
        self.app.screen._on_timer_update()
        await settle(self.pilot)


@asynccontextmanager
async def app_running(env: dict[str, str], joined: int, settings: Settings | None = None,
                  before_start: Callable[[], None] | None = None) -> AsyncIterator[Running]:
    """The app started on the profile ``env`` (``write_profile``), its account's
    ``joined`` rooms on screen; ``before_start`` runs in the profile first."""
    with in_profile(env):
        if before_start is not None:
            before_start()
        client = SilentClient(rtt_s=0.02)
        service = MatrixService(client)  # type: ignore[arg-type]
        app = ReadmarkApp(service, settings or Settings())
        async with app.run_test(size=SIZE) as pilot:
            screen = await main_screen_ready(pilot, joined)
            yield Running(app, pilot, screen, service, client)
        await service.close()


def joined_rooms(account: AccountState) -> int:
    return sum(1 for r in account.rooms.values() if r.membership == "join" and not r.is_space)


async def measure(
    rooms: int, samples: int, *, freeze_after_paint: bool = False, encrypted: EncryptedAccount | None = None,
    sync: dict | None = None, settings: Settings | None = None,
) -> dict[str, object]:
    """``freeze_after_paint``: ``gc.freeze()`` once the account is on screen, the
    experiment behind a recommendation to the app (see RESULTS.md); not what the app
    does today. ``encrypted``: its encrypted rooms instead (the syncs that arrive are
    encrypted too), with a crypto store holding their keys; the decryptions each input
    caused are counted. ``group_headers`` in what it returns: the group headers the
    rooms pane showed (none when flat)."""
    if encrypted is None:
        sync = sync if sync is not None else initial_sync(Shape(rooms))
        bodies = [encode(incremental_sync(sync, step=step)) for step in range(samples)]
    else:
        sync = encrypted.encrypted
        bodies = [encode(encrypted.encrypt_sync(incremental_sync(encrypted.plain, step=step))) for step in range(samples)]
    account, _ = apply_sync_changes(AccountState(ME), sync)
    joined = joined_rooms(account)
    threads = sum(len(r.thread_positions) - 1 for r in account.rooms.values())
    del sync
    decrypted: dict[str, list[int]] = {}
    notes: dict[str, object] = {"rooms": joined, "threads": threads}

    def import_keys() -> None:
        device = CryptoDevice.open(ME, DEVICE)
        try:
            import_into(device, encrypted)  # type: ignore[arg-type]
        finally:
            device.close()

    with tempfile.TemporaryDirectory(prefix="readmark-bench-") as home:
        env = write_profile(home, account)
        del account
        async with app_running(env, joined, settings, import_keys if encrypted is not None else None) as on_screen:
            app, pilot, screen, service, client = (on_screen.app, on_screen.pilot, on_screen.screen,
                                                   on_screen.service, on_screen.client)
            quiet = on_screen.quiet
            notes["group_headers"] = sum(1 for key in screen.rooms.keys if key.startswith(GROUP_PREFIX))
            calls = [0]
            if encrypted is not None:
                # The store opens after the first paint, and decrypts what is wanted.
                for _ in range(2_000):
                    if service._crypto is not None:  # noqa: SLF001 - the bench's probe
                        break
                    await asyncio.sleep(0.01)
                else:
                    raise RuntimeError("the crypto store never opened")
                device = service._crypto  # noqa: SLF001
                decrypt = device.decrypt

                def counted(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
                    calls[0] += 1
                    return decrypt(*args, **kwargs)

                device.decrypt = counted  # type: ignore[method-assign]
                await settle(pilot)
            if freeze_after_paint:
                gc.freeze()
            watch = CollectorWatch().__enter__()

            async def sample(label: str, act: Callable[[], None]) -> None:
                before = calls[0]
                await on_screen.sampler.sample(label, act)
                decrypted.setdefault(label, []).append(calls[0] - before)

            # The floor: a key bound to nothing; and what one full-screen layout and
            # repaint costs, the price of any change that alters a widget's size.
            for _ in range(samples):
                await sample("(unbound key: the method's floor)", press(app, "f12"))
            for _ in range(samples):
                await sample("(a full-screen layout: screen.refresh(layout=True))", lambda: app.screen.refresh(layout=True))
            # j in the rooms pane: the next room's threads and timeline are built.
            screen.rooms.focus()
            await pilot.press("g")
            await quiet()
            for _ in range(samples):
                await sample("j (rooms pane: next room)", press(app, "j"))
            # j in the threads pane: the next thread's timeline.
            screen.threads.focus()
            await quiet()
            opened: list[asyncio.Task] = []
            for _ in range(samples):
                await sample("j (threads pane: next thread)", press(app, "j"))
                if encrypted is None:
                    continue
                # What the screen asks for a thread shown (after its debounce; here at
                # once): its events decrypted, to the frame that shows them.
                selection = screen.selection
                room = service.account.rooms[selection.room_id]
                if decryption.in_thread(room, selection.thread_id):
                    await sample(
                        "thread shown: decrypted on demand (service.open_thread to frame)",
                        lambda s=selection: opened.append(
                            asyncio.ensure_future(service.open_thread(s.room_id, s.thread_id))
                        ),
                    )
            # The triage loop: n to the next unread thread, r to read it.
            await pilot.press("g")
            await quiet()
            counts_dropped = 0
            for _ in range(samples):
                await sample("n (next unread thread, across rooms)", press(app, "n"))
                await quiet()
                selection = screen.selection
                before = thread_unread(service.account.rooms[selection.room_id], selection.thread_id).unread
                await sample("r (threaded receipt, optimistic count)", press(app, "r"))
                after_room = service.account.rooms[selection.room_id]
                if before and thread_unread(after_room, selection.thread_id).unread == 0:
                    counts_dropped += 1
                await quiet()
            notes["r_counts_dropped"] = counts_dropped
            notes["requests_sent"] = len(client.sent)
            # A sync arriving: 10 events and 5 receipts in 5 rooms, through the real
            # sync loop (parse, apply, cache write) to the frame.
            for body in bodies:
                await sample("sync arrives (10 events, 5 receipts, 5 rooms)", lambda b=body: client.feed(b))
                await quiet()
            notes["selection_thread_main"] = screen.selection.thread_id == MAIN
            # tab: the focus moves to the next pane (rooms, threads, timeline and round),
            # which restyles two panes' borders. Last, so the inputs above are measured
            # in the state they always were.
            screen.rooms.focus()
            await quiet()
            for _ in range(samples):
                await sample(TAB, press(app, "tab"))
            # enter on a room: the threads pane takes the focus; escape, untimed, gives it
            # back to the rooms pane. On a room's row, not a group's header (enter there
            # folds the group).
            screen.rooms.focus()
            await pilot.press("g")
            while (screen.rooms.cursor_key or "").startswith(GROUP_PREFIX):
                await pilot.press("j")
            await quiet()
            for _ in range(samples):
                await sample(ENTER, press(app, "enter"))
                if screen.focused is not screen.threads:
                    raise RuntimeError("enter on a room did not give the threads pane the focus")
                await pilot.press("escape")
                await quiet()
                if screen.focused is not screen.rooms:
                    raise RuntimeError("escape did not give the rooms pane the focus back")
            watch.__exit__()
            for task in opened:  # a thread fill the silent server never answers
                task.cancel()
            notes["full_collections"] = [d / 1e6 for d in watch.durations]
    notes.update(on_screen.sampler.notes())
    notes["decrypted"] = {label: sum(values) for label, values in decrypted.items()}
    return notes


def run(quick: bool = False) -> Report:
    rooms, samples = QUICK if quick else FULL
    outcome = asyncio.run(measure(rooms, samples))
    report = Report(NAME, TITLE)
    stats: dict[str, Stats] = outcome["stats"]  # type: ignore[assignment]
    table = Table(
        f"Key (or sync) to frame, ms: {outcome['rooms']:,} rooms, {outcome['threads']:,} threads, {SIZE[0]}x{SIZE[1]}",
        ["input", "median", "p90", "min", "max", "n", "frames", "handlers (median)", "composing (median)"],
    )
    for label, values in stats.items():
        handled = outcome["handled"][label]
        table.add(
            label,
            values.median_ms,
            values.p90_ms,
            values.min_ms,
            values.max_ms,
            values.n,
            outcome["frames"][label],
            handled,
            max(values.median_ms - handled, 0.0),
        )
        report.figures[label] = {"median_ms": values.median_ms, "p90_ms": values.p90_ms, "max_ms": values.max_ms}
    report.tables.append(table)
    if not quick:
        # The same run with gc.freeze() after the first paint: what it would give.
        frozen = asyncio.run(measure(rooms, samples, freeze_after_paint=True))
        compare = Table(
            "Experiment: the same with gc.freeze() called once the account is on screen (the app does not do this "
            "today; the cache load freezes the account itself)",
            ["input", "median as the app is", "median with freeze after paint", "p90 as is", "p90 with freeze"],
        )
        for label, values in stats.items():
            other: Stats = frozen["stats"][label]  # type: ignore[index]
            compare.add(label, values.median_ms, other.median_ms, values.p90_ms, other.p90_ms)
            report.figures[label]["frozen_median_ms"] = other.median_ms
        collections_frozen = frozen["full_collections"]
        compare.add(
            "full garbage collections: count, median ms",
            f"{len(outcome['full_collections'])}, {statistics.median(outcome['full_collections'] or [0]):.0f}",  # type: ignore[arg-type]
            f"{len(collections_frozen)}, {statistics.median(collections_frozen or [0]):.0f}",  # type: ignore[arg-type]
            "",
            "",
        )
        report.tables.append(compare)
    report.figures.update(
        rooms=outcome["rooms"],
        threads=outcome["threads"],
        r_counts_dropped=outcome["r_counts_dropped"],
        requests_sent=outcome["requests_sent"],
    )
    collections = outcome["full_collections"]
    report.figures["full_collections"] = len(collections)
    report.figures["full_collection_max_ms"] = max(collections, default=0.0)
    report.notes.append(
        f"full garbage collections while measuring: {len(collections)}, "
        f"median {statistics.median(collections) if collections else 0:.0f} ms, max {max(collections, default=0):.0f} ms "
        "(each lands in whichever key or sync was being measured)"
    )
    report.notes.append(
        f"r lowered the selected thread's count to 0 in {outcome['r_counts_dropped']} of {samples} presses "
        f"(a press on a thread with only my own events is refused); {outcome['requests_sent']} requests sent"
    )
    if not quick:
        for label in ("j (rooms pane: next room)", "j (threads pane: next thread)", "n (next unread thread, across rooms)"):
            median = stats[label].median_ms
            report.targets.append(Target(f"{label}: median under {NAVIGATION_MS:.0f} ms", f"{median:.1f} ms", median < NAVIGATION_MS))
        median = stats["r (threaded receipt, optimistic count)"].median_ms
        report.targets.append(
            Target(f"r incl. the optimistic count: median under {RECEIPT_MS:.0f} ms", f"{median:.1f} ms", median < RECEIPT_MS)
        )
        floor = stats[FLOOR].median_ms
        for label, ratio in FLOOR_RATIOS.items():
            times = stats[label].median_ms / floor
            report.targets.append(
                Target(f"{label}: at most {ratio}x the floor (issue 16 row 3)", f"{times:.2f}x ({floor:.2f} ms floor)",
                       times <= ratio)
            )
            report.figures[label]["floor_ratio"] = times
    return report
