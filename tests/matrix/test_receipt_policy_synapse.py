"""The receipt policy's facts against a real Synapse: the receipt mode set for a room from
one readmark profile (``MatrixService.set_receipt_override``, room account data
``org.readmark.receipt_policy``) reaches another, independent profile of the same user
(a second login: another device, its own core and sync), and so does clearing it; a
refusal takes the optimistic mode back; a room's join rule and history visibility are
translated from readmark's filtered sync.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import pytest

from app.devserver.actor import CLIENT_V3, MatrixActor
from app.matrix.client import MatrixClient
from app.matrix.core import ReadStateCore, ReceiptOutcome
from app.matrix.errors import MatrixError
from app.matrix.service import MatrixService, SyncStatus, sync_once
from app.matrix.session import Session
from app.matrix.sync_filter import EVENT_FIELDS, sync_filter
from app.model.account import AccountState
from app.model.room import RECEIPT_POLICY_TYPE
from tests.faultproxy import FaultProxy, Rule, path_contains
from tests.matrix.helpers import eventually, session_of

pytestmark = pytest.mark.synapse


class Recorder:
    """A ``ServiceListener`` that keeps the last account it was shown, and every receipt
    mode it was shown for the room it ``watches``, in order."""

    def __init__(self) -> None:
        self.account: AccountState | None = None
        self.watched: str | None = None
        self.shown: list[str | None] = []

    def account_changed(self, account: AccountState) -> None:
        self.account = account
        room = account.rooms.get(self.watched) if self.watched is not None else None
        if room is not None and (not self.shown or self.shown[-1] != room.receipt_override):
            self.shown.append(room.receipt_override)

    def status_changed(self, status: SyncStatus) -> None:
        pass

    def receipt_settled(self, outcome: ReceiptOutcome) -> None:
        pass

    def queue_changed(self, pending: int) -> None:
        pass

    def override(self, room_id: str) -> object:
        room = None if self.account is None else self.account.rooms.get(room_id)
        return "no room" if room is None else room.receipt_override


@contextlib.asynccontextmanager
async def running(service: MatrixService) -> AsyncIterator[Recorder]:
    recorder = Recorder()
    task = asyncio.create_task(service.run(recorder))
    try:
        yield recorder
    finally:
        await service.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class OtherProfile:
    """A second readmark profile of the same user: another login (device), its own core,
    synced with readmark's own ``sync_once`` (no cache, nothing shared with the first)."""

    def __init__(self, actor: MatrixActor) -> None:
        self.actor = actor
        self.core = ReadStateCore(actor.user_id)

    async def override_of(self, room_id: str) -> object:
        async with MatrixClient.from_session(session_of(self.actor)) as client:
            await sync_once(client, self.core)
        room = self.core.account.rooms.get(room_id)
        return "no room" if room is None else room.receipt_override


async def until_synced(service: MatrixService, actor: MatrixActor) -> None:
    """Until the service's sync has passed a marker sent after now: a message of mine
    in a room of my own, which its sync brings."""
    marker_room = actor.create_room("marker")
    await eventually(lambda: marker_room in service.account.rooms)


def second_login(base_url: str, me: MatrixActor) -> MatrixActor:
    localpart = me.user_id[1:].split(":", 1)[0]
    other = MatrixActor.login(base_url, me.user_id, f"pw-{localpart}")
    assert other.device_id != me.device_id
    return other


def policy_on_server(actor: MatrixActor, room_id: str) -> dict:
    return actor.request("GET", f"{CLIENT_V3}/user/{actor.user_id}/rooms/{room_id}/account_data/{RECEIPT_POLICY_TYPE}")


