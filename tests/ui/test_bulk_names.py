"""The bulk-read dialog shows others' names as text, one line per room, whatever the
names hold (issue 14): markup (one that does not parse too), newlines, terminal escape
sequences, bidi controls, a name far wider than the dialog. Markup is shown as written;
controls never reach the terminal; a long name is cut with an ellipsis so the line still
ends with what the room's receipt clears. The names come as a server sends them (through
the sync translation) and, for what the dialog itself must withstand, as they could be
in the state handed to it. Pilot tests over the production core (LocalService): what is
on screen, and what the service received."""

from __future__ import annotations

from itertools import count
from typing import Any

import pytest

from app.config import Settings
from app.matrix.translate import apply_sync
from app.model.account import AccountState
from app.model.events import ALERT_NOTIFY
from app.model.receipts import ReceiptType
from app.model.room import SPACE_TYPE, RoomState, SpaceChild, add_timeline
from app.ui.screens.bulk import BulkReadScreen
from app.ui.widgets.room_list import GROUP_PREFIX
from tests.model.builders import ALICE, ME, msg
from tests.ui.helpers import RecordingApp, main_screen, screen_lines
from tests.ui.local_service import LocalService

SPACE = "!space:t"
SPACE_NAME = "Evil [/] space\n[b]x[/b] \x1b[2J"
# Each room's name, and what of it the dialog shows (before a cut for the width).
NAMES = {
    "!h0:t": ("Evil [/] space", "Evil [/] space"),
    "!h1:t": ("[b]bold[/b] [link=x]y[/link]", "[b]bold[/b] [link=x]y[/link]"),
    "!h2:t": ("line one\nline two\r\n", "line one line two"),
    "!h3:t": ("esc \x1b[31mred\x1b[0m \x1b]0;pwned\x07 \x9b2J end", "esc [31mred[0m ]0;pwned 2J end"),
    "!h4:t": ("bidi \u202egnp.exe\u202c \u2066iso\u2069 end", "bidi gnp.exe iso end"),
    "!h5:t": ("W" + "界" * 80, "W界界界"),
    "!h6:t": ("L" * 300, "LLLLLLLL"),
}
CONTROLS = ("\x1b", "\x07", "\x9b", "\r", "\u202e", "\u202c", "\u2066", "\u2069")


def synced_account() -> AccountState:
    """The space and its rooms as a server sends them: names in m.room.name events."""
    clock = count(1_000)

    def event(etype: str, content: dict[str, Any], state_key: str | None = "") -> dict[str, Any]:
        fields = {"state_key": state_key} if state_key is not None else {}
        return {"type": etype, "event_id": f"$e{next(clock)}", "sender": ALICE, "origin_server_ts": next(clock),
                "content": content, **fields}

    def joined(name: str, *extra: dict[str, Any], room_type: str | None = None) -> dict[str, Any]:
        create = {"room_version": "11", **({"type": room_type} if room_type else {})}
        state = [event("m.room.create", create), event("m.room.member", {"membership": "join"}, ME),
                 event("m.room.name", {"name": name}), *extra]
        timeline = [] if room_type else [event("m.room.message", {"msgtype": "m.text", "body": "hi"}, None)]
        return {"state": {"events": state}, "timeline": {"events": timeline, "limited": False},
                "unread_notifications": {"notification_count": len(timeline), "highlight_count": 0}}

    rooms = {room_id: joined(name) for room_id, (name, _) in NAMES.items()}
    children = [event("m.space.child", {"via": ["t"]}, room_id) for room_id in NAMES]
    rooms[SPACE] = joined(SPACE_NAME, *children, room_type=SPACE_TYPE)
    return apply_sync(AccountState(ME), {"next_batch": "s1", "rooms": {"join": rooms}})


def state_account() -> AccountState:
    """The same names as they could be in the state the dialog is given (not cleaned)."""
    ts = count(1_000)
    rooms = {room_id: add_timeline(RoomState(room_id, ME, name=name), [msg(f"$m{i}", ts=next(ts), alert=ALERT_NOTIFY)],
                                   limited=False)
             for i, (room_id, (name, _)) in enumerate(NAMES.items())}
    rooms[SPACE] = RoomState(SPACE, ME, name=SPACE_NAME, room_type=SPACE_TYPE,
                             space_children={c: SpaceChild(None, i) for i, c in enumerate(NAMES)})
    return AccountState(ME, rooms)


