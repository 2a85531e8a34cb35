"""`readmark mark --space/--dms/--all` against the real Synapse: the dry run, the bulk
read through the durable queue in each room's own receipt mode, a kill half-way through
300 rooms behind the fault proxy (429s injected), and bad input."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
import urllib.parse
from pathlib import Path

import aiohttp
import pytest

from app import paths
from app.cli import main
from app.devserver.actor import MatrixActor
from app.matrix.queue import QUEUE_FILE, read_queue_file
from app.matrix.session import Session, save_session
from app.store import cache
from tests.faultproxy import FaultProxy, Rule
from tests.matrix.helpers import session_of
from tests.spaces import (
    FAMEDLY_FLAG,
    STABLE_FLAG,
    add_child,
    flags_in_fresh_sync,
    make_space,
    seed_flags,
    seed_parent_claims,
)

pytestmark = pytest.mark.synapse

REPO = Path(__file__).resolve().parents[1]
CLIENT_V3 = "/_matrix/client/v3"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def set_account_data(actor: MatrixActor, event_type: str, content: dict) -> None:
    user = urllib.parse.quote(actor.user_id, safe="")
    actor.request("PUT", f"{CLIENT_V3}/user/{user}/account_data/{event_type}", content)


def write_config(xdg_dirs, text: str) -> None:
    folder = xdg_dirs.config / "readmark"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.toml").write_text(text)


def my_receipts(actor: MatrixActor, room_id: str) -> dict[str, str]:
    """{receipt type: event ID} of ``actor``'s own receipts in the room, as its sync shows them."""
    found = {}
    for event_id, by_type in actor.room_receipts(room_id).items():
        for receipt_type, by_user in by_type.items():
            if actor.user_id in by_user:
                found[receipt_type] = event_id
    return found


async def witness_receipts(witness: MatrixActor, user_id: str) -> dict[str, set[tuple[str, str]]]:
    """What a plain nio client of another member sees of ``user_id``'s receipts:
    {room: {(receipt type, event ID)}}, from the ephemeral m.receipt events of a sync."""
    import nio

    client = nio.AsyncClient(witness.base_url, witness.user_id)
    client.restore_login(witness.user_id, witness.device_id, witness.access_token)
    try:
        answer = await client.sync(timeout=0, full_state=True)
        assert isinstance(answer, nio.SyncResponse), answer
        seen: dict[str, set[tuple[str, str]]] = {}
        for room_id, room in answer.rooms.join.items():
            for event in room.ephemeral:
                for receipt in getattr(event, "receipts", ()):
                    if receipt.user_id == user_id:
                        kind = getattr(receipt.receipt_type, "value", receipt.receipt_type)
                        seen.setdefault(room_id, set()).add((str(kind), receipt.event_id))
        return seen
    finally:
        await client.close()


def notification_counts(capsys) -> dict[str, int]:
    code, out, err = run(capsys, "status", "--json")
    assert code == 0, err
    return {room["room_id"]: room["notifications"] for room in json.loads(out)["rooms"]}


@pytest.fixture
def seeded(make_actor, xdg_dirs):
    """Me in three plain rooms (one pinned public, one pinned private, one in the default
    private mode) and one DM, each with unread messages from alice."""
    me, alice = make_actor("me"), make_actor("alice")
    rooms = {}
    sent: dict[str, list[str]] = {}
    for name, count in (("Public room", 2), ("Private room", 3), ("Default room", 1)):
        # Public, not by invite: Synapse counts at once (see tests/test_cli_commands.py).
        room = alice.create_room(name, preset="public_chat")
        me.join(room)
        rooms[name] = room
        sent[room] = [alice.send_text(room, f"{name} {i}") for i in range(count)]
    dm = alice.create_room(invite=[me.user_id], is_direct=True)
    me.join(dm)
    set_account_data(me, "m.direct", {alice.user_id: [dm]})
    rooms["DM"] = dm
    sent[dm] = [alice.send_text(dm, f"psst {i}") for i in range(4)]
    write_config(
        xdg_dirs,
        f'[receipts]\nmode = "private"\n[receipts.rooms]\n"{rooms["Public room"]}" = "public"\n'
        f'"{rooms["Private room"]}" = "private"\n',
    )
    save_session(session_of(me))
    # Synapse counts asynchronously: wait for the plain rooms' counts (the DM's, by
    # invite, may wait for its rotation; its receipt is checked instead).
    for name in ("Public room", "Private room", "Default room"):
        room = rooms[name]
        me.wait_for(lambda room=room: me.unread_counts(room)[0] == len(sent[room]), timeout=60)
    return me, alice, rooms, sent