async def test_a_receipt_mode_set_from_one_profile_reaches_another_and_so_does_clearing_it(
    make_actor: Callable[..., MatrixActor], synapse
) -> None:
    alice, me = make_actor("alice"), make_actor("me")
    room_id = alice.create_room("Quiet please", invite=[me.user_id])
    me.join(room_id)
    other = OtherProfile(second_login(synapse.base_url, me))
    assert await other.override_of(room_id) is None

    service = MatrixService(MatrixClient.from_session(session_of(me)), sync_timeout_ms=300)
    async with running(service) as seen:
        await eventually(lambda: seen.override(room_id) is None)
        await service.set_receipt_override(room_id, "none")
        # Kept, and on the server once the call returns.
        assert service.account.rooms[room_id].receipt_override == "none"
        assert policy_on_server(me, room_id) == {"mode": "none"}
        assert await other.override_of(room_id) == "none"
        # The first profile's own sync confirms it (and keeps it).
        await until_synced(service, me)
        assert seen.override(room_id) == "none"

        await service.set_receipt_override(room_id, None)
        assert service.account.rooms[room_id].receipt_override is None
        assert policy_on_server(me, room_id) == {}
        assert await other.override_of(room_id) is None

        await service.set_receipt_override(room_id, "private")
        assert await other.override_of(room_id) == "private"
        with pytest.raises(ValueError):
            await service.set_receipt_override(room_id, "loud")
        assert service.account.rooms[room_id].receipt_override == "private"
    # A fresh initial sync of the other profile (no since token) reads it too.
    assert await OtherProfile(other.actor).override_of(room_id) == "private"


async def test_a_refused_receipt_mode_is_taken_back(make_actor: Callable[..., MatrixActor], synapse) -> None:
    alice, me = make_actor("alice"), make_actor("me")
    room_id = alice.create_room("Refused", invite=[me.user_id])
    me.join(room_id)
    async with FaultProxy(synapse.base_url) as proxy:
        refusal = proxy.add(Rule(
            path_contains(f"/account_data/{RECEIPT_POLICY_TYPE}", "PUT"), times=1, status=403,
            body={"errcode": "M_FORBIDDEN", "error": "not today"},
        ))
        client = MatrixClient.from_session(Session(proxy.base_url, me.user_id, me.device_id, me.access_token))
        service = MatrixService(client, sync_timeout_ms=300)
        async with running(service) as seen:
            await eventually(lambda: seen.override(room_id) is None)
            seen.watched, seen.shown = room_id, [None]
            with pytest.raises(MatrixError):
                await service.set_receipt_override(room_id, "public")
            # Shown before the server answered (optimistic), then taken back.
            assert seen.shown == [None, "public", None]
            assert refusal.times == 0
            assert service.account.rooms[room_id].receipt_override is None
            assert seen.override(room_id) is None
            # The next try goes through.
            await service.set_receipt_override(room_id, "public")
            assert policy_on_server(me, room_id) == {"mode": "public"}


async def test_join_rules_and_history_visibility_come_from_readmarks_sync(
    make_actor: Callable[..., MatrixActor],
) -> None:
    alice, me = make_actor("alice"), make_actor("me")
    public = alice.create_room("Public", preset="public_chat")
    private = alice.create_room("Private", invite=[me.user_id], preset="private_chat")
    readable = alice.create_room("Readable", invite=[me.user_id], preset="private_chat")
    alice.send_state(readable, "m.room.history_visibility", {"history_visibility": "world_readable"})
    invited = alice.create_room("Invited", invite=[me.user_id], preset="public_chat")
    for room_id in (public, private, readable):
        me.join(room_id)

    core = ReadStateCore(me.user_id)
    async with MatrixClient.from_session(session_of(me)) as client:
        await sync_once(client, core)
    rooms = core.account.rooms
    assert (rooms[public].join_rule, rooms[public].history_visibility) == ("public", "shared")
    assert (rooms[private].join_rule, rooms[private].history_visibility) == ("invite", "shared")
    assert (rooms[readable].join_rule, rooms[readable].history_visibility) == ("invite", "world_readable")
    # An invite's stripped state carries the join rule (Synapse's default
    # room_prejoin_state lists it; not the history visibility).
    assert rooms[invited].membership == "invite" and rooms[invited].join_rule == "public"

    # A change comes with the next incremental sync.
    alice.send_state(private, "m.room.join_rules", {"join_rule": "public"})
    alice.send_state(public, "m.room.history_visibility", {"history_visibility": "joined"})
    async with MatrixClient.from_session(session_of(me)) as client:
        await sync_once(client, core)
    rooms = core.account.rooms
    assert rooms[private].join_rule == "public"
    assert rooms[public].history_visibility == "joined"
    assert rooms[readable].join_rule == "invite"


