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

import bisect
from collections.abc import Sequence
from itertools import chain

from textual.content import Content
from textual.reactive import reactive

from app.model.account import AccountState, RoomMap
from app.model.ids import RoomId
from app.model.room import RoomState
from app.model.spaces import Grouping, RoomGroup, group_rooms
from app.model.summary import RoomSort, RoomSummary, shown_highlights, summarize, summary_sort_key
from app.ui.describe import count_text
from app.ui.glyphs import glyphs_for
from app.ui.state import Selection, View
from app.ui.widgets.keyed_list import KeyedList, Row, columns

INVITES_HEADER = "invites:header"
COUNT_WIDTH = 4
# A group's header row is keyed GROUP_PREFIX + the group's key; a room's row inside a
# group is keyed the group's key, ROOM_IN_GROUP, the room ID (a room in two spaces has
# a row in each). Without groups a room's row is keyed by its room ID alone.
GROUP_PREFIX = "group:"
ROOM_IN_GROUP = "\x1f"


def room_of_key(key: str | None) -> RoomId | None:
    """The room a row shows (None for a header)."""
    if key is None or key.startswith(GROUP_PREFIX) or key == INVITES_HEADER:
        return None
    _, _, room_id = key.rpartition(ROOM_IN_GROUP)
    return room_id


def group_of_key(key: str | None) -> str | None:
    """The group key of a header row, or of the group a room's row sits in."""
    if key is None:
        return None
    if key.startswith(GROUP_PREFIX):
        return key[len(GROUP_PREFIX):]
    if ROOM_IN_GROUP in key:
        return key.rpartition(ROOM_IN_GROUP)[0]
    return None


class Totals:
    """A group's totals, kept up to date by the changes of its rooms' summaries."""

    __slots__ = ("unread", "highlights", "threads", "lower", "rooms_unread")

    def __init__(self) -> None:
        self.unread = self.highlights = self.threads = self.lower = self.rooms_unread = 0

    def add(self, summary: RoomSummary, sign: int) -> None:
        counts = summary.unread
        self.unread += sign * counts.unread
        self.highlights += sign * shown_highlights(counts, summary.encrypted)
        self.threads += sign * counts.unread_threads
        self.lower += sign * int(counts.lower_bound and counts.unread > 0)
        self.rooms_unread += sign * int(counts.has_unread)

    def value(self) -> tuple[int, int, int, bool, int]:
        return (self.unread, self.highlights, self.threads, self.lower > 0, self.rooms_unread)



