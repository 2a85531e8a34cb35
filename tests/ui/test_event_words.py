"""The words each kind of event shows, from events as the server sends them (through the
translation, which keeps facts, to the panes and ``status --json``, which word them):
the timeline's lines, a thread's title, and the root preview of ``readmark status``."""

from __future__ import annotations

from typing import Any

import pytest

from app.commands import status_document
from app.matrix.translate import apply_sync
from app.model.account import AccountState
from app.model.ids import MAIN
from app.ui.describe import thread_title
from app.ui.glyphs import FANCY
from app.ui.widgets.timeline import build_rows
from tests.ui.recorded import ALICE, BOB, ME

ROOM = "!words:example.org"
_ts = iter(range(1_000, 10**9, 1_000))


def _event(event_id: str, etype: str, content: dict[str, Any], sender: str = ALICE, **fields: Any) -> dict[str, Any]:
    return {"type": etype, "event_id": event_id, "sender": sender, "origin_server_ts": next(_ts),
            "content": content, **fields}


def _message(event_id: str, msgtype: str, body: str, **content: Any) -> dict[str, Any]:
    return _event(event_id, "m.room.message", {"msgtype": msgtype, "body": body, **content})


def _room(*events: dict[str, Any]):  # noqa: ANN202 - a RoomState
    alice = _event("$alice-joins", "m.room.member", {"membership": "join", "displayname": "Alice L."},
                   state_key=ALICE)
    sync = {"next_batch": "s1", "rooms": {"join": {ROOM: {
        "state": {"events": [alice]}, "timeline": {"events": list(events), "limited": False}}}}}
    return apply_sync(AccountState(ME), sync).rooms[ROOM]


def _lines(room) -> dict[str, str]:  # noqa: ANN001
    order, rows = build_rows(room, MAIN, FANCY)
    return {key: rows[key].left.plain for key in order if key.startswith("$")}


EVERY_KIND = [
    (_message("$text", "m.text", "hello\nthere"), "hello there"),
    (_message("$notice", "m.notice", "a bot speaks"), "a bot speaks"),
    (_message("$emote", "m.emote", "waves"), "* Alice L. waves"),
    (_message("$image", "m.image", "cat.png"), "[image] cat.png"),
    (_message("$file", "m.file", "plan.pdf"), "[file] plan.pdf"),
    (_message("$audio", "m.audio", "memo.ogg"), "[audio] memo.ogg"),
    (_message("$video", "m.video", ""), "[video]"),
    (_message("$where", "m.location", "Berlin"), "[location] Berlin"),
    (_message("$other", "org.example.custom", "custom"), "custom"),
    (_event("$enc", "m.room.encrypted", {"algorithm": "m.megolm.v1.aes-sha2", "ciphertext": "AAAA"}), "[encrypted]"),
    (_event("$sticker", "m.sticker", {"body": "a cat sticker"}), "[sticker] a cat sticker"),
    (_event("$poll", "m.poll.start", {"m.poll": {"question": {"m.text": "Lunch?"}}}), "[poll] Lunch?"),
    (_event("$custom", "org.example.note", {"body": "a note"}), "a note"),
    (_event("$bare", "org.example.bare", {}), "org.example.bare"),
    (_event("$stray", "m.reaction", {"key": "👍"}), "[reaction]"),
]


@pytest.mark.parametrize(("raw", "words"), EVERY_KIND, ids=[raw["event_id"] for raw, _ in EVERY_KIND])
def test_each_kind_of_event_shows_its_words_in_the_timeline_and_as_a_thread_title(raw: dict, words: str) -> None:
    reply = _event("$reply", "m.room.message", {"msgtype": "m.text", "body": "on it",
                                                "m.relates_to": {"rel_type": "m.thread", "event_id": raw["event_id"]}},
                   sender=BOB)
    room = _room(raw, reply)
    line = _lines(room)[raw["event_id"]]
    assert line.endswith(" " + words), line
    assert thread_title(room, raw["event_id"]) == words[:39] + ("…" if len(words) > 40 else words[39:])
    (thread,) = [t for r in status_document(AccountState(ME, {ROOM: room}))["rooms"] for t in r["threads"]
                 if t["thread_id"] == raw["event_id"]]
    # The preview is the event's own words: none for an event that says nothing.
    assert thread["root_preview"] == ("" if raw["event_id"] == "$bare" else words)


def test_an_edited_image_shows_the_new_file_with_edited() -> None:
    room = _room(
        _message("$img", "m.image", "cat.png"),
        _message("$fix", "m.image", "* dog.png", **{"m.new_content": {"msgtype": "m.image", "body": "dog.png"},
                                                     "m.relates_to": {"rel_type": "m.replace", "event_id": "$img"}}),
    )
    assert list(_lines(room)) == ["$img"]
    assert _lines(room)["$img"].endswith(" [image] dog.png (edited)")
    assert thread_title(room, "$img") == "[image] dog.png"


def test_membership_and_room_state_read_as_their_change_in_a_thread_title() -> None:
    """State events are not timeline lines, but an event of any kind can root a thread."""
    room = _room(
        _event("$join", "m.room.member", {"membership": "join", "displayname": "Bob"}, sender=BOB, state_key=BOB),
        _event("$topic", "m.room.topic", {"topic": "Deploys\non Fridays"}, state_key=""),
        _event("$unnamed", "m.room.name", {}, state_key=""),
    )
    assert not {"$join", "$topic", "$unnamed"} & set(_lines(room))
    assert thread_title(room, "$join") == "Bob joined"
    assert thread_title(room, "$topic") == "[topic] Deploys on Fridays"
    assert thread_title(room, "$unnamed") == "[name removed]"