def test_synapse_does_not_trim_account_data_by_event_fields(make_actor: Callable[..., MatrixActor]) -> None:
    """What the filter's docstring says: account data arrives whole whatever
    ``event_fields`` lists (so ``content.mode`` is listed only for a server that would
    trim it), while state events are trimmed to the fields listed."""
    me = make_actor("me")
    room_id = me.create_room("Mine")
    me.request("PUT", f"{CLIENT_V3}/user/{me.user_id}/rooms/{room_id}/account_data/{RECEIPT_POLICY_TYPE}",
               {"mode": "none", "extra": 1})
    body = sync_filter()
    assert "content.mode" in body["event_fields"]
    body["event_fields"] = [field for field in EVENT_FIELDS if field not in ("content.mode", "content.join_rule")]
    room = me.sync(filter=body)["rooms"]["join"][room_id]
    (policy,) = [e for e in room["account_data"]["events"] if e["type"] == RECEIPT_POLICY_TYPE]
    assert policy["content"] == {"mode": "none", "extra": 1}
    join_rules = [e for e in room["state"]["events"] + room["timeline"]["events"] if e["type"] == "m.room.join_rules"]
    assert join_rules and all("join_rule" not in e.get("content", {}) for e in join_rules)
    # With readmark's own filter the state keeps what it reads.
    room = me.sync(filter=sync_filter())["rooms"]["join"][room_id]
    join_rules = [e for e in room["state"]["events"] + room["timeline"]["events"] if e["type"] == "m.room.join_rules"]
    assert [e["content"] for e in join_rules] == [{"join_rule": "invite"}]


async def test_a_queued_public_receipt_is_not_sent_once_the_room_is_private(
    make_actor: Callable[..., MatrixActor], synapse
) -> None:
    """A public receipt left queued by an earlier run (the room was public then), and a
    rule that makes the room private now: the policy as it is when the request leaves has
    the last word, so it is refused, never sent; the witness sees nothing."""
    from app import paths
    from app.matrix.queue import QUEUE_FILE, ReceiptQueue
    from app.model.plan import ReceiptRequest
    from app.model.policy import Mode, PolicyRule
    from app.model.receipts import ReceiptType
    from app.model.sending import ModeRules

    me, alice = make_actor("me"), make_actor("alice")
    room = alice.create_room("Now private", invite=[me.user_id])
    me.join(room)
    event = alice.send_text(room, "hello")
    queue = ReceiptQueue(paths.state_dir() / QUEUE_FILE, me.user_id)
    queue.submit_many([ReceiptRequest(room, ReceiptType.PUBLIC, event, None)])  # not running: it stays on disk
    service = MatrixService(MatrixClient.from_session(session_of(me)), sync_timeout_ms=300)
    service.use_modes(ModeRules(ReceiptType.PUBLIC, {}, (PolicyRule("room", room, Mode.PRIVATE),)))
    outcomes: list = []
    async with running(service) as recorder:
        recorder.receipt_settled = outcomes.append  # type: ignore[method-assign]
        for _ in range(200):
            if outcomes:
                break
            await asyncio.sleep(0.05)
    assert len(outcomes) == 1 and not outcomes[0].accepted
    assert "PRIVATE now" in outcomes[0].error
    receipts = alice.room_receipts(room)
    assert all(me.user_id not in by_type.get("m.read", {}) for by_type in receipts.values())
