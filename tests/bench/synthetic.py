"""A deterministic synthetic Matrix account: ``/sync`` bodies shaped like the ones
readmark's own filter (``app.matrix.sync_filter``) asks Synapse for.

Same arguments, same bytes: every random choice comes from ``random.Random`` seeded
with a string (seeding from a string does not depend on ``PYTHONHASHSEED``), and
``json.dumps`` keeps insertion order. ``digest()`` names a body in the results.

Shapes, per joined room (each drawn per room, so rooms differ):

- a timeline window of up to 30 events (the filter's limit; older events are cut and the
  timeline is then ``limited``, as it is in about half the rooms anyway); threads (``threads_per_room`` on average, 50% to 150%), most with their
  root in the window, replies with ``m.thread`` relations and the reply fallback Synapse
  keeps; main-timeline messages; reactions and edits of thread replies (in the thread
  by the 3-hop rule), an occasional redaction and membership change; text of varied
  length, some multi-line, some long, some non-ASCII; a few of my own messages;
- receipts from several members (unthreaded, ``main`` and per thread, public), and
  mine: unthreaded private, a lagging public one, threaded private ones on about half
  the threads, sometimes one pointing into history that is not loaded;
- ``unread_notifications`` and ``unread_thread_notifications`` close to what the
  server would count; ``m.fully_read`` in most rooms, ``m.marked_unread`` in a few;
- state (lazy-loaded members of the senders, a name or a canonical alias, none for DMs
  which get heroes in the ``summary``); a few invites; ``m.direct`` for the DMs.

Bodies are trimmed as ``event_fields`` trims them (no ``unsigned.age``, no
``formatted_body``), which makes ``json.loads`` cheaper and the ratio against it harder.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from typing import Any

ME = "@me:example.org"
SERVER = "example.org"
TIMELINE_LIMIT = 30
USER_POOL = 100_000
BASE_TS = 1_760_000_000_000

_WORDS = (
    "the release is blocked on review of migration tests deploy staging rollback "
    "lunch tomorrow meeting notes agenda draft ship it looks good to me nit typo "
    "can someone check logs from last night server restarted again cpu spike "
    "fixed merged reverted benchmark numbers are in ticket issue thread reply "
    "question answer docs link weekend plans coffee bug report crash stack trace"
).split()
_NON_ASCII = ("café", "naïve", "Grüße", "日本語", "🎉", "👍", "Ελληνικά", "привет", "✓")
_EMOJI = ("👍", "🎉", "😂", "❤️", "👀", "✅")
_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@dataclass(frozen=True)
class Shape:
    """What to generate. ``rooms`` counts joined rooms; invites come on top (1%)."""

    rooms: int
    threads_per_room: int = 11
    main_per_room: int = 8
    others_per_room: int = 6
    timeline_limit: int = TIMELINE_LIMIT
    seed: str = "readmark-bench-1"

    @property
    def label(self) -> str:
        return f"{self.rooms} rooms"


def _event_id(rng: random.Random) -> str:
    # 43 characters of URL-safe base64, like the event IDs of room versions 4 and later.
    return "$" + "".join(rng.choices(_B64, k=43))


def _room_id(index: int, rng: random.Random) -> str:
    return "!" + "".join(rng.choices(_B64[:52], k=18)) + f"{index:05d}:" + SERVER


def _user(n: int) -> str:
    return f"@user{n:05d}:{SERVER}"


def _text(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.03:
        # Long: previews are cut (the slow path of clean_text).
        return " ".join(rng.choices(_WORDS, k=rng.randint(80, 160)))
    words = rng.choices(_WORDS, k=rng.randint(2, 24))
    if roll < 0.13:
        # Multi-line: whitespace folded by clean_text.
        words.insert(rng.randrange(len(words)), "\n\n")
    elif roll < 0.20:
        words.insert(rng.randrange(len(words)), rng.choice(_NON_ASCII))
    return " ".join(words)


class _Room:
    """Builds one joined room's sync entry."""

    def __init__(self, shape: Shape, index: int) -> None:
        self.rng = rng = random.Random(f"{shape.seed}:room:{index}")
        self.index = index
        self.room_id = _room_id(index, rng)
        self.direct = rng.random() < 0.1
        count = 1 if self.direct else rng.randint(max(2, shape.others_per_room // 2), shape.others_per_room * 3 // 2)
        # Members come from one pool of USER_POOL users, whatever the account's size, so
        # room N is the same room in a 100-room and a 5,000-room account.
        self.others = [_user(rng.randrange(USER_POOL)) for _ in range(count)]
        self.ts = BASE_TS + index * 7_919 + rng.randrange(3_600_000)
        self.events: list[dict[str, Any]] = []
        self.thread_roots: list[str] = []
        self.thread_events: dict[str, list[str]] = {}
        self.main_events: list[str] = []
        self.by_id: dict[str, dict[str, Any]] = {}
        # Thread replies waiting to be written among later events.
        self._pending_replies: list[str] = []
        self.shape = shape

    def _tick(self) -> int:
        self.ts += self.rng.randint(1_000, 600_000)
        return self.ts

    def _sender(self, mine: float = 0.08) -> str:
        return ME if self.rng.random() < mine else self.rng.choice(self.others)

    def _add(self, event: dict[str, Any]) -> dict[str, Any]:
        self.events.append(event)
        self.by_id[event["event_id"]] = event
        return event

    def _message(self, sender: str, content: dict[str, Any]) -> dict[str, Any]:
        return self._add(
            {
                "content": content,
                "event_id": _event_id(self.rng),
                "origin_server_ts": self._tick(),
                "sender": sender,
                "type": "m.room.message",
            }
        )

    def _body(self) -> dict[str, Any]:
        rng = self.rng
        roll = rng.random()
        if roll < 0.04:
            return {"body": "screenshot.png", "msgtype": "m.image"}
        if roll < 0.06:
            return {"body": _text(rng), "msgtype": "m.emote"}
        if roll < 0.09:
            return {"body": _text(rng), "msgtype": "m.notice"}
        return {"body": _text(rng), "msgtype": "m.text"}

    def build(self) -> dict[str, Any]:
        rng, shape = self.rng, self.shape
        threads = rng.randint(shape.threads_per_room // 2, shape.threads_per_room * 3 // 2)
        mains = rng.randint(max(1, shape.main_per_room // 2), max(1, shape.main_per_room * 3 // 2))
        # The window is the tail of a longer history in about half the rooms.
        limited = rng.random() < 0.5
        if rng.random() < 0.2:
            self._add(
                {
                    "content": {"displayname": "New Person", "membership": "join"},
                    "event_id": _event_id(rng),
                    "origin_server_ts": self._tick(),
                    "sender": self.others[-1],
                    "state_key": self.others[-1],
                    "type": "m.room.member",
                }
            )
        # Interleave main messages and thread activity as a busy room would.
        plan = ["main"] * mains + ["root"] * threads
        rng.shuffle(plan)
        open_threads: list[str] = []
        outside_roots = 0
        for step in plan:
            if step == "main":
                self.main_events.append(self._message(self._sender(), self._body())["event_id"])
            else:
                if rng.random() < 0.8:
                    root = self._message(self._sender(0.05), self._body())
                    root_id = root["event_id"]
                    self.main_events.append(root_id)
                else:
                    # The root lies before the window: only its replies are loaded.
                    root, root_id = None, _event_id(rng)
                    outside_roots += 1
                self.thread_roots.append(root_id)
                self.thread_events[root_id] = []
                open_threads.append(root_id)
                replies = rng.randint(1, 3)
                earlier = rng.randint(0, 6) if root is None or rng.random() < 0.3 else 0
                if root is not None:
                    root["unsigned"] = {"m.relations": {"m.thread": {"count": replies + earlier}}}
                # Replies land later, interleaved with what follows.
                for _ in range(replies):
                    self._reply_later(root_id)
            if open_threads and rng.random() < 0.35:
                self._flush_reply()
        while self._pending_replies:
            self._flush_reply()
        self._extras()
        # The server sends the last ``timeline_limit`` events; older ones are history.
        cut = len(self.events) - shape.timeline_limit
        if cut > 0:
            limited = True
            kept = {e["event_id"] for e in self.events[cut:]}
            self.events = self.events[cut:]
            self.main_events = [e for e in self.main_events if e in kept]
            self.thread_events = {root: [e for e in ids if e in kept] for root, ids in self.thread_events.items()}
        return self._entry(limited)

    def _reply_later(self, root_id: str) -> None:
        self._pending_replies.append(root_id)

    def _flush_reply(self) -> None:
        if not self._pending_replies:
            return
        root_id = self._pending_replies.pop(self.rng.randrange(len(self._pending_replies)))
        previous = self.thread_events[root_id][-1] if self.thread_events[root_id] else root_id
        content = self._body()
        content["m.relates_to"] = {
            "event_id": root_id,
            "is_falling_back": True,
            "m.in_reply_to": {"event_id": previous},
            "rel_type": "m.thread",
        }
        event = self._message(self._sender(), content)
        self.thread_events[root_id].append(event["event_id"])

    def _extras(self) -> None:
        rng = self.rng
        replies = [e for events in self.thread_events.values() for e in events]
        # Reactions to thread replies (in the thread, one hop) and to main messages.
        for _ in range(rng.randint(0, 3)):
            target = rng.choice(replies or self.main_events or [None])
            if target is None:
                break
            self._add(
                {
                    "content": {"m.relates_to": {"event_id": target, "key": rng.choice(_EMOJI), "rel_type": "m.annotation"}},
                    "event_id": _event_id(rng),
                    "origin_server_ts": self._tick(),
                    "sender": rng.choice(self.others),
                    "type": "m.reaction",
                }
            )
        if replies and rng.random() < 0.3:
            target = rng.choice(replies)
            edit = self.by_id[target]
            self._add(
                {
                    "content": {
                        "body": "* " + _text(rng),
                        "m.relates_to": {"event_id": target, "rel_type": "m.replace"},
                        "msgtype": "m.text",
                    },
                    "event_id": _event_id(rng),
                    "origin_server_ts": self._tick(),
                    "sender": edit["sender"],
                    "type": "m.room.message",
                }
            )
        if self.main_events and rng.random() < 0.05:
            target = rng.choice(self.main_events)
            redaction = self._add(
                {
                    "content": {"redacts": target},
                    "event_id": _event_id(rng),
                    "origin_server_ts": self._tick(),
                    "redacts": target,
                    "sender": self.by_id[target]["sender"],
                    "type": "m.room.redaction",
                }
            )
            redacted = self.by_id[target]
            redacted["content"] = {}
            redacted["unsigned"] = {"redacted_because": {"event_id": redaction["event_id"]}}

    # ---- the sync entry ----------------------------------------------------

    def _entry(self, limited: bool) -> dict[str, Any]:
        rng = self.rng
        events = self.events
        position = {e["event_id"]: i for i, e in enumerate(events)}
        counted = [
            i
            for i, e in enumerate(events)
            if e["type"] == "m.room.message" and e["sender"] != ME and "redacted_because" not in e.get("unsigned", {})
            and e["content"].get("m.relates_to", {}).get("rel_type") != "m.replace"
        ]
        receipts: dict[str, dict[str, dict[str, dict[str, Any]]]] = {}

        def receipt(event_id: str, kind: str, user: str, thread: str | None) -> None:
            fields: dict[str, Any] = {"ts": self.ts - rng.randrange(1, 10**7)}
            if thread is not None:
                fields["thread_id"] = thread
            receipts.setdefault(event_id, {}).setdefault(kind, {})[user] = fields

        # Others: where they read, in the forms clients send.
        for user in self.others[:5]:
            target = events[rng.randrange(len(events) // 2, len(events))]["event_id"] if events else None
            if target is None:
                break
            form = rng.random()
            if form < 0.4:
                receipt(target, "m.read", user, None)
            elif form < 0.8 and target in self.main_events:
                receipt(target, "m.read", user, "main")
            else:
                thread = next((t for t, ids in self.thread_events.items() if target in ids), None)
                receipt(target, "m.read", user, thread)
        # Mine.
        read_main = -1
        if events:
            roll = rng.random()
            if roll < 0.15:
                # Into history that is not loaded: counts are lower bounds.
                receipt(_event_id(rng), "m.read.private", ME, None)
            elif roll < 0.85:
                at = rng.randrange(len(events))
                read_main = at
                receipt(events[at]["event_id"], "m.read.private", ME, None)
                if rng.random() < 0.3:
                    receipt(events[rng.randrange(at + 1)]["event_id"], "m.read", ME, None)
            if self.main_events and rng.random() < 0.3:
                at = rng.randrange(len(self.main_events))
                read_main = max(read_main, position[self.main_events[at]])
                receipt(self.main_events[at], "m.read.private", ME, "main")
        thread_read: dict[str, int] = {}
        for root_id, replies in self.thread_events.items():
            if replies and rng.random() < 0.5:
                target = replies[-1] if rng.random() < 0.6 else replies[0]
                thread_read[root_id] = position[target]
                receipt(target, "m.read.private", ME, root_id)

        # The server's counts, by the same rules (close enough for a synthetic body).
        main_count = sum(1 for i in counted if i > read_main and not _in_thread(events[i]))
        per_thread: dict[str, dict[str, int]] = {}
        for root_id, replies in self.thread_events.items():
            seen = max(read_main, thread_read.get(root_id, -1))
            count = sum(1 for r in replies if position[r] > seen and self.by_id[r]["sender"] != ME)
            if count:
                per_thread[root_id] = {"highlight_count": int(rng.random() < 0.05), "notification_count": count}
        highlights = int(rng.random() < 0.05) * rng.randint(1, 3)

        senders = sorted({e["sender"] for e in events} | set(self.others[:5]))
        state: list[dict[str, Any]] = []
        if not self.direct:
            if rng.random() < 0.85:
                state.append(self._state("m.room.name", "", {"name": f"{rng.choice(_WORDS)} {rng.choice(_WORDS)} {self.index}"}))
            else:
                state.append(self._state("m.room.canonical_alias", "", {"alias": f"#room{self.index}:{SERVER}"}))
        for user in senders:
            if rng.random() < 0.9:
                name = user[1:].split(":")[0].title()
                state.append(self._state("m.room.member", user, {"displayname": name, "membership": "join"}, sender=user))
        account_data: list[dict[str, Any]] = []
        if events and rng.random() < 0.8:
            at = max(read_main, 0) if read_main >= 0 else rng.randrange(len(events))
            account_data.append({"content": {"event_id": events[at]["event_id"]}, "type": "m.fully_read"})
        if rng.random() < 0.02:
            account_data.append({"content": {"unread": True}, "type": "m.marked_unread"})
        timeline: dict[str, Any] = {"events": events, "limited": limited}
        if limited:
            timeline["prev_batch"] = f"t{self.index}-{rng.randrange(10**6)}_{rng.randrange(10**6)}"
        entry: dict[str, Any] = {
            "account_data": {"events": account_data},
            "ephemeral": {"events": [{"content": receipts, "type": "m.receipt"}] if receipts else []},
            "state": {"events": state},
            "summary": {
                "m.heroes": self.others[:5] if self.direct or rng.random() < 0.2 else [],
                "m.invited_member_count": 0,
                "m.joined_member_count": len(self.others) + 1,
            },
            "timeline": timeline,
            "unread_notifications": {"highlight_count": highlights, "notification_count": main_count + highlights},
        }
        if per_thread:
            entry["unread_thread_notifications"] = per_thread
        return entry

    def _state(self, etype: str, state_key: str, content: dict[str, Any], sender: str | None = None) -> dict[str, Any]:
        return {
            "content": content,
            "event_id": _event_id(self.rng),
            "origin_server_ts": BASE_TS - self.rng.randrange(10**9),
            "sender": sender or self.others[0],
            "state_key": state_key,
            "type": etype,
        }


def _in_thread(event: dict[str, Any]) -> bool:
    return event["content"].get("m.relates_to", {}).get("rel_type") == "m.thread"


def _invite(shape: Shape, index: int) -> tuple[str, dict[str, Any]]:
    rng = random.Random(f"{shape.seed}:invite:{index}")
    room_id = _room_id(shape.rooms + index, rng)
    inviter = _user(rng.randrange(10**5))
    return room_id, {
        "invite_state": {
            "events": [
                {"content": {"name": f"invited {index}"}, "sender": inviter, "state_key": "", "type": "m.room.name"},
                {"content": {"displayname": "Inviter", "membership": "join"}, "sender": inviter, "state_key": inviter, "type": "m.room.member"},
                {"content": {"membership": "invite"}, "sender": inviter, "state_key": ME, "type": "m.room.member"},
            ]
        }
    }


def initial_sync(shape: Shape) -> dict[str, Any]:
    """The decoded body of an initial ``/sync`` for ``shape``."""
    join: dict[str, Any] = {}
    direct: dict[str, list[str]] = {}
    for index in range(shape.rooms):
        room = _Room(shape, index)
        join[room.room_id] = room.build()
        if room.direct:
            direct.setdefault(room.others[0], []).append(room.room_id)
    invite = dict(_invite(shape, i) for i in range(shape.rooms // 100))
    return {
        "account_data": {"events": [{"content": direct, "type": "m.direct"}]},
        "device_one_time_keys_count": {"signed_curve25519": 0},
        "next_batch": f"s{shape.rooms}_1_0_9_6_1_1_6_0_1_1_1_1_1",
        "rooms": {"invite": invite, "join": join, "leave": {}},
    }


def encode(body: dict[str, Any]) -> bytes:
    """Compact JSON, as Synapse sends it."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def initial_sync_bytes(shape: Shape) -> bytes:
    return encode(initial_sync(shape))


def digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()[:12]


def incremental_sync(
    sync: dict[str, Any],
    *,
    new_events: int = 10,
    receipts: int = 5,
    rooms_touched: int = 5,
    seed: str = "incremental",
    step: int = 0,
) -> dict[str, Any]:
    """An incremental sync on top of the account ``sync`` built: ``new_events`` events
    (main messages and thread replies) spread over ``rooms_touched`` rooms, and
    ``receipts`` receipts (others' and mine) in those rooms, with updated counts.

    The rooms are picked by position in the account, the same for any account size,
    so 100 and 5,000 rooms get the same work. ``step`` makes successive syncs differ.
    """
    rng = random.Random(f"{seed}:{step}")
    join = sync["rooms"]["join"]
    room_ids = list(join)
    touched = [room_ids[(i * 7 + step) % len(room_ids)] for i in range(rooms_touched)]
    out: dict[str, Any] = {}
    ts = BASE_TS + 10**10 + step * 10**6
    for n in range(new_events):
        room_id = touched[n % len(touched)]
        entry = out.setdefault(room_id, {"timeline": {"events": [], "limited": False}, "ephemeral": {"events": []}})
        base = join[room_id]
        roots = [
            e["content"]["m.relates_to"]["event_id"]
            for e in base["timeline"]["events"]
            if e["type"] == "m.room.message" and _in_thread(e)
        ]
        content: dict[str, Any] = {"body": _text(rng), "msgtype": "m.text"}
        if roots and rng.random() < 0.5:
            content["m.relates_to"] = {"event_id": rng.choice(roots), "rel_type": "m.thread", "is_falling_back": True}
        ts += rng.randint(100, 5_000)
        entry["timeline"]["events"].append(
            {
                "content": content,
                "event_id": _event_id(rng),
                "origin_server_ts": ts,
                "sender": _user(rng.randrange(10**5)),
                "type": "m.room.message",
            }
        )
    for n in range(receipts):
        room_id = touched[n % len(touched)]
        entry = out[room_id]
        events = entry["timeline"]["events"] or join[room_id]["timeline"]["events"]
        target = events[-1]
        user = ME if n % 2 == 0 else _user(rng.randrange(10**5))
        kind = "m.read.private" if user == ME else "m.read"
        fields: dict[str, Any] = {"ts": ts}
        relation = target.get("content", {}).get("m.relates_to", {})
        if relation.get("rel_type") == "m.thread":
            fields["thread_id"] = relation["event_id"]
        entry["ephemeral"]["events"].append({"content": {target["event_id"]: {kind: {user: fields}}}, "type": "m.receipt"})
    for room_id, entry in out.items():
        entry["unread_notifications"] = {"highlight_count": 0, "notification_count": rng.randint(0, 5)}
        entry["unread_thread_notifications"] = {}
    return {"next_batch": f"s-inc-{step}", "rooms": {"join": out}}
