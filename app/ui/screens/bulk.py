"""The bulk-read dialog: a dry run of reading many rooms at once (a space, the direct
messages, every room, the rooms shown), listing what each room's receipt clears and
which rooms go public, before anything is sent.

Bindings: ``enter`` sends, ``escape`` cancels.
"""

from __future__ import annotations

from rich.style import Style as RichStyle
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.geometry import Size
from textual.screen import ModalScreen
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.visual import Visual
from textual.widgets import Static

from app.matrix.wire import NAME_MAX_CHARS, clean_text
from app.model.bulk import BulkPlan, describe_clears
from app.model.receipts import ReceiptType
from app.paths import styles_dir
from app.ui.describe import mode_word

# Rooms listed one per line; the rest are summed up in one line.
MAX_LISTED = 200
MAX_UNFLAGGED = 20
# A name is never cut shorter than this to make room for what its receipt clears.
MIN_NAME_CELLS = 12


def others_text(text: str, limit: int = NAME_MAX_CHARS) -> Content:
    """Text others chose (a room's or a space's name) as one line of plain text: never
    markup, no control characters or bidi overrides for the terminal, whitespace
    (newlines too) folded; the sync translation's rule, kept where the text is drawn."""
    return Content(clean_text(text, limit))


def plan_line(plan: BulkPlan, index: int, width: int | None = None) -> Content:
    """Line ``index`` of the dry run (``plan_lines``)."""
    listed = min(len(plan.rooms), MAX_LISTED)
    if index < listed:
        read = plan.rooms[index]
        word = mode_word(read.receipt_type)
        style = "bold $warning" if read.receipt_type is ReceiptType.PUBLIC else "bold $success"
        if read.request is None:
            what = Content.styled(f"not sent: {read.result.reason}", "$error")  # type: ignore[union-attr]
        else:
            what = Content(describe_clears(read.clears))
        head, name = Content.styled(f"{word:<7}", style), others_text(read.title)
        if width is not None:
            room = width - head.cell_length - 1 - 2 - what.cell_length
            name = name.truncate(max(room, MIN_NAME_CELLS), ellipsis=True)
        return Content.assemble(head, " ", name, "  ", what)
    index -= listed
    if len(plan.rooms) > MAX_LISTED:
        if index == 0:
            return Content.styled(f"... and {len(plan.rooms) - MAX_LISTED} more rooms", "$text-muted")
        index -= 1
    room_id = plan.unflag[index]
    return Content.styled(f"unflag   {room_id}: marked unread, nothing left to read", "$text-muted")


def plan_lines(plan: BulkPlan, width: int | None = None) -> list[Content]:
    """One line per room of the dry run: mode, name, what it clears (or why not), then
    how many more rooms there are, and the rooms that only lose their marked-unread
    flag. With a ``width``, a name too long for it is cut with an ellipsis, so that what
    the room's receipt clears still ends its line."""
    return [plan_line(plan, index, width) for index in range(plan_line_count(plan))]


def plan_line_count(plan: BulkPlan) -> int:
    """How many lines ``plan_lines`` gives."""
    return min(len(plan.rooms), MAX_LISTED) + (len(plan.rooms) > MAX_LISTED) + min(len(plan.unflag), MAX_UNFLAGGED)


class PlanLines(ScrollView):
    """The dry run's lines (``plan_line``), each laid out for the width it is drawn at
    (one line per room whatever its name), and drawn a line at a time: a dry run of
    1,000 rooms lists 200 lines and the dialog shows 20, so only those on screen are
    made. (All of them as one text took most of the dialog's first frame: 53 of the
    69 ms from the key to it at 1,000 rooms.) Scrolls with the arrow and page keys."""

    DEFAULT_CSS = """
    PlanLines {
        height: auto;
        overflow-x: hidden;
        overflow-y: auto;
    }
    """

    def __init__(self, plan: BulkPlan, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.plan = plan
        self._count = plan_line_count(plan)
        self._strips: dict[tuple[int, int], Strip] = {}

    def on_mount(self) -> None:
        self.virtual_size = Size(0, self._count)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return self._count

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        index = self.scroll_offset.y + y
        style = self.visual_style
        # The line's end is padded with the background alone, as a Static pads.
        pad = RichStyle(bgcolor=style.rich_style.bgcolor)
        if not 0 <= index < self._count:
            return Strip.blank(width, pad)
        strip = self._strips.get((index, width))
        if strip is None:
            strips = Visual.to_strips(self, plan_line(self.plan, index, width), width, 1, style)
            strip = (strips[0] if strips else Strip([])).crop_extend(0, width, pad)
            self._strips[(index, width)] = strip
        return strip


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
            yield Static(others_text(self.title_text, 2 * NAME_MAX_CHARS), id="bulk-title")
            yield Static(Content(plan_summary(self.plan)), id="bulk-summary")
            yield PlanLines(self.plan, id="bulk-rooms")
            yield Static("enter: send   escape: cancel", id="bulk-keys")

    def action_send(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)
