"""One event as a server sends it, read into a ``TimelineEvent``: its IDs, relation,
redaction and bundled thread count, and the facts of what it says (a message's msgtype
and body, a membership change, a room's new name, a reaction's key, a poll's question).

Every field is type-checked where it is read; an event without a usable ID, sender or
type is skipped (counted in the sync's tally), and the text kept is ``clean_text``'s.
A state event updates the room's naming as it is read, so the names an emote or a
membership change carries are those of its moment in the timeline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from json.encoder import encode_basestring_ascii
from typing import Any, Final

from app.matrix.naming import RoomNaming
from app.matrix.wire import NAME_MAX_CHARS, Tally, clean_name, clean_text, timestamp
from app.model.events import (
    ALERT_HIGHLIGHT,
    ALERT_NOTIFY,
    ALERT_SILENT,
    ALERT_UNKNOWN,
    ENCRYPTED,
    MESSAGE_TYPES,
    POLL_START_TYPES,
    REL_ANNOTATION,
    REL_REPLACE,
    Membership,
    MsgType,
    TimelineEvent,
    Undecryptable,
    new_event,
)
from app.model.ids import is_event_id, is_token, is_user_id
from app.model.push import PushContext, PushRuleset, default_ruleset, evaluate
from app.model.room import PowerLevels

# A reaction's key is an emoji, mostly; nothing needs more.
REACTION_KEY_MAX_CHARS: Final = 40

_MSGTYPES: Final = {
    "m.text": MsgType.TEXT,
    "m.notice": MsgType.NOTICE,
    "m.emote": MsgType.EMOTE,
    "m.image": MsgType.IMAGE,
    "m.file": MsgType.FILE,
    "m.audio": MsgType.AUDIO,
    "m.video": MsgType.VIDEO,
    "m.location": MsgType.LOCATION,
}
_MEMBERSHIPS: Final = {m.value: m for m in Membership if m is not Membership.OTHER}
# The events whose content says nothing worth a line (their facts are their type).
_SILENT_TYPES: Final = frozenset({"m.room.redaction"})
# The event and relation types most events have, each kept as one string object
# (a sync's JSON gives every event its own copy).
_COMMON: Final = {
    name: name
    for name in (
        *MESSAGE_TYPES, "m.reaction", "m.room.redaction", "m.room.member", "m.room.name", "m.room.topic",
        "m.room.create", "m.room.power_levels", "m.room.join_rules", "m.room.history_visibility",
        "m.room.canonical_alias", "m.room.avatar", "m.room.encryption", "m.room.guest_access", "m.room.pinned_events",
        "m.space.child", "m.space.parent", "m.thread", REL_REPLACE, REL_ANNOTATION, "m.reference",
    )
}
# What decryption reads of an m.room.encrypted event's content.
_CIPHER_FIELDS: Final = ("algorithm", "sender_key", "session_id", "ciphertext", "device_id")


# An event's alert as the push rules decide it (``raw``: the event as sent; the sender).
Alert = Callable[[dict, str], int]


def alerts(ruleset: PushRuleset | None, names: RoomNaming, room_id: str) -> Alert:
    """The push rules' verdict on an event of this room, in its state as ``names`` has
    it at that moment (my display name, the member count, the power levels). (A sync's
    messages are judged after its receipts are in, with ``Moments``.)"""
    rules = ruleset if ruleset is not None else default_ruleset(names.me)
    me = names.me
    # A room's events share a few contexts (one per sender while its state holds still):
    # each is built once, and all are dropped when the power levels change.
    contexts: dict[tuple[str, object, int], PushContext] = {}
    levels = names.power

    def alert(raw: dict, sender: str) -> int:
        nonlocal levels
        power = names.power
        if power is not levels:
            contexts.clear()
            levels = power
        key = (sender, names.members.get(me), names.joined)
        context = contexts.get(key)
        if context is None:
            context = contexts[key] = PushContext(
                me, key[1], names.joined or None, power.of(sender), {"room": power.notify_room}, room_id
            )
        return _verdict(rules, raw, context)

    return alert


class Moments:
    """The push rules' context for a room's events judged after its timeline is read
    (``alerts`` with ``later``, without a closure call and a ``DeferredAlert`` per
    message): the walk over the timeline takes a ``moment()`` (my display name, the
    member count, the power levels, as ``names`` has them then) after each state event
    and keeps it beside each message; ``verdict`` is then what ``alerts`` would have said
    at that place. Contexts are built once per moment and sender's power level, for the
    messages judged (those still unread), not for every message."""

    __slots__ = ("contexts", "held", "me", "names", "room_id", "rules")

    def __init__(self, ruleset: PushRuleset | None, names: RoomNaming, room_id: str) -> None:
        self.rules = ruleset if ruleset is not None else default_ruleset(names.me)
        self.me = names.me
        self.names = names
        self.room_id = room_id
        self.contexts: dict[tuple[str, int], PushContext] = {}
        # Every moment given out, so that the id a context is cached under stays its own.
        self.held: list[tuple[str | None, int, PowerLevels]] = []

    def moment(self) -> tuple[str | None, int, PowerLevels]:
        names = self.names
        moment = (names.members.get(self.me), names.joined, names.power)
        self.held.append(moment)
        return moment

    def context(self, sender: str, moment: tuple[str | None, int, PowerLevels]) -> PushContext:
        # Of the sender, a context holds only their power level: senders of the same
        # level share one (most senders have the default, and few send twice).
        display, joined, power = moment
        level = power.of(sender)
        key = (level, id(moment))
        context = self.contexts.get(key)
        if context is None:
            context = self.contexts[key] = PushContext(
                self.me, display, joined or None, level, {"room": power.notify_room}, self.room_id
            )
        return context

    def verdict(self, raw: dict, sender: str, moment: tuple[str | None, int, PowerLevels]) -> int:
        return _verdict(self.rules, raw, self.context(sender, moment))

    def deferred(self, raw: dict, sender: str, moment: tuple[str | None, int, PowerLevels]) -> DeferredAlert:
        return DeferredAlert(self.rules, raw, self.context(sender, moment))


def _verdict(rules: PushRuleset, raw: dict, context: PushContext) -> int:
    outcome = evaluate(rules, raw, context)
    if outcome.highlight:
        return ALERT_HIGHLIGHT
    return ALERT_NOTIFY if outcome.notify else ALERT_SILENT


class DeferredAlert:
    """The push rules' verdict on an encrypted event, not worked out yet: what the
    rules would have been given when it was read (the rules, the event, the room's
    state at its place in the timeline). ``verdict`` is what ``alerts`` would have said
    then; ``cipher_fields`` is what its ``TimelineEvent.ciphertext`` holds, unparsed."""

    __slots__ = ("context", "raw", "rules")

    def __init__(self, rules: PushRuleset, raw: dict, context: PushContext) -> None:
        self.rules = rules
        self.raw = raw
        self.context = context

    def verdict(self) -> int:
        return _verdict(self.rules, self.raw, self.context)

    def cipher_fields(self) -> dict[str, str]:
        content = self.raw.get("content")
        return _cipher_fields(content) if type(content) is dict else {}


def with_verdict(event: TimelineEvent, alert: int, undecryptable: str | None = None) -> TimelineEvent:
    """``event`` with its alert (and why it cannot be decrypted) set: ``replace``'s
    result, built positionally (``replace`` costs several times more per event)."""
    e = event
    return new_event(
        e.event_id, e.sender, e.ts, e.type, e.body, e.rel_type, e.relates_to, e.state_key, e.redacted, e.redacts,
        e.thread_reply_count, e.msgtype, e.membership, e.member_name, e.key, e.ciphertext,
        e.undecryptable if undecryptable is None else undecryptable, alert,
    )


def timeline_event(raw: object, names: RoomNaming, tally: Tally, alert: Alert | None = None) -> TimelineEvent | None:
    """``raw`` as a ``TimelineEvent``, or None (counted in ``tally``) when it is not a
    usable event. A state event is applied to ``names`` first. With ``alert``, a message
    by someone else gets the push rules' verdict."""
    if type(raw) is not dict:
        tally.skipped += 1
        return None
    event_id = raw.get("event_id")
    sender = raw.get("sender")
    # A sender seen before in this sync was checked then (``Tally.user``), and a common
    # type is a token: the checks and their calls are skipped for most events.
    known = tally.users.get(sender) if type(sender) is str else None
    sender = known if known is not None else tally.user(sender)
    etype = raw.get("type")
    common = _COMMON.get(etype) if type(etype) is str else None
    if not (is_event_id(event_id) and sender is not None and (common is not None or is_token(etype))):
        tally.skipped += 1
        return None
    if common is not None:
        etype = common
    tally.ids[event_id] = event_id
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
        common = _COMMON.get(candidate_type) if type(candidate_type) is str else None
        if (common is not None or is_token(candidate_type)) and is_event_id(target):
            rel_type, relates_to = common or candidate_type, tally.ids.get(target, target)

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
        names.apply_state(etype, state_key, content, sender, ts, tally)

    # What the event says (nothing, once redacted).
    membership = None
    if redacted:
        body = member_name = key = ""
        msgtype = ciphertext = None
    elif state_key is not None:
        body = member_name = key = ""
        msgtype = ciphertext = None
        if etype == "m.room.member":
            membership = _membership(content.get("membership"))
            member_name = (
                names.display_name_of(state_key) if is_user_id(state_key) else clean_text(state_key, NAME_MAX_CHARS)
            )
        elif etype == "m.room.name":
            body = clean_name(content.get("name")) or ""
        elif etype == "m.room.canonical_alias":
            body = clean_name(content.get("alias")) or ""
        elif etype == "m.room.topic":
            body = clean_text(content.get("topic"))
    else:
        body, msgtype, member_name, key, ciphertext = _says(etype, content, relation, names, sender)
    verdict = ALERT_UNKNOWN
    if (
        alert is not None
        and state_key is None
        and not redacted
        and etype in MESSAGE_TYPES
        and rel_type != REL_REPLACE
        and rel_type != REL_ANNOTATION
        and sender != names.me
    ):
        verdict = alert(raw, sender)
    # Positional: measurably cheaper than keywords on the hot path (the field order is
    # pinned by a test).
    return new_event(
        event_id,
        sender,
        ts,
        etype,
        body,
        rel_type,
        relates_to,
        state_key,
        redacted,
        redacts,
        thread_reply_count,
        msgtype,
        membership,
        member_name,
        key,
        ciphertext,
        "",
        verdict,
    )


