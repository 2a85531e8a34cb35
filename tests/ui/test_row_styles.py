"""A row that changes only in style (a timeline line loses its bold once read, a thread
title once its count drops) is drawn anew: rows compare by text *and* styles, so the
line is repainted and no cached strip of the old look is reused."""

from __future__ import annotations

from rich.segment import Segment
from textual.content import Content
from textual.strip import Strip

from app.ui.widgets.keyed_list import Row
from tests.ui.helpers import main_screen
from tests.ui.local_service import LocalService
from tests.ui.recorded import DEPLOY, recorded_account

SIZE = (160, 50)


def bold_cells(strip: Strip) -> int:
    return sum(len(segment.text) for segment in strip if isinstance(segment, Segment) and segment.style and segment.style.bold)


def test_rows_differing_only_in_style_are_not_equal() -> None:
    plain = Row(Content("Deploy plan"), Content("3"))
    bold = Row(Content("Deploy plan").stylize("bold"), Content("3"))
    assert plain != bold
    assert bold == Row(Content("Deploy plan").stylize("bold"), Content("3"))
    assert hash(bold) == hash(Row(Content("Deploy plan").stylize("bold"), Content("3")))
    assert Row(Content("a"), right_short=Content("b")) != Row(Content("a"))
    assert Row(Content("a"), right_short=Content.styled("b", "bold")) != Row(Content("a"), right_short=Content("b"))


async def test_lines_read_by_r_lose_their_bold_on_screen(make_app) -> None:
    app = make_app(svc=LocalService(recorded_account()))
    async with app.run_test(size=SIZE) as pilot:
        screen = await main_screen(pilot)
        await pilot.press("tab", "j", "j")  # the Deploy plan thread: three unread replies
        await pilot.pause()
        timeline = screen.timeline
        assert screen.selection.thread_id == DEPLOY

        def drawn() -> list[int]:
            top = timeline.scroll_offset.y
            return [bold_cells(timeline.render_line(i - top)) for i in range(len(timeline.keys))]

        unread = drawn()
        await pilot.press("r")
        await pilot.pause()
        await pilot.pause()
        read = drawn()
        timeline._strips.clear()
        timeline.refresh()
        await pilot.pause()
        assert read == drawn()
        # The unread replies were bold (body and sender); read, only senders stay bold.
        assert sum(read) < sum(unread)
