"""The demo account: a deterministic, realistic Matrix account worth triaging.

``seed_demo_account(base_url, peer_stores=...)`` registers ``@demo`` and four colleagues
(Alice, Bob, Carol, Dan) on a local homeserver and fills thirteen rooms with fixed
work-chat texts: team channels with 1-6 threads of 1-15 replies, a DM, a room named only by
its alias, a busy room of 200+ messages (an initial sync with a small timeline limit has a
gap), a calm fully read room, a pending invite, and two end-to-end encrypted rooms: a team
room with threads and a DM whose message mentions the demo user by ``m.mentions`` (the
server cannot read it, so only a client that decrypts it sees the mention). It places the
demo user's receipts (public and private, threaded, ``main`` and unthreaded) and fully-read
markers at known points, and other users' public receipts at different points, and returns
a ``DemoAccount`` that records all of it so tests can check what the server holds.

Speed: the server takes a while over each event (SQLite), and a seed sends ~500. Each room's
script is a generator: the part before its ``yield`` (room creation, joins, the bulk of the
messages) runs in a small thread pool, rooms side by side; the part after it runs afterwards,
one room at a time in a fixed order, so the rooms' latest activity (what a client sorts by)
comes out in the same order on every run. Rate limits are not handled: the launcher turns
them off.

Encrypted rooms: the colleagues post there through encrypting clients (``Peers``, nio
behind ``app.matrix``), which share their room keys with the devices that have keys when
they send. The demo user's reading device must therefore upload its keys before the first
encrypted room exists: ``prepare_demo_device`` is called for that once the demo user is
registered. The demo user's own receipts there go out over plain HTTP, as everywhere.

Otherwise the standard library and the raw-HTTP actor only: no nio, no textual.
"""

from __future__ import annotations

import html
import json
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from app.devserver.actor import CLIENT_V3, MatrixActor, MatrixHttpError
from app.devserver.peers import Peers

# Bump when the seeded content changes: a demo data dir seeded by another version is re-seeded.
SEED_VERSION = 4

DEMO_KEY = "demo"
DEMO_DISPLAY_NAME = "Demo"
DEMO_PASSWORD = "demo-password"
# Fixed, and only ever valid on a loopback-only demo server.
_COLLEAGUES = (("alice", "Alice"), ("bob", "Bob"), ("carol", "Carol"), ("dan", "Dan"))

MAIN = "main"
_POOL_WORKERS = 2


# -- what the seed returns ---------------------------------------------------------------


@dataclass(frozen=True)
class DemoUser:
    key: str  # "demo", "alice", ...
    user_id: str
    password: str = field(repr=False)
    display_name: str


@dataclass(frozen=True)
class SeededThread:
    room: str
    title: str
    root_id: str
    reply_ids: tuple[str, ...]


@dataclass(frozen=True)
class SeededReceipt:
    """One receipt or marker the seed placed. ``thread_id`` is None for an unthreaded receipt
    (and for ``m.fully_read``), ``"main"`` or a thread root otherwise."""

    room: str
    user_id: str
    receipt_type: str  # "m.read", "m.read.private" or "m.fully_read"
    thread_id: str | None
    event_id: str
    note: str


@dataclass(frozen=True)
class SeededRelation:
    room: str
    kind: str  # "reaction", "edit" or "redaction"
    event_id: str
    target_id: str


