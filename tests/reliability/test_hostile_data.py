"""Hostile data from the server or other users, where ``tests/matrix/test_translate.py``'s
fuzzing does not already go: relation graphs built on purpose (cycles, chains longer than
three hops, thread replies whose root is in another room, duplicate event IDs), enormous
bodies, control characters and terminal escapes. The model never raises and follows the
threading rule exactly; names and bodies reach the screen as text, never markup or
escape sequences (Pilot on the real Synapse)."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.config import Settings
from app.matrix.client import MatrixClient
from app.matrix.service import MatrixService
from app.matrix.translate import PREVIEW_MAX_CHARS, apply_sync
from app.model.account import AccountState, sorted_rooms
from app.model.edits import latest_text
from app.model.event_text import event_text
from app.model.ids import MAIN
from app.model.unread import room_unread, thread_unread, threads_unread
from app.ui.screens.main import MainScreen
from tests.matrix.helpers import session_of
from tests.reliability.helpers import screen_text, until
from tests.ui.helpers import RecordingApp

pytestmark = pytest.mark.faults

ME, ALICE = "@me:test", "@alice:test"
ROOM_A, ROOM_B = "!a:test", "!b:test"
IDS = ["$a", "$b", "$c", "$d", "$e", "$f"]
ELSEWHERE = "$elsewhere"  # a thread root that lives in room A only
REL_TYPES = ["m.thread", "m.annotation", "m.replace", "m.reference", "org.example.custom"]
# What must never reach a terminal (as in test_translate): C0/C1 controls, lone surrogates,
# bidi overrides and isolates.
UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")

ESCAPES = st.sampled_from([
    "\x1b]0;pwned\x07", "\x1b[2J\x1b[H", "\x1b[31mred", "\x9b31m", "\x1bP+q\x1b\\", "\x07\x08\x7f",
    "\u202eevil\u202c", "\u2066iso\u2069", "[bold red]x[/]", "[link=https://evil]click[/link]",
    "\r\nnew line", "\x00nul", "\ud800", "🧵", "\u200b",
])
HOSTILE_TEXT = st.lists(ESCAPES | st.text(max_size=30), max_size=6).map("".join)
ENORMOUS = st.builds(lambda unit, n: unit * n, HOSTILE_TEXT.filter(bool), st.integers(1_000, 20_000))


def message(event_id: str, body: str, ts: int, relation: tuple[str, str] | None = None) -> dict[str, Any]:
    content: dict[str, Any] = {"msgtype": "m.text", "body": body}
    if relation is not None:
        content["m.relates_to"] = {"rel_type": relation[0], "event_id": relation[1]}
    return {"type": "m.room.message", "event_id": event_id, "sender": ALICE, "origin_server_ts": ts, "content": content}


@st.composite
def relation_graphs(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Events with IDs from a small pool (so duplicates happen), each maybe related to any
    ID of the pool (cycles, self-relations, long chains) or to a root in the other room."""
    events = []
    for i in range(draw(st.integers(1, 14))):
        event_id = draw(st.sampled_from(IDS))
        relation = draw(st.none() | st.tuples(st.sampled_from(REL_TYPES), st.sampled_from([*IDS, ELSEWHERE])))
        body = draw(HOSTILE_TEXT | ENORMOUS) if draw(st.integers(0, 4)) == 0 else f"body {i}"
        events.append(message(event_id, body, 1_000 + i, relation))
    return events


# MATRIX_NOTES: a thread reply's relatives belong to its thread "within 3 hops", read as
# 3 relation edges in all from the event to the root. Written here, not imported from the
# model: the oracle must not move when the model does.
THREAD_EDGES = 3


def expected_thread(event_id: str, by_id: dict[str, dict[str, Any]]) -> str:
    """The rule as MATRIX_NOTES states it, as a walk: follow ``m.relates_to.event_id``
    (any ``rel_type``) from the event, counting edges; the first ``m.thread`` edge names
    the root R (not the event that carries it: nothing roots its own thread). The event
    is in R's thread when that edge is at most THREAD_EDGES edges from the event; a walk
    that runs out of relations, leaves the loaded events, or out of budget (cycles do)
    ends in the main timeline."""
    here, edges = event_id, 0
    while True:
        relation = by_id[here]["content"].get("m.relates_to")
        if relation is None:
            return MAIN
        edges += 1  # the edge from `here` to its target
        if edges > THREAD_EDGES:
            return MAIN
        target = relation["event_id"]
        if relation["rel_type"] == "m.thread":
            return MAIN if target == here else target
        if target not in by_id:
            return MAIN
        here = target


