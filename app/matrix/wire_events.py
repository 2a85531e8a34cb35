"""One event as a server sends it, read into a ``TimelineEvent``: its IDs, relation,
redaction and bundled thread count, and the one line saying what it is (``body``).

Every field is type-checked where it is read; an event without a usable ID, sender or
type is skipped (counted in the sync's tally), and the text kept is ``clean_text``'s.
A state event updates the room's naming as it is read, so the names an emote or a
membership change shows are those of its moment in the timeline.
"""

from __future__ import annotations

from typing import Any, Final

from app.matrix.naming import RoomNaming
from app.matrix.wire import NAME_MAX_CHARS, PREVIEW_MAX_CHARS, Tally, clean_name, clean_text, timestamp
from app.model.events import REL_REPLACE, TimelineEvent, reaction_body
from app.model.ids import UserId, is_event_id, is_token, is_user_id

_POLL_TYPES: Final = frozenset({"m.poll.start", "org.matrix.msc3381.poll.start"})
_MEDIA_LABELS: Final = {
    "m.image": "[image]",
    "m.file": "[file]",
    "m.audio": "[audio]",
    "m.video": "[video]",
    "m.location": "[location]",
}
_MEMBERSHIP_VERBS: Final = {
    "join": "joined",
    "leave": "left",
    "invite": "was invited",
    "ban": "was banned",
    "knock": "knocked",
}


def timeline_event(raw: object, names: RoomNaming, tally: Tally) -> TimelineEvent | None:
    """``raw`` as a ``TimelineEvent``, or None (counted in ``tally``) when it is not a
    usable event. A state event is applied to ``names`` first."""
    if type(raw) is not dict:
        tally.skipped += 1
        return None
    event_id = raw.get("event_id")
    sender = raw.get("sender")
    etype = raw.get("type")
    if not (is_event_id(event_id) and tally.is_user_id(sender) and is_token(etype)):
        tally.skipped += 1
        return None
    state_key = raw.get("state_key")
    if state_key is not None and type(state_key) is not str:
        tally.skipped += 1
        return None
    ts = raw.get("origin_server_ts")
    if type(ts) is not int:
        ts = timestamp(ts)
    content = raw.get("content")
    if type(content) is not dict:
        content = {}

    rel_type = relates_to = None
    relation = content.get("m.relates_to")
    if type(relation) is dict:
        # A rich reply (m.in_reply_to alone) is not a relation: it has no rel_type.
        candidate_type = relation.get("rel_type")
        target = relation.get("event_id")
        if is_token(candidate_type) and is_event_id(target):
            rel_type, relates_to = candidate_type, target

    redacted = False
    thread_reply_count = None
    unsigned = raw.get("unsigned")
    if type(unsigned) is dict:
        redacted = type(unsigned.get("redacted_because")) is dict
        relations = unsigned.get("m.relations")
        if type(relations) is dict:
            thread = relations.get("m.thread")
            if type(thread) is dict:
                count = thread.get("count")
                if type(count) is int and count >= 0:
                    thread_reply_count = count

    redacts = None
    if etype == "m.room.redaction":
        target = raw.get("redacts")
        if not is_event_id(target):
            target = content.get("redacts")
        if is_event_id(target):
            redacts = target

    if state_key is not None:
        names.apply_state(etype, state_key, content)

    body = "" if redacted else _preview(etype, content, sender, state_key, names)
    # Positional: measurably cheaper than keywords on the hot path (the field order is
    # pinned by a test).
    return TimelineEvent(
        event_id, sender, ts, etype, body, rel_type, relates_to, state_key, redacted, redacts, thread_reply_count
    )


def _preview(etype: str, content: dict[str, Any], sender: UserId, state_key: str | None, names: RoomNaming) -> str:
    """One line saying what the event is, for the timeline and the thread list."""
    if state_key is not None:
        return _state_preview(etype, content, state_key, names)
    if etype == "m.room.message":
        relation, new = content.get("m.relates_to"), content.get("m.new_content")
        if type(relation) is dict and relation.get("rel_type") == REL_REPLACE:
            # An edit: its line is the new text, not the "* ..." fallback (nor, without
            # m.new_content, the fallback's "* ").
            if type(new) is dict and type(new.get("body")) is str:
                content = new
            elif type(content.get("body")) is str:
                content = {**content, "body": content["body"].removeprefix("* ")}
        body = content.get("body")
        msgtype = content.get("msgtype")
        if msgtype == "m.text" or msgtype == "m.notice":
            return clean_text(body)
        if msgtype == "m.emote":
            text = body if type(body) is str else ""
            return clean_text("* " + names.display_name_of(sender) + " " + text[: PREVIEW_MAX_CHARS * 4])
        label = _MEDIA_LABELS.get(msgtype) if type(msgtype) is str else None
        if label is not None:
            text = clean_text(body)
            return clean_text(label + " " + text) if text else label
        return clean_text(body)
    if etype == "m.room.encrypted":
        return "[encrypted]"
    if etype == "m.sticker":
        text = clean_text(content.get("body"))
        return clean_text("[sticker] " + text) if text else "[sticker]"
    if etype in _POLL_TYPES:
        question = _poll_question(content)
        return clean_text("[poll] " + question) if question else "[poll]"
    if etype == "m.reaction":
        relation = content.get("m.relates_to")
        key = clean_text(relation.get("key"), 40) if type(relation) is dict else ""
        return reaction_body(key)
    if etype == "m.room.redaction":
        return ""
    return clean_text(content.get("body"))


def _poll_question(content: dict[str, Any]) -> str:
    for outer, inner in (
        ("org.matrix.msc3381.poll.start", ("org.matrix.msc1767.text", "body")),
        ("m.poll", ("m.text", "body")),
    ):
        start = content.get(outer)
        if type(start) is not dict:
            continue
        question = start.get("question")
        if type(question) is not dict:
            continue
        for key in inner:
            text = question.get(key)
            if type(text) is str:
                return clean_text(text)
            if type(text) is list:
                for item in text:
                    if type(item) is dict and type(item.get("body")) is str:
                        return clean_text(item["body"])
    for key in ("org.matrix.msc1767.text", "body"):
        if type(content.get(key)) is str:
            return clean_text(content[key])
    return ""


def _state_preview(etype: str, content: dict[str, Any], state_key: str, names: RoomNaming) -> str:
    if etype == "m.room.member":
        who = names.display_name_of(state_key) if is_user_id(state_key) else clean_text(state_key, NAME_MAX_CHARS)
        verb = _MEMBERSHIP_VERBS.get(content.get("membership"), "changed membership")  # type: ignore[arg-type]
        return clean_text(who + " " + verb)
    if etype == "m.room.name":
        name = clean_name(content.get("name"))
        return clean_text("[name] " + name) if name else "[name removed]"
    if etype == "m.room.canonical_alias":
        alias = clean_name(content.get("alias"))
        return clean_text("[alias] " + alias) if alias else "[alias removed]"
    if etype == "m.room.topic":
        return clean_text("[topic] " + clean_text(content.get("topic")))
    return clean_text("[" + etype + "]", NAME_MAX_CHARS)