def _says(
    etype: str, content: dict[str, Any], relation: object, names: RoomNaming, sender: str
) -> tuple[str, MsgType | None, str, str, str | None]:
    """What an unredacted event that is not state says: its body, msgtype, the member
    name an emote shows, a reaction's key, and (encrypted) its ciphertext."""
    body = member_name = key = ""
    msgtype = ciphertext = None
    if etype == "m.room.message":
        if type(relation) is dict and relation.get("rel_type") == REL_REPLACE:
            # An edit says its new text, not the "* ..." fallback (nor, without
            # m.new_content, the fallback's "* ").
            new = content.get("m.new_content")
            if type(new) is dict and type(new.get("body")) is str:
                content = new
            elif type(content.get("body")) is str:
                content = {**content, "body": content["body"].removeprefix("* ")}
        kind = content.get("msgtype")
        msgtype = _MSGTYPES.get(kind, MsgType.OTHER) if type(kind) is str else MsgType.OTHER
        if msgtype is MsgType.EMOTE:
            member_name = names.display_name_of(sender)
        body = clean_text(content.get("body"))
    elif etype == ENCRYPTED:
        ciphertext = _ciphertext(content)
        if type(relation) is dict:
            # A reaction's relation, key included, stays cleartext in an encrypted room.
            key = clean_text(relation.get("key"), REACTION_KEY_MAX_CHARS)
    elif etype in _SILENT_TYPES:
        pass
    elif etype in POLL_START_TYPES:
        body = _poll_question(content)
    elif etype == "m.reaction":
        if type(relation) is dict:
            key = clean_text(relation.get("key"), REACTION_KEY_MAX_CHARS)
    else:
        # m.sticker, and any other type with a body.
        body = clean_text(content.get("body"))
    return body, msgtype, member_name, key, ciphertext


