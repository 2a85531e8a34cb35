"""Edits (``m.replace``): which text an edited event shows.

The newest edit by the event's own sender wins; the spec ignores edits by anyone else.
A redacted edit is no edit. An edit whose original is not loaded is kept (it applies if
the original is loaded later, and harms nothing until then).
"""

from __future__ import annotations

from collections.abc import Mapping

from app.model.events import REL_REPLACE, TimelineEvent
from app.model.ids import EventId
from app.model.room import RoomState


def latest_edits(room: RoomState) -> dict[EventId, TimelineEvent]:
    """The newest valid edit of each edited event of ``room``, by the event it edits."""
    edits: dict[EventId, TimelineEvent] = {}
    for event in room.events:
        if event.rel_type != REL_REPLACE or event.relates_to is None or event.redacted:
            continue
        original = room.event(event.relates_to)
        if original is None or original.sender == event.sender:
            edits[event.relates_to] = event
    return edits


def latest_text(room: RoomState, event: TimelineEvent, edits: Mapping[EventId, TimelineEvent] | None = None) -> str:
    """The one-line text ``event`` shows: its newest edit's, else its own. ``edits``, from
    ``latest_edits``, saves a pass over the room when asking for many events."""
    edit = (latest_edits(room) if edits is None else edits).get(event.event_id)
    return edit.body if edit is not None and edit.body else event.body
