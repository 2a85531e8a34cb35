"""Translation of ``/sync`` response bodies into the read-state model. Pure: no nio, no I/O.

``parse_sync`` decodes a body; ``apply_sync`` folds one decoded sync into an
``AccountState`` and returns the new one. Wire JSON stops here: nothing above this
module sees a sync dict.

Per joined room, the order is: timeline events (so receipts and markers in the same sync
can point at them), then the state that names the room, then receipts, room account data,
and the server's notification counts. Room state is applied in Matrix order: the ``state``
block (state at the start of the timeline), then state events of the timeline in order;
with ``state_after`` (MSC4222) the timeline's state first and ``state_after`` last.

Robustness: a sync comes from a server, and its events from anybody in the room. Every
field is type-checked where it is read; an event without a usable ID, sender or type is
skipped, and text that reaches a screen (bodies, names) is sanitised: C0/C1 control
characters, lone surrogates and bidi overrides are removed, whitespace (newlines
included) folded to single spaces, and length bounded. Skips are counted in one debug
log line per sync. ``apply_sync`` never raises on a JSON object.

Performance (issue 6): only rooms present in the sync are touched, so an incremental sync
costs what it carries, not what the account holds. Per event the work is a handful of
dict lookups and one ``TimelineEvent``; previews take a fast path for printable text.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any, Final

from app.gcpause import collector_paused
from app.model.account import AccountState
from app.model.events import REL_REPLACE, TimelineEvent, reaction_body
from app.model.ids import MAIN, RoomId, UserId, is_event_id, is_room_id, is_token, is_user_id
from app.model.names import NameInputs
from app.model.receipts import Receipt, ReceiptKey, ReceiptType
from app.model.room import (
    RoomState,
    ServerCounts,
    add_timeline,
    merged_receipts,
    set_fully_read,
)

log = logging.getLogger(__name__)

# A one-line preview never needs more; longer bodies are cut with an ellipsis.
PREVIEW_MAX_CHARS: Final = 240
# Room names, aliases and display names.
NAME_MAX_CHARS: Final = 120
# The spec sends up to five heroes.
MAX_HEROES: Final = 5

_RECEIPT_TYPES: Final = {"m.read": ReceiptType.PUBLIC, "m.read.private": ReceiptType.PRIVATE}
_MARKED_UNREAD: Final = "m.marked_unread"
_MARKED_UNREAD_UNSTABLE: Final = "com.famedly.marked_unread"
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
_NO_COUNTS: Final = ServerCounts()


class SyncFormatError(ValueError):
    """The body of a /sync response is not a JSON object."""


def parse_sync(body: bytes | bytearray | str | Mapping[str, Any]) -> dict[str, Any]:
    """Decode a /sync body. Raises ``SyncFormatError`` (one line) if it is not a JSON object."""
    if isinstance(body, dict):
        return body
    if isinstance(body, Mapping):
        return dict(body)
    try:
        with collector_paused():
            decoded = json.loads(body)
    except (ValueError, RecursionError, TypeError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise SyncFormatError(f"sync response is not valid JSON: {reason[:200]}") from None
    if not isinstance(decoded, dict):
        raise SyncFormatError(f"sync response is a JSON {type(decoded).__name__}, not an object")
    return decoded


def timeline_events(raw_events: Iterable[object]) -> list[TimelineEvent]:
    """Events fetched outside /sync (``/relations``, ``/threads``, ``/event``), in the
    order given, malformed ones skipped. For ``app.model.room.backfill``."""
    tally = _Tally()
    names = _Names(RoomState("!outside-sync", ""))
    events = [event for raw in raw_events if (event := _timeline_event(raw, names, tally)) is not None]
    if tally.skipped:
        log.debug("events: skipped %d malformed item(s)", tally.skipped)
    return events


def apply_sync(account: AccountState, sync: Mapping[str, Any]) -> AccountState:
    """The account after one sync. Never raises on a JSON object (``SyncFormatError``
    for anything else)."""
    return apply_sync_changes(account, sync)[0]


def apply_sync_changes(
    account: AccountState, sync: Mapping[str, Any], *, initial: bool = False
) -> tuple[AccountState, frozenset[RoomId]]:
    """``apply_sync``, and the IDs of the rooms it changed, added or removed (for the
    cache and for redrawing only what moved).

    ``initial``: the sync was made without a ``since`` token, so (``include_leave`` off)
    it lists every room I am in or invited to; a room of ``account`` it does not list was
    cached under an earlier token and left, or gone, meanwhile, and is removed. Applied on
    top of them, an initial sync would otherwise keep such rooms for good."""
    if not isinstance(sync, Mapping):
        raise SyncFormatError(f"sync response is a {type(sync).__name__}, not an object")
    with collector_paused():
        return _apply_sync_changes(account, sync, initial)


def _apply_sync_changes(
    account: AccountState, sync: Mapping[str, Any], initial: bool
) -> tuple[AccountState, frozenset[RoomId]]:
    tally = _Tally()
    me = account.user_id
    rooms: dict[RoomId, RoomState] = dict(account.rooms)
    changed: set[RoomId] = set()

    sections = sync.get("rooms")
    if not isinstance(sections, dict):
        sections = {}

    for room_id, _data in _room_entries(sections.get("leave"), tally):
        if rooms.pop(room_id, None) is not None:
            changed.add(room_id)

    listed: set[RoomId] = set()
    for room_id, data in _room_entries(sections.get("invite"), tally):
        listed.add(room_id)
        room = rooms.get(room_id) or RoomState(room_id, me)
        try:
            rooms[room_id] = _apply_invite(room, data, tally)
        except Exception as error:  # a last guard: a bad room must not stop the others
            _guard_failed(room_id, error, tally)
            continue
        changed.add(room_id)

    for room_id, data in _room_entries(sections.get("join"), tally):
        listed.add(room_id)
        room = rooms.get(room_id) or RoomState(room_id, me)
        try:
            rooms[room_id] = _apply_joined(room, data, tally)
        except Exception as error:
            _guard_failed(room_id, error, tally)
            continue
        changed.add(room_id)

    if initial:
        gone = [room_id for room_id in rooms if room_id not in listed]
        if gone:
            log.info("the initial sync no longer lists %d cached room(s); dropping them", len(gone))
            for room_id in gone:
                del rooms[room_id]
            changed.update(gone)

    direct = _direct_rooms(sync.get("account_data"), tally)
    if direct is not None:
        for room_id, room in rooms.items():
            flag = room_id in direct
            if room.is_direct != flag:
                rooms[room_id] = replace(room, is_direct=flag)
                changed.add(room_id)

    next_batch = sync.get("next_batch")
    if not (isinstance(next_batch, str) and next_batch and next_batch.isprintable()):
        if next_batch is not None:
            tally.skipped += 1
        next_batch = account.next_batch

    if tally.skipped:
        log.debug("sync: skipped %d malformed item(s) in %d room(s)", tally.skipped, len(changed))
    return replace(account, rooms=rooms, next_batch=next_batch), frozenset(changed)


# ---- identifiers and text ----------------------------------------------------


class _Tally:
    """Per-sync bookkeeping: how much was skipped, and the user IDs already validated
    (senders repeat a lot; checking each once is measurably cheaper)."""

    __slots__ = ("skipped", "users")

    def __init__(self) -> None:
        self.skipped = 0
        self.users: set[str] = set()

    def is_user_id(self, value: object) -> bool:
        if type(value) is not str:
            return False
        if value in self.users:
            return True
        if is_user_id(value):
            self.users.add(value)
            return True
        return False


def _guard_failed(room_id: RoomId, error: Exception, tally: _Tally) -> None:
    tally.skipped += 1
    log.warning("sync: room %s could not be translated (%s); kept as it was", room_id, type(error).__name__)


def _removed_characters() -> dict[int, int | None]:
    table: dict[int, int | None] = {}
    for code in (*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)):
        table[code] = None
    # Whitespace controls become spaces (folded afterwards), so words do not run together.
    for code in (0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x1F, 0x85):
        table[code] = 0x20
    # Bidi embeddings, overrides and isolates can make text render as something else.
    for code in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)):
        table[code] = None
    # Lone surrogates (JSON can carry them) cannot be encoded for a terminal.
    for code in range(0xD800, 0xE000):
        table[code] = None
    return table


_REMOVE: Final = _removed_characters()


def clean_text(value: object, limit: int = PREVIEW_MAX_CHARS) -> str:
    """One safe line of at most ``limit`` characters: controls removed, whitespace folded."""
    if type(value) is not str:
        return ""
    if len(value) <= limit and value.isprintable():
        return value
    # Bound the work on enormous bodies before the character passes.
    text = " ".join(value[: limit * 4 + 16].translate(_REMOVE).split())
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def _clean_name(value: object) -> str | None:
    text = clean_text(value, NAME_MAX_CHARS).strip()
    return text or None


def _nonnegative(value: object) -> int:
    return value if type(value) is int and value > 0 else 0


def _timestamp(value: object) -> int:
    if type(value) is int:
        return value
    if type(value) is float and math.isfinite(value):
        return int(value)
    return 0


# ---- rooms ---------------------------------------------------------------------


def _room_entries(section: object, tally: _Tally) -> Iterable[tuple[RoomId, dict[str, Any]]]:
    if not isinstance(section, dict):
        if section is not None:
            tally.skipped += 1
        return ()
    entries = []
    for room_id, data in section.items():
        if is_room_id(room_id) and isinstance(data, dict):
            entries.append((room_id, data))
        else:
            tally.skipped += 1
    return entries


def _events_of(container: object, tally: _Tally) -> list[Any]:
    """``container["events"]`` when it is a list, else nothing."""
    if not isinstance(container, dict):
        if container is not None:
            tally.skipped += 1
        return []
    events = container.get("events")
    if isinstance(events, list):
        return events
    if events is not None:
        tally.skipped += 1
    return []


class _Names:
    """The room's naming state while one sync is applied. Plain attributes, turned into
    one ``NameInputs`` at the end; the member map is copied on first write."""

    __slots__ = ("me", "name", "alias", "heroes", "joined", "invited", "members", "_members_copied", "changed")

    def __init__(self, room: RoomState) -> None:
        inputs = room.name_inputs
        self.me = room.me
        self.name = inputs.name
        self.alias = inputs.canonical_alias
        self.heroes = inputs.heroes
        self.joined = inputs.joined
        self.invited = inputs.invited
        self.members: Mapping[UserId, str] = room.member_names
        self._members_copied = False
        self.changed = False

    def inputs(self) -> NameInputs:
        return NameInputs(self.name, self.alias, self.heroes, self.joined, self.invited)

    def apply_state(self, etype: str, state_key: str, content: Mapping[str, Any]) -> None:
        if etype == "m.room.member":
            if not is_user_id(state_key):
                return
            display = _clean_name(content.get("displayname"))
            if self.members.get(state_key) == display:
                return
            if not self._members_copied:
                self.members = dict(self.members)
                self._members_copied = True
            if display is None:
                self.members.pop(state_key, None)  # type: ignore[attr-defined]
            else:
                self.members[state_key] = display  # type: ignore[index]
            self.changed = True
        elif state_key != "":
            return
        elif etype == "m.room.name":
            name = _clean_name(content.get("name"))
            if name != self.name:
                self.name = name
                self.changed = True
        elif etype == "m.room.canonical_alias":
            alias = _clean_name(content.get("alias"))
            if alias != self.alias:
                self.alias = alias
                self.changed = True

    def apply_state_events(self, events: list[Any], tally: _Tally) -> None:
        for raw in events:
            if type(raw) is not dict:
                tally.skipped += 1
                continue
            etype, state_key = raw.get("type"), raw.get("state_key")
            if not (is_token(etype) and type(state_key) is str):
                tally.skipped += 1
                continue
            content = raw.get("content")
            self.apply_state(etype, state_key, content if type(content) is dict else {})

    def apply_summary(self, summary: object, tally: _Tally) -> None:
        if type(summary) is not dict:
            if summary is not None:
                tally.skipped += 1
            return
        heroes = summary.get("m.heroes")
        if type(heroes) is list:
            valid = tuple(h for h in heroes if is_user_id(h) and h != self.me)[:MAX_HEROES]
            if valid != self.heroes:
                self.heroes = valid
                self.changed = True
        elif heroes is not None:
            tally.skipped += 1
        joined = summary.get("m.joined_member_count")
        if type(joined) is int and joined >= 0 and joined != self.joined:
            self.joined = joined
            self.changed = True
        invited = summary.get("m.invited_member_count")
        if type(invited) is int and invited >= 0 and invited != self.invited:
            self.invited = invited
            self.changed = True

    def display_name_of(self, user_id: UserId) -> str:
        name = self.members.get(user_id)
        if name:
            return name
        # The localpart reads better in a one-line preview than the full ID.
        return user_id[1:].split(":", 1)[0] or user_id


def _apply_joined(room: RoomState, data: dict[str, Any], tally: _Tally) -> RoomState:
    names = _Names(room)
    timeline = data.get("timeline")
    raw_events = _events_of(timeline, tally)
    state_after = data.get("state_after")
    if state_after is None:
        names.apply_state_events(_events_of(data.get("state"), tally), tally)

    # 1. Timeline (state events in it update the names as they come).
    events: list[TimelineEvent] = []
    append = events.append
    for raw in raw_events:
        event = _timeline_event(raw, names, tally)
        if event is not None:
            append(event)
    if events:
        limited = type(timeline) is dict and timeline.get("limited") is True
        # A limited timeline that starts with an event already loaded (an initial sync on
        # top of the cache, say) connects to what is loaded: no history is missing.
        if limited and events[0].event_id in room.index:
            limited = False
        prev_batch = timeline.get("prev_batch") if limited else None
        if not (isinstance(prev_batch, str) and prev_batch and prev_batch.isprintable()):
            prev_batch = None
        room = add_timeline(room, events, limited=limited, prev_batch=prev_batch)

    # 2. State that names the room.
    if state_after is not None:
        names.apply_state_events(_events_of(state_after, tally), tally)
    names.apply_summary(data.get("summary"), tally)

    # Everything below is gathered into one replace(): a frozen RoomState costs ~10 us
    # to copy, and an initial sync copies each of 1,000 rooms.
    updates: dict[str, Any] = {}

    # 3. Receipts, everybody's: mine drive the counts, others' are shown in the timeline.
    # One copy of each mapping for all of them (app.model.room.apply_receipts' rule).
    found = _receipts(_events_of(data.get("ephemeral"), tally), tally)
    if found:
        receipts, pending = merged_receipts(room, found)
        if receipts is not None:
            updates["receipts"] = receipts
        if pending is not None:
            updates["pending"] = pending

    # 4. Room account data.
    fully_read, marked = _room_account_data(_events_of(data.get("account_data"), tally), tally)
    if fully_read is not None and fully_read != room.fully_read:
        if room.pending_fully_read is None:
            updates["fully_read"] = fully_read
        else:
            room = set_fully_read(room, fully_read)  # it also settles my pending marker
    if marked is not None and marked != room.marked_unread:
        updates["marked_unread"] = marked

    # 5. The server's counts (as set_server_counts would). A thread missing from the map
    # went to zero.
    main = room.server_main
    notifications = data.get("unread_notifications")
    if type(notifications) is dict:
        main = _server_counts(notifications)
    elif notifications is not None:
        tally.skipped += 1
    threads: dict[str, ServerCounts] = {}
    per_thread = data.get("unread_thread_notifications")
    if type(per_thread) is dict:
        for root, counts in per_thread.items():
            if is_event_id(root) and type(counts) is dict:
                server = _server_counts(counts)
                if server != _NO_COUNTS:
                    threads[root] = server
            else:
                tally.skipped += 1
    elif per_thread is not None:
        tally.skipped += 1
    if main != room.server_main:
        updates["server_main"] = main
    if threads != room.server_threads:
        updates["server_threads"] = threads

    if names.changed or not room.name or room.membership != "join":
        inputs = names.inputs()
        updates["name_inputs"] = inputs
        updates["member_names"] = names.members
        updates["name"] = inputs.display_name(room.room_id, names.members)
        updates["membership"] = "join"
    return replace(room, **updates) if updates else room


def _server_counts(counts: Mapping[str, Any]) -> ServerCounts:
    notifications = _nonnegative(counts.get("notification_count"))
    highlights = _nonnegative(counts.get("highlight_count"))
    if not notifications and not highlights:
        return _NO_COUNTS
    return ServerCounts(notifications, highlights)


def _apply_invite(room: RoomState, data: dict[str, Any], tally: _Tally) -> RoomState:
    """An invite: a name from the stripped state, membership "invite"."""
    me = room.me
    names = _Names(room)
    joined: list[UserId] = []
    invited = 0
    is_direct = room.is_direct
    for raw in _events_of(data.get("invite_state"), tally):
        if not isinstance(raw, dict):
            tally.skipped += 1
            continue
        etype, state_key, content = raw.get("type"), raw.get("state_key"), raw.get("content")
        if not (is_token(etype) and type(state_key) is str):
            tally.skipped += 1
            continue
        if not isinstance(content, dict):
            content = {}
        names.apply_state(etype, state_key, content)
        if etype == "m.room.member" and is_user_id(state_key):
            membership = content.get("membership")
            if state_key == me:
                if membership == "invite" and content.get("is_direct") is True:
                    is_direct = True
                if membership == "invite":
                    invited += 1
            elif membership == "join":
                joined.append(state_key)
            elif membership == "invite":
                invited += 1
    if joined or invited:
        names.heroes = tuple(joined[:MAX_HEROES])
        names.joined = len(joined)
        names.invited = max(invited, 1)
    inputs = names.inputs()
    return replace(
        room,
        membership="invite",
        is_direct=is_direct,
        name_inputs=inputs,
        member_names=names.members,
        name=inputs.display_name(room.room_id, names.members),
    )


# ---- events --------------------------------------------------------------------


def _timeline_event(raw: object, names: _Names, tally: _Tally) -> TimelineEvent | None:
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
        ts = _timestamp(ts)
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
    # Positional: measurably cheaper than keywords on the hot path (field order is
    # pinned by a test).
    return TimelineEvent(
        event_id, sender, ts, etype, body, rel_type, relates_to, state_key, redacted, redacts, thread_reply_count
    )


def _preview(etype: str, content: dict[str, Any], sender: UserId, state_key: str | None, names: _Names) -> str:
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


def _state_preview(etype: str, content: dict[str, Any], state_key: str, names: _Names) -> str:
    if etype == "m.room.member":
        who = names.display_name_of(state_key) if is_user_id(state_key) else clean_text(state_key, NAME_MAX_CHARS)
        verb = _MEMBERSHIP_VERBS.get(content.get("membership"), "changed membership")  # type: ignore[arg-type]
        return clean_text(who + " " + verb)
    if etype == "m.room.name":
        name = _clean_name(content.get("name"))
        return clean_text("[name] " + name) if name else "[name removed]"
    if etype == "m.room.canonical_alias":
        alias = _clean_name(content.get("alias"))
        return clean_text("[alias] " + alias) if alias else "[alias removed]"
    if etype == "m.room.topic":
        return clean_text("[topic] " + clean_text(content.get("topic")))
    return clean_text("[" + etype + "]", NAME_MAX_CHARS)


# ---- receipts and account data ----------------------------------------------


def _receipts(ephemeral: list[Any], tally: _Tally) -> list[tuple[ReceiptKey, Receipt]]:
    """Every ``m.read``/``m.read.private`` receipt in the order the server gave them;
    other receipt types are ignored."""
    found: list[tuple[ReceiptKey, Receipt]] = []
    for raw in ephemeral:
        if type(raw) is not dict or raw.get("type") != "m.receipt":
            continue
        content = raw.get("content")
        if type(content) is not dict:
            tally.skipped += 1
            continue
        for event_id, by_type in content.items():
            if not (is_event_id(event_id) and type(by_type) is dict):
                tally.skipped += 1
                continue
            for type_name, by_user in by_type.items():
                receipt_type = _RECEIPT_TYPES.get(type_name)
                if receipt_type is None:
                    continue
                if type(by_user) is not dict:
                    tally.skipped += 1
                    continue
                for user_id, fields in by_user.items():
                    if not (tally.is_user_id(user_id) and type(fields) is dict):
                        tally.skipped += 1
                        continue
                    thread_id = fields.get("thread_id")
                    if thread_id is not None and thread_id != MAIN and not is_event_id(thread_id):
                        tally.skipped += 1
                        continue
                    found.append(
                        (ReceiptKey(user_id, receipt_type, thread_id), Receipt(event_id, _timestamp(fields.get("ts"))))
                    )
    return found


def _room_account_data(events: list[Any], tally: _Tally) -> tuple[str | None, bool | None]:
    """``m.fully_read`` and the ``m.marked_unread`` flag in this sync (None when absent)."""
    fully_read = None
    marked: bool | None = None
    marked_unstable: bool | None = None
    for raw in events:
        if type(raw) is not dict:
            tally.skipped += 1
            continue
        etype, content = raw.get("type"), raw.get("content")
        if type(content) is not dict:
            tally.skipped += 1
            continue
        if etype == "m.fully_read":
            event_id = content.get("event_id")
            if is_event_id(event_id):
                fully_read = event_id
            else:
                tally.skipped += 1
        elif etype == _MARKED_UNREAD or etype == _MARKED_UNREAD_UNSTABLE:
            unread = content.get("unread")
            if type(unread) is not bool:
                tally.skipped += 1
            elif etype == _MARKED_UNREAD:
                marked = unread
            else:
                marked_unstable = unread
    # The stable name wins when a sync carries both.
    return fully_read, (marked if marked is not None else marked_unstable)


def _direct_rooms(account_data: object, tally: _Tally) -> frozenset[RoomId] | None:
    """The rooms named by ``m.direct`` in this sync's global account data, or None when
    it did not change."""
    direct: frozenset[RoomId] | None = None
    for raw in _events_of(account_data, tally):
        if type(raw) is not dict or raw.get("type") != "m.direct":
            continue
        content = raw.get("content")
        if type(content) is not dict:
            tally.skipped += 1
            continue
        rooms: set[RoomId] = set()
        for user_id, room_ids in content.items():
            if not (is_user_id(user_id) and type(room_ids) is list):
                tally.skipped += 1
                continue
            rooms.update(r for r in room_ids if is_room_id(r))
        direct = frozenset(rooms)
    return direct
