"""The timeline pane for the selected thread: one line per event (sender, time, body)
with the read markers drawn where they are: the fully-read line across the pane, my
public receipt, my private receipt, and other members' receipts as initials.

Edits and reactions are folded into the event they touch; a gap in loaded history is
drawn as a line so a count's ``+`` has a visible reason. Each day's first event has the
date over it (times are ``14:02``; a thread can span days).
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable

from textual.content import Content
from textual.reactive import reactive

from app.model.account import AccountState
from app.model.edits import latest_edits, latest_text
from app.model.event_text import event_text
from app.model.events import REL_ANNOTATION, REL_REPLACE, TimelineEvent, is_message, is_undecrypted
from app.model.ids import MAIN, EventId, ThreadId, UserId
from app.model.receipts import ReceiptType
from app.model.room import RoomState
from app.model.unread import thread_unread
from app.ui.describe import clock, day, display_name, initials, local_time, one_line
from app.ui.glyphs import Glyphs, glyphs_for
from app.ui.state import Selection, View
from app.ui.widgets.keyed_list import KeyedList, Row

FULLY_READ_ROW = "marker:fully-read"
GAP_PREFIX = "marker:gap:"
DAY_PREFIX = "marker:day:"  # + the id of the day's first event (a date may come back)
SENDER_WIDTH = 10
MAX_READERS = 4


class Timeline(KeyedList):
    """Events of the selected thread (the main timeline, or a thread with its root
    first). The cursor picks the event ``r`` and ``f`` act on while this pane has focus.

    Bindings: those of ``KeyedList``.
    """

    # Bound from the main screen. No repaint on change: the watchers hand the rows that
    # changed to ``update_rows``, which repaints those lines only.
    account: reactive[AccountState | None] = reactive(None, init=False, repaint=False)
    selection: reactive[Selection | None] = reactive(None, init=False, repaint=False)
    view: reactive[View] = reactive(View, init=False, repaint=False)

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(empty_text="no messages loaded", id=id, classes=classes)
        self._room: RoomState | None = None
        self._shown: tuple[Selection | None, bool] = (None, True)

    @property
    def highlighted_event(self) -> EventId | None:
        key = self.cursor_key
        if key is None or key.startswith("marker:"):
            return None
        return key

    def watch_account(self) -> None:
        self._refresh_rows()

    def watch_view(self) -> None:
        self._refresh_rows(force=True)

    def watch_selection(self) -> None:
        self._refresh_rows()

    def _refresh_rows(self, force: bool = False) -> None:
        account, selection = self.account, self.selection
        room = None if account is None or selection is None else account.rooms.get(selection.room_id)
        if room is None or selection is None:
            self._room = None
            self._shown = (None, self.view.glyphs)
            self.clear()
            return
        moved = self._shown != (selection, self.view.glyphs)
        if not force and not moved and room is self._room:
            return
        self._room = room
        self._shown = (selection, self.view.glyphs)
        order, rows = build_rows(room, selection.thread_id, glyphs_for(self.view.glyphs))
        self.update_rows(order, rows, removed=[key for key in self._rows if key not in rows])
        if moved:
            self._place_cursor(room, selection.thread_id)

    def _place_cursor(self, room: RoomState, thread_id: ThreadId) -> None:
        first = thread_unread(room, thread_id).first_unread
        if first is not None and self.move_cursor_to(first, announce=False):
            return
        events = [key for key in self.keys if not key.startswith("marker:")]
        if events:
            self.move_cursor_to(events[-1], announce=False)


def shown_events(room: RoomState, thread_id: ThreadId) -> list[int]:
    """Room-order positions of the events a person would see in this thread."""
    positions = list(room.thread_positions.get(thread_id, ()))
    if thread_id != MAIN:
        root = room.index.get(thread_id)
        if root is not None:
            positions.insert(0, root)
    return [p for p in positions if _is_shown(room.events[p])]


def _is_shown(event: TimelineEvent) -> bool:
    """Messages (and what became of them); state changes, edits, reactions and
    redaction events are not lines of their own."""
    if event.is_state or event.rel_type in (REL_REPLACE, REL_ANNOTATION):
        return False
    return event.type != "m.room.redaction"


def build_rows(room: RoomState, thread_id: ThreadId, glyphs: Glyphs) -> tuple[list[str], dict[str, Row]]:
    positions = shown_events(room, thread_id)
    edits, reactions = latest_edits(room), _reactions(room)
    markers = _markers(room, thread_id, positions, glyphs)
    fully_read = room.position(room.fully_read_event())
    read_upto = room.read_position(thread_id).index
    gaps = room.gaps_before
    first_loaded = room.events[0].event_id if room.events and not room.history_complete else None
    thread_complete = thread_id != MAIN and thread_id in room.complete_threads

    order: list[str] = []
    rows: dict[str, Row] = {}
    fully_read_placed = False
    shown_date = None
    for i, position in enumerate(positions):
        event = room.events[position]
        if not thread_complete and (event.event_id in gaps or event.event_id == first_loaded):
            key = GAP_PREFIX + event.event_id
            order.append(key)
            rows[key] = Row(Content("history not loaded"), selectable=False, rule=True, rule_char=glyphs.gap)
        if event.ts > 0 and (date := local_time(event.ts).date()) != shown_date:
            shown_date = date
            key = DAY_PREFIX + event.event_id
            order.append(key)
            rows[key] = Row(Content(day(event.ts)), selectable=False, rule=True, rule_char=" ")
        order.append(event.event_id)
        rows[event.event_id] = _event_row(
            room,
            event,
            unread=position > read_upto and thread_id == room.thread_of.get(event.event_id, MAIN),
            edited=event.event_id in edits,
            reactions=reactions.get(event.event_id),
            markers=markers.get(position, ()),
        )
        later = positions[i + 1] if i + 1 < len(positions) else None
        if (
            not fully_read_placed
            and fully_read is not None
            and position <= fully_read
            and (later is None or later > fully_read)
            and later is not None
        ):
            order.append(FULLY_READ_ROW)
            rows[FULLY_READ_ROW] = Row(Content("fully read"), selectable=False, rule=True, rule_char=glyphs.rule)
            fully_read_placed = True
    return order, rows


def _reactions(room: RoomState) -> dict[EventId, Counter[str]]:
    """The reaction keys on each event, with their counts."""
    reactions: dict[EventId, Counter[str]] = {}
    for event in room.events:
        if event.rel_type != REL_ANNOTATION or event.relates_to is None or event.redacted:
            continue
        if event.key:  # a keyless one adds nothing
            reactions.setdefault(event.relates_to, Counter())[event.key] += 1
    return reactions


def _markers(
    room: RoomState, thread_id: ThreadId, positions: list[int], glyphs: Glyphs
) -> dict[int, list[Content]]:
    """Marker labels by the shown position they sit on: each receipt goes on the last
    shown event at or before the event it points at."""
    placed: dict[int, list[Content]] = {}
    if not positions:
        return placed

    def place(position: int | None, label: Content) -> None:
        if position is None:
            return
        at = bisect.bisect_right(positions, position) - 1
        if at >= 0:
            placed.setdefault(positions[at], []).append(label)

    for receipt_type, text, style in (
        (ReceiptType.PUBLIC, glyphs.my_public, "$warning"),
        (ReceiptType.PRIVATE, glyphs.my_private, "$success"),
    ):
        place(_furthest(room, _mine(room, receipt_type, thread_id)), Content.styled(text, style))

    readers: dict[int, list[UserId]] = {}
    for user_id, position in _others(room, thread_id).items():
        at = bisect.bisect_right(positions, position) - 1
        if at >= 0:
            readers.setdefault(positions[at], []).append(user_id)
    for position, users in readers.items():
        names = sorted(initials(display_name(room, user)) for user in users)
        text = " ".join(names[:MAX_READERS])
        if len(names) > MAX_READERS:
            text += f" +{len(names) - MAX_READERS}"
        placed.setdefault(position, []).append(Content.styled(f"{glyphs.others} {text}", "$text-muted"))
    return placed


def _mine(room: RoomState, receipt_type: ReceiptType, thread_id: ThreadId) -> Iterable[EventId]:
    for key_thread in (None, thread_id):
        receipt = room.my_receipt(receipt_type, key_thread)
        if receipt is not None:
            yield receipt.event_id


def _furthest(room: RoomState, event_ids: Iterable[EventId]) -> int | None:
    known = [room.index[e] for e in event_ids if e in room.index]
    return max(known) if known else None


def _others(room: RoomState, thread_id: ThreadId) -> dict[UserId, int]:
    furthest: dict[UserId, int] = {}
    for key, receipt in room.receipts.items():
        if key.user_id == room.me or key.thread_id not in (None, thread_id):
            continue
        position = room.index.get(receipt.event_id)
        if position is not None and position > furthest.get(key.user_id, -1):
            furthest[key.user_id] = position
    return furthest


def _event_row(
    room: RoomState,
    event: TimelineEvent,
    *,
    unread: bool,
    edited: bool,
    reactions: Counter[str] | None,
    markers: Iterable[Content],
) -> Row:
    sender = display_name(room, event.sender)
    mine = event.sender == room.me
    sender_content = Content(sender[:SENDER_WIDTH]).extend_right(max(SENDER_WIDTH - len(sender[:SENDER_WIDTH]), 0))
    sender_content = sender_content.stylize("$text-muted" if mine else "bold")
    if event.redacted:
        body = Content.styled("(deleted)", "$text-muted italic")
    elif is_undecrypted(event):
        body = Content.styled(event_text(event), "$text-muted italic")
    elif not is_message(event):
        body = Content.styled(event_text(event) or event.type, "$text-muted")
    else:
        body = Content(one_line(latest_text(room, event), 500))
        if unread:
            body = body.stylize("bold")
    parts: list[Content | str] = [sender_content, " ", Content.styled(clock(event.ts), "$text-muted"), " ", body]
    if edited:
        parts += [" ", Content.styled("(edited)", "$text-muted")]
    if event.thread_reply_count:
        parts += [" ", Content.styled(f"[{event.thread_reply_count} replies]", "$secondary")]
    if reactions:
        parts += [" ", Content(" ".join(f"{key}{count}" for key, count in reactions.items()))]
    right = Content(" ").join(list(markers))
    return Row(Content.assemble(*parts), right)
