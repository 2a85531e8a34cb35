"""SVG snapshots of the main screen, the help screen and the login screen (cursor blink
off). Update with ``pytest tests/ui/test_snapshots.py --snapshot-update`` and look at
the SVGs before committing them."""

from __future__ import annotations

from textual.pilot import Pilot
from textual.widgets import Input

from tests.ui.helpers import RecordingApp, main_screen
from tests.ui.local_service import LocalService
from tests.ui.recorded import recorded_account


async def _no_blink(pilot: Pilot) -> None:
    for widget in pilot.app.screen.query(Input):
        widget.cursor_blink = False
    await pilot.pause()


async def _shown(pilot: Pilot) -> None:
    await main_screen(pilot)
    await _no_blink(pilot)


def test_main_screen(snap_compare) -> None:
    app = RecordingApp(LocalService(recorded_account()), grouped=True)
    assert snap_compare(app, terminal_size=(160, 36), run_before=_shown)


def test_spaces_and_the_bulk_read_dialog(snap_compare) -> None:
    from tests.ui.test_groups import ENG, account

    app = RecordingApp(LocalService(account()), grouped=True)

    async def run_before(pilot: Pilot) -> None:
        screen = await main_screen(pilot)
        screen.rooms.move_cursor_to(f"group:space:{ENG}")
        screen.rooms.focus()
        await pilot.pause()
        await pilot.press("R")
        await _no_blink(pilot)

    assert snap_compare(app, terminal_size=(160, 36), run_before=run_before)


def test_main_screen_in_a_thread_after_r(snap_compare) -> None:
    app = RecordingApp(LocalService(recorded_account(), auto_settle=False))

    async def run_before(pilot: Pilot) -> None:
        await main_screen(pilot)
        await pilot.press("tab", "j", "j", "enter", "r")
        await _no_blink(pilot)

    assert snap_compare(app, terminal_size=(160, 36), run_before=run_before)


def test_main_screen_80_columns(snap_compare) -> None:
    app = RecordingApp(LocalService(recorded_account()))
    assert snap_compare(app, terminal_size=(80, 24), run_before=_shown)


def test_help_screen(snap_compare) -> None:
    app = RecordingApp(LocalService(recorded_account()))

    async def run_before(pilot: Pilot) -> None:
        await main_screen(pilot)
        await pilot.press("question_mark")
        await _no_blink(pilot)

    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)


def test_login_screen(snap_compare) -> None:
    async def login(homeserver: str, user: str, password: str) -> LocalService:
        raise AssertionError("not in a snapshot")

    app = RecordingApp(None, login=login, homeserver="https://matrix.example.org")
    assert snap_compare(app, terminal_size=(100, 30), run_before=_no_blink)
