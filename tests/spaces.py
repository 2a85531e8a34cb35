"""Spaces, parent claims, marked-unread flags and the server's own counts, seeded and
read on the real Synapse through ``MatrixActor`` (raw HTTP, no readmark code): shared
by the TUI tests (tests/ui/) and the CLI tests of spaces and bulk reads.

Rooms made here are public and joined without an invite where the server's counts are
compared: Synapse counts an invite's own notification once its 30 s rotation runs
(tests/matrix/record_sync.py), which would put one more in a room's count.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from app.devserver.actor import MatrixActor

CLIENT_V3 = "/_matrix/client/v3"
STABLE_FLAG = "m.marked_unread"
FAMEDLY_FLAG = "com.famedly.marked_unread"


def server_of(actor: MatrixActor) -> str:
    return actor.user_id.split(":", 1)[1]


def make_space(actor: MatrixActor, name: str, invite: Iterable[str] = (), preset: str = "private_chat") -> str:
    body = {"name": name, "preset": preset, "invite": list(invite), "creation_content": {"type": "m.space"}}
    return actor.request("POST", f"{CLIENT_V3}/createRoom", body)["room_id"]


def add_child(actor: MatrixActor, space_id: str, child_id: str) -> None:
    """``m.space.child`` in the space: the space lists the room."""
    actor.send_state(space_id, "m.space.child", {"via": [server_of(actor)]}, state_key=child_id)


def claim_parent(actor: MatrixActor, room_id: str, space_id: str) -> None:
    """``m.space.parent`` in the room, sent by ``actor``: the room names the space."""
    actor.send_state(room_id, "m.space.parent", {"via": [server_of(actor)]}, state_key=space_id)


def set_power(actor: MatrixActor, room_id: str, levels: dict[str, int]) -> None:
    """Give users their levels in the room (the rest of its power levels kept)."""
    path = f"{CLIENT_V3}/rooms/{urllib.parse.quote(room_id, safe='')}/state/m.room.power_levels/"
    content = actor.request("GET", path)
    content["users"] = {**content.get("users", {}), **levels}
    actor.send_state(room_id, "m.room.power_levels", content)


def set_flag(actor: MatrixActor, room_id: str, unread: bool, event_type: str = STABLE_FLAG) -> None:
    """What another client of mine does: the room's marked-unread account data."""
    user = urllib.parse.quote(actor.user_id, safe="")
    room = urllib.parse.quote(room_id, safe="")
    actor.request("PUT", f"{CLIENT_V3}/user/{user}/rooms/{room}/account_data/{event_type}", {"unread": unread})


def flags_in_fresh_sync(actor: MatrixActor, room_ids: Iterable[str]) -> dict[str, dict[str, object]]:
    """What another device of mine sees: one fresh initial sync, each room's
    marked-unread account data, {room: {event type: its "unread"}} (a type absent from
    the room's account data is absent here).

    No ``rooms`` list in the filter: with one, Synapse 1.163 leaves every room's
    account data out of the answer (measured)."""
    rooms = list(room_ids)
    sync_filter = {
        "room": {
            "timeline": {"limit": 1},
            "state": {"types": []},
            "ephemeral": {"types": []},
            "account_data": {"types": [STABLE_FLAG, FAMEDLY_FLAG]},
        },
        "presence": {"types": []},
        "account_data": {"types": []},
    }
    joined = actor.sync(filter=sync_filter).get("rooms", {}).get("join", {})
    return {
        room_id: {
            event["type"]: event.get("content", {}).get("unread")
            for event in joined.get(room_id, {}).get("account_data", {}).get("events", [])
        }
        for room_id in rooms
    }


@dataclass(frozen=True)
class ServerCounts:
    """Synapse's counts of one room for one user (``MatrixActor.unread_counts``): the
    main timeline's, and each thread's with a count."""

    notifications: int
    highlights: int
    threads: dict[str, tuple[int, int]]

    @property
    def messages(self) -> int:
        return self.notifications + sum(n for n, _ in self.threads.values())

    @property
    def mentions(self) -> int:
        return self.highlights + sum(h for _, h in self.threads.values())

    @property
    def unread_threads(self) -> int:
        return sum(1 for n, _ in self.threads.values() if n > 0)


