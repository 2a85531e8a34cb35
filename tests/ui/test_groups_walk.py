"""The room sort inside each group, and ``n``/``N`` across the groups (issue 14): with
rooms in two spaces, direct messages and other rooms, each group's own rows follow the
room sort (activity, then each sort ``s`` switches to), never the space's child order;
``n`` walks the unread threads top to bottom in the order shown, from the last unread
of one group to the first of the next, ``N`` backwards, both wrapping. A Pilot test over
the production core (LocalService)."""

from __future__ import annotations

from app.config import Settings
from app.model.account import AccountState
from app.model.events import ALERT_HIGHLIGHT, ALERT_NOTIFY
from app.model.ids import MAIN
from app.model.room import SPACE_TYPE, RoomState, ServerCounts, SpaceChild, add_timeline
from app.ui.widgets.room_list import GROUP_PREFIX, ROOM_IN_GROUP
from tests.model.builders import ME, msg, reply
from tests.ui.helpers import RecordingApp, main_screen, shown
from tests.ui.local_service import LocalService

ALPHA, BETA = "!alpha:t", "!beta:t"
APPLE, BANANA, CHERRY = "!apple:t", "!banana:t", "!cherry:t"
DELTA, ECHO = "!delta:t", "!echo:t"
ZED, CAROL = "!zed:t", "!carol:t"
FOXTROT, GOLF, HOTEL = "!foxtrot:t", "!golf:t", "!hotel:t"
ALPHA_KEY, BETA_KEY = f"space:{ALPHA}", f"space:{BETA}"
# The thread in Foxtrot: its root is in the main timeline (unread there), a reply in it.
FOX_THREAD = "$f1"


def space(room_id: str, name: str, *children: str) -> RoomState:
    return RoomState(room_id, ME, name=name, room_type=SPACE_TYPE,
                     space_children={c: SpaceChild(None, i) for i, c in enumerate(children)})


def room(room_id: str, name: str, *events, **kw) -> RoomState:
    return add_timeline(RoomState(room_id, ME, name=name, **kw), list(events), limited=False)


def unread(prefix: str, count: int, ts: int) -> list:
    """``count`` unread messages by Alice, the last at ``ts``."""
    return [msg(f"${prefix}{i}", ts=ts - count + 1 + i, alert=ALERT_NOTIFY) for i in range(count)]


def account() -> AccountState:
    """Each group's child order (or name order) differs from its activity order and
    from its unread order, so each sort puts the rows somewhere else.

    Alpha (children Apple, Banana, Cherry): activity Cherry, Apple, Banana (read, but
    the latest); unread Apple (3), Cherry (1), Banana; name Apple, Banana, Cherry.
    Beta (children Delta, Echo): activity and unread Echo, Delta; name Delta, Echo.
    DMs: activity Zed (a mention, older), Carol; unread Carol (2), Zed; name Carol, Zed.
    Other: activity Hotel, Foxtrot, Golf (read); unread Foxtrot (2), Hotel; name
    Foxtrot, Golf, Hotel."""
    rooms = [
        space(ALPHA, "Alpha", APPLE, BANANA, CHERRY),
        space(BETA, "Beta", DELTA, ECHO),
        room(APPLE, "Apple", *unread("a", 3, 200)),
        room(BANANA, "Banana", msg("$n1", ME, ts=900)),
        room(CHERRY, "Cherry", *unread("c", 1, 300)),
        room(DELTA, "Delta", *unread("d", 1, 400)),
        room(ECHO, "Echo", *unread("e", 2, 500)),
        room(ZED, "Zed", msg("$z1", ts=100, alert=ALERT_HIGHLIGHT), is_direct=True, server_main=ServerCounts(1, 1)),
        room(CAROL, "Carol", *unread("k", 2, 600), is_direct=True),
        room(FOXTROT, "Foxtrot", msg(FOX_THREAD, ts=650, alert=ALERT_NOTIFY),
             reply("$f2", FOX_THREAD, ts=700, alert=ALERT_NOTIFY)),
        room(GOLF, "Golf", msg("$g1", ME, ts=950)),
        room(HOTEL, "Hotel", *unread("h", 1, 800)),
    ]
    return AccountState(ME, {r.room_id: r for r in rooms})


def header(group_key: str) -> str:
    return GROUP_PREFIX + group_key


def in_group(group_key: str, room_id: str) -> str:
    return f"{group_key}{ROOM_IN_GROUP}{room_id}"


def layout(alpha: list[str], beta: list[str], direct: list[str], other: list[str]) -> list[str]:
    """The rooms pane's keys: each group's header, then its rooms in the order given."""
    keys = []
    for group_key, rooms in ((ALPHA_KEY, alpha), (BETA_KEY, beta), ("direct", direct), ("other", other)):
        keys += [header(group_key), *(in_group(group_key, room_id) for room_id in rooms)]
    return keys


# What a row draws before the name: a header's fold marker, a room's unread or
# marked-unread marker (a read room has none).
MARKERS = ("▾", "▸", "●", "◆")