def test_all_dry_run_then_read_each_room_in_its_own_mode(seeded, capsys) -> None:
    me, alice, rooms, sent = seeded
    before = notification_counts(capsys)
    code, out, err = run(capsys, "mark", "--all", "--dry-run", "--json")
    assert (code, err) == (0, ""), err
    document = json.loads(out)  # exactly one JSON document
    by_room = {entry["room_id"]: entry for entry in document["rooms"]}
    assert set(by_room) == set(rooms.values())
    for room_id, events in sent.items():
        assert by_room[room_id]["messages"] == len(events)
        assert by_room[room_id]["event_id"] == events[-1]
        assert by_room[room_id]["refused"] is None
    assert by_room[rooms["Public room"]]["receipt"] == "m.read"
    assert {by_room[rooms[n]]["receipt"] for n in ("Private room", "Default room", "DM")} == {"m.read.private"}
    assert document["total"]["messages"] == sum(len(e) for e in sent.values())
    assert (document["total"]["public"], document["total"]["private"]) == (1, 3)
    # Nothing sent: no receipt of mine anywhere, and the server's counts as they were.
    assert all(my_receipts(me, room_id) == {} for room_id in rooms.values())
    assert notification_counts(capsys) == before
    assert not (paths.state_dir() / QUEUE_FILE).exists() or read_queue_file(paths.state_dir() / QUEUE_FILE)[0][0].requests == ()

    code, out, err = run(capsys, "mark", "--dry-run", "--all")
    assert code == 0 and "would read (all): 4 rooms, 10 msgs (public 1, private 3)" in out

    code, out, err = run(capsys, "mark", "--all")
    assert code == 0, err
    assert out.strip().splitlines()[-1] == "read 4 room(s) (public 1, private 3): cleared 10 msgs"
    assert "4/4 sent" in err
    # The cache holds the receipts sent: offline (no sync since), every room is read.
    code, out, err = run(capsys, "status", "--json", "--offline")
    assert code == 0, err
    assert {r["room_id"]: r["unread"] for r in json.loads(out)["rooms"]} == dict.fromkeys(rooms.values(), 0)
    for name, room_id in rooms.items():
        expected = "m.read" if name == "Public room" else "m.read.private"
        assert me.wait_for(lambda room_id=room_id: my_receipts(me, room_id)) == {expected: sent[room_id][-1]}
    assert all(count == 0 for room_id, count in notification_counts(capsys).items() if room_id in rooms.values())
    # The witness (another member, a plain nio client) sees my public receipt in the
    # public room only.
    seen = asyncio.run(witness_receipts(alice, me.user_id))
    assert seen == {rooms["Public room"]: {("m.read", sent[rooms["Public room"]][-1])}}
    assert read_queue_file(paths.state_dir() / QUEUE_FILE)[0][0].requests == ()

    # Read already: a second run has nothing to do.
    code, out, err = run(capsys, "mark", "--all", "--json")
    assert code == 0 and json.loads(out)["rooms"] == []


def test_dms_reads_only_the_direct_messages(seeded, capsys) -> None:
    me, alice, rooms, sent = seeded
    code, out, err = run(capsys, "mark", "--dms", "--json")
    assert code == 0, err
    document = json.loads(out)
    assert [(r["room_id"], r["outcome"]) for r in document["rooms"]] == [(rooms["DM"], "sent")]
    assert me.wait_for(lambda: my_receipts(me, rooms["DM"])) == {"m.read.private": sent[rooms["DM"]][-1]}
    for name in ("Public room", "Private room", "Default room"):
        assert my_receipts(me, rooms[name]) == {}
        assert me.unread_counts(rooms[name])[0] == len(sent[rooms[name]])


