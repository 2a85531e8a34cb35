"""Sync translation: recorded bodies from a real Synapse, hand-made edge cases, and
hypothesis fuzzing of malformed syncs.

The recorded files (``tests/matrix/recorded/``) come from ``tests/matrix/record_sync.py``;
each scenario has a ``<name>.labels.json`` naming the users, rooms and events it made,
and numbered sync bodies ``<name>.NN-<step>.json`` as the server sent them.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.matrix.naming import MAX_SPACE_CHILDREN, MAX_SPACE_PARENTS
from app.matrix.sync_filter import EVENT_FIELDS, sync_filter
from app.matrix.translate import (
    PREVIEW_MAX_CHARS,
    SyncFormatError,
    apply_sync,
    apply_sync_changes,
    clean_text,
    decoded,
    parse_sync,
    timeline_events,
)
from app.model.account import AccountState, sorted_rooms
from app.model.edits import latest_text
from app.model.event_text import event_text
from app.model.events import Membership, MsgType, TimelineEvent
from app.model.ids import MAIN
from app.model.receipts import Receipt, ReceiptKey, ReceiptType
from app.model.room import RECEIPT_MODES, RECEIPT_POLICY_TYPE, ServerCounts, SpaceChild, SpaceParent, add_pending
from app.model.unread import room_unread, thread_unread, threads_unread

ME = "@me:test"
ALICE = "@alice:test"
BOB = "@bob:test"
ROOM = "!room:test"

RECORDED = Path(__file__).parent / "recorded"


# ---- builders for hand-made syncs ------------------------------------------------------

_clock = iter(range(1_000, 10**9, 1_000))


def ev(event_id: str, sender: str = ALICE, body: str | None = None, **content: Any) -> dict[str, Any]:
    """A text message; extra keyword arguments go into its content."""
    content.setdefault("msgtype", "m.text")
    content.setdefault("body", event_id if body is None else body)
    return {
        "type": "m.room.message",
        "event_id": event_id,
        "sender": sender,
        "origin_server_ts": next(_clock),
        "content": content,
    }


def thread_reply(event_id: str, root: str, sender: str = ALICE) -> dict[str, Any]:
    event = ev(event_id, sender)
    event["content"]["m.relates_to"] = {"rel_type": "m.thread", "event_id": root, "is_falling_back": True}
    return event


def state(etype: str, state_key: str, content: dict[str, Any], sender: str = ALICE) -> dict[str, Any]:
    return {
        "type": etype,
        "state_key": state_key,
        "sender": sender,
        "event_id": f"$state-{next(_clock)}",
        "origin_server_ts": next(_clock),
        "content": content,
    }


def receipt(event_id: str, user: str, receipt_type: str = "m.read", thread_id: str | None = None) -> dict[str, Any]:
    fields: dict[str, Any] = {"ts": 7}
    if thread_id is not None:
        fields["thread_id"] = thread_id
    return {"type": "m.receipt", "content": {event_id: {receipt_type: {user: fields}}}}


def joined(
    events: list[Any] = (),  # type: ignore[assignment]
    *,
    limited: bool = False,
    state_events: list[Any] = (),  # type: ignore[assignment]
    ephemeral: list[Any] = (),  # type: ignore[assignment]
    account_data: list[Any] = (),  # type: ignore[assignment]
    notifications: tuple[int, int] | None = (0, 0),
    threads: dict[str, tuple[int, int]] | None = None,
    summary: dict[str, Any] | None = None,
) -> dict[str, Any]:
    room: dict[str, Any] = {
        "timeline": {"events": list(events), "limited": limited, "prev_batch": "p"},
        "state": {"events": list(state_events)},
        "ephemeral": {"events": list(ephemeral)},
        "account_data": {"events": list(account_data)},
    }
    if notifications is not None:
        room["unread_notifications"] = {"notification_count": notifications[0], "highlight_count": notifications[1]}
    if threads is not None:
        room["unread_thread_notifications"] = {
            root: {"notification_count": n, "highlight_count": h} for root, (n, h) in threads.items()
        }
    if summary is not None:
        room["summary"] = summary
    return room


def sync(join: dict[str, Any] | None = None, next_batch: str = "s1", **sections: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"next_batch": next_batch, "rooms": {"join": join or {}}}
    for name in ("invite", "leave"):
        if name in sections:
            body["rooms"][name] = sections.pop(name)
    body.update(sections)
    return body


def fresh() -> AccountState:
    return AccountState(ME)


def one_room(*events: Any, **kw: Any) -> Any:
    return apply_sync(fresh(), sync({ROOM: joined(list(events), **kw)})).rooms[ROOM]


# ---- parse_sync ----------------------------------------------------------------


def test_parse_sync_accepts_bytes_text_and_dicts() -> None:
    body = {"next_batch": "s1", "rooms": {}}
    assert parse_sync(json.dumps(body).encode()) == body
    assert parse_sync(json.dumps(body)) == body
    assert parse_sync(body) is body


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(st.characters(codec=None), max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=20,
)


def _same_json(a: object, b: object) -> bool:
    """Equal, types included (1 is not 1.0, NaN is NaN), keys in the same order."""
    return json.dumps(a) == json.dumps(b) and type(a) is type(b)


@given(st.dictionaries(st.text(max_size=6), _json_values, max_size=5), st.sampled_from([None, 0, 2]))
@settings(max_examples=300)
def test_parse_sync_reads_any_object_as_json_loads_does(document: dict, indent: int | None) -> None:
    """msgspec decodes the bodies, json.loads what msgspec refuses (NaN, infinities, lone
    surrogates): either way the document is the one Python's json reads."""
    text = json.dumps(document, indent=indent, ensure_ascii=bool(indent))
    for body in (text, text.encode("utf-8", "surrogatepass")):
        assert _same_json(decoded(parse_sync(body)), json.loads(body))


@given(st.dictionaries(st.sampled_from(["join", "invite", "leave", "knock", "x"]),
                       st.dictionaries(st.sampled_from(["!a:b", "!c:d", "x"]), _json_values, max_size=3) | _json_values,
                       max_size=4))
def test_parse_sync_leaves_each_room_undecoded_until_it_is_read(rooms: dict) -> None:
    body = json.dumps({"next_batch": "s1", "rooms": rooms}).encode()
    parsed = parse_sync(body)
    assert _same_json(decoded(parsed), json.loads(body))
    sections = parsed["rooms"]
    try:
        msgspec.json.decode(body)
    except msgspec.DecodeError:
        return  # read by json.loads (NaN, a lone surrogate): decoded whole, as before
    if all(type(section) is dict for section in rooms.values()):
        assert all(type(entry) is msgspec.Raw for section in sections.values() for entry in section.values())


def _outcome(read: Any) -> tuple:
    """What applying a sync came to: refused, or the rooms with their events' IDs and text."""
    try:
        account = read()
    except SyncFormatError as error:
        assert "\n" not in str(error)
        return ("refused",)
    return ("applied", {room_id: [(e.event_id, e.body) for e in room.events] for room_id, room in account.rooms.items()})


def _as_json_loads_read_it(body: bytes) -> dict:
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as error:
        raise SyncFormatError(str(error)) from None


@pytest.mark.parametrize(
    "inside",
    [b'1e400', b'-1.8e308', b'1' * 5_000, b'"\xff"', b'"\xed\xb2\x80"', b'"\\ud800"', b'[' * 2_000 + b']' * 2_000,
     b'[' * 980 + b']' * 980, b'NaN', b'"fine"'],
    ids=["1e400", "-1.8e308", "5000-digits", "not-utf8", "cesu-surrogate", "escaped-surrogate", "deep", "990-deep",
         "nan", "plain"],
)
def test_what_a_room_or_the_account_data_holds_is_read_as_json_loads_reads_the_whole_body(inside: bytes) -> None:
    """A room's entry is decoded when the translation reaches it: whatever it holds, the
    sync is applied or refused (``SyncFormatError``, nothing applied) as it was when
    json.loads read the whole body first."""
    hostile = json.dumps(ev("$bad", body="x")).encode().replace(b'"x"', inside)
    body = (b'{"next_batch": "s2", "rooms": {"join": {"!ok:test": {"timeline": {"events": [%s]}}, '
            b'"!room:test": {"timeline": {"events": [%s]}}}}}') % (json.dumps(ev("$fine")).encode(), hostile)
    expected = _outcome(lambda: apply_sync(fresh(), _as_json_loads_read_it(body)))
    assert _outcome(lambda: apply_sync(fresh(), parse_sync(body))) == expected
    assert _outcome(lambda: apply_sync(fresh(), decoded(parse_sync(body)))) == expected
    # The same outside the rooms, which parse_sync decodes at once.
    body = b'{"next_batch": "s2", "account_data": {"events": [{"type": "org.example", "content": {"x": %s}}]}}' % inside
    expected = _outcome(lambda: apply_sync(fresh(), _as_json_loads_read_it(body)))
    assert _outcome(lambda: apply_sync(fresh(), parse_sync(body))) == expected


@pytest.mark.parametrize(
    "body",
    [b'{"a": NaN, "b": -Infinity}', b'{"a": "\\ud800x"}', b'{"a": 1e400}', b'\xef\xbb\xbf{"a": 1}',
     b'{"a": 1, "a": 2}', b'{"a": 123456789012345678901234567890}'],
    ids=["nan", "lone-surrogate", "huge-exponent", "byte-order-mark", "repeated-key", "big-int"],
)
def test_parse_sync_reads_what_msgspec_refuses_as_json_loads_does(body: bytes) -> None:
    assert _same_json(decoded(parse_sync(body)), json.loads(body))


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b"[1, 2]", b'"text"', b"null", b"\xff\xfe\xfa", b'{"a": ', b"[" * 100_000 + b"]" * 100_000],
    ids=["empty", "text", "list", "string", "null", "bad-utf8", "truncated", "deep-nesting"],
)
def test_parse_sync_refuses_what_is_not_a_json_object(body: bytes) -> None:
    with pytest.raises(SyncFormatError) as caught:
        parse_sync(body)
    assert "\n" not in str(caught.value)
    assert isinstance(caught.value, ValueError)


# ---- events ---------------------------------------------------------------------


def test_timeline_event_field_order_is_what_the_translation_assumes() -> None:
    # translate.py builds TimelineEvent positionally on its hot path.
    assert [f.name for f in dataclasses.fields(TimelineEvent)] == [
        "event_id",
        "sender",
        "ts",
        "type",
        "body",
        "rel_type",
        "relates_to",
        "state_key",
        "redacted",
        "redacts",
        "thread_reply_count",
        "msgtype",
        "membership",
        "member_name",
        "key",
        "ciphertext",
        "undecryptable",
        "alert",
    ]


