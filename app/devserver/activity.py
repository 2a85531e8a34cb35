"""Live activity for the demo: colleagues keep talking while the demo user triages.

``LiveActivity`` runs in one background thread. Every few seconds (``interval``, jittered
by a seeded ``random.Random`` so a run is reproducible) one of the other users posts a
main-timeline message or a thread reply in one of the demo rooms, now and then mentioning
the demo user, then sends a public receipt for it as real clients do, and another member
of the room moves their public receipt to it too. Counts and readers' initials change live.
Every few steps (``encrypted_every``) the post goes to one of the encrypted rooms instead,
through the colleague's encrypting client (``Peers``, stores in ``peer_stores``): the
demo user reads it only by decrypting it.

Why a thread and not an asyncio task: the actor is synchronous (urllib), and the TUI owns
the main thread's event loop (Textual). A thread needs nothing from that loop, cannot stall
it, and works the same under a test that has no loop at all. ``stop()`` wakes it through a
``threading.Event`` and joins it; every request has a short timeout, so the join is prompt
even when the server hangs. The encrypting clients are asyncio: they run on an event loop
of their own in a second thread, started at the first encrypted post and closed when this
thread finishes; each call to them has a timeout too.

When the server goes away, the thread logs one line (and one more when it comes back) and
keeps trying at the same pace; nothing reaches the terminal: the module's logger has a
``NullHandler``, so without the app's file logging configured, records are dropped rather
than printed over the TUI by logging's last-resort handler.
"""

from __future__ import annotations

import logging
import random
import threading
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.devserver.actor import CLIENT_V3, MatrixActor, http_call
from app.devserver.peers import Peers
from app.devserver.seed import DEMO_KEY, DemoAccount

log = logging.getLogger(__name__)
log.addHandler(logging.NullHandler())

THREAD_NAME = "readmark-live-activity"

# Rooms where colleagues keep talking, with what they say there. Thread replies go to the
# room's seeded threads; the busy CI room only ever gets more build results.
_CHATTER = (
    "Quick one: is the staging DB back?",
    "Pushed a fix, CI is running",
    "I'll pick this up after lunch",
    "Can someone review my PR? It's small",
    "Moving the sync to 15:30",
    "Dashboards look normal again",
    "Reverted, sorry for the noise",
    "Adding this to the retro doc",
    "Ticket updated with the logs",
    "Good point, let's keep it simple",
    "Merged 🎉",
    "I can pair on it tomorrow morning",
)
_REPLIES = (
    "+1",
    "Makes sense to me",
    "Done",
    "Let me check and get back to you",
    "I left a comment in the doc",
    "Agreed, ship it",
    "Not sure, can we discuss at standup?",
    "Fixed in the latest commit",
)
_MENTIONS = (
    "{name}, could you take a look when you have a minute?",
    "{name}: need your sign-off on this",
    "Looping in {name} here",
)
_LIVE_ROOMS = ("ops", "design", "support", "release", "random", "dm", "ci")
_SHORT_TIMEOUT = 5.0