@dataclass(frozen=True)
class SeededMention:
    """A message that mentions the demo user (a highlight for them) in ``thread_id``."""

    room: str
    thread_id: str
    event_id: str


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class DemoAccount:
    """Everything the seed made, by short room names ("ops", "design", "ci", ...)."""

    base_url: str
    server_name: str
    user_id: str
    password: str = field(repr=False)
    display_name: str
    others: Mapping[str, DemoUser]  # "alice" -> DemoUser
    rooms: Mapping[str, str]  # rooms the demo user joined: short name -> room ID
    invites: Mapping[str, str]  # rooms the demo user is invited to
    room_names: Mapping[str, str]  # what a client should display for each room
    members: Mapping[str, tuple[str, ...]]  # short room name -> keys of the other users in it
    threads: Mapping[str, tuple[SeededThread, ...]]
    message_counts: Mapping[str, int]  # m.room.message events per room, edits not included
    receipts: tuple[SeededReceipt, ...]
    relations: tuple[SeededRelation, ...]
    mentions: tuple[SeededMention, ...]
    events_sent: int
    seed_seconds: float
    encrypted: tuple[str, ...] = ()  # short names of the end-to-end encrypted rooms
    # The spaces the demo user joined: short name -> room ID, and each one's children
    # (short names of rooms and of sub-spaces).
    spaces: Mapping[str, str] = field(default_factory=dict)
    space_children: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    seed_version: int = SEED_VERSION

    def thread_roots(self, room: str) -> tuple[str, ...]:
        return tuple(thread.root_id for thread in self.threads.get(room, ()))

    def receipts_in(self, room: str) -> tuple[SeededReceipt, ...]:
        return tuple(receipt for receipt in self.receipts if receipt.room == room)

    def to_json(self) -> dict[str, Any]:
        return {
            "seed_version": self.seed_version,
            "base_url": self.base_url,
            "server_name": self.server_name,
            "user_id": self.user_id,
            "password": self.password,
            "display_name": self.display_name,
            "others": {key: _user_json(user) for key, user in self.others.items()},
            "rooms": dict(self.rooms),
            "invites": dict(self.invites),
            "room_names": dict(self.room_names),
            "members": {room: list(keys) for room, keys in self.members.items()},
            "threads": {
                room: [
                    {"title": t.title, "root_id": t.root_id, "reply_ids": list(t.reply_ids)}
                    for t in threads
                ]
                for room, threads in self.threads.items()
            },
            "message_counts": dict(self.message_counts),
            "receipts": [vars(receipt) for receipt in self.receipts],
            "relations": [vars(relation) for relation in self.relations],
            "mentions": [vars(mention) for mention in self.mentions],
            "events_sent": self.events_sent,
            "seed_seconds": self.seed_seconds,
            "encrypted": list(self.encrypted),
            "spaces": dict(self.spaces),
            "space_children": {space: list(children) for space, children in self.space_children.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DemoAccount:
        return cls(
            base_url=data["base_url"],
            server_name=data["server_name"],
            user_id=data["user_id"],
            password=data["password"],
            display_name=data["display_name"],
            others=_frozen({key: DemoUser(**user) for key, user in data["others"].items()}),
            rooms=_frozen(data["rooms"]),
            invites=_frozen(data["invites"]),
            room_names=_frozen(data["room_names"]),
            members=_frozen({room: tuple(keys) for room, keys in data["members"].items()}),
            threads=_frozen({
                room: tuple(
                    SeededThread(room, t["title"], t["root_id"], tuple(t["reply_ids"])) for t in threads
                )
                for room, threads in data["threads"].items()
            }),
            message_counts=_frozen(data["message_counts"]),
            receipts=tuple(SeededReceipt(**receipt) for receipt in data["receipts"]),
            relations=tuple(SeededRelation(**relation) for relation in data["relations"]),
            mentions=tuple(SeededMention(**mention) for mention in data["mentions"]),
            events_sent=data["events_sent"],
            seed_seconds=data["seed_seconds"],
            encrypted=tuple(data.get("encrypted", ())),
            spaces=_frozen(data.get("spaces", {})),
            space_children=_frozen({k: tuple(v) for k, v in data.get("space_children", {}).items()}),
            seed_version=data.get("seed_version", 0),
        )

    def with_base_url(self, base_url: str) -> DemoAccount:
        """The same account on a server that moved to another port."""
        return replace(self, base_url=base_url)


def _user_json(user: DemoUser) -> dict[str, str]:
    return {"key": user.key, "user_id": user.user_id, "password": user.password,
            "display_name": user.display_name}


# -- accounts ------------------------------------------------------------------------------


def register_or_login(base_url: str, localpart: str, password: str) -> MatrixActor:
    """Register ``localpart``; if the name is taken (a re-seed), log in with the same password."""
    try:
        return MatrixActor.register(base_url, localpart, password)
    except MatrixHttpError as error:
        if error.errcode != "M_USER_IN_USE":
            raise
    return MatrixActor.login(base_url, localpart, password)


def set_display_name(actor: MatrixActor, display_name: str) -> None:
    actor.request("PUT", f"{CLIENT_V3}/profile/{_quote(actor.user_id)}/displayname",
                  {"displayname": display_name})


def _quote(part: str) -> str:
    return urllib.parse.quote(part, safe="")


INVITE_FOR_ME = ".m.rule.invite_for_me"


def _invite_rule_path(actor: MatrixActor) -> str:
    return f"{CLIENT_V3}/pushrules/global/override/{INVITE_FOR_ME}/enabled"


def invites_notify(actor: MatrixActor) -> bool:
    return bool(actor.request("GET", _invite_rule_path(actor))["enabled"])


def set_invites_notify(actor: MatrixActor, enabled: bool) -> None:
    """Turn the user's ``.m.rule.invite_for_me`` push rule on or off.

    The seed turns it off for the demo user while it invites them, and back to what it was
    once done. Synapse 1.163 would otherwise keep the invite's notification in its push
    actions; for a user with no receipt in the room it counts from their join on the direct
    path, but its summary, summed every 30 s, holds every notification of the room, the
    invite included, and once a summary ends after the join it answers with it: the DMs the
    demo user joined by invite and has no receipt in count one more than they hold (4
    instead of 3) for good, once a run falls after the room's first message and the cached
    count is recomputed. Whether one does is timing. An invite that does not notify leaves
    nothing before the join to count. The rooms, messages and receipts are the same.
    """
    actor.request("PUT", _invite_rule_path(actor), {"enabled": enabled})


# -- the per-room writer ---------------------------------------------------------------------


class _Room:
    """One room being seeded: sends as any member, remembers what it made.

    Thread replies are built here rather than with ``MatrixActor.send_thread_reply`` because
    the writer knows each thread's latest event: that saves a /relations request per reply.
    """

    def __init__(self, seeder: _Seeder, key: str) -> None:
        self.seeder = seeder
        self.key = key
        self.room_id = ""
        self.display = ""
        self.members: list[str] = []
        self.events_sent = 0
        self.messages = 0
        self.threads: dict[str, list[str]] = {}  # root -> replies
        self.thread_titles: dict[str, str] = {}
        self.latest_in_thread: dict[str, str] = {}
        self.latest_in_main: str | None = None
        self.latest_message: str | None = None
        self.encrypted = False

    # - membership -
    def create(self, creator: str, *, name: str | None, display: str, joiners: Sequence[str] = (),
               invite: Sequence[str] = (), preset: str = "public_chat", alias: str | None = None,
               topic: str | None = None, is_direct: bool = False) -> str:
        actor = self.seeder.actor(creator)
        body: dict[str, Any] = {"preset": preset, "invite": [self.seeder.user_id(k) for k in invite],
                                "is_direct": is_direct}
        if name is not None:
            body["name"] = name
        if topic is not None:
            body["topic"] = topic
        if alias is not None:
            alias = f"{alias}{self.seeder.suffix}"
            body["room_alias_name"] = alias
        try:
            self.room_id = actor.request("POST", f"{CLIENT_V3}/createRoom", body)["room_id"]
        except MatrixHttpError as error:
            if alias is None or error.errcode != "M_ROOM_IN_USE":
                raise
            # A re-seed of a server that already has the alias: take a numbered one.
            alias = f"{alias}-{int(time.time())}"
            body["room_alias_name"] = alias
            self.room_id = actor.request("POST", f"{CLIENT_V3}/createRoom", body)["room_id"]
        self.display = f"#{alias}:{self.seeder.server_name}" if alias is not None else display
        self.members = [creator]
        for key in joiners:
            self.seeder.actor(key).join(self.room_id)
            self.members.append(key)
        return self.room_id

    def create_encrypted(self, creator: str, *, name: str | None, display: str, joiners: Sequence[str],
                         is_direct: bool = False) -> str:
        """An end-to-end encrypted room (encrypted from its first event), made by the
        creator's encrypting client; the colleagues join through theirs, so their clients
        follow the room's members and share room keys with them, and the demo user joins
        over plain HTTP (readmark only reads)."""
        invite = [self.seeder.user_id(key) for key in joiners]
        self.room_id = self.seeder.peers.create_encrypted_room(creator, name, invite, is_direct=is_direct)
        self.display = display
        self.encrypted = True
        self.members = [creator]
        for key in joiners:
            if key == DEMO_KEY:
                self.seeder.actor(key).join(self.room_id)
            else:
                self.seeder.peers.join(key, self.room_id)
            self.members.append(key)
        return self.room_id

    def join(self, key: str) -> None:
        self.seeder.actor(key).join(self.room_id)
        self.members.append(key)

    def direct(self, one: str, other: str) -> None:
        """Both users list the room as their DM with each other (``m.direct``, written once
        seeding is done: it is one account-data event for all of a user's DMs)."""
        self.seeder.direct.append((one, other, self.room_id))
        self.seeder.direct.append((other, one, self.room_id))

    # - events -
    def _send(self, sender: str, event_type: str, content: Mapping[str, Any]) -> str:
        if self.encrypted:
            if sender == DEMO_KEY:
                raise ValueError(f"seed script: the demo user has no encrypting client to send in {self.key}")
            event_id = self.seeder.peers.send_event(sender, self.room_id, event_type, dict(content))
        else:
            event_id = self.seeder.actor(sender).send_event(self.room_id, event_type, content)
        self.events_sent += 1
        return event_id

    def say(self, sender: str, text: str, *, mention: Sequence[str] = ()) -> str:
        event_id = self._send(sender, "m.room.message", self.seeder.text_content(text, mention))
        self.messages += 1
        self.latest_in_main = self.latest_message = event_id
        self._note_mentions(event_id, MAIN, mention)
        return event_id

    def thread(self, sender: str, title: str, *, mention: Sequence[str] = ()) -> str:
        """A main-timeline message that later replies make a thread root."""
        root = self.say(sender, title, mention=mention)
        self.threads[root] = []
        self.thread_titles[root] = title
        self.latest_in_thread[root] = root
        return root

    def reply(self, root: str, sender: str, text: str, *, mention: Sequence[str] = ()) -> str:
        content = self.seeder.text_content(text, mention)
        content["m.relates_to"] = {
            "rel_type": "m.thread",
            "event_id": root,
            "is_falling_back": True,
            "m.in_reply_to": {"event_id": self.latest_in_thread[root]},
        }
        event_id = self._send(sender, "m.room.message", content)
        self.messages += 1
        self.threads[root].append(event_id)
        self.latest_in_thread[root] = event_id
        self.latest_message = event_id
        self._note_mentions(event_id, root, mention)
        return event_id

    def replies(self, root: str, lines: Sequence[tuple[str, str]]) -> list[str]:
        return [self.reply(root, sender, text) for sender, text in lines]

    def react(self, sender: str, target: str, key: str) -> str:
        event_id = self._send(sender, "m.reaction", {
            "m.relates_to": {"rel_type": "m.annotation", "event_id": target, "key": key},
        })
        self.seeder.relations.append(SeededRelation(self.key, "reaction", event_id, target))
        return event_id

    def edit(self, sender: str, target: str, new_text: str) -> str:
        event_id = self._send(sender, "m.room.message", {
            "msgtype": "m.text",
            "body": f"* {new_text}",
            "m.new_content": {"msgtype": "m.text", "body": new_text},
            "m.relates_to": {"rel_type": "m.replace", "event_id": target},
        })
        self.seeder.relations.append(SeededRelation(self.key, "edit", event_id, target))
        return event_id

    def redact(self, sender: str, target: str) -> str:
        event_id = self.seeder.actor(sender).redact(self.room_id, target)
        self.events_sent += 1
        self.seeder.relations.append(SeededRelation(self.key, "redaction", event_id, target))
        return event_id

    # - read state -
    def receipt(self, reader: str, event_id: str, receipt_type: str = "m.read", *,
                thread_id: str | None, note: str) -> None:
        if reader == DEMO_KEY:
            self._check_receipt_is_prompt(event_id, thread_id, note)
        self.seeder.actor(reader).send_receipt(self.room_id, event_id, receipt_type, thread_id=thread_id)
        self.seeder.receipts.append(
            SeededReceipt(self.key, self.seeder.user_id(reader), receipt_type, thread_id, event_id, note))

    def _check_receipt_is_prompt(self, event_id: str, thread_id: str | None, note: str) -> None:
        """The demo user's receipts go out while their event is the latest message of what they
        cover (the thread, the main timeline, or the room for an unthreaded one).

        Synapse 1.163 sums notifications every 30 s into a per-thread summary. A user's first
        receipt in a thread that points behind messages already summed is not applied to that
        summary until the next run, and the counts /sync reports are cached until the room
        changes again: the server column then shows the messages before the receipt as
        unread, for good (measured: 3 instead of 1 after 80 s and two runs). Whether a run
        falls in between is timing, so a seed that read "up to here" late would show wrong
        server counts now and then. A receipt sent while its event is the latest one is
        always counted right.
        """
        latest = (self.latest_message if thread_id is None
                  else self.latest_in_main if thread_id == MAIN
                  else self.latest_in_thread.get(thread_id))
        if event_id != latest:
            raise ValueError(f"seed script: the demo user's receipt ({note}) must be sent right after "
                             f"its event, before later messages in {thread_id or 'the room'}")

    def fully_read(self, reader: str, event_id: str, *, note: str) -> None:
        self.seeder.actor(reader).set_read_markers(self.room_id, fully_read=event_id)
        self.seeder.receipts.append(
            SeededReceipt(self.key, self.seeder.user_id(reader), "m.fully_read", None, event_id, note))

    def _note_mentions(self, event_id: str, thread_id: str, mention: Sequence[str]) -> None:
        if DEMO_KEY in mention:
            self.seeder.mentions.append(SeededMention(self.key, thread_id, event_id))


class _Seeder:
    def __init__(self, base_url: str, actors: Mapping[str, MatrixActor], users: Mapping[str, DemoUser],
                 suffix: str, peers: Peers) -> None:
        self.base_url = base_url
        self.actors = actors
        self.users = users
        self.suffix = suffix
        self.peers = peers
        self.direct: list[tuple[str, str, str]] = []  # (user key, other user key, room ID)
        self.server_name = users[DEMO_KEY].user_id.split(":", 1)[1]
        # Appended to from pool threads: list.append is atomic, and every record names its room.
        self.receipts: list[SeededReceipt] = []
        self.relations: list[SeededRelation] = []
        self.mentions: list[SeededMention] = []

    def actor(self, key: str) -> MatrixActor:
        return self.actors[key]

    def write_direct(self) -> None:
        by_user: dict[str, dict[str, list[str]]] = {}
        for key, other, room_id in self.direct:
            by_user.setdefault(key, {}).setdefault(self.user_id(other), []).append(room_id)
        for key, content in by_user.items():
            self.actor(key).request(
                "PUT", f"{CLIENT_V3}/user/{_quote(self.user_id(key))}/account_data/m.direct", content)

    def user_id(self, key: str) -> str:
        return self.users[key].user_id

    def text_content(self, text: str, mention: Sequence[str]) -> dict[str, Any]:
        """An m.text message; each mentioned user goes in ``m.mentions`` (what makes Synapse
        highlight it) and, where the text names them, becomes a pill in the HTML body."""
        content: dict[str, Any] = {"msgtype": "m.text", "body": text}
        if not mention:
            return content
        formatted = html.escape(text)
        for key in mention:
            user = self.users[key]
            link = f'<a href="https://matrix.to/#/{html.escape(user.user_id)}">{html.escape(user.display_name)}</a>'
            formatted = formatted.replace(html.escape(user.display_name), link, 1)
        content["format"] = "org.matrix.custom.html"
        content["formatted_body"] = formatted
        content["m.mentions"] = {"user_ids": [self.user_id(key) for key in mention]}
        return content


# -- the rooms -------------------------------------------------------------------------------
# Each script runs up to its ``yield`` in the pool, and the rest in room order afterwards.

RoomScript = Callable[[_Room], Iterator[None]]


def _ops(r: _Room) -> Iterator[None]:
    r.create("alice", name="Ops", display="Ops", joiners=["bob", "carol", "dan", "demo"],
             topic="Production, on-call and deploys")
    r.say("alice", "Morning all. Reminder: the change freeze starts Thursday 18:00.")
    ack = r.say("bob", "Ack. I still have two PRs to land before that.")
    r.receipt("demo", ack, thread_id=MAIN, note="public main receipt early in Ops")
    disk = r.thread("dan", "Disk alert on db-2: 81% and climbing")
    r.reply(disk, "carol", "Logrotate was stuck again, fixed. Back to 64%.")
    deploy = r.thread("alice", "Deploy plan for Friday")
    db = r.reply(deploy, "bob", "I can take the DB migration part")
    r.reply(deploy, "carol", "Frontend is ready, feature flag off by default")
    r.reply(deploy, "demo", "I'll write the rollback steps")
    read_here = r.reply(deploy, "alice", "Great, thanks. Doc is linked in the channel topic")
    r.receipt("demo", read_here, thread_id=deploy,
              note="public threaded receipt in 'Deploy plan for Friday', after the demo user's own reply")
    r.react("alice", db, "👍")
    postmortem = r.thread("carol", "Incident 4521 postmortem draft is up, comments welcome")
    r.replies(postmortem, [
        ("bob", "The timeline is missing the 02:14 page"),
        ("carol", "Added, thanks"),
        ("dan", "Root cause wording is soft. It was the retry storm, let's say so"),
        ("alice", "Agree with Dan"),
        ("carol", "Updated. I'll close comments on Wednesday"),
    ])
    certs = r.thread("bob", "Who owns the staging certs? They expire in 9 days.")
    r.replies(certs, [
        ("dan", "Me, I'll rotate them tomorrow"),
        ("bob", "There's a runbook: ops/runbooks/certs.md"),
        ("dan", "Done, new expiry is in 90 days"),
    ])
    r.reply(deploy, "dan", "Infra side: I need a 30 min maintenance window, 07:00 ok?")
    r.reply(deploy, "alice", "Demo, can you confirm the rollback steps cover the queue workers?", mention=["demo"])
    r.reply(deploy, "demo", "Yes, added a section for the workers")
    r.reply(deploy, "bob", "Migration dry run passed on staging ✅")
    r.say("dan", "Demo: can you approve the firewall change? It's blocking the VPN rollout.", mention=["demo"])
    thanks = r.say("alice", "Thanks everyone for the quick response yesterday 🙏")
    r.react("bob", thanks, "🙏")
    r.react("carol", thanks, "❤️")
    rota = r.say("carol", "Pager rotation for next week is in the sheet")
    r.edit("carol", rota, "Pager rotation for next week is in the sheet (Dan and Bob swapped Tuesday)")
    yield
    r.reply(deploy, "carol", "Release notes draft is in the doc")
    r.say("bob", "Standup moved to 10:15 today")


_SIDEBAR = [
    ("alice", "Love the collapsed state"),
    ("bob", "The unread dot is hard to see in dark mode"),
    ("carol", "Good catch, I'll bump the contrast"),
    ("alice", "Can sections be reordered by drag?"),
    ("carol", "Yes, in v3 they can. Prototype link in the file"),
    ("bob", "Drag handles only show on hover, is that discoverable?"),
    ("demo", "Keyboard users need a way too: maybe alt+up/down"),
    ("carol", "Added alt+arrows to the spec"),
    ("alice", "What happens with 200 rooms? Does it virtualise?"),
    ("bob", "It has to, the current one stutters at 150"),
    ("carol", "Engineering said yes, windowed list"),
    ("alice", "Then I'm happy with v3 👍"),
]
_DARK_MODE = [
    ("alice", "Which tool did you use for the audit?"),
    ("bob", "axe plus a manual pass on the three main screens"),
    ("carol", "How many failures?"),
    ("bob", "14, most of them secondary text on panels"),
    ("alice", "Secondary text is #8a8a8a on #1e1e1e, right?"),
    ("bob", "Yes, 4.1:1, we need 4.5"),
    ("carol", "Lightening it to #9a9a9a gets 5.0"),
    ("alice", "Does that break the hierarchy with primary text?"),
    ("carol", "A little. Could use weight instead"),
    ("bob", "Weight changes line height in the list, careful"),
    ("carol", "Then colour only, I'll mock both"),
    ("alice", "Links also failed, the blue on dark panels"),
    ("bob", "That one is 3.2:1, the worst of the lot"),
    ("carol", "Switching to the lighter blue from the tokens"),
    ("bob", "Re-ran the audit with both changes: 0 failures"),
]


def _design(r: _Room) -> Iterator[None]:
    r.create("carol", name="Design review", display="Design review", joiners=["alice", "bob", "demo"],
             topic="Weekly review, Thursdays 14:00")
    r.say("carol", "Agenda for Thursday's review is pinned")
    public_here = r.say("alice", "Can we add the onboarding flow to the agenda?")
    r.receipt("demo", public_here, thread_id=MAIN, note="public main receipt in Design review, behind the private one")
    sidebar = r.thread("carol", "Sidebar mockups v3")
    sidebar_replies = r.replies(sidebar, _SIDEBAR[:7])
    tokens = r.thread("bob", "Colour tokens: proposal to drop the three grey variants")
    r.replies(tokens, [
        ("carol", "Which ones would stay?"),
        ("bob", "grey-500 and grey-700"),
        ("alice", "Charts use grey-300 for gridlines"),
        ("bob", "Gridlines could move to the border token"),
        ("carol", "OK for me if charts are checked"),
        ("alice", "I'll check the charts"),
    ])
    empty = r.thread("alice", "Empty states copy")
    r.replies(empty, [
        ("carol", "'Nothing here yet' feels cold"),
        ("bob", "'All caught up' for the inbox at least"),
        ("alice", "Taking both, thanks"),
    ])
    private_here = r.thread("carol", "Icon set licence question")
    r.receipt("demo", private_here, "m.read.private", thread_id=MAIN,
              note="private main receipt in Design review, ahead of the public one")
    r.reply(private_here, "bob", "It's MIT, we're fine")
    r.react("alice", sidebar, "🎉")
    dark = r.thread("bob", "Dark mode contrast audit results")
    dark_replies = r.replies(dark, _DARK_MODE)
    r.react("carol", dark_replies[-1], "👀")
    r.receipt("demo", sidebar_replies[-1], "m.read.private", thread_id=sidebar,
              note="private threaded receipt in 'Sidebar mockups v3', after the demo user's own reply")
    r.replies(sidebar, _SIDEBAR[7:])
    r.say("alice", "Figma file moved to the new team space")
    r.say("carol", "Demo, could you review the a11y notes before Thursday?", mention=["demo"])
    yield
    late = r.say("bob", "I'll be 5 min late to the review")
    r.edit("bob", late, "I'll be 10 min late to the review")


def _release(r: _Room) -> Iterator[None]:
    r.create("bob", name="Release train", display="Release train", joiners=["alice", "dan", "demo"],
             topic="2.14 ships Tuesday")
    r.say("bob", "Release 2.14 branch cut from main at 09:00")
    r.say("dan", "CI is green on the release branch")
    changelog = r.thread("alice", "Changelog for 2.14")
    fully_read_here = changelog
    r.replies(changelog, [
        ("bob", "Don't forget the receipts fix"),
        ("alice", "Added"),
    ])
    safari = r.thread("bob", "Blocker: login regression on Safari")
    r.replies(safari, [
        ("dan", "Reproduced on Safari 17, not on 18"),
        ("alice", "It's the cookie SameSite change"),
        ("bob", "Revert or fix forward?"),
    ])
    r.say("dan", "Packages built for arm64 and x86_64")
    qa = r.thread("alice", "QA sign-off: 2.14-rc1")
    r.reply(qa, "bob", "Smoke tests passed")
    read_here = r.say("bob", "rc2 tagged")
    r.fully_read("demo", fully_read_here, note="fully-read marker in Release train, behind the read receipt")
    r.receipt("demo", read_here, thread_id=None, note="unthreaded public receipt in Release train")
    r.replies(changelog, [("dan", "Packaging notes added at the bottom"), ("bob", "LGTM")])
    r.replies(safari, [
        ("alice", "Fix forward, the patch is small"),
        ("dan", "Verified on Safari 17 with rc2"),
        ("bob", "Closing the blocker"),
    ])
    r.reply(qa, "alice", "rc2 signed off as well")
    r.say("dan", "Staged rollout at 10%")
    r.say("alice", "No new errors in the dashboard after an hour")
    yield
    r.say("bob", "Going to 50% after lunch")


def _support(r: _Room) -> Iterator[None]:
    r.create("dan", name="Support", display="Support", joiners=["alice", "bob", "carol", "demo"],
             topic="Escalations from the help desk")
    first = r.say("dan", "Ticket 8812: customer can't export CSV over 10k rows")
    export = r.thread("alice", "Ticket 8812 triage")
    r.replies(export, [
        ("bob", "Timeout in the export worker, 30 s limit"),
        ("dan", "Bumping it is a band-aid, can we stream?"),
    ])
    alice_here = r.say("carol", "Ticket 8830: SSO loop for one tenant")
    sso = r.thread("carol", "SSO loop, tenant acme-eu")
    sso_replies = r.replies(sso, [
        ("dan", "Their IdP clock is 6 minutes off"),
        ("alice", "We allow 5 minutes skew"),
        ("carol", "Told them to fix NTP"),
    ])
    bob_here = r.say("bob", "Demo, the help desk asked for you on 8841, billing question", mention=["demo"])
    refunds = r.thread("dan", "Refund policy for annual plans?")
    r.replies(refunds, [
        ("alice", "Pro-rated after 30 days"),
        ("bob", "Is that written down anywhere?"),
        ("dan", "Wiki page 'Billing FAQ', section 3"),
        ("carol", "That page is from 2022, I'll refresh it"),
    ])
    r.reply(refunds, "alice", "Demo, can you sign off on the new wording?", mention=["demo"])
    r.say("alice", "Queue is down to 12 open tickets 🎉")
    yield
    latest = r.say("dan", "Demo: reminder, on-call handover at 17:00", mention=["demo"])
    r.receipt("alice", alice_here, thread_id=None, note="Alice read Support up to the SSO ticket")
    r.receipt("bob", bob_here, thread_id=MAIN, note="Bob read Support up to his own mention of Demo")
    r.receipt("carol", latest, thread_id=None, note="Carol read all of Support")
    r.receipt("dan", first, thread_id=None, note="Dan read Support only up to his first message")
    r.receipt("dan", sso_replies[1], thread_id=sso, note="Dan read the SSO thread part-way")


def _random(r: _Room) -> Iterator[None]:
    r.create("bob", name="Random", display="Random", joiners=["alice", "carol", "dan", "demo"],
             topic="Off-topic, be nice")
    r.say("bob", "Anyone else's train stuck at the bridge?")
    r.say("carol", "Cycling today, smug mode on")
    lunch = r.thread("alice", "Lunch: tacos or the new ramen place?")
    r.replies(lunch, [("dan", "Ramen"), ("bob", "Ramen, they have a lunch set")])
    main_here = r.say("dan", "Photo from the offsite is on the shared drive")
    r.receipt("demo", main_here, thread_id=MAIN, note="public main receipt in Random")
    oops = r.say("bob", "deploy approved, go ahead")
    r.redact("bob", oops)
    r.say("bob", "oops, wrong channel")
    book = r.thread("carol", "Book club: next pick?")
    r.reply(book, "alice", "Demo, you suggested the one about queues?", mention=["demo"])
    plants = r.thread("dan", "Who waters the office plants while I'm away?")
    r.replies(plants, [("carol", "Me"), ("alice", "Me too, Tuesdays"), ("dan", "Thank you both 🌱")])
    cake = r.say("alice", "There is cake in the kitchen")
    r.react("bob", cake, "🎂")
    r.react("carol", cake, "🎂")
    r.react("dan", cake, "😋")
    typo = r.say("carol", "The wifi pasword is on the fridge")
    r.edit("carol", typo, "The wifi password is on the fridge")
    yield
    r.say("dan", "Friday quiz at 16:00, bring a team name")


def _quiet(r: _Room) -> Iterator[None]:
    r.create("alice", name="Quiet", display="Quiet", joiners=["demo"], topic="Low-traffic notes")
    r.say("alice", "Office closed on Monday for the holiday")
    r.say("demo", "Thanks, noted")
    parking = r.thread("alice", "New parking permits")
    r.replies(parking, [("demo", "Where do we pick them up?"), ("alice", "Front desk, from Wednesday")])
    yield
    last = r.say("alice", "Permits are at the front desk now")
    r.fully_read("demo", last, note="Quiet is fully read")
    r.receipt("demo", last, thread_id=None, note="Quiet is read to the end (unthreaded)")


def _ci(r: _Room) -> Iterator[None]:
    r.create("dan", name="CI feed", display="CI feed", joiners=["bob", "demo"],
             topic="Build notifications, relayed by Dan's bot")
    branches = ("main", "release/2.14", "feat/receipts-queue", "fix/safari-login", "chore/deps")
    tests = ("test_export_stream", "test_sso_skew", "test_receipt_order", "test_sidebar_drag")
    ids: list[str] = []
    for n in range(212):
        build = 4180 + n
        branch = branches[(n * 7) % len(branches)]
        seconds = 95 + (n * 37) % 240
        if n % 17 == 5:
            text = f"❌ build #{build} failed on {branch}: {tests[n % len(tests)]}"
        else:
            text = f"✅ build #{build} passed on {branch} in {seconds // 60}m{seconds % 60:02d}s"
        ids.append(r.say("dan", text))
        if n == 9:
            r.receipt("demo", ids[-1], thread_id=None, note="CI feed read only up to its 10th message (200+ unread)")
    yield
    r.say("bob", "Demo: build #4392 on feat/receipts-queue is red, is that yours?", mention=["demo"])


def _coffee(r: _Room) -> Iterator[None]:
    r.create("carol", name=None, display="", alias="coffee", joiners=["alice", "bob", "demo"])
    r.say("carol", "The grinder is fixed")
    r.say("alice", "Who finished the oat milk and didn't write it on the list")
    r.say("bob", "Guilty. Buying more at lunch")
    yield
    r.say("carol", "New beans from the roastery on 5th street, try them")


def _dm(r: _Room) -> Iterator[None]:
    r.create("alice", name=None, display="Alice", preset="trusted_private_chat", invite=["demo"], is_direct=True)
    r.join("demo")
    r.direct("alice", "demo")
    r.say("alice", "Hey, do you have 5 min after standup?")
    r.say("demo", "Sure, what's up?")
    r.say("alice", "Want to pair on the receipts bug this afternoon")
    yield
    r.say("alice", "Also: lunch on Thursday?")


def _launch(r: _Room) -> Iterator[None]:
    r.create_encrypted("alice", name="Launch", display="Launch", joiners=["bob", "carol", "demo"])
    r.say("alice", "Launch checklist for 3.0 is in the doc, one owner per line please")
    r.say("bob", "Press embargo lifts Tuesday 09:00 CET")
    pricing = r.thread("carol", "Pricing page copy: final review")
    pricing_replies = r.replies(pricing, [
        ("alice", "The annual discount still says 15%, it's 20% now"),
        ("carol", "Fixed, and the FAQ matches"),
        ("bob", "LGTM"),
    ])
    r.receipt("demo", pricing_replies[-1], thread_id=pricing,
              note="public threaded receipt in 'Pricing page copy: final review', read to its end")
    read_here = r.say("alice", "Blog post draft is ready for a last read")
    r.receipt("demo", read_here, thread_id=MAIN, note="public main receipt in Launch")
    video = r.thread("bob", "Product video: the 90 s cut or the 3 min cut?")
    r.replies(video, [
        ("carol", "90 s for social, 3 min on the landing page"),
        ("alice", "Agreed, both then"),
    ])
    r.reply(video, "bob", "Demo, could you check the captions on the long cut?", mention=["demo"])
    r.say("carol", "Status page banner is scheduled for launch morning")
    yield
    r.reply(pricing, "alice", "Legal wants one more look at the footnote")
    r.say("bob", "Go/no-go call moved to Monday 16:00")


def _bob_dm(r: _Room) -> Iterator[None]:
    r.create_encrypted("bob", name=None, display="Bob", joiners=["demo"], is_direct=True)
    r.direct("bob", "demo")
    r.say("bob", "Got a minute later? It's about the launch budget")
    r.say("bob", "Demo, can you approve the ad spend before Friday?", mention=["demo"])
    yield
    r.say("bob", "The numbers are in the launch doc, tab 'Ads'")


def _announcements(r: _Room) -> Iterator[None]:
    r.create("bob", name="Announcements", display="Announcements", joiners=["alice", "carol", "dan", "demo"],
             topic="Company news")
    r.say("bob", "All-hands moved to Friday 15:00")
    read_here = r.say("bob", "New expense tool goes live next month, training sessions in the calendar")
    r.receipt("demo", read_here, thread_id=None, note="Announcements read but for the last message")
    yield
    r.say("bob", "Welcome Erin, joining the support team on Monday 👋")


def _hiring(r: _Room) -> Iterator[None]:
    r.create("dan", name="Hiring panel", display="Hiring panel", preset="private_chat", invite=["demo"],
             joiners=(), topic="Backend engineer loop")
    r.say("dan", "Demo, would you join the panel for Thursday's candidate?")
    yield


# Room order here is the order of latest activity after seeding: the last room is the newest.
_ROOMS: tuple[tuple[str, RoomScript], ...] = (
    ("hiring", _hiring),
    ("quiet", _quiet),
    ("announcements", _announcements),
    ("coffee", _coffee),
    ("random", _random),
    ("release", _release),
    ("ci", _ci),
    ("support", _support),
    ("launch", _launch),
    ("design", _design),
    ("bob_dm", _bob_dm),
    ("dm", _dm),
    ("ops", _ops),
)
_INVITED_ONLY = frozenset({"hiring"})
_ENCRYPTED = ("launch", "bob_dm")
# The demo's spaces (made by alice, joined by the demo user): Engineering holds Ops, Design
# and the Releases sub-space; Releases holds Release and CI, and so does Engineering (a
# room in two spaces); Company holds the general rooms.
_SPACES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("releases", "Releases", ("release", "ci")),
    ("engineering", "Engineering", ("ops", "design", "ci", "releases")),
    ("company", "Company", ("announcements", "random", "coffee", "support")),
)


def _seed_spaces(seeder: _Seeder, room_ids: Mapping[str, str]) -> dict[str, str]:
    """Make the spaces of ``_SPACES`` and link their children (``m.space.child``, and
    ``m.space.parent`` in each child room alice may set state in)."""
    alice = seeder.actor("alice")
    demo = seeder.actor(DEMO_KEY)
    via = [seeder.server_name]
    made: dict[str, str] = {}
    for key, name, children in _SPACES:
        body = {"preset": "private_chat", "name": name, "invite": [demo.user_id],
                "creation_content": {"type": "m.space"},
                # No messages in a space (the spec's advice).
                "power_level_content_override": {"events_default": 100}}
        space_id = alice.request("POST", f"{CLIENT_V3}/createRoom", body)["room_id"]
        demo.join(space_id)
        made[key] = space_id
        for order, child in enumerate(children):
            child_id = made.get(child) or room_ids[child]
            alice.send_state(space_id, "m.space.child", {"via": via, "order": f"{order:02d}"}, state_key=child_id)
    return made


# -- entry point -----------------------------------------------------------------------------


def seed_demo_account(base_url: str, *, suffix: str = "", workers: int = _POOL_WORKERS,
                      peer_stores: Path | None = None,
                      prepare_demo_device: Callable[[DemoUser], object] | None = None) -> DemoAccount:
    """Register the demo user and colleagues on ``base_url`` and seed their rooms.

    ``suffix`` is appended to every localpart (``demo-x``, ``alice-x``), so tests can seed a
    shared server without clashing with other tests' users. Registering a name that exists
    logs in with the known password instead, so seeding a server twice does not fail (it
    makes a second set of rooms).

    ``peer_stores``: where the colleagues' encrypting clients keep their stores (the demo
    reuses them for its live activity); None: a temporary directory, gone afterwards.
    ``prepare_demo_device(demo_user)`` runs once the demo user exists and before any
    encrypted room does: there the demo user's reading device uploads its keys, so that
    the room keys of everything sent to the encrypted rooms reach it.
    """
    if peer_stores is None:
        with tempfile.TemporaryDirectory(prefix="readmark-demo-peers-") as scratch:
            return seed_demo_account(base_url, suffix=suffix, workers=workers, peer_stores=Path(scratch),
                                     prepare_demo_device=prepare_demo_device)
    began = time.monotonic()
    specs = ((DEMO_KEY, DEMO_DISPLAY_NAME), *_COLLEAGUES)
    actors: dict[str, MatrixActor] = {}
    users: dict[str, DemoUser] = {}
    for key, display_name in specs:
        localpart = f"{key}{suffix}"
        password = DEMO_PASSWORD if key == DEMO_KEY else f"pw-{localpart}"
        actor = register_or_login(base_url, localpart, password)
        # Before any room exists, so no member event needs rewriting.
        set_display_name(actor, display_name)
        actors[key] = actor
        users[key] = DemoUser(key, actor.user_id, password, display_name)
    if prepare_demo_device is not None:
        prepare_demo_device(users[DEMO_KEY])

    # The demo user's invites must not notify (see set_invites_notify): off until the rooms are made.
    demo_actor = actors[DEMO_KEY]
    invite_rule_was = invites_notify(demo_actor)
    set_invites_notify(demo_actor, False)
    try:
        with Peers(base_url, {key: user for key, user in users.items() if key != DEMO_KEY}, peer_stores) as peers:
            seeder = _Seeder(base_url, actors, users, suffix, peers)
            rooms = [(_Room(seeder, key), script) for key, script in _ROOMS]
            running: list[Iterator[None]] = [script(room) for room, script in rooms]

            def run_until_yield(script: Iterator[None]) -> None:
                next(script, None)

            with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="readmark-seed") as pool:
                # Longest first: the busy room is most of the work, and the encrypted rooms
                # (a sync before each message) next.
                weight = {"ci": 0, **{key: 1 for key, _script in _ROOMS if key in _ENCRYPTED}}
                order = sorted(range(len(rooms)), key=lambda i: weight.get(rooms[i][0].key, 2))
                for future in [pool.submit(run_until_yield, running[i]) for i in order]:
                    future.result()
            for script in running:
                for _ in script:
                    pass
            seeder.write_direct()
            spaces = _seed_spaces(seeder, {room.key: room.room_id for room, _ in rooms})
    finally:
        set_invites_notify(demo_actor, invite_rule_was)

    server_name = seeder.server_name
    # Receipts in room order (the pool appended them in whatever order rooms ran).
    rank = {key: i for i, (key, _script) in enumerate(_ROOMS)}
    by_room = lambda record: rank[record.room]  # noqa: E731
    demo = users[DEMO_KEY]
    return DemoAccount(
        base_url=base_url,
        server_name=server_name,
        user_id=demo.user_id,
        password=demo.password,
        display_name=demo.display_name,
        others=_frozen({key: user for key, user in users.items() if key != DEMO_KEY}),
        rooms=_frozen({room.key: room.room_id for room, _ in rooms if room.key not in _INVITED_ONLY}),
        invites=_frozen({room.key: room.room_id for room, _ in rooms if room.key in _INVITED_ONLY}),
        room_names=_frozen({room.key: room.display for room, _ in rooms}),
        members=_frozen({room.key: tuple(k for k in room.members if k != DEMO_KEY) for room, _ in rooms}),
        threads=_frozen({
            room.key: tuple(
                SeededThread(room.key, room.thread_titles[root], root, tuple(replies))
                for root, replies in room.threads.items() if replies
            )
            for room, _ in rooms if any(room.threads.values())
        }),
        message_counts=_frozen({room.key: room.messages for room, _ in rooms}),
        receipts=tuple(sorted(seeder.receipts, key=by_room)),
        relations=tuple(sorted(seeder.relations, key=by_room)),
        mentions=tuple(sorted(seeder.mentions, key=by_room)),
        events_sent=sum(room.events_sent for room, _ in rooms),
        seed_seconds=time.monotonic() - began,
        encrypted=tuple(room.key for room, _ in rooms if room.encrypted),
        spaces=_frozen(spaces),
        space_children=_frozen({key: children for key, _name, children in _SPACES}),
    )


def dump_account(account: DemoAccount) -> str:
    return json.dumps(account.to_json(), indent=2, ensure_ascii=False)
