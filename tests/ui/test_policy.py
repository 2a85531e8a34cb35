"""The receipt policy on screen (Pilot, the production core): the status line names what
decided, a ``none`` room sends nothing on r, R or a while f moves the marker, P steps the
room's own mode (shared through account data) and p says when a room keeps its mode;
W shows the audit with its warning; the help's title names the mode and what decided."""

from __future__ import annotations

from app.config import Settings
from app.model.account import AccountState
from app.model.plan import FullyReadRequest
from app.model.policy import Mode, PolicyRule
from app.model.receipts import Receipt, ReceiptKey, ReceiptType
from app.model.room import RoomState, add_timeline, apply_receipt
from app.ui.screens.audit import AuditScreen
from app.ui.screens.help import HelpScreen
from tests.model.builders import ME, msg
from tests.ui.helpers import RecordingApp, main_screen
from tests.ui.local_service import LocalService

DM, TEAM = "!dm:t", "!team:t"


def account() -> AccountState:
    dm = add_timeline(RoomState(DM, ME, name="Alice", is_direct=True), [msg("$d1", ts=1), msg("$d2", ts=2)],
                      limited=False)
    team = add_timeline(RoomState(TEAM, ME, name="Team"), [msg("$t1", ts=3), msg("$t2", ts=4)], limited=False)
    # Another client of mine sent a public receipt in the team room.
    team = apply_receipt(team, ReceiptKey(ME, ReceiptType.PUBLIC, None), Receipt("$t1", 99))
    return AccountState(ME, {DM: dm, TEAM: team})


def make(service: LocalService) -> RecordingApp:
    rules = (PolicyRule("dm", None, Mode.NONE),)
    return RecordingApp(service, Settings(receipt_mode=ReceiptType.PRIVATE, rules=rules))


async def test_a_none_room_sends_no_receipt_and_f_still_moves_the_marker() -> None:
    service = LocalService(account())
    app = make(service)
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await main_screen(pilot)
        screen.select(DM)
        await pilot.pause()
        assert screen.status.mode_text == "NONE · rule: dm"
        assert screen.status.clears_text == "r/R: no receipts here; f moves the marker"
        for key in ("r", "R", "a"):
            await pilot.press(key)
            await pilot.pause()
            assert screen.last_action.outcome == "refused", key
            assert "receipts are off in this room (rule: dm)" in screen.last_action.text
        assert service.requests == []
        screen.select(DM)  # a jumped on to the next unread thread
        await pilot.pause()
        await pilot.press("f")
        await pilot.pause()
        assert [type(r) for r in service.requests] == [FullyReadRequest]
        assert service.requests[0].receipt_type is None
        # p moves the session, never a room a rule decided, and says so.
        await pilot.press("p")
        await pilot.pause()
        assert "Alice sends no receipts (rule: dm)" in app.notified[-1][1]
        assert screen.status.mode_text == "NONE · rule: dm"


async def test_P_steps_the_rooms_own_mode_and_the_status_line_follows() -> None:
    service = LocalService(account())
    app = make(service)
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await main_screen(pilot)
        screen.select(TEAM)
        await pilot.pause()
        assert screen.status.mode_text == "PRIVATE"
        shown = []
        for _ in range(4):
            await pilot.press("P")
            await pilot.pause()
            await pilot.pause()
            shown.append(screen.status.mode_text)
        assert service.overrides == [(TEAM, "private"), (TEAM, "public"), (TEAM, "none"), (TEAM, None)]
        assert shown == ["PRIVATE · this room", "PUBLIC · this room", "NONE · this room", "PRIVATE"]


async def test_W_shows_who_sees_what_with_the_warning() -> None:
    service = LocalService(account())
    app = make(service)
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await main_screen(pilot)
        await pilot.press("W")
        await pilot.pause()
        assert isinstance(app.screen, AuditScreen)
        text = str(app.screen.query_one("#audit-lines").render())
        lines = text.splitlines()
        team = next(line for line in lines if line.startswith("Team"))
        assert "PRIVATE" in team and "1 behind" in team  # others see $t1; $t2 came after
        assert any("public receipt of yours (unthreaded) at $t1 that readmark did not send" in line for line in lines)
        alice = next(line for line in lines if line.startswith("Alice"))
        assert "NONE · rule: dm" in alice and "nothing" in alice
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen


async def test_help_names_the_mode_and_the_rule_that_decided() -> None:
    service = LocalService(account())
    app = make(service)
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await main_screen(pilot)
        screen.select(DM)
        await pilot.pause()
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        title = str(app.screen.query_one("#help-title").render())
        assert "receipt mode now: NONE · rule: dm" in title
        await pilot.press("escape")
        await pilot.pause()
        # A room the session mode decides: the mode alone, no rule.
        screen.select(TEAM)
        await pilot.pause()
        await pilot.press("question_mark")
        await pilot.pause()
        title = str(app.screen.query_one("#help-title").render())
        assert "receipt mode now: PRIVATE " in title and "rule" not in title
