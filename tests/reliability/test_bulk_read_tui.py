"""A bulk read from the TUI through a proxy that answers some receipts with 429 and
slows the rest (the real ``MatrixService`` and Synapse behind it): the status line counts
the receipts as they are answered, the 429s wait and carry on, quitting part-way leaves
the rest in the queue file, and the next start sends it: every room ends up read on the
server, each by one receipt on the event the dry run named."""

from __future__ import annotations

import pytest

from app import paths
from app.config import Settings
from app.matrix.client import MatrixClient
from app.matrix.queue import QUEUE_FILE, read_queue_file
from app.matrix.service import MatrixService
from app.matrix.session import Session
from app.model.receipts import ReceiptType
from app.ui.screens.bulk import BulkReadScreen
from app.ui.screens.main import MainScreen
from tests.faultproxy import FaultProxy, Rule, path_contains
from tests.reliability.helpers import until
from tests.ui.helpers import RecordingApp

pytestmark = [pytest.mark.faults, pytest.mark.synapse]

ROOMS = 20


async def test_a_bulk_read_quit_part_way_is_finished_by_the_next_start(make_actor, synapse) -> None:
    me, alice = make_actor("me"), make_actor("alice")
    latest: dict[str, str] = {}
    for i in range(ROOMS):
        room_id = alice.create_room(f"Room {i:02d}", invite=[me.user_id])
        me.join(room_id)
        latest[room_id] = alice.send_text(room_id, f"news {i}")
    settings = Settings(receipt_mode=ReceiptType.PRIVATE)
    async with FaultProxy(synapse.base_url) as proxy:
        session = Session(proxy.base_url, me.user_id, me.device_id, me.access_token)
        receipt = path_contains("/receipt/", "POST")
        proxy.add(Rule(receipt, times=3, status=429,
                       body={"errcode": "M_LIMIT_EXCEEDED", "error": "slow down", "retry_after_ms": 300}))
        proxy.add(Rule(receipt, times=10_000, delay=0.4))
        service = MatrixService(MatrixClient.from_session(session, request_timeout=10), sync_timeout_ms=500)
        app = RecordingApp(service, settings)
        async with app.run_test(size=(160, 40)) as pilot:
            await until(pilot, lambda: isinstance(app.screen, MainScreen)
                        and len(app.screen.rooms.shown_room_ids) == ROOMS
                        and app.screen.status.sync_text.endswith("live"), 30, "the rooms")
            screen = app.screen
            await pilot.press("A")
            await until(pilot, lambda: isinstance(app.screen, BulkReadScreen), 5, "the dry run")
            await pilot.press("enter")
            # Some answered, not all: the status line counts them.
            await until(pilot, lambda: "bulk read of all rooms: " in screen.status.last_text
                        and 4 <= service.queued <= ROOMS - 4, 30, "part of the bulk read answered")
            assert "/20 sent" in screen.status.last_text
            throttled = sum(1 for seen in proxy.seen if "/receipt/" in seen.path_qs and seen.method == "POST")
            assert throttled >= 3  # the 429s were met, and the queue carried on past them
            await pilot.press("q")
        left = read_queue_file(paths.state_dir() / QUEUE_FILE)[0]
        assert left is not None
        pending = left[0].requests
        assert 0 < len(pending) < ROOMS
        assert all(request.event_id == latest[request.room_id] and request.thread_id is None
                   and request.receipt_type is ReceiptType.PRIVATE for request in pending)

    # The next start, straight to Synapse: what was left goes out.
    session = Session(synapse.base_url, me.user_id, me.device_id, me.access_token)
    service = MatrixService(MatrixClient.from_session(session, request_timeout=10), sync_timeout_ms=500)
    app = RecordingApp(service, settings)
    async with app.run_test(size=(160, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, MainScreen) and service.queued == 0
                    and app.screen.status.sync_text.endswith("live"), 30, "the queue emptied")
    for room_id, event_id in latest.items():
        me.wait_for(lambda room_id=room_id: me.unread_counts(room_id)[0] == 0, 10)
        mine = me.room_receipts(room_id).get(event_id, {})
        assert me.user_id in mine.get("m.read.private", {}), room_id
        assert all(me.user_id not in by_type.get("m.read", {}) for by_type in me.room_receipts(room_id).values())
