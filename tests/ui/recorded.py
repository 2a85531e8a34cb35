"""A realistic account, as a sync of a small team's homeserver would leave it: several
rooms, threads, edits and reactions, receipts of mine (public lagging behind private)
and of others, a gap in history, server counts with highlights, a marked-unread room,
a DM, an invite, and a room whose name looks like markup.

Times are on 24 Nov 2026, from 10:00 UTC; tests run with TZ=UTC.
"""

from __future__ import annotations

from datetime import datetime, timezone

from app.model.account import AccountState
from app.model.events import REL_ANNOTATION, REL_REPLACE, REL_THREAD, MsgType, TimelineEvent
from app.model.ids import MAIN
from app.model.names import NameInputs
from app.model.receipts import Receipt, ReceiptKey, ReceiptType
from app.model.room import RoomState, ServerCounts, add_timeline, apply_receipt, set_fully_read, set_server_counts

ME = "@me:example.org"
ALICE = "@alice:example.org"
BOB = "@bob:example.org"
CAROL = "@carol:example.org"

OPS = "!OpsRoomQwErTy:example.org"
RANDOM = "!RandomRoomAsDf:example.org"
QUIET = "!QuietRoomZxCv:example.org"
DESIGN = "!DesignReviewPoIu:example.org"
MARKUP = "!MarkupRoomLkJh:example.org"
LATER = "!LaterRoomMnBv:example.org"
DM = "!DirectBobGhJk:example.org"
INVITE = "!InviteRoomTyUi:example.org"

MARKUP_NAME = "[bold red]x[/]"

# Ops thread roots
DEPLOY = "$ops03-deploy-plan"
INCIDENT = "$ops07-incident-4521"

NAMES = {ME: "Me", ALICE: "Alice Liddell", BOB: "Bob", CAROL: "carol"}

BASE = int(datetime(2026, 11, 24, 10, 0, tzinfo=timezone.utc).timestamp() * 1000)


def at(minutes: int, seconds: int = 0) -> int:
    return BASE + (minutes * 60 + seconds) * 1000


def message(event_id: str, sender: str, minute: int, body: str, **extra: object) -> TimelineEvent:
    extra.setdefault("msgtype", MsgType.TEXT)
    return TimelineEvent(event_id, sender, at(minute), "m.room.message", body, **extra)  # type: ignore[arg-type]


def in_thread(event_id: str, root: str, sender: str, minute: int, body: str) -> TimelineEvent:
    return message(event_id, sender, minute, body, rel_type=REL_THREAD, relates_to=root)


def receipt(room: RoomState, user: str, kind: ReceiptType, thread: str | None, event_id: str) -> RoomState:
    return apply_receipt(room, ReceiptKey(user, kind, thread), Receipt(event_id))


def ops() -> RoomState:
    room = RoomState(OPS, ME, name="Ops", member_names=NAMES)
    room = add_timeline(
        room,
        [
            message("$ops01-morning", ALICE, 0, "Good morning, standup in 10"),
            message("$ops02-onmyway", ME, 1, "on my way"),
            message(DEPLOY, ALICE, 2, "Deploy plan for Friday", thread_reply_count=3),
            in_thread("$ops04-db", DEPLOY, BOB, 5, "I can take the DB part"),
            in_thread("$ops05-thanks", DEPLOY, ALICE, 6, "thanks a lot"),
            TimelineEvent(
                "$ops05e-edit",
                ALICE,
                at(6, 30),
                "m.room.message",
                "thanks a lot!",
                rel_type=REL_REPLACE,
                relates_to="$ops05-thanks",
                msgtype=MsgType.TEXT,
            ),
            TimelineEvent(
                "$ops05r-thumbs", BOB, at(7), "m.reaction", rel_type=REL_ANNOTATION, relates_to="$ops05-thanks", key="👍"
            ),
            in_thread("$ops06-done", DEPLOY, BOB, 9, "done with DB"),
            message(INCIDENT, BOB, 10, "Incident 4521 postmortem draft is up", thread_reply_count=2),
            in_thread("$ops08-timeline", INCIDENT, CAROL, 12, "I added the timeline"),
            in_thread("$ops09-review", INCIDENT, BOB, 13, "@me can you review?"),
            message("$ops10-lunch", ALICE, 15, "lunch?"),
            message("$ops11-yes", CAROL, 16, "yes"),
        ],
        limited=False,
    )
    room = receipt(room, ME, ReceiptType.PRIVATE, None, "$ops02-onmyway")
    room = receipt(room, ME, ReceiptType.PUBLIC, None, "$ops01-morning")
    room = receipt(room, ALICE, ReceiptType.PUBLIC, None, "$ops11-yes")
    room = receipt(room, BOB, ReceiptType.PUBLIC, INCIDENT, "$ops09-review")
    room = receipt(room, CAROL, ReceiptType.PUBLIC, MAIN, "$ops10-lunch")
    room = set_fully_read(room, "$ops02-onmyway")
    return set_server_counts(
        room,
        ServerCounts(notifications=4),
        {DEPLOY: ServerCounts(3), INCIDENT: ServerCounts(2, highlights=1)},
    )


