"""An encrypted room on screen: marked in the rooms pane, its @N the count made here (the
server cannot read its mentions), and each message that cannot be read says why."""

from __future__ import annotations

import pytest

from app.model.account import AccountState
from app.model.event_text import undecryptable_text
from app.model.events import ALERT_HIGHLIGHT, ALERT_NOTIFY, TimelineEvent
from app.model.room import RoomState, ServerCounts, add_timeline, set_server_counts
from tests.ui.helpers import RecordingApp, main_screen, shown
from tests.ui.local_service import LocalService
from tests.ui.recorded import ALICE, ME, at

ROOM = "!secret:example.org"
CIPHER = '{"algorithm":"m.megolm.v1.aes-sha2","ciphertext":"AwgA","session_id":"S","sender_key":"K"}'


def secret_account() -> AccountState:
    events = [
        TimelineEvent("$plain", ALICE, at(1), "m.room.message", "the plan", ciphertext=CIPHER, alert=ALERT_NOTIFY),
        TimelineEvent("$mention", ALICE, at(2), "m.room.message", "me: look", ciphertext=CIPHER, alert=ALERT_HIGHLIGHT),
        TimelineEvent("$held", ALICE, at(3), "m.room.encrypted", ciphertext=CIPHER, undecryptable="withheld:m.unverified",
                      alert=ALERT_NOTIFY),
        TimelineEvent("$waiting", ALICE, at(4), "m.room.encrypted", ciphertext=CIPHER, undecryptable="no-key",
                      alert=ALERT_NOTIFY),
    ]
    room = add_timeline(RoomState(ROOM, ME, name="Secret plans", encrypted=True), events, limited=False)
    # The server counts every encrypted message and highlights none.
    room = set_server_counts(room, ServerCounts(4, 0), {})
    return AccountState(ME, {ROOM: room})


async def test_an_encrypted_room_shows_its_own_highlights_and_why_messages_are_unreadable() -> None:
    app = RecordingApp(LocalService(secret_account()))
    async with app.run_test(size=(250, 30)) as pilot:
        screen = await main_screen(pilot)
        row = shown(screen.rooms, ROOM)
        assert "Secret plans 🔒" in row and row.split()[-2:] == ["4", "@1"], row
        await pilot.press("tab", "tab")
        await pilot.pause()
        assert "[encrypted: key withheld: this device is not verified]" in shown(screen.timeline, "$held")
        assert "[encrypted: waiting for the key]" in shown(screen.timeline, "$waiting")
        assert "me: look" in shown(screen.timeline, "$mention")


@pytest.mark.parametrize(
    ("reason", "text"),
    [
        ("", "[encrypted]"),
        ("no-key", "[encrypted: waiting for the key]"),
        ("unknown-index", "[encrypted: sent before this device had the key]"),
        ("withheld:m.blacklisted", "[encrypted: key withheld: the sender blocks this device]"),
        ("withheld:m.made_up", "[encrypted: key withheld (m.made_up)]"),
        ("replay", "[encrypted: rejected: a replayed message]"),
        ("mismatch", "[encrypted: rejected: its key is not its sender's]"),
        ("no-store", "[encrypted: readable in the readmark that owns this profile]"),
        ("nonsense", "[encrypted: unreadable]"),
    ],
)
def test_each_reason_in_words(reason: str, text: str) -> None:
    assert undecryptable_text(reason) == text
