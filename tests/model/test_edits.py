"""Which text an edited event shows (app.model.edits)."""

from __future__ import annotations

from app.model.edits import latest_edits, latest_text
from app.model.events import REL_REPLACE, MsgType, TimelineEvent
from app.model.room import RoomState, add_timeline

ME, ALICE, BOB = "@me:test", "@alice:test", "@bob:test"


def _message(event_id: str, sender: str, ts: int, body: str) -> TimelineEvent:
    return TimelineEvent(event_id, sender, ts, "m.room.message", body)


def _edit(event_id: str, sender: str, ts: int, target: str, body: str, *, redacted: bool = False) -> TimelineEvent:
    return TimelineEvent(event_id, sender, ts, "m.room.message", body, rel_type=REL_REPLACE, relates_to=target,
                         redacted=redacted)


def _room(*events: TimelineEvent) -> RoomState:
    return add_timeline(RoomState("!r:test", ME), list(events), limited=False)


def test_the_newest_edit_by_the_sender_wins() -> None:
    room = _room(
        _message("$a", ALICE, 1, "first"),
        _edit("$e1", ALICE, 2, "$a", "second"),
        _edit("$forged", BOB, 3, "$a", "not alice's words"),
        _edit("$e2", ALICE, 4, "$a", "third"),
        _edit("$gone", ALICE, 5, "$a", "taken back", redacted=True),
    )
    assert latest_edits(room)["$a"].event_id == "$e2"
    assert latest_text(room, room.event("$a")) == "third"  # type: ignore[arg-type]


def test_an_unedited_event_and_an_empty_edit_show_their_own_text() -> None:
    room = _room(_message("$a", ALICE, 1, "as sent"), _message("$b", ALICE, 2, "kept"), _edit("$e", ALICE, 3, "$b", ""))
    assert latest_text(room, room.event("$a")) == "as sent"  # type: ignore[arg-type]
    assert latest_text(room, room.event("$b")) == "kept"  # type: ignore[arg-type]


def test_an_edit_by_someone_else_alone_changes_nothing() -> None:
    room = _room(_message("$a", ALICE, 1, "lunch at noon"), _edit("$x", BOB, 2, "$a", "lunch is cancelled"))
    assert latest_edits(room) == {}
    assert latest_text(room, room.event("$a")) == "lunch at noon"  # type: ignore[arg-type]


def test_a_new_room_state_is_looked_at_anew() -> None:
    """The edits of the last room asked about are kept; a changed room (a new object) is
    read again."""
    before = _room(_message("$a", ALICE, 1, "first"))
    assert latest_text(before, before.event("$a")) == "first"  # type: ignore[arg-type]
    after = add_timeline(before, [_edit("$e", ALICE, 2, "$a", "second")], limited=False)
    assert latest_text(after, after.event("$a")) == "second"  # type: ignore[arg-type]
    assert latest_text(before, before.event("$a")) == "first"  # type: ignore[arg-type]


def test_an_edited_image_or_emote_shows_the_words_of_its_edit() -> None:
    room = _room(
        TimelineEvent("$img", ALICE, 1, "m.room.message", "cat.png", msgtype=MsgType.IMAGE),
        TimelineEvent("$fix", ALICE, 2, "m.room.message", "dog.png", rel_type=REL_REPLACE, relates_to="$img",
                      msgtype=MsgType.IMAGE),
        TimelineEvent("$emote", ALICE, 3, "m.room.message", "waves", msgtype=MsgType.EMOTE, member_name="Alice"),
        TimelineEvent("$fix2", ALICE, 4, "m.room.message", "bows", rel_type=REL_REPLACE, relates_to="$emote",
                      msgtype=MsgType.EMOTE, member_name="Alice L."),
        TimelineEvent("$file", ALICE, 5, "m.room.message", "plan.pdf", msgtype=MsgType.FILE),
        TimelineEvent("$fix3", ALICE, 6, "m.room.message", "", rel_type=REL_REPLACE, relates_to="$file",
                      msgtype=MsgType.FILE),
    )
    assert latest_text(room, room.event("$img")) == "[image] dog.png"  # type: ignore[arg-type]
    assert latest_text(room, room.event("$emote")) == "* Alice L. bows"  # type: ignore[arg-type]
    # An edit to a file without a name still says what it is: its words are not empty.
    assert latest_text(room, room.event("$file")) == "[file]"  # type: ignore[arg-type]
