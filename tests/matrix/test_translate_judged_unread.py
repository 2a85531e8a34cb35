"""The push rules judge only what is still unread once a sync's receipts are in.

A message my confirmed receipt covers (for the whole room or its thread) is never
counted, so the translation leaves its verdict ``ALERT_UNKNOWN``; every other message
of the sync is judged. The counts must be those of judging everything: the same sync
with its receipts held back to a second sync (nothing is covered when the events
arrive, so each is judged) gives every thread the same unread, notification and
highlight counts."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.matrix.translate import apply_sync
from app.model.account import AccountState
from app.model.events import ALERT_UNKNOWN
from app.model.ids import MAIN
from app.model.receipts import Receipt, ReceiptKey, ReceiptType
from app.model.room import add_pending, settle_pending
from app.model.unread import threads_unread

ME = "@me:test"
ALICE = "@alice:test"
BOB = "@bob:test"
ROOM = "!room:test"


def message(n: int, sender: str, body: str, thread: int | None = None, mention: bool = False) -> dict[str, Any]:
    content: dict[str, Any] = {"msgtype": "m.text", "body": body}
    if thread is not None:
        content["m.relates_to"] = {"rel_type": "m.thread", "event_id": f"$e{thread}"}
    if mention:
        content["m.mentions"] = {"user_ids": [ME]}
    return {"type": "m.room.message", "event_id": f"$e{n}", "sender": sender, "origin_server_ts": 1000 + n,
            "content": content}


def receipt(event_id: str, receipt_type: str, thread_id: str | None) -> dict[str, Any]:
    fields: dict[str, Any] = {"ts": 7}
    if thread_id is not None:
        fields["thread_id"] = thread_id
    return {"type": "m.receipt", "content": {event_id: {receipt_type: {ME: fields}}}}


def room_sync(events: list[dict], receipts: list[dict], next_batch: str = "s1") -> dict[str, Any]:
    return {
        "next_batch": next_batch,
        "rooms": {"join": {ROOM: {
            "summary": {"m.joined_member_count": 3},
            "timeline": {"events": events, "limited": False},
            "ephemeral": {"events": receipts},
        }}},
    }


def counts(account: AccountState) -> dict:
    room = account.rooms[ROOM]
    return {
        t.thread_id: (t.unread, t.local_notifications, t.local_highlights, t.first_unread)
        for t in threads_unread(room).values()
    }


# A message: its sender, body (a keyword of mine, or "quiet" words), thread (a root
# among the earlier messages, or main) and whether it mentions me.
_messages = st.lists(
    st.tuples(
        st.sampled_from([ALICE, BOB, ME]),
        st.sampled_from(["hello", "me", "hi @me:test", "nothing", "me too"]),
        st.integers(0, 30),
        st.booleans(),
        st.booleans(),
    ),
    min_size=1,
    max_size=30,
)
# My receipts: on which message (by index), which type, unthreaded or for its thread.
_receipts = st.lists(
    st.tuples(st.integers(0, 29), st.sampled_from(["m.read", "m.read.private"]), st.booleans()),
    max_size=4,
)


def _build(specs: list, receipt_specs: list) -> tuple[list[dict], list[dict]]:
    events: list[dict] = []
    thread_of: dict[int, str | None] = {}
    for n, (sender, body, root, threaded, mention) in enumerate(specs, start=1):
        # A reply names an earlier main-timeline message as its root.
        roots = [i for i in range(1, n) if thread_of[i] is None]
        thread = roots[root % len(roots)] if threaded and roots else None
        thread_of[n] = None if thread is None else f"$e{thread}"
        events.append(message(n, sender, body, thread, mention))
    receipts = []
    for index, receipt_type, threaded in receipt_specs:
        n = index % len(events) + 1
        thread_id = (thread_of[n] or MAIN) if threaded else None
        receipts.append(receipt(f"$e{n}", receipt_type, thread_id))
    return events, receipts


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_messages, _receipts)
def test_judging_only_what_stays_unread_counts_as_judging_everything(specs: list, receipt_specs: list) -> None:
    events, receipts = _build(specs, receipt_specs)
    at_once = apply_sync(AccountState(ME), room_sync(copy.deepcopy(events), receipts))
    everything_judged = apply_sync(AccountState(ME), room_sync(copy.deepcopy(events), []))
    everything_judged = apply_sync(everything_judged, room_sync([], receipts, "s2"))
    assert counts(at_once) == counts(everything_judged)


def test_a_message_behind_my_confirmed_receipt_is_not_judged_and_the_rest_are() -> None:
    events = [
        message(1, ALICE, "before", mention=True),
        message(2, BOB, "root"),
        message(3, ALICE, "in the thread, read", thread=2),
        message(4, ALICE, "in the thread, unread", thread=2, mention=True),
        message(5, ALICE, "main, after the receipt"),
    ]
    receipts = [receipt("$e2", "m.read.private", None), receipt("$e3", "m.read", "$e2")]
    room = apply_sync(AccountState(ME), room_sync(events, receipts)).rooms[ROOM]
    alerts = {event.event_id: event.alert for event in room.events}
    assert alerts["$e1"] == alerts["$e2"] == alerts["$e3"] == ALERT_UNKNOWN
    assert ALERT_UNKNOWN not in (alerts["$e4"], alerts["$e5"])
    thread = threads_unread(room)
    assert (thread["$e2"].unread, thread["$e2"].local_highlights) == (1, 1)
    assert (thread[MAIN].unread, thread[MAIN].local_highlights) == (1, 0)


def test_a_receipt_only_pending_covers_nothing_so_a_refused_one_leaves_true_counts() -> None:
    # My pending receipt (sent, not yet confirmed) on $e3: the server may refuse it, and
    # then the mention before it is unread again, with its verdict.
    before = apply_sync(AccountState(ME), room_sync([message(1, ALICE, "first")], []))
    key = ReceiptKey(ME, ReceiptType.PRIVATE, None)
    room = add_pending(before.rooms[ROOM], key, Receipt("$e3", 1))
    account = before.with_room(room)
    account = apply_sync(account, room_sync([message(2, ALICE, "hey", mention=True), message(3, BOB, "x")], [], "s2"))
    room = account.rooms[ROOM]
    assert threads_unread(room)[MAIN].unread == 0  # the pending receipt reads them
    refused = settle_pending(room, key, "$e3", accepted=False)
    main = threads_unread(refused)[MAIN]
    assert (main.unread, main.local_notifications, main.local_highlights) == (3, 3, 1)
