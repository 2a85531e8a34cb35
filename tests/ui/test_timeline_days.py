"""The timeline's day headers: each day's first shown event has its date over it (times
alone are HH:MM), headers are never selected, and a date that comes back (clocks out of
order) gets a header of its own key."""

from __future__ import annotations

from datetime import datetime, timezone

from app.model.events import TimelineEvent
from app.model.ids import MAIN
from app.model.room import RoomState, add_timeline
from app.ui.glyphs import FANCY
from app.ui.widgets.timeline import DAY_PREFIX, build_rows
from tests.ui.helpers import RecordingApp, main_screen
from tests.ui.local_service import LocalService
from tests.ui.recorded import ALICE, BOB, ME

ROOM = "!days:example.org"


def _ms(day: int, hour: int, minute: int = 0) -> int:
    return int(datetime(2026, 11, day, hour, minute, tzinfo=timezone.utc).timestamp() * 1000)


def _room(times: list[int]) -> RoomState:
    events = [
        TimelineEvent(f"$e{i}", ALICE if i % 2 else BOB, ts, "m.room.message", f"message {i}")
        for i, ts in enumerate(times)
    ]
    return add_timeline(RoomState(ROOM, ME, name="Days"), events, limited=False)


def test_a_header_over_each_days_first_event() -> None:
    room = _room([_ms(27, 23, 50), _ms(27, 23, 59), _ms(28, 0, 1), _ms(28, 9), _ms(29, 8)])
    order, rows = build_rows(room, MAIN, FANCY)
    assert order == [
        DAY_PREFIX + "$e0", "$e0", "$e1",
        DAY_PREFIX + "$e2", "$e2", "$e3",
        DAY_PREFIX + "$e4", "$e4",
    ]
    headers = [rows[key] for key in order if key.startswith(DAY_PREFIX)]
    assert [row.left.plain for row in headers] == ["Fri 27 Nov 2026", "Sat 28 Nov 2026", "Sun 29 Nov 2026"]
    assert all(row.rule and not row.selectable for row in headers)


def test_a_date_that_comes_back_gets_its_own_header() -> None:
    # A clock out of order: 28th, 27th, 28th again. Keys stay unique.
    room = _room([_ms(28, 10), _ms(27, 10), _ms(28, 11)])
    order, _ = build_rows(room, MAIN, FANCY)
    assert order == [DAY_PREFIX + "$e0", "$e0", DAY_PREFIX + "$e1", "$e1", DAY_PREFIX + "$e2", "$e2"]
    assert len(set(order)) == len(order)


async def test_the_cursor_never_rests_on_a_header() -> None:
    from app.model.account import AccountState

    room = _room([_ms(27, 23, 50), _ms(28, 0, 1), _ms(28, 9)])
    app = RecordingApp(LocalService(AccountState(ME, {ROOM: room})))
    async with app.run_test(size=(160, 30)) as pilot:
        screen = await main_screen(pilot)
        await pilot.press("tab", "tab")
        timeline = screen.timeline
        assert screen.focused is timeline
        seen = []
        await pilot.press("g")
        for _ in range(6):
            seen.append(timeline.cursor_key)
            await pilot.press("j")
        assert seen[0] == "$e0" and "$e1" in seen and "$e2" in seen
        assert not any(key.startswith(DAY_PREFIX) for key in seen)
        assert timeline.highlighted_event == "$e2"