class RoomList(KeyedList):
    """Rooms, grouped under their spaces (then direct messages, then the rest), each
    group sorted by the view's sort, filtered by unread and by name; invites below.

    Bindings: those of ``KeyedList`` (j/k, g/G, enter; enter on a group's header
    collapses or expands it).
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
        # Groups: the tree (None until the structure is known, or while flat), each
        # group's totals, the groups each room counts in, the collapsed groups, each
        # group's depth, and the row keys each room has now.
        self._grouping: Grouping | None = None
        self._grouping_stale = True
        self._totals: dict[str, Totals] = {}
        self._groups_of: dict[RoomId, list[str]] = {}
        self._collapsed: set[str] = set()
        self._depth: dict[str, int] = {}
        # Per group: its own rooms as shown (sorted, filtered) and their row keys; the
        # groups each room is one of the own rooms of; what the layout was built for.
        self._own: dict[str, list[RoomId]] = {}
        self._own_keys: dict[str, list[str]] = {}
        self._own_groups_of: dict[RoomId, list[str]] = {}
        self._layout_for: tuple | None = None
        self._walk_stale = False
        # Row keys to forget with the next update (another layout's).
        self._forget: list[str] = []
        # The last full refresh's account rooms, view and selection, its joined rooms in
        # sort order with their sort keys, and the invites' rows after them.
        self._last: tuple | None = None
        self._sorted_ids: list[RoomId] = []
        self._sorted_keys: list[tuple] = []
        self._tail: list[str] = []
        self._header_shown: dict[str, tuple] = {}
        # The summary each grouped room row was last given from.
        self._row_source: dict[str, RoomSummary] = {}

    @property
    def shown_rooms(self) -> Sequence[RoomState]:
        """The joined rooms in the order shown (each once, collapsed groups included):
        the order ``n``/``N`` walk (none while only the preview is shown). Looked up when
        asked: ``n``/``N`` ask, a sync does not."""
        account = self.account
        if account is None:
            return []
        rooms = account.rooms
        return [rooms[room_id] for room_id in self.shown_room_ids if room_id in rooms]

    @property
    def shown_room_ids(self) -> Sequence[RoomId]:
        """The joined rooms' IDs in the order shown, preview included."""
        if self._walk_stale:
            self._walk_stale = False
            self._shown_ids = self._walk()
        return self._shown_ids

    @property
    def cursor_room(self) -> RoomId | None:
        """The room under the cursor (None on a header)."""
        return room_of_key(self.cursor_key)

    @property
    def cursor_group(self) -> RoomGroup | None:
        """The group whose header is under the cursor."""
        key = self.cursor_key
        if key is None or not key.startswith(GROUP_PREFIX) or self._grouping is None:
            return None
        return self._grouping.find(key[len(GROUP_PREFIX):])

    @property
    def grouping(self) -> Grouping | None:
        """The groups shown (None for a flat list)."""
        return self._grouping if self._grouped() else None

    def group_totals(self, key: str) -> tuple[int, int, int, bool, int] | None:
        """(unread, highlights, unread threads, lower bound, rooms with unread) of a group."""
        totals = self._totals.get(key)
        return totals.value() if totals is not None else None

    def watch_account(self) -> None:
        self._refresh_rows()

    def watch_preview(self, old: Sequence[RoomSummary], new: Sequence[RoomSummary]) -> None:
        # (Binding a reactive calls its watcher with the value it already had: a start
        # went through the thousand rooms once more for nothing.)
        if self.account is None and new is not old:
            self._refresh_rows()

    def watch_view(self, old: View, new: View) -> None:
        if new != old:
            if new.grouped != old.grouped:
                # Other keys for the same rooms: every row is given again, the old ones
                # forgotten once the new ones are shown.
                self._forget.extend(self._rows)
                self._built.clear()
                self._row_source.clear()
                self._header_shown.clear()
                self._grouping_stale = True
            self._refresh_rows()
            if new.grouped != old.grouped and self.selection is not None:
                self.show_room(self.selection.room_id)

    def watch_selection(self, selection: Selection | None) -> None:
        if selection is None:
            return
        if self.view.unread_only:
            # A read room stays listed only while it is selected.
            self._refresh_rows()
        self.show_room(selection.room_id)

    def show_room(self, room_id: RoomId) -> bool:
        """Put the cursor on a row of ``room_id``: the one it is on, else the first
        shown; a room only in collapsed groups opens the first of them."""
        if room_of_key(self.cursor_key) == room_id:
            return True
        if not self._grouped():
            return self.move_cursor_to(room_id, announce=False)
        keys = self._keys_in_list(room_id)
        if not keys and self._grouping is not None:
            for group_key in self._own_groups_of.get(room_id, ()):
                if room_id in self._own.get(group_key, ()):
                    # Open it and the groups above it (their keys are its prefixes).
                    self._collapsed = {k for k in self._collapsed if not group_key.startswith(k)}
                    self._refresh_rows(full=True)
                    keys = self._keys_in_list(room_id)
                    break
        if not keys:
            return False
        return self.move_cursor_to(keys[0], announce=False)

    def _keys_in_list(self, room_id: RoomId) -> list[str]:
        """The keys of the rows of ``room_id`` shown now, top first."""
        position = self._position
        found = [key for key in (f"{g}{ROOM_IN_GROUP}{room_id}" for g in self._own_groups_of.get(room_id, ()))
                 if key in position]
        return sorted(found, key=position.__getitem__)

    def toggle_group(self, key: str | None = None) -> str | None:
        """Collapse or expand a group (by default the one under the cursor, or the one
        the cursor's room sits in, whose header then takes the cursor); the group's
        title, or None when there is no group there."""
        if key is None:
            key = group_of_key(self.cursor_key)
        if key is None or self._grouping is None:
            return None
        group = self._grouping.find(key)
        if group is None:
            return None
        if key in self._collapsed:
            self._collapsed.discard(key)
        else:
            self._collapsed.add(key)
        self._refresh_rows(full=True)
        self.move_cursor_to(GROUP_PREFIX + key, announce=False)
        return group.title

    def collapsed(self, key: str) -> bool:
        return key in self._collapsed

    def action_open(self) -> None:
        key = self.cursor_key
        if key is not None and key.startswith(GROUP_PREFIX):
            self.toggle_group(key[len(GROUP_PREFIX):])
            return
        super().action_open()

    def _grouped(self) -> bool:
        return self.view.grouped and self._grouping is not None and not self._grouping.trivial

    def _summaries(self) -> Sequence[RoomSummary] | None:
        account = self.account
        if account is not None:
            return [summarize(room) for room in account.rooms.values()]
        return self.preview or None

    def _refresh_rows(self, *, full: bool = False) -> None:
        """``full``: lay out again though the account did not change (a group folded)."""
        if not full and self._refresh_few():
            return
        summaries = self._summaries()
        if summaries is None:
            return
        view = self.view
        built = self._built
        if view.glyphs != self._built_glyphs:
            built.clear()
            self._built_glyphs = view.glyphs
            self._header_shown.clear()
        changed_summaries: list[tuple[RoomSummary | None, RoomSummary]] = []
        for summary in summaries:
            old = built.get(summary.room_id)
            if old is not summary and (old is None or old != summary):
                changed_summaries.append((old, summary))
                if old is None or (
                    old.links != summary.links or old.membership != summary.membership
                    or (summary.links.is_space and old.title != summary.title)
                ):
                    self._grouping_stale = True
            built[summary.room_id] = summary
        present = {summary.room_id for summary in summaries} if len(built) != len(summaries) else None
        removed = [room_id for room_id in built if room_id not in present] if present is not None else []
        for room_id in removed:
            del built[room_id]
            self._sort_keys.pop(room_id, None)
        if removed:
            self._grouping_stale = True

        if self._grouping_stale and view.grouped:
            self._regroup(summaries)
        elif self._grouping is not None and view.grouped:
            self._add_to_totals(changed_summaries)

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
                if summary.links.is_space:
                    continue  # a space is a group's header, never a room's row
                if view.unread_only and summary.room_id != selected and not summary.unread.has_unread:
                    continue
                joined.append(summary)
        sort = view.sort
        sort_keys = self._sort_keys
        keys: list[tuple] = []
        # Rooms whose place in the sort changed (or that are new to it): only their
        # groups are sorted again. A read that leaves a room's key as it was (it still
        # has unread, its highlights are the same) moves nothing.
        moved: list[RoomId] = []
        for summary in joined:
            cached = sort_keys.get(summary.room_id)
            if cached is None or cached[0] is not summary or cached[1] is not sort:
                fresh = (summary, sort, summary_sort_key(summary, sort))
                if cached is None or cached[2] != fresh[2]:
                    moved.append(summary.room_id)
                cached = sort_keys[summary.room_id] = fresh
            keys.append(cached[2])
        # No two keys are equal (the room ID is in each), so the order does not depend on
        # the order the summaries came in: the preview's and the account's agree.
        positions = sorted(range(len(joined)), key=keys.__getitem__)
        order = [joined[i].room_id for i in positions]
        # What a later change of a few rooms starts from (``_refresh_few``).
        self._sorted_ids = list(order)
        self._sorted_keys = [keys[i] for i in positions]
        self._last = (self.account.rooms if self.account is not None else None, view, selected)
        changed: dict[str, Row | RoomSummary] = {}
        forget: list[str] = list(removed)
        if self._grouped():
            if removed:
                gone = set(removed)
                forget += [key for key in self._row_source if room_of_key(key) in gone]
                for key in forget:
                    self._row_source.pop(key, None)
            order = self._grouped_order(order, changed, self._layout_key(needle, selected),
                                        [s.room_id for _, s in changed_summaries], moved)
        else:
            self._shown_ids = order
            self._walk_stale = False
            self._layout_for = None
            for _, summary in changed_summaries:
                changed[summary.room_id] = summary
        self._tail = []
        if invites:
            invites.sort(key=lambda summary: summary.title.casefold())
            header = Content.styled(f"Invites ({len(invites)})", "$text-muted bold")
            changed[INVITES_HEADER] = Row(header, selectable=False)
            self._tail = [INVITES_HEADER, *(summary.room_id for summary in invites)]
            order = [*order, *self._tail]
            for summary in invites:
                changed[summary.room_id] = summary
        if self._forget:
            forget += [key for key in self._forget if key not in changed]
            self._forget = []
        self.update_rows(order, changed, forget)

    # More changed rooms than this in one account change: the full refresh.
    FEW = 64

    def _refresh_few(self) -> bool:
        """The refresh for an account change that touched a few joined rooms (a receipt,
        a sync into five rooms), with nothing else changed: those rooms' summaries only,
        their rows, their groups' totals, and each room that moved in the sort taken out
        and put back by bisection, instead of a summary per room and a sort of them all.
        False (nothing done) for anything else: the full refresh does it; a test holds
        the two to the same rows in the same order."""
        account, last = self.account, self._last
        if account is None or last is None or last[0] is None:
            return False
        rooms, view, selected = last
        now_selected = self.selection.room_id if self.selection else None
        if view != self.view or (view.unread_only and now_selected != selected) or self._forget:
            return False
        if view.glyphs != self._built_glyphs or (view.grouped and self._grouping_stale):
            return False
        new = account.rooms
        if new is rooms:
            return True
        if len(new) != len(rooms):
            return False
        built, sort, sort_keys = self._built, view.sort, self._sort_keys
        changed_summaries: list[tuple[RoomSummary, RoomSummary]] = []
        # The rooms that may have changed, when the account's map knows the one last
        # shown (a receipt, a sync: a few IDs), else every room compared.
        touched = new.touched_since(rooms) if isinstance(new, RoomMap) else None
        if touched is not None and len(touched) > self.FEW:
            return False
        for room_id in touched if touched is not None else new:
            room = new.get(room_id)
            if room is None:
                return False  # removed (its count is made up by one added): the full refresh
            if rooms.get(room_id) is room:
                continue
            old = built.get(room_id)
            if old is None or len(changed_summaries) >= self.FEW:
                return False
            summary = summarize(room)
            if old is summary or old == summary:
                continue
            if (old.links != summary.links or old.membership != summary.membership or old.title != summary.title
                    or summary.membership != "join"):
                return False  # structure, names, invites: the full refresh
            changed_summaries.append((old, summary))
        self._last = (new, view, selected)
        if not changed_summaries:
            return True
        needle = view.name_filter.casefold().strip()

        def listed(summary: RoomSummary) -> bool:
            if summary.links.is_space or (needle and needle not in summary.title.casefold()):
                return False
            return not view.unread_only or summary.room_id == now_selected or summary.unread.has_unread

        ids, keys = self._sorted_ids, self._sorted_keys
        moved: list[RoomId] = []
        for old, summary in changed_summaries:
            room_id = summary.room_id
            built[room_id] = summary
            cached = sort_keys.get(room_id)
            old_key = cached[2] if cached is not None and cached[1] is sort else summary_sort_key(old, sort)
            new_key = summary_sort_key(summary, sort)
            sort_keys[room_id] = (summary, sort, new_key)
            was, now = listed(old), listed(summary)
            if was == now and (not now or old_key == new_key):
                continue
            moved.append(room_id)
            if was:
                at = bisect.bisect_left(keys, old_key)
                if at < len(ids) and ids[at] == room_id:
                    del ids[at], keys[at]
                else:  # not where its key says: the full refresh
                    self._last = None
                    return False
            if now:
                at = bisect.bisect_left(keys, new_key)
                ids.insert(at, room_id)
                keys.insert(at, new_key)
        if self._grouping is not None and view.grouped:
            self._add_to_totals(changed_summaries)
        changed: dict[str, Row | RoomSummary] = {}
        if self._grouped():
            order = self._grouped_order(ids, changed, self._layout_key(needle, selected),
                                        [s.room_id for _, s in changed_summaries], moved)
        else:
            order = list(ids)
            self._shown_ids = order
            for _, summary in changed_summaries:
                changed[summary.room_id] = summary
        self.update_rows([*order, *self._tail], changed, ())
        return True

    def _regroup(self, summaries: Sequence[RoomSummary]) -> None:
        """Build the groups again (the structure changed: a space, a child, m.direct),
        and every group's totals."""
        self._grouping_stale = False
        grouping = group_rooms((s.room_id, s.title, s.membership, s.links) for s in summaries)
        self._grouping = grouping
        by_id = {s.room_id: s for s in summaries}
        totals: dict[str, Totals] = {}
        groups_of: dict[RoomId, list[str]] = {}
        depth: dict[str, int] = {}
        for top in grouping.groups:
            for group in top.walk():
                total = totals[group.key] = Totals()
                depth[group.key] = group.depth
                for room_id in group.members:
                    summary = by_id.get(room_id)
                    if summary is not None:
                        total.add(summary, 1)
                        groups_of.setdefault(room_id, []).append(group.key)
        own_groups_of: dict[RoomId, list[str]] = {}
        for top in grouping.groups:
            for group in top.walk():
                for room_id in group.rooms:
                    own_groups_of.setdefault(room_id, []).append(group.key)
        self._totals, self._groups_of, self._depth = totals, groups_of, depth
        self._own_groups_of = own_groups_of
        self._layout_for = None
        self._header_shown.clear()
        self._collapsed &= set(totals)
        if not grouping.trivial:
            # Rows keyed by room ID alone (a flat list before) are not shown any more:
            # forgotten by the update (which still reads them for what was on screen).
            self._forget.extend(room_id for room_id in by_id if room_id in self._rows)

    def _add_to_totals(self, changed: Sequence[tuple[RoomSummary | None, RoomSummary]]) -> None:
        """Each changed room's old summary out of its groups' totals, its new one in."""
        for old, summary in changed:
            for group_key in self._groups_of.get(summary.room_id, ()):
                totals = self._totals[group_key]
                if old is not None:
                    totals.add(old, -1)
                totals.add(summary, 1)

    def _layout_key(self, needle: str, selected: RoomId | None) -> tuple:
        """What the groups' rows were laid out for: another value lays them out anew."""
        view = self.view
        return (id(self._grouping), view.sort, needle, view.unread_only,
                selected if view.unread_only else None, frozenset(self._collapsed), self._built_glyphs)

    def _grouped_order(
        self, order: list[RoomId], changed: dict, layout_for: tuple, changed_ids: list[RoomId], moved: list[RoomId]
    ) -> list[str]:
        """The rows of the groups: each header, then (unless collapsed) its own rooms in
        the sort's order, then its sub-spaces. With a filter on, a group with no room
        left in it or below is not shown.

        Each group's own rooms are sorted once and kept: when only some rooms changed
        (a receipt, a sync), only the groups they sit in are sorted again (the others'
        rooms kept their sort keys, so their order holds) and the rows are the kept
        lists put together."""
        assert self._grouping is not None
        full = layout_for != self._layout_for
        self._layout_for = layout_for
        built = self._built
        row_source = self._row_source
        if full:
            dirty = list(self._depth)
        else:
            # With unread-only, a room read or flagged enters or leaves the list whatever its key.
            resorted = changed_ids if self.view.unread_only else moved
            dirty = list(dict.fromkeys(g for room_id in resorted for g in self._own_groups_of.get(room_id, ())))
        if dirty:
            rank = {room_id: i for i, room_id in enumerate(order)}
            groups = {g.key: g for top in self._grouping.groups for g in top.walk()} if full or len(dirty) > 8 else None
            for key in dirty:
                group = groups[key] if groups is not None else self._grouping.find(key)
                if group is None:
                    continue
                own = sorted([r for r in group.rooms if r in rank], key=rank.__getitem__)
                self._own[key] = own
                self._own_keys[key] = [f"{key}{ROOM_IN_GROUP}{r}" for r in own]
        glyphs = glyphs_for(bool(self._built_glyphs))
        filtered = bool(layout_for[2]) or layout_for[3]
        collapsed = self._collapsed
        rows: list[str] = []
        own_of, keys_of = self._own, self._own_keys

        def emit(group: RoomGroup, hidden: bool) -> bool:
            key = group.key
            header_at = len(rows)
            closed = key in collapsed
            if not hidden:
                rows.append(GROUP_PREFIX + key)
                if not closed:
                    rows.extend(keys_of[key])
            anything = bool(own_of[key])
            for sub in group.subgroups:
                anything = emit(sub, hidden or closed) or anything
            if filtered and not anything and not hidden:
                del rows[header_at:]
                return False
            if not hidden and (full or key in touched):
                self._header_row(group, closed, glyphs, changed)
            return anything

        touched = {g for room_id in changed_ids for g in self._groups_of.get(room_id, ())}
        for top in self._grouping.groups:
            emit(top, False)
        if full:
            for key in rows:
                room_id = room_of_key(key)
                if room_id is not None:
                    summary = built[room_id]
                    if row_source.get(key) is not summary:
                        row_source[key] = summary
                        changed[key] = summary
        else:
            for room_id in changed_ids:
                summary = built.get(room_id)
                if summary is None:
                    continue
                for group_key in self._own_groups_of.get(room_id, ()):
                    key = f"{group_key}{ROOM_IN_GROUP}{room_id}"
                    row_source[key] = summary
                    changed[key] = summary
        if full or dirty:
            self._walk_stale = True
        return rows

    def _walk(self) -> list[RoomId]:
        """Every grouped room once, in the order shown (collapsed groups included)."""
        if self._grouping is None:
            return []
        own = self._own
        empty: list[RoomId] = []
        return list(dict.fromkeys(chain.from_iterable(own.get(key, empty) for key in self._depth)))

    def _header_row(self, group: RoomGroup, closed: bool, glyphs, changed: dict) -> None:  # noqa: ANN001
        totals = self._totals[group.key].value()
        shown = (group.title, closed, totals)
        key = GROUP_PREFIX + group.key
        if self._header_shown.get(key) == shown and key in self._rows:
            return
        self._header_shown[key] = shown
        unread, highlights, threads, lower, _ = totals
        marker = glyphs.group_closed if closed else glyphs.group_open
        left = Content.assemble("  " * group.depth, Content.styled(f"{marker} ", "$text-muted"),
                                Content.styled(group.title, "bold $text-accent" if unread else "bold"))
        right = columns(
            (count_text(unread, lower) if unread else "", COUNT_WIDTH, "bold"),
            " ",
            (f"{glyphs.highlight}{count_text(highlights)}" if highlights else "", COUNT_WIDTH, "$warning bold"),
            " ",
            (f"{glyphs.threads}{count_text(threads)}" if threads else "", COUNT_WIDTH, "$secondary"),
        )
        changed[key] = Row(left, right)

    def _make_row(self, key: str, source: object) -> Row:
        assert isinstance(source, RoomSummary)
        depth = self._depth.get(group_of_key(key) or "", -1) + 1 if ROOM_IN_GROUP in key else 0
        return self._room_row(source, bool(self._built_glyphs), depth)

    @staticmethod
    def _room_row(summary: RoomSummary, glyphs_on: bool, depth: int = 0) -> Row:
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
        highlight_count = shown_highlights(counts, summary.encrypted)
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
        left = Content.assemble(marker, " ", name)
        if depth:
            left = Content.assemble("  " * depth, left)
        return Row(left, right)