def server_counts(actor: MatrixActor, room_ids: Iterable[str]) -> dict[str, ServerCounts]:
    return {room_id: ServerCounts(*actor.unread_counts(room_id)) for room_id in room_ids}


def counts_once(actor: MatrixActor, room_ids: Iterable[str],
                expected: Callable[[dict[str, ServerCounts]], bool], timeout: float = 20.0) -> dict[str, ServerCounts]:
    """Synapse counts asynchronously: its counts of ``room_ids`` once ``expected``
    holds of them."""
    rooms = list(room_ids)
    return actor.wait_for(lambda: (found := server_counts(actor, rooms)) and expected(found) and found, timeout)


@dataclass(frozen=True)
class ParentClaims:
    """A space that lists no room, and three public rooms that claim it as their
    parent: by its creator (alice, 100 there), by carol (given 50 in the space, the
    ``m.space.child`` level: ``state_default``), and by bob (given 49 there: too low,
    the claim does not count). Alice's two unread messages in hers, carol's one, bob's
    three."""

    me: MatrixActor
    alice: MatrixActor
    bob: MatrixActor
    space: str
    by_creator: str
    by_promoted: str
    by_unpowered: str


def seed_parent_claims(make_actor: Callable[..., MatrixActor]) -> ParentClaims:
    alice, bob, carol, me = make_actor("alice"), make_actor("bob"), make_actor("carol"), make_actor("me")
    space = make_space(alice, "Parents", preset="public_chat")
    set_power(alice, space, {carol.user_id: 50, bob.user_id: 49})
    rooms = {}
    for actor, name in ((alice, "Claimed by alice"), (carol, "Claimed by carol"), (bob, "Claimed by bob")):
        room = rooms[name] = actor.create_room(name, preset="public_chat")
        claim_parent(actor, room, space)
    for room_id in (space, *rooms.values()):
        me.join(room_id)
    unread = ((alice, "Claimed by alice", 2), (carol, "Claimed by carol", 1), (bob, "Claimed by bob", 3))
    for actor, name, count in unread:
        for i in range(count):
            actor.send_text(rooms[name], f"message {i}")
    return ParentClaims(me, alice, bob, space, rooms["Claimed by alice"], rooms["Claimed by carol"],
                        rooms["Claimed by bob"])


@dataclass(frozen=True)
class Flags:
    """A space of three public rooms my other client flagged unread: "Flagged here"
    (the stable type, two unread messages of alice's), "Flagged by Famedly" (Famedly's
    unstable type, one), "Flag only" (the stable type, its one message read by my
    private receipt: nothing left to read); and "Flagged outside" (the stable type, one
    message), in no space."""

    me: MatrixActor
    alice: MatrixActor
    space: str
    stable: str
    famedly: str
    flag_only: str
    outside: str


def seed_flags(make_actor: Callable[..., MatrixActor]) -> Flags:
    alice, me = make_actor("alice"), make_actor("me")
    space = make_space(alice, "Flags", preset="public_chat")
    names = ("Flagged here", "Flagged by Famedly", "Flag only", "Flagged outside")
    stable, famedly, flag_only, outside = (alice.create_room(name, preset="public_chat") for name in names)
    for room_id in (stable, famedly, flag_only):
        add_child(alice, space, room_id)
    for room_id in (space, stable, famedly, flag_only, outside):
        me.join(room_id)
    for i in range(2):
        alice.send_text(stable, f"flagged {i}")
    alice.send_text(famedly, "flagged by another app")
    read = alice.send_text(flag_only, "read on my phone")
    me.send_receipt(flag_only, read, "m.read.private")
    alice.send_text(outside, "not in the space")
    for room_id, event_type in ((stable, STABLE_FLAG), (famedly, FAMEDLY_FLAG), (flag_only, STABLE_FLAG),
                                (outside, STABLE_FLAG)):
        set_flag(me, room_id, True, event_type)
    return Flags(me, alice, space, stable, famedly, flag_only, outside)
