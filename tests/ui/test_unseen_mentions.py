"""The status line's warning for mentions never on screen (issue 14): while a room's
unread mention has not been in view, the line says what R would clear with
"(1 unseen)" and in the warning style (r's part follows the focused pane); once the timeline has shown it the warning goes
and stays gone, and R's receipt then clears what the line said. A Pilot test over the
production core (LocalService)."""

from __future__ import annotations

from app.config import Settings
from app.model.account import AccountState
from app.model.events import ALERT_HIGHLIGHT, ALERT_NOTIFY
from app.model.plan import ReceiptRequest
from app.model.receipts import ReceiptType
from app.model.room import RoomState, add_timeline
from tests.model.builders import ME, msg
from tests.ui.helpers import RecordingApp, main_screen
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
