"""Filters, help, login, quitting, layout at 80 columns, literal text, glyph-less
terminals, and worker failures."""

from __future__ import annotations

import asyncio

from textual.geometry import Region

from app.config import Settings
from app.matrix.service import SyncState
from app.model.account import AccountState
from app.model.ids import MAIN
from app.model.plan import ReceiptRequest
from app.model.receipts import ReceiptType
from app.ui import keymap
from app.ui.screens.help import HelpScreen
from app.ui.screens.login import LoginScreen
from app.ui.screens.main import MainScreen
from tests.ui.helpers import RecordingApp, main_screen, shown
from tests.ui.local_service import LocalService
from tests.ui.recorded import (
    DESIGN,
    DM,
    INCIDENT,
    INVITE,
    LATER,
    MARKUP,
    MARKUP_NAME,
    OPS,
    QUIET,
    RANDOM,
    recorded_account,
)

SIZE = (160, 50)


def type_keys(text: str) -> list[str]:
    return ["space" if c == " " else c for c in text]


async def test_u_shows_only_unread_rooms_and_threads(make_app, service) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await main_screen(pilot)
        await pilot.press("u")
        assert QUIET not in screen.rooms.keys and DM not in screen.rooms.keys
        assert LATER in screen.rooms.keys  # marked unread counts as needing attention
        assert screen.query_one("#rooms").border_title == "Rooms · activity · unread only"
        await pilot.press("tab", "j", "r")  # read the Incident thread
        await pilot.pause()
        assert INCIDENT in screen.threads.keys  # the selected thread stays while selected
        await pilot.press("k")  # leaving it, the read thread goes
        assert list(screen.threads.keys) == ["threads:header", MAIN, "$ops03-deploy-plan"]
        await pilot.press("shift+tab", "R")  # read the whole room: it stays while selected
        await pilot.pause()
        assert screen.rooms.keys[0] == OPS
        await pilot.press("j")
        await pilot.pause()
        assert screen.selection.room_id == DESIGN
        assert OPS not in screen.rooms.keys
        await pilot.press("u")
        assert QUIET in screen.rooms.keys and DM in screen.rooms.keys


async def test_slash_filters_rooms_by_name_and_escape_clears(make_app, service) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await main_screen(pilot)
        await pilot.press("slash")
        assert screen.focused is screen.query_one("#room-filter")
        await pilot.press(*type_keys("qu"))
        assert [k for k in screen.rooms.keys] == [QUIET]
        # letters typed into the filter are text, not commands
        await pilot.press("r", "q", "n")
        assert app.is_running and service.requests == []
        await pilot.press(*["backspace"] * 5, *type_keys("RAND"))
        assert list(screen.rooms.keys) == [RANDOM]
        await pilot.press("enter")
        assert screen.focused is screen.rooms
        assert screen.selection.room_id == RANDOM
        assert screen.query_one("#rooms").border_title == "Rooms · activity · /RAND"
        await pilot.press("escape")
        assert screen.view.name_filter == "" and OPS in screen.rooms.keys
        assert not screen.query_one("#room-filter").display
        assert screen.rooms.cursor_key == RANDOM


async def test_the_palette_opens_the_name_filter_too(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await main_screen(pilot)
        assert not screen.query("#room-filter")  # mounted on first use only
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*["space" if c == " " else c for c in "Filter rooms by name"])
        for _ in range(30):
            if app.screen.query_one("CommandList").options:
                break
            await pilot.pause(0.1)
        await pilot.press("enter")
        for _ in range(30):
            if screen.query("#room-filter") and screen.focused is screen.query_one("#room-filter"):
                break
            await pilot.pause(0.1)
        assert app.screen is screen
        assert screen.focused is screen.query_one("#room-filter")
        await pilot.press(*type_keys("qu"))
        assert list(screen.rooms.keys) == [QUIET]


