"""The read-state core (``app.matrix.core``) on its own: no server, no event loop, no files.
What it decides here is what the service, ``readmark mark`` and the UI tests' double run."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.matrix.core import FILL_BUDGET, FillJob, FillKind, ReadStateCore
from app.matrix.translate import SyncFormatError
from app.model.account import AccountState
from app.model.ids import MAIN
from app.model.plan import ActionKind, FullyReadRequest, ReceiptAction, ReceiptRequest, Refusal
from app.model.receipts import ReceiptType
from app.model.sending import ModeRules, RoomMode
from app.model.unread import thread_unread

ME = "@me:test"
ALICE = "@alice:test"
ROOM = "!room:test"
OTHER = "!other:test"
PRIV, PUB = ReceiptType.PRIVATE, ReceiptType.PUBLIC

_clock = iter(range(1_000, 10**9, 1_000))


def message(event_id: str, sender: str = ALICE, thread: str | None = None) -> dict[str, Any]:
    content: dict[str, Any] = {"msgtype": "m.text", "body": event_id}
    if thread is not None:
        content["m.relates_to"] = {"rel_type": "m.thread", "event_id": thread}
    return {"type": "m.room.message", "event_id": event_id, "sender": sender,
            "origin_server_ts": next(_clock), "content": content}


def sync(rooms: dict[str, list[dict]], *, batch: str = "s1", limited: bool = False, prev: str | None = None) -> bytes:
    join = {
        room_id: {"timeline": {"events": events, "limited": limited, **({"prev_batch": prev} if prev else {})}}
        for room_id, events in rooms.items()
    }
    return json.dumps({"next_batch": batch, "rooms": {"join": join}}).encode()


def synced(*events: dict, limited: bool = False, prev: str | None = None, **core_args: Any) -> ReadStateCore:
    core = ReadStateCore(ME, **core_args)
    core.load(None, ())
    core.private_supported = True
    core.receive_sync(sync({ROOM: list(events)}, limited=limited, prev=prev))
    return core


THREAD = ReceiptAction(ActionKind.THREADED, PRIV, MAIN)


# ---- receipts ------------------------------------------------------------------


def test_plan_changes_nothing_until_queued_and_settle_keeps_or_rolls_back() -> None:
    core = synced(message("$1"), message("$2"))
    assert thread_unread(core.account.rooms[ROOM], MAIN).unread == 2
    request = core.plan(ROOM, THREAD)
    assert request == ReceiptRequest(ROOM, PRIV, "$2", MAIN)
    assert thread_unread(core.account.rooms[ROOM], MAIN).unread == 2 and core.pending == []
    core.queued(request, now_ms=5)
    assert thread_unread(core.account.rooms[ROOM], MAIN).unread == 0 and core.pending == [request]
    # Refused: the count comes back.
    outcome = core.settled(request, "M_FORBIDDEN: no")
    assert not outcome.accepted and outcome.error == "M_FORBIDDEN: no"
    assert thread_unread(core.account.rooms[ROOM], MAIN).unread == 2 and core.pending == []
    # Accepted: it stays read.
    core.queued(request, now_ms=6)
    assert core.settled(request, None).accepted
    assert thread_unread(core.account.rooms[ROOM], MAIN).unread == 0


def test_pending_requests_coalesce_per_key_as_the_queue_does() -> None:
    core = synced(message("$1"), message("$2"))
    first = ReceiptRequest(ROOM, PRIV, "$1", MAIN)
    second = ReceiptRequest(ROOM, PRIV, "$2", MAIN)
    other_key = ReceiptRequest(ROOM, PRIV, "$2", None)
    for request in (first, second, other_key):
        core.queued(request, now_ms=1)
    assert core.pending == [second, other_key]


@pytest.mark.parametrize(
    ("modes", "session", "asked", "refused"),
    [
        (ModeRules(PRIV), None, PUB, "private-mode"),
        (ModeRules(PRIV), PUB, PUB, None),  # the session toggle made it public
        (ModeRules(PUB, {ROOM: PRIV}), PUB, PUB, "private-mode"),  # pinned private
        (ModeRules(PRIV, {ROOM: PUB}), PRIV, PUB, None),  # pinned public
        (ModeRules(PUB), None, PRIV, None),  # private is always allowed
    ],
)
def test_the_rooms_mode_decides_what_may_be_sent(modes, session, asked, refused) -> None:  # noqa: ANN001
    core = synced(message("$1"), modes=modes, session_mode=session)
    result = core.plan(ROOM, ReceiptAction(ActionKind.UNTHREADED, asked))
    if refused is None:
        assert isinstance(result, ReceiptRequest) and result.receipt_type is asked
    else:
        assert isinstance(result, Refusal) and result.code == refused
    # The fully-read marker alone is no receipt: any mode may move it.
    assert isinstance(core.plan(ROOM, ReceiptAction(ActionKind.FULLY_READ, asked)), FullyReadRequest)


def test_no_private_receipt_is_planned_for_a_server_without_them() -> None:
    core = synced(message("$1"))
    core.private_supported = False
    for action in (THREAD, ReceiptAction(ActionKind.UNTHREADED, PRIV),
                   ReceiptAction(ActionKind.FULLY_READ, PRIV, with_receipt=True)):
        refusal = core.plan(ROOM, action)
        assert isinstance(refusal, Refusal) and refusal.code == "no-private-receipts"
    assert core.pending == []
    # Not known yet: planned, and checked again before it leaves.
    core.private_supported = None
    assert isinstance(core.plan(ROOM, THREAD), ReceiptRequest)


def test_a_room_not_in_the_account_is_refused() -> None:
    core = synced(message("$1"))
    assert core.plan(OTHER, THREAD) == Refusal("unknown-room", f"room {OTHER} is not joined")


def test_mode_in_and_use_modes() -> None:
    core = ReadStateCore(ME)
    assert core.mode_in(ROOM) == RoomMode(PRIV)
    core.use_modes(ModeRules(PUB, {OTHER: PRIV}))
    assert core.session_mode is PUB and core.mode_in(ROOM) == RoomMode(PUB)
    assert core.mode_in(OTHER) == RoomMode(PRIV, pinned=True)
    core.session_mode = PRIV
    assert core.mode_in(ROOM) == RoomMode(PRIV) and core.mode_in(None) == RoomMode(PRIV)


# ---- loading and syncing ----------------------------------------------------------


def test_load_applies_what_the_queue_held_once() -> None:
    cached = synced(message("$1"), message("$2")).account
    queued = ReceiptRequest(ROOM, PRIV, "$2", MAIN)
    core = ReadStateCore(ME)
    core.load(cached, [queued])
    assert thread_unread(core.account.rooms[ROOM], MAIN).unread == 0 and core.pending == [queued]
    again = core.account
    assert core.load(AccountState(ME), [ReceiptRequest(ROOM, PRIV, "$1", None)]) is again


def test_receive_sync_reports_the_changed_rooms_and_an_initial_sync_drops_the_unlisted() -> None:
    core = synced(message("$1"))
    changed = core.receive_sync(sync({OTHER: [message("$o")]}, batch="s2"))
    assert changed == {OTHER} and set(core.account.rooms) == {ROOM, OTHER} and core.since == "s2"
    core.forget_since()
    assert core.since is None
    changed = core.receive_sync(sync({OTHER: []}, batch="s3"))
    assert ROOM in changed and set(core.account.rooms) == {OTHER}


def test_a_body_that_is_not_json_changes_nothing() -> None:
    core = synced(message("$1"))
    before = core.account
    with pytest.raises(SyncFormatError):
        core.receive_sync(b"{nope")
    with pytest.raises(SyncFormatError):
        core.receive_sync(b"[1, 2]")
    assert core.account is before


# ---- history ---------------------------------------------------------------------


def test_after_the_first_sync_lower_bound_threads_and_gaps_are_wanted_most_recent_first() -> None:
    root_old, root_new = message("$old"), message("$new")
    core = synced(
        root_old, message("$r1", thread="$old"), root_new, message("$r2", thread="$new"), message("$m"),
        limited=True, prev="p0",
    )
    jobs = core.take_fill_jobs()
    kinds = [job.kind for job in jobs]
    assert FillJob(FillKind.DISCOVER, ROOM) in jobs  # history not all loaded
    threads = [job.thread_id for job in jobs if job.kind is FillKind.THREAD]
    assert threads == ["$new", "$old"]
    assert kinds.count(FillKind.MAIN_GAP) == 1
    assert core.take_fill_jobs() == []
    # The same state again wants nothing new.
    core.receive_sync(sync({ROOM: []}, batch="s2"))
    assert core.take_fill_jobs() == []


def test_a_thread_loaded_whole_is_no_longer_wanted() -> None:
    core = synced(message("$root"), message("$r1", thread="$root"), limited=True, prev="p0")
    job = next(job for job in core.take_fill_jobs() if job.kind is FillKind.THREAD)
    assert core.fill_still_wanted(job)
    assert core.thread_events_wanted(ROOM, "$root", ["$r1"]) == []  # the root is loaded
    core.thread_loaded(ROOM, "$root", [message("$r0", thread="$root")], complete=True)
    assert not core.fill_still_wanted(job)
    assert core.open_thread(ROOM, "$root") is None
    assert not thread_unread(core.account.rooms[ROOM], "$root").lower_bound


def test_thread_events_wanted_names_the_root_and_my_receipts_events() -> None:
    core = synced(message("$x"))
    core.queued(ReceiptRequest(ROOM, PRIV, "$gone", "$root"), now_ms=1)
    assert core.thread_events_wanted(ROOM, "$root", []) == ["$root", "$gone"]
    assert core.thread_events_wanted(ROOM, "$root", ["$root"]) == ["$gone"]
    assert core.thread_events_wanted(OTHER, "$root", []) == []


def test_a_thread_list_wants_the_threads_the_window_does_not_show() -> None:
    core = synced(message("$root"), message("$r1", thread="$root"))
    core.take_fill_jobs()
    core.threads_listed(ROOM, [message("$root"), message("$unseen"), {"not": "an event"}])
    assert core.take_fill_jobs() == [FillJob(FillKind.THREAD, ROOM, "$unseen")]
    # Listed once: looking at the main timeline again asks for nothing.
    assert core.open_thread(ROOM, MAIN) is None
    assert not core.fill_still_wanted(FillJob(FillKind.DISCOVER, ROOM))


def test_opening_a_thread_or_the_main_timeline() -> None:
    core = synced(message("$root"), message("$r1", thread="$root"))
    assert core.open_thread(ROOM, "$root") == FillJob(FillKind.THREAD, ROOM, "$root")
    assert core.open_thread(ROOM, MAIN) == FillJob(FillKind.DISCOVER, ROOM)
    assert core.open_thread(OTHER, MAIN) is None


def test_a_main_timeline_gap_is_paged_until_my_receipt_is_loaded() -> None:
    core = synced(message("$10"), message("$11"), limited=True, prev="p1")
    core.queued(ReceiptRequest(ROOM, PRIV, "$9", MAIN), now_ms=1)  # not loaded: count is a bound
    assert thread_unread(core.account.rooms[ROOM], MAIN).lower_bound
    before, token = core.gap_to_fill(ROOM)
    assert (before, token) == ("$10", "p1")
    # /messages dir=b: newest first.
    core.gap_loaded(ROOM, before, [message("$9"), message("$8")], "p2")
    assert not thread_unread(core.account.rooms[ROOM], MAIN).lower_bound
    assert core.gap_to_fill(ROOM) is None


def test_the_background_budget_bounds_the_jobs_of_a_run() -> None:
    events = []
    for i in range(12):
        events += [message(f"$root{i}"), message(f"$reply{i}", thread=f"$root{i}")]
    core = synced(*events, limited=True, prev="p0", fill_budget=5)
    jobs = core.take_fill_jobs()
    budgeted = [job for job in jobs if job.kind is not FillKind.DISCOVER]
    assert len(budgeted) == 5 - 1  # the discovery job counts against it too
    assert FILL_BUDGET == 300


# ---- the receipt mode set from readmark -----------------------------------------------


def test_a_receipt_override_is_set_at_once_and_says_whether_it_changed() -> None:
    core = synced(message("$a"))
    assert core.account.rooms[ROOM].receipt_override is None
    assert core.set_receipt_override(ROOM, "none") is True
    assert core.account.rooms[ROOM].receipt_override == "none"
    assert core.set_receipt_override(ROOM, "none") is False
    assert core.set_receipt_override(ROOM, "private") is True
    assert core.set_receipt_override(ROOM, None) is True
    assert core.account.rooms[ROOM].receipt_override is None
    assert core.set_receipt_override(ROOM, None) is False
    assert core.set_receipt_override("!unknown:test", "public") is False
    assert "!unknown:test" not in core.account.rooms


@pytest.mark.parametrize("mode", ["loud", "", "None", "PUBLIC"])
def test_a_receipt_override_outside_the_modes_raises(mode: str) -> None:
    core = synced(message("$a"))
    with pytest.raises(ValueError):
        core.set_receipt_override(ROOM, mode)
    assert core.account.rooms[ROOM].receipt_override is None
