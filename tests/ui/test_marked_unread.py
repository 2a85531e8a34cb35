"""``m`` flags the selected room as unread (``m.marked_unread``), on the real service and
Synapse: the rooms pane shows the flag at once, another client of mine reads it from
account data, a second ``m`` clears it, and a read receipt clears it as the spec says;
``m.fully_read`` is never touched."""

from __future__ import annotations

import asyncio

from app.config import Settings
from app.matrix.client import MatrixClient
from app.matrix.service import MatrixService
from app.model.receipts import ReceiptType
from app.ui.screens.main import MainScreen
from tests.matrix.helpers import session_of
from tests.reliability.helpers import until
from tests.ui.helpers import RecordingApp, shown

CLIENT_V3 = "/_matrix/client/v3"


def flag_on_server(actor, room_id: str) -> bool | None:
    """What another client of mine reads: the room's m.marked_unread account data."""
    from app.devserver.actor import MatrixHttpError

    try:
        content = actor.request("GET", f"{CLIENT_V3}/user/{actor.user_id}/rooms/{room_id}/account_data/m.marked_unread")
    except MatrixHttpError as error:
        if error.status == 404:
            return None
        raise
    return content.get("unread")


async def test_m_toggles_marked_unread_and_a_receipt_clears_it(make_actor) -> None:
    alice, me = make_actor("alice"), make_actor("me")
    room_id = alice.create_room("Come back to this", invite=[me.user_id])
    me.join(room_id)
    alice.send_text(room_id, "the budget numbers")
    app = RecordingApp(MatrixService(MatrixClient.from_session(session_of(me)), sync_timeout_ms=300),
                       Settings(receipt_mode=ReceiptType.PRIVATE))
    async with app.run_test(size=(160, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, MainScreen) and room_id in app.screen.rooms.keys
                    and app.screen.status.sync_text.endswith("live"), 30, "the room")
        screen = app.screen
        screen.select(room_id)
        await pilot.pause()
        assert "◆" not in shown(screen.rooms, room_id)
        await pilot.press("m")
        await until(pilot, lambda: "◆" in shown(screen.rooms, room_id), 5, "the flag in the rooms pane")
        await until(pilot, lambda: flag_on_server(me, room_id) is True, 10, "the flag on the server")
        assert screen.status.last_text.endswith("marked unread: Come back to this")
        await pilot.press("m")
        await until(pilot, lambda: flag_on_server(me, room_id) is False, 10, "the flag cleared")
        assert "◆" not in shown(screen.rooms, room_id)

        # Flagged again, then R (a private unthreaded receipt): the receipt clears it.
        await pilot.press("m")
        await until(pilot, lambda: flag_on_server(me, room_id) is True, 10)
        fully_read_before = me.fully_read(room_id)
        await pilot.press("R")
        await until(pilot, lambda: flag_on_server(me, room_id) is False, 10, "cleared by the receipt")
        await until(pilot, lambda: "◆" not in shown(screen.rooms, room_id), 5)
        assert me.fully_read(room_id) == fully_read_before
        await pilot.press("q")
        await pilot.pause()
    await asyncio.sleep(0)
