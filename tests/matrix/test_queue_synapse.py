"""The receipt queue sending through the real facade to the real Synapse: a refusal is
reported and not retried; a 429 (injected by a loopback proxy, since Synapse does not
rate-limit receipts) is waited out and the receipt arrives."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from pathlib import Path

import pytest

from app.matrix.client import MatrixClient
from app.matrix.errors import RequestRefused
from app.matrix.queue import ReceiptQueue
from app.matrix.session import Session
from app.model.ids import MAIN
from app.model.plan import ReceiptRequest
from app.model.receipts import ReceiptType

from tests.faultproxy import FaultProxy, Rule, path_contains
from tests.matrix.helpers import eventually, in_thread, session_of

pytestmark = pytest.mark.synapse


def sender(client: MatrixClient, calls: list):
    async def send(request: ReceiptRequest) -> None:
        calls.append((time.monotonic(), request))
        await client.send_receipt(request.room_id, request.receipt_type.value, request.event_id, request.thread_id)

    return send


async def run_until_settled(queue: ReceiptQueue, send, settled: list, count: int = 1) -> None:
    task = asyncio.create_task(queue.run(send))
    try:
        await eventually(lambda: len(settled) >= count, timeout=20)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_refused_receipt_is_reported_once_and_not_retried(make_actor, tmp_path: Path) -> None:
    me, alice = make_actor("me"), make_actor("alice")
    room = alice.create_room("Ops", invite=[me.user_id])
    me.join(room)
    root = alice.send_text(room, "root")
    main = alice.send_text(room, "not in the thread")
    settled: list = []
    calls: list = []
    queue = ReceiptQueue(tmp_path / "q.json", me.user_id, on_settled=lambda r, e: settled.append((r, e)))
    # The model would never plan this; a hostile or stale state could. The server says no.
    bad = ReceiptRequest(room, ReceiptType.PUBLIC, main, root)
    queue.submit(bad)
    async with MatrixClient.from_session(session_of(me)) as client:
        await run_until_settled(queue, sender(client, calls), settled)
        await asyncio.sleep(0.3)  # room for a wrong retry to show itself
    assert len(calls) == 1
    (request, error), = settled
    assert request == bad and isinstance(error, RequestRefused)
    assert error.errcode == "M_INVALID_PARAM" and error.status == 400
    assert json.loads((tmp_path / "q.json").read_text())["requests"] == []


async def test_a_429_is_waited_out_then_the_receipt_arrives(make_actor, synapse, tmp_path: Path) -> None:
    me, alice = make_actor("me"), make_actor("alice")
    room = alice.create_room("Ops", invite=[me.user_id])
    me.join(room)
    event = alice.send_text(room, "hello")
    settled: list = []
    calls: list = []
    async with FaultProxy(synapse.base_url) as proxy:
        proxy.add(
            Rule(
                path_contains("/receipt/", "POST"),
                times=2,
                status=429,
                body={"errcode": "M_LIMIT_EXCEEDED", "error": "Too many requests", "retry_after_ms": 400},
            )
        )
        session = Session(proxy.base_url, me.user_id, me.device_id, me.access_token)
        queue = ReceiptQueue(tmp_path / "q.json", me.user_id, on_settled=lambda r, e: settled.append((r, e)))
        queue.submit(ReceiptRequest(room, ReceiptType.PUBLIC, event, MAIN))
        async with MatrixClient.from_session(session) as client:
            await run_until_settled(queue, sender(client, calls), settled)
    assert settled[0][1] is None
    assert len(calls) == 3
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(calls)]
    assert all(gap >= 0.38 for gap in gaps), gaps
    seen = await in_thread(
        lambda: alice.wait_for(lambda: alice.room_receipts(room).get(event, {}).get("m.read", {}).get(me.user_id))
    )
    assert seen["thread_id"] == MAIN
    # The token never travelled in a URL through the proxy.
    assert all(me.access_token not in seen_request.path_qs for seen_request in proxy.seen)
