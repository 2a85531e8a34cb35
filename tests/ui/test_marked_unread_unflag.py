"""The TUI's unflag path for ``m.marked_unread`` (issue 14), on the real service and
Synapse: a room another client of mine flagged (its account-data PUT) shows the flag;
``m`` clears it: the rooms pane stops showing it, the server holds ``{"unread": false}``,
a later sync does not bring the flag back, and no read receipt was sent nor
``m.fully_read`` moved (the room's unread message stays unread, here and on the
server)."""

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
from tests.ui.test_marked_unread import CLIENT_V3, flag_on_server


def marked_unread_on_server(actor, room_id: str) -> dict | None:  # noqa: ANN001
    """The room's whole ``m.marked_unread`` content, as another client of mine reads it."""
    from app.devserver.actor import MatrixHttpError

    try:
        return actor.request("GET", f"{CLIENT_V3}/user/{actor.user_id}/rooms/{room_id}/account_data/m.marked_unread")
    except MatrixHttpError as error:
        if error.status == 404:
            return None
        raise


async def test_m_clears_a_flag_another_client_set_without_a_receipt(make_actor) -> None:
    alice, me = make_actor("alice"), make_actor("me")
    room_id = alice.create_room("Flagged elsewhere", invite=[me.user_id])
    me.join(room_id)
    first = alice.send_text(room_id, "read on my phone")
    # My other client read the first message (privately), then flagged the room; one
    # message came after, still unread.
    me.send_receipt(room_id, first, "m.read.private")
    alice.send_text(room_id, "not read yet")
    me.request("PUT", f"{CLIENT_V3}/user/{me.user_id}/rooms/{room_id}/account_data/m.marked_unread",
               {"unread": True})
    assert flag_on_server(me, room_id) is True
    alice.wait_for(lambda: me.unread_counts(room_id)[0] == 1, 10)
    receipts_before = me.room_receipts(room_id)
    fully_read_before = me.fully_read(room_id)

    app = RecordingApp(MatrixService(MatrixClient.from_session(session_of(me)), sync_timeout_ms=300),
                       Settings(receipt_mode=ReceiptType.PRIVATE))
    async with app.run_test(size=(160, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, MainScreen) and room_id in app.screen.rooms.keys
                    and app.screen.status.sync_text.endswith("live"), 30, "the room")
        screen = app.screen
        # The flag another client set, beside the one unread message.
        await until(pilot, lambda: shown(screen.rooms, room_id).split()[:4] == ["◆", "Flagged", "elsewhere", "1"],
                    10, "the flag from the server")
        screen.select(room_id)
        await pilot.pause()

        await pilot.press("m")
        # At once on screen: the unread marker again, the count kept.
        await until(pilot, lambda: "◆" not in shown(screen.rooms, room_id), 5, "the flag gone from the rooms pane")
        assert shown(screen.rooms, room_id).split()[:4] == ["●", "Flagged", "elsewhere", "1"]
        await until(pilot, lambda: marked_unread_on_server(me, room_id) == {"unread": False}, 10,
                    "the flag cleared on the server")
        assert screen.status.last_text.endswith("unmarked unread: Flagged elsewhere")

        # A sync after the unflag (it brings alice's next message and the account data's
        # echo) leaves the flag cleared.
        alice.send_text(room_id, "one more")
        await until(pilot, lambda: shown(screen.rooms, room_id).split()[:4] == ["●", "Flagged", "elsewhere", "2"],
                    10, "the next message")
        assert "◆" not in shown(screen.rooms, room_id)
        assert marked_unread_on_server(me, room_id) == {"unread": False}

        # No receipt and no marker moved: the server still counts the unread messages.
        assert me.room_receipts(room_id) == receipts_before
        assert me.fully_read(room_id) == fully_read_before
        assert me.unread_counts(room_id)[0] == 2
        await pilot.press("q")
        await pilot.pause()
    await asyncio.sleep(0)
