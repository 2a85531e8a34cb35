"""Every use readmark makes of a private Textual attribute, each behind one name here.

Textual's private names change without notice between releases; keeping them in this
module makes a Textual upgrade one file to read (pyproject pins the major version, so
an upgrade is a decision). Each entry says why no public API does the job and which
test fails if Textual changes what it relies on. tests/test_private_internals.py checks
that the names appear nowhere else in app/.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.segment import Segment
from textual._border import get_box
from textual._styles_cache import StylesCache
from textual.app import App
from textual.cache import LRUCache
from textual.css._style_properties import ColorProperty, ScrollbarColorProperty
from textual.geometry import Size
from textual.screen import Screen
from textual.strip import Strip
from textual.style import Style
from textual.widget import Widget


def give_result_callback(screen: Screen, app: App) -> None:
    """Give ``screen`` the empty result callback ``push_screen`` gives every screen it
    pushes, for a screen that is not pushed: the one ``App.get_default_screen`` returns.

    Why private: a result callback is only ever added by ``push_screen`` and
    ``switch_screen``, and a screen returned by ``get_default_screen`` goes through
    neither. ``switch_screen`` pops one from the screen it replaces, so replacing that
    first screen (logging in as another user) fails on an empty list without it.
    Pushing the main screen instead would cost a second screen's styling and resume
    on every start. If Textual renames ``Screen._push_result_callback``, every start
    with a session fails (all Pilot tests); if ``switch_screen`` stops popping,
    tests/ui/test_relogin.py shows whether the extra callback matters.
    """
    screen._push_result_callback(app, None)


class UnhandledErrorHook:
    """A mixin for an ``App`` (before ``App`` in the bases): an unhandled exception goes
    to ``report_unhandled_error`` instead of Textual's traceback.

    Why private: Textual has no public hook for an unhandled exception. ``App.
    _handle_exception`` calls ``_fatal_error``, which prints a Rich traceback with local
    variables (they can hold the access token) and ends the app; overriding it is the
    only way to print something else. The exception itself is ``App._exception`` (the
    first unhandled one, which Pilot re-raises); nothing public holds it. An exception
    with ``__rich__`` goes to ``App.panic`` instead, never here. If Textual renames
    either, its traceback comes back: tests/ui/test_no_traceback.py fails.
    """

    def _fatal_error(self) -> None:
        self.report_unhandled_error(self._exception)  # type: ignore[attr-defined]

    def report_unhandled_error(self, error: Exception | None) -> None:
        """Say what went wrong and end the app (``App.panic`` ends it with a message)."""
        raise NotImplementedError


def update_scrollbars(widget: Widget, virtual_size: Size) -> None:
    """Show or hide ``widget``'s scrollbars and size their thumbs for ``virtual_size``,
    without the layout that setting ``virtual_size`` (a layout reactive) does.

    Why private: ``Widget._scroll_update`` is what Textual's own size update runs after a
    layout; no public method updates the scrollbars alone. A line list's size in the
    layout does not depend on its row count, only its scrollbar does, so a layout of
    the whole screen for each change of a pane's length is work for nothing. If Textual
    renames it, every list whose length changes fails; if it stops updating
    ``show_vertical_scrollbar``, the thumb or the scroll position,
    tests/ui/test_keyed_list_repaint.py fails.
    """
    widget._scroll_update(virtual_size)


class _FramedLines(StylesCache):
    """Textual's styles cache, which also keeps each styled line by what it is drawn
    from: the widget's frame (size, padding, border and its colours, background, the
    few other styles a line's drawing reads; the title too, for the border's lines)
    and the content line's ``Strip`` object. Textual drops its cache on any style
    change, and a focus change restyles a pane (its ``:focus`` border), so each ``tab``
    drew every line of two panes again through ``render_line``; with this, a pane going
    back to a frame it had before (focused, blurred) takes its lines from here. A
    content line is looked up by the identity of its strip (kept with the line), so
    any change of content misses."""

    def __init__(self, max_lines: int) -> None:
        super().__init__()
        self._lines: LRUCache[tuple, tuple[Strip, Strip]] = LRUCache(max_lines)
        self._frames: dict[tuple, int] = {}
        self._frame = -1
        self._labels: tuple = (None, None)
        # Per frame: what a content line is put between, when the frame is a plain one.
        self._plain: dict[int, tuple | None] = {}
        self._sides: tuple | None = None

    def render(self, styles, size, base_background, background, render_content_line, filters,  # noqa: ANN001, PLR0913
               border_title, border_subtitle, content_size=None, padding=None, crop=None, opacity=1.0,
               ansi_theme=None, native_ansi=False, **kwargs):  # noqa: ANN003, ANN201
        """``StylesCache.render``, after naming the frame its lines are drawn in."""
        frame = (
            size, content_size, padding if padding is not None else styles.padding, styles.gutter,
            base_background, background, opacity, id(ansi_theme), native_ansi,
            styles.border, styles.outline, styles.tint, styles.text_opacity,
            styles.hatch if styles.has_rule("hatch") else None,
            styles.border_title_align, styles.border_subtitle_align,
        )
        frames = self._frames
        number = frames.get(frame)
        if number is None:
            if len(frames) >= 64:  # a bound: a widget's frames (its focus states) recur
                frames.clear()
                self._lines.clear()
                self._plain.clear()
            number = frames[frame] = len(frames)
            self._plain[number] = self._sides_of(styles, size, content_size, padding, base_background, background,
                                                 opacity)
        self._frame = number
        self._sides = self._plain[number]
        self._labels = (_label_key(border_title), _label_key(border_subtitle))
        return super().render(
            styles, size, base_background, background, render_content_line, filters, border_title,
            border_subtitle, content_size=content_size, padding=padding, crop=crop, opacity=opacity,
            ansi_theme=ansi_theme, native_ansi=native_ansi, **kwargs,
        )

    def render_line(self, styles, y, size, content_size, padding, base_background, background,  # noqa: ANN001, ANN201, PLR0913
                    render_content_line, *args):  # noqa: ANN002
        top, _right, bottom, _left = styles.border
        content_y = y - styles.gutter.top
        if (top[0] and y == 0) or (bottom[0] and y == size.height - 1):
            key = (self._frame, y == 0, self._labels[y != 0])
            found = self._lines.get(key)
            if found is None:
                line = super().render_line(styles, y, size, content_size, padding, base_background,
                                           background, render_content_line, *args)
                self._lines[key] = found = (line, line)
            return found[1]
        if not 0 <= content_y < content_size.height:  # padding: Textual's own shortcut
            return super().render_line(styles, y, size, content_size, padding, base_background, background,
                                       render_content_line, *args)
        content = render_content_line(content_y)
        key = (self._frame, id(content))
        found = self._lines.get(key)
        if found is not None and found[0] is content:
            return found[1]
        sides = self._sides
        if sides is None:
            line = super().render_line(styles, y, size, content_size, padding, base_background, background,
                                       _given(content), *args)
        else:
            # What Textual's render_line makes of a content line in a plain frame, without
            # its per-line work (the border's styles and boxes, the padding's blanks).
            left, right, inner, content_width, width = sides
            line = Strip([*left, *content.adjust_cell_length(content_width, inner), *right], width)
        self._lines[key] = (content, line)
        return line

    def _sides_of(self, styles, size, content_size, padding, base_background, background,  # noqa: ANN001, ANN205, PLR0913
                  opacity):
        """For a frame whose content lines Textual draws as left border, left padding,
        the line, right padding, right border and nothing else (no opacity, tint, text
        opacity, hatch or outline): those segments, the padding's style, and the widths.
        None for any other frame (Textual's own render_line draws it)."""
        if content_size is None:
            content_size = size
        if padding is None:
            padding = styles.padding
        (_, _), (border_right, right_color), (_, _), (border_left, left_color) = styles.border
        if (
            opacity != 1.0
            or styles.tint.a
            or styles.text_opacity != 1.0
            or (styles.has_rule("hatch") and styles.hatch != "none")
            or any(edge for edge, _color in styles.outline)
            or not border_left
            or not border_right
        ):
            return None
        inner, outer = self.get_inner_outer(base_background, background)
        left = get_box(border_left, inner, outer, Style(foreground=base_background + left_color.multiply_alpha(opacity)))[1][0]
        right = get_box(border_right, inner, outer,
                        Style(foreground=base_background + right_color.multiply_alpha(opacity)))[1][2]
        _top, pad_right, _bottom, pad_left = padding
        inner_rich = inner.rich_style
        before = (left, Segment(" " * pad_left, inner_rich)) if pad_left else (left,)
        after = (Segment(" " * pad_right, inner_rich), right) if pad_right else (right,)
        return before, after, inner_rich, content_size.width, size.width


def _given(strip: Strip) -> Callable[[int], Strip]:
    return lambda _y: strip


def _label_key(label: tuple | None) -> tuple | None:
    """A border title's drawing inputs, hashable and compared by its text *and* spans
    (``Content``'s own ``==`` compares the text only)."""
    if label is None:
        return None
    content, *rest = label
    return (content.plain, tuple(content.spans), *rest)


def keep_styled_lines(widget: Widget, max_lines: int = 1024) -> None:
    """Give ``widget`` a styles cache that keeps its styled lines across style changes
    (``_FramedLines``).

    Why private: Textual's ``StylesCache`` (a private module) styles every line of a
    widget, and ``Widget._styles_cache`` is the instance a widget draws through; no
    public API lets a widget keep styled lines across a style change. If Textual
    changes ``StylesCache.render``/``render_line``'s arguments, every list fails to draw
    (every Pilot test); tests/ui/test_styled_lines.py compares the lines with those of
    Textual's own cache in each focus state.
    """
    widget._styles_cache = _FramedLines(max_lines)


def _set_scrollbar_colour(self, obj, color) -> None:  # noqa: ANN001
    """``ScrollbarColorProperty.__set__`` that repaints the scrollbars only when the
    colour it sets differs from the one set before."""
    before = obj.get_rule(self.name)
    ColorProperty.__set__(self, obj, color)
    node = obj.node
    if node is None or not isinstance(node, Widget) or obj.get_rule(self.name) == before:
        return
    if node.show_horizontal_scrollbar:
        node.horizontal_scrollbar.refresh()
    if node.show_vertical_scrollbar:
        node.vertical_scrollbar.refresh()


def steady_scrollbars() -> None:
    """Textual repaints a widget's scrollbars whenever its stylesheet sets a scrollbar
    colour, changed or not, and a focus change re-sets all seven of them on the pane
    that gains and the pane that loses the focus. Each scrollbar then asks for its own
    repaint from its own message queue, after the panes' (a tab or enter drew its
    frame in two, the second for two one-column scrollbars). With this, a scrollbar is
    repainted when a colour it is drawn in changed, as every other colour property
    does (``ColorProperty`` refreshes only when ``set_rule`` changed the rule).

    Why private: the descriptor lives in ``textual.css._style_properties`` and no public
    API sets when a scrollbar repaints; this replaces its ``__set__`` for the process
    (the app's start calls it). If Textual changes the descriptor,
    tests/ui/test_steady_scrollbars.py fails: it sets the same colour (no repaint) and
    another (repainted, drawn in it).
    """
    ScrollbarColorProperty.__set__ = _set_scrollbar_colour  # type: ignore[method-assign]


__all__ = [
    "UnhandledErrorHook",
    "give_result_callback",
    "keep_styled_lines",
    "steady_scrollbars",
    "update_scrollbars",
]
