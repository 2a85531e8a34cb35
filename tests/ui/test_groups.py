"""The rooms pane's groups (spaces, then direct messages, then other rooms), their totals,
collapsing them, what a key would clear said on the status line, and the bulk read of a
group with its dry-run dialog: Pilot tests over the production core (LocalService), and
one on Synapse where the space comes from a real sync."""

from __future__ import annotations

from app.config import Settings
from app.model.account import AccountState
from app.model.events import ALERT_HIGHLIGHT, ALERT_NOTIFY
from app.model.plan import ReceiptRequest
from app.model.receipts import ReceiptType
from app.model.room import SPACE_TYPE, RoomState, ServerCounts, SpaceChild, add_timeline
from app.ui.commands import main_screen_commands
from app.ui.screens.bulk import BulkReadScreen
from app.ui.screens.main import MainScreen
from app.ui.widgets.room_list import GROUP_PREFIX, ROOM_IN_GROUP, room_of_key
from tests.model.builders import ALICE, ME, msg, reply
from tests.ui.helpers import RecordingApp, main_screen, shown
from tests.ui.local_service import LocalService

ENG, INFRA = "!eng:t", "!infra:t"
BACKEND, K8S, BOTH, DM, RANDOM, QUIET = "!backend:t", "!k8s:t", "!both:t", "!dm:t", "!random:t", "!quiet:t"


def space(room_id: str, name: str, *children: str) -> RoomState:
    return RoomState(room_id, ME, name=name, room_type=SPACE_TYPE,
                     space_children={c: SpaceChild(None, i) for i, c in enumerate(children)})


def room(room_id: str, name: str, *events, **kw) -> RoomState:
    return add_timeline(RoomState(room_id, ME, name=name, **kw), list(events), limited=False)


def account() -> AccountState:
    n = iter(range(1, 10_000))
    rooms = [
        space(ENG, "Eng", BACKEND, INFRA, BOTH),
        space(INFRA, "Infra", K8S, BOTH),
        room(BACKEND, "Backend", msg("$b1", ts=next(n), alert=ALERT_NOTIFY), msg("$b2", ts=next(n), alert=ALERT_NOTIFY)),
        room(K8S, "k8s", msg("$k1", ts=next(n), alert=ALERT_HIGHLIGHT), server_main=ServerCounts(1, 1)),
        room(BOTH, "Shared", msg("$s1", ts=next(n), alert=ALERT_NOTIFY), msg("$s2", ts=next(n), alert=ALERT_NOTIFY),
             msg("$s3", ts=next(n), alert=ALERT_NOTIFY)),
        room(DM, "Alice", msg("$d1", ts=next(n), alert=ALERT_HIGHLIGHT), is_direct=True,
             server_main=ServerCounts(1, 1)),
        room(RANDOM, "Random", msg("$r1", ts=next(n), alert=ALERT_NOTIFY),
             reply("$r2", "$r1", ALICE, ts=next(n), alert=ALERT_NOTIFY)),
        room(QUIET, "Quiet", msg("$q1", ME, ts=next(n))),
    ]
    return AccountState(ME, {r.room_id: r for r in rooms})


def app_for(service: LocalService, **settings) -> RecordingApp:
    return RecordingApp(service, Settings(**settings), grouped=True)


def header(group_key: str) -> str:
    return GROUP_PREFIX + group_key


def in_group(group_key: str, room_id: str) -> str:
    return f"{group_key}{ROOM_IN_GROUP}{room_id}"


