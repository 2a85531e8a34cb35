"""Edits and reactions in the timeline, from events as the server sends them (through the
translation, not hand-made): an edited message shows its newest text with "(edited)",
an edit by someone other than the sender is ignored (the spec's rule), and reactions
show as their keys with counts."""

from __future__ import annotations

from typing import Any

from app.matrix.translate import apply_sync
from app.model.account import AccountState
from app.model.ids import MAIN
from app.ui.describe import thread_title
from app.ui.glyphs import FANCY
from app.ui.widgets.timeline import build_rows
from tests.ui.recorded import ALICE, BOB, ME

ROOM = "!edits:example.org"


def _message(event_id: str, sender: str, ts: int, body: str, **content: Any) -> dict[str, Any]:
    return {"type": "m.room.message", "event_id": event_id, "sender": sender, "origin_server_ts": ts,
            "content": {"msgtype": "m.text", "body": body, **content}}


def _edit(event_id: str, sender: str, ts: int, target: str, new_text: str) -> dict[str, Any]:
    return _message(event_id, sender, ts, f"* {new_text}",
                    **{"m.new_content": {"msgtype": "m.text", "body": new_text},
                       "m.relates_to": {"rel_type": "m.replace", "event_id": target}})


def _reaction(event_id: str, sender: str, ts: int, target: str, key: str) -> dict[str, Any]:
    return {"type": "m.reaction", "event_id": event_id, "sender": sender, "origin_server_ts": ts,
            "content": {"m.relates_to": {"rel_type": "m.annotation", "event_id": target, "key": key}}}


def _lines(*events: dict[str, Any]) -> dict[str, str]:
    sync = {"next_batch": "s1", "rooms": {"join": {ROOM: {"timeline": {"events": list(events), "limited": False}}}}}
    room = apply_sync(AccountState(ME), sync).rooms[ROOM]
    order, rows = build_rows(room, MAIN, FANCY)
    return {key: rows[key].left.plain for key in order if key.startswith("$")}


def test_an_edited_message_shows_its_newest_text() -> None:
    lines = _lines(
        _message("$typo", ALICE, 1_000, "The wifi pasword is on the fridge"),
        _edit("$fix1", ALICE, 2_000, "$typo", "The wifi password is on the fridge"),
        _edit("$fix2", ALICE, 3_000, "$typo", "The wifi password is on the fridge (top shelf)"),
    )
    assert list(lines) == ["$typo"]  # edits are not lines of their own
    assert lines["$typo"].endswith("The wifi password is on the fridge (top shelf) (edited)")
    assert "pasword" not in lines["$typo"] and "* " not in lines["$typo"]


def test_an_edit_by_someone_else_is_ignored() -> None:
    lines = _lines(
        _message("$mine", ALICE, 1_000, "lunch at noon"),
        _edit("$forged", BOB, 2_000, "$mine", "lunch is cancelled"),
    )
    assert lines["$mine"].endswith("lunch at noon")
    assert "(edited)" not in lines["$mine"]


def test_reactions_show_their_keys_and_counts() -> None:
    lines = _lines(
        _message("$cake", ALICE, 1_000, "There is cake in the kitchen"),
        _reaction("$r1", BOB, 2_000, "$cake", "🎂"),
        _reaction("$r2", ME, 3_000, "$cake", "🎂"),
        _reaction("$r3", BOB, 4_000, "$cake", "😋"),
        _reaction("$r4", BOB, 5_000, "$cake", ""),  # no key: nothing to show
    )
    assert lines["$cake"].endswith("There is cake in the kitchen 🎂2 😋1")


def test_an_edited_thread_root_titles_its_thread_with_the_new_text() -> None:
    reply = {"type": "m.room.message", "event_id": "$reply", "sender": BOB, "origin_server_ts": 3_000,
             "content": {"msgtype": "m.text", "body": "on it",
                         "m.relates_to": {"rel_type": "m.thread", "event_id": "$root"}}}
    events = [_message("$root", ALICE, 1_000, "Deploy plan for Firday"), reply,
              _edit("$fix", ALICE, 4_000, "$root", "Deploy plan for Friday")]
    sync = {"next_batch": "s1", "rooms": {"join": {ROOM: {"timeline": {"events": events, "limited": False}}}}}
    room = apply_sync(AccountState(ME), sync).rooms[ROOM]
    assert thread_title(room, "$root") == "Deploy plan for Friday"