async def test_help_lists_every_binding_and_what_it_sends(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await main_screen(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        entries = {spec.id: help_screen.entry_text(spec.id) for spec in keymap.KEYS}
        # Each as drawn: its key in the key column, then what it does (wrapped lines hang
        # under the text; entry_text reads them on).
        for spec in keymap.KEYS:
            assert entries[spec.id].startswith(app.key_display(spec.id) + " ")
        for spec in keymap.KEYS:
            text = entries[spec.id]
            assert spec.help in text and f"[{spec.id}]" in text and "sends: " in text
        assert "POST /rooms/{room}/receipt/m.read.private/{event}" in entries["receipt.thread"]
        assert '"thread_id"' in entries["receipt.thread"]
        assert entries["receipt.room"].rstrip().endswith("/{event} {}")
        assert entries["pane.next"].endswith("sends: nothing")
        assert "/read_markers" in entries["marker.fully_read"]
        assert entries["app.help"].startswith("?")
        assert entries["cursor.down"].startswith("j, ↓") or entries["cursor.down"].startswith("j, down")
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)
        await pilot.press("p", "question_mark")
        await pilot.pause()
        assert "receipt/m.read/{event}" in app.screen.entry_text("receipt.thread")


async def test_every_binding_has_an_id_and_every_action_a_palette_entry(make_app) -> None:
    from app.ui.commands import main_screen_commands

    ids = [spec.id for spec in keymap.KEYS]
    assert len(ids) == len(set(ids))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await main_screen(pilot)
        bound = {binding.id for _, binding in screen._bindings} | {b.id for _, b in screen.rooms._bindings}
        bound |= {binding.id for _, binding in app._bindings}
        assert set(ids) <= bound
        in_palette = {command.binding_id for command in main_screen_commands(screen)}
        actions = {spec.id for spec in keymap.KEYS if spec.scope != keymap.LIST} - {"app.command_palette"}
        assert actions <= in_palette, actions - in_palette


async def test_markup_looking_names_and_bodies_render_literally(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await main_screen(pilot)
        assert MARKUP_NAME in shown(screen.rooms, MARKUP)
        screen.select(MARKUP)
        await pilot.pause()
        assert screen.query_one("#threads").border_title == f"{MARKUP_NAME} ─ threads".replace("[", "\\[")
        assert "[link=https://evil.example]click[/link] and [b]bold?[/b]" in screen.timeline.row_text("$mk01-link")
        assert "[link=https://evil.example]click[/link]" in shown(screen.timeline, "$mk01-link")
        # and the status line after a receipt in that room
        await pilot.press("R")
        assert f'whole room "{MARKUP_NAME}"' in str(screen.status.render())


async def test_notifications_show_names_literally(make_app) -> None:
    app = make_app(Settings(room_modes={MARKUP: ReceiptType.PUBLIC}))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        screen = await main_screen(pilot)
        screen.select(MARKUP)
        await pilot.pause()
        await pilot.press("p")
        await pilot.pause()
        toasts = [str(toast.render()) for toast in app.screen.query("Toast")]
        assert any(MARKUP_NAME in text for text in toasts), toasts


async def test_eighty_columns_collapse_to_two_panes_without_overlap(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await main_screen(pilot)
        assert screen.has_class("-narrow")

        def visible_panes() -> list[Region]:
            regions = []
            for pane_id in ("#rooms", "#threads", "#timeline"):
                pane = screen.query_one(pane_id)
                if pane.display:
                    regions.append(pane.region)
            return regions

        def assert_tidy(regions: list[Region]) -> None:
            assert len(regions) == 2
            a, b = regions
            assert not a.overlaps(b)
            for region in regions:
                assert region.width >= 30 and region.right <= 80 and region.bottom <= 24

        assert_tidy(visible_panes())
        assert not screen.query_one("#timeline").display
        await pilot.press("tab", "tab")
        await pilot.pause()
        assert screen.focused is screen.timeline
        assert not screen.query_one("#rooms").display
        assert_tidy(visible_panes())
        await pilot.press("escape", "escape")
        await pilot.pause()
        assert screen.focused is screen.rooms
        assert_tidy(visible_panes())
        status = screen.query_one("#status")
        assert status.region.width == 80 and status.region.y == 22


async def test_glyphs_off_uses_words(make_app) -> None:
    app = make_app(Settings(glyphs=False))
    async with app.run_test(size=SIZE) as pilot:
        screen = await main_screen(pilot)
        ops = shown(screen.rooms, OPS)
        assert "🧵" not in ops and "t2" in ops and ops.startswith("* Ops")
        assert shown(screen.timeline, "$ops02-onmyway").endswith("< you (private)")
        assert shown(screen.timeline, "$ops01-morning").endswith("< you (public)")
        assert screen.status.sync_text == "live"


async def test_q_quits_and_closes_the_service(make_app, service) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await main_screen(pilot)
        await pilot.press("q")
        await pilot.pause()
    assert service.closed
    assert app.return_code == 0


class BrokenService(LocalService):
    async def run(self, listener) -> None:  # noqa: ANN001
        await asyncio.sleep(0)
        raise ConnectionError("homeserver unreachable: connection refused")


async def test_a_failing_sync_worker_shows_offline_and_notifies() -> None:
    service = BrokenService(recorded_account())
    app = RecordingApp(service)
    async with app.run_test(size=SIZE) as pilot:
        screen = await main_screen(pilot)
        for _ in range(10):
            await pilot.pause()
        assert app.sync_status.state is SyncState.OFFLINE
        assert "offline" in screen.status.sync_text
        assert ("Sync stopped", "homeserver unreachable: connection refused", "error") in app.notified
        assert app.is_running  # the rest of the UI keeps working on the cached state
        await pilot.press("R")
        assert service.requests and service.requests[0].room_id == OPS


async def test_login_screen_logs_in_and_shows_the_account() -> None:
    calls: list[tuple[str, str, str]] = []
    service = LocalService(recorded_account())

    async def login(homeserver: str, user: str, password: str) -> LocalService:
        calls.append((homeserver, user, password))
        if password != "correct horse":
            raise PermissionError("M_FORBIDDEN: Invalid username or password")
        return service

    app = RecordingApp(None, login=login, homeserver="https://matrix.example.org")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, LoginScreen)
        assert app.screen.focused.id == "login-user"
        await pilot.press(*type_keys("@me:example.org"), "enter", *type_keys("wrong"), "enter")
        for _ in range(10):
            await pilot.pause()
        assert calls == [("https://matrix.example.org", "@me:example.org", "wrong")]
        assert "Invalid username or password" in str(app.screen.query_one("#login-error").render())
        assert not app.screen.query_one("#login-submit").disabled
        password = app.screen.query_one("#login-password")
        password.value = "correct horse"
        await pilot.click("#login-submit")
        screen = await main_screen(pilot)
        assert isinstance(screen, MainScreen) and len(app.screen_stack) == 2
        assert screen.status.user_id == "@me:example.org"
        await pilot.press("r")
        assert service.requests == [ReceiptRequest(OPS, ReceiptType.PRIVATE, "$ops11-yes", MAIN)]


async def test_login_asks_for_missing_fields() -> None:
    async def login(homeserver: str, user: str, password: str) -> LocalService:
        raise AssertionError("must not be called")

    app = RecordingApp(None, login=login)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.click("#login-submit")
        await pilot.pause()
        assert str(app.screen.query_one("#login-error").render()) == "missing: homeserver, user, password"


async def test_no_service_and_no_login_exits_with_a_message() -> None:
    app = RecordingApp(None)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
    assert app.return_code == 2


async def test_invites_are_listed_but_not_triaged(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await main_screen(pilot)
        assert INVITE not in [room.room_id for room in screen.rooms.shown_rooms]
        assert "invite" in shown(screen.rooms, INVITE)


class ColdService(LocalService):
    """Like the live service: nothing until ``run`` has loaded the cache, and private
    receipt support known only after the first sync."""

    def __init__(self) -> None:
        super().__init__(recorded_account())
        self._full = self.account
        self._core.account = AccountState(self.user_id)
        self._core.private_supported = None

    async def run(self, listener) -> None:  # noqa: ANN001
        from app.matrix.service import SyncStatus

        self._listener = listener
        listener.status_changed(SyncStatus(SyncState.CATCHING_UP))
        await asyncio.sleep(0.05)
        self._core.account = self._full
        listener.account_changed(self.account)
        await asyncio.sleep(0.05)
        self.set_private_supported(False)
        listener.status_changed(SyncStatus(SyncState.LIVE))
        await asyncio.Event().wait()


async def test_the_account_and_server_support_can_arrive_after_the_first_paint() -> None:
    service = ColdService()
    app = RecordingApp(service)
    async with app.run_test(size=SIZE) as pilot:
        screen = await main_screen(pilot)
        assert screen.selection.room_id == OPS
        for _ in range(250):  # up to 5 s on a busy machine; 0.4 s was once the limit
            await pilot.pause(0.02)
            if screen.status.sync_text == "● live":
                break
        assert screen.status.sync_text == "● live"
        assert "unsupported" in screen.status.mode_text
        await pilot.press("r")
        # Refused by the core's rule, as the live service refuses it.
        assert service.requests == []
        assert screen.last_action.outcome == "refused"
        assert "does not support private receipts" in screen.last_action.text


async def test_turning_narrow_with_the_timeline_focused_shows_it(make_app) -> None:
    """A wide screen shows all three panes (no timeline-focus class is needed there);
    narrowed while the timeline has focus, it shows threads and timeline, and back."""
    app = make_app()
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await main_screen(pilot)
        await pilot.press("tab", "tab")
        assert screen.focused is screen.timeline
        assert not screen.query_one("#panes").has_class("-timeline-focus")
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert screen.has_class("-narrow")
        assert screen.timeline.display and not screen.rooms.display
        await pilot.press("tab")  # to the rooms pane
        await pilot.pause()
        assert screen.focused is screen.rooms
        assert screen.rooms.display and not screen.timeline.display
        await pilot.resize_terminal(160, 40)
        await pilot.pause()
        assert screen.rooms.display and screen.threads.display and screen.timeline.display