def test_a_message_becomes_a_timeline_event() -> None:
    raw = ev("$m1", body="hello")
    room = one_room(raw)
    assert room.events == (
        # alert 2: the default push rules notify for a message in a group room.
        TimelineEvent("$m1", ALICE, raw["origin_server_ts"], "m.room.message", "hello", msgtype=MsgType.TEXT, alert=2),
    )
    assert room.history_complete


def test_relations_come_from_m_relates_to_and_a_rich_reply_is_not_one() -> None:
    reply = ev("$reply", **{"m.relates_to": {"m.in_reply_to": {"event_id": "$root"}}})
    room = one_room(ev("$root"), thread_reply("$t1", "$root"), reply)
    by_id = {e.event_id: e for e in room.events}
    assert (by_id["$t1"].rel_type, by_id["$t1"].relates_to) == ("m.thread", "$root")
    assert (by_id["$reply"].rel_type, by_id["$reply"].relates_to) == (None, None)
    assert room.thread_of["$reply"] == MAIN
    assert room.thread_of["$t1"] == "$root"


def test_redactions_top_level_and_in_content_mark_their_targets() -> None:
    old_style = {"type": "m.room.redaction", "event_id": "$x1", "sender": ALICE, "origin_server_ts": 1,
                 "redacts": "$m1", "content": {}}
    v11_style = {"type": "m.room.redaction", "event_id": "$x2", "sender": ALICE, "origin_server_ts": 2,
                 "content": {"redacts": "$m2"}}
    room = one_room(ev("$m1"), ev("$m2"), old_style, v11_style)
    by_id = {e.event_id: e for e in room.events}
    assert by_id["$x1"].redacts == "$m1" and by_id["$x2"].redacts == "$m2"
    assert by_id["$m1"].redacted and by_id["$m2"].redacted
    assert thread_unread(room, MAIN).unread == 0


def test_redacted_because_and_the_bundled_thread_count_are_read() -> None:
    gone = ev("$gone")
    gone["content"] = {}
    gone["unsigned"] = {"redacted_because": {"event_id": "$x"}}
    root = ev("$root")
    root["unsigned"] = {"m.relations": {"m.thread": {"count": 4, "latest_event": {}}}}
    room = one_room(gone, root)
    gone = room.events[0]
    assert gone.redacted and (gone.body, gone.msgtype, gone.member_name, gone.key) == ("", None, "", "")
    assert event_text(gone) == ""
    assert room.events[1].thread_reply_count == 4


def _reaction(key: object) -> dict[str, Any]:
    return {"type": "m.reaction", "event_id": "$a", "sender": ALICE, "origin_server_ts": 1,
            "content": {"m.relates_to": {"rel_type": "m.annotation", "event_id": "$b", "key": key}}}


def _event(etype: str, content: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"type": etype, "event_id": "$a", "sender": ALICE, "origin_server_ts": 1, "content": content, **fields}


# (sync event, the facts the model keeps, the words the screens show for them). Facts not
# named are their defaults: body "", msgtype and membership None, member_name and key "".
_TEXT, _EMOTE, _IMAGE = MsgType.TEXT, MsgType.EMOTE, MsgType.IMAGE
PREVIEW_CASES = [
    (ev("$a", body="line one\nline two\r\n\tthree"), {"body": "line one line two three", "msgtype": _TEXT},
     "line one line two three"),
    (ev("$a", body="\x1b]0;pwned\x07title\x1b[31mred\x9b"), {"body": "]0;pwnedtitle[31mred", "msgtype": _TEXT},
     "]0;pwnedtitle[31mred"),
    (ev("$a", body="[bold red]x[/]"), {"body": "[bold red]x[/]", "msgtype": _TEXT}, "[bold red]x[/]"),
    (ev("$a", body="rtl\u202eevil\u2066"), {"body": "rtlevil", "msgtype": _TEXT}, "rtlevil"),
    (ev("$a", body="lone \ud800 surrogate"), {"body": "lone surrogate", "msgtype": _TEXT}, "lone surrogate"),
    (ev("$a", body="waves", msgtype="m.emote"), {"body": "waves", "msgtype": _EMOTE, "member_name": "alice"},
     "* alice waves"),
    (ev("$a", body="cat.png", msgtype="m.image"), {"body": "cat.png", "msgtype": _IMAGE}, "[image] cat.png"),
    (ev("$a", body="report.pdf", msgtype="m.file"), {"body": "report.pdf", "msgtype": MsgType.FILE},
     "[file] report.pdf"),
    (ev("$a", body="", msgtype="m.video"), {"msgtype": MsgType.VIDEO}, "[video]"),
    (ev("$a", body="beep", msgtype="m.notice"), {"body": "beep", "msgtype": MsgType.NOTICE}, "beep"),
    (ev("$a", body=12, msgtype="m.text"), {"msgtype": _TEXT}, ""),
    (_event("m.room.encrypted", {"algorithm": "m.megolm.v1.aes-sha2", "ciphertext": "AAAA"}), {}, "[encrypted]"),
    (_event("m.sticker", {"body": "a cat", "url": "mxc://x/y"}), {"body": "a cat"}, "[sticker] a cat"),
    (_event("org.matrix.msc3381.poll.start",
            {"org.matrix.msc3381.poll.start": {"question": {"org.matrix.msc1767.text": "Lunch?"}}}),
     {"body": "Lunch?"}, "[poll] Lunch?"),
    (_event("m.poll.start", {"m.poll": {"question": {"m.text": [{"body": "Tea?"}]}}}), {"body": "Tea?"},
     "[poll] Tea?"),
    (ev("$a", body="* fixed", **{"m.new_content": {"msgtype": "m.text", "body": "fixed"},
                                 "m.relates_to": {"rel_type": "m.replace", "event_id": "$b"}}),
     {"body": "fixed", "msgtype": _TEXT, "rel_type": "m.replace", "relates_to": "$b"}, "fixed"),
    (ev("$a", body="* no new content", **{"m.relates_to": {"rel_type": "m.replace", "event_id": "$b"}}),
     {"body": "no new content", "msgtype": _TEXT, "rel_type": "m.replace", "relates_to": "$b"}, "no new content"),
    (_reaction("👍"), {"key": "👍", "rel_type": "m.annotation", "relates_to": "$b"}, "[reaction] 👍"),
    (_event("m.room.redaction", {"redacts": "$b"}), {"redacts": "$b"}, ""),
    (_event("org.example.custom", {"body": "custom\ntext"}), {"body": "custom text"}, "custom text"),
    (_event("m.room.member", {"membership": "join"}, state_key=BOB),
     {"membership": Membership.JOIN, "member_name": "bob", "state_key": BOB}, "bob joined"),
    (_event("m.room.name", {"name": "Lab\n2"}, state_key=""), {"body": "Lab 2", "state_key": ""}, "[name] Lab 2"),
    (_event("m.room.name", {"name": " "}, state_key=""), {"state_key": ""}, "[name removed]"),
    (_event("m.room.canonical_alias", {"alias": "#lab:test"}, state_key=""), {"body": "#lab:test", "state_key": ""},
     "[alias] #lab:test"),
    (_event("m.room.canonical_alias", {}, state_key=""), {"state_key": ""}, "[alias removed]"),
    (_event("m.room.topic", {"topic": "Lab\x1b[2J talk"}, state_key=""),
     {"body": "Lab[2J talk", "state_key": ""}, "[topic] Lab[2J talk"),
    (_event("m.room.power_levels", {"users": {}}, state_key=""), {"state_key": ""}, "[m.room.power_levels]"),
]


@pytest.mark.parametrize(("event", "facts", "words"), PREVIEW_CASES)
def test_events_keep_their_facts_and_read_as_one_safe_line(
    event: dict[str, Any], facts: dict[str, Any], words: str
) -> None:
    (translated,) = one_room(event).events
    defaults = {"body": "", "msgtype": None, "membership": None, "member_name": "", "key": "", "rel_type": None,
                "relates_to": None, "state_key": None, "redacts": None}
    expected = {**defaults, **facts}
    assert {name: getattr(translated, name) for name in expected} == expected
    # Enum members, not look-alike strings: the cache stores and checks them by value.
    for name in ("msgtype", "membership"):
        assert expected[name] is None or getattr(translated, name) is expected[name]
    assert event_text(translated) == words


@pytest.mark.parametrize("key", ["👍", "+1", "[reaction]", ""])
def test_a_reactions_key_is_a_field(key: str) -> None:
    (reaction,) = one_room(_reaction(key)).events
    assert (reaction.key, reaction.body) == (key, "")
    assert event_text(reaction) == (f"[reaction] {key}" if key else "[reaction]")


@pytest.mark.parametrize(
    ("key", "kept"),
    [
        ("\x1b[31m👍\x07", "[31m👍"),
        ("x" * 100, "x" * 39 + "…"),
        (["👍"], ""),
        (None, ""),
    ],
)
def test_a_reactions_key_is_cleaned_and_bounded(key: object, kept: str) -> None:
    assert one_room(_reaction(key)).events[0].key == kept


def test_a_reaction_with_no_relation_has_no_key() -> None:
    (reaction,) = one_room(_event("m.reaction", {"key": "👍"})).events
    assert (reaction.key, reaction.rel_type, event_text(reaction)) == ("", None, "[reaction]")


@pytest.mark.parametrize(
    ("msgtype", "expected"),
    [
        ("m.text", MsgType.TEXT),
        ("m.notice", MsgType.NOTICE),
        ("m.emote", MsgType.EMOTE),
        ("m.image", MsgType.IMAGE),
        ("m.file", MsgType.FILE),
        ("m.audio", MsgType.AUDIO),
        ("m.video", MsgType.VIDEO),
        ("m.location", MsgType.LOCATION),
        ("m.key.verification.request", MsgType.OTHER),
        ("org.example.custom", MsgType.OTHER),
        ("", MsgType.OTHER),
        (7, MsgType.OTHER),
        (["m.image"], MsgType.OTHER),
        ({"m.image": 1}, MsgType.OTHER),
        (None, MsgType.OTHER),
    ],
)
def test_every_msgtype_is_kept_and_any_other_value_is_other(msgtype: object, expected: MsgType) -> None:
    (message,) = one_room(ev("$a", body="hello there", msgtype=msgtype)).events
    assert message.msgtype is expected
    assert message.body == "hello there"


def test_a_message_without_a_msgtype_is_other() -> None:
    raw = ev("$a", body="plain")
    del raw["content"]["msgtype"]
    (message,) = one_room(raw).events
    assert (message.msgtype, message.body, event_text(message)) == (MsgType.OTHER, "plain", "plain")


@pytest.mark.parametrize(
    ("msgtype", "words"),
    [
        ("m.audio", "[audio] memo.ogg"),
        ("m.video", "[video] memo.ogg"),
        ("m.location", "[location] memo.ogg"),
        ("m.file", "[file] memo.ogg"),
        ("m.image", "[image] memo.ogg"),
        ("m.notice", "memo.ogg"),
        ("org.example.custom", "memo.ogg"),
    ],
)
def test_each_media_msgtype_reads_as_its_label_and_file_name(msgtype: str, words: str) -> None:
    (message,) = one_room(ev("$a", body="memo.ogg", msgtype=msgtype)).events
    assert message.body == "memo.ogg"
    assert event_text(message) == words