def row_name(screen, key: str) -> str:  # noqa: ANN001
    """The name a rooms-pane row shows (a header's first word)."""
    words = shown(screen.rooms, key).split()
    return words[1] if words[0] in MARKERS else words[0]


def names(screen) -> list[str]:  # noqa: ANN001
    """The rooms pane's rows as drawn, by name, top to bottom."""
    return [row_name(screen, key) for key in screen.rooms.keys]


async def walk(pilot, screen, key: str, steps: int) -> list[tuple[str, str, str]]:  # noqa: ANN001
    """Press ``key`` ``steps`` times: where each press went (room, thread), and the name
    on the rooms pane's cursor row, as drawn."""
    visits = []
    for _ in range(steps):
        await pilot.press(key)
        await pilot.pause()
        visits.append((screen.selection.room_id, screen.selection.thread_id, row_name(screen, screen.rooms.cursor_key)))
    return visits


async def test_rows_keep_the_room_sort_in_each_group_and_n_N_walk_across_groups() -> None:
    service = LocalService(account())
    app = RecordingApp(service, Settings(), grouped=True)
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await main_screen(pilot)
        # Activity: mentions first, then unread, then the latest; per group.
        assert list(screen.rooms.keys) == layout([CHERRY, APPLE, BANANA], [ECHO, DELTA], [ZED, CAROL],
                                                 [HOTEL, FOXTROT, GOLF])
        assert names(screen) == ["Alpha", "Cherry", "Apple", "Banana", "Beta", "Echo", "Delta",
                                 "Direct", "Zed", "Carol", "Other", "Hotel", "Foxtrot", "Golf"]
        assert str(screen.rooms.border_title) == "Rooms · activity"
        # The top room is selected: n goes on from Cherry.
        assert screen.selection.room_id == CHERRY

        # n, top to bottom: Alpha's last unread (Apple; Banana is read) to Beta's first
        # (Echo), Beta's last to the first DM, the DMs to Other, Foxtrot's main timeline
        # then its thread, and round to Cherry.
        assert await walk(pilot, screen, "n", 9) == [
            (APPLE, MAIN, "Apple"), (ECHO, MAIN, "Echo"), (DELTA, MAIN, "Delta"), (ZED, MAIN, "Zed"),
            (CAROL, MAIN, "Carol"), (HOTEL, MAIN, "Hotel"), (FOXTROT, MAIN, "Foxtrot"),
            (FOXTROT, FOX_THREAD, "Foxtrot"), (CHERRY, MAIN, "Cherry"),
        ]
        # N, bottom to top: from Cherry round to Foxtrot's thread, and back up.
        assert await walk(pilot, screen, "N", 9) == [
            (FOXTROT, FOX_THREAD, "Foxtrot"), (FOXTROT, MAIN, "Foxtrot"), (HOTEL, MAIN, "Hotel"),
            (CAROL, MAIN, "Carol"), (ZED, MAIN, "Zed"), (DELTA, MAIN, "Delta"), (ECHO, MAIN, "Echo"),
            (APPLE, MAIN, "Apple"), (CHERRY, MAIN, "Cherry"),
        ]
        assert service.requests == []  # walking sends nothing

        # s: by unread count, in each group; the groups keep their places.
        await pilot.press("s")
        await pilot.pause()
        assert screen.status.last_text == "rooms sorted by unread"
        assert str(screen.rooms.border_title) == "Rooms · unread"
        assert list(screen.rooms.keys) == layout([APPLE, CHERRY, BANANA], [ECHO, DELTA], [CAROL, ZED],
                                                 [FOXTROT, HOTEL, GOLF])
        assert names(screen) == ["Alpha", "Apple", "Cherry", "Banana", "Beta", "Echo", "Delta",
                                 "Direct", "Carol", "Zed", "Other", "Foxtrot", "Hotel", "Golf"]
        # n from Cherry follows the new order: Alpha's last unread is Cherry now.
        assert await walk(pilot, screen, "n", 8) == [
            (ECHO, MAIN, "Echo"), (DELTA, MAIN, "Delta"), (CAROL, MAIN, "Carol"), (ZED, MAIN, "Zed"),
            (FOXTROT, MAIN, "Foxtrot"), (FOXTROT, FOX_THREAD, "Foxtrot"), (HOTEL, MAIN, "Hotel"),
            (APPLE, MAIN, "Apple"),
        ]

        # s again: by name.
        await pilot.press("s")
        await pilot.pause()
        assert str(screen.rooms.border_title) == "Rooms · name"
        assert list(screen.rooms.keys) == layout([APPLE, BANANA, CHERRY], [DELTA, ECHO], [CAROL, ZED],
                                                 [FOXTROT, GOLF, HOTEL])
        # N from Apple, the first row, wraps to the last unread (Hotel), then up across
        # Other (Golf is read) into the DMs.
        assert await walk(pilot, screen, "N", 4) == [
            (HOTEL, MAIN, "Hotel"), (FOXTROT, FOX_THREAD, "Foxtrot"), (FOXTROT, MAIN, "Foxtrot"),
            (ZED, MAIN, "Zed"),
        ]