async def test_rooms_are_grouped_with_totals_that_count_a_room_once() -> None:
    app = app_for(LocalService(account()))
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await main_screen(pilot)
        keys = list(screen.rooms.keys)
        eng, infra = f"space:{ENG}", f"space:{ENG}/{INFRA}"
        assert keys == [
            header(eng), in_group(eng, BOTH), in_group(eng, BACKEND),
            header(infra), in_group(infra, K8S), in_group(infra, BOTH),
            header("direct"), in_group("direct", DM),
            header("other"), in_group("other", RANDOM), in_group("other", QUIET),
        ]
        # Eng: Backend 2 + Shared 3 + k8s 1 (Shared, in both spaces, counted once); k8s's mention.
        assert shown(screen.rooms, header(eng)).split() == ["▾", "Eng", "6", "@1"]
        assert shown(screen.rooms, header(infra)).split() == ["▾", "Infra", "4", "@1"]
        assert shown(screen.rooms, header("direct")).split() == ["▾", "Direct", "messages", "1", "@1"]
        assert shown(screen.rooms, header("other")).split() == ["▾", "Other", "rooms", "2", "🧵1"]
        # Rooms sit under their group, indented; Shared shows in both spaces.
        assert shown(screen.rooms, in_group(eng, BOTH)).startswith("  ● Shared")
        assert shown(screen.rooms, in_group(infra, BOTH)).startswith("    ● Shared")


async def test_z_and_enter_collapse_and_expand_and_n_opens_a_collapsed_group() -> None:
    app = app_for(LocalService(account()))
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await main_screen(pilot)
        screen.select(DM)
        await pilot.pause()
        assert room_of_key(screen.rooms.cursor_key) == DM
        await pilot.press("z")
        await pilot.pause()
        assert in_group("direct", DM) not in screen.rooms.keys
        assert screen.rooms.cursor_key == header("direct")
        assert shown(screen.rooms, header("direct")).startswith("▸ Direct messages")
        assert screen.status.last_text == "Direct messages collapsed"
        await pilot.press("enter")
        await pilot.pause()
        assert in_group("direct", DM) in screen.rooms.keys
        await pilot.press("z")
        await pilot.pause()
        # n walks across group boundaries, into the collapsed group too, and opens it.
        screen.select(BACKEND)
        await pilot.pause()
        # The walk: Eng's own rooms (Shared, Backend), Infra's (k8s; Shared again is
        # skipped), the direct messages, then Other (Random's main, then its thread).
        visits = []
        for _ in range(6):
            await pilot.press("n")
            await pilot.pause()
            visits.append((screen.selection.room_id, screen.selection.thread_id))
        assert visits == [(K8S, "main"), (DM, "main"), (RANDOM, "main"), (RANDOM, "$r1"), (BOTH, "main"),
                          (BACKEND, "main")]
        assert in_group("direct", DM) in screen.rooms.keys


async def test_the_status_line_says_what_r_and_R_would_clear() -> None:
    app = app_for(LocalService(account()))
    async with app.run_test(size=(200, 40)) as pilot:
        screen = await main_screen(pilot)
        screen.select(RANDOM)
        await pilot.pause()
        assert screen.status.clears_text == "r: 1 msg · R: 1 thread, 2 msgs"
        screen.select(DM)
        await pilot.pause()
        # The mention in the DM has never been on screen... it is now (the timeline shows
        # it), so only the first look says "unseen".
        assert screen.status.clears_text in ("R: 1 msg, 1 mention", "R: 1 msg, 1 mention (1 unseen)")
        screen.select(K8S)
        await pilot.pause()
        await pilot.press("z")  # k8s's group header takes the cursor: R would read Infra
        await pilot.pause()
        assert screen.rooms.cursor_key == header(f"space:{ENG}/{INFRA}")
        assert screen.status.clears_text.startswith("R: 2 rooms, 4 msgs, 1 mention")
        screen.select(QUIET)
        await pilot.pause()
        await pilot.press("tab", "shift+tab")
        await pilot.pause()
        assert screen.status.clears_text == ""