def test_non_message_events_have_no_msgtype() -> None:
    room = one_room(
        _event("m.sticker", {"body": "a cat", "msgtype": "m.image"}),
        state("m.room.message", "", {"body": "as state", "msgtype": "m.text"}),
    )
    assert [e.msgtype for e in room.events] == [None, None]
    assert [event_text(e) for e in room.events] == ["[sticker] a cat", "[m.room.message]"]


@pytest.mark.parametrize(
    ("membership", "expected", "verb"),
    [
        ("join", Membership.JOIN, "joined"),
        ("leave", Membership.LEAVE, "left"),
        ("invite", Membership.INVITE, "was invited"),
        ("ban", Membership.BAN, "was banned"),
        ("knock", Membership.KNOCK, "knocked"),
        ("restrict", Membership.OTHER, "changed membership"),
        (None, Membership.OTHER, "changed membership"),
        (3, Membership.OTHER, "changed membership"),
        (["join"], Membership.OTHER, "changed membership"),  # unhashable: must not stop the room
        ({"join": True}, Membership.OTHER, "changed membership"),
    ],
)
def test_every_membership_is_kept_with_whose_it_is(membership: object, expected: Membership, verb: str) -> None:
    content: dict[str, Any] = {"displayname": "Bob B."}
    if membership is not None:
        content["membership"] = membership
    room = one_room(state("m.room.member", BOB, content), ev("$after"))
    member, after = room.events
    assert member.membership is expected
    assert (member.state_key, member.member_name, member.body, member.msgtype) == (BOB, "Bob B.", "", None)
    assert event_text(member) == f"Bob B. {verb}"
    assert after.event_id == "$after"  # the rest of the room translated


def test_a_membership_change_names_the_member_as_its_own_event_left_them() -> None:
    """The name a membership change carries is the one its own event gives (a leave has
    none: the localpart), not what later state says."""
    room = one_room(
        state("m.room.member", BOB, {"membership": "join", "displayname": "Bob"}),
        state("m.room.member", BOB, {"membership": "leave"}),
        state("m.room.member", BOB, {"membership": "join", "displayname": "Robert"}),
    )
    assert [(e.membership, e.member_name) for e in room.events] == [
        (Membership.JOIN, "Bob"), (Membership.LEAVE, "bob"), (Membership.JOIN, "Robert")]
    assert [event_text(e) for e in room.events] == ["Bob joined", "bob left", "Robert joined"]
    assert room.member_names[BOB] == "Robert"


def test_a_membership_change_for_a_malformed_state_key_names_it_cleaned() -> None:
    room = one_room(state("m.room.member", "not a user\x1b[2J " + "z" * 200, {"membership": "join"}))
    (member,) = room.events
    assert member.member_name == "not a user[2J " + "z" * 105 + "…"
    assert len(member.member_name) == 120
    assert event_text(member) == member.member_name + " joined"
    assert member.membership is Membership.JOIN


def test_emotes_use_the_senders_display_name_at_their_moment() -> None:
    room = one_room(
        ev("$e", body="waves", msgtype="m.emote"),
        state("m.room.member", ALICE, {"membership": "join", "displayname": "Alice L."}),
        ev("$f", body="waves again", msgtype="m.emote"),
        state_events=[state("m.room.member", ALICE, {"membership": "join", "displayname": "Alice"})],
    )
    first, _, second = room.events
    assert (first.msgtype, first.member_name, first.body) == (MsgType.EMOTE, "Alice", "waves")
    assert event_text(first) == "* Alice waves"
    assert (second.member_name, event_text(second)) == ("Alice L.", "* Alice L. waves again")


def test_each_events_alert_follows_the_rooms_state_at_its_moment() -> None:
    """The push rules see the room as it was at each event: my display name and who may
    notify the room at that point of the timeline (the contexts are reused between
    events of a sender only while none of it changes)."""
    from app.model.events import ALERT_HIGHLIGHT, ALERT_NOTIFY, ALERT_SILENT

    def rule(rule_id: str, *conditions: dict[str, Any]) -> dict[str, Any]:
        return {"rule_id": rule_id, "default": False, "enabled": True, "conditions": list(conditions),
                "actions": ["notify", {"set_tweak": "highlight"}]}

    rules = {"global": {"override": [
        rule("name", {"kind": "contains_display_name"}),
    ], "underride": [{"rule_id": "rest", "default": False, "enabled": True, "conditions": [], "actions": ["notify"]}]}}
    everyone = {"m.mentions": {"room": True}}
    me_as = lambda name: state("m.room.member", ME, {"membership": "join", "displayname": name}, sender=ME)  # noqa: E731
    events = [
        ev("$room1", body="@room lunch", **everyone),
        ev("$name1", body="hello Al"),
        state("m.room.power_levels", "", {"users": {ALICE: 100}, "notifications": {"room": 50}}),
        ev("$room2", body="@room lunch", **everyone),
        me_as("Zed"),
        ev("$name2", body="hello Al"),
        ev("$name3", body="hi Zed"),
        state("m.room.power_levels", "", {"users": {}, "notifications": {"room": 50}}),
        ev("$room3", body="@room lunch", **everyone),
    ]
    room_data = joined(events, state_events=[
        me_as("Al"),
        state("m.room.member", ALICE, {"membership": "join"}),
        state("m.room.power_levels", "", {"users": {}, "notifications": {"room": 50}}),
    ], summary={"m.joined_member_count": 3})
    body = sync({ROOM: room_data}, account_data={"events": [{"type": "m.push_rules", "content": rules}]})
    room = apply_sync(fresh(), body).rooms[ROOM]
    alerts = {e.event_id: e.alert for e in room.events if not e.event_id.startswith("$state")}
    assert alerts == {
        "$room1": ALERT_NOTIFY, "$name1": ALERT_HIGHLIGHT, "$room2": ALERT_HIGHLIGHT,
        "$name2": ALERT_NOTIFY, "$name3": ALERT_HIGHLIGHT, "$room3": ALERT_NOTIFY,
    }
    assert ALERT_SILENT not in alerts.values()


def test_a_syncs_repeated_strings_are_kept_once() -> None:
    """Senders, event and relation types, and the IDs relations and receipts point at are
    one string object each in the model (a decoded body gives every event its own)."""
    root = ev("$root")
    replies = [ev(f"$r{i}", **{"m.relates_to": {"rel_type": "m.thread", "event_id": "$root"}}) for i in range(3)]
    body = json.dumps(sync({ROOM: joined([root, *replies], ephemeral=[receipt("$r2", BOB)])})).encode()
    room = apply_sync(fresh(), parse_sync(body)).rooms[ROOM]
    events = room.events
    assert len({id(e.sender) for e in events}) == 1 and len({id(e.type) for e in events}) == 1
    assert all(e.relates_to is events[0].event_id for e in events[1:])
    assert len({id(e.rel_type) for e in events[1:]}) == 1
    [(key, seen)] = [(k, r) for k, r in room.receipts.items() if k.user_id == BOB]
    assert seen.event_id is events[-1].event_id


def test_backfilled_emotes_name_the_sender_by_localpart() -> None:
    (emote,) = timeline_events([ev("$e", body="waves", msgtype="m.emote")])
    assert (emote.member_name, event_text(emote)) == ("alice", "* alice waves")


def test_an_emote_with_hostile_parts_stays_one_bounded_line() -> None:
    room = one_room(
        ev("$e", body="\x1b[2J" + "w" * 5_000, msgtype="m.emote"),
        state_events=[state("m.room.member", ALICE, {"membership": "join", "displayname": "A\u202eli\nce"})],
    )
    (emote,) = room.events
    assert emote.member_name == "Ali ce"
    assert len(emote.body) == PREVIEW_MAX_CHARS and emote.body.startswith("[2Jwww")
    words = event_text(emote)
    assert words.startswith("* Ali ce [2Jwww") and words.endswith("w…")
    assert len(words) == PREVIEW_MAX_CHARS


def test_an_edited_image_shows_the_new_file_and_an_edited_emote_the_new_action() -> None:
    room = one_room(
        ev("$img", body="cat.png", msgtype="m.image"),
        ev("$fix", body="* dog.png", msgtype="m.image",
           **{"m.new_content": {"msgtype": "m.image", "body": "dog.png"},
              "m.relates_to": {"rel_type": "m.replace", "event_id": "$img"}}),
        ev("$emote", body="waves", msgtype="m.emote"),
        ev("$fix2", body="* waves back", msgtype="m.emote",
           **{"m.new_content": {"msgtype": "m.emote", "body": "waves back"},
              "m.relates_to": {"rel_type": "m.replace", "event_id": "$emote"}}),
    )
    image, fix, emote, fix2 = room.events
    assert (fix.msgtype, fix.body, fix.is_edit) == (MsgType.IMAGE, "dog.png", True)
    assert latest_text(room, image) == "[image] dog.png"
    assert event_text(image) == "[image] cat.png"
    assert (fix2.msgtype, fix2.body, fix2.member_name) == (MsgType.EMOTE, "waves back", "alice")
    assert latest_text(room, emote) == "* alice waves back"


def test_an_edit_whose_new_content_changes_the_msgtype_takes_the_new_one() -> None:
    room = one_room(
        ev("$a", body="see attached"),
        ev("$b", body="* plan.pdf", **{"m.new_content": {"msgtype": "m.file", "body": "plan.pdf"},
                                      "m.relates_to": {"rel_type": "m.replace", "event_id": "$a"}}),
    )
    original, edit = room.events
    assert (original.msgtype, edit.msgtype) == (MsgType.TEXT, MsgType.FILE)
    assert latest_text(room, original) == "[file] plan.pdf"


def test_poll_questions_stickers_and_topics_are_cleaned_and_bounded() -> None:
    room = one_room(
        _event("m.poll.start", {"m.poll": {"question": {"m.text": "\u2066Lunch\x00?" + "?" * 400}}}),
        {**_event("m.sticker", {"body": "a\ncat\x07"}), "event_id": "$s"},
        state("m.room.topic", "", {"topic": "t" * 1_000}),
    )
    poll, sticker, topic = room.events
    assert poll.body.startswith("Lunch?") and len(poll.body) == PREVIEW_MAX_CHARS
    assert len(event_text(poll)) == PREVIEW_MAX_CHARS and event_text(poll).startswith("[poll] Lunch?")
    assert (sticker.body, event_text(sticker)) == ("a cat", "[sticker] a cat")
    assert len(topic.body) == PREVIEW_MAX_CHARS
    assert event_text(topic) == "[topic] " + "t" * (PREVIEW_MAX_CHARS - 9) + "…"


