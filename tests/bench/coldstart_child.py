"""The process that benchmark 3 starts: ``python -m tests.bench.coldstart_child readmark|minimal``.

``readmark`` runs the real entry point (``app.cli.main([])``: settings, session, the
TUI on ``MatrixService``) against a homeserver that accepts connections and never
answers, so everything on screen comes from the local cache. ``minimal`` runs a
Textual app with one ``Static``: the baseline.

A probe wraps ``App._display`` (where a composed frame goes to the terminal). After
each frame it asks whether the frame is the one wanted: any frame for ``minimal``;
for ``readmark``, the main screen with the rooms pane holding every cached joined room.
Then it stops Textual's writer thread (so the frame's bytes have reached the terminal),
takes the time, checks the painted rows' counts against the labels the parent computed
from the synthetic sync, writes a JSON report to ``$READMARK_BENCH_REPORT`` and leaves
with ``os._exit`` (quitting is not part of a start).

Times are ``time.monotonic_ns()``: CLOCK_MONOTONIC, the same clock in the parent.
Peak memory is ``VmHWM`` (Linux carries ``ru_maxrss`` over ``exec`` from the parent).
``READMARK_BENCH_PROFILE=FILE`` writes a cProfile of the start to FILE.
``READMARK_BENCH_DECRYPTS=N`` (a cache of encrypted rooms, a crypto store holding their
keys) counts the decryptions before the first frame and the wanted one, then waits for
N decryptions before reporting when they happened.
"""

from __future__ import annotations

import time

CHILD_START_NS = time.monotonic_ns()

import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402

# READMARK_BENCH_PROFILE=FILE: profile the start (cProfile) and write the stats there.
_PROFILE = None
if os.environ.get("READMARK_BENCH_PROFILE"):
    import cProfile

    _PROFILE = cProfile.Profile()
    _PROFILE.enable()


def _finish(app, report: dict) -> None:  # noqa: ANN001 - a textual App
    driver = app._driver
    writer = getattr(driver, "_writer_thread", None)
    if writer is not None:
        writer.stop()  # every queued write is on the terminal when this returns
    report["painted_ns"] = time.monotonic_ns()
    if _PHASES:
        report["phases"] = dict(_PHASES)
    report["child_start_ns"] = CHILD_START_NS
    report["nio_loaded"] = "nio" in sys.modules
    report["aiohttp_loaded"] = "aiohttp" in sys.modules
    report["modules"] = len(sys.modules)
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec from the forking parent.
    with open("/proc/self/status", encoding="utf-8") as status:
        for line in status:
            if line.startswith("VmHWM"):
                report["maxrss_kb"] = int(line.split()[1])
    if _PROFILE is not None:
        _PROFILE.disable()
        _PROFILE.dump_stats(os.environ["READMARK_BENCH_PROFILE"])
    if _DECRYPTS is not None:
        # The frame is on the terminal; the decryption after it is waited for (later
        # frames go nowhere), then reported with it.
        report["decrypts_at_paint"] = _DECRYPTS["count"]
        if writer is not None:
            writer.write = lambda text: None  # type: ignore[method-assign]
        threading.Thread(target=_report_decryption, args=(report,), daemon=True).start()
        return
    _write_report(report)


def _write_report(report: dict) -> None:
    with open(os.environ["READMARK_BENCH_REPORT"], "w", encoding="utf-8") as out:
        json.dump(report, out)
    os._exit(0)


# READMARK_BENCH_DECRYPTS=N: count CryptoDevice.decrypt calls and time the store's
# opening and the first and last decryption; after the wanted frame, wait (up to
# DECRYPT_WAIT_S) until N events are decrypted, then report.
_DECRYPTS: dict | None = None
DECRYPT_WAIT_S = 60.0


