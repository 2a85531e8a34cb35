"""The status line's warning for mentions never on screen (issue 14): while a room's
unread mention has not been in view, the line says what R would clear with
"(1 unseen)" and in the warning style (r's part follows the focused pane); once the timeline has shown it the warning goes
and stays gone, and R's receipt then clears what the line said. The timeline shows a line
however it got there: a key, the mouse wheel, a drag of the scrollbar; and only once it
is there (not under the last room's scroll offset before the scroll to the cursor).
Pilot tests over the production core (LocalService)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from textual.pilot import Pilot

from app.config import Settings
from app.model.account import AccountState
from app.model.events import ALERT_HIGHLIGHT, ALERT_NOTIFY
from app.model.plan import ReceiptRequest
from app.model.receipts import ReceiptType
from app.model.room import RoomState, add_timeline
from app.ui.screens.main import MainScreen
from tests.model.builders import ME, msg
from tests.ui.helpers import RecordingApp, drag_scrollbar, main_screen, wheel
from tests.ui.local_service import LocalService

BACKLOG, QUIET = "!backlog:t", "!quiet:t"
# Sixty unread messages; the mention is far below the first unread one, where the
# timeline opens, so it is off screen until the user scrolls to it.
MENTION = "$m50"


def account() -> AccountState:
    events = [msg(f"$m{i}", ts=1_000 + i, alert=ALERT_HIGHLIGHT if f"$m{i}" == MENTION else ALERT_NOTIFY)
              for i in range(60)]
    rooms = [
        add_timeline(RoomState(BACKLOG, ME, name="Backlog"), events, limited=False),
        add_timeline(RoomState(QUIET, ME, name="Quiet"), [msg("$q1", ME, ts=10)], limited=False),
    ]
    return AccountState(ME, {r.room_id: r for r in rooms})


def status_line(screen) -> str:  # noqa: ANN001
    """The status line as drawn."""
    return screen.status.render().plain


async def test_an_unseen_mention_is_warned_of_until_the_timeline_has_shown_it() -> None:
    service = LocalService(account())
    app = RecordingApp(service, Settings(receipt_mode=ReceiptType.PRIVATE))
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await main_screen(pilot)
        assert screen.selection.room_id == BACKLOG
        # The timeline opens at the first unread message; the mention is below the pane.
        assert screen.timeline.cursor_key == "$m0"
        assert MENTION not in screen.timeline.visible_keys()
        assert screen.status.clears_text == "R: 60 msgs, 1 mention (1 unseen)"
        assert screen.status.part_style("clears") == "$warning"
        assert "R: 60 msgs, 1 mention (1 unseen)" in status_line(screen)

        # Into the timeline: r now reads up to the cursor's message only (the line says
        # so as soon as the timeline has focus); the mention, still off screen, is R's.
        await pilot.press("tab", "tab")
        await pilot.pause()
        assert screen.focused is screen.timeline
        assert MENTION not in screen.timeline.visible_keys()
        assert screen.status.clears_text == "r: 1 msg · R: 60 msgs, 1 mention (1 unseen)"
        assert screen.status.part_style("clears") == "$warning"
        # Back to the threads pane: r reads the whole thread again, as R does.
        await pilot.press("shift+tab")
        await pilot.pause()
        assert screen.focused is screen.threads
        assert screen.status.clears_text == "R: 60 msgs, 1 mention (1 unseen)"
        await pilot.press("tab")
        await pilot.pause()
        assert screen.focused is screen.timeline

        # G: the cursor goes to the last message and the mention scrolls into view.
        await pilot.press("G")
        await pilot.pause()
        assert screen.timeline.cursor_key == "$m59"
        assert MENTION in screen.timeline.visible_keys()
        assert screen.status.clears_text == "R: 60 msgs, 1 mention"
        assert screen.status.part_style("clears") == "$text-muted"
        assert "unseen" not in status_line(screen)

        # Back to the top, the mention off screen again: it has been seen, no warning.
        await pilot.press("g")
        await pilot.pause()
        assert screen.timeline.cursor_key == "$m0"
        assert MENTION not in screen.timeline.visible_keys()
        assert "unseen" not in screen.status.clears_text
        assert screen.status.part_style("clears") == "$text-muted"

        # R sends one unthreaded receipt on the latest message, and says what it cleared.
        await pilot.press("R")
        await pilot.pause()
        assert service.requests == [ReceiptRequest(BACKLOG, ReceiptType.PRIVATE, "$m59", None)]
        assert "cleared 60 msgs, 1 mention" in screen.status.last_text
        assert "unseen" not in screen.status.last_text
        assert screen.status.clears_text == ""


UNSEEN, SEEN = "R: 60 msgs, 1 mention (1 unseen)", "R: 60 msgs, 1 mention"


def warns(screen, text: str = UNSEEN) -> bool:  # noqa: ANN001
    """The status line says ``text`` of R, in the warning style when it is unseen."""
    style = "$warning" if "unseen" in text else "$text-muted"
    return screen.status.clears_text == text and screen.status.part_style("clears") == style and (
        text in status_line(screen))


@asynccontextmanager
async def opened(state: AccountState | None = None) -> AsyncIterator[tuple[Pilot, LocalService, MainScreen]]:
    """The app on ``state`` (the backlog account), private receipts, its main screen up."""
    service = LocalService(state or account())
    app = RecordingApp(service, Settings(receipt_mode=ReceiptType.PRIVATE))
    async with app.run_test(size=(160, 40)) as pilot:
        yield pilot, service, await main_screen(pilot)


async def sent_r(pilot: Pilot, service: LocalService, screen: MainScreen, room_id: str, last: str) -> str:
    """Press R: the one receipt the service got, and what the status line said of it."""
    await pilot.press("R")
    await pilot.pause()
    assert service.requests == [ReceiptRequest(room_id, ReceiptType.PRIVATE, last, None)]
    return screen.status.last_text


async def r_clears_the_seen_mention(pilot: Pilot, service: LocalService, screen: MainScreen) -> None:
    said = await sent_r(pilot, service, screen, BACKLOG, "$m59")
    assert "cleared 60 msgs, 1 mention" in said
    assert "unseen" not in said


async def test_lines_the_mouse_wheel_brings_into_view_have_been_seen() -> None:
    async with opened() as (pilot, service, screen):
        timeline = screen.timeline
        assert warns(screen)
        # Notch by notch down the timeline: the warning stays while the mention is off
        # screen, and goes with the notch that shows it, no key pressed.
        notches = 0
        while MENTION not in timeline.visible_keys():
            assert warns(screen), timeline.visible_keys()[-1]
            top = timeline.scroll_offset.y
            await wheel(pilot, timeline)
            assert timeline.scroll_offset.y > top, "the wheel did not scroll the timeline"
            notches += 1
        assert notches > 1
        assert timeline.cursor_key == "$m0"  # the wheel moves no cursor
        assert warns(screen, SEEN)

        # Back up to the top: the mention off screen again, seen, no warning.
        await wheel(pilot, timeline, down=False, times=notches)
        assert timeline.scroll_offset.y == 0
        assert MENTION not in timeline.visible_keys()
        assert warns(screen, SEEN)
        await r_clears_the_seen_mention(pilot, service, screen)


async def test_lines_a_scrollbar_drag_brings_into_view_have_been_seen() -> None:
    async with opened() as (pilot, service, screen):
        timeline = screen.timeline
        # A short drag: other lines, not the mention; the warning stays.
        await drag_scrollbar(pilot, timeline, 1, 3)
        assert timeline.scroll_offset.y > 0
        assert MENTION not in timeline.visible_keys()
        assert warns(screen)
        # The thumb to the bottom: the mention is on screen and the warning goes.
        await drag_scrollbar(pilot, timeline, 3, timeline.vertical_scrollbar.size.height - 1)
        assert MENTION in timeline.visible_keys()
        assert timeline.cursor_key == "$m0"
        assert warns(screen, SEEN)
        await r_clears_the_seen_mention(pilot, service, screen)


async def test_a_mention_under_the_last_rooms_scroll_offset_is_not_seen() -> None:
    """The timeline scrolled down in one room, then another room opened at its first
    unread message: for the moment between the new rows and the scroll to that cursor,
    the old offset would put the other room's mention in view. It never was."""
    quiet = [msg(f"$a{i}", ts=2_000 + i) for i in range(60)]
    backlog = [msg(f"$b{i}", ts=1_000 + i, alert=ALERT_HIGHLIGHT if i == 50 else ALERT_NOTIFY) for i in range(80)]
    rooms = [add_timeline(RoomState(QUIET, ME, name="Quiet"), quiet, limited=False),
             add_timeline(RoomState(BACKLOG, ME, name="Backlog"), backlog, limited=False)]
    async with opened(AccountState(ME, {r.room_id: r for r in rooms})) as (pilot, service, screen):
        timeline = screen.timeline
        assert screen.selection.room_id == QUIET  # the latest activity first
        await pilot.press("tab", "tab", "G")
        await pilot.pause()
        assert timeline.scroll_offset.y > 20
        await pilot.press("shift+tab", "shift+tab", "j")
        await pilot.pause()
        assert screen.selection.room_id == BACKLOG
        assert timeline.cursor_key == "$b0"
        assert "$b50" not in timeline.visible_keys()
        assert warns(screen, "R: 80 msgs, 1 mention (1 unseen)")
        said = await sent_r(pilot, service, screen, BACKLOG, "$b79")
        assert "cleared 80 msgs, 1 mention (1 unseen)" in said