async def test_R_on_a_space_header_lists_the_dry_run_and_sends_each_room_in_its_mode() -> None:
    service = LocalService(account())
    app = app_for(service, room_modes={BOTH: ReceiptType.PUBLIC})
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await main_screen(pilot)
        screen.rooms.move_cursor_to(header(f"space:{ENG}"))
        screen.rooms.focus()
        await pilot.pause()
        await pilot.press("R")
        await pilot.pause()
        assert isinstance(app.screen, BulkReadScreen)
        summary = str(app.screen.query_one("#bulk-summary").render())
        assert "Read 3 rooms (1 PUBLIC, 2 PRIVATE): 6 msgs, 1 mention" in summary
        # Escape: nothing is sent.
        await pilot.press("escape")
        await pilot.pause()
        assert service.requests == []
        assert "cancelled: nothing sent" in screen.status.last_text
        await pilot.press("R")
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        await pilot.pause()
        assert sorted((r.room_id, r.receipt_type, r.event_id, r.thread_id) for r in service.requests) == [
            (BACKEND, ReceiptType.PRIVATE, "$b2", None),
            (BOTH, ReceiptType.PUBLIC, "$s3", None),
            (K8S, ReceiptType.PRIVATE, "$k1", None),
        ]
        assert all(isinstance(r, ReceiptRequest) for r in service.requests)
        assert "bulk read of space Eng: 3 rooms read" in screen.status.last_text
        # Eng is read; the cursor went on to the next group with unread.
        # (The server's highlight count stays until its sync says the mention is read.)
        assert shown(screen.rooms, header(f"space:{ENG}")).split() == ["▾", "Eng", "@1"]
        assert screen.rooms.cursor_key == header("direct")


async def test_a_bulk_read_within_the_threshold_sends_without_asking() -> None:
    service = LocalService(account())
    app = app_for(service)
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await main_screen(pilot)
        screen.rooms.move_cursor_to(header("direct"))
        screen.rooms.focus()
        await pilot.pause()
        await pilot.press("R")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        assert [(r.room_id, r.thread_id) for r in service.requests] == [(DM, None)]


async def test_A_reads_the_rooms_the_filter_shows() -> None:
    service = LocalService(account())
    app = app_for(service, confirm_above=10)
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await main_screen(pilot)
        await pilot.press("slash", *"ra", "enter")  # Random, Shared? no: "ra" matches Random only
        await pilot.pause()
        await pilot.press("A")
        await pilot.pause()
        assert [r.room_id for r in service.requests] == [RANDOM]
        assert "bulk read of the rooms shown: 1 room read" in screen.status.last_text


async def test_u_and_slash_work_inside_groups_and_hide_groups_left_empty() -> None:
    app = app_for(LocalService(account()))
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await main_screen(pilot)
        screen.select(RANDOM)
        await pilot.pause()
        await pilot.press("u")
        await pilot.pause()
        # Quiet (read) goes; every group keeps its unread rooms.
        assert in_group("other", QUIET) not in screen.rooms.keys
        assert in_group("other", RANDOM) in screen.rooms.keys
        assert header("direct") in screen.rooms.keys
        await pilot.press("u")
        await pilot.press("slash", *"k8", "enter")
        await pilot.pause()
        # Only k8s matches: its groups (Eng, and Infra inside it) stay, the others go.
        assert list(screen.rooms.keys) == [header(f"space:{ENG}"), header(f"space:{ENG}/{INFRA}"),
                                           in_group(f"space:{ENG}/{INFRA}", K8S)]
        await pilot.press("escape")
        await pilot.pause()
        assert header("other") in screen.rooms.keys


async def test_hostile_space_names_render_literally_and_a_cycle_does_not_hang() -> None:
    hostile = "[bold red]Sp[/] \\x1b[31m $(rm)"
    rooms = dict(account().rooms)
    rooms["!loop1:t"] = space("!loop1:t", hostile, "!loop2:t", RANDOM)
    rooms["!loop2:t"] = space("!loop2:t", "[link=x]two[/link]", "!loop1:t", "!gone:t")
    app = app_for(LocalService(AccountState(ME, rooms)))
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await main_screen(pilot)
        assert shown(screen.rooms, header("space:!loop1:t")).startswith("▾ [bold red]Sp[/] \\x1")
        assert shown(screen.rooms, header("space:!loop1:t/!loop2:t")).startswith("  ▾ [link=x]two[/link]")
        # Random is in the loop's space now, so no longer among the other rooms.
        assert in_group("space:!loop1:t", RANDOM) in screen.rooms.keys
        assert in_group("other", RANDOM) not in screen.rooms.keys


