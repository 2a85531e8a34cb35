"""Moving around: j/k, tab/shift+tab, enter/escape, n/N across rooms, sorting, live updates."""

from __future__ import annotations

from dataclasses import replace

from app.model.account import RoomSort
from app.model.ids import MAIN
from app.model.room import add_timeline
from app.ui.widgets.timeline import DAY_PREFIX
from tests.ui.helpers import main_screen, shown
from tests.ui.recorded import (
    BOB,
    DEPLOY,
    DESIGN,
    INCIDENT,
    INVITE,
    LATER,
    MARKUP,
    OPS,
    QUIET,
    RANDOM,
    message,
)

SIZE = (160, 50)


async def test_first_paint_shows_rooms_counts_and_invites_apart(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await main_screen(pilot)
        rooms = screen.rooms
        # highlights first, then unread, then activity; read rooms after, invites last
        assert list(rooms.keys[:5]) == [OPS, DESIGN, RANDOM, MARKUP, LATER]
        assert rooms.keys[-2:] == ["invites:header", INVITE]
        ops = shown(rooms, OPS)
        assert "Ops" in ops and " 9 " in ops and "@1" in ops and "🧵2" in ops
        assert "20+" in shown(rooms, DESIGN) and "🧵4" in shown(rooms, DESIGN)
        assert "◆" in shown(rooms, LATER)  # marked unread
        quiet = shown(rooms, QUIET)
        assert quiet.split() == ["Quiet"]  # a read room is calm: no counts at all
        assert "Invites (1)" in shown(rooms, "invites:header")
        assert screen.selection is not None and screen.selection.room_id == OPS
        assert screen.query_one("#rooms").border_title == "Rooms · activity"


async def test_threads_pane_lists_main_first_with_local_and_server_counts(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await main_screen(pilot)
        threads = screen.threads
        assert list(threads.keys) == ["threads:header", MAIN, INCIDENT, DEPLOY]
        assert shown(threads, MAIN).split()[-3:] == ["10:16", "4", "4"]
        incident = shown(threads, INCIDENT)
        assert "Incident 4521" in incident and "Bob" in incident
        assert incident.split()[-4:] == ["2", "10:13", "2", "2@1"]  # replies, last, local, server@highlights
        deploy = shown(threads, DEPLOY)
        assert "Alice" in deploy and deploy.split()[-4:] == ["3", "10:09", "3", "3"]


async def test_timeline_shows_markers_fully_read_line_and_readers(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await main_screen(pilot)
        timeline = screen.timeline
        keys = list(timeline.keys)
        assert keys.index("marker:fully-read") == keys.index("$ops02-onmyway") + 1
        assert shown(timeline, "$ops01-morning").endswith("◂ you")  # public receipt lags
        assert shown(timeline, "$ops02-onmyway").endswith("◂ you ⦿")  # private receipt
        assert "fully read" in shown(timeline, "marker:fully-read")
        assert shown(timeline, "$ops11-yes").endswith("▸ AL")  # Alice Liddell read it all
        assert shown(timeline, "$ops10-lunch").endswith("▸ ca")  # carol's main-thread receipt
        # the cursor starts on the first unread event
        assert timeline.cursor_key == DEPLOY


async def test_thread_timeline_folds_edits_and_reactions(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await main_screen(pilot)
        await pilot.press("tab", "j", "j")
        assert screen.selection is not None and screen.selection.thread_id == DEPLOY
        await pilot.pause()
        timeline = screen.timeline
        assert timeline.keys[:2] == [DAY_PREFIX + DEPLOY, DEPLOY]  # the root first, under its day
        thanks = shown(timeline, "$ops05-thanks")
        assert "(edited)" in thanks and " 👍1" in thanks and "reaction" not in thanks
        assert "$ops05e-edit" not in timeline.keys and "$ops05r-thumbs" not in timeline.keys
        assert screen.query_one("#timeline").border_title == "Deploy plan for Friday"


async def test_jk_tab_enter_escape(make_app, service) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await main_screen(pilot)
        assert screen.focused is screen.rooms
        await pilot.press("j")
        assert screen.selection.room_id == DESIGN
        assert screen.threads.room is not None and screen.threads.room.room_id == DESIGN
        await pilot.press("down", "k", "up")
        assert screen.selection.room_id == OPS
        await pilot.press("enter")
        assert screen.focused is screen.threads
        await pilot.press("j")
        assert screen.selection.thread_id == INCIDENT
        await pilot.press("enter")
        assert screen.focused is screen.timeline
        assert screen.timeline.highlighted_event == "$ops08-timeline"  # first unread in the thread
        await pilot.press("k")
        assert screen.timeline.highlighted_event == INCIDENT
        await pilot.press("escape")
        assert screen.focused is screen.threads
        await pilot.press("escape")
        assert screen.focused is screen.rooms
        await pilot.press("tab", "tab")
        assert screen.focused is screen.timeline
        await pilot.press("tab")
        assert screen.focused is screen.rooms
        await pilot.press("shift+tab")
        assert screen.focused is screen.timeline
        await pilot.pause(0.5)
        assert (OPS, INCIDENT) in service.opened  # thread history was fetched


async def test_cursor_skips_headers_and_invites_are_reachable(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await main_screen(pilot)
        await pilot.press("G")
        assert screen.rooms.cursor_key == INVITE
        await pilot.press("k")
        assert screen.rooms.cursor_key != "invites:header"
        await pilot.press("g")
        assert screen.rooms.cursor_key == OPS
        await pilot.press("tab", "k")
        assert screen.threads.cursor_key == MAIN  # the header row is not selectable


async def test_n_and_N_walk_unread_threads_across_rooms(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await main_screen(pilot)
        walk = []
        for _ in range(3):
            await pilot.press("n")
            walk.append((screen.selection.room_id, screen.selection.thread_id))
        assert walk == [(OPS, INCIDENT), (OPS, DEPLOY), (DESIGN, MAIN)]
        assert screen.focused is screen.threads
        assert screen.rooms.cursor_key == DESIGN and screen.threads.cursor_key == MAIN
        await pilot.press("N")
        assert (screen.selection.room_id, screen.selection.thread_id) == (OPS, DEPLOY)
        assert screen.rooms.cursor_key == OPS and screen.threads.cursor_key == DEPLOY
        await pilot.press("N", "N")
        assert (screen.selection.room_id, screen.selection.thread_id) == (OPS, MAIN)
        await pilot.press("N")
        # before the first unread thread it wraps to the last one
        assert (screen.selection.room_id, screen.selection.thread_id) == (MARKUP, MAIN)


async def test_sort_cycles_activity_unread_name(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await main_screen(pilot)
        await pilot.press("s")
        assert screen.view.sort is RoomSort.UNREAD
        assert screen.rooms.keys[0] == DESIGN  # 20+ beats 9
        await pilot.press("s")
        assert screen.view.sort is RoomSort.NAME
        assert "Rooms · name" == screen.query_one("#rooms").border_title
        await pilot.press("s")
        assert screen.view.sort is RoomSort.ACTIVITY
        assert screen.rooms.cursor_key == OPS  # the cursor stayed on its room throughout


async def test_live_update_changes_counts_and_keeps_the_cursor(make_app, service) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await main_screen(pilot)
        await pilot.press("j", "j")
        assert screen.rooms.cursor_key == RANDOM
        quiet = service.room(QUIET)
        service.deliver(add_timeline(quiet, [message("$qt03-news", BOB, 59, "big news")], limited=False))
        service.deliver(replace(service.room(RANDOM), name="Random (renamed)"))
        await pilot.pause()
        assert " 1 " in shown(screen.rooms, QUIET)
        assert "Random (renamed)" in shown(screen.rooms, RANDOM)
        # Quiet now has the latest activity of the unread rooms: it moved up past Random
        assert screen.rooms.keys.index(QUIET) < screen.rooms.keys.index(RANDOM)
        assert screen.rooms.cursor_key == RANDOM  # the cursor kept its room
        assert screen.selection.room_id == RANDOM


async def test_state_events_are_not_timeline_lines_but_receipts_on_them_still_show(make_app, service) -> None:
    from app.model.events import TimelineEvent
    from app.model.receipts import Receipt, ReceiptKey, ReceiptType
    from app.model.room import apply_receipt
    from tests.ui.recorded import ALICE, at

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await main_screen(pilot)
        topic = TimelineEvent("$ops12-topic", ALICE, at(17), "m.room.topic", state_key="")
        room = add_timeline(service.room(OPS), [topic], limited=False)
        room = apply_receipt(room, ReceiptKey(BOB, ReceiptType.PUBLIC, None), Receipt("$ops12-topic"))
        service.deliver(room)
        await pilot.pause()
        assert "$ops12-topic" not in screen.timeline.keys
        assert shown(screen.timeline, "$ops11-yes").endswith("▸ AL Bo")