def test_a_redacted_event_keeps_no_facts() -> None:
    member = state("m.room.member", BOB, {"membership": "join", "displayname": "Bob"})
    member["unsigned"] = {"redacted_because": {"event_id": "$x"}}
    reaction = {**_reaction("👍"), "event_id": "$r", "unsigned": {"redacted_because": {"event_id": "$y"}}}
    emote = ev("$e", body="waves", msgtype="m.emote")
    room = one_room(member, reaction, emote, _event("m.room.redaction", {"redacts": "$e"}, event_id="$x2"))
    for event in room.events[:3]:
        assert event.redacted
        assert (event.body, event.msgtype, event.membership, event.member_name, event.key) == ("", None, None, "", "")
        assert event_text(event) == ""
    assert room.member_names[BOB] == "Bob"  # its state still applied


def test_huge_bodies_are_cut() -> None:
    (message,) = one_room(ev("$a", body="x" * 5_000_000)).events
    assert len(message.body) == PREVIEW_MAX_CHARS
    assert message.body.endswith("…")
    assert event_text(message) == message.body
    (image,) = one_room(ev("$i", body="x" * 5_000_000, msgtype="m.image")).events
    assert len(image.body) == PREVIEW_MAX_CHARS
    words = event_text(image)
    assert len(words) == PREVIEW_MAX_CHARS and words.startswith("[image] xxx") and words.endswith("x…")
    assert clean_text("word " * 1000).endswith("…")


def test_state_events_in_the_timeline_are_events_too() -> None:
    room = one_room(state("m.room.name", "", {"name": "Lab"}), ev("$m"))
    assert room.events[0].state_key == ""
    assert room.events[0].is_state
    assert room.name == "Lab"


def test_timeline_events_for_backfill_skip_malformed_ones() -> None:
    events = timeline_events([ev("$a"), {"event_id": 3}, None, thread_reply("$t", "$a"), "junk"])
    assert [e.event_id for e in events] == ["$a", "$t"]


def test_a_limited_timeline_on_a_known_room_records_a_gap() -> None:
    account = apply_sync(fresh(), sync({ROOM: joined([ev("$a"), ev("$b")])}))
    account = apply_sync(account, sync({ROOM: joined([ev("$y"), ev("$z")], limited=True)}, next_batch="s2"))
    room = account.rooms[ROOM]
    assert [e.event_id for e in room.events] == ["$a", "$b", "$y", "$z"]
    assert room.gaps_before == frozenset({"$y"})
    assert account.next_batch == "s2"


def test_a_limited_timeline_that_starts_with_a_loaded_event_leaves_no_gap() -> None:
    a, b = ev("$a"), ev("$b")
    account = apply_sync(fresh(), sync({ROOM: joined([a, b])}))
    # An initial sync again (say the token expired): the window overlaps what is loaded.
    account = apply_sync(account, sync({ROOM: joined([b, ev("$c")], limited=True)}))
    room = account.rooms[ROOM]
    assert [e.event_id for e in room.events] == ["$a", "$b", "$c"]
    assert room.gaps_before == frozenset()
    assert not threads_unread(room)[MAIN].lower_bound


def test_apply_sync_refuses_what_is_not_an_object() -> None:
    with pytest.raises(SyncFormatError):
        apply_sync(fresh(), [1, 2])  # type: ignore[arg-type]


def test_a_limited_first_timeline_is_not_the_start_of_history() -> None:
    room = one_room(ev("$a"), limited=True)
    assert not room.history_complete
    assert threads_unread(room)[MAIN].lower_bound


# ---- names -------------------------------------------------------------------------


def test_name_then_alias_then_heroes() -> None:
    named = one_room(state_events=[state("m.room.name", "", {"name": "Lab"}),
                                   state("m.room.canonical_alias", "", {"alias": "#lab:test"})])
    assert named.name == "Lab"
    aliased = one_room(state_events=[state("m.room.canonical_alias", "", {"alias": "#lab:test"})])
    assert aliased.name == "#lab:test"
    heroes = one_room(
        state_events=[
            state("m.room.member", ALICE, {"membership": "join", "displayname": "Alice"}),
            state("m.room.member", BOB, {"membership": "join", "displayname": "Bob"}),
        ],
        summary={"m.heroes": [ALICE, BOB], "m.joined_member_count": 3, "m.invited_member_count": 0},
    )
    assert heroes.name == "Alice and Bob"


def test_summary_keys_that_are_absent_keep_their_old_values() -> None:
    summary = {"m.heroes": [ALICE, BOB], "m.joined_member_count": 3, "m.invited_member_count": 1}
    account = apply_sync(fresh(), sync({ROOM: joined(summary=summary)}))
    account = apply_sync(account, sync({ROOM: joined(summary={"m.invited_member_count": 0})}))
    inputs = account.rooms[ROOM].name_inputs
    assert (inputs.heroes, inputs.joined, inputs.invited) == ((ALICE, BOB), 3, 0)


def test_timeline_state_comes_after_the_state_block() -> None:
    room = one_room(
        state("m.room.name", "", {"name": "New"}),
        state_events=[state("m.room.name", "", {"name": "Old"})],
    )
    assert room.name == "New"


def test_state_after_wins_over_the_timeline() -> None:
    data = joined([state("m.room.name", "", {"name": "In timeline"})])
    del data["state"]
    data["state_after"] = {"events": [state("m.room.name", "", {"name": "After"})]}
    assert apply_sync(fresh(), sync({ROOM: data})).rooms[ROOM].name == "After"


def test_hostile_names_are_sanitised() -> None:
    room = one_room(state_events=[
        state("m.room.name", "", {"name": "\x1b]0;pwned\x07[bold red]x[/]\nsecond line"}),
        state("m.room.member", ALICE, {"membership": "join", "displayname": "Al\x00ice\x1b[2J"}),
    ])
    assert room.name == "]0;pwned[bold red]x[/] second line"
    assert room.member_names[ALICE] == "Alice[2J"


def test_a_removed_display_name_falls_back_to_the_user_id() -> None:
    account = apply_sync(fresh(), sync({ROOM: joined(state_events=[
        state("m.room.member", ALICE, {"membership": "join", "displayname": "Alice"})])}))
    account = apply_sync(account, sync({ROOM: joined([state("m.room.member", ALICE, {"membership": "join"})])}))
    assert ALICE not in account.rooms[ROOM].member_names


# ---- receipts and markers --------------------------------------------------------------


def test_receipts_are_stored_by_user_type_and_thread_for_everyone() -> None:
    room = one_room(
        ev("$root"), thread_reply("$t1", "$root"), ev("$m2"),
        ephemeral=[
            receipt("$root", ME, "m.read", None),
            receipt("$t1", ME, "m.read.private", "$root"),
            receipt("$m2", ALICE, "m.read", "main"),
            receipt("$m2", BOB, "m.unknown.receipt"),
        ],
    )
    assert dict(room.receipts) == {
        ReceiptKey(ME, ReceiptType.PUBLIC, None): Receipt("$root", 7),
        ReceiptKey(ME, ReceiptType.PRIVATE, "$root"): Receipt("$t1", 7),
        ReceiptKey(ALICE, ReceiptType.PUBLIC, "main"): Receipt("$m2", 7),
    }
    assert thread_unread(room, "$root").unread == 0
    assert thread_unread(room, MAIN).unread == 1  # $m2


def test_unthreaded_and_main_receipts_never_replace_each_other() -> None:
    room = one_room(ev("$a"), ev("$b"),
                    ephemeral=[receipt("$a", ALICE, thread_id="main"), receipt("$b", ALICE)])
    assert room.receipts[ReceiptKey(ALICE, ReceiptType.PUBLIC, "main")].event_id == "$a"
    assert room.receipts[ReceiptKey(ALICE, ReceiptType.PUBLIC, None)].event_id == "$b"


def test_others_receipts_never_move_backwards() -> None:
    account = apply_sync(fresh(), sync({ROOM: joined([ev("$a"), ev("$b")], ephemeral=[receipt("$b", ALICE)])}))
    account = apply_sync(account, sync({ROOM: joined(ephemeral=[receipt("$a", ALICE)])}))
    assert account.rooms[ROOM].receipts[ReceiptKey(ALICE, ReceiptType.PUBLIC, None)].event_id == "$b"


def test_a_confirmed_receipt_settles_my_pending_one() -> None:
    account = apply_sync(fresh(), sync({ROOM: joined([ev("$a"), ev("$b")])}))
    key = ReceiptKey(ME, ReceiptType.PRIVATE, "main")
    account = account.with_room(add_pending(account.rooms[ROOM], key, Receipt("$b")))
    account = apply_sync(account, sync({ROOM: joined(ephemeral=[receipt("$b", ME, "m.read.private", "main")])}))
    room = account.rooms[ROOM]
    assert dict(room.pending) == {}
    assert room.receipts[key].event_id == "$b"


def test_fully_read_and_marked_unread_come_from_room_account_data() -> None:
    room = one_room(
        ev("$a"),
        account_data=[
            {"type": "m.fully_read", "content": {"event_id": "$a"}},
            {"type": "com.famedly.marked_unread", "content": {"unread": True}},
        ],
    )
    assert room.fully_read == "$a"
    assert room.marked_unread
    both = one_room(account_data=[
        {"type": "m.marked_unread", "content": {"unread": False}},
        {"type": "com.famedly.marked_unread", "content": {"unread": True}},
    ])
    assert not both.marked_unread  # the stable one wins
    assert both.marked_unread_stable and not room.marked_unread_stable


def flag(event_type: str, unread: bool) -> dict[str, Any]:
    return {"type": event_type, "content": {"unread": unread}}


@pytest.mark.parametrize(("first", "later", "flagged"), [
    # The stable flag known: Famedly's, in a later sync alone, changes nothing (a fresh
    # start, with both in its one sync, would say the same).
    ([flag("m.marked_unread", False)], [flag("com.famedly.marked_unread", True)], False),
    ([flag("m.marked_unread", True)], [flag("com.famedly.marked_unread", False)], True),
    # No stable flag: Famedly's counts, whenever it comes; a stable one later wins.
    ([flag("com.famedly.marked_unread", True)], [flag("com.famedly.marked_unread", False)], False),
    ([], [flag("com.famedly.marked_unread", True)], True),
    ([flag("com.famedly.marked_unread", True)], [flag("m.marked_unread", False)], False),
])
def test_famedly_flag_counts_only_while_no_stable_flag_is_known(first: list, later: list, flagged: bool) -> None:
    account = apply_sync(fresh(), sync({ROOM: joined([ev("$a")], account_data=first)}, next_batch="s1"))
    account = apply_sync(account, sync({ROOM: joined([], account_data=later)}, next_batch="s2"))
    assert account.rooms[ROOM].marked_unread is flagged
    fresh_start = one_room(ev("$a"), account_data=[*first, *later])
    assert fresh_start.marked_unread is flagged


# ---- the receipt policy's facts -------------------------------------------------------