def sync_of(rooms: dict[str, list[dict[str, Any]]], ephemeral: list[dict[str, Any]] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    return {
        "next_batch": "s1",
        "rooms": {"join": {
            room_id: {"timeline": {"events": events, "limited": False}, "ephemeral": {"events": list(ephemeral)}}
            for room_id, events in rooms.items()
        }},
    }


class _Warnings(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record.getMessage())


def check_room(account: AccountState, room_id: str, events: list[dict[str, Any]]) -> None:
    room = account.rooms[room_id]
    first_of: dict[str, dict[str, Any]] = {}
    for event in events:
        first_of.setdefault(event["event_id"], event)
    # Duplicates: each ID once, the first occurrence kept, in order.
    assert [e.event_id for e in room.events] == list(first_of)
    for event_id in first_of:
        assert room.thread_of[event_id] == expected_thread(event_id, first_of), event_id
    for event in room.events:
        for text in (event.body, event.member_name, event.key, event_text(event), latest_text(room, event)):
            assert not UNSAFE.search(text), repr(text[:80])
            assert len(text) <= PREVIEW_MAX_CHARS + 1
    assert not UNSAFE.search(room.name)
    room_unread(room)
    for thread_id in threads_unread(room):
        thread_unread(room, thread_id).label()
    room.fully_read_event()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(graph_a=relation_graphs(), graph_b=relation_graphs(), receipt_targets=st.lists(st.sampled_from([*IDS, ELSEWHERE, "$unknown"]), max_size=4))
def test_relation_graphs_never_raise_and_follow_the_threading_rule(graph_a, graph_b, receipt_targets) -> None:
    room_a = [message(ELSEWHERE, "a root in room A", 1), *graph_a]
    room_b = graph_b  # thread replies to $elsewhere here have their root in another room
    receipts = [{"type": "m.receipt", "content": {target: {"m.read": {ME: {"ts": 5, "thread_id": thread}}}}}
                for target, thread in zip(receipt_targets, [MAIN, ELSEWHERE, "$a", "$unknown"], strict=False)]
    catcher = _Warnings()
    logger = logging.getLogger("app.matrix.translate")
    logger.addHandler(catcher)
    try:
        account = apply_sync(AccountState(ME), sync_of({ROOM_A: room_a, ROOM_B: room_b}, receipts))
        # The same batch again (a retried sync): nothing doubles.
        again = apply_sync(account, sync_of({ROOM_A: room_a, ROOM_B: room_b}, receipts))
    finally:
        logger.removeHandler(catcher)
    assert catcher.records == []  # no room needed the translator's last-resort guard
    for acc in (account, again):
        check_room(acc, ROOM_A, room_a)
        check_room(acc, ROOM_B, room_b)
        sorted_rooms(acc)
    # Room B's replies to a root in room A never count in room A.
    in_a = {e.event_id for e in account.rooms[ROOM_A].events}
    for position in account.rooms[ROOM_A].thread_positions.get(ELSEWHERE, ()):
        assert account.rooms[ROOM_A].events[position].event_id in in_a


@settings(max_examples=60, deadline=None)
@given(hops=st.integers(0, 8), rel_types=st.lists(st.sampled_from(REL_TYPES[1:]), min_size=8, max_size=8))
def test_a_chain_reaches_its_thread_within_three_hops_only(hops, rel_types) -> None:
    """root <- reply (m.thread) <- x1 <- x2 ... <- x_hops (any other relation):
    x_k is in the thread when it is at most 3 relation edges from the root."""
    events = [message("$root", "root", 1), message("$reply", "reply", 2, ("m.thread", "$root"))]
    parent = "$reply"
    for k in range(1, hops + 1):
        events.append(message(f"$x{k}", f"x{k}", 2 + k, (rel_types[k - 1], parent)))
        parent = f"$x{k}"
    room = apply_sync(AccountState(ME), sync_of({ROOM_A: events})).rooms[ROOM_A]
    for k in range(1, hops + 1):
        # x_k needs k hops to reach the reply, whose m.thread is one more: k + 1 edges
        # to the root, which must be at most THREAD_EDGES (MATRIX_NOTES' reading).
        assert room.thread_of[f"$x{k}"] == ("$root" if k + 1 <= THREAD_EDGES else MAIN), (k, room.thread_of)
    assert room.thread_of["$root"] == MAIN and room.thread_of["$reply"] == "$root"


def test_an_enormous_sync_body_is_bounded() -> None:
    body = ("\x1b]0;pwned\x07" + "A" * 1000) * 2000  # 2 MB of text with escapes every kilobyte
    room = apply_sync(AccountState(ME), sync_of({ROOM_A: [message("$big", body, 1)]})).rooms[ROOM_A]
    (event,) = room.events
    assert len(event.body) <= PREVIEW_MAX_CHARS + 1 and not UNSAFE.search(event.body)
    assert event_text(event) == event.body


JUNK = st.none() | st.integers() | st.lists(st.text(max_size=3), max_size=2) | st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)


