"""Triage at scale on a real Synapse, through the real service and the grouped rooms
pane (issue 14): a room joins a space by its own ``m.space.parent`` claim when the
claim's sender may add children there, and only then; the bulk read's dry run says what
Synapse counts, and Synapse's counts are 0 after it in exactly its rooms; a bulk read
clears the marked-unread flags of the space's rooms (stable or Famedly's), as another
device of mine sees; and a group's unread-thread total is the number of threads with
unread replies in its rooms, a room in two spaces counted once."""

from __future__ import annotations

from app.config import Settings
from app.devserver.actor import MatrixActor
from app.matrix.client import MatrixClient
from app.matrix.service import MatrixService
from app.model.receipts import ReceiptType
from app.ui.glyphs import glyphs_for
from app.ui.screens.bulk import BulkReadScreen
from app.ui.screens.main import MainScreen
from app.ui.widgets.room_list import GROUP_PREFIX, ROOM_IN_GROUP
from tests.matrix.helpers import in_thread, session_of
from tests.reliability.helpers import until
from tests.spaces import (
    FAMEDLY_FLAG,
    STABLE_FLAG,
    ServerCounts,
    add_child,
    counts_once,
    flags_in_fresh_sync,
    make_space,
    seed_flags,
    seed_parent_claims,
    set_power,
)
from tests.ui.helpers import RecordingApp, shown

FLAG = glyphs_for(True).marked_unread
THREADS = glyphs_for(True).threads
READ = ServerCounts(0, 0, {})


def grouped_app(me: MatrixActor) -> RecordingApp:
    service = MatrixService(MatrixClient.from_session(session_of(me)), sync_timeout_ms=300)
    return RecordingApp(service, Settings(receipt_mode=ReceiptType.PRIVATE), grouped=True)


async def live_with(pilot, header: str) -> MainScreen:  # noqa: ANN001
    """The main screen once it is live, shows the group ``header`` and has selected a
    room (the first selection puts the cursor on that room: a cursor moved before it
    would be moved away)."""
    app = pilot.app
    await until(pilot, lambda: isinstance(app.screen, MainScreen) and header in app.screen.rooms.keys
                and app.screen.status.sync_text.endswith("live") and app.screen.selection is not None,
                30, f"the group {header}")
    return app.screen


def row(group_key: str, room_id: str) -> str:
    return f"{group_key}{ROOM_IN_GROUP}{room_id}"


def header(screen: MainScreen, group_key: str) -> list[str]:
    """A group's header as on screen, word by word: marker, title, totals."""
    return shown(screen.rooms, GROUP_PREFIX + group_key).split()


async def until_total(pilot, screen: MainScreen, group_key: str, title: str, total: str,  # noqa: ANN001
                      what: str) -> None:
    """Until a group's header shows ``total`` unread beside its title."""
    await until(pilot, lambda: header(screen, group_key)[:3] == ["▾", title, total], 15, what)


def flagged(screen: MainScreen, key: str) -> bool:
    """Whether a room's row shows the marked-unread flag."""
    return shown(screen.rooms, key).split()[0] == FLAG


def rows_of(screen: MainScreen, group_key: str) -> set[str]:
    """The rooms the pane shows right under a group's header (its own rooms)."""
    return {key.rpartition(ROOM_IN_GROUP)[2] for key in screen.rooms.keys
            if key.startswith(group_key + ROOM_IN_GROUP)}


async def open_dialog(pilot, screen: MainScreen, group_key: str) -> BulkReadScreen:  # noqa: ANN001
    """R on a group's header: the bulk read's dry run, on screen."""
    assert screen.rooms.move_cursor_to(GROUP_PREFIX + group_key)
    screen.rooms.focus()
    await pilot.pause()
    assert screen.rooms.cursor_key == GROUP_PREFIX + group_key
    await pilot.press("R")
    await until(pilot, lambda: isinstance(pilot.app.screen, BulkReadScreen), 5, "the dry run")
    await pilot.pause()
    return pilot.app.screen


