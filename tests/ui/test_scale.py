"""A 1,000-room, 10,000-thread account: a sync that changes one room rebuilds one row,
not a thousand, and the panes stay responsive."""

from __future__ import annotations


from app.model.account import AccountState
from app.model.ids import MAIN
from app.model.room import RoomState, add_timeline
from app.model.summary import RoomSummary
from app.ui.widgets.room_list import RoomList
from app.ui.widgets.thread_list import ThreadList
from tests.ui.helpers import RecordingApp, main_screen, shown
from tests.ui.local_service import LocalService
from tests.ui.recorded import ALICE, BOB, ME, in_thread, message

ROOMS = 1_000
THREADS_PER_ROOM = 10


def big_account() -> AccountState:
    rooms = {}
    for r in range(ROOMS):
        room_id = f"!room{r:04d}:example.org"
        events = []
        for t in range(THREADS_PER_ROOM):
            root = f"$r{r}-root{t}"
            events.append(message(root, ALICE, t, f"topic {t} in room {r}"))
            events.append(in_thread(f"$r{r}-reply{t}", root, BOB, t + 1, "reply"))
        rooms[room_id] = add_timeline(RoomState(room_id, ME, name=f"room {r:04d}"), events, limited=False)
    return AccountState(ME, rooms)


async def test_one_changed_room_rebuilds_one_row(monkeypatch) -> None:
    service = LocalService(big_account())
    built: list[str] = []
    original = RoomList._room_row

    def counting(summary: RoomSummary, glyphs_on: bool, depth: int = 0):  # noqa: ANN202
        built.append(summary.room_id)
        return original(summary, glyphs_on, depth)

    monkeypatch.setattr(RoomList, "_room_row", staticmethod(counting))
    thread_rows: list[str] = []
    original_thread_row = ThreadList._thread_row

    def counting_thread(room, *args):  # noqa: ANN001, ANN002, ANN202
        thread_rows.append(room.room_id)
        return original_thread_row(room, *args)

    monkeypatch.setattr(ThreadList, "_thread_row", staticmethod(counting_thread))

    app = RecordingApp(service)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await main_screen(pilot)
        assert len(screen.rooms.keys) == ROOMS
        # Rows are made when first drawn: the start built those on screen, not 1,000.
        on_screen = screen.rooms.keys[: screen.rooms.scrollable_content_region.height]
        assert 20 < len(on_screen) < ROOMS
        assert set(built) == set(on_screen)
        built.clear()
        thread_rows.clear()
        target = "!room0500:example.org"
        before = list(screen.rooms.keys)
        assert before.index(target) == 500  # same activity everywhere: by name
        room = service.room(target)
        service.deliver(add_timeline(room, [message("$news", ALICE, 59, "news")], limited=False))
        await pilot.pause()
        # The work is one row, not a thousand (a time here would be a timed test).
        assert built == [target]
        assert thread_rows == []  # the threads pane shows another room: untouched
        assert " 21 " in shown(screen.rooms, target)
        # The newest activity moves it to the top; every other row keeps its place.
        assert list(screen.rooms.keys) == [target] + [key for key in before if key != target]
        await pilot.press("r")  # a receipt in the selected room rebuilds only that room's threads
        await pilot.pause()
        assert set(thread_rows) <= {screen.selection.room_id}
        assert screen.selection.thread_id == MAIN