async def test_the_palette_reads_a_space_or_the_dms_in_a_flat_list_too() -> None:
    service = LocalService(account())
    app = RecordingApp(service, Settings(confirm_above=10))  # flat
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await main_screen(pilot)
        assert not any(key.startswith(GROUP_PREFIX) for key in screen.rooms.keys)
        titles = [command.title for command in main_screen_commands(screen)]
        assert "Read space Infra (bulk read, dry run first)" in titles
        screen.read_direct()
        await pilot.pause()
        screen.read_space(INFRA)
        await pilot.pause()
        assert [r.room_id for r in service.requests] == [DM, K8S, BOTH]


async def test_Z_switches_between_groups_and_a_flat_list_and_back() -> None:
    app = app_for(LocalService(account()))
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await main_screen(pilot)
        screen.select(K8S)
        await pilot.pause()
        grouped = list(screen.rooms.keys)
        await pilot.press("Z")
        await pilot.pause()
        flat = list(screen.rooms.keys)
        assert not any(key.startswith(GROUP_PREFIX) for key in flat)
        # Every room once, no space among them; the selection kept.
        assert sorted(flat) == sorted([BACKEND, K8S, BOTH, DM, RANDOM, QUIET])
        assert screen.rooms.cursor_key == K8S
        assert shown(screen.rooms, K8S).startswith("● k8s")
        await pilot.press("Z")
        await pilot.pause()
        assert list(screen.rooms.keys) == grouped
        assert room_of_key(screen.rooms.cursor_key) == K8S
        assert shown(screen.rooms, in_group(f"space:{ENG}/{INFRA}", K8S)).startswith("    ● k8s")


async def test_a_bulk_read_with_a_room_the_server_refuses_reports_only_the_rooms_read() -> None:
    """The server refuses Shared's receipt: the report counts the two rooms read and what
    they cleared (Backend's 2 messages, k8s's mention), not Shared's 3 messages."""
    service = LocalService(account(), refuse={"$s3": "M_FORBIDDEN: not today"})
    app = app_for(service, confirm_above=10)
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await main_screen(pilot)
        screen.rooms.move_cursor_to(header(f"space:{ENG}"))
        screen.rooms.focus()
        await pilot.pause()
        await pilot.press("R")
        for _ in range(5):
            await pilot.pause()
        assert sorted(r.room_id for r in service.requests) == [BACKEND, BOTH, K8S]
        text = screen.status.last_text
        assert "bulk read of space Eng: 2 rooms read, 1 refused (cleared 3 msgs, 1 mention" in text, text
        # Shared was rolled back: still unread, in Eng's total too.
        assert service.account.rooms[BOTH].events[-1].event_id == "$s3"
        assert "3" in shown(screen.rooms, in_group(f"space:{ENG}", BOTH)).split()


async def test_the_palette_shows_hostile_space_names_as_written_and_reads_the_space() -> None:
    """Through the palette itself: a space named with markup (one that does not even
    parse) is listed literally, and choosing it reads the space."""
    rooms = dict(account().rooms)
    rooms[INFRA] = space(INFRA, "Evil [/] [bold red]x[/]", K8S, BOTH)
    service = LocalService(AccountState(ME, rooms))
    app = app_for(service, confirm_above=10)
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await main_screen(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*["space" if c == " " else c for c in "Read space Evil"])
        options = app.screen.query_one("CommandList").options
        for _ in range(30):
            if options:
                break
            await pilot.pause(0.1)
            options = app.screen.query_one("CommandList").options
        prompts = [str(option.prompt).split("\n")[0] for option in options]
        assert prompts[0] == "Read space Evil [/] [bold red]x[/] (bulk read, dry run first)", prompts
        await pilot.press("enter")
        for _ in range(5):
            await pilot.pause()
        assert app.screen is screen
        assert sorted(r.room_id for r in service.requests) == [BOTH, K8S]
        assert "Evil [/] [bold red]x[/]" in screen.status.last_text