def test_space_reads_the_space_and_its_sub_spaces(make_actor, capsys) -> None:
    me, alice = make_actor("me"), make_actor("alice")
    top, sub = (make_space(alice, name, preset="public_chat") for name in ("Top", "Sub"))
    inside, below, outside = (alice.create_room(n, preset="public_chat") for n in ("Inside", "Below", "Outside"))
    add_child(alice, top, sub)
    add_child(alice, top, inside)
    add_child(alice, sub, below)
    for room in (top, sub, inside, below, outside):
        me.join(room)
    events = {room: alice.send_text(room, "hello") for room in (inside, below, outside)}
    save_session(session_of(me))
    code, out, err = run(capsys, "mark", "--space", top, "--json")
    assert code == 0, err
    assert {r["room_id"] for r in json.loads(out)["rooms"]} == {inside, below}
    assert me.wait_for(lambda: my_receipts(me, below)) == {"m.read.private": events[below]}
    assert my_receipts(me, outside) == {}


@pytest.mark.parametrize(
    ("argv", "message", "exit_code"),
    [
        (("mark", "--space", "!nope:x"), "not a space you are in: !nope:x", 1),
        (("mark", "--space", "#no-such-space:localhost"), "does not resolve", 1),
        (("mark", "{room}", "--space", "!nope:x"), "ROOM and --space exclude each other", 2),
        (("mark", "--all", "--thread", "main"), "--thread does not go with --all", 2),
        (("mark", "--dms", "--all"), "--dms and --all exclude each other", 2),
        (("mark", "--all", "--event", "$x"), "--event does not go with --all", 2),
        (("mark",), "mark needs a ROOM", 2),
        (("mark", "{room}", "--dry-run"), "--dry-run goes with", 2),
    ],
)
def test_bad_bulk_arguments(make_actor, capsys, argv, message, exit_code) -> None:
    me, alice = make_actor("me"), make_actor("alice")
    room = alice.create_room("Plain", preset="public_chat")
    me.join(room)
    alice.send_text(room, "unread")
    save_session(session_of(me))
    code, out, err = run(capsys, *(a.format(room=room) for a in argv))
    assert (code, out) == (exit_code, "")
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert my_receipts(me, room) == {}


# ---- 300 rooms, 429s, a SIGKILL half-way ---------------------------------------------

ROOMS = 300
CHUNK = 20


async def _call(http: aiohttp.ClientSession, base: str, token: str, method: str, path: str, body: dict) -> dict:
    for _ in range(20):
        async with http.request(method, base + path, json=body, headers={"Authorization": f"Bearer {token}"}) as answer:
            if answer.status == 429:
                await asyncio.sleep(0.2)
                continue
            answer.raise_for_status()
            return await answer.json()
    raise AssertionError(f"{method} {path} kept answering 429")


async def _seed_many(base: str, alice: MatrixActor, me: MatrixActor, count: int) -> dict[str, str]:
    """``count`` public rooms of alice's that I joined, each with one message of hers:
    {room: event}."""
    events: dict[str, str] = {}
    async with aiohttp.ClientSession() as http:

        async def one(index: int) -> None:
            created = await _call(http, base, alice.access_token, "POST", f"{CLIENT_V3}/createRoom",
                                  {"preset": "public_chat", "name": f"bulk {index:03d}"})
            room = created["room_id"]
            quoted = urllib.parse.quote(room, safe="")
            await _call(http, base, me.access_token, "POST", f"{CLIENT_V3}/join/{quoted}", {})
            txn = f"bulk-{index}-{time.time_ns()}"
            sent = await _call(http, base, alice.access_token, "PUT",
                               f"{CLIENT_V3}/rooms/{quoted}/send/m.room.message/{txn}",
                               {"msgtype": "m.text", "body": f"unread {index}"})
            events[room] = sent["event_id"]

        for start in range(0, count, CHUNK):
            await asyncio.gather(*(one(i) for i in range(start, min(count, start + CHUNK))))
    return events


