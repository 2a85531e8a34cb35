"""The rooms pane: one row per joined room with its unread count, highlights and
unread threads; invites listed apart below.

A row is rebuilt only when its room's state object changed (the model is frozen, so
identity says it all); sorting and filtering reorder keys and reuse the rows. A room's
sort key is kept with its row and computed again only when the room (or the sort)
changed: an account change (one ``r``, a sync touching five rooms) re-sorts cached keys
instead of computing a thousand.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual.content import Content
from textual.reactive import reactive

from app.model.account import AccountState, RoomSort, room_sort_key
from app.model.ids import RoomId
from app.model.room import RoomState
from app.model.unread import room_unread
from app.ui.describe import room_title
from app.ui.glyphs import glyphs_for
from app.ui.state import Selection, View
from app.ui.widgets.keyed_list import KeyedList, Row

INVITES_HEADER = "invites:header"
COUNT_WIDTH = 4


def column(text: str, width: int, style: str = "") -> Content:
    """``text`` right-aligned in ``width`` cells."""
    content = Content.styled(text, style) if style and text else Content(text)
    return content.right(width) if content.cell_length < width else content


class RoomList(KeyedList):
    """Rooms, sorted by the view's sort, filtered by unread and by name.

    Bindings: those of ``KeyedList`` (j/k, g/G, enter).
    """

    # Bound from the main screen. No repaint on change: the watchers hand the rows that
    # changed to ``update_rows``, which repaints those lines only.
    account: reactive[AccountState | None] = reactive(None, init=False, repaint=False)
    selection: reactive[Selection | None] = reactive(None, init=False, repaint=False)
    view: reactive[View] = reactive(View, init=False, repaint=False)

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(empty_text="no rooms yet", id=id, classes=classes)
        self._built: dict[RoomId, tuple[RoomState, bool]] = {}
        self._sort_keys: dict[RoomId, tuple[RoomState, RoomSort, tuple]] = {}
        self._shown_rooms: list[RoomState] = []

    @property
    def shown_rooms(self) -> Sequence[RoomState]:
        """The joined rooms in the order shown: the order ``n``/``N`` walk."""
        return self._shown_rooms

    def watch_account(self) -> None:
        self._refresh_rows()

    def watch_view(self, old: View, new: View) -> None:
        if old.glyphs != new.glyphs:
            self._built.clear()
        self._refresh_rows()

    def watch_selection(self, selection: Selection | None) -> None:
        if selection is None:
            return
        if self.view.unread_only:
            # A read room stays listed only while it is selected.
            self._refresh_rows()
        self.move_cursor_to(selection.room_id, announce=False)

    def _refresh_rows(self) -> None:
        account = self.account
        if account is None:
            return
        view = self.view
        glyphs = view.glyphs
        changed: dict[str, Row] = {}
        for room_id, room in account.rooms.items():
            built = self._built.get(room_id)
            if built is None or built[0] is not room:
                changed[room_id] = self._room_row(room, glyphs)
                self._built[room_id] = (room, glyphs)
        removed = [room_id for room_id in self._built if room_id not in account.rooms]
        for room_id in removed:
            del self._built[room_id]
            self._sort_keys.pop(room_id, None)

        selected = self.selection.room_id if self.selection else None
        needle = view.name_filter.casefold().strip()
        joined: list[RoomState] = []
        invites: list[RoomState] = []
        for room in account.rooms.values():
            if needle and needle not in room_title(room).casefold():
                continue
            if room.membership == "invite":
                invites.append(room)
            elif room.membership == "join":
                if view.unread_only and room.room_id != selected and not room_unread(room).has_unread:
                    continue
                joined.append(room)
        sort = view.sort
        sort_keys = self._sort_keys
        keys: list[tuple] = []
        for room in joined:
            cached = sort_keys.get(room.room_id)
            if cached is None or cached[0] is not room or cached[1] is not sort:
                cached = (room, sort, room_sort_key(room, sort))
                sort_keys[room.room_id] = cached
            keys.append(cached[2])
        # Sorting the positions by key keeps sorted()'s stability (ties stay in the
        # account's order), as sorting the rooms by room_sort_key did.
        positions = sorted(range(len(joined)), key=keys.__getitem__)
        joined = [joined[i] for i in positions]
        self._shown_rooms = joined
        order = [room.room_id for room in joined]
        if invites:
            invites.sort(key=lambda room: room_title(room).casefold())
            header = Content.styled(f"Invites ({len(invites)})", "$text-muted bold")
            changed[INVITES_HEADER] = Row(header, selectable=False)
            order.append(INVITES_HEADER)
            order.extend(room.room_id for room in invites)
        self.update_rows(order, changed, removed)

    @staticmethod
    def _room_row(room: RoomState, glyphs_on: bool) -> Row:
        glyphs = glyphs_for(glyphs_on)
        name = Content(room_title(room))
        if room.membership == "invite":
            return Row(
                Content.assemble("  ", name.stylize("$text-muted")),
                Content.styled("invite", "$text-muted italic"),
            )
        counts = room_unread(room)
        if counts.marked_unread:
            marker = Content.styled(glyphs.marked_unread, "$accent bold")
        elif counts.has_unread:
            marker = Content.styled(glyphs.unread, "$accent")
        else:
            marker = Content(" ")
        if counts.has_unread:
            name = name.stylize("bold")
        highlights = f"{glyphs.highlight}{counts.highlights}" if counts.highlights else ""
        threads = f"{glyphs.threads}{counts.unread_threads}" if counts.unread_threads else ""
        right = Content.assemble(
            column(counts.label(), COUNT_WIDTH, "bold"),
            " ",
            column(highlights, COUNT_WIDTH, "$warning bold"),
            " ",
            column(threads, COUNT_WIDTH, "$secondary"),
        )
        return Row(Content.assemble(marker, " ", name), right)
