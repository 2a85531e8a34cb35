"""The main screen: rooms, threads and timeline panes, the status line and the Footer.

The screen holds the view state (selection, filters, the receipt mode in effect) as
reactives bound from the app's read state, and passes it down to the panes with
``data_bind``. Receipt keys turn into ``ReceiptAction``s for ``service.submit``.

Bindings (ids in ``app.ui.keymap``): ``tab``/``shift+tab`` panes, ``escape`` back,
``n``/``N`` next/previous unread thread, ``r`` read thread, ``R`` read room, ``a``
read and next, ``f`` fully read, ``p`` public/private, ``u`` unread only, ``/`` filter
rooms, ``s`` sort.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.events import DescendantFocus
from textual.reactive import Reactive, reactive
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Input

from app.config import Settings
from app.matrix.core import ReceiptOutcome
from app.matrix.errors import MatrixError
from app.matrix.service import ReadStateService, SyncState, SyncStatus
from app.model import decryption
from app.model.account import AccountState, RoomSort, next_unread_in
from app.model.bulk import NOTHING, BulkPlan, Clears, clears_all, clears_of, clears_thread, describe_clears
from app.model.ids import MAIN, EventId, RoomId, ThreadId
from app.model.plan import ActionKind, ReceiptAction, Refusal, Request, plan
from app.model.spaces import GroupKind, RoomGroup, group_account
from app.model.receipts import ReceiptType
from app.model.summary import RoomSummary
from app.ui import keymap
from app.ui.describe import describe_refusal, describe_request, mode_word, room_title, thread_title
from app.ui.messages import ReceiptSubmitted
from app.ui.state import LastAction, ModeState, Selection, View
from app.ui.screens.bulk import BulkReadScreen, plan_summary
from app.ui.screens.unlock import UnlockScreen
from app.ui.widgets.footer import SteadyFooter
from app.ui.widgets.keyed_list import KeyedList
from app.ui.widgets.room_list import GROUP_PREFIX, RoomList, group_of_key, room_of_key
from app.ui.widgets.status_bar import StatusBar
from app.ui.widgets.thread_list import ThreadList
from app.ui.widgets.timeline import Timeline

log = logging.getLogger(__name__)

# Below this width the screen shows two panes: rooms+threads, or threads+timeline
# while the timeline has focus.
WIDE_FROM = 110
# Wait this long on a highlighted thread before fetching its history, so moving the
# cursor through a list does not fire a request per row.
OPEN_THREAD_DELAY_S = 0.3


BREAKPOINTS = [(0, "-narrow"), (WIDE_FROM, "-wide")]


def breakpoint_class(width: int) -> str:
    """The class ``BREAKPOINTS`` gives a screen this wide (Textual's rule: the last
    breakpoint at or under the width)."""
    return [name for start, name in BREAKPOINTS if width >= start][-1]


@dataclass(slots=True)
class BulkProgress:
    """A bulk read under way: its dry run, the requests not yet answered, how many were
    sent, the refusals so far (the core's and the server's), and the rooms read so far
    (sent, less those the server refused)."""

    plan: BulkPlan
    waiting: set[Request]
    total: int
    refused: list[str]
    read: set[RoomId]


class MainScreen(Screen[None]):
    """Rooms, threads and timeline; see the module docstring for the keys."""

    BINDINGS = keymap.bindings(keymap.MAIN)
    HORIZONTAL_BREAKPOINTS = BREAKPOINTS

    # None of these repaints the screen (repaint=False): the screen draws nothing of its
    # own, the widgets bound to these repaint what changed, and a screen repaint
    # re-renders every line of the screen (a full update, several milliseconds).
    # Bound from the app: the one read state, and what the service reports.
    account: reactive[AccountState | None] = reactive(None, init=False, repaint=False)
    # What the rooms pane shows until ``account`` is loaded (the cache's summaries).
    preview: reactive[Sequence[RoomSummary]] = reactive((), init=False, repaint=False)
    sync_status: reactive[SyncStatus] = reactive(lambda: SyncStatus(SyncState.STARTING), init=False, repaint=False)
    queued: reactive[int] = reactive(0, init=False, repaint=False)
    # The screen's own view state, bound down to the panes.
    selection: reactive[Selection | None] = reactive(None, init=False, repaint=False)
    view: reactive[View] = reactive(View, init=False, repaint=False)
    mode: reactive[ModeState] = reactive(ModeState, init=False, repaint=False)
    last_action: reactive[LastAction] = reactive(LastAction, init=False, repaint=False)
    # What r and R (or R on a group's header) would clear: text, and whether it clears
    # mentions never on screen here.
    clears: reactive[tuple[str, bool]] = reactive(("", False), init=False, repaint=False)
    # Textual's own ``Screen.focused`` repaints the screen on every focus change (tab,
    # enter, n into the threads pane). What focus changes is drawn by the widgets
    # themselves: the panes' :focus borders (a style change repaints the pane),
    # the lists' cursor lines (KeyedList.on_focus/on_blur), the Footer (recomposed).
    focused: Reactive[Widget | None] = Reactive(None, repaint=False)

    def __init__(self, service: ReadStateService, settings: Settings, *, width: int = 0) -> None:
        # The breakpoint class for the width the screen opens at, so Textual's first
        # Resize finds it set: adding it then restyles the whole screen.
        super().__init__(classes=breakpoint_class(width))
        # The app replaces it when the same user logs in again.
        self.service = service
        self.settings = settings
        self.user_id = service.user_id
        self._last_request: Request | None = None
        self._thread_memory: dict[RoomId, ThreadId] = {}
        self._titles: dict[str, str] = {}
        self._unlock_offered = False
        # Events that have been on screen in the timeline (their mentions were seen).
        self._seen: set[EventId] = set()
        # A bulk read under way.
        self._bulk: BulkProgress | None = None
        self.set_reactive(MainScreen.view, View(glyphs=settings.glyphs, grouped=settings.group_rooms))

    @property
    def private_supported(self) -> bool:
        """Asked of the service each time: it learns the answer from the server."""
        return self.service.supports_private_receipts

    # ---- layout ---------------------------------------------------------

    def compose(self) -> ComposeResult:
        # Each list is its pane: the border and its title are the list's own (a container
        # around each would be three more widgets to style, lay out and draw at a start).
        with Horizontal(id="panes"):
            yield RoomList(id="rooms", classes="pane").data_bind(
                MainScreen.account, MainScreen.preview, MainScreen.selection, MainScreen.view
            )
            yield ThreadList(id="threads", classes="pane").data_bind(
                MainScreen.account, MainScreen.selection, MainScreen.view
            )
            yield Timeline(id="timeline", classes="pane").data_bind(
                MainScreen.account, MainScreen.selection, MainScreen.view
            )
        yield StatusBar(id="status").data_bind(
            MainScreen.sync_status,
            MainScreen.mode,
            MainScreen.queued,
            MainScreen.last_action,
            MainScreen.clears,
            user_id=self.user_id,
            glyphs=self.settings.glyphs,
        )
        yield SteadyFooter()

    @property
    def rooms(self) -> RoomList:
        return self.query_one("#rooms", RoomList)

    @property
    def threads(self) -> ThreadList:
        return self.query_one("#threads", ThreadList)

    @property
    def timeline(self) -> Timeline:
        return self.query_one("#timeline", Timeline)

    @property
    def status(self) -> StatusBar:
        return self.query_one("#status", StatusBar)

    @property
    def panes(self) -> list[KeyedList]:
        return [self.rooms, self.threads, self.timeline]

    def on_mount(self) -> None:
        self.rooms.on_highlight = self._room_highlighted
        self.threads.on_highlight = self._thread_highlighted
        self.rooms.on_open = self._room_opened
        self.threads.on_open = self._thread_opened
        self.timeline.on_open = self._event_opened
        self.timeline.on_lines_shown = self._timeline_lines_shown
        self._update_mode()
        self._update_titles()
        self.rooms.focus()

    # ---- state ----------------------------------------------------------

    def watch_account(self, account: AccountState | None) -> None:
        if account is None:
            return
        if self.selection is None or self.selection.room_id not in account.rooms:
            # The rooms pane sorts first; pick its top room once it has.
            self.call_later(self._select_first_room)
        # A room's own mode can change with the account (set here or by another readmark).
        self._update_mode()
        self._update_titles()
        self._update_clears()

    def watch_preview(self) -> None:
        if self.account is None and self.selection is None:
            self.call_later(self._select_first_room)

    def _select_first_room(self) -> None:
        selection, account = self.selection, self.account
        if selection is not None and (account is None or selection.room_id in account.rooms):
            return
        shown = self.rooms.shown_room_ids
        if shown:
            self.select(shown[0])

    def watch_selection(self, old: Selection | None, new: Selection | None) -> None:
        self._update_mode()
        self._update_titles()
        self._update_clears()
        if new is not None:
            if new.thread_id != MAIN:
                self._thread_memory[new.room_id] = new.thread_id
            room = self.account.rooms.get(new.room_id) if self.account else None
            if room is not None and (
                (new.thread_id != MAIN and new.thread_id not in room.complete_threads)
                or (room.encrypted and decryption.in_thread(room, new.thread_id))
            ):
                # The service loads what the thread lacks and decrypts what it shows.
                self._open_thread(new.room_id, new.thread_id)

    @work(exclusive=True, group="open-thread", exit_on_error=False, name="open-thread")
    async def _open_thread(self, room_id: RoomId, thread_id: ThreadId) -> None:
        """Load a thread's history so its counts are exact (debounced: exclusive)."""
        await asyncio.sleep(OPEN_THREAD_DELAY_S)
        try:
            await self.service.open_thread(room_id, thread_id)
        except Exception as error:  # best effort: the count stays a labelled lower bound
            if not isinstance(error, MatrixError):
                log.exception("loading thread %s in %s failed", thread_id, room_id)
            self.notify(str(error) or type(error).__name__, title="Could not load the thread",
                        severity="warning", markup=False)

    def watch_sync_status(self, status: SyncStatus) -> None:
        self._update_mode()
        device = status.device
        if device is not None and not device.verified and device.can_unlock and not self._unlock_offered:
            # Once a start, when a recovery key can verify this device.
            self._unlock_offered = True
            self.app.push_screen(UnlockScreen(self.service), self._unlocked)

    def action_mark_unread(self) -> None:
        room = self._room()
        if room is None:
            self._nothing_selected()
            return
        flag = not room.marked_unread
        name = room_title(room)
        self.last_action = LastAction(f"{'marked' if flag else 'unmarked'} unread: {name}", "sent")
        self._set_marked_unread(room.room_id, flag, name)

    @work(group="marked-unread", exit_on_error=False, name="marked-unread")
    async def _set_marked_unread(self, room_id: RoomId, flag: bool, name: str) -> None:
        try:
            await self.service.set_marked_unread(room_id, flag)
        except MatrixError as error:
            self.last_action = LastAction(f"{name} not {'marked' if flag else 'unmarked'} unread: {error}", "failed")
            return
        self.last_action = LastAction(f"{'marked' if flag else 'unmarked'} unread: {name}", "settled")

    # The order P steps through a room's own setting: None is "back to the rules".
    POLICY_CYCLE = (None, "private", "public", "none")

    def action_cycle_room_policy(self) -> None:
        room = self._room()
        if room is None:
            self._nothing_selected()
            return
        cycle = self.POLICY_CYCLE
        current = room.receipt_override if room.receipt_override in cycle else None
        new = cycle[(cycle.index(current) + 1) % len(cycle)]
        name = room_title(room)
        self._set_room_policy(room.room_id, new, name)

    @work(group="room-policy", exit_on_error=False, name="room-policy")
    async def _set_room_policy(self, room_id: RoomId, mode: str | None, name: str) -> None:
        said = f"{name}: {mode.upper()} for every readmark of yours" if mode else f"{name}: back to the rules"
        self.last_action = LastAction(said, "sent")
        try:
            await self.service.set_receipt_override(room_id, mode)
        except MatrixError as error:
            self.last_action = LastAction(f"{name}: mode not set: {error}", "failed")
            return
        self._update_mode()
        decided = self.mode.word
        self.last_action = LastAction(f"{said} (now {decided})" if not mode else said, "settled")

    def action_audit(self) -> None:
        from app.ui.screens.audit import AuditScreen  # imported when first opened

        try:
            rooms = self.service.audit()
        except Exception as error:  # the service's own failure must not take the UI down
            log.exception("audit failed")
            self._refuse(f"could not build the audit: {error}")
            return
        self.app.push_screen(AuditScreen(rooms))

    def action_verify_device(self) -> None:
        device = self.sync_status.device
        if device is None:
            self.notify("This readmark does not hold the crypto store (another one owns the profile).",
                        title="Cannot verify here", severity="warning", markup=False)
        elif device.verified:
            self.notify("This device is already verified.", title="Verified", markup=False)
        else:
            self._unlock_offered = True
            self.app.push_screen(UnlockScreen(self.service), self._unlocked)

    def _unlocked(self, lines: list[str] | None) -> None:
        if lines:
            self.notify("\n".join(lines), title="Device verified", markup=False)

    def watch_view(self) -> None:
        self._update_titles()

    def select(self, room_id: RoomId, thread_id: ThreadId | None = None) -> None:
        """Show a room (and a thread of it: the one last looked at, else the main timeline)."""
        if thread_id is None:
            thread_id = MAIN
            remembered = self._thread_memory.get(room_id)
            room = self.account.rooms.get(room_id) if self.account else None
            if remembered is not None and room is not None and remembered in room.thread_positions:
                thread_id = remembered
        self.selection = Selection(room_id, thread_id)

    def _update_mode(self) -> None:
        room_id = self.selection.room_id if self.selection else None
        mode = self.service.mode_in(room_id)
        self.mode = ModeState(mode.receipt_type, mode.pinned, self.private_supported, mode.sends, mode.rule)

    def _update_titles(self) -> None:
        if not self.is_mounted:
            return
        view = self.view
        parts = ["Rooms", view.sort.value]
        if view.unread_only:
            parts.append("unread only")
        if view.name_filter:
            parts.append(f"/{view.name_filter}")
        room = self._room()
        threads_title = "Threads"
        timeline_title = "Timeline"
        if room is not None and self.selection is not None:
            threads_title = f"{room_title(room)} ─ threads"
            timeline_title = thread_title(room, self.selection.thread_id)
        self._set_title(self.rooms, " · ".join(parts))
        self._set_title(self.threads, threads_title)
        self._set_title(self.timeline, timeline_title)

    def _set_title(self, pane: KeyedList, title: str) -> None:
        # Only a title that changed is set, and it repaints its border line only.
        if self._titles.get(pane.id) != title:
            self._titles[pane.id] = title
            pane.show_title(title)

    def _room(self):  # noqa: ANN202 - RoomState | None
        if self.account is None or self.selection is None:
            return None
        return self.account.rooms.get(self.selection.room_id)

    # ---- panes ----------------------------------------------------------

    @on(KeyedList.Highlighted, "#rooms")
    def _room_highlighted(self) -> None:  # also the rooms pane's on_highlight
        key = room_of_key(self.rooms.cursor_key)
        # While only the preview is shown (no account yet), its rooms can be selected.
        if key is None or (self.account is not None and key not in self.account.rooms):
            # A group's header: the panes keep the room; the status line says what R
            # would clear of the group.
            self._update_clears()
            return
        if self.selection is None or self.selection.room_id != key:
            self.select(key)
        else:
            self._update_clears()

    @on(KeyedList.Highlighted, "#timeline")
    def _event_highlighted(self) -> None:
        # r now reads up to another event.
        self._update_clears()

    @on(KeyedList.Highlighted, "#threads")
    def _thread_highlighted(self) -> None:  # also the threads pane's on_highlight
        key = self.threads.cursor_key
        if key is None or self.selection is None or key == self.selection.thread_id:
            return
        self.selection = Selection(self.selection.room_id, key)

    @on(KeyedList.Selected, "#rooms")
    def _room_opened(self) -> None:  # also the rooms pane's on_open
        self._focus_pane(self.threads)

    @on(KeyedList.Selected, "#threads")
    def _thread_opened(self) -> None:  # also the threads pane's on_open
        self._focus_pane(self.timeline)

    @on(KeyedList.Selected, "#timeline")
    def _event_opened(self) -> None:  # also the timeline's on_open
        self._say("r: read up to this event · f: fully read up to here")

    def on_descendant_focus(self, event: DescendantFocus) -> None:
        self._mark_timeline_focus(event.widget is self.timeline)
        # What r and R would clear depends on the focused pane (r reads up to the
        # timeline's cursor only while the timeline has focus, R on a group's header
        # only while the rooms pane has it): worked out again for a focus moved by a
        # click or Textual's own focus chain (``_focus_pane`` moves it and works it out
        # at once; this finds the same words then, and repaints nothing).
        self._update_clears()

    def _focus_pane(self, pane: KeyedList) -> None:
        self._mark_timeline_focus(pane is self.timeline)
        # The focus moves now, not once the app's queue reaches it (``Widget.focus``
        # defers it with ``call_later``, and Textual's frame clock drew the key's work in
        # two frames, the borders in one and the status line in the next): the status
        # line's account below is worked out for the pane that has the focus.
        self.set_focus(pane)
        self._update_clears()

    def _mark_timeline_focus(self, timeline: bool) -> None:
        # The class (it picks the two panes a narrow screen shows) sits on the panes'
        # container, not on the screen: a class change restyles the whole subtree of
        # its node, and the screen's includes the status line and every Footer key.
        # A wide screen shows all three panes and needs no class: setting it there would
        # restyle the three panes for nothing on two tabs in three. on_resize sets it
        # when the screen turns narrow.
        timeline = timeline and self.has_class("-narrow")
        self.query_one("#panes").set_class(timeline, "-timeline-focus")

    def on_resize(self) -> None:
        # After Textual's own handler has set the breakpoint class for the new width.
        self._mark_timeline_focus(self.focused is self.timeline)

    def _pane_index(self) -> int:
        focused = self.focused
        for i, pane in enumerate(self.panes):
            if focused is pane:
                return i
        return 0

    def action_next_pane(self) -> None:
        self._focus_pane(self.panes[(self._pane_index() + 1) % 3])

    def action_previous_pane(self) -> None:
        self._focus_pane(self.panes[(self._pane_index() - 1) % 3])

    def action_back(self) -> None:
        focused = self.focused
        name_filter = self._name_filter()
        if name_filter is not None and (focused is name_filter or (focused is self.rooms and self.view.name_filter)):
            name_filter.value = ""
            name_filter.display = False
            self.view = self.view.with_(name_filter="")
            self._focus_pane(self.rooms)
            return
        index = self._pane_index()
        if index > 0:
            self._focus_pane(self.panes[index - 1])

    # ---- filters --------------------------------------------------------

    def action_unread_only(self) -> None:
        unread_only = not self.view.unread_only
        self.view = self.view.with_(unread_only=unread_only)
        self._say("showing only rooms and threads with unread" if unread_only else "showing every room and thread")

    def _name_filter(self) -> Input | None:
        found = self.query("#room-filter")
        return found.first(Input) if found else None

    async def action_filter_rooms(self) -> None:
        name_filter = self._name_filter()
        if name_filter is None:
            # Mounted on the first /, not at start: an Input would cost the first paint
            # its styles and compose for a line that is hidden until then.
            # A prompt line over the status line, as a pager's or mutt's limit prompt.
            name_filter = Input(placeholder="filter rooms by name", id="room-filter")
            await self.mount(name_filter, before=self.status)
        name_filter.display = True
        name_filter.focus()

    @on(Input.Changed, "#room-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.view = self.view.with_(name_filter=event.value)

    @on(Input.Submitted, "#room-filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        if not event.value:
            event.input.display = False
        self._focus_pane(self.rooms)

    def action_cycle_sort(self) -> None:
        sort: RoomSort = self.view.sort.next()
        self.view = self.view.with_(sort=sort)
        self._say(f"rooms sorted by {sort.value}")

    # ---- triage ---------------------------------------------------------

    def action_next_unread(self) -> None:
        self.jump_to_unread(backwards=False)

    def action_previous_unread(self) -> None:
        self.jump_to_unread(backwards=True)

    def _load_rooms_now(self) -> None:
        """The rooms themselves, for a key pressed while only the preview is shown (the
        summaries say which rooms are unread, not which threads): decoded now rather
        than after the first frame."""
        if self.account is None:
            # The service publishes what it loaded: the account arrives through the
            # app's one writer before this returns.
            self.service.load_local()

    def _next_unread_target(self, *, backwards: bool) -> tuple[RoomId, ThreadId] | None:
        self._load_rooms_now()
        current = (self.selection.room_id, self.selection.thread_id) if self.selection else None
        account = self.account
        if account is None:
            return None
        # The shown order's IDs, each room looked up as the walk reaches it: no list of
        # every room per press.
        return next_unread_in(self.rooms.shown_room_ids, account.rooms, current, backwards=backwards)

    def jump_to_unread(self, *, backwards: bool, target: tuple[RoomId, ThreadId] | None = None) -> bool:
        if target is None:
            target = self._next_unread_target(backwards=backwards)
        if target is None:
            self._say("nothing unread")
            self.notify("Nothing unread.", title="All read", timeout=3, markup=False)
            return False
        room_id, thread_id = target
        self.selection = Selection(room_id, thread_id)
        if self.focused is not self.threads:
            self._focus_pane(self.threads)
        return True

    # ---- receipts -------------------------------------------------------

    def action_toggle_mode(self) -> None:
        new_mode = ReceiptType.PUBLIC if self.service.session_mode is ReceiptType.PRIVATE else ReceiptType.PRIVATE
        self.service.session_mode = new_mode
        self._update_mode()
        if self.mode.pinned:
            room = self._room()
            name = room_title(room) if room is not None else "this room"
            kept = "sends no receipts" if not self.mode.sends else f"stays {mode_word(self.mode.receipt_type)}"
            message = f"Session mode is now {mode_word(new_mode)}, but {name} {kept} ({self.mode.rule})."
        elif new_mode is ReceiptType.PUBLIC:
            message = "PUBLIC: receipts (m.read) are visible to the other members."
        else:
            message = "PRIVATE: receipts (m.read.private) are visible only to you."
        self._say(f"session mode {mode_word(new_mode)}")
        self.notify(message, title=f"Receipt mode {mode_word(new_mode)}", timeout=4, markup=False)

    def _highlighted_event(self) -> str | None:
        """The timeline's cursor event, when the timeline pane has focus."""
        return self.timeline.highlighted_event if self.focused is self.timeline else None

    def action_read_thread(self) -> None:
        self.send_thread_receipt(self.mode.receipt_type)

    def action_read_room(self) -> None:
        group = self.rooms.cursor_group if self.focused is self.rooms else None
        if group is not None:
            self.read_group(group)
            return
        self.send_room_receipt(self.mode.receipt_type)

    def action_read_and_next(self) -> None:
        self.read_and_next(self.mode.receipt_type)

    def action_fully_read(self) -> None:
        self.send_fully_read(None)

    def send_thread_receipt(self, receipt_type: ReceiptType) -> Request | Refusal | None:
        """A threaded receipt for the selected thread: up to the timeline's cursor when
        the timeline has focus, else up to the latest event by someone else."""
        if self.selection is None:
            return self._nothing_selected()
        action = ReceiptAction(
            ActionKind.THREADED, receipt_type, self.selection.thread_id, self._highlighted_event()
        )
        return self.submit(self.selection.room_id, action)

    def send_room_receipt(self, receipt_type: ReceiptType) -> Request | Refusal | None:
        """An unthreaded receipt up to the room's latest event by someone else."""
        if self.selection is None:
            return self._nothing_selected()
        return self.submit(self.selection.room_id, ReceiptAction(ActionKind.UNTHREADED, receipt_type))

    def send_fully_read(self, with_receipt: ReceiptType | None) -> Request | Refusal | None:
        """Move ``m.fully_read`` to the timeline's cursor (timeline focused) or the room's
        latest event; with ``with_receipt``, an unthreaded receipt of that type too."""
        if self.selection is None:
            return self._nothing_selected()
        action = ReceiptAction(
            ActionKind.FULLY_READ,
            with_receipt or self.mode.receipt_type,
            None,
            self._highlighted_event(),
            with_receipt=with_receipt is not None,
        )
        return self.submit(self.selection.room_id, action)

    def read_and_next(self, receipt_type: ReceiptType) -> None:
        # The next thread is chosen before the read: reading re-sorts the threads (a
        # read thread sinks below the unread ones) and would skip those it passes.
        current = (self.selection.room_id, self.selection.thread_id) if self.selection else None
        target = self._next_unread_target(backwards=False)
        self.send_thread_receipt(receipt_type)
        if target == current:
            target = None
        self.jump_to_unread(backwards=False, target=target)

    def _nothing_selected(self) -> None:
        self._refuse("no room selected")
        return None

    def submit(self, room_id: RoomId, action: ReceiptAction) -> Request | Refusal | None:
        """Hand one action to the service (whose core refuses what the room's mode or the
        server does not allow); report what happened on the status line."""
        # During the preview: the screen shows what the service will plan on.
        self._load_rooms_now()
        before = self.service.account.rooms.get(room_id)
        try:
            result = self.service.submit(room_id, action)
        except Exception as error:  # the service's own failure must not take the UI down
            log.exception("submit failed for %s in %s", action, room_id)
            self.notify(
                str(error) or type(error).__name__,
                title="Could not queue the receipt",
                severity="error",
                markup=False,
            )
            self.last_action = LastAction(f"nothing sent: {error}", "failed")
            return None
        self.post_message(ReceiptSubmitted(room_id, action, result))
        if isinstance(result, Refusal):
            reason = result.reason + self._hint(result)
            self.notify(reason, title="Nothing sent", severity="warning", timeout=4, markup=False)
            self.last_action = LastAction(describe_refusal(Refusal(result.code, reason)), "refused")
            return result
        self._last_request = result
        # Counts dropped already: the service applied and published the request.
        room = self.service.account.rooms.get(room_id)
        text = describe_request(room, result) if room else str(result)
        if before is not None:
            # What it took off the counts, said after as before.
            cleared = clears_of(before, result, self._seen)
            if not cleared.nothing:
                text += f" · cleared {describe_clears(cleared)}"
        self.last_action = LastAction(text, "sent")
        return result

    def _hint(self, refusal: Refusal) -> str:
        """What the user can do about a refusal, in this screen's keys."""
        if refusal.code == "private-mode" and not self.mode.pinned:
            return " (press p first)"
        if refusal.code == "no-private-receipts":
            return " (no fallback to public: press p to send public receipts)"
        return ""

    def _refuse(self, reason: str) -> Refusal:
        refusal = Refusal("ui", reason)
        self.notify(reason, title="Nothing sent", severity="warning", timeout=4, markup=False)
        self.last_action = LastAction(describe_refusal(refusal), "refused")
        return refusal

    def receipt_settled(self, outcome: ReceiptOutcome) -> None:
        if self._bulk is not None and outcome.request in self._bulk.waiting:
            self._bulk.waiting.discard(outcome.request)
            if not outcome.accepted:
                room = self.account.rooms.get(outcome.request.room_id) if self.account else None
                name = room_title(room) if room is not None else outcome.request.room_id
                self._bulk.refused.append(f"{name}: {outcome.error or 'refused'} (rolled back)")
                self._bulk.read.discard(outcome.request.room_id)
            self._bulk_progress()
            return
        room = self.account.rooms.get(outcome.request.room_id) if self.account else None
        text = describe_request(room, outcome.request) if room is not None else outcome.request.event_id
        if outcome.accepted:
            if outcome.request == self._last_request:
                # The same words as when it was sent (what it cleared included).
                self.last_action = LastAction(self.last_action.text if self.last_action.outcome == "sent" else text,
                                              "settled")
            return
        error = outcome.error or "refused"
        self.notify(
            f"{text}\n{error}\nRolled back.",
            title="The server refused a receipt",
            severity="error",
            timeout=8,
            markup=False,
        )
        self.last_action = LastAction(f"{text}: refused by the server ({error}), rolled back", "failed")

    def _say(self, text: str) -> None:
        self.last_action = LastAction(text, "info")

    # ---- what a key would clear, and bulk reads ----------------------------------

    def _update_clears(self) -> None:
        """The status line's account of what ``r`` and ``R`` would clear for the
        selection (or ``R`` for the group whose header is under the cursor), said
        before either is pressed; mentions never on screen here are called out."""
        if not self.is_mounted or self.account is None:
            return
        self._note_seen()
        group = self.rooms.cursor_group if self.focused is self.rooms else None
        if group is not None:
            total, rooms = self._group_clears(group)
            text = f"R: {describe_clears(total, rooms=rooms)}" if not total.nothing else ""
            self.clears = (text, total.unseen_mentions > 0)
            return
        room = self._room()
        if room is None or self.selection is None:
            self.clears = ("", False)
            return
        seen = self._seen
        whole = clears_all(room, seen)
        if whole.nothing:
            self.clears = ("", False)
            return
        if not self.mode.sends:
            # r and R send nothing here: say so rather than what they would clear.
            self.clears = ("r/R: no receipts here; f moves the marker", False)
            return
        event = self._highlighted_event()
        if event is None:
            thread = clears_thread(room, self.selection.thread_id, seen)
        else:
            request = plan(room, ReceiptAction(ActionKind.THREADED, self.mode.receipt_type,
                                               self.selection.thread_id, event))
            thread = NOTHING if isinstance(request, Refusal) else clears_of(room, request, seen)
        parts = []
        if not thread.nothing and thread != whole:
            parts.append(f"r: {describe_clears(thread)}")
        parts.append(f"R: {describe_clears(whole)}")
        self.clears = (" · ".join(parts), whole.unseen_mentions > 0)

    def _group_clears(self, group: RoomGroup) -> tuple[Clears, int]:
        """What R on the group's header would clear, and of how many rooms."""
        total, count = NOTHING, 0
        rooms = self.account.rooms if self.account else {}
        for room_id in group.members:
            room = rooms.get(room_id)
            if room is not None:
                clears = clears_all(room, self._seen)
                if not clears.nothing:
                    total, count = total + clears, count + 1
        return total, count

    def _note_seen(self) -> bool:
        """The timeline's lines on screen now: their mentions have been seen. True when
        that added any."""
        timeline, before = self.timeline, len(self._seen)
        if timeline.size.height:
            self._seen.update(key for key in timeline.shown_keys() if not key.startswith("marker:"))
        return len(self._seen) > before

    def _timeline_lines_shown(self) -> None:
        """The timeline scrolled (the wheel, the scrollbar, a key) and has settled:
        while the status line warns of unseen mentions, it is worked out again once
        lines it had not shown before are on screen."""
        if self._note_seen() and self.clears[1]:
            self._update_clears()

    def action_toggle_group(self) -> None:
        title = self.rooms.toggle_group()
        if title is None:
            self._say("no group here (rooms are grouped once you are in a space or have direct messages)")
            return
        key = self.rooms.cursor_key or ""
        folded = self.rooms.collapsed(key[len(GROUP_PREFIX):])
        self._say(f"{title} {'collapsed' if folded else 'expanded'}")
        self._focus_pane(self.rooms)

    def action_toggle_grouping(self) -> None:
        grouped = not self.view.grouped
        self.view = self.view.with_(grouped=grouped)
        self._say("rooms grouped under spaces" if grouped else "rooms in one flat list")

    def action_read_shown(self) -> None:
        """Read every room the list shows: all of them, or those the filter leaves."""
        self._load_rooms_now()
        view = self.view
        filtered = view.unread_only or view.name_filter.strip()
        scope = "the rooms shown" if filtered else "all rooms"
        self.bulk_read(scope, list(self.rooms.shown_room_ids))

    def read_group(self, group: RoomGroup) -> None:
        """R on a group's header: a space with its sub-spaces, the direct messages, or
        the other rooms."""
        if group.kind is GroupKind.SPACE:
            scope = f"space {group.title}"
        elif group.kind is GroupKind.DIRECT:
            scope = "direct messages"
        else:
            scope = "other rooms"
        self.bulk_read(scope, sorted(group.members, key=self._shown_rank()))

    def account_groups(self):  # noqa: ANN201 - Grouping | None
        """The account's groups, whether the list shows them or is flat."""
        grouping = self.rooms.grouping
        if grouping is None and self.account is not None:
            grouping = group_account(self.account.rooms.values())
        return grouping

    def read_space(self, space_id: RoomId) -> None:
        grouping = self.account_groups()
        group = grouping.space(space_id) if grouping is not None else None
        if group is None:
            self._refuse("not a space you are in")
            return
        self.read_group(group)

    def read_direct(self) -> None:
        grouping = self.account_groups()
        group = grouping.find("direct") if grouping is not None else None
        if group is None:
            self._refuse("no direct messages")
            return
        self.read_group(group)

    def read_all(self) -> None:
        self._load_rooms_now()
        account = self.account
        if account is None:
            return
        joined = [r.room_id for r in account.rooms.values() if r.membership == "join" and not r.is_space]
        self.bulk_read("all rooms", sorted(joined, key=self._shown_rank()))

    def _shown_rank(self):  # noqa: ANN202 - a sort key
        rank = {room_id: i for i, room_id in enumerate(self.rooms.shown_room_ids)}
        return lambda room_id: (rank.get(room_id, len(rank)), room_id)

    def bulk_read(self, scope: str, room_ids: Sequence[RoomId]) -> BulkPlan | None:
        """A dry run of reading ``room_ids``; sent at once when it clears no more rooms
        than ``[triage] confirm_above``, else after the dialog's confirmation."""
        self._load_rooms_now()
        self._note_seen()
        try:
            dry = self.service.bulk_plan(scope, room_ids, tuple(self._seen))
        except Exception as error:  # the service's own failure must not take the UI down
            log.exception("bulk plan failed for %s", scope)
            self._refuse(f"could not plan reading {scope}: {error}")
            return None
        if not dry.rooms_cleared:
            reason = f"; {len(dry.refused)} refused: {dry.refused[0].result.reason}" if dry.refused else ""  # type: ignore[union-attr]
            self._say(f"nothing to read in {scope}{reason}")
            return dry
        if dry.rooms_cleared > self.settings.confirm_above:
            self.last_action = LastAction(f"{plan_summary(dry)}? enter sends, escape cancels", "info")

            def answered(send: bool | None) -> None:
                if send:
                    self._send_bulk(dry)
                else:
                    self._say(f"bulk read of {scope} cancelled: nothing sent")

            self.app.push_screen(BulkReadScreen(dry, f"Read {scope}"), answered)
        else:
            self._send_bulk(dry)
        return dry

    def _send_bulk(self, dry: BulkPlan) -> None:
        try:
            results = self.service.submit_bulk(dry)
        except Exception as error:  # a queue that cannot be written: nothing was sent
            log.exception("bulk read of %s failed", dry.scope)
            self.notify(str(error) or type(error).__name__, title="Could not queue the receipts",
                        severity="error", markup=False)
            self.last_action = LastAction(f"bulk read of {dry.scope}: nothing sent: {error}", "failed")
            return
        sent = [r for r in results if not isinstance(r, Refusal)]
        refused = [r.reason for r in results if isinstance(r, Refusal)]
        self._bulk = BulkProgress(dry, set(sent), len(sent), refused, {r.room_id for r in sent})
        self._bulk_progress()
        self._move_on_after_bulk()

    def _bulk_progress(self) -> None:
        if self._bulk is None:
            return
        bulk = self._bulk
        scope, refused = bulk.plan.scope, bulk.refused
        done = bulk.total - len(bulk.waiting)
        failed = f", {len(refused)} refused" if refused else ""
        if bulk.waiting:
            self.last_action = LastAction(f"bulk read of {scope}: {done}/{bulk.total} sent{failed}", "sent")
            return
        self._bulk = None
        # Only the rooms the server took: one it refused was rolled back, nothing cleared.
        read = len(bulk.read)
        outcome = "failed" if refused and not read else "settled"
        # The flags it clears: of the rooms read, and of those flagged with nothing to read.
        flags = len(bulk.plan.unflag) + sum(1 for r in bulk.plan.sending if r.clears.flags and r.room_id in bulk.read)
        unflagged = f"; {flags} marked-unread flag{'s' if flags != 1 else ''} cleared" if flags else ""
        self.last_action = LastAction(
            f"bulk read of {scope}: {read} room{'s' if read != 1 else ''} read{failed} "
            f"(cleared {describe_clears(bulk.plan.clears_in(bulk.read))}){unflagged}", outcome)
        if refused:
            self.notify("\n".join(refused[:10]), title=f"Bulk read of {scope}: {len(refused)} refused",
                        severity="warning", timeout=8, markup=False)

    def _move_on_after_bulk(self) -> None:
        """After a bulk read the cursor lands on the next group with unread."""
        grouping = self.rooms.grouping
        if grouping is None:
            return
        keys = [g.key for top in grouping.groups for g in top.walk()]
        current = group_of_key(self.rooms.cursor_key)
        here = keys.index(current) if current in keys else -1
        for key in keys[here + 1 :] + keys[: here + 1]:
            totals = self.rooms.group_totals(key)
            if totals is not None and totals[4] > 0 and self.rooms.move_cursor_to(GROUP_PREFIX + key, announce=False):
                self._focus_pane(self.rooms)
                return
