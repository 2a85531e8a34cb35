"""The TUI driven by Pilot against the real ``MatrixService`` on the local Synapse:
the seeded room and counts show, ``r`` sends a private threaded receipt the server
accepts, and after ``p`` a public one that another member sees."""

from __future__ import annotations

import asyncio

from textual.pilot import Pilot

from app.config import Settings
from app.matrix.client import MatrixClient
from app.matrix.service import MatrixService
from app.model.receipts import ReceiptType
from app.ui.screens.main import MainScreen
from tests.ui.helpers import RecordingApp, shown


async def _until(pilot: Pilot, check, seconds: float = 20.0) -> None:  # noqa: ANN001
    for _ in range(int(seconds / 0.1)):
        if check():
            return
        await pilot.pause(0.1)
    raise AssertionError("timed out waiting for the UI")


async def _public_receipt_seen_by(other, room_id: str, user_id: str) -> str | None:  # noqa: ANN001
    """The event ``other`` sees ``user_id``'s public receipt on, from an initial sync."""
    body = await asyncio.to_thread(other.request, "GET", "/_matrix/client/v3/sync", None, {"timeout": 0})
    ephemeral = body.get("rooms", {}).get("join", {}).get(room_id, {}).get("ephemeral", {}).get("events", [])
    for event in ephemeral:
        if event.get("type") != "m.receipt":
            continue
        for event_id, types in event["content"].items():
            if user_id in types.get("m.read", {}):
                return event_id
    return None


async def test_keys_against_the_real_service(make_actor) -> None:
    alice = make_actor("alice")
    me = make_actor("me")
    room_id = alice.create_room("Ops [b]not bold[/b]", invite=[me.user_id])
    me.join(room_id)
    root = alice.send_text(room_id, "Deploy plan for Friday")
    reply = alice.send_thread_reply(room_id, root, "first reply")
    lunch = alice.send_text(room_id, "lunch?")

    client, _session = await MatrixClient.login(alice.base_url, me.user_id, f"pw-{me.user_id[1:].split(':')[0]}")
    service = MatrixService(client)
    app = RecordingApp(service, Settings(receipt_mode=ReceiptType.PRIVATE))
    async with app.run_test(size=(160, 40)) as pilot:
        await _until(
            pilot,
            lambda: isinstance(app.screen, MainScreen)
            and app.screen.selection is not None
            and app.screen.status.sync_text.endswith("live"),
        )
        screen = app.screen
        assert isinstance(screen, MainScreen)
        row = shown(screen.rooms, room_id)
        assert "Ops [b]not bold[/b]" in row and " 3 " in row and "🧵1" in row
        assert "$" not in screen.timeline.row_text(lunch)  # a message line, not an ID

        await pilot.press("r")  # private, main timeline
        await _until(pilot, lambda: screen.last_action.outcome in ("settled", "failed"))
        assert screen.last_action.outcome == "settled", screen.last_action
        assert screen.last_action.text.startswith("private receipt, main timeline")
        assert await _public_receipt_seen_by(alice, room_id, me.user_id) is None

        await pilot.press("p", "tab", "j", "r")  # public, in the thread
        await _until(pilot, lambda: screen.last_action.text.startswith("public receipt, thread"))
        await _until(pilot, lambda: screen.last_action.outcome in ("settled", "failed"))
        assert screen.last_action.outcome == "settled", screen.last_action
        assert " 3 " not in shown(screen.rooms, room_id)
        seen = None
        for _ in range(50):
            seen = await _public_receipt_seen_by(alice, room_id, me.user_id)
            if seen is not None:
                break
            await pilot.pause(0.1)
        assert seen == reply
        await pilot.press("q")
        await pilot.pause()
    assert not app.is_running