def _server_view(me: MatrixActor, rooms: dict[str, str]) -> dict[str, tuple[int, str | None]]:
    """For each room, from one fresh sync of mine: (notification count, the event my
    private receipt is on)."""
    sync_filter = {
        "room": {"timeline": {"limit": 1}, "state": {"lazy_load_members": True}},
        "presence": {"types": []},
        "account_data": {"types": []},
    }
    joined = me.sync(filter=sync_filter).get("rooms", {}).get("join", {})
    view = {}
    for room_id in rooms:
        room = joined.get(room_id, {})
        mine = None
        for event in room.get("ephemeral", {}).get("events", []):
            if event.get("type") == "m.receipt":
                for event_id, by_type in event["content"].items():
                    if me.user_id in by_type.get("m.read.private", {}):
                        mine = event_id
        view[room_id] = (room.get("unread_notifications", {}).get("notification_count", 0), mine)
    return view


def _queued(state: Path) -> int:
    document, problem = read_queue_file(state / QUEUE_FILE)
    assert problem is None, problem
    return 0 if document is None else len(document[0].requests)


def test_300_rooms_through_429s_and_a_sigkill_half_way(synapse, make_actor, xdg_dirs) -> None:
    me, alice = make_actor("me"), make_actor("alice")
    started = time.monotonic()
    rooms = asyncio.run(_seed_many(synapse.base_url, alice, me, ROOMS))
    setup = time.monotonic() - started
    assert len(rooms) == ROOMS
    me.wait_for(lambda: all(count == 1 for count, _ in _server_view(me, rooms).values()), timeout=120)
    print(f"\nseeding {ROOMS} rooms took {setup:.1f} s (+ {time.monotonic() - started - setup:.1f} s until counted)")
    state = paths.state_dir()

    async def scenario() -> tuple[int, str, str, int, float, float]:
        async with FaultProxy(synapse.base_url) as proxy:
            receipts = {"seen": 0, "passed": 0, "refused": 0}

            def rate_limited(request) -> bool:
                if request.method != "POST" or "/receipt/" not in request.path:
                    return False
                receipts["seen"] += 1
                limited = receipts["seen"] % 5 == 0  # one receipt POST in five
                receipts["refused" if limited else "passed"] += 1
                return limited

            proxy.add(Rule(rate_limited, times=10**9, status=429,
                           body={"errcode": "M_LIMIT_EXCEEDED", "error": "slow down", "retry_after_ms": 30}))
            save_session(Session(proxy.base_url, me.user_id, me.device_id, me.access_token))
            command = [sys.executable, "-m", "app", "mark", "--all"]
            first_started = time.monotonic()
            first = await asyncio.create_subprocess_exec(*command, cwd=REPO, env=os.environ.copy(),
                                                         stdout=asyncio.subprocess.PIPE,
                                                         stderr=asyncio.subprocess.PIPE)
            deadline = time.monotonic() + 300
            while receipts["passed"] < ROOMS // 2:
                assert first.returncode is None, "finished before it could be killed"
                assert time.monotonic() < deadline, receipts
                await asyncio.sleep(0.01)
            first.send_signal(signal.SIGKILL)
            await first.wait()
            first_run = time.monotonic() - first_started
            assert first.returncode == -signal.SIGKILL
            left = _queued(state)
            second_started = time.monotonic()
            second = await asyncio.create_subprocess_exec(*command, cwd=REPO, env=os.environ.copy(),
                                                          stdout=asyncio.subprocess.PIPE,
                                                          stderr=asyncio.subprocess.PIPE)
            out, err = await asyncio.wait_for(second.communicate(), 300)
            second_run = time.monotonic() - second_started
            assert receipts["refused"] > 0
            return second.returncode, out.decode(), err.decode(), left, first_run, second_run

    code, out, err, left, first_run, second_run = asyncio.run(scenario())
    print(f"first run killed after {first_run:.1f} s with {left} receipts queued; second run {second_run:.1f} s")
    assert code == 0, err
    assert "Traceback" not in err
    # Killed half-way: what had not been answered stayed in the file, and the next run sent it.
    assert 0 < left < ROOMS
    assert f"{left} receipt(s) an earlier run left were sent too" in out
    assert _queued(state) == 0
    view = me.wait_for(lambda: (v := _server_view(me, rooms)) and all(c == 0 for c, _ in v.values()) and v,
                       timeout=60)
    assert {room_id: mine for room_id, (_, mine) in view.items()} == rooms


