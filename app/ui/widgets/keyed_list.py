"""A one-line-per-row list keyed by ID: the base of the rooms, threads and timeline panes.

Rows are held by key (a room ID, a thread ID, an event ID). A pane hands over only
the rows that changed and the new order; unchanged rows keep their rendered lines in
a cache, and only the lines on screen are drawn (Textual's line API), so a 1,000-room
account costs the same to repaint as a 20-room one. The cursor follows its key when
the order changes.

Bindings (ids in ``app.ui.keymap``): ``j``/``down`` and ``k``/``up`` move,
``g``/``home`` and ``G``/``end`` jump, ``pagedown``/``pageup`` page, ``enter`` opens.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter
from typing import Self

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style as RichStyle
from textual import events
from textual.cache import LRUCache
from textual.content import Content, Span
from textual.filter import ANSIToTruecolor, LineFilter
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.style import NULL_STYLE
from textual.style import Style as VisualStyle
from textual.visual import Visual
from textual.widget import Widget

from app.ui import keymap
from app.ui.textual_internals import keep_styled_lines, update_scrollbars

# The fewest cells a row's left part keeps before its right part is shortened.
MIN_LEFT = 18

# The component classes a line is drawn with, by its state.
ROW = ("keyed-list--row",)
CURSOR = ("keyed-list--row", "keyed-list--cursor")
CURSOR_BLURRED = ("keyed-list--row", "keyed-list--cursor-blurred")
RULE = ("keyed-list--row", "keyed-list--rule")
EMPTY = ("keyed-list--empty",)


@dataclass(frozen=True, slots=True, eq=False)
class Row:
    """One line: ``left`` is cut with an ellipsis to make room for ``right``.

    ``right_short`` replaces ``right`` in a narrow pane. A ``rule`` row draws ``left``
    centred in a line of ``rule_char`` (the fully-read line, a gap); rules and headers
    are not ``selectable``: the cursor skips them.

    Two rows are equal when they draw the same: same text *and* styles. (``Content``'s
    own ``==`` compares the text only, so a row that only lost its bold when read would
    equal the old one and its old look would be drawn from the cache.)
    """

    left: Content
    right: Content = Content("")
    # Used instead of ``right`` when ``right`` would leave ``left`` too little room.
    right_short: Content | None = None
    selectable: bool = True
    rule: bool = False
    rule_char: str = "─"

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, Row):
            return NotImplemented
        return (
            self.selectable == other.selectable
            and self.rule == other.rule
            and self.rule_char == other.rule_char
            and self.left.is_same(other.left)
            and self.right.is_same(other.right)
            and _same(self.right_short, other.right_short)
        )

    def __hash__(self) -> int:
        # Content hashes its text only: rows equal as above hash alike.
        return hash((self.left, self.right, self.right_short, self.selectable, self.rule, self.rule_char))

    @property
    def plain(self) -> str:
        if self.rule:
            return self.left.plain
        right = self.right.plain
        return f"{self.left.plain} {right}" if right else self.left.plain


# What ``Content`` strips from text (Textual's list): ``columns`` strips each part itself,
# so its spans' offsets are those of the text it keeps.
_CONTROL_CODES = {code: None for code in (7, 8, 11, 12, 13)}


def columns(*parts: tuple[str, int, str] | str) -> Content:
    """Right-aligned columns, ``(text, width, style)``, and plain separators, as one
    ``Content``. The same as a ``Content`` per column padded with ``right`` and joined
    with ``assemble``, at a third of the cost (the right side of every room and thread
    row on screen is built this way, on each start and each ``j``).

    A column whose text fills its width, or more, gets one space before it unless what
    comes before already ends in one: two neighbouring values never run together, at
    the cost of that row's columns sitting a cell off."""
    texts: list[str] = []
    spans: list[Span] = []
    at = cells = 0
    blank_before = True  # nothing before the first column to run into
    for part in parts:
        if isinstance(part, str):
            text = part.translate(_CONTROL_CODES)
            texts.append(text)
            at += len(text)
            cells += cell_len(text)
            if text:
                blank_before = text[-1].isspace()
            continue
        text, width, style = part
        text = text.translate(_CONTROL_CODES)
        text_cells = cell_len(text)
        pad = width - text_cells
        if pad <= 0 and text and not blank_before:
            pad = 1
        if pad > 0:
            texts.append(" " * pad)
            at += pad
            cells += pad
            blank_before = True
        if text:
            blank_before = text[-1].isspace()
        if style and text:
            spans.append(Span(at, at + len(text), style))
        texts.append(text)
        at += len(text)
        cells += text_cells
    return Content("".join(texts), spans, cells, strip_control_codes=False)