def random_room() -> RoomState:
    room = RoomState(RANDOM, ME, name="Random", member_names=NAMES)
    room = add_timeline(
        room,
        [
            message("$rnd01-coffee", CAROL, 20, "anyone seen the new coffee machine?"),
            message("$rnd02-great", BOB, 21, "yes, it is great"),
            in_thread("$rnd03-beans", "$rnd02-great", ALICE, 22, "which beans?"),
            message("$rnd04-cats", ALICE, 23, "cat pictures incoming"),
        ],
        limited=False,
    )
    return set_server_counts(room, ServerCounts(notifications=3), {"$rnd02-great": ServerCounts(1)})


def quiet() -> RoomState:
    room = RoomState(QUIET, ME, name="Quiet", member_names=NAMES)
    room = add_timeline(
        room,
        [message("$qt01-hello", ALICE, 3, "hello"), message("$qt02-hi", ME, 4, "hi")],
        limited=False,
    )
    return receipt(room, ME, ReceiptType.PUBLIC, None, "$qt01-hello")


def design() -> RoomState:
    """History before the loaded events is missing, and my receipt points into it."""
    room = RoomState(DESIGN, ME, name="design-review", member_names=NAMES)
    events: list[TimelineEvent] = []
    for i in range(12):
        events.append(message(f"$dsg{i:02d}-note", CAROL, 30 + i, f"review note {i + 1}"))
    for i in range(4):
        root = f"$dsg-root{i}"
        events.append(message(root, ALICE, 42 + i, f"mockup {i + 1}"))
        events.append(in_thread(f"$dsg-reply{i}", root, BOB, 46 + i, f"looks good {i + 1}"))
    room = add_timeline(room, events, limited=True)
    room = receipt(room, ME, ReceiptType.PRIVATE, None, "$dsg-old-not-loaded")
    return set_server_counts(room, ServerCounts(notifications=16), {f"$dsg-root{i}": ServerCounts(1) for i in range(4)})


def markup() -> RoomState:
    room = RoomState(MARKUP, ME, name=MARKUP_NAME, member_names=NAMES)
    return add_timeline(
        room,
        [message("$mk01-link", BOB, 8, "[link=https://evil.example]click[/link] and [b]bold?[/b]")],
        limited=False,
    )


def later() -> RoomState:
    room = RoomState(LATER, ME, name="Later", member_names=NAMES, marked_unread=True)
    room = add_timeline(room, [message("$lt01-read", CAROL, 2, "read me later")], limited=False)
    return receipt(room, ME, ReceiptType.PRIVATE, None, "$lt01-read")


def direct() -> RoomState:
    room = RoomState(
        DM, ME, is_direct=True, member_names=NAMES, name_inputs=NameInputs(heroes=(BOB,), joined=2)
    )
    room = add_timeline(room, [message("$dm01-ping", BOB, 18, "ping")], limited=False)
    return receipt(room, ME, ReceiptType.PUBLIC, None, "$dm01-ping")


def invite() -> RoomState:
    return RoomState(INVITE, ME, name="Secret plans", membership="invite")


def recorded_account() -> AccountState:
    rooms = [ops(), random_room(), quiet(), design(), markup(), later(), direct(), invite()]
    return AccountState(ME, {room.room_id: room for room in rooms}, next_batch="s72594_4483_1934")
