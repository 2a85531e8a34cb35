"""Translation of ``/sync`` response bodies into the read-state model. Pure: no nio, no I/O.

``parse_sync`` decodes a body; ``apply_sync`` folds one decoded sync into an
``AccountState`` and returns the new one. Wire JSON stops at this module and the ones it
uses: ``app.matrix.wire_events`` reads one event, ``app.matrix.naming`` keeps a room's
naming state while its sync is applied, ``app.matrix.wire`` sanitises text and reads
plain values, and ``app.model.ids`` says what a valid ID looks like. Nothing above them
sees a sync dict.

Per joined room, the order is: timeline events (so receipts and markers in the same sync
can point at them), then the state that names the room (and its power levels, its type,
a space's children and a room's parents, its join rule and history visibility), then
receipts, room account data (``m.fully_read``, ``m.marked_unread``, the receipt mode set
from readmark), and the server's notification counts. Room state is applied in Matrix order: the ``state``
block (state at the start of the timeline), then state events of the timeline in order;
with ``state_after`` (MSC4222) the timeline's state first and ``state_after`` last.

Robustness: a sync comes from a server, and its events from anybody in the room. Every
field is type-checked where it is read; malformed items are skipped and counted in one
debug log line per sync. ``apply_sync`` never raises on a JSON object.

Performance: only rooms present in the sync are touched, so an incremental sync costs
what it carries, not what the account holds. Per event the work is a handful of dict
lookups and one ``TimelineEvent``; text takes a fast path when it is printable.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from typing import Any, Final

import msgspec

from app.gcpause import collector_paused
from app.matrix.errors import first_line
from app.matrix.naming import MAX_HEROES, RoomNaming
from app.matrix.wire import PREVIEW_MAX_CHARS, Tally, clean_text, events_of, nonnegative, timestamp
from app.model.push import PushRuleset, ruleset_from_json
from app.matrix.wire_events import DeferredAlert, Moments, alerts, timeline_event, with_verdict
from app.model.account import AccountState, RoomMap
from app.model.events import ENCRYPTED, TimelineEvent, counts_as_unread, settle_alert
from app.model.ids import MAIN, EventId, RoomId, UserId, is_event_id, is_room_id, is_token, is_user_id
from app.model.receipts import Receipt, ReceiptKey, ReceiptType, new_receipt, new_receipt_key
from app.model.room import (
    RECEIPT_MODES,
    RECEIPT_POLICY_TYPE,
    RoomState,
    ServerCounts,
    add_timeline,
    evolve,
    merged_receipts,
    set_fully_read,
    still_unread,
)

__all__ = [
    "PREVIEW_MAX_CHARS",
    "SyncFormatError",
    "apply_sync",
    "apply_sync_changes",
    "clean_text",
    "decoded",
    "parse_sync",
    "timeline_events",
]

log = logging.getLogger(__name__)

_RECEIPT_TYPES: Final = {"m.read": ReceiptType.PUBLIC, "m.read.private": ReceiptType.PRIVATE}
_MARKED_UNREAD: Final = "m.marked_unread"
_MARKED_UNREAD_UNSTABLE: Final = "com.famedly.marked_unread"
_NO_COUNTS: Final = ServerCounts()
# Counts below this are kept once each (at most 64 * 64 objects).
_SHARED_COUNTS: Final = 64
_COUNTS: Final[dict[tuple[int, int], ServerCounts]] = {}
# No receipt-policy event in a sync's room account data (None is one that clears it).
_ABSENT: Final = object()
# More than any sync filter asks for in one room (the filter's limit is far lower).
MAX_TIMELINE_EVENTS: Final = 1000


# msgspec decodes a /sync body into the same dicts, lists and scalars as ``json.loads``
# in about 0.6x its time (tests/bench, benchmark 1); bodies it refuses go to json.loads.
# Each room's entry is left undecoded (``msgspec.Raw``, checked JSON that points into
# the body) until the translation reaches it: the decoded JSON of one room at a time
# is alive, not that of the whole account.
_generic: Final = msgspec.json.Decoder().decode
_top_level: Final = msgspec.json.Decoder(dict[str, msgspec.Raw]).decode
_room_sections: Final = msgspec.json.Decoder(dict[str, dict[str, msgspec.Raw]]).decode
# A str body with a lone surrogate cannot be encoded for msgspec; json.loads reads it.
_MSGSPEC_REFUSES: Final = (msgspec.DecodeError, msgspec.ValidationError, UnicodeEncodeError)


def _decode(body: bytes | bytearray | str) -> dict[str, Any]:
    sync = {}
    for name, raw in _top_level(body).items():
        if name == "rooms":
            try:
                sync[name] = _room_sections(raw)
            except msgspec.ValidationError:
                # Not an object of objects: as it is, for the translation to skip.
                sync[name] = _generic(raw)
        else:
            sync[name] = _generic(raw)
    return sync


def _room_json(raw: msgspec.Raw) -> object:
    """One room's entry decoded, as ``json.loads`` reads it. ``Raw`` checked its syntax
    only: what msgspec refuses on decoding (1e400, a number of 5,000 digits, a CESU
    surrogate, nesting past its depth) goes to ``json.loads``, and what that refuses
    too (bytes that are not UTF-8, nesting past Python's depth) is a ``SyncFormatError``
    for the whole sync, as it was when the body was decoded at once."""
    try:
        return _generic(raw)
    except (*_MSGSPEC_REFUSES, RecursionError):
        pass
    try:
        return json.loads(bytes(raw))
    except (ValueError, RecursionError) as error:
        raise _not_json(error) from None


def decoded(value: object) -> object:
    """``value`` with every ``msgspec.Raw`` in it decoded: a parsed sync as ``json.loads``
    reads its body (for whoever wants the whole document)."""
    if type(value) is msgspec.Raw:
        return _room_json(value)
    if type(value) is dict:
        return {name: decoded(item) for name, item in value.items()}
    return value


class SyncFormatError(ValueError):
    """The body of a /sync response is not a JSON object."""


def _not_json(error: BaseException) -> SyncFormatError:
    return SyncFormatError(f"sync response is not valid JSON: {first_line(error, 200)}")


def parse_sync(body: bytes | bytearray | str | Mapping[str, Any]) -> dict[str, Any]:
    """Decode a /sync body. Raises ``SyncFormatError`` (one line) if it is not a JSON object.

    The rooms' entries (``rooms.join``, ``invite``, ``leave`` and the rest, per room)
    stay ``msgspec.Raw`` until ``apply_sync_changes`` reaches each (``decoded`` gives
    the whole document); everything else is decoded."""
    if isinstance(body, dict):
        return body
    if isinstance(body, Mapping):
        return dict(body)
    try:
        with collector_paused():
            try:
                decoded = _decode(body)
            except (*_MSGSPEC_REFUSES, RecursionError):
                # What msgspec refuses and Python's json may still read (NaN, a lone
                # surrogate, 1e400, a byte-order mark, nesting msgspec stops at
                # earlier): the answer is the stdlib's.
                decoded = json.loads(body)
    except (ValueError, RecursionError, TypeError) as error:
        raise _not_json(error) from None
    if not isinstance(decoded, dict):
        raise SyncFormatError(f"sync response is a JSON {type(decoded).__name__}, not an object")
    return decoded


def timeline_events(
    raw_events: Iterable[object], room: RoomState | None = None, push_rules: PushRuleset | None = None
) -> list[TimelineEvent]:
    """Events fetched outside /sync (``/relations``, ``/threads``, ``/event``), in the
    order given, malformed ones skipped. For ``app.model.room.backfill``. Given the
    ``room`` they belong to, messages get the push rules' verdict in its current state."""
    tally = Tally()
    names = RoomNaming(room if room is not None else RoomState("!outside-sync", ""))
    alert = alerts(push_rules, names, room.room_id) if room is not None else None
    events = [event for raw in raw_events if (event := timeline_event(raw, names, tally, alert)) is not None]
    if tally.skipped:
        log.debug("events: skipped %d malformed item(s)", tally.skipped)
    return events


def apply_sync(account: AccountState, sync: Mapping[str, Any]) -> AccountState:
    """The account after one sync. Never raises on a JSON object (``SyncFormatError``
    for anything else, a room's undecoded entry from ``parse_sync`` included: then
    nothing of the sync is applied)."""
    return apply_sync_changes(account, sync)[0]


def apply_sync_changes(
    account: AccountState,
    sync: Mapping[str, Any],
    *,
    initial: bool = False,
    deferred: dict[RoomId, list[tuple[TimelineEvent, DeferredAlert]]] | None = None,
) -> tuple[AccountState, frozenset[RoomId]]:
    """``apply_sync``, and the IDs of the rooms it changed, added or removed (for the
    cache and for redrawing only what moved).

    ``initial``: the sync was made without a ``since`` token, so (``include_leave`` off)
    it lists every room I am in or invited to; a room of ``account`` it does not list was
    cached under an earlier token and left, or gone, meanwhile, and is removed. Applied on
    top of them, an initial sync would otherwise keep such rooms for good.

    ``deferred``: for a caller that decrypts what it wants of the rooms next (the core).
    The push rules' verdict on an encrypted timeline event of a joined room is left
    ``ALERT_UNKNOWN``, and the event (as it is in the returned room: compare by
    identity) with its ``DeferredAlert`` is listed under its room: the caller judges the
    plaintext of what it decrypts and must set ``DeferredAlert.verdict()`` on the rest
    that my confirmed receipts leave unread (``room.read_for_good``).

    A message of a joined room that my confirmed receipts cover once the sync is in
    (``room.read_for_good``) is left ``ALERT_UNKNOWN``: it is never counted, and the
    push rules are the sync's largest cost after the walk over its events."""
    if not isinstance(sync, Mapping):
        raise SyncFormatError(f"sync response is a {type(sync).__name__}, not an object")
    with collector_paused():
        return _apply_sync_changes(account, sync, initial, deferred)


def _apply_sync_changes(
    account: AccountState,
    sync: Mapping[str, Any],
    initial: bool,
    deferred: dict[RoomId, list[tuple[TimelineEvent, DeferredAlert]]] | None = None,
) -> tuple[AccountState, frozenset[RoomId]]:
    tally = Tally()
    me = account.user_id
    rooms = RoomMap(account.rooms)
    changed: set[RoomId] = set()
    # First: the rooms' events are judged by these rules.
    push_json = _push_rules_json(sync.get("account_data"), tally)
    if push_json is not None and push_json != account.push_rules_json:
        account = replace(account, push_rules=ruleset_from_json(push_json, me), push_rules_json=push_json)
    ruleset = account.push_rules

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
            rooms[room_id] = _apply_joined(room, data, tally, ruleset, deferred)
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
        # m.direct changed: every room is judged again (an invite keeps the is_direct
        # of its member event).
        for room_id, room in list(rooms.items()):
            flag = room_id in direct
            if room.is_direct != flag and room.membership != "invite":
                rooms[room_id] = replace(room, is_direct=flag)
                changed.add(room_id)
    else:
        direct = account.direct_rooms
        if direct:
            # A room m.direct named before this sync brought it (another client wrote
            # m.direct first, the join came later) is a DM from now on.
            for room_id in [r for r in changed if r in direct]:
                room = rooms.get(room_id)
                if room is not None and not room.is_direct:
                    rooms[room_id] = replace(room, is_direct=True)

    next_batch = sync.get("next_batch")
    if not (isinstance(next_batch, str) and next_batch and next_batch.isprintable()):
        if next_batch is not None:
            tally.skipped += 1
        next_batch = account.next_batch

    if tally.skipped:
        log.debug("sync: skipped %d malformed item(s) in %d room(s)", tally.skipped, len(changed))
    changed_ids = frozenset(changed)
    return (replace(account, rooms=rooms.record(account.rooms, changed_ids), next_batch=next_batch, direct_rooms=direct),
            changed_ids)


def _guard_failed(room_id: RoomId, error: Exception, tally: Tally) -> None:
    tally.skipped += 1
    log.warning("sync: room %s could not be translated (%s); kept as it was", room_id, type(error).__name__)


# ---- rooms ---------------------------------------------------------------------


def _room_entries(section: object, tally: Tally) -> Iterator[tuple[RoomId, dict[str, Any]]]:
    """A section's rooms, each decoded as it is reached (see ``parse_sync``)."""
    if not isinstance(section, dict):
        if section is not None:
            tally.skipped += 1
        return
    for room_id, data in section.items():
        if type(data) is msgspec.Raw:
            data = _room_json(data)
        if is_room_id(room_id) and isinstance(data, dict):
            yield room_id, data
        else:
            tally.skipped += 1


def _apply_joined(
    room: RoomState,
    data: dict[str, Any],
    tally: Tally,
    ruleset: PushRuleset | None = None,
    deferred: dict[RoomId, list[tuple[TimelineEvent, DeferredAlert]]] | None = None,
) -> RoomState:
    names = RoomNaming(room)
    # The summary's member counts first: the push rules read the room's size.
    names.apply_summary(data.get("summary"), tally)
    # Every message is judged at the end, and only if still unread then (an encrypted
    # one, with ``deferred``, by whoever decrypts it).
    moments = Moments(ruleset, names, room.room_id)
    me = room.me
    timeline = data.get("timeline")
    raw_events = events_of(timeline, tally)
    state_after = data.get("state_after")
    if state_after is None:
        names.apply_state_events(events_of(data.get("state"), tally), tally)

    # 1. Timeline (state events in it update the names as they come). A timeline longer
    # than any filter asks for is a server's mistake or malice: only its newest
    # MAX_TIMELINE_EVENTS become events, the older ones name the room and are a gap.
    events: list[TimelineEvent] = []
    append = events.append
    cut = len(raw_events) - MAX_TIMELINE_EVENTS
    if cut > 0:
        names.apply_state_events([raw for raw in raw_events[:cut] if type(raw) is dict and "state_key" in raw], tally)
        raw_events = raw_events[cut:]
    # A message's moment (the room's state the push rules read, as of its place in the
    # timeline) is taken again after each state event, which is all that changes it.
    unjudged: list[tuple[TimelineEvent, dict, tuple]] = []
    waiting: list[tuple[int, DeferredAlert]] = []
    moment = None
    for raw in raw_events:
        event = timeline_event(raw, names, tally)
        if event is None:
            continue
        if event.state_key is not None:
            moment = None
        elif counts_as_unread(event, me):  # what an unread count includes: all the rules judge
            if moment is None:
                moment = moments.moment()
            if deferred is not None and event.type == ENCRYPTED:
                waiting.append((len(events), moments.deferred(raw, event.sender, moment)))
            else:
                unjudged.append((event, raw, moment))
        append(event)
    if waiting:
        _defer_alerts(room, events, waiting, deferred)  # type: ignore[arg-type]
    known_before = room.index if unjudged else None
    if events:
        limited = cut > 0 or (type(timeline) is dict and timeline.get("limited") is True)
        # A limited timeline that starts with an event already loaded (an initial sync on
        # top of the cache, say) connects to what is loaded: no history is missing.
        if limited and events[0].event_id in room.index:
            limited = False
        # prev_batch is where the server's timeline starts: with its head cut, the gap
        # before the first event kept cannot be paged from there.
        prev_batch = timeline.get("prev_batch") if limited and cut <= 0 else None
        if not (isinstance(prev_batch, str) and prev_batch and prev_batch.isprintable()):
            prev_batch = None
        room = add_timeline(room, events, limited=limited, prev_batch=prev_batch)

    # 2. State that names the room.
    if state_after is not None:
        names.apply_state_events(events_of(state_after, tally), tally)

    # Everything below is gathered into one replace(): a frozen RoomState costs ~10 us
    # to copy, and an initial sync copies each of 1,000 rooms.
    updates: dict[str, Any] = {}

    # 3. Receipts, everybody's: mine drive the counts, others' are shown in the timeline.
    # One copy of each mapping for all of them (app.model.room.apply_receipts' rule).
    found = _receipts(events_of(data.get("ephemeral"), tally), tally)
    if found:
        receipts, pending = merged_receipts(room, found)
        if receipts is not None:
            updates["receipts"] = receipts
        if pending is not None:
            updates["pending"] = pending

    # 4. Room account data.
    fully_read, marked, marked_unstable, policy = _room_account_data(events_of(data.get("account_data"), tally), tally)
    if fully_read is not None and fully_read != room.fully_read:
        if room.pending_fully_read is None:
            updates["fully_read"] = fully_read
        else:
            room = set_fully_read(room, fully_read)  # it also settles my pending marker
    # The stable flag wins over Famedly's wherever my account data holds it, not only
    # in a sync that carries both (a fresh start's): an older client's flag in a room
    # once flagged or cleared under the stable name shows neither now nor after a restart.
    if marked is not None:
        if not room.marked_unread_stable:
            updates["marked_unread_stable"] = True
    elif not room.marked_unread_stable:
        marked = marked_unstable
    if marked is not None and marked != room.marked_unread:
        updates["marked_unread"] = marked
    # The receipt mode set from readmark: an event whose content names no mode ({})
    # clears it.
    if policy is not _ABSENT and policy != room.receipt_override:
        updates["receipt_override"] = policy

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
    if names.encrypted and not room.encrypted:
        updates["encrypted"] = True
    # Power levels (the push rules' and who may add children to a space) and the room's
    # place among spaces, as the sync left them.
    if names.power != room.power:
        updates["power"] = names.power
    if names.room_type != room.room_type:
        updates["room_type"] = names.room_type
    if names.children is not room.space_children and names.children != room.space_children:
        updates["space_children"] = names.children
    if names.parents is not room.space_parents and names.parents != room.space_parents:
        updates["space_parents"] = names.parents
    # What the receipt policy reads of the room's state.
    if names.join_rule != room.join_rule:
        updates["join_rule"] = names.join_rule
    if names.history_visibility != room.history_visibility:
        updates["history_visibility"] = names.history_visibility
    if updates:
        room = evolve(room, updates)
    if unjudged:
        room = _judge_unread(room, known_before, unjudged, moments)
    return room


def _judge_unread(
    room: RoomState,
    known_before: Mapping[EventId, int],
    unjudged: list[tuple[TimelineEvent, dict, tuple]],
    moments: Moments,
) -> RoomState:
    """``room`` with the push rules' verdict on each message of this sync (``unjudged``)
    that my confirmed receipts leave unread (``unjudged``: each with its event as sent and its
    moment, ``Moments``); the rest stay ``ALERT_UNKNOWN``.

    Only unread events are counted, and a confirmed receipt never moves back (servers
    keep a receipt only when it is further than the one before), so a verdict on an
    event it covers would never be read. A receipt only pending may still be refused:
    the events it covers are judged. An event already loaded before this sync is the
    room's earlier one, judged then; one gone from the room (cut, or a duplicate) is
    skipped.

    The verdict is set in place (``settle_alert``): every event it is set on was built
    by this sync (one loaded before is skipped) and only ``room``, not returned yet,
    holds it."""
    index, events = room.index, room.events
    loaded: dict[int, tuple[dict, tuple]] = {}
    for event, raw, moment in unjudged:
        event_id = event.event_id
        if event_id in known_before:
            continue
        position = index.get(event_id)
        if position is not None:
            loaded[position] = (raw, moment)
    for position in still_unread(room, loaded):
        raw, moment = loaded[position]
        event = events[position]
        settle_alert(event, moments.verdict(raw, event.sender, moment))
    return room


def _defer_alerts(
    room: RoomState,
    events: list[TimelineEvent],
    waiting: list[tuple[int, DeferredAlert]],
    deferred: dict[RoomId, list[tuple[TimelineEvent, DeferredAlert]]],
) -> None:
    """Hand the encrypted events whose verdict waits (``waiting``: their positions in
    ``events``) to the caller with their ``DeferredAlert``. Those that may not reach the
    room as built (already loaded, or redacted in this batch, which copies them) are
    judged now, as without deferring."""
    redacted = {event.redacts for event in events if event.redacts is not None}
    known = room.index
    found = deferred.setdefault(room.room_id, [])
    for position, entry in waiting:
        event = events[position]
        if event.event_id in redacted or event.event_id in known:
            events[position] = with_verdict(event, entry.verdict())
        else:
            found.append((event, entry))


def _server_counts(counts: Mapping[str, Any]) -> ServerCounts:
    notifications = nonnegative(counts.get("notification_count"))
    highlights = nonnegative(counts.get("highlight_count"))
    if not notifications and not highlights:
        return _NO_COUNTS
    if notifications < _SHARED_COUNTS and highlights < _SHARED_COUNTS:
        # Most counts are small: one (frozen) object each, not one per thread (5,040 of
        # them in a 1,000-room initial sync, each for the collector to walk).
        key = (notifications, highlights)
        shared = _COUNTS.get(key)
        if shared is None:
            shared = _COUNTS[key] = ServerCounts(notifications, highlights)
        return shared
    return ServerCounts(notifications, highlights)


def _apply_invite(room: RoomState, data: dict[str, Any], tally: Tally) -> RoomState:
    """An invite: a name from the stripped state, membership "invite"."""
    me = room.me
    names = RoomNaming(room)
    joined: list[UserId] = []
    invited = 0
    is_direct = room.is_direct
    for raw in events_of(data.get("invite_state"), tally):
        if not isinstance(raw, dict):
            tally.skipped += 1
            continue
        etype, state_key, content = raw.get("type"), raw.get("state_key"), raw.get("content")
        if not (is_token(etype) and type(state_key) is str):
            tally.skipped += 1
            continue
        if not isinstance(content, dict):
            content = {}
        names.apply_state(etype, state_key, content, raw.get("sender"), timestamp(raw.get("origin_server_ts")), tally)
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
        encrypted=names.encrypted,
        # The stripped state's m.room.create: an invite to a space is known as one.
        room_type=names.room_type,
        # And its join rule and history visibility, when the server shares them.
        join_rule=names.join_rule,
        history_visibility=names.history_visibility,
    )