def _same(a: Content | None, b: Content | None) -> bool:
    if a is None or b is None:
        return a is b
    return a.is_same(b)


class KeyedList(ScrollView, can_focus=True):
    """A keyed, cursor-driven list of one-line rows."""

    BINDINGS = keymap.bindings(keymap.LIST)
    # Rows are picked with the keys or a click, not selected as text (``_to_strip``
    # leaves out the offsets text selection needs).
    ALLOW_SELECT = False

    COMPONENT_CLASSES = {
        "keyed-list--row",
        "keyed-list--cursor",
        "keyed-list--cursor-blurred",
        "keyed-list--rule",
        "keyed-list--empty",
    }

    DEFAULT_CSS = """
    KeyedList {
        height: 1fr;
        width: 1fr;
        overflow-x: hidden;
        overflow-y: auto;
        scrollbar-size-vertical: 1;
        background: $surface;
        & > .keyed-list--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
        & > .keyed-list--cursor-blurred {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        & > .keyed-list--rule {
            color: $text-muted;
        }
        & > .keyed-list--empty {
            color: $text-muted;
            text-style: italic;
        }
    }
    """

    class Highlighted(Message):
        """The cursor moved to another key (or to none)."""

        def __init__(self, keyed_list: KeyedList, key: str | None) -> None:
            super().__init__()
            self.keyed_list = keyed_list
            self.key = key

        @property
        def control(self) -> KeyedList:
            return self.keyed_list

    class Selected(Message):
        """``enter`` (or a click) on a row."""

        def __init__(self, keyed_list: KeyedList, key: str) -> None:
            super().__init__()
            self.keyed_list = keyed_list
            self.key = key

        @property
        def control(self) -> KeyedList:
            return self.keyed_list

    def __init__(
        self,
        *,
        empty_text: str = "nothing here",
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        # A focus change restyles the pane (its :focus border): its styled lines are
        # kept per frame, so tab and enter draw each pane's lines from there.
        keep_styled_lines(self)
        self.empty_text = empty_text
        self._order: list[str] = []
        self._position: dict[str, int] = {}
        # A row, or the function that makes it (called when the row is first needed).
        self._rows: dict[str, Row | object] = {}
        self._cursor: int | None = None
        self._last_highlighted: str | None = None
        self._strips: LRUCache[tuple[Row, int, object], Strip] = LRUCache(4096)
        self._strips_styles: tuple[object, ...] | None = None
        # Bounded by the styles a list's rows use (a few dozen combinations).
        self._rich_styles: dict[tuple[VisualStyle, ...], RichStyle] = {}
        self._parsed_styles: dict[str, VisualStyle] = {}
        self._title_only = False
        self._line_width: int | None = None
        # Called at once when a key or a click moves the cursor, instead of posting
        # ``Highlighted``: what the move changes elsewhere (the rooms pane's cursor picks
        # the threads and the timeline) then lands in the same frame. The message took a
        # trip through the message queues, and Textual painted the cursor's move alone
        # in between: two frames for one j.
        self.on_highlight: Callable[[], None] | None = None
        # Called at once on ``enter`` (or a double click) instead of posting ``Selected``,
        # for the same reason: what opening a row does (the next pane takes the focus)
        # lands in the frame after the key, not after a trip through the queues.
        self.on_open: Callable[[], None] | None = None
        # Called when the lines on screen may show other rows because the list scrolled
        # (the wheel, the scrollbar, the cursor's scroll into view), once the scroll
        # has settled: never for the lines between new rows and the scroll to their
        # cursor, which no one has seen (``shown_keys`` is empty then).
        self.on_lines_shown: Callable[[], None] | None = None
        self._scroll_pending = False
        self._line_top: int | None = None
        self._line_styles: dict[tuple[str, ...], VisualStyle] | None = None

    # ---- data -----------------------------------------------------------

    @property
    def keys(self) -> Sequence[str]:
        """The keys in display order."""
        return self._order

    def row(self, key: str) -> Row | None:
        return self._row(key) if key in self._position else None

    def _row(self, key: str) -> Row:
        row = self._rows[key]
        if type(row) is Row:
            return row
        made = self._rows[key] = self._make_row(key, row)
        return made

    def _make_row(self, key: str, source: object) -> Row:
        """The row for ``key`` from what ``update_rows`` was given instead of a row: by
        default a function that makes it. A subclass may hand over its own data (a room's
        summary) and make the row from it here: no function object per row."""
        return source()  # type: ignore[operator]

    def row_text(self, key: str) -> str:
        """What a row says, as plain text (for tests and screen readers)."""
        row = self.row(key)
        return "" if row is None else row.plain

    @property
    def lines(self) -> list[str]:
        return [self._row(key).plain for key in self._order]

    def update_rows(
        self,
        order: Sequence[str],
        changed: Mapping[str, Row | object] = {},
        removed: Iterable[str] = (),
    ) -> None:
        """Show ``order``; ``changed`` holds new or changed rows (every key in ``order``
        must have a row, given now or earlier); ``removed`` forgets rows for good.

        A row may be given as the function that makes it (or what ``_make_row`` makes it
        from): it is made when first drawn or stepped on, so a pane of a thousand rows
        builds the fifty on screen, and a cold start does not wait for the rest.

        Only the lines on screen whose row (or cursor) changed are repainted."""
        drawn = self._drawn()
        for key in removed:
            self._rows.pop(key, None)
        self._rows.update(changed)
        cursor_key = self.cursor_key
        old_cursor = self._cursor
        if list(order) != self._order:
            self._order = list(order)
            self._position = {key: i for i, key in enumerate(self._order)}
            self._resize_virtual()
        if cursor_key is not None and cursor_key in self._position:
            self._cursor = self._position[cursor_key]
        elif not self._order:
            self._cursor = None
        else:
            index = min(old_cursor if old_cursor is not None else 0, len(self._order) - 1)
            self._cursor = self._nearest_selectable(index)
        self._repaint_since(drawn)
        self._cursor_moved(scroll=self._cursor != old_cursor)

    def clear(self) -> None:
        self.update_rows([], removed=list(self._rows))

    # ---- cursor ---------------------------------------------------------

    @property
    def cursor_key(self) -> str | None:
        if self._cursor is None or self._cursor >= len(self._order):
            return None
        return self._order[self._cursor]

    def visible_keys(self) -> Sequence[str]:
        """The keys of the lines on screen now."""
        top = self.scroll_offset.y
        return self._order[top : top + self.scrollable_content_region.height]

    def shown_keys(self) -> Sequence[str]:
        """The keys of the lines on screen once the list has settled: none while a
        scroll to the cursor is still to come (new rows under the old scroll offset,
        which the scroll moves away from before anyone can read them)."""
        return () if self._scroll_pending else self.visible_keys()

    @property
    def cursor_index(self) -> int | None:
        return self._cursor

    def move_cursor_to(self, key: str | None, *, announce: bool = True) -> bool:
        """Put the cursor on ``key``; False when it is not shown."""
        if key is None or key not in self._position:
            return False
        self._set_cursor(self._position[key], scroll=True, announce=announce)
        return True

    def _set_cursor(self, index: int | None, *, scroll: bool, announce: bool = True) -> None:
        drawn = self._drawn()
        self._cursor = index
        self._repaint_since(drawn)
        self._cursor_moved(scroll=scroll, announce=announce, now=True)

    def _cursor_moved(self, *, scroll: bool, announce: bool = True, now: bool = False) -> None:
        """``now``: the cursor was moved to (a key, a click), not carried by new rows:
        ``on_highlight`` hears of it at once. A move that comes with new rows is posted
        (``Highlighted``): it is heard once the update that brought the rows is done."""
        if scroll and self._cursor is not None and self.is_mounted:
            self._scroll_pending = True
            self.call_after_refresh(self._scroll_to_cursor)
        key = self.cursor_key
        if key != self._last_highlighted:
            self._last_highlighted = key
            if announce:
                if now and self.on_highlight is not None:
                    self.on_highlight()
                else:
                    self.post_message(self.Highlighted(self, key))

    def _scroll_to_cursor(self) -> None:
        if self._cursor is not None:
            self.scroll_to_region(
                Region(0, self._cursor, max(self.scrollable_content_region.width, 1), 1),
                animate=False,
                force=True,
                immediate=True,
            )
        if self._scroll_pending:
            self._scroll_pending = False
            self._lines_shown()

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if round(old) != round(new):
            self._lines_shown()

    def _lines_shown(self) -> None:
        if self.on_lines_shown is not None and not self._scroll_pending:
            self.on_lines_shown()

    def _selectable(self, index: int) -> bool:
        return self._row(self._order[index]).selectable

    def _nearest_selectable(self, index: int, step: int = 1) -> int | None:
        count = len(self._order)
        if not count:
            return None
        index = max(0, min(index, count - 1))
        ahead = range(index, count) if step > 0 else range(index, -1, -1)
        behind = range(index, -1, -1) if step > 0 else range(index, count)
        for candidate in chain(ahead, behind):
            if self._selectable(candidate):
                return candidate
        return None

    def _step(self, delta: int) -> None:
        if not self._order:
            return
        cursor = self._cursor
        if cursor is None:
            cursor = self._nearest_selectable(0)
        else:
            step = 1 if delta > 0 else -1
            target = max(0, min(cursor + delta, len(self._order) - 1))
            found = self._nearest_selectable(target, step)
            if found is not None:
                cursor = found
        self._set_cursor(cursor, scroll=True)

    def action_cursor_down(self) -> None:
        self._step(1)

    def action_cursor_up(self) -> None:
        self._step(-1)

    def action_cursor_first(self) -> None:
        if self._order:
            self._set_cursor(self._nearest_selectable(0, 1), scroll=True)

    def action_cursor_last(self) -> None:
        if self._order:
            self._set_cursor(self._nearest_selectable(len(self._order) - 1, -1), scroll=True)

    def action_page_down(self) -> None:
        self._step(max(self.scrollable_content_region.height - 1, 1))

    def action_page_up(self) -> None:
        self._step(-max(self.scrollable_content_region.height - 1, 1))

    def action_open(self) -> None:
        key = self.cursor_key
        if key is None:
            return
        if self.on_open is not None:
            self.on_open()
        else:
            self.post_message(self.Selected(self, key))

    def on_click(self, event: events.Click) -> None:
        # Instead of Widget's click handling, not after it: a double click opens the row
        # rather than selecting the widget's text (the lists allow no selection), and
        # rows are plain text, with no markup actions for a click to run.
        event.prevent_default()
        index = event.y + self.scroll_offset.y
        if 0 <= index < len(self._order) and self._selectable(index):
            self._set_cursor(index, scroll=False)
            if event.chain > 1:
                self.action_open()

    # ---- rendering ------------------------------------------------------

    def _resize_virtual(self) -> None:
        width = self.scrollable_content_region.width if self.is_mounted else 0
        size = Size(width, len(self._order))
        if size == self.virtual_size:
            return
        if not self.is_mounted or not self.container_size:
            # Before the first layout: the layout to come sizes everything.
            self.virtual_size = size
            return
        # ``virtual_size`` is a layout reactive: setting it lays out the whole screen
        # (twice per ``j`` in the rooms pane when both the threads and the timeline
        # change length). A line list's size in the layout does not depend on its row
        # count; only its scrollbar does. So the size is set without a layout and the
        # scrollbar updated in place; that sets ``show_vertical_scrollbar``, itself a
        # layout reactive, so a layout still happens when the scrollbar appears or
        # goes, and only then.
        scrollbar = self.show_vertical_scrollbar
        self.set_reactive(Widget.virtual_size, size)
        update_scrollbars(self, size)
        if self.show_vertical_scrollbar != scrollbar:
            # Every line is drawn narrower or wider.
            self.refresh()

    def on_resize(self, event: events.Resize) -> None:
        self._resize_virtual()
        self._scroll_to_cursor()

    def on_focus(self) -> None:
        self._refresh_cursor_line()

    def on_blur(self) -> None:
        self._refresh_cursor_line()

    def _refresh_cursor_line(self) -> None:
        # Focus changes only how the cursor's line is drawn.
        if self._cursor is not None:
            self._refresh_lines([self._cursor - self.scroll_offset.y])

    def _drawn(self) -> list[tuple[Row, bool] | None]:
        """What each line on screen shows: its row and whether the cursor is on it
        (``[None]``: the empty text). Compared before and after a change, it tells
        which lines to repaint; a line's pixels depend on nothing else (the width and
        the styles repaint the whole list when they change, the focus the cursor line)."""
        if not self._order:
            return [None]
        top = self.scroll_offset.y
        bottom = min(top + self.scrollable_content_region.height, len(self._order))
        order, row, cursor = self._order, self._row, self._cursor
        return [(row(order[index]), index == cursor) for index in range(top, bottom)]

    def _repaint_since(self, drawn: list[tuple[Row, bool] | None]) -> None:
        now = self._drawn()
        lines = [y for y in range(max(len(drawn), len(now))) if y >= len(drawn) or y >= len(now) or drawn[y] != now[y]]
        self._refresh_lines(lines)

    def _refresh_lines(self, lines: list[int]) -> None:
        """Repaint these lines of the viewport: a whole-widget refresh re-renders every
        line on screen (through the styles cache), the bulk of a frame's cost."""
        height = self.scrollable_content_region.height
        lines = [y for y in lines if 0 <= y < height]
        if not lines:
            return
        if len(lines) >= height:
            self.refresh()
            return
        width = self.size.width
        regions: list[Region] = []
        start = previous = lines[0]
        for y in lines[1:]:
            if y != previous + 1:
                regions.append(Region(0, start, width, previous - start + 1))
                start = y
            previous = y
        regions.append(Region(0, start, width, previous - start + 1))
        self.refresh(*regions)

    def render_lines(self, crop: Region) -> list[Strip]:
        # What every line of this pass shares, worked out once, not per line: the width,
        # the scroll offset, the row styles (Textual's get_visual_style walks the
        # ancestors for its cache key on each call: a tenth of a first paint's rows).
        self._line_width = self.scrollable_content_region.width
        self._line_top = self.scroll_offset.y
        self._line_styles = {}
        try:
            return super().render_lines(crop)
        finally:
            self._line_width = self._line_top = self._line_styles = None

    def _style_of(self, classes: tuple[str, ...]) -> VisualStyle:
        styles = self._line_styles
        if styles is None:
            return self.get_visual_style(*classes)
        style = styles.get(classes)
        if style is None:
            style = styles[classes] = self.get_visual_style(*classes)
        return style

    def render_line(self, y: int) -> Strip:
        width = self._line_width
        if width is None:
            width = self.scrollable_content_region.width
        top = self._line_top
        index = (self.scroll_offset.y if top is None else top) + y
        if not self._order:
            if y == 0 and width:
                style = self._style_of(EMPTY)
                return self._to_strip(Content(self.empty_text), width, style)
            return self._blank(width)
        if index >= len(self._order):
            return self._blank(width)
        row = self._row(self._order[index])
        if index == self._cursor:
            classes = CURSOR if self.has_focus else CURSOR_BLURRED
        elif row.rule:
            classes = RULE
        else:
            classes = ROW
        # Keyed by the style itself (Textual caches it per pseudo-class state), not by
        # the state's name: a style update that changes nothing keeps the strips.
        style = self._style_of(classes)
        cache_key = (row, width, style)
        strip = self._strips.get(cache_key)
        if strip is None:
            strip = self._to_strip(self._layout(row, width), width, style)
            self._strips[cache_key] = strip
        return strip

    def _blank(self, width: int) -> Strip:
        # One strip per width and style: the styled lines are kept by the strip's identity.
        style = self._style_of(ROW)
        cache_key = (None, width, style)
        strip = self._strips.get(cache_key)
        if strip is None:
            strip = self._strips[cache_key] = Strip.blank(width, style.rich_style)
        return strip

    def _layout(self, row: Row, width: int) -> Content:
        if row.rule:
            label = row.left.plain
            label = f" {label} " if label else ""
            if len(label) + 2 > width:
                return Content(row.rule_char * width)
            side = (width - len(label)) // 2
            return Content(row.rule_char * side + label + row.rule_char * (width - side - len(label)))
        right = row.right
        if row.right_short is not None and width - right.cell_length - 1 < MIN_LEFT:
            right = row.right_short
        if right.cell_length >= width - 1:
            right = right.truncate(max(width // 2, 0), ellipsis=True)
        room = width - right.cell_length - (1 if right.cell_length else 0)
        left = row.left.truncate(max(room, 0), ellipsis=True)
        left = left.extend_right(max(room - left.cell_length, 0))
        if right.cell_length:
            return Content.assemble(left, " ", right)
        return left

    def _to_strip(self, content: Content, width: int, style) -> Strip:  # noqa: ANN001 - a visual Style
        plain = content.plain
        if (
            "\n" in plain
            or "\t" in plain
            or content.cell_length > width
            or (self.ALLOW_SELECT and self.text_selection is not None)
            or self.styles.content_align != ("left", "top")
        ):
            strips = Visual.to_strips(self, content, width, 1, style)
            strip = strips[0] if strips else Strip([Segment("")])
            return strip.crop_extend(0, width, style.rich_style)
        # A row laid out to fit one line (``_layout``): what Visual.to_strips makes of
        # it, without its wrapping machinery and without the per-cell offsets that only
        # text selection reads (ALLOW_SELECT is off): half the cost, and rows are a large
        # part of a frame's work on j in the rooms pane and of the first paint.
        # tests/ui/test_keyed_list_strips.py checks it against Visual.to_strips.
        segments = self._segments(content, style)
        # No link styling: rows are built from plain text (a room name, a message body),
        # never from markup, so they hold no links (styling them would be a tenth of a
        # row's cost).
        # One strip, padded to the width as ``crop_extend`` pads it (the row fits).
        missing = width - content.cell_length
        if missing > 0:
            segments.append(Segment(" " * missing, style.rich_style))
        return Strip(segments, width)

    def _segments(self, content: Content, style: VisualStyle) -> list[Segment]:
        """What ``Content.render`` yields, as Segments: the text cut where spans start and
        end, each piece in the spans over it combined (in span order) over ``style``.

        The same walk, with what it works out kept across rows: the style each span's
        text names (``$accent``: parsed per row by ``render``) and the Rich style of each
        combination (a row's few styles recur on every row). Both are dropped with the
        strips when the list's styles or the theme change (``notify_style_update``)."""
        text = content.plain
        spans = content.spans
        rich_styles = self._rich_styles
        if len(rich_styles) > 4096:  # a bound, should rows ever bring styles of their own
            rich_styles.clear()
        if not spans:
            key: tuple[VisualStyle, ...] = (style,)
            rich = rich_styles.get(key)
            if rich is None:
                rich = rich_styles[key] = (style + style).rich_style
            return [Segment(text, rich)]
        parsed = self._parsed_styles
        styles = [style]
        for span in spans:
            span_style = span.style
            if isinstance(span_style, str):
                named = parsed.get(span_style)
                if named is None:
                    named = parsed[span_style] = self._span_style(span_style)
                span_style = named
            styles.append(span_style)
        marks = [
            (0, False, 0),
            *((span.start, False, index) for index, span in enumerate(spans, 1)),
            *((span.end, True, index) for index, span in enumerate(spans, 1)),
            (len(text), True, 0),
        ]
        marks.sort(key=itemgetter(0, 1))
        stack: list[int] = []
        segments: list[Segment] = []
        for (offset, leaving, index), (next_offset, _, _) in zip(marks, marks[1:]):
            if leaving:
                stack.remove(index)
            else:
                stack.append(index)
            if next_offset > offset:
                key = tuple(styles[i] for i in sorted(stack))
                rich = rich_styles.get(key)
                if rich is None:
                    rich = rich_styles[key] = (style + VisualStyle.combine(key)).rich_style
                segments.append(Segment(text[offset:next_offset], rich))
        return segments

    def _span_style(self, name: str) -> VisualStyle:
        """The style a span names, resolved as Textual resolves it when it draws Content in
        a widget: ``.name`` is a component class of this widget or of the nearest
        ancestor widget that has it; anything else (``$accent bold``) is parsed with the
        app's CSS variables, and a style that does not parse is no style."""
        if name.startswith("."):
            component = name[1:]
            for node in self.ancestors_with_self:
                if not isinstance(node, Widget):
                    return NULL_STYLE
                try:
                    return node.get_visual_style(component, partial=True)
                except KeyError:
                    continue
            raise KeyError(f"No matching component class found for '{name}'")
        try:
            return VisualStyle.parse(name)
        except Exception:
            return NULL_STYLE

    def notify_style_update(self) -> None:
        super().notify_style_update()
        # Textual re-applies a pane's styles on every focus change (its :focus border,
        # the screen's classes): clearing the strips then re-rendered every row on
        # screen from its Content. The row styles are part of the cache key; what else a
        # strip depends on is the list's own text rules (wrapping, overflow, alignment)
        # and the theme's variables (a row's $accent, $warning), not its border.
        styles = self.styles
        styles_key = (
            styles.text_wrap,
            styles.text_overflow,
            styles.text_align,
            styles.content_align_horizontal,
            styles.content_align_vertical,
            self.app.theme,
        )
        if styles_key != self._strips_styles:
            self._strips_styles = styles_key
            self._strips.clear()
            self._rich_styles.clear()
            self._parsed_styles.clear()

    # ---- the pane's title -------------------------------------------------

    def show_title(self, title: str) -> None:
        """Set the border title and repaint the line it is drawn on.

        Setting Textual's ``border_title`` repaints the whole widget: every line of its
        border and every row, on every ``j`` in the rooms pane (the threads pane's title
        names the room). This repaints the top border line only, the one the title is on.
        """
        self._title_only = True
        try:
            self.border_title = Content(title)
        finally:
            self._title_only = False
        if not self.is_mounted or not self.size:
            super().refresh()
            return
        # refresh() takes regions relative to the content area; the top border line
        # sits above it, at minus the content offset.
        offset = self.content_offset
        super().refresh(Region(-offset.x, -offset.y, self.outer_size.width, 1))

    def refresh(self, *regions: Region, **kwargs: bool) -> Self:
        if self._title_only:
            # The refresh border_title asks for: show_title repaints the line itself.
            return self
        return super().refresh(*regions, **kwargs)

    def get_line_filters(self) -> Sequence[LineFilter]:
        """The app's line filters but its ANSI-to-truecolor one. Every colour in these lines
        (rows, border, title) is a theme colour already resolved to RGB, with no dim, so
        that filter would only copy each segment of each line: about a fifth of a j in the
        rooms pane. With an ANSI theme it is off anyway; NO_COLOR's filter stays.
        tests/ui/test_line_filters.py checks the lines come out the same with it."""
        return [line_filter for line_filter in super().get_line_filters() if not isinstance(line_filter, ANSIToTruecolor)]