def _watch_decryption() -> None:
    global _DECRYPTS
    from app.matrix.crypto import CryptoDevice

    watch = _DECRYPTS = {"count": 0, "first_ns": None, "last_ns": None, "opened_ns": None}
    decrypt, opened = CryptoDevice.decrypt, CryptoDevice.open.__func__

    def counted(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        if watch["first_ns"] is None:
            watch["first_ns"] = time.monotonic_ns()
        try:
            return decrypt(self, *args, **kwargs)
        finally:
            watch["count"] += 1
            watch["last_ns"] = time.monotonic_ns()

    def open_timed(cls, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        device = opened(cls, *args, **kwargs)
        watch["opened_ns"] = time.monotonic_ns()
        return device

    CryptoDevice.decrypt = counted  # type: ignore[method-assign]
    CryptoDevice.open = classmethod(open_timed)  # type: ignore[method-assign]


def _report_decryption(report: dict) -> None:
    wanted = int(os.environ["READMARK_BENCH_DECRYPTS"])
    deadline = time.monotonic() + DECRYPT_WAIT_S
    while _DECRYPTS["count"] < wanted and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.2)  # anything after the wanted count is counted too
    report.update(
        decrypts_total=_DECRYPTS["count"],
        crypto_opened_ns=_DECRYPTS["opened_ns"],
        first_decrypt_ns=_DECRYPTS["first_ns"],
        last_decrypt_ns=_DECRYPTS["last_ns"],
    )
    _write_report(report)


def _check_rows(app) -> dict:  # noqa: ANN001 - a ReadmarkApp
    """Compare the count column of each painted row with the expected label."""
    with open(os.environ["READMARK_BENCH_EXPECT"], encoding="utf-8") as source:
        expected: dict[str, str] = json.load(source)
    rooms = app.main_screen.rooms
    height = rooms.scrollable_content_region.height
    top = rooms.scroll_offset.y
    checked = wrong = 0
    examples = []
    from app.ui.widgets.room_list import room_of_key

    for y in range(min(height, len(rooms.keys) - top)):
        # A room's row in a group (Direct messages, a space) is keyed by the group
        # too; a header's row shows no room.
        key = room_of_key(rooms.keys[top + y])
        if key not in expected:
            continue
        line = rooms.render_line(y).text
        # The right part is three 4-cell columns (count, highlights, threads), in
        # cells: a glyph may be two cells wide.
        shown = _head_cells(_tail_cells(line, 14), 4).strip()
        checked += 1
        if shown != expected[key]:
            wrong += 1
        if len(examples) < 3:
            examples.append(line.rstrip())
    return {"rows_checked": checked, "rows_wrong": wrong, "row_examples": examples}


def _tail_cells(text: str, cells: int) -> str:
    from rich.cells import cell_len

    taken = 0
    for start in range(len(text) - 1, -1, -1):
        taken += cell_len(text[start])
        if taken >= cells:
            return text[start:]
    return text


def _head_cells(text: str, cells: int) -> str:
    from rich.cells import cell_len

    taken = 0
    for end, char in enumerate(text):
        taken += cell_len(char)
        if taken >= cells:
            return text[: end + 1]
    return text


# READMARK_BENCH_PHASES=1: time spent in a few of Textual's and readmark's steps
# (wrapped, cumulative, outer calls only), reported as "phases" in milliseconds.
_PHASES: dict[str, float] = {}


def _time_phases() -> None:
    import functools

    from textual._compositor import Compositor
    from textual.app import App
    from textual.css.stylesheet import Stylesheet
    from textual.widget import Widget

    targets = [
        ("css parse", Stylesheet, "parse"),
        ("css apply", Stylesheet, "apply"),
        ("compose", Widget, "_compose"),
        ("render", Compositor, "render_update"),
        ("layout", Compositor, "reflow"),
    ]
    if sys.argv[1] != "minimal":
        from app.matrix.service import MatrixService

        from app.ui.widgets.keyed_list import KeyedList
        from app.ui.widgets.room_list import RoomList

        targets += [
            ("preview", MatrixService, "preview"),
            ("load_local", MatrixService, "load_local"),
            ("rooms pane: rows given", RoomList, "_refresh_rows"),
            ("lists: lines drawn", KeyedList, "render_lines"),
        ]
    run = App.run

    def stamped_run(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        _PHASES["to App.run"] = (time.monotonic_ns() - CHILD_START_NS) / 1e6
        return run(self, *args, **kwargs)

    App.run = stamped_run  # type: ignore[method-assign]
    depth: dict[str, int] = {}
    for label, owner, name in targets:
        original = getattr(owner, name)

        def wrapped(*args, __original=original, __label=label, **kwargs):  # noqa: ANN002, ANN003, ANN202
            if depth.get(__label):
                return __original(*args, **kwargs)
            depth[__label] = 1
            began = time.perf_counter()
            try:
                return __original(*args, **kwargs)
            finally:
                _PHASES[__label] = _PHASES.get(__label, 0.0) + (time.perf_counter() - began) * 1000
                depth[__label] = 0

        if name == "_compose":
            # A coroutine function: timed around its await.
            async def wrapped_async(*args, __original=original, __label=label, **kwargs):  # noqa: ANN002, ANN003, ANN202
                began = time.perf_counter()
                try:
                    return await __original(*args, **kwargs)
                finally:
                    _PHASES[__label] = _PHASES.get(__label, 0.0) + (time.perf_counter() - began) * 1000

            setattr(owner, name, functools.wraps(original)(wrapped_async))
        else:
            setattr(owner, name, functools.wraps(original)(wrapped))


def _time_collections() -> None:
    """Garbage collections after Textual's import: the oldest generation's count and
    time ("gc full"), and the younger ones' time ("gc young")."""
    import gc

    began: list[float] = []

    def callback(phase: str, info: dict) -> None:
        if phase == "start":
            began.append(time.perf_counter())
            return
        elapsed = (time.perf_counter() - began.pop()) * 1000
        label = "gc full" if info["generation"] == 2 else "gc young"
        _PHASES[label] = _PHASES.get(label, 0.0) + elapsed
        if label == "gc full":
            _PHASES["gc full (count)"] = _PHASES.get("gc full (count)", 0) + 1

    gc.callbacks.append(callback)


def _shaped_app():  # noqa: ANN202 - a textual App
    """Plain Textual in the shape of readmark's screen: three bordered panes of 48 lines
    of styled text, a status line and a footer of eleven keys. What the screen's shape
    costs in Textual itself, without any of readmark's code."""
    from textual.app import App, ComposeResult
    from textual.binding import Binding
    from textual.containers import Horizontal, Vertical
    from textual.widgets import Footer, Static

    lines = "\n".join(f"[bold]\u25cf[/] room {i:<40} [b]{i % 17 or ''}[/]" for i in range(48))

    class Shaped(App[None]):
        CSS = """
        Horizontal { height: 1fr; }
        Vertical { border: round $primary; width: 1fr; }
        #status { height: 1; background: $panel; }
        """
        BINDINGS = [Binding(key, "bell", key.upper()) for key in ("j", "k", "n", "p", "r", "f", "a", "u", "s", "slash", "q")]

        def compose(self) -> ComposeResult:
            with Horizontal():
                for title in ("Rooms", "Threads", "Timeline"):
                    with Vertical() as pane:
                        pane.border_title = title
                        yield Static(lines)
            yield Static("@me:example.org  live  PRIVATE  0 queued", id="status")
            yield Footer()

    return Shaped()


def main() -> None:
    kind = sys.argv[1]
    from textual.app import App

    if os.environ.get("READMARK_BENCH_PHASES"):
        _PHASES["to textual imported"] = (time.monotonic_ns() - CHILD_START_NS) / 1e6
        _time_phases()
        _time_collections()

    original = App._display
    report: dict = {"kind": kind, "frames": 0}

    if kind in ("minimal", "shaped"):
        from textual.widgets import Static

        def wanted(app) -> bool:  # noqa: ANN001
            return bool(app.screen.query(Static))

    else:
        rooms_expected = int(os.environ["READMARK_BENCH_ROOMS"])

        def wanted(app) -> bool:  # noqa: ANN001
            screen = getattr(app, "main_screen", None)
            return (
                screen is not None
                and app.screen is screen
                and len(screen.rooms.shown_room_ids) == rooms_expected
                and (rooms_expected or screen.account is not None)
            )

    if kind == "readmark" and os.environ.get("READMARK_BENCH_DECRYPTS"):
        _watch_decryption()
    painted = False

    def probe(self, screen, renderable) -> None:  # noqa: ANN001
        nonlocal painted
        original(self, screen, renderable)
        if renderable is None or painted:
            return
        report["frames"] += 1
        if "first_frame_ns" not in report:
            report["first_frame_ns"] = time.monotonic_ns()
            if _DECRYPTS is not None:
                report["decrypts_at_first_frame"] = _DECRYPTS["count"]
        if wanted(self):
            if kind == "readmark":
                report.update(_check_rows(self))
            painted = True
            _finish(self, report)

    App._display = probe  # type: ignore[method-assign]

    if kind == "minimal":

        class Minimal(App[None]):
            def compose(self):  # noqa: ANN202
                yield Static("minimal")

        Minimal().run()
    elif kind == "shaped":
        _shaped_app().run()
    else:
        began = time.perf_counter()
        from app.cli import main as cli_main

        if _PHASES:
            _PHASES["import app.cli"] = (time.perf_counter() - began) * 1000
        cli_main([])
    # Only reached when the wanted frame never came.
    report["failed"] = True
    with open(os.environ["READMARK_BENCH_REPORT"], "w", encoding="utf-8") as out:
        json.dump(report, out)


if __name__ == "__main__":
    main()