class _QuickActor(MatrixActor):
    """The seed's actor with a short request timeout, so ``stop()`` never waits 30 s."""

    timeout = _SHORT_TIMEOUT

    def request(self, method: str, path: str, body: Mapping[str, Any] | None = None,
                query: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return http_call(self.base_url, method, path, body, query,
                         access_token=self.access_token, timeout=self.timeout)


@dataclass(frozen=True)
class Posted:
    room: str
    sender: str  # user ID
    event_id: str
    thread_id: str  # "main" or the thread root
    mentions_demo: bool


class LiveActivity:
    """Background chatter from the demo account's colleagues. ``start()``; ``stop()``."""

    def __init__(self, account: DemoAccount, *, interval: float = 6.0, jitter: float = 0.5,
                 seed: int = 2024, mention_chance: float = 0.15, thread_chance: float = 0.4,
                 rooms: Sequence[str] = _LIVE_ROOMS, peer_stores: Path | None = None,
                 encrypted_every: int = 3) -> None:
        """``interval`` is the longest pause between two posts; each pause is drawn from
        ``[interval * (1 - jitter), interval]``, so something happens at least that often.
        Every ``encrypted_every``-th post goes to an encrypted room, when ``peer_stores``
        (where the colleagues' encrypting clients keep their stores) is given."""
        if interval <= 0 or not 0 <= jitter < 1 or encrypted_every < 1:
            raise ValueError("interval must be > 0, 0 <= jitter < 1 and encrypted_every >= 1")
        self.account = account
        self.interval = interval
        self.jitter = jitter
        self.mention_chance = mention_chance
        self.thread_chance = thread_chance
        self.rooms = tuple(room for room in rooms if room in account.rooms and account.members.get(room)
                           and room not in account.encrypted)
        self.encrypted_rooms = tuple(room for room in account.encrypted
                                     if room in account.rooms and account.members.get(room)) if peer_stores else ()
        self.peer_stores = peer_stores
        self.encrypted_every = encrypted_every
        self._steps = 0
        self._peers: Peers | None = None
        self._random = random.Random(seed)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._actors: dict[str, MatrixActor] = {}
        self._failing = False
        self._posted: list[Posted] = []
        self._lock = threading.Lock()
        self.errors = 0

    # -- lifetime -------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("LiveActivity already started")
        self._thread = threading.Thread(target=self._run, name=THREAD_NAME, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = _SHORT_TIMEOUT * 3) -> None:
        """Ask the thread to finish and join it. Safe to call twice, or before ``start()``;
        without a thread, it closes what calls of ``step()`` opened (logins, peers)."""
        self._stopping.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():  # only if a request outlived its own timeout
                log.warning("live activity thread did not stop within %.0f s", timeout)
        else:
            self._close_peers()
            self._log_out()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def posted(self) -> tuple[Posted, ...]:
        with self._lock:
            return tuple(self._posted)

    def __enter__(self) -> LiveActivity:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- the thread -------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while not self._stopping.wait(self._pause()):
                try:
                    self.step()
                except Exception as error:  # noqa: BLE001 - the demo must survive a server going away
                    self._note_failure(error)
                else:
                    self._note_success()
        finally:
            self._close_peers()
            self._log_out()

    def _pause(self) -> float:
        return self.interval * (1 - self.jitter * self._random.random())

    def _note_failure(self, error: Exception) -> None:
        self.errors += 1
        if not self._failing:
            self._failing = True
            log.warning("live activity paused, the homeserver did not answer: %s", error)
        else:
            log.debug("live activity still failing: %s", error)

    def _note_success(self) -> None:
        if self._failing:
            self._failing = False
            log.info("live activity resumed")

    def _actor(self, key: str) -> MatrixActor:
        actor = self._actors.get(key)
        if actor is None:
            user = self.account.others[key]
            answer = http_call(self.account.base_url, "POST", f"{CLIENT_V3}/login", {
                "type": "m.login.password",
                "identifier": {"type": "m.id.user", "user": user.user_id},
                "password": user.password,
                "initial_device_display_name": "readmark demo activity",
            }, timeout=_SHORT_TIMEOUT)
            actor = _QuickActor(self.account.base_url, answer["user_id"], answer["access_token"],
                                answer["device_id"])
            self._actors[key] = actor
        return actor

    def _peers_started(self) -> Peers:
        if self._peers is None:
            assert self.peer_stores is not None
            self._peers = Peers(self.account.base_url, self.account.others, self.peer_stores,
                                timeout=2 * _SHORT_TIMEOUT, login_timeout=_SHORT_TIMEOUT)
        return self._peers

    def _close_peers(self) -> None:
        peers, self._peers = self._peers, None
        if peers is not None:
            peers.close(timeout=_SHORT_TIMEOUT)

    def _log_out(self) -> None:
        """Each run logs colleagues in afresh; log them out so devices do not pile up."""
        for actor in self._actors.values():
            try:
                actor.logout()
            except Exception as error:  # noqa: BLE001 - the server may be gone already
                log.debug("logout of %s failed: %s", actor.user_id, error)
        self._actors.clear()

    # -- one tick -------------------------------------------------------------------------

    def step(self) -> Posted:
        """Post one message or thread reply, and move two public receipts to it."""
        self._steps += 1
        if self.encrypted_rooms and self._steps % self.encrypted_every == 0:
            return self.step_encrypted()
        pick = self._random
        if not self.rooms:
            raise RuntimeError("no demo rooms to be active in")
        room = pick.choice(self.rooms)
        room_id = self.account.rooms[room]
        members = list(self.account.members[room])
        # Build results come from Dan's CI relay only.
        sender = "dan" if room == "ci" and "dan" in members else pick.choice(members)
        roots = self.account.thread_roots(room)
        in_thread = bool(roots) and room != "ci" and pick.random() < self.thread_chance
        mention = room != "ci" and pick.random() < self.mention_chance
        demo_name = self.account.display_name

        if room == "ci":
            build = pick.randrange(4400, 9999)
            text = f"✅ build #{build} passed on main in {pick.randrange(1, 6)}m{pick.randrange(60):02d}s"
        elif mention:
            text = pick.choice(_MENTIONS).format(name=demo_name)
        else:
            text = pick.choice(_REPLIES if in_thread else _CHATTER)
        mentions = [self.account.user_id] if mention else []

        actor = self._actor(sender)
        content = _text(text, mentions)
        if in_thread:
            root = pick.choice(roots)
            event_id = self._reply(actor, room_id, root, content)
            thread_id = root
        else:
            event_id = actor.send_event(room_id, "m.room.message", content)
            thread_id = "main"
        # The sender's client marks its own message read; one more colleague catches up.
        actor.send_receipt(room_id, event_id, thread_id=thread_id)
        readers = [key for key in members if key not in (sender, DEMO_KEY)]
        if readers:
            # In a thread, a threaded receipt (an unthreaded one would also read all of main);
            # in main, either form, as different clients send.
            receipt_thread = thread_id if thread_id != "main" else pick.choice((None, "main"))
            self._actor(pick.choice(readers)).send_receipt(room_id, event_id, thread_id=receipt_thread)
        posted = Posted(room, actor.user_id, event_id, thread_id, mention)
        with self._lock:
            self._posted.append(posted)
        log.debug("live activity: %s posted in %s (%s)", actor.user_id, room, thread_id)
        return posted

    def step_encrypted(self, room: str | None = None) -> Posted:
        """Post one message or thread reply to an encrypted room (``room``, or one drawn)
        through the sender's encrypting client; receipts as in ``step``."""
        pick = self._random
        if not self.encrypted_rooms:
            raise RuntimeError("no encrypted demo rooms to be active in")
        room = room if room is not None else pick.choice(self.encrypted_rooms)
        room_id = self.account.rooms[room]
        members = list(self.account.members[room])
        sender = pick.choice(members)
        roots = self.account.thread_roots(room)
        in_thread = bool(roots) and pick.random() < self.thread_chance
        mention = pick.random() < self.mention_chance
        if mention:
            text = pick.choice(_MENTIONS).format(name=self.account.display_name)
        else:
            text = pick.choice(_REPLIES if in_thread else _CHATTER)
        content = _text(text, [self.account.user_id] if mention else [])
        actor = self._actor(sender)  # the receipts' sender, and the thread's latest event
        thread_id = "main"
        if in_thread:
            thread_id = pick.choice(roots)
            content["m.relates_to"] = self._thread_relation(actor, room_id, thread_id)
        event_id = self._peers_started().send_event(sender, room_id, "m.room.message", content)
        actor.send_receipt(room_id, event_id, thread_id=thread_id)
        readers = [key for key in members if key not in (sender, DEMO_KEY)]
        if readers:
            receipt_thread = thread_id if thread_id != "main" else pick.choice((None, "main"))
            self._actor(pick.choice(readers)).send_receipt(room_id, event_id, thread_id=receipt_thread)
        posted = Posted(room, actor.user_id, event_id, thread_id, mention)
        with self._lock:
            self._posted.append(posted)
        log.debug("live activity: %s posted in the encrypted room %s (%s)", actor.user_id, room, thread_id)
        return posted

    @classmethod
    def _reply(cls, actor: MatrixActor, room_id: str, root: str, content: dict[str, Any]) -> str:
        content["m.relates_to"] = cls._thread_relation(actor, room_id, root)
        return actor.send_event(room_id, "m.room.message", content)

    @staticmethod
    def _thread_relation(actor: MatrixActor, room_id: str, root: str) -> dict[str, Any]:
        """A thread reply's relation, replying to the thread's latest event (the relations
        are cleartext in an encrypted room too)."""
        latest = actor.request(
            "GET", f"/_matrix/client/v1/rooms/{_quote(room_id)}/relations/{_quote(root)}/m.thread",
            query={"limit": 1, "dir": "b"},
        ).get("chunk", [])
        return {
            "rel_type": "m.thread",
            "event_id": root,
            "is_falling_back": True,
            "m.in_reply_to": {"event_id": latest[0]["event_id"] if latest else root},
        }


def _text(text: str, mentions: Sequence[str]) -> dict[str, Any]:
    content: dict[str, Any] = {"msgtype": "m.text", "body": text}
    if mentions:
        content["m.mentions"] = {"user_ids": list(mentions)}
    return content


def _quote(part: str) -> str:
    return urllib.parse.quote(part, safe="")