def test_a_running_owner_gets_the_receipts_through_its_inbox(seeded, capsys) -> None:
    """Another process (a TUI) owns the profile: the bulk read is planned on its saved
    state and each request handed to its inbox; the queue file is never written here."""
    from app.matrix.queue import INBOX_DIR, ReceiptInbox
    from app.store.profile import ProfileLock

    me, alice, rooms, sent = seeded
    assert run(capsys, "status")[0] == 0  # the owner's saved state
    lock = ProfileLock(paths.state_dir())
    assert lock.acquire("tui")
    try:
        code, out, err = run(capsys, "mark", "--all")
    finally:
        lock.release()
    assert (code, err) == (0, ""), err
    assert out.startswith("handed 4 receipt(s) to ")
    handed = ReceiptInbox(paths.state_dir() / INBOX_DIR, me.user_id).waiting()
    assert sorted((r.room_id, r.event_id) for _, r in handed if r is not None) == sorted(
        (room_id, events[-1]) for room_id, events in sent.items()
    )
    assert not (paths.state_dir() / QUEUE_FILE).exists()
    assert all(my_receipts(me, room_id) == {} for room_id in rooms.values())


def test_a_short_lived_owner_is_waited_for_not_handed_to(seeded, capsys) -> None:
    """A `readmark status` holding the profile lets go within seconds and adopts no
    inbox: the bulk read waits for it, then owns the profile and sends itself."""
    import threading

    from app.store.profile import ProfileLock

    me, alice, rooms, sent = seeded
    lock = ProfileLock(paths.state_dir())
    assert lock.acquire("status")
    releaser = threading.Timer(0.5, lock.release)
    releaser.start()
    try:
        code, out, err = run(capsys, "mark", "--all")
    finally:
        releaser.join()
    assert code == 0, err
    assert out.strip().splitlines()[-1] == "read 4 room(s) (public 1, private 3): cleared 10 msgs"
    assert me.wait_for(lambda: my_receipts(me, rooms["DM"])) == {"m.read.private": sent[rooms["DM"]][-1]}


def test_a_room_the_server_refuses_stops_no_other(seeded, synapse) -> None:
    """The server refuses one room's receipt (403): that room is named with the reason,
    the others are read, exit 1."""
    me, alice, rooms, sent = seeded
    refused = rooms["Private room"]

    async def scenario() -> tuple[int, str, str]:
        async with FaultProxy(synapse.base_url) as proxy:
            proxy.add(Rule(lambda r: r.method == "POST" and f"/rooms/{refused}/receipt/" in r.path,
                           times=10**6, status=403, body={"errcode": "M_FORBIDDEN", "error": "not today"}))
            save_session(Session(proxy.base_url, me.user_id, me.device_id, me.access_token))
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "app", "mark", "--all", cwd=REPO, env=os.environ.copy(),
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            out, err = await asyncio.wait_for(process.communicate(), 120)
            return process.returncode, out.decode(), err.decode()

    code, out, err = asyncio.run(scenario())
    assert code == 1, (out, err)
    assert "Traceback" not in err
    lines = out.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("refused by the server: Private room: ") and "not today" in lines[0]
    # What it cleared counts the rooms read only: not the refused room's 3 messages.
    assert lines[1] == "read 3 room(s) (public 1, private 2): cleared 7 msgs"
    assert my_receipts(me, rooms["Private room"]) == {}
    for name in ("Public room", "Default room", "DM"):
        assert me.wait_for(lambda name=name: my_receipts(me, rooms[name]))
    assert _queued(paths.state_dir()) == 0