# ---- receipts and account data ----------------------------------------------


def _receipts(ephemeral: list[Any], tally: Tally) -> list[tuple[ReceiptKey, Receipt]]:
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
        for wire_id, by_type in content.items():
            if not (is_event_id(wire_id) and type(by_type) is dict):
                tally.skipped += 1
                continue
            event_id = tally.ids.get(wire_id, wire_id)
            for type_name, by_user in by_type.items():
                receipt_type = _RECEIPT_TYPES.get(type_name)
                if receipt_type is None:
                    continue
                if type(by_user) is not dict:
                    tally.skipped += 1
                    continue
                for wire_user, fields in by_user.items():
                    user_id = tally.user(wire_user)
                    if user_id is None or type(fields) is not dict:
                        tally.skipped += 1
                        continue
                    thread_id = fields.get("thread_id")
                    if thread_id == MAIN:
                        thread_id = MAIN
                    elif thread_id is not None and not is_event_id(thread_id):
                        tally.skipped += 1
                        continue
                    found.append(
                        (new_receipt_key(user_id, receipt_type, thread_id), new_receipt(event_id, timestamp(fields.get("ts"))))
                    )
    return found


def _room_account_data(
    events: list[Any], tally: Tally
) -> tuple[str | None, bool | None, bool | None, object]:
    """``m.fully_read``, the ``m.marked_unread`` flag and Famedly's unstable one (each
    None when absent) and the receipt mode set from readmark (``RECEIPT_POLICY_TYPE``: a
    mode of ``RECEIPT_MODES``, None for any other content, such as ``{}``; ``_ABSENT``
    when the sync has none) in this sync."""
    fully_read = None
    marked: bool | None = None
    marked_unstable: bool | None = None
    policy: object = _ABSENT
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
        elif etype == RECEIPT_POLICY_TYPE:
            mode = content.get("mode")
            if type(mode) is str and mode in RECEIPT_MODES:
                policy = mode
            else:
                # {} (readmark's own "no override") clears it silently; anything else
                # is a bad shape, and clears it too.
                if content:
                    tally.skipped += 1
                policy = None
    return fully_read, marked, marked_unstable, policy


def _push_rules_json(account_data: object, tally: Tally) -> str | None:
    """This sync's ``m.push_rules`` content as compact JSON, or None when it has none."""
    found = None
    for raw in events_of(account_data, tally):
        if type(raw) is dict and raw.get("type") == "m.push_rules":
            content = raw.get("content")
            if type(content) is dict:
                found = json.dumps(content, separators=(",", ":"), sort_keys=True)
            else:
                tally.skipped += 1
    return found


def _direct_rooms(account_data: object, tally: Tally) -> frozenset[RoomId] | None:
    """The rooms named by ``m.direct`` in this sync's global account data, or None when
    it did not change."""
    direct: frozenset[RoomId] | None = None
    for raw in events_of(account_data, tally):
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
