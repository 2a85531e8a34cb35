"""The live service against the real Synapse: what a witness sees after each kind of
receipt, private never leaking, and receipts surviving an outage and a killed process."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from app.matrix.client import MatrixClient
from app.matrix.service import MatrixService
from app.matrix.service import SyncState
from app.model.ids import MAIN
from app.model.plan import ActionKind, FullyReadRequest, ReceiptAction, ReceiptRequest
from app.model.receipts import ReceiptType
from app.model.unread import thread_unread

from tests.matrix.helpers import Recorder, eventually, in_thread, session_of

pytestmark = pytest.mark.synapse
PUB, PRIV = ReceiptType.PUBLIC, ReceiptType.PRIVATE


def shared_room(make_actor):
    me, alice = make_actor("me"), make_actor("alice")
    room = alice.create_room("Ops", invite=[me.user_id])
    me.join(room)
    root = alice.send_text(room, "Deploy plan for Friday")
    reply = alice.send_thread_reply(room, root, "I can take the DB part")
    main = alice.send_text(room, "lunch?")
    return me, alice, room, root, reply, main


async def start(me, **kwargs) -> tuple[MatrixService, Recorder, asyncio.Task]:
    service = MatrixService(MatrixClient.from_session(session_of(me)), sync_timeout_ms=500, **kwargs)
    # These tests send receipts of both kinds: in private mode the core refuses public ones
    # (tested on their own in tests/matrix/test_core.py and tests/reliability/test_private_mode.py).
    service.session_mode = ReceiptType.PUBLIC
    recorder = Recorder()
    task = asyncio.create_task(service.run(recorder))
    return service, recorder, task


async def stop(service: MatrixService, task: asyncio.Task) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await service.close()


def receipt_of(receipts: dict, event_id: str, receipt_type: str, user_id: str) -> dict | None:
    return receipts.get(event_id, {}).get(receipt_type, {}).get(user_id)


async def exact_count(service: MatrixService, recorder: Recorder, room: str, thread: str):
    """Wait until a thread's count is exact (no longer a lower bound); return it and the
    room as it was first published, to show where the count started."""

    def exact():
        state = service.account.rooms.get(room)
        counts = state and thread_unread(state, thread)
        return counts if counts and not counts.lower_bound else None

    counts = await eventually(exact)
    first = next(a.rooms[room] for a in recorder.accounts if room in a.rooms)
    return counts, first


async def settled(recorder: Recorder, request) -> None:
    outcome = await eventually(lambda: next((o for o in recorder.outcomes if o.request == request), None))
    assert outcome.accepted, outcome.error


async def test_each_receipt_kind_reaches_the_server_as_chosen(make_actor) -> None:
    me, alice, room, root, reply, main = shared_room(make_actor)
    service, recorder, task = await start(me)
    try:
        await eventually(lambda: service.account.rooms.get(room) and service.account.rooms[room].event(main))
        assert service.status.state is SyncState.LIVE

        # A public threaded receipt in the thread: the witness sees it with the thread ID.
        request = service.submit(room, ReceiptAction(ActionKind.THREADED, PUB, root))
        assert request == ReceiptRequest(room, PUB, reply, root)
        assert thread_unread(service.account.rooms[room], root).unread == 0  # at once
        await settled(recorder, request)
        seen = await in_thread(lambda: alice.wait_for(lambda: receipt_of(alice.room_receipts(room), reply, "m.read", me.user_id)))
        assert seen["thread_id"] == root

        # A private receipt on main: only my own sync has it.
        request = service.submit(room, ReceiptAction(ActionKind.THREADED, PRIV, MAIN))
        assert request == ReceiptRequest(room, PRIV, main, MAIN)
        await settled(recorder, request)
        mine = await in_thread(lambda: me.wait_for(lambda: receipt_of(me.room_receipts(room), main, "m.read.private", me.user_id)))
        assert mine["thread_id"] == MAIN
        witness = await in_thread(lambda: alice.room_receipts(room))
        assert receipt_of(witness, main, "m.read.private", me.user_id) is None
        assert receipt_of(witness, main, "m.read", me.user_id) is None

        # An unthreaded public receipt: no thread_id at all.
        later = await in_thread(lambda: alice.send_text(room, "anyone?"))
        await eventually(lambda: service.account.rooms[room].event(later))
        request = service.submit(room, ReceiptAction(ActionKind.UNTHREADED, PUB))
        assert request == ReceiptRequest(room, PUB, later, None)
        await settled(recorder, request)
        seen = await in_thread(lambda: alice.wait_for(lambda: receipt_of(alice.room_receipts(room), later, "m.read", me.user_id)))
        assert "thread_id" not in seen

        # The fully-read marker, then its echo in the model from sync.
        request = service.submit(room, ReceiptAction(ActionKind.FULLY_READ, PRIV))
        assert request == FullyReadRequest(room, later, None)
        await settled(recorder, request)
        assert await in_thread(lambda: me.wait_for(lambda: me.fully_read(room) == later))
        await eventually(lambda: service.account.rooms[room].fully_read == later)
        assert service.queued == 0
    finally:
        await stop(service, task)


async def test_receipts_pressed_while_the_server_is_down_arrive_after(make_actor, synapse) -> None:
    me, alice, room, root, reply, main = shared_room(make_actor)
    service, recorder, task = await start(me)
    try:
        await eventually(lambda: service.account.rooms.get(room) and service.account.rooms[room].event(main))
        synapse.stop()
        try:
            await eventually(lambda: service.status.state is SyncState.OFFLINE, timeout=15)
            assert service.status.retry_in is not None
            first = service.submit(room, ReceiptAction(ActionKind.THREADED, PUB, root))
            second = service.submit(room, ReceiptAction(ActionKind.THREADED, PUB, MAIN))
            assert isinstance(first, ReceiptRequest) and isinstance(second, ReceiptRequest)
            assert service.queued == 2
            assert thread_unread(service.account.rooms[room], root).unread == 0
        finally:
            synapse.start()
        await settled(recorder, first)
        await settled(recorder, second)
        witness = await in_thread(
            lambda: alice.wait_for(
                lambda: (r := alice.room_receipts(room))
                and receipt_of(r, reply, "m.read", me.user_id)
                and receipt_of(r, main, "m.read", me.user_id)
                and r
            )
        )
        assert receipt_of(witness, reply, "m.read", me.user_id)["thread_id"] == root
        assert receipt_of(witness, main, "m.read", me.user_id)["thread_id"] == MAIN
        await eventually(lambda: service.status.state is SyncState.LIVE, timeout=40)
    finally:
        await stop(service, task)


def test_a_receipt_queued_by_a_killed_process_is_sent_by_the_next(make_actor, synapse, xdg_dirs) -> None:
    me, alice, room, root, reply, main = shared_room(make_actor)
    session = json.dumps(session_of(me).to_json())
    script = textwrap.dedent(
        f"""
        import asyncio, json, os, signal
        from app.matrix.client import MatrixClient
        from app.matrix.service import MatrixService
        from app.matrix.session import Session
        from app.model.plan import ActionKind, ReceiptAction
        from app.model.receipts import ReceiptType

        async def main():
            session = Session.from_json(json.loads({session!r}))
            client = MatrixClient.from_session(session)
            service = MatrixService(client)
            service.session_mode = ReceiptType.PUBLIC  # receipts of both kinds are sent below
            # One sync so the room is known, then the server goes away and the user presses r.
            from app.matrix.sync_filter import sync_filter
            body = await client.sync_raw(None, 0, await client.upload_filter(sync_filter()))
            service._core.receive_sync(body)
            print("synced", flush=True)
            input()
            request = service.submit({room!r}, ReceiptAction(ActionKind.THREADED, ReceiptType.PUBLIC, {root!r}))
            print("queued", request.event_id, flush=True)
            os.kill(os.getpid(), signal.SIGKILL)

        asyncio.run(main())
        """
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        env=os.environ.copy(),
    )
    assert process.stdout.readline().strip() == "synced"
    synapse.stop()
    try:
        process.stdin.write("\n")
        process.stdin.flush()
        assert process.stdout.readline().split() == ["queued", reply]
        assert process.wait(timeout=20) == -signal.SIGKILL
    finally:
        synapse.start()

    async def next_start() -> None:
        service = MatrixService(MatrixClient.from_session(session_of(me)), sync_timeout_ms=500)
        # What the killed process queued is on screen before any network answer.
        service.load_local()
        assert service.queued == 1
        recorder = Recorder()
        task = asyncio.create_task(service.run(recorder))
        try:
            await eventually(lambda: recorder.outcomes)
            assert recorder.outcomes[0].accepted and recorder.outcomes[0].request.event_id == reply
        finally:
            await stop(service, task)

    asyncio.run(next_start())
    seen = alice.wait_for(lambda: receipt_of(alice.room_receipts(room), reply, "m.read", me.user_id))
    assert seen["thread_id"] == root


async def test_threads_beyond_the_sync_window_are_loaded_whole_and_counted_exactly(make_actor) -> None:
    me, alice = make_actor("me"), make_actor("alice")
    room = alice.create_room("Busy", invite=[me.user_id])
    me.join(room)
    early = alice.send_text(room, "before the thread")
    me.send_receipt(room, early, "m.read.private")  # unthreaded, soon out of the window
    root = alice.send_text(room, "Long thread")
    for i in range(12):
        alice.send_thread_reply(room, root, f"reply {i}")
    for i in range(35):  # push the root and the receipt out of a 30-event window
        alice.send_text(room, f"chatter {i}")
    service, recorder, task = await start(me)
    try:
        counts, first = await exact_count(service, recorder, room, root)
        assert counts.unread == 12
        # It really started as a lower bound: the window held neither the thread nor the receipt.
        assert thread_unread(first, root).lower_bound and first.event(root) is None
        _, _, server = await in_thread(lambda: me.unread_counts(room))
        assert counts.unread == server[root][0]
        assert service.account.rooms[room].event(root).body == "Long thread"
    finally:
        await stop(service, task)


async def test_private_receipts_are_refused_not_sent_public_when_the_server_lacks_them(make_actor, synapse) -> None:
    from tests.faultproxy import FaultProxy, Rule

    me, alice, room, root, reply, main = shared_room(make_actor)
    old_server = {"versions": ["r0.6.1", "v1.1", "v1.3"], "unstable_features": {"org.matrix.msc2285.stable": False}}
    async with FaultProxy(synapse.base_url) as proxy:
        proxy.add(Rule(lambda request: request.path == "/_matrix/client/versions", times=10**6, status=200, body=old_server))
        session = session_of(me)
        client = MatrixClient.from_session(type(session)(proxy.base_url, me.user_id, me.device_id, me.access_token))
        service = MatrixService(client, sync_timeout_ms=500)
        service.session_mode = ReceiptType.PUBLIC  # receipts of both kinds are sent below
        recorder = Recorder()
        task = asyncio.create_task(service.run(recorder))
        try:
            await eventually(lambda: service.account.rooms.get(room) and service.account.rooms[room].event(main))
            assert not service.supports_private_receipts
            for action in (
                ReceiptAction(ActionKind.THREADED, PRIV, MAIN),
                ReceiptAction(ActionKind.UNTHREADED, PRIV),
                ReceiptAction(ActionKind.FULLY_READ, PRIV, with_receipt=True),
            ):
                refusal = service.submit(room, action)
                assert refusal.code == "no-private-receipts", refusal
            # The marker alone is not a receipt: it may still move.
            assert isinstance(service.submit(room, ReceiptAction(ActionKind.FULLY_READ, PRIV)), FullyReadRequest)
            await eventually(lambda: recorder.outcomes)
            # Public is still possible when chosen.
            request = service.submit(room, ReceiptAction(ActionKind.THREADED, PUB, MAIN))
            await settled(recorder, request)
        finally:
            await stop(service, task)
    sent = [seen.path_qs for seen in proxy.seen if seen.method == "POST" and ("/receipt/" in seen.path_qs or "read_markers" in seen.path_qs)]
    assert not any("m.read.private" in path for path in sent)
    bodies = [seen.body for seen in proxy.seen if "read_markers" in seen.path_qs]
    assert bodies and all(b"m.read" not in body for body in bodies)
    assert len([p for p in sent if "/receipt/m.read/" in p]) == 1


async def test_a_main_timeline_beyond_the_sync_window_is_paged_back_to_my_receipt(make_actor) -> None:
    me, alice = make_actor("me"), make_actor("alice")
    room = alice.create_room("CI feed", invite=[me.user_id])
    me.join(room)
    read = alice.send_text(room, "build 1 passed")
    me.send_receipt(room, read, "m.read", thread_id=MAIN)
    for i in range(2, 160):
        alice.send_text(room, f"build {i} passed")
    service, recorder, task = await start(me)
    try:
        counts, first = await exact_count(service, recorder, room, MAIN)
        assert counts.unread == 158
        assert thread_unread(first, MAIN).lower_bound  # the sync window alone could not tell
        notifications, _, _ = await in_thread(lambda: me.unread_counts(room))
        assert counts.unread == notifications
    finally:
        await stop(service, task)


async def test_a_private_receipt_queued_before_the_server_answered_is_not_sent_to_a_server_without_them(
    make_actor, synapse, xdg_dirs
) -> None:
    from app.matrix.queue import ReceiptQueue
    from app.paths import state_dir
    from tests.faultproxy import FaultProxy, Rule

    me, alice, room, root, reply, main = shared_room(make_actor)
    # An earlier run queued it while offline, before /versions was ever asked.
    ReceiptQueue(state_dir() / "receipt-queue.json", me.user_id).submit(ReceiptRequest(room, PRIV, main, MAIN))
    old_server = {"versions": ["r0.6.1", "v1.3"]}
    async with FaultProxy(synapse.base_url) as proxy:
        proxy.add(Rule(lambda request: request.path == "/_matrix/client/versions", times=10**6, status=200, body=old_server))
        session = session_of(me)
        client = MatrixClient.from_session(type(session)(proxy.base_url, me.user_id, me.device_id, me.access_token))
        service = MatrixService(client, sync_timeout_ms=500)
        recorder = Recorder()
        task = asyncio.create_task(service.run(recorder))
        try:
            outcome = await eventually(lambda: recorder.outcomes and recorder.outcomes[0])
            assert not outcome.accepted and "does not support private receipts" in outcome.error
            assert service.queued == 0
        finally:
            await stop(service, task)
    assert not any("/receipt/" in seen.path_qs for seen in proxy.seen)


async def test_a_read_thread_outside_the_window_is_found_through_the_threads_list(make_actor) -> None:
    me, alice = make_actor("me"), make_actor("alice")
    room = alice.create_room("Archive", invite=[me.user_id])
    me.join(room)
    root = alice.send_text(room, "an old, read thread")
    last = [alice.send_thread_reply(room, root, f"reply {i}") for i in range(3)][-1]
    me.send_receipt(room, last, "m.read", thread_id=root)  # read: no server count for it
    for i in range(35):
        alice.send_text(room, f"chatter {i}")
    service, recorder, task = await start(me)
    try:
        def listed():
            state = service.account.rooms.get(room)
            return state is not None and root in state.thread_positions

        await eventually(listed)
        first = next(a.rooms[room] for a in recorder.accounts if room in a.rooms)
        assert root not in first.thread_positions and root not in first.server_threads  # invisible at first
        state = service.account.rooms[room]
        assert thread_unread(state, root).unread == 0 and not thread_unread(state, root).lower_bound
        assert len(state.thread_positions[root]) == 3
    finally:
        await stop(service, task)


async def test_a_refused_sync_token_starts_over_and_drops_the_rooms_the_server_no_longer_lists(make_actor) -> None:
    """The cache's token is refused (400 "Invalid stream token"): the service syncs from
    scratch, and a cached room that initial sync does not list (left, or of a server that
    was set up anew) goes from the account and from the cache, for good."""
    from dataclasses import replace

    from app.matrix.sync_filter import sync_filter
    from app.matrix.translate import apply_sync, parse_sync
    from app.model.account import AccountState
    from app.store import cache

    me, alice, room, root, reply, main = shared_room(make_actor)
    account = apply_sync(AccountState(me.user_id), parse_sync(me.sync(filter=sync_filter())))
    ghost = "!gone:localhost"
    rooms = {**account.rooms, ghost: replace(account.rooms[room], room_id=ghost)}
    cache.save_account(replace(account, rooms=rooms, next_batch="not_a_token"), device_id=me.device_id)
    service, recorder, task = await start(me)
    try:
        assert set(service.load_local().rooms) == {room, ghost}  # what the cache held
        await eventually(lambda: service.status.state is SyncState.LIVE and ghost not in service.account.rooms)
        assert room in service.account.rooms and service.account.rooms[room].event(main) is not None
        assert ghost not in recorder.accounts[-1].rooms  # the screen was told
        # ... and the cache, by the sync's own save (not only the full save on close).
        await eventually(lambda: set(cache.load_account(me.user_id, device_id=me.device_id).rooms) == {room})
    finally:
        await stop(service, task)
    stored = cache.load_account(me.user_id, device_id=me.device_id)
    assert stored is not None and set(stored.rooms) == {room} and stored.next_batch != "not_a_token"