def test_a_room_name_cannot_forge_lines_of_the_dry_run(make_actor, capsys) -> None:
    me, alice = make_actor("me"), make_actor("alice")
    room = alice.create_room("Evil\nwould read (all): nothing\x1b[2J", preset="public_chat")
    me.join(room)
    alice.send_text(room, "unread")
    save_session(session_of(me))
    code, out, err = run(capsys, "mark", "--all", "--dry-run")
    assert code == 0, err
    lines = out.rstrip("\n").splitlines()
    assert len(lines) == 2 and "\x1b" not in out
    assert lines[0] == "  private  Evil would read (all): nothing[2J: 1 msg"


# ---- spaces by their rooms' parent claims; marked-unread flags --------------------------


def test_space_takes_a_room_by_its_parent_claim_when_the_sender_may_add_children(make_actor, capsys) -> None:
    """A space that lists no room: the rooms whose m.space.parent names it are in it when
    the claim's sender may send m.space.child there (alice, 100; carol, 50), not when
    they may not (bob, 49). The dry run lists the two, with their messages, and sends
    nothing."""
    seeded = seed_parent_claims(make_actor)
    save_session(session_of(seeded.me))
    code, out, err = run(capsys, "mark", "--space", seeded.space, "--dry-run", "--json")
    assert (code, err) == (0, ""), err
    document = json.loads(out)
    assert {r["room_id"]: r["messages"] for r in document["rooms"]} == {seeded.by_creator: 2, seeded.by_promoted: 1}
    assert document["total"]["messages"] == 3
    assert all(my_receipts(seeded.me, room_id) == {}
               for room_id in (seeded.by_creator, seeded.by_promoted, seeded.by_unpowered))


def test_all_clears_the_marked_unread_flags_for_every_device(make_actor, capsys) -> None:
    """Flags another client of mine set (the stable type in three rooms, one of them with
    nothing left to read; Famedly's in one): `mark --all` reads the rooms with unread and
    clears every flag; another device's fresh sync reads {"unread": false} in all four
    (the stable type, which readmark writes: Famedly's stays as that client left it), and
    readmark, from its cache and from a fresh start, shows none flagged."""
    seeded = seed_flags(make_actor)
    flagged = (seeded.stable, seeded.famedly, seeded.flag_only, seeded.outside)
    save_session(session_of(seeded.me))

    def shown_flags() -> dict[str, bool]:
        code, out, err = run(capsys, "status", "--json")
        assert code == 0, err
        return {r["room_id"]: r["marked_unread"] for r in json.loads(out)["rooms"] if r["room_id"] in flagged}

    assert shown_flags() == dict.fromkeys(flagged, True)
    code, out, err = run(capsys, "mark", "--all", "--json")
    assert code == 0, err
    document = json.loads(out)
    assert {r["room_id"]: (r["messages"], r["marked_unread"], r["outcome"]) for r in document["rooms"]} == {
        seeded.stable: (2, True, "sent"), seeded.famedly: (1, True, "sent"), seeded.outside: (1, True, "sent")}
    assert document["unflag"] == [seeded.flag_only]
    assert sorted(document["unflagged"]) == sorted(flagged)
    assert flags_in_fresh_sync(seeded.me, flagged) == {
        seeded.stable: {STABLE_FLAG: False},
        seeded.famedly: {STABLE_FLAG: False, FAMEDLY_FLAG: True},
        seeded.flag_only: {STABLE_FLAG: False},
        seeded.outside: {STABLE_FLAG: False},
    }
    assert shown_flags() == dict.fromkeys(flagged, False)
    cache.cache_path().unlink()
    assert shown_flags() == dict.fromkeys(flagged, False)


def test_all_says_how_many_flags_it_cleared(make_actor, capsys) -> None:
    """The text summary counts every flag the server took: those of the rooms read as
    well as the one of the room flagged with nothing to read (four, not one)."""
    seeded = seed_flags(make_actor)
    save_session(session_of(seeded.me))
    code, out, err = run(capsys, "mark", "--all")
    assert code == 0, err
    last = out.strip().splitlines()[-1]
    assert last.startswith("read 3 room(s) (public 0, private 3): cleared "), last
    assert last.endswith(", 4 marked-unread flag(s) cleared"), last