@st.composite
def fact_bearing_events(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Every kind of event whose facts carry text, each text hostile, enormous or not a
    string at all; msgtype and membership any value."""
    text = HOSTILE_TEXT | ENORMOUS | JUNK

    def event(event_id: str, etype: str, content: dict[str, Any], **fields: Any) -> dict[str, Any]:
        return {"type": etype, "event_id": event_id, "sender": ALICE, "origin_server_ts": 1, "content": content, **fields}

    msgtype = st.sampled_from(["m.text", "m.emote", "m.image", "m.file", "m.audio", "m.video", "m.location",
                               "m.notice", "org.example"]) | JUNK
    return [
        event("$member", "m.room.member", {"membership": draw(st.sampled_from(["join", "leave"]) | JUNK),
                                           "displayname": draw(text)}, state_key=draw(st.just(ALICE) | HOSTILE_TEXT)),
        event("$msg", "m.room.message", {"msgtype": draw(msgtype), "body": draw(text)}),
        event("$edit", "m.room.message", {"msgtype": draw(msgtype), "body": draw(text),
                                          "m.new_content": {"msgtype": draw(msgtype), "body": draw(text)},
                                          "m.relates_to": {"rel_type": "m.replace", "event_id": "$msg"}}),
        event("$react", "m.reaction", {"m.relates_to": {"rel_type": "m.annotation", "event_id": "$msg",
                                                        "key": draw(text)}}),
        event("$poll", "m.poll.start", {"m.poll": {"question": {"m.text": draw(text)}}}),
        event("$sticker", "m.sticker", {"body": draw(text)}),
        event("$name", "m.room.name", {"name": draw(text)}, state_key=""),
        event("$topic", "m.room.topic", {"topic": draw(text)}, state_key=""),
        event("$alias", "m.room.canonical_alias", {"alias": draw(text)}, state_key=""),
    ]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(events=fact_bearing_events())
def test_hostile_text_in_every_fact_stays_safe_and_bounded(events: list[dict[str, Any]]) -> None:
    catcher = _Warnings()
    logger = logging.getLogger("app.matrix.translate")
    logger.addHandler(catcher)
    try:
        room = apply_sync(AccountState(ME), sync_of({ROOM_A: events})).rooms[ROOM_A]
    finally:
        logger.removeHandler(catcher)
    assert catcher.records == []
    assert [e.event_id for e in room.events] == [e["event_id"] for e in events]
    for event in room.events:
        for text in (event.body, event.member_name, event.key, event_text(event), latest_text(room, event)):
            assert type(text) is str and not UNSAFE.search(text), (event.event_id, repr(text[:80]))
            assert len(text) <= PREVIEW_MAX_CHARS, (event.event_id, len(text))
    assert not UNSAFE.search(room.name)


# ---- on screen --------------------------------------------------------------------------

HOSTILE_ROOM = "[bold red]x[/]"
HOSTILE_BODY = "\x1b]0;pwned\x07 hi [i]not italic[/i] \x1b[2J"
HOSTILE_NAME = "[blink]Mallory[/] \x1b[31m"


@pytest.mark.synapse
async def test_hostile_names_and_bodies_show_as_plain_text(make_actor, synapse) -> None:
    me, mallory = make_actor("me"), make_actor("mallory")
    mallory.request("PUT", f"/_matrix/client/v3/profile/{mallory.user_id}/displayname", {"displayname": HOSTILE_NAME})
    room = mallory.create_room(HOSTILE_ROOM, invite=[me.user_id])
    me.join(room)
    root = mallory.send_text(room, HOSTILE_BODY)
    mallory.send_thread_reply(room, root, "[reverse]reply[/reverse] \x1b[5m")
    service = MatrixService(MatrixClient.from_session(session_of(me)), sync_timeout_ms=500)
    app = RecordingApp(service, Settings())
    async with app.run_test(size=(160, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen.status.sync_text.endswith("live"))
        await pilot.press("tab", "tab")  # the timeline: bodies and senders
        await until(pilot, lambda: "hi [i]not italic[/i]" in screen_text(pilot))
        text = screen_text(pilot)
        assert HOSTILE_ROOM in text  # the rooms pane and the threads pane title, literally
        assert "]0;pwned hi [i]not italic[/i] [2J" in text  # ESC and BEL gone, the rest as typed
        assert "[blink]Mal" in text  # the sender column holds 10 characters, literally
        await pilot.press("shift+tab", "j")
        await until(pilot, lambda: "[reverse]reply[/reverse]" in screen_text(pilot))
        # Nothing on screen carries a control character or was styled by the text itself.
        strips = app.screen._compositor.render_strips()  # noqa: SLF001
        for strip in strips:
            for segment in strip:
                assert not UNSAFE.search(segment.text), repr(segment.text)
                if "not italic" in segment.text or "[blink]" in segment.text or "x[/]" in segment.text:
                    style = segment.style
                    assert style is None or not (style.italic or style.blink or (style.color and style.color.name == "red"))
        await pilot.press("q")
        await pilot.pause()