def policy(content: Any) -> dict[str, Any]:
    return {"type": RECEIPT_POLICY_TYPE, "content": content}


@pytest.mark.parametrize("mode", RECEIPT_MODES)
def test_the_receipt_mode_set_from_readmark_comes_from_room_account_data(mode: str) -> None:
    assert one_room(account_data=[policy({"mode": mode})]).receipt_override == mode


def test_an_empty_receipt_policy_clears_the_override_and_an_absent_one_keeps_it() -> None:
    account = apply_sync(fresh(), sync({ROOM: joined(account_data=[policy({"mode": "none"})])}))
    assert account.rooms[ROOM].receipt_override == "none"
    kept = apply_sync(account, sync({ROOM: joined([ev("$a")])}, next_batch="s2"))
    assert kept.rooms[ROOM].receipt_override == "none"
    cleared = apply_sync(kept, sync({ROOM: joined(account_data=[policy({})])}, next_batch="s3"))
    assert cleared.rooms[ROOM].receipt_override is None
    # Unchanged, a room is not copied.
    again = apply_sync(cleared, sync({ROOM: joined(account_data=[policy({})], notifications=None)}, next_batch="s4"))
    assert again.rooms[ROOM] is cleared.rooms[ROOM]


@pytest.mark.parametrize(
    "content",
    [{"mode": "loud"}, {"mode": "None"}, {"mode": None}, {"mode": 1}, {"mode": ["none"]}, {"mode": {"none": 1}},
     {"mode": "PUBLIC"}, {"other": "none"}],
)
def test_a_bad_receipt_policy_means_no_override_and_is_counted(
    content: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    account = apply_sync(fresh(), sync({ROOM: joined(account_data=[policy({"mode": "private"})])}))
    with caplog.at_level(logging.DEBUG, logger="app.matrix.translate"):
        account = apply_sync(account, sync({ROOM: joined(account_data=[policy(content)])}, next_batch="s2"))
    assert account.rooms[ROOM].receipt_override is None
    assert "sync: skipped 1 malformed item(s) in 1 room(s)" in caplog.text


@pytest.mark.parametrize("content", [None, "none", ["mode", "none"], 7])
def test_a_receipt_policy_without_an_object_content_is_skipped(content: object) -> None:
    account = apply_sync(fresh(), sync({ROOM: joined(account_data=[policy({"mode": "public"})])}))
    account = apply_sync(account, sync({ROOM: joined(account_data=[policy(content)])}, next_batch="s2"))
    assert account.rooms[ROOM].receipt_override == "public"


@pytest.mark.parametrize(("join_rule", "visibility"), [("public", "world_readable"), ("invite", "shared"),
                                                        ("knock_restricted", "joined"), ("private", "invited")])
def test_join_rule_and_history_visibility_come_from_the_state(join_rule: str, visibility: str) -> None:
    room = one_room(state_events=[
        state("m.room.join_rules", "", {"join_rule": join_rule}),
        state("m.room.history_visibility", "", {"history_visibility": visibility}),
    ])
    assert (room.join_rule, room.history_visibility) == (join_rule, visibility)


def test_the_timelines_state_changes_the_join_rule_and_a_later_sync_keeps_it() -> None:
    account = apply_sync(fresh(), sync({ROOM: joined(
        [state("m.room.join_rules", "", {"join_rule": "public"})],
        state_events=[state("m.room.join_rules", "", {"join_rule": "invite"}),
                      state("m.room.history_visibility", "", {"history_visibility": "shared"})],
    )}))
    assert account.rooms[ROOM].join_rule == "public"
    later = apply_sync(account, sync({ROOM: joined([ev("$a")])}, next_batch="s2"))
    assert (later.rooms[ROOM].join_rule, later.rooms[ROOM].history_visibility) == ("public", "shared")


@pytest.mark.parametrize("value", [1, True, ["public"], {"rule": "public"}, "", "not a token", "bell\x07"])
def test_a_bad_join_rule_or_history_visibility_is_none_and_counted(
    value: object, caplog: pytest.LogCaptureFixture
) -> None:
    account = apply_sync(fresh(), sync({ROOM: joined(state_events=[
        state("m.room.join_rules", "", {"join_rule": "public"}),
        state("m.room.history_visibility", "", {"history_visibility": "shared"}),
    ])}))
    with caplog.at_level(logging.DEBUG, logger="app.matrix.translate"):
        account = apply_sync(account, sync({ROOM: joined(state_events=[
            state("m.room.join_rules", "", {"join_rule": value}),
            state("m.room.history_visibility", "", {"history_visibility": value}),
        ])}, next_batch="s2"))
    room = account.rooms[ROOM]
    assert (room.join_rule, room.history_visibility) == (None, None)
    assert "sync: skipped 2 malformed item(s) in 1 room(s)" in caplog.text


def test_a_join_rules_event_without_its_field_leaves_none_uncounted(caplog: pytest.LogCaptureFixture) -> None:
    """As a body trimmed by an older filter's event_fields (no content.join_rule) has it."""
    account = apply_sync(fresh(), sync({ROOM: joined(state_events=[state("m.room.join_rules", "", {"join_rule": "public"})])}))
    with caplog.at_level(logging.DEBUG, logger="app.matrix.translate"):
        account = apply_sync(account, sync({ROOM: joined(state_events=[
            {"type": "m.room.join_rules", "state_key": "", "event_id": "$j", "sender": ALICE}
        ])}, next_batch="s2"))
    assert account.rooms[ROOM].join_rule is None
    assert "skipped" not in caplog.text


def test_a_join_rule_with_a_state_key_is_not_the_rooms() -> None:
    room = one_room(state_events=[state("m.room.join_rules", "x", {"join_rule": "public"})])
    assert room.join_rule is None


def test_an_invites_stripped_state_gives_its_join_rule_and_history_visibility() -> None:
    invite = {"invite_state": {"events": [
        {"type": "m.room.join_rules", "state_key": "", "sender": ALICE, "content": {"join_rule": "public"}},
        {"type": "m.room.history_visibility", "state_key": "", "sender": ALICE,
         "content": {"history_visibility": "world_readable"}},
        {"type": "m.room.member", "state_key": ME, "sender": ALICE, "content": {"membership": "invite"}},
    ]}}
    room = apply_sync(fresh(), sync(invite={ROOM: invite})).rooms[ROOM]
    assert (room.membership, room.join_rule, room.history_visibility) == ("invite", "public", "world_readable")
    bad = {"invite_state": {"events": [
        {"type": "m.room.join_rules", "state_key": "", "sender": ALICE, "content": {"join_rule": 5}},
    ]}}
    room = apply_sync(fresh(), sync(invite={ROOM: bad})).rooms[ROOM]
    assert room.join_rule is None and room.history_visibility is None


# ---- server counts ---------------------------------------------------------------------


def test_server_counts_and_a_thread_going_to_zero() -> None:
    account = apply_sync(fresh(), sync({ROOM: joined(
        [ev("$r1"), thread_reply("$t", "$r1"), ev("$r2"), thread_reply("$u", "$r2")],
        notifications=(2, 1), threads={"$r1": (1, 0), "$r2": (1, 1)})}))
    room = account.rooms[ROOM]
    assert room.server_main == ServerCounts(2, 1)
    assert dict(room.server_threads) == {"$r1": ServerCounts(1, 0), "$r2": ServerCounts(1, 1)}
    account = apply_sync(account, sync({ROOM: joined(notifications=(2, 1), threads={"$r2": (1, 1)})}))
    assert dict(account.rooms[ROOM].server_threads) == {"$r2": ServerCounts(1, 1)}
    assert thread_unread(account.rooms[ROOM], "$r1").server == ServerCounts()
    account = apply_sync(account, sync({ROOM: joined(notifications=(0, 0))}))
    assert dict(account.rooms[ROOM].server_threads) == {}
    assert account.rooms[ROOM].server_main == ServerCounts()


def test_absent_main_counts_keep_their_old_values() -> None:
    account = apply_sync(fresh(), sync({ROOM: joined(notifications=(3, 1))}))
    account = apply_sync(account, sync({ROOM: joined(notifications=None)}))
    assert account.rooms[ROOM].server_main == ServerCounts(3, 1)


# ---- invites, leaves, direct rooms ----------------------------------------------------------


def test_an_invite_gets_a_name_from_the_stripped_state() -> None:
    invite = {"invite_state": {"events": [
        {"type": "m.room.member", "state_key": ALICE, "sender": ALICE, "content": {"membership": "join", "displayname": "Alice"}},
        {"type": "m.room.member", "state_key": ME, "sender": ALICE, "content": {"membership": "invite", "is_direct": True}},
    ]}}
    account = apply_sync(fresh(), sync(invite={"!dm:test": invite}))
    room = account.rooms["!dm:test"]
    assert (room.membership, room.name, room.is_direct) == ("invite", "Alice", True)
    assert sorted_rooms(account) == []  # invites are not in the joined list
    account = apply_sync(account, sync({"!dm:test": joined([ev("$hi")])}))
    room = account.rooms["!dm:test"]
    assert room.membership == "join" and room.is_direct


def test_a_left_room_is_removed() -> None:
    account = apply_sync(fresh(), sync({ROOM: joined([ev("$a")]), "!other:test": joined()}))
    account, changed = apply_sync_changes(account, sync(leave={ROOM: {"timeline": {"events": []}}}))
    assert set(account.rooms) == {"!other:test"}
    assert changed == {ROOM}


def test_m_direct_marks_direct_rooms_and_unmarks_the_rest() -> None:
    account = apply_sync(fresh(), sync({ROOM: joined(), "!dm:test": joined()}, account_data={"events": [
        {"type": "m.direct", "content": {ALICE: ["!dm:test"]}}]}))
    assert account.rooms["!dm:test"].is_direct and not account.rooms[ROOM].is_direct
    account = apply_sync(account, sync(account_data={"events": [{"type": "m.direct", "content": {ALICE: [ROOM]}}]}))
    assert account.rooms[ROOM].is_direct and not account.rooms["!dm:test"].is_direct


def test_a_room_m_direct_named_before_the_join_is_a_dm_from_its_join() -> None:
    """Another client wrote m.direct first (the DM it made), the join came syncs later:
    the room is a DM when it arrives, though m.direct did not change since."""
    account = apply_sync(fresh(), sync({ROOM: joined()}, account_data={"events": [
        {"type": "m.direct", "content": {ALICE: ["!later:test"], "not a user": ["!x:test"]}}]}))
    assert account.direct_rooms == frozenset({"!later:test"})
    assert not account.rooms[ROOM].is_direct and "!later:test" not in account.rooms
    account, changed = apply_sync_changes(account, sync({"!later:test": joined([ev("$hi")])}))
    assert account.rooms["!later:test"].is_direct and not account.rooms[ROOM].is_direct
    assert changed == {"!later:test"}
    # A later m.direct that no longer names it makes it a room again.
    account = apply_sync(account, sync(account_data={"events": [{"type": "m.direct", "content": {}}]}))
    assert not account.rooms["!later:test"].is_direct and account.direct_rooms == frozenset()


def test_a_direct_invite_keeps_its_flag_when_m_direct_does_not_name_it() -> None:
    invite = {"invite_state": {"events": [
        {"type": "m.room.member", "state_key": ME, "sender": ALICE, "content": {"membership": "invite", "is_direct": True}},
    ]}}
    account = apply_sync(fresh(), sync(invite={"!dm:test": invite}, account_data={"events": [
        {"type": "m.direct", "content": {ALICE: ["!old:test"]}}]}))
    assert account.rooms["!dm:test"].is_direct


# ---- incremental syncs touch only their rooms -----------------------------------------------


def test_an_incremental_sync_touches_only_the_rooms_it_names() -> None:
    big = {f"!r{i}:test": joined([ev(f"$r{i}e")]) for i in range(300)}
    before = apply_sync(fresh(), sync(big))
    after, changed = apply_sync_changes(before, sync({"!r7:test": joined([ev("$new")])}, next_batch="s9"))
    assert changed == {"!r7:test"}
    assert [r for r in after.rooms if after.rooms[r] is not before.rooms[r]] == ["!r7:test"]
    assert after.next_batch == "s9"


def test_an_initial_sync_forgets_the_rooms_it_does_not_list() -> None:
    cached = apply_sync(fresh(), sync({ROOM: joined([ev("$a")]), "!left:example.org": joined([ev("$b")])}))
    initial = {"next_batch": "s9", "rooms": {"join": {ROOM: joined([ev("$c")])},
                                            "invite": {"!new:example.org": {"invite_state": {"events": []}}}}}
    assert set(apply_sync(cached, initial).rooms) == set(cached.rooms) | {"!new:example.org"}  # incremental
    account, changed = apply_sync_changes(cached, initial, initial=True)
    assert changed == {ROOM, "!new:example.org", "!left:example.org"}  # the dropped room too
    assert set(account.rooms) == {ROOM, "!new:example.org"} and account.next_batch == "s9"


def test_an_empty_sync_changes_nothing_but_the_token() -> None:
    before = apply_sync(fresh(), sync({ROOM: joined([ev("$a")])}))
    after, changed = apply_sync_changes(before, {"next_batch": "s2"})
    assert changed == frozenset()
    assert after.rooms[ROOM] is before.rooms[ROOM]
    assert after.next_batch == "s2"


# ---- spaces ---------------------------------------------------------------------------------

SPACE = "!space:test"
CHILD = "!child:test"
OTHER_CHILD = "!other:test"


def child(room_id: str, content: Any, sender: str = ALICE) -> dict[str, Any]:
    return state("m.space.child", room_id, content, sender)


def space_after(*syncs: list[Any], timeline: bool = False) -> Any:
    """The space after one sync per list of state events (in its ``state`` block, or in
    its timeline)."""
    account = fresh()
    for number, events in enumerate(syncs):
        room = joined(events) if timeline else joined(state_events=events)
        account = apply_sync(account, sync({SPACE: room}, next_batch=f"s{number}"))
    return account.rooms[SPACE]


def test_a_space_is_known_by_its_creation_type() -> None:
    space = space_after([state("m.room.create", "", {"type": "m.space", "room_version": "11"})])
    assert space.room_type == "m.space" and space.is_space
    plain = space_after([state("m.room.create", "", {"room_version": "11"})])
    assert plain.room_type is None and not plain.is_space
    for bad in (7, None, ["m.space"], {"m.space": 1}, "", "m space", "x" * 300):
        assert space_after([state("m.room.create", "", {"type": bad})]).room_type is None


def test_a_child_is_added_with_its_order_and_time() -> None:
    event = child(CHILD, {"via": ["test"], "order": "a"})
    space = space_after([event])
    assert space.space_children == {CHILD: SpaceChild("a", event["origin_server_ts"])}


def test_a_child_in_the_timeline_is_added_too() -> None:
    event = child(CHILD, {"via": ["test"]})
    space = space_after([event], timeline=True)
    assert space.space_children == {CHILD: SpaceChild(None, event["origin_server_ts"])}


@pytest.mark.parametrize(
    ("order", "kept"),
    [
        ("a", "a"),
        (" ~!09AZaz", " ~!09AZaz"),
        ("x" * 50, "x" * 50),
        ("x" * 51, None),
        ("", None),
        ("a\x7f", None),
        ("a\x1f", None),
        ("é", None),
        (7, None),
        (None, None),
        (["a"], None),
    ],
)
def test_a_childs_order_is_kept_only_when_valid(order: object, kept: str | None) -> None:
    space = space_after([child(CHILD, {"via": ["test"], "order": order})])
    assert space.space_children[CHILD].order == kept


def test_a_childs_time_is_zero_when_the_event_has_none() -> None:
    event = child(CHILD, {"via": ["test"]})
    event["origin_server_ts"] = "yesterday"
    assert space_after([event]).space_children[CHILD].ts == 0


def test_a_child_is_removed_by_an_empty_content_in_a_later_sync() -> None:
    space = space_after(
        [child(CHILD, {"via": ["test"]}), child(OTHER_CHILD, {"via": ["test"]})],
        [child(CHILD, {})],
    )
    assert set(space.space_children) == {OTHER_CHILD}


def test_a_child_removed_later_in_the_same_timeline_is_gone() -> None:
    space = space_after([child(CHILD, {"via": ["test"]}), child(CHILD, {})], timeline=True)
    assert space.space_children == {}


@pytest.mark.parametrize("via", [[], "test", {"test": 1}, [1], [None], ["test", 2], None])
def test_a_child_without_a_valid_via_is_no_child(via: object) -> None:
    content = {} if via is None else {"via": via}
    assert space_after([child(CHILD, content)]).space_children == {}
    # ... and removes one there was.
    space = space_after([child(CHILD, {"via": ["test"]})], [child(CHILD, content)])
    assert space.space_children == {}


def test_children_keyed_by_anything_but_a_room_id_are_skipped(caplog: pytest.LogCaptureFixture) -> None:
    bad_keys = ["", "#alias:test", "@alice:test", "room", "! space", "!" + "x" * 300]
    with caplog.at_level(logging.DEBUG, logger="app.matrix.translate"):
        space = space_after([child(key, {"via": ["test"]}) for key in bad_keys] + [child(CHILD, {"via": ["test"]})])
    assert set(space.space_children) == {CHILD}
    assert f"sync: skipped {len(bad_keys)} malformed item(s) in 1 room(s)" in caplog.text


def test_an_unchanged_child_leaves_the_mapping_as_it_was() -> None:
    first = space_after([child(CHILD, {"via": ["test"], "order": "a"})])
    event = child(CHILD, {"via": ["other"], "order": "a"})
    event["origin_server_ts"] = first.space_children[CHILD].ts
    account = apply_sync(AccountState(ME, {SPACE: first}), sync({SPACE: joined(state_events=[event])}))
    assert account.rooms[SPACE].space_children is first.space_children


def test_a_parent_is_kept_with_its_sender_and_canonical_flag() -> None:
    room = space_after(
        [
            state("m.space.parent", SPACE, {"via": ["test"], "canonical": True}, sender=BOB),
            state("m.space.parent", "!second:test", {"via": ["test"]}),
            state("m.space.parent", "!third:test", {"via": ["test"], "canonical": "true"}),
            state("m.space.parent", "!none:test", {"via": []}),
            state("m.space.parent", "#alias:test", {"via": ["test"]}),
        ]
    )
    assert room.space_parents == {
        SPACE: SpaceParent(BOB, True),
        "!second:test": SpaceParent(ALICE, False),
        "!third:test": SpaceParent(ALICE, False),
    }
    later = space_after([state("m.space.parent", SPACE, {"via": ["test"]})], [state("m.space.parent", SPACE, {})])
    assert later.space_parents == {}


def test_a_parent_from_a_bad_sender_is_skipped() -> None:
    event = state("m.space.parent", SPACE, {"via": ["test"]}, sender="not a user")
    assert space_after([event]).space_parents == {}


@pytest.mark.parametrize(
    ("content", "level"),
    [
        ({"events": {"m.space.child": 75}, "state_default": 20}, 75),
        ({"events": {"m.space.child": "80"}}, 80),
        ({"events": {"m.room.name": 10}, "state_default": 20}, 20),
        ({"events": {"m.space.child": "high"}, "state_default": 30}, 30),
        ({"events": "m.space.child", "state_default": 0}, 0),
        ({"state_default": None}, 50),
        ({}, 50),
    ],
)
def test_the_level_to_add_a_child_comes_from_events_then_state_default(content: dict[str, Any], level: int) -> None:
    space = space_after([state("m.room.power_levels", "", content)])
    assert space.power.space_child == level


def test_power_levels_are_kept_for_the_next_sync() -> None:
    space = space_after([state("m.room.power_levels", "", {"users": {BOB: 100}, "events": {"m.space.child": 75}})], [])
    assert space.power.space_child == 75 and space.power.of(BOB) == 100


def test_an_invite_to_a_space_is_known_as_one() -> None:
    invite = {
        "invite_state": {
            "events": [
                {"type": "m.room.create", "state_key": "", "sender": ALICE, "content": {"type": "m.space"}},
                {"type": "m.room.member", "state_key": ME, "sender": ALICE, "content": {"membership": "invite"}},
            ]
        }
    }
    room = apply_sync(fresh(), sync(invite={SPACE: invite})).rooms[SPACE]
    assert room.membership == "invite" and room.is_space


def test_a_hostile_space_keeps_a_bounded_number_of_children(caplog: pytest.LogCaptureFixture) -> None:
    """20,000 children: the first MAX_SPACE_CHILDREN are kept, the rest counted as skipped.
    Each event costs O(1) (a quadratic copy per child would not finish here)."""
    events = [child(f"!c{i}:test", {"via": ["test"]}) for i in range(20_000)]
    with caplog.at_level(logging.DEBUG, logger="app.matrix.translate"):
        space = space_after(events)
    assert len(space.space_children) == MAX_SPACE_CHILDREN == 10_000
    assert "!c0:test" in space.space_children and "!c9999:test" in space.space_children
    assert "!c10000:test" not in space.space_children
    assert "sync: skipped 10000 malformed item(s) in 1 room(s)" in caplog.text
    # A full space still takes updates and removals of the children it keeps.
    again = apply_sync(
        AccountState(ME, {SPACE: space}),
        sync({SPACE: joined(state_events=[child("!c0:test", {}), child("!c1:test", {"via": ["x"], "order": "z"})])}),
    ).rooms[SPACE]
    assert len(again.space_children) == 9_999 and again.space_children["!c1:test"].order == "z"


def test_a_hostile_room_keeps_a_bounded_number_of_parents() -> None:
    events = [state("m.space.parent", f"!p{i}:test", {"via": ["test"]}) for i in range(150)]
    room = space_after(events)
    assert len(room.space_parents) == MAX_SPACE_PARENTS == 100


# ---- the filter ----------------------------------------------------------------------------


def test_the_filter_asks_for_per_thread_counts_and_little_else() -> None:
    body = sync_filter(50)
    room = body["room"]
    assert room["timeline"] == {"limit": 50, "unread_thread_notifications": True, "lazy_load_members": True}
    assert room["state"]["lazy_load_members"] is True
    assert room["ephemeral"] == {"types": ["m.receipt"]}
    assert set(room["account_data"]["types"]) == {
        "m.fully_read", "m.marked_unread", "com.famedly.marked_unread", "org.readmark.receipt_policy"
    }
    assert body["account_data"] == {"types": ["m.direct", "m.push_rules"]}
    assert set(room["state"]["types"]) == {
        "m.room.name", "m.room.canonical_alias", "m.room.member", "m.room.encryption", "m.room.power_levels",
        "m.room.create", "m.space.child", "m.space.parent", "m.room.join_rules", "m.room.history_visibility",
    }
    # What the receipt policy reads of the state, and of the mode set from readmark.
    assert {"content.join_rule", "content.history_visibility", "content.mode"} <= set(EVENT_FIELDS)
    # What the spaces read, and no more of the power levels' events map than its one entry.
    assert {"content.via", "content.order", "content.canonical", "content.type", "content.state_default",
            "content.events.m\\.space\\.child"} <= set(EVENT_FIELDS)
    assert "content.events" not in EVENT_FIELDS
    assert body["presence"] == {"types": []}
    assert body["event_fields"] == list(EVENT_FIELDS)
    assert sync_filter(10**6)["room"]["timeline"]["limit"] == 200
    assert sync_filter(0)["room"]["timeline"]["limit"] == 1
    assert "event_fields" not in sync_filter(trim_fields=False)


# ---- malformed and hostile syncs ------------------------------------------------------------

_junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
_event_ids = st.sampled_from(["$a", "$b", "$c", "$root", "$missing", "main", "", "$", "$ space"]) | _junk
_users = st.sampled_from([ME, ALICE, BOB, "@bad", "not a user", ""]) | _junk


@st.composite
def fuzzed_events(draw: st.DrawFn) -> Any:
    """Mostly event-shaped dicts with junk in any field; sometimes pure junk."""
    if draw(st.integers(0, 9)) == 0:
        return draw(_junk)
    event: dict[str, Any] = {
        "type": draw(st.sampled_from(["m.room.message", "m.reaction", "m.room.redaction", "m.room.member",
                                      "m.room.name", "m.room.encrypted", "m.poll.start", "m.sticker",
                                      "m.room.topic", "m.room.canonical_alias", "m.room.create",
                                      "m.room.power_levels", "m.space.child", "m.space.parent",
                                      "m.room.join_rules", "m.room.history_visibility"]) | _junk),
        "event_id": draw(_event_ids),
        "sender": draw(_users),
        "origin_server_ts": draw(st.integers() | st.floats() | _junk),
    }
    content: dict[str, Any] = {
        "msgtype": draw(st.sampled_from(["m.text", "m.emote", "m.image", "m.notice", "m.file"]) | _junk),
        "body": draw(st.text() | _junk),
        "m.relates_to": draw(st.fixed_dictionaries({
            "rel_type": st.sampled_from(["m.thread", "m.replace", "m.annotation", "m.reference", "x"]) | _junk,
            "event_id": _event_ids,
        }) | _junk),
    }
    for key in ("name", "alias", "displayname", "redacts", "membership", "topic", "m.new_content", "m.poll",
                "type", "order", "canonical", "state_default", "events", "join_rule", "history_visibility"):
        if draw(st.booleans()):
            content[key] = draw(st.sampled_from(["join", "leave", "m.emote"]) | st.text() | _junk)
    if draw(st.booleans()):
        content["via"] = draw(st.sampled_from([["test"], [], ["test", 1]]) | _junk)
    if draw(st.booleans()) and isinstance(content["m.relates_to"], dict):
        content["m.relates_to"]["key"] = draw(st.text() | _junk)
    event["content"] = draw(st.just(content) | _junk)
    if draw(st.booleans()):
        event["state_key"] = draw(st.sampled_from(["", ME, ALICE, "!space:test"]) | _junk)
    if draw(st.booleans()):
        event["unsigned"] = draw(st.fixed_dictionaries({
            "redacted_because": _junk,
            "m.relations": st.fixed_dictionaries({"m.thread": st.fixed_dictionaries({"count": _junk})}) | _junk,
        }) | _junk)
    if draw(st.booleans()):
        event["redacts"] = draw(_event_ids)
    # Drop a random field.
    if draw(st.booleans()) and event:
        event.pop(draw(st.sampled_from(sorted(event))), None)
    return event


def _either(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return strategy | _junk


@st.composite
def fuzzed_receipts(draw: st.DrawFn) -> Any:
    return {"type": draw(st.just("m.receipt") | _junk), "content": draw(_either(st.dictionaries(
        _event_ids.filter(lambda x: isinstance(x, str)),
        _either(st.dictionaries(
            st.sampled_from(["m.read", "m.read.private", "m.fully_read", "x"]),
            _either(st.dictionaries(
                _users.filter(lambda x: isinstance(x, str)),
                _either(st.fixed_dictionaries({"ts": _junk, "thread_id": _event_ids})),
                max_size=3,
            )),
            max_size=3,
        )),
        max_size=3,
    )))}


@st.composite
def fuzzed_rooms(draw: st.DrawFn) -> Any:
    room = {
        "timeline": _either(st.fixed_dictionaries({
            "events": _either(st.lists(fuzzed_events(), max_size=8)), "limited": _junk})),
        "state": _either(st.fixed_dictionaries({"events": _either(st.lists(fuzzed_events(), max_size=4))})),
        "ephemeral": _either(st.fixed_dictionaries({"events": st.lists(fuzzed_receipts(), max_size=3)})),
        "account_data": _either(st.fixed_dictionaries({"events": st.lists(st.fixed_dictionaries({
            "type": st.sampled_from(["m.fully_read", "m.marked_unread", "com.famedly.marked_unread",
                                     RECEIPT_POLICY_TYPE]) | _junk,
            "content": _either(st.fixed_dictionaries({"event_id": _event_ids, "unread": _junk,
                                                      "mode": st.sampled_from(RECEIPT_MODES) | _junk})),
        }), max_size=3)})),
        "unread_notifications": _either(st.fixed_dictionaries({"notification_count": _junk, "highlight_count": _junk})),
        "unread_thread_notifications": _either(st.dictionaries(_event_ids.filter(lambda x: isinstance(x, str)), _junk)),
        "summary": _either(st.fixed_dictionaries({"m.heroes": _either(st.lists(_users)),
                                                  "m.joined_member_count": _junk})),
        "state_after": _junk,
        "invite_state": _either(st.fixed_dictionaries({"events": st.lists(fuzzed_events(), max_size=3)})),
    }
    return {key: draw(value) for key, value in room.items() if draw(st.integers(0, 3))}


_room_ids = st.sampled_from([ROOM, "!other:test", "!v12room", "not a room", ""])


@st.composite
def fuzzed_syncs(draw: st.DrawFn) -> dict[str, Any]:
    rooms = {
        section: draw(_either(st.dictionaries(_room_ids, _either(fuzzed_rooms()), max_size=3)))
        for section in ("join", "invite", "leave")
        if draw(st.booleans())
    }
    body: dict[str, Any] = {"rooms": draw(st.just(rooms) | _junk)}
    if draw(st.booleans()):
        body["next_batch"] = draw(st.just("s2") | _junk)
    if draw(st.booleans()):
        body["account_data"] = draw(_either(st.fixed_dictionaries({"events": st.lists(st.fixed_dictionaries({
            "type": st.just("m.direct") | _junk,
            "content": _either(st.dictionaries(_users.filter(lambda x: isinstance(x, str)),
                                               _either(st.lists(_room_ids)))),
        }), max_size=2)})))
    return body


# What must never reach a terminal: C0/C1 controls (escape sequences start with them),
# lone surrogates, bidi overrides and isolates.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")


def _exercise(account: AccountState) -> None:
    """Everything the UI would compute from the result must work too."""
    for room in account.rooms.values():
        assert isinstance(room.name, str)
        room_unread(room)
        for thread_id in threads_unread(room):
            thread_unread(room, thread_id).label()
        room.fully_read_event()
        for event in room.events:
            for text in (event.body, event.member_name, event.key, event_text(event), latest_text(room, event)):
                assert type(text) is str and not _UNSAFE.search(text), event
            assert len(event_text(event)) <= PREVIEW_MAX_CHARS, event
            assert event.msgtype is None or type(event.msgtype) is MsgType
            assert event.membership is None or type(event.membership) is Membership
            assert (event.msgtype is not None) == (event.type == "m.room.message" and not event.is_state
                                                   and not event.redacted)
        assert not _UNSAFE.search(room.name)
        assert not any(_UNSAFE.search(name) for name in room.member_names.values())
        assert room.receipt_override is None or room.receipt_override in RECEIPT_MODES
        for fact in (room.join_rule, room.history_visibility):
            assert fact is None or (type(fact) is str and fact.isprintable() and " " not in fact)
    sorted_rooms(account)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=fuzzed_syncs(), second=fuzzed_syncs())
def test_malformed_syncs_never_raise(first: dict[str, Any], second: dict[str, Any]) -> None:
    handler = _FailureCatcher()
    logger = logging.getLogger("app.matrix.translate")
    logger.addHandler(handler)
    try:
        account = apply_sync(fresh(), first)
        _exercise(account)
        account = apply_sync(account, second)
        _exercise(account)
    finally:
        logger.removeHandler(handler)
    # The per-room guard must never have been needed: a guard that fires is a bug found.
    assert handler.failures == []


class _FailureCatcher(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.failures: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.failures.append(record.getMessage())


@settings(max_examples=120, deadline=None)
@given(events=st.lists(fuzzed_events(), max_size=12))
def test_fuzzed_timelines_translate_or_are_skipped(events: list[Any]) -> None:
    room = apply_sync(fresh(), sync({ROOM: {"timeline": {"events": events}}})).rooms[ROOM]
    _exercise(AccountState(ME, {ROOM: room}))
    for event in room.events:
        assert event.event_id.startswith("$") and event.sender.startswith("@")


def test_skipped_events_are_counted_in_a_debug_line(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="app.matrix.translate"):
        room = one_room(ev("$ok"), {"event_id": 5}, "junk", {"type": "m.room.message", "event_id": "$x"})
    assert [e.event_id for e in room.events] == ["$ok"]
    lines = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert lines == ["sync: skipped 3 malformed item(s) in 1 room(s)"]


def test_relation_cycles_and_long_chains_do_not_hang() -> None:
    cycle = [ev("$a", **{"m.relates_to": {"rel_type": "m.reference", "event_id": "$b"}}),
             ev("$b", **{"m.relates_to": {"rel_type": "m.reference", "event_id": "$a"}}),
             ev("$self", **{"m.relates_to": {"rel_type": "m.thread", "event_id": "$self"}})]
    chain = [ev("$c0")] + [ev(f"$c{i}", **{"m.relates_to": {"rel_type": "m.annotation", "event_id": f"$c{i - 1}"}})
                           for i in range(1, 50)]
    room = one_room(*cycle, *chain)
    assert room.thread_of["$a"] == MAIN
    assert room.thread_of["$self"] == MAIN
    _exercise(AccountState(ME, {ROOM: room}))


# ---- recorded bodies from a real Synapse -------------------------------------------------


def load_scenario(directory: Path, name: str) -> tuple[dict[str, Any], list[tuple[str, bytes]]]:
    """The labels and the (step, body) pairs of one recorded scenario, in order."""
    labels = json.loads((directory / f"{name}.labels.json").read_text(encoding="utf-8"))
    steps = sorted(p for p in directory.glob(f"{name}.[0-9][0-9]-*.json"))
    return labels, [(p.name.split(".", 1)[1].removesuffix(".json"), p.read_bytes()) for p in steps]


def check_threads_scenario(directory: Path) -> None:
    labels, steps = load_scenario(directory, "threads")
    assert [step for step, _ in steps] == ["01-initial", "02-thread-two-read", "03-all-read"]
    me, alice, bob = (labels["users"][k] for k in ("me", "alice", "bob"))
    rooms, e = labels["rooms"], labels["events"]
    lab_id = rooms["lab"]
    public, private = ReceiptType.PUBLIC, ReceiptType.PRIVATE

    # -- step 1: the initial sync --------------------------------------------------------
    account, changed = apply_sync_changes(AccountState(me), parse_sync(steps[0][1]))
    assert changed == set(rooms.values())
    lab = account.rooms[lab_id]
    assert lab.name == "Read state lab"
    assert lab.member_names[alice] == "Alice"
    # Threads: replies and relations to them in the thread; the roots, relations to
    # roots, edits and the rich reply in main.
    assert set(lab.thread_ids) == {MAIN, e["r1"], e["r2"]}
    assert [lab.thread_of[e[k]] for k in ("t1a", "t1b", "like_t1a")] == [e["r1"]] * 3
    assert [lab.thread_of[e[k]] for k in ("t2a", "t2b")] == [e["r2"]] * 2
    assert [lab.thread_of[e[k]] for k in ("r1", "r2", "m1", "like_m1", "edit_m1", "m4")] == [MAIN] * 6
    assert lab.event(e["edit_m1"]).is_edit  # type: ignore[union-attr]
    assert lab.event(e["edit_m1"]).body == "hello, lab"  # type: ignore[union-attr]  # the new text
    assert lab.event(e["m3"]).redacted and lab.event(e["redact_m3"]).redacts == e["m3"]  # type: ignore[union-attr]
    # Receipts by exact key; alice's private receipt is invisible to me.
    assert dict(lab.receipts) == {
        ReceiptKey(me, public, e["r1"]): Receipt(e["t1a"], lab.receipts[ReceiptKey(me, public, e["r1"])].ts),
        ReceiptKey(me, private, None): Receipt(e["m1"], lab.receipts[ReceiptKey(me, private, None)].ts),
        ReceiptKey(bob, public, MAIN): Receipt(e["m2"], lab.receipts[ReceiptKey(bob, public, MAIN)].ts),
        ReceiptKey(bob, public, None): Receipt(e["t1b"], lab.receipts[ReceiptKey(bob, public, None)].ts),
    }
    assert all(r.ts > 0 for r in lab.receipts.values())
    assert lab.fully_read == e["m2"]
    assert lab.fully_read_event() == e["m2"]
    # Server counts: main counts m2 (a mention: the highlight), r1, r2, m4; the redacted
    # m3 was redacted (and counts for nothing); reactions and the edit never notified.
    assert lab.server_main == ServerCounts(4, 1)
    assert dict(lab.server_threads) == {e["r1"]: ServerCounts(1, 0), e["r2"]: ServerCounts(2, 0)}
    counts = threads_unread(lab)
    # Locally my own message in main reads what came before it (Synapse does not lower
    # its count for it): only m4 is unread there. The threads agree with the server.
    assert (counts[MAIN].unread, counts[MAIN].first_unread) == (1, e["m4"])
    assert counts[e["r1"]].unread == 1 and counts[e["r1"]].first_unread == e["t1b"]
    assert counts[e["r2"]].unread == 2
    assert not any(c.lower_bound for c in counts.values())
    assert room_unread(lab).highlights == 1

    # Names: alias only, heroes, a DM, an invite, and hostile text made harmless.
    assert account.rooms[rooms["aliased"]].name == labels["alias"]
    assert account.rooms[rooms["heroes"]].name == "Alice and Bob"
    dm = account.rooms[rooms["dm"]]
    assert (dm.name, dm.is_direct) == ("Alice", True)
    assert not lab.is_direct
    invite = account.rooms[rooms["invite"]]
    assert (invite.membership, invite.name) == ("invite", "Bob's invite")
    zoo = account.rooms[rooms["zoo"]]
    assert zoo.name == "]0;pwned[bold red]x[/]evil"
    kinds = ("emote", "image", "notice", "encrypted", "sticker", "poll", "hostile", "rich_reply")
    facts = {k: (zoo.event(e[k]).msgtype, zoo.event(e[k]).body) for k in kinds}  # type: ignore[union-attr]
    assert facts == {
        "emote": (MsgType.EMOTE, "waves"),
        "image": (MsgType.IMAGE, "cat.png"),
        "notice": (MsgType.NOTICE, "a bot speaks"),
        "encrypted": (None, ""),
        "sticker": (None, "a cat sticker"),
        "poll": (None, "Lunch?"),
        "hostile": (MsgType.TEXT, "[2Jcleared? second line third 31m"),
        "rich_reply": (MsgType.TEXT, "> <@x> quoted answer"),
    }
    assert zoo.event(e["emote"]).member_name == "Alice"  # type: ignore[union-attr]
    previews = {k: event_text(zoo.event(e[k])) for k in kinds}  # type: ignore[arg-type]
    assert previews == {
        "emote": "* Alice waves",
        "image": "[image] cat.png",
        "notice": "a bot speaks",
        "encrypted": "[encrypted]",
        "sticker": "[sticker] a cat sticker",
        "poll": "[poll] Lunch?",
        "hostile": "[2Jcleared? second line third 31m",
        "rich_reply": "> <@x> quoted answer",
    }
    assert zoo.thread_of[e["rich_reply"]] == MAIN
    # The server notifies for text, emotes, images and encrypted events, not for notices,
    # stickers or polls (default push rules); locally all eight are messages.
    assert zoo.server_main.notifications == 5
    assert thread_unread(zoo, MAIN).unread == 8

    # -- step 2: thread two read (private, threaded), new messages, marked unread ----------
    account, changed = apply_sync_changes(account, parse_sync(steps[1][1]))
    assert changed == {lab_id}
    lab = account.rooms[lab_id]
    assert lab.receipts[ReceiptKey(me, private, e["r2"])].event_id == e["t2b"]
    assert lab.marked_unread
    assert room_unread(lab).has_unread
    # Thread two is missing from unread_thread_notifications: it went to zero.
    assert lab.server_main == ServerCounts(5, 1)
    assert dict(lab.server_threads) == {e["r1"]: ServerCounts(2, 0)}
    counts = threads_unread(lab)
    assert (counts[MAIN].unread, counts[e["r1"]].unread, counts[e["r2"]].unread) == (2, 2, 0)
    assert counts[e["r2"]].server == ServerCounts()

    # -- step 3: an unthreaded receipt reads everything; a room is left ----------------------
    account, changed = apply_sync_changes(account, parse_sync(steps[2][1]))
    assert changed == {lab_id, rooms["leaving"]}
    assert rooms["leaving"] not in account.rooms
    lab = account.rooms[lab_id]
    assert lab.receipts[ReceiptKey(me, public, None)].event_id == e["t1c"]
    assert lab.fully_read == e["t1c"]
    assert not lab.marked_unread
    assert lab.server_main == ServerCounts() and dict(lab.server_threads) == {}
    assert all(c.unread == 0 for c in threads_unread(lab).values())
    assert account.next_batch == json.loads(steps[2][1])["next_batch"]


def check_gap_scenario(directory: Path) -> None:
    labels, steps = load_scenario(directory, "gap")
    me = labels["users"]["me"]
    busy_id = labels["rooms"]["busy"]
    e = labels["events"]

    account = apply_sync(AccountState(me), parse_sync(steps[0][1]))
    busy = account.rooms[busy_id]
    assert [x.event_id for x in busy.events] == e["first"][3:]
    assert not busy.history_complete
    # My receipt (on first[1]) lies in the missing history: the five loaded messages are
    # unread, and there may be more; the server knows there are six.
    main = thread_unread(busy, MAIN)
    assert (main.unread, main.lower_bound, main.label()) == (5, True, "5+")
    assert main.server == ServerCounts(6, 0)

    account = apply_sync(account, parse_sync(steps[1][1]))
    busy = account.rooms[busy_id]
    tail = [*e["second"][4:], e["root2"], *e["replies2"]]
    assert [x.event_id for x in busy.events] == e["first"][3:] + tail
    assert busy.gaps_before == frozenset({e["second"][4]})
    assert busy.event(e["root2"]).thread_reply_count == 2  # type: ignore[union-attr]
    counts = threads_unread(busy)
    assert counts[e["root2"]].unread == 2
    # The first thread's replies are all in the gap: known only from the server's count.
    assert (counts[e["root"]].unread, counts[e["root"]].label()) == (0, "0+")
    assert counts[e["root"]].server == ServerCounts(3, 0)
    assert counts[MAIN].lower_bound and counts[MAIN].server == ServerCounts(13, 0)


def test_recorded_threads_scenario() -> None:
    check_threads_scenario(RECORDED)


def test_recorded_gap_scenario() -> None:
    check_gap_scenario(RECORDED)


def test_recorded_bodies_translate_without_skips(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="app.matrix.translate"):
        for path in sorted(RECORDED.glob("*.[0-9][0-9]-*.json")):
            apply_sync(fresh(), parse_sync(path.read_bytes()))
    assert [r.getMessage() for r in caplog.records] == []


def test_the_common_types_kept_once_are_tokens() -> None:
    # timeline_event skips is_token for a type or relation type found among them.
    from app.matrix.wire_events import _COMMON
    from app.model.ids import is_token

    assert _COMMON and all(is_token(name) and value == name for name, value in _COMMON.items())
