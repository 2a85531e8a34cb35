"""Edits (``m.replace``): which text an edited event shows.

The newest edit by the event's own sender wins; the spec ignores edits by anyone else.
A redacted edit is no edit. An edit whose original is not loaded is kept (it applies if
the original is loaded later, and harms nothing until then).
"""

from __future__ import annotations

from collections.abc import Mapping

from app.model.event_text import event_text
from app.model.events import REL_REPLACE, TimelineEvent
from app.model.ids import EventId
from app.model.room import RoomState

# The last room asked about and its edits. Rooms are immutable, and one key press asks
# for the same room's edits several times (its timeline, its threads' titles, the title
# over the timeline): a pass over its events each time would be work done thrice.
_last: tuple[RoomState, Mapping[EventId, TimelineEvent]] | None = None


def latest_edits(room: RoomState) -> Mapping[EventId, TimelineEvent]:
    """The newest valid edit of each edited event of ``room``, by the event it edits."""
    global _last
    if _last is not None and _last[0] is room:
        return _last[1]
    edits: dict[EventId, TimelineEvent] = {}
    for event in room.events:
        if event.rel_type != REL_REPLACE or event.relates_to is None or event.redacted:
            continue
        original = room.event(event.relates_to)
        if original is None or original.sender == event.sender:
            edits[event.relates_to] = event
    _last = (room, edits)
    return edits


def latest_text(room: RoomState, event: TimelineEvent) -> str:
    """The one-line text ``event`` shows: its newest edit's (``app.model.event_text``),
    else its own."""
    edit = latest_edits(room).get(event.event_id)
    if edit is not None and (text := event_text(edit)):
        return text
    return event_text(event)