@pytest.mark.parametrize("width", [160, 80])
@pytest.mark.parametrize("make_account", [synced_account, state_account], ids=["synced", "state"])
async def test_hostile_names_are_shown_as_text_one_line_per_room(make_account, width: int) -> None:  # noqa: ANN001
    service = LocalService(make_account())
    app = RecordingApp(service, Settings(confirm_above=1, receipt_mode=ReceiptType.PRIVATE), grouped=True)
    async with app.run_test(size=(width, 50)) as pilot:
        screen = await main_screen(pilot)
        assert screen.rooms.move_cursor_to(GROUP_PREFIX + f"space:{SPACE}")
        screen.rooms.focus()
        await pilot.pause()
        await pilot.press("R")
        await pilot.pause()
        assert isinstance(app.screen, BulkReadScreen)
        lines = screen_lines(app)
        for line in lines:
            assert not any(control in line for control in CONTROLS), repr(line)
        # The title: the space's name on one line, its markup as written.
        titles = [line for line in lines if "Read space" in line]
        assert len(titles) == 1 and "Read space Evil [/] space [b]x[/b]" in titles[0], titles
        assert not any("x[/b]" in line and "Read space" not in line for line in lines)
        # One line per room, each ending with what its receipt clears: nothing wrapped.
        top = next(i for i, line in enumerate(lines) if "Read 7 rooms (7 PRIVATE): 7 msgs" in line)
        end = next(i for i, line in enumerate(lines) if "enter: send" in line)
        rows = [line.strip("█▌▐ ") for line in lines[top + 1:end] if line.strip("█▌▐ ")]
        assert len(rows) == len(NAMES), rows
        assert all(row.startswith("PRIVATE ") and row.endswith("  1 msg") for row in rows), rows
        names = sorted(row[len("PRIVATE "):-len("  1 msg")].strip() for row in rows)
        for room_id, (_, text) in NAMES.items():
            assert any(name.startswith(text) for name in names), (room_id, text, names)
        long_names = [name for name in names if name.startswith(("W界", "LLL"))]
        assert len(long_names) == 2 and all(name.endswith("…") for name in long_names), long_names

        # Enter: one receipt per room reached the service.
        await pilot.press("enter")
        for _ in range(3):
            await pilot.pause()
        assert sorted(request.room_id for request in service.requests) == sorted(NAMES)
        assert "bulk read of space Evil [/] space" in screen.status.last_text


async def test_the_dialog_shows_twenty_lines_and_scrolls_to_the_rest() -> None:
    """A dry run of 250 rooms lists 200 and sums up the rest; the dialog shows 20 of
    them at a time (drawn a line at a time), and the end key brings the last ones in."""
    ts = count(1_000)
    rooms = {f"!r{i:03d}:t": add_timeline(RoomState(f"!r{i:03d}:t", ME, name=f"Room {i:03d}"),
                                          [msg(f"$m{i}", ts=next(ts), alert=ALERT_NOTIFY)], limited=False)
             for i in range(250)}
    service = LocalService(AccountState(ME, rooms))
    app = RecordingApp(service, Settings(confirm_above=1, receipt_mode=ReceiptType.PRIVATE))
    async with app.run_test(size=(160, 50)) as pilot:
        await main_screen(pilot)
        await pilot.press("A")
        await pilot.pause()
        assert isinstance(app.screen, BulkReadScreen)

        def listed() -> list[str]:
            return [line.strip("█▌▐▁▇▃ ") for line in screen_lines(app) if "PRIVATE Room" in line or "more rooms" in line]

        first = listed()
        assert len(first) == 20 and all(line.endswith("  1 msg") for line in first), first
        assert not any("more rooms" in line for line in first)
        await pilot.press("end")
        await pilot.pause()
        last = listed()
        assert len(last) == 20 and last[-1].startswith("... and 50 more rooms"), last
        assert not set(first) & set(last)
        await pilot.press("escape")
        await pilot.pause()
        assert service.requests == []