def widget_lines(dialog: BulkReadScreen, selector: str) -> list[str]:
    """The lines a widget of the dialog draws, as plain text (a Static, or the room list,
    which draws only its lines on screen: the plans here fit)."""
    widget = dialog.query_one(selector)
    assert widget.max_scroll_y == 0, f"{selector} holds more lines than it shows"
    return [text for y in range(widget.size.height) if (text := widget.render_line(y).text.strip())]


def clears_said(text: str) -> dict[str, int]:
    """``2 threads, 11 msgs, 2 mentions (2 unseen)`` -> {"thread": 2, "msg": 11, "mention": 2}."""
    found = {}
    for part in text.split(", "):
        number, word = part.split()[:2]
        found[word.removesuffix("s")] = int(number.rstrip("+"))
    return found


def clears_of_server(counts: ServerCounts) -> dict[str, int]:
    """What a read of the room clears, as Synapse counts it, in the dialog's words."""
    said = {"thread": counts.unread_threads, "msg": counts.messages, "mention": counts.mentions}
    return {word: number for word, number in said.items() if number}


# ---- 1. m.space.parent alone -----------------------------------------------------------


async def test_a_parent_claim_alone_groups_a_room_when_its_sender_may_add_children(make_actor) -> None:
    """No m.space.child anywhere: alice's claim (100 in the space) and carol's (50, the
    level m.space.child needs there) put their rooms under the space, with its total;
    bob's (49) is ignored, his room among the other rooms, until alice gives him 50."""
    seeded = seed_parent_claims(make_actor)
    me = seeded.me
    state = me.request("GET", f"/_matrix/client/v3/rooms/{seeded.space}/state")
    assert not [event for event in state if event["type"] == "m.space.child"]
    # Bob's claim is there all the same: only his level keeps it out.
    claims = me.request("GET", f"/_matrix/client/v3/rooms/{seeded.by_unpowered}/state")
    assert [(e["sender"], e["state_key"]) for e in claims if e["type"] == "m.space.parent"] == [
        (seeded.bob.user_id, seeded.space)]
    space_key = f"space:{seeded.space}"
    app = grouped_app(me)
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await live_with(pilot, GROUP_PREFIX + space_key)
        await until_total(pilot, screen, space_key, "Parents", "3", "the space's total: alice's 2 + carol's 1")
        assert rows_of(screen, space_key) == {seeded.by_creator, seeded.by_promoted}
        assert rows_of(screen, "other") == {seeded.by_unpowered}
        assert header(screen, "other")[:4] == ["▾", "Other", "rooms", "3"]
        assert shown(screen.rooms, row(space_key, seeded.by_creator)).split()[:5] == [
            "●", "Claimed", "by", "alice", "2"]

        # The rule is the sender's level in the space: at 50, bob's claim counts.
        await in_thread(lambda: set_power(seeded.alice, seeded.space, {seeded.bob.user_id: 50}))
        await until(pilot, lambda: rows_of(screen, space_key) == {seeded.by_creator, seeded.by_promoted,
                                                                  seeded.by_unpowered}, 15, "bob's room in the space")
        await until_total(pilot, screen, space_key, "Parents", "6", "the space's total with bob's 3")
        assert GROUP_PREFIX + "other" not in screen.rooms.keys


# ---- 2. the dry run is what Synapse clears ---------------------------------------------


