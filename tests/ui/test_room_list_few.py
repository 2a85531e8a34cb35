"""The rooms pane's refresh for a few changed rooms (``RoomList._refresh_few``) shows what
the full refresh shows: after each of many random account changes (receipts, new
messages, flags, in grouped and flat lists, with and without unread-only and a sort),
the rows and their order equal those a full refresh then lays out."""

from __future__ import annotations

import random
import pytest

from app.model.account import RoomSort
from app.model.events import ALERT_HIGHLIGHT, ALERT_NOTIFY
from app.model.plan import ActionKind, ReceiptAction
from app.model.receipts import ReceiptType
from app.model.room import add_timeline
from tests.model.builders import ALICE, msg
from tests.ui.helpers import main_screen
from tests.ui.local_service import LocalService
from tests.ui.test_groups import account, app_for


def shown_rows(rooms) -> list[tuple[str, str]]:
    return [(key, rooms.row_text(key)) for key in rooms.keys]


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_a_few_changed_rooms_show_as_a_full_refresh_would(seed: int, monkeypatch) -> None:
    from app.ui.widgets.room_list import RoomList

    handled = []
    original = RoomList._refresh_few

    def counting(self):  # noqa: ANN001, ANN202
        before = self._last  # noqa: SLF001
        done = original(self)
        if done and before is not None and before[0] is not self.account.rooms:
            handled.append(1)
        return done

    monkeypatch.setattr(RoomList, "_refresh_few", counting)
    rng = random.Random(seed)
    service = LocalService(account())
    app = app_for(service)
    async with app.run_test(size=(160, 60)) as pilot:
        screen = await main_screen(pilot)
        rooms = screen.rooms
        ids = sorted(r for r, room in service.account.rooms.items() if not room.is_space)
        ts = 100
        for step in range(60):
            choice = rng.random()
            room_id = rng.choice(ids)
            if choice < 0.35:
                ts += 1
                room = service.account.rooms[room_id]
                alert = rng.choice([ALERT_NOTIFY, ALERT_HIGHLIGHT])
                service.deliver(add_timeline(room, [msg(f"$n{seed}_{step}", ALICE, ts=ts, alert=alert)], limited=False))
            elif choice < 0.65:
                service.submit(room_id, ReceiptAction(ActionKind.UNTHREADED, ReceiptType.PRIVATE))
            elif choice < 0.75:
                service.with_room_changes(room_id, marked_unread=not service.account.rooms[room_id].marked_unread)
            elif choice < 0.82:
                screen.view = screen.view.with_(unread_only=not screen.view.unread_only)
            elif choice < 0.88:
                screen.view = screen.view.with_(sort=rng.choice(list(RoomSort)))
            elif choice < 0.92:
                screen.view = screen.view.with_(grouped=not screen.view.grouped)
            else:
                screen.select(room_id)
            await pilot.pause()
            fast = shown_rows(rooms)
            walk = list(rooms.shown_room_ids)
            rooms._refresh_rows(full=True)  # noqa: SLF001 - the reference
            assert shown_rows(rooms) == fast, step
            assert list(rooms.shown_room_ids) == walk, step
        # The few-rooms path did most of the account changes (not only the full one).
        assert len(handled) >= 20, len(handled)
