"""The /sync filter: ask the server for exactly what read state needs, and no more.

This is the first performance lever: every byte the server leaves out is a
byte nobody decodes. The filter asks for

- per-thread notification counts (``unread_thread_notifications``), so
  ``unread_notifications`` counts the main timeline only;
- lazily loaded members, in the timeline and the state, so a 10,000-member room sends
  the members of the senders it shows, not all of them;
- a bounded timeline window (gaps are filled on demand from ``/relations``);
- room state limited to what names a room (name, canonical alias, members), whether it
  is encrypted, its power levels (for the push rules, and who may add a room to a
  space), its creation (its creators, and its type: a space or not), and where it sits
  among spaces (a space's ``m.space.child`` children, a room's ``m.space.parent``
  claims), and its join rule and history visibility (what the receipt policy reads);
- ephemeral events limited to receipts (no typing notifications);
- room account data limited to ``m.fully_read``, ``m.marked_unread`` (stable and
  unstable names) and the receipt mode set for the room from readmark
  (``org.readmark.receipt_policy``); global account data limited to ``m.direct`` and
  ``m.push_rules``; no presence;
- ``event_fields``: only the event fields the translation (``app.matrix.translate`` and,
  for each event, ``app.matrix.wire_events``) and decryption read. That drops
  ``unsigned.age``, ``formatted_body``, reply fallbacks' extra keys and the full ``redacted_because`` event, which make up much of a typical
  body. (Synapse 1.163 adds bundled aggregations after this filtering, so a thread
  root in a limited timeline still carries its whole ``m.thread`` summary.) Keep this
  list in step with ``wire_events.py``. Synapse 1.163 does not apply ``event_fields``
  to account data (``m.fully_read``'s ``content.event_id`` and ``m.push_rules`` arrive
  whole without being listed; tests/matrix/test_receipt_policy_synapse.py checks it for
  the receipt mode's ``content.mode``); the spec does not say, so the receipt mode's
  ``content.mode`` is listed anyway, for a server that would.
"""

from __future__ import annotations

from typing import Any, Final

from app.model.room import RECEIPT_POLICY_TYPE

DEFAULT_TIMELINE_LIMIT: Final = 30
# Servers may cap the limit themselves; a client that asks for thousands per room on an
# initial sync of 1,000 rooms asks for trouble.
MAX_TIMELINE_LIMIT: Final = 200

ROOM_ACCOUNT_DATA_TYPES: Final = (
    "m.fully_read", "m.marked_unread", "com.famedly.marked_unread", RECEIPT_POLICY_TYPE
)
GLOBAL_ACCOUNT_DATA_TYPES: Final = ("m.direct", "m.push_rules")
# State needed by the display-name algorithm (members: display names of heroes and
# senders), whether the room is encrypted, who may notify the whole room (push rules'
# sender_notification_permission), and the room's place among spaces.
ROOM_STATE_TYPES: Final = (
    "m.room.name",
    "m.room.canonical_alias",
    "m.room.member",
    "m.room.encryption",
    "m.room.power_levels",
    # Its creators (from room version 12 they stand above every power level) and its
    # type ("m.space" for a space).
    "m.room.create",
    # Spaces: a space's children, and the spaces a room claims as its parents.
    "m.space.child",
    "m.space.parent",
    # What the receipt policy reads: who may join, and who may read the history.
    "m.room.join_rules",
    "m.room.history_visibility",
)

# Dotted paths; a literal "." in a key is escaped as "\." (spec: Filtering, event_fields).
EVENT_FIELDS: Final = (
    "type",
    "event_id",
    "sender",
    "origin_server_ts",
    "state_key",
    "redacts",
    # Previews, by message type.
    "content.msgtype",
    "content.body",
    "content.filename",
    # Encrypted events: what decryption reads (the algorithm also marks an encrypted room).
    "content.algorithm",
    "content.ciphertext",
    "content.sender_key",
    "content.session_id",
    "content.device_id",
    # Intentional mentions, for the push rules evaluated here.
    "content.m\\.mentions",
    # Power levels: a sender's level, and the level that may notify the room.
    "content.users",
    "content.users_default",
    "content.notifications",
    "content.room_version",
    "content.additional_creators",
    # The level that may send m.space.child: its own entry, else the state default.
    "content.events.m\\.space\\.child",
    "content.state_default",
    # A room's type (m.room.create), and a space's children and parents.
    "content.type",
    "content.via",
    "content.order",
    "content.canonical",
    # Relations (threads, edits, reactions) and redactions (room version 11 puts it here).
    "content.m\\.relates_to",
    # An edit's new text (its own body is a "* ..." fallback).
    "content.m\\.new_content.body",
    "content.m\\.new_content.msgtype",
    "content.redacts",
    # State that names a room.
    "content.name",
    "content.alias",
    "content.displayname",
    "content.membership",
    "content.is_direct",
    # The receipt policy's facts of a room, and the mode set for it from readmark
    # (room account data).
    "content.join_rule",
    "content.history_visibility",
    "content.mode",
    # Polls: the unstable (MSC3381) and stable forms of the question.
    "content.org\\.matrix\\.msc3381\\.poll\\.start.question",
    "content.m\\.poll.question",
    "content.org\\.matrix\\.msc1767\\.text",
    "content.m\\.text",
    # Whether an event was redacted, and the bundled size of a thread.
    "unsigned.redacted_because.event_id",
    "unsigned.m\\.relations.m\\.thread.count",
)


def sync_filter(timeline_limit: int = DEFAULT_TIMELINE_LIMIT, *, trim_fields: bool = True) -> dict[str, Any]:
    """The filter JSON for ``GET /sync?filter=...`` (or ``POST /user/{id}/filter``).

    ``timeline_limit`` is clamped to 1..MAX_TIMELINE_LIMIT. ``trim_fields=False`` leaves
    out ``event_fields``, for callers that want whole events.
    """
    limit = max(1, min(int(timeline_limit), MAX_TIMELINE_LIMIT))
    room_filter: dict[str, Any] = {
        "timeline": {
            "limit": limit,
            "unread_thread_notifications": True,
            "lazy_load_members": True,
        },
        "state": {
            "lazy_load_members": True,
            "types": list(ROOM_STATE_TYPES),
        },
        "ephemeral": {"types": ["m.receipt"]},
        "account_data": {"types": list(ROOM_ACCOUNT_DATA_TYPES)},
        "include_leave": False,
    }
    result: dict[str, Any] = {
        "room": room_filter,
        "account_data": {"types": list(GLOBAL_ACCOUNT_DATA_TYPES)},
        "presence": {"types": []},
    }
    if trim_fields:
        result["event_fields"] = list(EVENT_FIELDS)
    return result
