"""What the rooms pane shows of a room, and sorts by: a ``RoomSummary``.

A summary is a pure function of a room's state (``summarize``), small, and comparable
by value. The cache stores one beside each room so that a start can paint the rooms
pane from a thousand summaries before it decodes a thousand rooms;
the pane then compares each room's fresh summary with the one it painted and redraws
only the rows that differ.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from app.model.ids import RoomId
from app.model.room import RoomState
from app.model.spaces import NO_LINKS, RoomLinks, room_links
from app.model.unread import RoomUnread, room_unread


# Stored with the summaries (the cache's meta table): bump it when what a summary holds
# or how its counts are computed (app/model/unread.py) changes, so a cache written by an
# older readmark paints no stale counts; its preview is then skipped once.
SUMMARY_VERSION = 4


class RoomSort(str, Enum):
    ACTIVITY = "activity"
    UNREAD = "unread"
    NAME = "name"

    def next(self) -> RoomSort:
        members = list(RoomSort)
        return members[(members.index(self) + 1) % len(members)]


@dataclass(frozen=True, slots=True)
class RoomSummary:
    """What the rooms pane shows of one room, and sorts it by."""

    room_id: RoomId
    # The room's name, else the one computed from its members (spec: calculating the
    # display name of a room).
    title: str
    membership: str
    # Timestamp of the latest loaded event, 0 when none is loaded.
    latest_ts: int
    unread: RoomUnread
    # Its events come encrypted (the rooms pane marks it; its @N is counted here).
    encrypted: bool = False
    # Where it sits in the pane's groups (spaces, direct messages).
    links: RoomLinks = NO_LINKS


def shown_highlights(counts: RoomUnread, encrypted: bool) -> int:
    """The ``@N`` a room shows: the server cannot read an encrypted room's mentions, so
    there the count is readmark's own."""
    return counts.local_highlights if encrypted else counts.highlights


def room_title(room: RoomState) -> str:
    if room.name:
        return room.name
    return room.name_inputs.display_name(room.room_id, room.member_names)


def summarize(room: RoomState) -> RoomSummary:
    """The summary of ``room`` (memoised on the frozen state, like its counts)."""
    cached = room.__dict__.get("_summary")
    if cached is not None:
        return cached
    summary = RoomSummary(
        room.room_id, room_title(room), room.membership, room.latest_ts, room_unread(room), room.encrypted,
        room_links(room),
    )
    room.__dict__["_summary"] = summary
    return summary


def summary_sort_key(summary: RoomSummary, sort: RoomSort) -> tuple:
    """Highlights first, then unread, then latest activity (the default ACTIVITY sort);
    UNREAD puts the unread count first; NAME is alphabetical."""
    name = summary.title.casefold()
    if sort is RoomSort.NAME:
        return (name, summary.room_id)
    counts = summary.unread
    # The room ID breaks the last ties: the order must not depend on the order the rooms
    # came in (the cache's summaries and its rooms are read back in different orders).
    if sort is RoomSort.UNREAD:
        return (-counts.unread, -counts.highlights, -summary.latest_ts, name, summary.room_id)
    return (-counts.highlights, -int(counts.has_unread), -summary.latest_ts, name, summary.room_id)
