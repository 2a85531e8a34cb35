"""The rooms pane: one row per joined room with its unread count, highlights and
unread threads; invites listed apart below.

Rows are drawn from room summaries (``app.model.summary``): the summaries of the
account's rooms, or, before the account is loaded, the ``preview`` the cache keeps of
them, so a start paints the pane before it decodes a thousand rooms. A row is
rebuilt only when its summary changed (the same object for an unchanged room state;
equal values when the loaded account replaces the preview); sorting and filtering
reorder keys and reuse the rows. A room's sort key is kept with its row and computed
again only when the summary (or the sort) changed: an account change (one ``r``, a sync
touching five rooms) re-sorts cached keys instead of computing a thousand.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual.content import Content
from textual.reactive import reactive

from app.model.account import AccountState
from app.model.ids import RoomId
from app.model.room import RoomState
from app.model.summary import RoomSort, RoomSummary, summarize, summary_sort_key
from app.ui.describe import count_text
from app.ui.glyphs import glyphs_for
from app.ui.state import Selection, View
from app.ui.widgets.keyed_list import KeyedList, Row, columns

INVITES_HEADER = "invites:header"
COUNT_WIDTH = 4


class RoomList(KeyedList):
    """Rooms, sorted by the view's sort, filtered by unread and by name.

    Bindings: those of ``KeyedList`` (j/k, g/G, enter).
    """

    # Bound from the main screen. No repaint on change: the watchers hand the rows that
    # changed to ``update_rows``, which repaints those lines only. ``preview`` is drawn
    # while ``account`` is None (the cache's summaries, before its rooms are decoded).
    account: reactive[AccountState | None] = reactive(None, init=False, repaint=False)
    preview: reactive[Sequence[RoomSummary]] = reactive((), init=False, repaint=False)
    selection: reactive[Selection | None] = reactive(None, init=False, repaint=False)
    view: reactive[View] = reactive(View, init=False, repaint=False)

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(empty_text="no rooms yet", id=id, classes=classes)
        # The summary each room's row was last given from, drawn with ``_built_glyphs``.
        self._built: dict[RoomId, RoomSummary] = {}
        self._built_glyphs: bool | None = None
        self._sort_keys: dict[RoomId, tuple[RoomSummary, RoomSort, tuple]] = {}
        self._shown_ids: list[RoomId] = []

    @property
    def shown_rooms(self) -> Sequence[RoomState]:
        """The joined rooms in the order shown: the order ``n``/``N`` walk (none while
        only the preview is shown). Looked up when asked: ``n``/``N`` ask, a sync does not."""
        account = self.account
        if account is None:
            return []
        rooms = account.rooms
        return [rooms[room_id] for room_id in self._shown_ids if room_id in rooms]

    @property
    def shown_room_ids(self) -> Sequence[RoomId]:
        """The joined rooms' IDs in the order shown, preview included."""
        return self._shown_ids

    def watch_account(self) -> None:
        self._refresh_rows()

    def watch_preview(self, old: Sequence[RoomSummary], new: Sequence[RoomSummary]) -> None:
        # (Binding a reactive calls its watcher with the value it already had: a start
        # went through the thousand rooms once more for nothing.)
        if self.account is None and new is not old:
            self._refresh_rows()

    def watch_view(self, old: View, new: View) -> None:
        if new != old:
            self._refresh_rows()

    def watch_selection(self, selection: Selection | None) -> None:
        if selection is None:
            return
        if self.view.unread_only:
            # A read room stays listed only while it is selected.
            self._refresh_rows()
        self.move_cursor_to(selection.room_id, announce=False)

    def _summaries(self) -> Sequence[RoomSummary] | None:
        account = self.account
        if account is not None:
            return [summarize(room) for room in account.rooms.values()]
        return self.preview or None

    def _refresh_rows(self) -> None:
        summaries = self._summaries()
        if summaries is None:
            return
        view = self.view
        built = self._built
        if view.glyphs != self._built_glyphs:
            built.clear()
            self._built_glyphs = view.glyphs
        changed: dict[str, Row | RoomSummary] = {}
        for summary in summaries:
            old = built.get(summary.room_id)
            if old is not summary and (old is None or old != summary):
                # The summary stands for its row: made when first drawn (_make_row), so
                # the first paint builds the rows on screen.
                changed[summary.room_id] = summary
            built[summary.room_id] = summary
        present = {summary.room_id for summary in summaries} if len(built) != len(summaries) else None
        removed = [room_id for room_id in built if room_id not in present] if present is not None else []
        for room_id in removed:
            del built[room_id]
            self._sort_keys.pop(room_id, None)

        selected = self.selection.room_id if self.selection else None
        needle = view.name_filter.casefold().strip()
        joined: list[RoomSummary] = []
        invites: list[RoomSummary] = []
        for summary in summaries:
            if needle and needle not in summary.title.casefold():
                continue
            if summary.membership == "invite":
                invites.append(summary)
            elif summary.membership == "join":
                if view.unread_only and summary.room_id != selected and not summary.unread.has_unread:
                    continue
                joined.append(summary)
        sort = view.sort
        sort_keys = self._sort_keys
        keys: list[tuple] = []
        for summary in joined:
            cached = sort_keys.get(summary.room_id)
            if cached is None or cached[0] is not summary or cached[1] is not sort:
                cached = (summary, sort, summary_sort_key(summary, sort))
                sort_keys[summary.room_id] = cached
            keys.append(cached[2])
        # No two keys are equal (the room ID is in each), so the order does not depend on
        # the order the summaries came in: the preview's and the account's agree.
        positions = sorted(range(len(joined)), key=keys.__getitem__)
        order = [joined[i].room_id for i in positions]
        self._shown_ids = order
        if invites:
            invites.sort(key=lambda summary: summary.title.casefold())
            header = Content.styled(f"Invites ({len(invites)})", "$text-muted bold")
            changed[INVITES_HEADER] = Row(header, selectable=False)
            order = [*order, INVITES_HEADER, *(summary.room_id for summary in invites)]
        self.update_rows(order, changed, removed)

    def _make_row(self, key: str, source: object) -> Row:
        assert isinstance(source, RoomSummary)
        return self._room_row(source, bool(self._built_glyphs))

    @staticmethod
    def _room_row(summary: RoomSummary, glyphs_on: bool) -> Row:
        glyphs = glyphs_for(glyphs_on)
        name = Content(summary.title)
        if summary.membership == "invite":
            return Row(
                Content.assemble("  ", name.stylize("$text-muted")),
                Content.styled("invite", "$text-muted italic"),
            )
        counts = summary.unread
        if counts.marked_unread:
            marker = Content.styled(glyphs.marked_unread, "$accent bold")
        elif counts.has_unread:
            marker = Content.styled(glyphs.unread, "$accent")
        else:
            marker = Content(" ")
        if counts.has_unread:
            name = name.stylize("bold")
        unread = count_text(counts.unread, counts.lower_bound) if counts.unread else ""
        # The server cannot read an encrypted room's mentions: there the count is readmark's.
        highlight_count = counts.local_highlights if summary.encrypted else counts.highlights
        highlights = f"{glyphs.highlight}{count_text(highlight_count)}" if highlight_count else ""
        threads = f"{glyphs.threads}{count_text(counts.unread_threads)}" if counts.unread_threads else ""
        right = columns(
            (unread, COUNT_WIDTH, "bold"),
            " ",
            (highlights, COUNT_WIDTH, "$warning bold"),
            " ",
            (threads, COUNT_WIDTH, "$secondary"),
        )
        if summary.encrypted:
            name = Content.assemble(name, " ", Content.styled(glyphs.encrypted, "$text-muted"))
        return Row(Content.assemble(marker, " ", name), right)
