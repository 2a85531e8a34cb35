"""The status line: account, sync state, the receipt mode (loud), queued receipts, and
what the last key did. It never lets the user forget which receipt a key will send.

A label is updated only when its text changes, and lays out the screen only when its
width changes (a layout reflows the whole screen, and each one here set off a second:
up to seven frames for one ``r``). The last label takes the rest of the line, so its
text never needs a layout; it also carries the queued count, which comes and goes with
every receipt (a label of its own appeared and disappeared, a layout each time). The
account, sync and mode labels are as wide as their text and change rarely.
"""

from __future__ import annotations

import time

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.reactive import reactive
from textual.timer import Timer
from textual.widgets import Label

from app.matrix.service import SyncState, SyncStatus
from app.ui.describe import mode_word
from app.ui.glyphs import glyphs_for
from app.ui.state import LastAction, ModeState


class StatusBar(Horizontal):
    """One line under the panes. Reactive inputs are bound by the main screen."""

    DEFAULT_CSS = """
    StatusBar {
        height: 1;
        width: 1fr;
        & > Label { width: auto; padding: 0 1; }
        & > #status-last { width: 1fr; }
    }
    """

    # No repaint of the bar itself on change: the labels repaint what changed.
    user_id: reactive[str] = reactive("", init=False, repaint=False)
    sync_status: reactive[SyncStatus] = reactive(lambda: SyncStatus(SyncState.STARTING), init=False, repaint=False)
    mode: reactive[ModeState] = reactive(ModeState, init=False, repaint=False)
    queued: reactive[int] = reactive(0, init=False, repaint=False)
    last_action: reactive[LastAction] = reactive(LastAction, init=False, repaint=False)
    glyphs: reactive[bool] = reactive(True, init=False, repaint=False)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._retry_deadline: float | None = None
        self._ticker: Timer | None = None
        self._shown: dict[str, object] = {}

    def compose(self) -> ComposeResult:
        # Each label starts with the classes it shows the current values with: a class
        # added after mounting restyles the label (a few ms each, on the start path).
        yield Label(id="status-account")
        yield Label(id="status-sync", classes=_on(self._sync_classes()))
        yield Label(id="status-mode", classes=_on(self._mode_classes()))
        yield Label(id="status-last", classes=_on(self._last_classes()))

    def on_mount(self) -> None:
        self._show_account()
        self._show_sync()
        self._show_mode()
        self._show_last()

    def watch_user_id(self) -> None:
        self._show_account()

    def watch_sync_status(self, status: SyncStatus) -> None:
        if status.state is SyncState.OFFLINE and status.retry_in is not None:
            self._retry_deadline = time.monotonic() + status.retry_in
            if self._ticker is None:
                self._ticker = self.set_interval(1.0, self._show_sync)
        else:
            self._retry_deadline = None
            if self._ticker is not None:
                self._ticker.stop()
                self._ticker = None
        self._show_sync()

    def watch_mode(self) -> None:
        self._show_mode()

    def watch_queued(self) -> None:
        self._show_last()

    def watch_last_action(self) -> None:
        self._show_last()

    def watch_glyphs(self) -> None:
        self._show_sync()
        self._show_last()

    # ---- texts ----------------------------------------------------------

    @property
    def sync_text(self) -> str:
        glyphs = glyphs_for(self.glyphs)
        status = self.sync_status
        state = status.state
        if state is SyncState.LIVE:
            text = f"{glyphs.live} live"
        elif state is SyncState.CATCHING_UP:
            text = f"{glyphs.catching_up} catching up"
        elif state is SyncState.OFFLINE:
            text = f"{glyphs.offline} offline"
            if self._retry_deadline is not None:
                seconds = max(0, round(self._retry_deadline - time.monotonic()))
                text += f", retry in {seconds} s"
        elif state is SyncState.LOGGED_OUT:
            text = "logged out"
        else:
            text = "starting"
        return text.strip()

    @property
    def mode_text(self) -> str:
        mode = self.mode
        text = mode_word(mode.receipt_type)
        if mode.pinned:
            text += " (room)"
        if not mode.can_send:
            text += " (unsupported by server)"
        return text

    def _label(self, widget_id: str) -> Label:
        return self.query_one(f"#{widget_id}", Label)

    def _set_text(self, widget_id: str, text: str) -> Label:
        """Show ``text`` in an auto-width label: a layout only when its width changes."""
        label = self._label(widget_id)
        old = self._shown.get(widget_id)
        if old != text:
            self._shown[widget_id] = text
            resized = not isinstance(old, str) or cell_len(old) != cell_len(text)
            label.update(Content(text), layout=resized)
        return label

    @property
    def queued_text(self) -> str:
        return f"{self.queued} queued" if self.queued else ""

    def _show_account(self) -> None:
        if self.is_mounted:
            self._set_text("status-account", self.user_id)

    def _show_sync(self) -> None:
        if not self.is_mounted:
            return
        self._set_text("status-sync", self.sync_text).update_classes(self._sync_classes())

    def _sync_classes(self) -> dict[str, bool]:
        state = self.sync_status.state
        return {
            "-live": state is SyncState.LIVE,
            "-offline": state in (SyncState.OFFLINE, SyncState.LOGGED_OUT),
            "-catching-up": state in (SyncState.CATCHING_UP, SyncState.STARTING),
        }

    def _show_mode(self) -> None:
        if not self.is_mounted:
            return
        self._set_text("status-mode", self.mode_text).update_classes(self._mode_classes())

    def _mode_classes(self) -> dict[str, bool]:
        public = self.mode.receipt_type.value == "m.read"
        return {"-public": public, "-private": not public, "-unsupported": not self.mode.can_send}

    def _show_last(self) -> None:
        if not self.is_mounted:
            return
        glyphs = glyphs_for(self.glyphs)
        last = self.last_action
        prefix = {
            "sent": glyphs.sent,
            "settled": glyphs.settled,
            "failed": glyphs.failed,
            "refused": "",
        }.get(last.outcome, "")
        text = f"{prefix} {last.text}".strip()
        label = self._label("status-last")
        shown = (self.queued_text, text)
        if self._shown.get("status-last") != shown:
            self._shown["status-last"] = shown
            # The queued count, then the last action, as two labels of their own would
            # show them (each padded by a cell).
            content = Content(text)
            if self.queued:
                queued = Content.styled(self.queued_text, "$warning")
                content = Content.assemble(queued, "  ", content) if text else queued
            # 1fr wide: its size never depends on its text.
            label.update(content, layout=False)
        label.update_classes(self._last_classes())

    def _last_classes(self) -> dict[str, bool]:
        outcome = self.last_action.outcome
        return {f"-{name}": outcome == name for name in ("sent", "settled", "failed", "refused", "info")}


def _on(classes: dict[str, bool]) -> str:
    """The names of the classes that are on, for a widget's ``classes=``."""
    return " ".join(name for name, on in classes.items() if on)
