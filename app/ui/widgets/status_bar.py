"""The status line: account, sync state, the receipt mode (loud), queued receipts, and
what the last key did. It never lets the user forget which receipt a key will send.

One widget with no children draws the whole line from four parts: the account, the sync
state and the mode, each as wide as its text, then the last action (led by the queued
count), which takes the rest of the line and is cut short rather than wrapped. Each part
is padded by a cell either side and styled with theme variables (``$success``, ...).

One widget rather than a row of labels: labels would each be composed, styled and
rendered at a start, restyled by their class changes, and a label whose width changed
would lay out the whole screen. A change of state only repaints this one line, and only
when the text or a style it shows changed; its size never depends on its text, so it
never lays out.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Literal

from textual.content import Content, Span
from textual.reactive import reactive
from textual.timer import Timer
from textual.widget import Widget

from app.matrix.service import SyncState, SyncStatus
from app.model.receipts import ReceiptType
from app.ui.glyphs import glyphs_for
from app.ui.state import LastAction, ModeState

PartName = Literal["account", "sync", "mode", "clears", "last"]

_VARIABLE = re.compile(r"\$([A-Za-z0-9_-]+)")

# A part as shown: the style of the whole part (its padding too), then its pieces of text
# with their own styles over it. Plain tuples, so "did anything change" is one ``==``.
_Part = tuple[str, tuple[tuple[str, str], ...]]


class StatusBar(Widget):
    """One line under the panes. Reactive inputs are bound by the main screen."""

    DEFAULT_CSS = """
    StatusBar {
        height: 1;
        width: 1fr;
        text-wrap: nowrap;
        text-overflow: clip;
    }
    """

    # No repaint on every change: ``_show`` repaints when what the line shows changed.
    user_id: reactive[str] = reactive("", init=False, repaint=False)
    sync_status: reactive[SyncStatus] = reactive(lambda: SyncStatus(SyncState.STARTING), init=False, repaint=False)
    mode: reactive[ModeState] = reactive(ModeState, init=False, repaint=False)
    queued: reactive[int] = reactive(0, init=False, repaint=False)
    last_action: reactive[LastAction] = reactive(LastAction, init=False, repaint=False)
    glyphs: reactive[bool] = reactive(True, init=False, repaint=False)
    # What r and R would clear for the selection, and whether unseen mentions go too.
    clears: reactive[tuple[str, bool]] = reactive(("", False), init=False, repaint=False)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._retry_deadline: float | None = None
        self._ticker: Timer | None = None
        self._shown: dict[PartName, _Part] = self._parts()

    def watch_user_id(self) -> None:
        self._show()

    def watch_sync_status(self, status: SyncStatus) -> None:
        if status.state is SyncState.OFFLINE and status.retry_in is not None:
            self._retry_deadline = time.monotonic() + status.retry_in
            if self._ticker is None:
                self._ticker = self.set_interval(1.0, self._show)
        else:
            self._retry_deadline = None
            if self._ticker is not None:
                self._ticker.stop()
                self._ticker = None
        self._show()

    def watch_mode(self) -> None:
        self._show()

    def watch_queued(self) -> None:
        self._show()

    def watch_last_action(self) -> None:
        self._show()

    def watch_glyphs(self) -> None:
        self._show()

    def watch_clears(self) -> None:
        self._show()

    @property
    def clears_text(self) -> str:
        return self.clears[0]

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
        elif state is SyncState.STOPPED:
            text = f"{glyphs.offline} sync stopped"
        elif state is SyncState.FOLLOWING:
            text = f"{glyphs.catching_up} following {status.detail or 'another readmark'}"
        else:
            text = "starting"
        return text.strip()

    @property
    def mode_text(self) -> str:
        mode = self.mode
        text = mode.word
        if mode.sends and not mode.can_send:
            text += " (unsupported by server)"
        return text

    @property
    def queued_text(self) -> str:
        return f"{self.queued} queued" if self.queued else ""

    @property
    def account_text(self) -> str:
        """The account as shown (the device's standing beside it is ``device_text``)."""
        return self._shown["account"][1][0][0]

    @property
    def last_text(self) -> str:
        """The queued count and the last action, as the last part shows them (uncut)."""
        return self.part_text("last")

    def part_text(self, name: PartName) -> str:
        """The text one part shows, without its padding (the last part before it is cut)."""
        return "".join(text for text, _ in self._shown[name][1])

    def part_style(self, name: PartName) -> str:
        """The style of one whole part, theme variables unresolved: ``bold $text on $success``."""
        return self._shown[name][0]

    # ---- parts ----------------------------------------------------------

    def _parts(self) -> dict[PartName, _Part]:
        return {
            "account": ("$text-muted", ((self.user_id, ""), *self._device_pieces())),
            "sync": (self._sync_style(), ((self.sync_text, ""),)),
            "mode": (self._mode_style(), ((self.mode_text, ""),)),
            "clears": ("$warning" if self.clears[1] else "$text-muted", ((self.clears[0], ""),)),
            "last": self._last_part(),
        }

    @property
    def device_text(self) -> str:
        """This device's standing: unverified, or verified (and the backup when it is not on)."""
        device = self.sync_status.device
        if device is None:
            return ""
        if not device.verified:
            return "unverified"
        return "verified" if device.backup == "on" else f"verified, backup {device.backup}"

    def _device_pieces(self) -> tuple[tuple[str, str], ...]:
        text = self.device_text
        if not text:
            return ()
        return (("  ", ""), (text, "$warning" if text == "unverified" else ""))

    def _sync_style(self) -> str:
        state = self.sync_status.state
        if state is SyncState.LIVE:
            return "$success"
        if state in (SyncState.OFFLINE, SyncState.LOGGED_OUT, SyncState.STOPPED):
            return "bold $error"
        return "$warning"  # catching up, starting

    def _mode_style(self) -> str:
        if not self.mode.sends:
            return "bold $text on $panel"
        if not self.mode.can_send:
            return "bold $text on $error"
        if self.mode.receipt_type is ReceiptType.PUBLIC:
            return "bold $text on $warning"
        return "bold $text on $success"

    def _last_part(self) -> _Part:
        glyphs = glyphs_for(self.glyphs)
        last = self.last_action
        prefix = {
            "sent": glyphs.sent,
            "settled": glyphs.settled,
            "failed": glyphs.failed,
            "refused": "",
        }.get(last.outcome, "")
        text = f"{prefix} {last.text}".strip()
        style = {"failed": "$error", "refused": "$error", "settled": "$success"}.get(last.outcome, "")
        pieces: list[tuple[str, str]] = []
        if self.queued:
            # The queued count leads, as a label of its own would show it (padded).
            pieces.append((self.queued_text, "$warning"))
            if text:
                pieces.append(("  ", ""))
        if text or not pieces:
            pieces.append((text, ""))
        return style, tuple(pieces)

    def _show(self) -> None:
        """Repaint the line if what it shows changed (never a layout: its size is fixed)."""
        parts = self._parts()
        if parts != self._shown:
            self._shown = parts
            if self.is_mounted:
                self.refresh()

    def render(self) -> Content:
        parts = self._shown  # kept current by _show, on every change of what it shows
        width = self.size.width
        variables = self.app.theme_variables
        fixed = [_padded(parts[name], variables) for name in ("account", "sync", "mode")]
        used = sum(part.cell_length for part in fixed)
        if parts["clears"][1][0][0]:
            # What a key would clear, before the last action: at most half of what is left.
            room = max(0, (width - used) // 2 - 2) if width else None
            fixed.append(_padded(parts["clears"], variables, min(room, len(parts["clears"][1][0][0])) if room is not None else None))
            used += fixed[-1].cell_length
        # The last part takes the rest of the line (its padding too), cut short if need be.
        last = _padded(parts["last"], variables, max(0, width - used - 2))
        line = Content.assemble(*fixed, last)
        return line.truncate(width) if width else line


def _padded(part: _Part, variables: Mapping[str, str], width: int | None = None) -> Content:
    """A part with a cell of padding either side, ``width`` cells wide inside if given."""
    style, pieces = part
    content = Content.assemble(*((text, _resolve(piece_style, variables)) for text, piece_style in pieces))
    if width is not None:
        content = content.truncate(width, ellipsis=True, pad=True)
    content = content.pad(1, 1)
    if style:
        # Under the pieces' own styles, over the padding too (as a label's style was).
        span = Span(0, len(content.plain), _resolve(style, variables))
        content = Content(content.plain, [span, *content.spans], content.cell_length)
    return content


def _resolve(style: str, variables: Mapping[str, str]) -> str:
    """``style`` with the theme's values for its ``$variables``.

    Content resolves them itself, but drops a value's alpha: ``$text`` (``auto 87%``)
    became ``auto``, pure black or white instead of the text colour CSS gives a label.
    """
    if "$" not in style:
        return style
    return _VARIABLE.sub(lambda match: variables.get(match[1], match[0]), style)
