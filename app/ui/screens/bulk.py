"""The bulk-read dialog: a dry run of reading many rooms at once (a space, the direct
messages, every room, the rooms shown), listing what each room's receipt clears and
which rooms go public, before anything is sent.

Bindings: ``enter`` sends, ``escape`` cancels.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from app.model.bulk import BulkPlan, describe_clears
from app.model.receipts import ReceiptType
from app.paths import styles_dir
from app.ui.describe import mode_word

# Rooms listed one per line; the rest are summed up in one line.
MAX_LISTED = 200


def plan_lines(plan: BulkPlan) -> list[Content]:
    """One line per room of the dry run: mode, name, what it clears (or why not)."""
    lines: list[Content] = []
    for read in plan.rooms[:MAX_LISTED]:
        word = mode_word(read.receipt_type)
        style = "bold $warning" if read.receipt_type is ReceiptType.PUBLIC else "bold $success"
        if read.request is None:
            what = Content.styled(f"not sent: {read.result.reason}", "$error")  # type: ignore[union-attr]
        else:
            what = Content(describe_clears(read.clears))
        lines.append(Content.assemble(Content.styled(f"{word:<7}", style), " ", Content(read.title), "  ", what))
    if len(plan.rooms) > MAX_LISTED:
        lines.append(Content.styled(f"... and {len(plan.rooms) - MAX_LISTED} more rooms", "$text-muted"))
    for room_id in plan.unflag[:20]:
        lines.append(Content.styled(f"unflag   {room_id}: marked unread, nothing left to read", "$text-muted"))
    return lines


def plan_summary(plan: BulkPlan) -> str:
    """``Read 12 rooms (3 PUBLIC, 9 PRIVATE): 4 threads, 23 msgs, 2 mentions``."""
    public, private = plan.count(ReceiptType.PUBLIC), plan.count(ReceiptType.PRIVATE)
    modes = ", ".join(part for part in (f"{public} PUBLIC" if public else "", f"{private} PRIVATE" if private else "")
                      if part)
    rooms = plan.rooms_cleared
    text = f"Read {rooms} room{'s' if rooms != 1 else ''}"
    if modes:
        text += f" ({modes})"
    text += f": {describe_clears(plan.clears)}"
    if plan.refused:
        text += f"; {len(plan.refused)} refused"
    return text


class BulkReadScreen(ModalScreen[bool]):
    """Dismissed with True to send, False to cancel."""

    CSS_PATH = styles_dir() / "bulk.tcss"
    BINDINGS = [
        Binding("enter", "send", "Send", id="bulk.send"),
        Binding("escape", "cancel", "Cancel", id="bulk.cancel"),
    ]

    def __init__(self, plan: BulkPlan, title: str) -> None:
        super().__init__()
        self.plan = plan
        self.title_text = title

    def compose(self) -> ComposeResult:
        with Vertical(id="bulk-dialog"):
            yield Static(Content(self.title_text), id="bulk-title")
            yield Static(Content(plan_summary(self.plan)), id="bulk-summary")
            with VerticalScroll(id="bulk-rooms"):
                yield Static(Content("\n").join(plan_lines(self.plan)), id="bulk-lines")
            yield Static("enter: send   escape: cancel", id="bulk-keys")

    def action_send(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)
