"""The threads pane for the selected room: the main timeline first, then one row per
thread (root preview, root sender, replies, latest activity), with the local unread
count and the server's notification count side by side so a mismatch shows.
"""

from __future__ import annotations

from functools import cache

from textual.content import Content
from textual.reactive import reactive

from app.model.account import AccountState, sorted_threads
from app.model.events import is_message
from app.model.ids import MAIN, ThreadId
from app.model.room import RoomState
from app.model.unread import ThreadUnread, threads_unread, thread_unread
from app.ui.describe import count_text, display_name, thread_title, when
from app.ui.state import Selection, View
from app.ui.widgets.keyed_list import KeyedList, Row, columns

HEADER = "threads:header"
SENDER_WIDTH = 8


class ThreadList(KeyedList):
    """Threads of the selected room; unread threads first, then by activity.

    Columns: ``by`` root sender, ``re`` replies, ``last`` latest activity, ``new`` local
    unread, ``srv`` the server's notification count (``@N`` its highlights).
    Bindings: those of ``KeyedList``.
    """

    # Bound from the main screen. No repaint on change: the watchers hand the rows that
    # changed to ``update_rows``, which repaints those lines only.
    account: reactive[AccountState | None] = reactive(None, init=False, repaint=False)
    selection: reactive[Selection | None] = reactive(None, init=False, repaint=False)
    view: reactive[View] = reactive(View, init=False, repaint=False)

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(empty_text="select a room", id=id, classes=classes)
        self._room: RoomState | None = None
        self._view: View | None = None

    @property
    def room(self) -> RoomState | None:
        return self._room

    def watch_account(self) -> None:
        self._refresh_rows()

    def watch_view(self) -> None:
        self._refresh_rows()

    def watch_selection(self, old: Selection | None, new: Selection | None) -> None:
        # In unread-only mode a read thread stays listed only while it is selected.
        moved_room = old is None or new is None or old.room_id != new.room_id
        self._refresh_rows(force=moved_room or self.view.unread_only)
        if new is not None:
            self.move_cursor_to(new.thread_id, announce=False)

    def _refresh_rows(self, force: bool = False) -> None:
        account, selection, view = self.account, self.selection, self.view
        if account is None or selection is None:
            self._room = None
            self.clear()
            return
        room = account.rooms.get(selection.room_id)
        if room is None:
            self._room = None
            self.clear()
            return
        if not force and room is self._room and view == self._view and (
            not view.unread_only or selection.thread_id in self._position
        ):
            return
        self._room, self._view = room, view
        counts = threads_unread(room)
        order: list[str] = [HEADER]
        rows: dict[str, Row] = {HEADER: self._header()}
        for thread_id in sorted_threads(room):
            unread = counts.get(thread_id) or thread_unread(room, thread_id)
            if (
                view.unread_only
                and thread_id != MAIN
                and thread_id != selection.thread_id
                and not unread.has_unread
            ):
                continue
            order.append(thread_id)
            rows[thread_id] = self._thread_row(room, thread_id, unread)
        self.update_rows(order, rows, removed=[key for key in self._rows if key not in rows])

    @staticmethod
    @cache
    def _header() -> Row:
        muted = "$text-muted"
        counts = (("last", 7, muted), ("new", 5, muted), ("srv", 5, muted))
        return Row(
            Content.styled("thread", muted),
            columns(("by", SENDER_WIDTH, muted), ("re", 4, muted), *counts),
            right_short=columns(*counts),
            selectable=False,
        )

    @staticmethod
    def _thread_row(room: RoomState, thread_id: ThreadId, unread: ThreadUnread) -> Row:
        latest = room.latest_event(thread_id)
        last = when(latest.ts) if latest is not None else ""
        if thread_id == MAIN:
            title = Content("Main timeline")
            sender = ""
            replies = ""
        else:
            title = Content(thread_title(room, thread_id))
            root = room.event(thread_id)
            sender = display_name(room, root.sender) if root is not None else ""
            count = root.thread_reply_count if root is not None else None
            if count is None:
                positions = room.thread_positions.get(thread_id, ())
                count = sum(1 for p in positions if is_message(room.events[p]))
            replies = count_text(count)
        if unread.has_unread:
            title = title.stylize("bold")
        server = unread.server
        server_text = count_text(server.notifications) if server.notifications else ""
        if server.highlights:
            server_text = f"{server_text}@{count_text(server.highlights)}"
        local = count_text(unread.unread, unread.lower_bound) if unread.unread or unread.lower_bound else ""
        counts = (
            (last, 7, "$text-muted"),
            (local, 5, "bold"),
            (server_text, 5, "$warning" if server.highlights else "$text-muted"),
        )
        right = columns((sender[: SENDER_WIDTH - 1], SENDER_WIDTH, "$text-muted"), (replies, 4, ""), *counts)
        return Row(title, right, right_short=columns(*counts))