async def test_the_dry_run_of_a_space_is_what_synapse_counts_and_clears(make_actor) -> None:
    """Three rooms in a space (threads in two, a mention in the main timeline and one in
    a thread) and one outside: the dialog's rooms, threads, messages and mentions are
    Synapse's own counts summed, room by room and in total; after enter Synapse counts 0
    in the space's rooms, and the room outside is as it was."""
    alice, me = make_actor("alice"), make_actor("me")
    space = make_space(alice, "Ops", preset="public_chat")
    titles = {"alpha": "Ops alpha", "beta": "Ops beta", "gamma": "Ops gamma", "outside": "Elsewhere"}
    rooms = {key: alice.create_room(title, preset="public_chat") for key, title in titles.items()}
    for key in ("alpha", "beta", "gamma"):
        add_child(alice, space, rooms[key])
    for room_id in (space, *rooms.values()):
        me.join(room_id)
    alpha, beta, gamma, outside = (rooms[key] for key in ("alpha", "beta", "gamma", "outside"))
    for i in range(2):
        alice.send_text(alpha, f"alpha {i}")
    root = alice.send_text(alpha, "alpha's thread")
    for i in range(2):
        alice.send_thread_reply(alpha, root, f"alpha reply {i}")
    alice.send_text(beta, "a look, please", mentions=[me.user_id])
    root = alice.send_text(beta, "beta's thread")
    alice.send_thread_reply(beta, root, "and here", mentions=[me.user_id])
    for i in range(3):
        alice.send_text(gamma, f"gamma {i}")
    root = alice.send_text(outside, "outside's thread")
    alice.send_thread_reply(outside, root, "outside reply")
    # Main timeline (thread roots in it) and each thread apart, as Synapse counts them.
    shape = {alpha: (3, 0, [(2, 0)]), beta: (2, 1, [(1, 1)]), gamma: (3, 0, []), outside: (1, 0, [(1, 0)])}
    before = counts_once(me, rooms.values(), lambda found: all(
        (c.notifications, c.highlights, sorted(c.threads.values())) == shape[r] for r, c in found.items()))
    in_space = (alpha, beta, gamma)

    space_key = f"space:{space}"
    app = grouped_app(me)
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await live_with(pilot, GROUP_PREFIX + space_key)
        await until_total(pilot, screen, space_key, "Ops", "11", "the space's rooms loaded")
        dialog = await open_dialog(pilot, screen, space_key)
        (summary,) = widget_lines(dialog, "#bulk-summary")
        head, _, clears = summary.partition(": ")
        assert head == "Read 3 rooms (3 PRIVATE)"
        assert clears_said(clears) == {
            "thread": sum(before[r].unread_threads for r in in_space),
            "msg": sum(before[r].messages for r in in_space),
            "mention": sum(before[r].mentions for r in in_space),
        } == {"thread": 2, "msg": 11, "mention": 2}
        lines = widget_lines(dialog, "#bulk-rooms")
        assert len(lines) == 3
        for key in ("alpha", "beta", "gamma"):
            (line,) = [line for line in lines if f" {titles[key]}  " in line]
            assert line.startswith("PRIVATE ")
            said = line.split(f" {titles[key]}  ", 1)[1]
            assert clears_said(said) == clears_of_server(before[rooms[key]]), (line, before[rooms[key]])

        await pilot.press("enter")
        await until(pilot, lambda: "3 rooms read" in screen.status.last_text, 20, "the bulk read's answer")
        after = await in_thread(lambda: counts_once(
            me, rooms.values(), lambda found: all(found[r] == READ for r in in_space), 15))
        assert after[outside] == before[outside]
        assert "(cleared 2 threads, 11 msgs, 2 mentions" in screen.status.last_text


# ---- 3. marked unread -----------------------------------------------------------------


async def test_a_bulk_read_of_a_space_clears_its_flags_for_every_device(make_actor) -> None:
    """Flags another client of mine set in a space's rooms (the stable type in two, one
    of them with nothing left to read, Famedly's in the third) and in a room outside:
    after R on the space, another device's fresh sync reads {"unread": false} in the
    three (readmark writes the stable type; Famedly's stays as that client left it, and
    no longer shows here), the room outside keeps its flag."""
    seeded = seed_flags(make_actor)
    me, space_key = seeded.me, f"space:{seeded.space}"
    in_space = (seeded.stable, seeded.famedly, seeded.flag_only)
    app = grouped_app(me)
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await live_with(pilot, GROUP_PREFIX + space_key)
        await until(pilot, lambda: all(flagged(screen, row(space_key, r)) for r in in_space)
                    and flagged(screen, row("other", seeded.outside)), 15, "the four flags")
        dialog = await open_dialog(pilot, screen, space_key)
        assert widget_lines(dialog, "#bulk-summary") == ["Read 3 rooms (2 PRIVATE): 3 msgs"]
        assert [line for line in widget_lines(dialog, "#bulk-rooms") if line.startswith("unflag")] == [
            f"unflag   {seeded.flag_only}: marked unread, nothing left to read"]
        await pilot.press("enter")
        await until(pilot, lambda: "2 rooms read" in screen.status.last_text, 20, "the bulk read's answer")
        # The line says the flags go too: the two rooms read and the one with nothing to read.
        assert screen.status.last_text.endswith("; 3 marked-unread flags cleared"), screen.status.last_text

        def cleared() -> dict[str, dict[str, object]] | None:
            flags = flags_in_fresh_sync(me, [*in_space, seeded.outside])
            return flags if all(flags[r].get(STABLE_FLAG) is False for r in in_space) else None

        flags = await in_thread(lambda: me.wait_for(cleared, 15))
        assert flags == {
            seeded.stable: {STABLE_FLAG: False},
            seeded.famedly: {STABLE_FLAG: False, FAMEDLY_FLAG: True},
            seeded.flag_only: {STABLE_FLAG: False},
            seeded.outside: {STABLE_FLAG: True},
        }
        await until(pilot, lambda: not any(flagged(screen, row(space_key, r)) for r in in_space), 10,
                    "the flags gone from the pane")
        assert flagged(screen, row("other", seeded.outside))
        # A later sync (the next message) does not bring Famedly's flag back.
        await in_thread(lambda: seeded.alice.send_text(seeded.famedly, "one more"))
        await until(pilot, lambda: shown(screen.rooms, row(space_key, seeded.famedly)).split()[-1] == "1", 10,
                    "the next message")
        assert not flagged(screen, row(space_key, seeded.famedly))