def decrypted_event(
    encrypted: TimelineEvent, plaintext: dict[str, Any], names: RoomNaming, alert: Alert | None = None
) -> TimelineEvent:
    """``encrypted`` once decrypted (``plaintext``: its ``type`` and ``content``): the
    facts of what it says come from the plaintext; its IDs, time and relation stay the
    cleartext ones (a thread's membership never depends on a key, and a plaintext cannot
    move its event into another thread); its ciphertext stays, for the disk.

    The event ``timeline_event`` makes of the plaintext under the cleartext's IDs (a
    test holds the two equal), built without checking again what the ciphertext's
    event had checked: this runs once per decrypted event, beside vodozemac."""
    etype = plaintext.get("type")
    if etype == ENCRYPTED or not is_token(etype):
        return replace(encrypted, undecryptable=Undecryptable.BAD.value)
    content = plaintext.get("content")
    if type(content) is not dict:
        content = {}
    relation = content.get("m.relates_to")
    rel_type = encrypted.rel_type
    if rel_type is not None:
        relation = {
            **(relation if type(relation) is dict else {}),
            "rel_type": rel_type,
            "event_id": encrypted.relates_to,
        }
        content = {**content, "m.relates_to": relation}
    elif _is_relation(relation):
        # Without a cleartext relation the plaintext's is not taken: it could put the
        # event into a thread its cleartext does not name.
        content = {name: value for name, value in content.items() if name != "m.relates_to"}
        relation = None
    redacts = None
    if etype == "m.room.redaction":
        target = content.get("redacts")
        if is_event_id(target):
            redacts = target
    sender = encrypted.sender
    body, msgtype, member_name, key, _ = _says(etype, content, relation, names, sender)
    verdict = ALERT_UNKNOWN
    if (
        alert is not None
        and etype in MESSAGE_TYPES
        and rel_type != REL_REPLACE
        and rel_type != REL_ANNOTATION
        and sender != names.me
    ):
        raw = {
            "event_id": encrypted.event_id,
            "sender": sender,
            "origin_server_ts": encrypted.ts,
            "type": etype,
            "content": content,
        }
        verdict = alert(raw, sender)
    return new_event(
        encrypted.event_id, sender, encrypted.ts, etype, body, rel_type, encrypted.relates_to, None, False, redacts,
        encrypted.thread_reply_count, msgtype, None, member_name, key or encrypted.key, encrypted.ciphertext, "",
        verdict,
    )


def _is_relation(relation: object) -> bool:
    return type(relation) is dict and relation.get("rel_type") is not None


def _cipher_fields(content: dict[str, Any]) -> dict[str, str]:
    """The fields of an encrypted event's content decryption reads (those that are strings)."""
    return {name: content[name] for name in _CIPHER_FIELDS if type(content.get(name)) is str}


def _ciphertext(content: dict[str, Any]) -> str:
    """What is kept of an encrypted event's content: the fields decryption reads, as
    compact JSON (the cache stores it; nothing else of the event is secret). Exactly
    ``json.dumps(fields, separators=(",", ":"))``, without its encoder set-up per call."""
    parts = [
        f'"{name}":{encode_basestring_ascii(value)}'
        for name in _CIPHER_FIELDS
        if type(value := content.get(name)) is str
    ]
    return "{" + ",".join(parts) + "}"


def _membership(value: object) -> Membership:
    return _MEMBERSHIPS.get(value, Membership.OTHER) if type(value) is str else Membership.OTHER


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