# ---- 4. unread threads per group --------------------------------------------------------


def threads_column(words: list[str]) -> int:
    """A row's unread-thread count, from its words (0 when the column is empty)."""
    found = [token for token in words if token.startswith(THREADS)]
    return int(found[0].removeprefix(THREADS)) if found else 0


async def test_a_groups_thread_total_is_its_rooms_threads_with_unread_each_once(make_actor) -> None:
    """World holds North and South; Shared is in both, with two unread threads; North's
    own room has one unread thread and one I read (a threaded receipt of my other
    client), South's one unread thread and one only I replied in. Each header's thread
    column is the number of threads Synapse counts unread in the group's rooms, each
    room once: North 3, South 3, World 4."""
    alice, me = make_actor("alice"), make_actor("me")
    world, north, south = (make_space(alice, name, preset="public_chat") for name in ("World", "North", "South"))
    shared, north_room, south_room = (alice.create_room(name, preset="public_chat")
                                      for name in ("Shared", "North room", "South room"))
    add_child(alice, world, north)
    add_child(alice, world, south)
    for space, room_id in ((north, shared), (south, shared), (north, north_room), (south, south_room)):
        add_child(alice, space, room_id)
    for room_id in (world, north, south, shared, north_room, south_room):
        me.join(room_id)

    def thread(room_id: str, replies: int, by: MatrixActor = alice) -> None:
        root = alice.send_text(room_id, "a thread")
        for i in range(replies):
            by.send_thread_reply(room_id, root, f"reply {i}")

    thread(shared, 2)
    thread(shared, 1)
    thread(north_room, 1)
    read_root = alice.send_text(north_room, "a thread I read")
    read_reply = alice.send_thread_reply(north_room, read_root, "read on my phone")
    me.send_receipt(north_room, read_reply, "m.read.private", thread_id=read_root)
    thread(south_room, 3)
    thread(south_room, 1, by=me)
    rooms = (shared, north_room, south_room)
    synapse = counts_once(me, rooms, lambda found: [found[r].unread_threads for r in rooms] == [2, 1, 1])

    app = grouped_app(me)
    keys = {"World": f"space:{world}", "North": f"space:{world}/{north}", "South": f"space:{world}/{south}"}
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await live_with(pilot, GROUP_PREFIX + keys["South"])
        await until(pilot, lambda: threads_column(header(screen, keys["World"])) == 4, 15, "World's thread total")
        grouping = screen.rooms.grouping
        for name, key in keys.items():
            members = grouping.find(key).members
            from_synapse = sum(synapse[r].unread_threads for r in members)
            words = header(screen, key)
            assert words[1] == name
            assert threads_column(words) == from_synapse == {"World": 4, "North": 3, "South": 3}[name], words
        # A room's own row says its threads too: Shared's 2 under both spaces.
        for key in (keys["North"], keys["South"]):
            assert threads_column(shown(screen.rooms, row(key, shared)).split()) == 2
