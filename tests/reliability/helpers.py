"""Shared pieces of the fault and abuse suite.

``RecordingProxy`` is the suite's view of the wire: ``tests.faultproxy.FaultProxy`` plus
the time and status of every answer, connections cut *mid-response* (headers and half the
body, then the socket closes), and a ``502`` when the homeserver behind it is stopped (what
a reverse proxy in front of a real homeserver answers). ``receipts_sent`` reads the
receipts back out of what the proxy saw, so each test can check exactly what reached the
server: how many requests per key, in which order, of which type.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from aiohttp import web
from textual.pilot import Pilot

from app.devserver.actor import MatrixActor
from tests.faultproxy import FaultProxy, Rule, path_contains

__all__ = ["Cut", "Raw", "RecordingProxy", "Rule", "Scene", "Sent", "path_contains", "receipts_sent", "screen_text"]


@dataclass
class Cut(Rule):
    """Forward the request, then send the answer's headers and only ``fraction`` of its
    body before closing the connection: the server did the work, the client never learns."""

    fraction: float = 0.5


@dataclass
class Raw(Rule):
    """Answer with ``payload`` as it is (status 200 unless ``status`` says): what a JSON
    answer cannot be, such as nesting past any limit or bytes that are not UTF-8. With
    ``repeat`` the payload goes out that many times, chunked, made as it is sent: a body
    far larger than the test's memory."""

    payload: bytes = b""
    repeat: int = 1
    prefix: bytes = b""
    suffix: bytes = b""


@dataclass
class Answered:
    index: int
    at: float
    status: int  # 0: no answer (reset or cut)


class RecordingProxy(FaultProxy):
    def __init__(self, upstream: str) -> None:
        super().__init__(upstream)
        self.times: list[float] = []
        self.answers: dict[int, Answered] = {}
        self.raw_bytes_sent = 0  # of repeated Raw payloads, until the client hung up

    async def _handle(self, request: web.Request) -> web.StreamResponse:  # noqa: C901 - one place for all faults
        body = await request.read()
        index = len(self.seen)
        from tests.faultproxy import Seen

        self.seen.append(Seen(request.method, request.path_qs, dict(request.headers), body))
        self.times.append(time.monotonic())
        cut: Cut | None = None
        for rule in self.rules:
            if rule.times > 0 and rule.matches(request):
                rule.times -= 1
                if rule.delay:
                    await asyncio.sleep(rule.delay)
                if isinstance(rule, Cut):
                    cut = rule
                    break
                if isinstance(rule, Raw):
                    return await self._raw(request, index, rule)
                if rule.reset:
                    self._answered(index, 0)
                    assert request.transport is not None
                    request.transport.close()
                    return web.Response(status=500)
                if rule.status is not None:
                    self._answered(index, rule.status)
                    return web.json_response(rule.body or {}, status=rule.status, headers=rule.headers)
                break
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        try:
            async with self._session.request(
                request.method, self.upstream + request.path_qs, data=body, headers=headers, allow_redirects=False
            ) as answer:
                payload = await answer.read()
                status = answer.status
                passed = {k: v for k, v in answer.headers.items() if k.lower() in ("content-type", "retry-after")}
        except (OSError, asyncio.TimeoutError, Exception) as error:  # noqa: BLE001 - the homeserver is down
            self._answered(index, 502)
            return web.Response(status=502, text=f"<h1>502 Bad Gateway</h1>{type(error).__name__}", content_type="text/html")
        if cut is not None:
            self._answered(index, 0)
            response = web.StreamResponse(status=status, headers=passed)
            response.content_length = len(payload)
            await response.prepare(request)
            await response.write(payload[: int(len(payload) * cut.fraction)])
            assert request.transport is not None
            request.transport.close()
            return response
        self._answered(index, status)
        return web.Response(status=status, body=payload, headers=passed)

    async def _raw(self, request: web.Request, index: int, rule: Raw) -> web.StreamResponse:
        status = rule.status or 200
        self._answered(index, status)
        headers = {"Content-Type": "application/json", **rule.headers}
        if rule.repeat == 1:
            return web.Response(status=status, body=rule.prefix + rule.payload + rule.suffix, headers=headers)
        response = web.StreamResponse(status=status, headers=headers)
        response.enable_chunked_encoding()
        await response.prepare(request)
        try:
            await response.write(rule.prefix)
            for _ in range(rule.repeat):
                await response.write(rule.payload)
                self.raw_bytes_sent += len(rule.payload)
            await response.write(rule.suffix)
        except (ConnectionError, RuntimeError):
            pass  # the client hung up, as it should past its cap
        return response

    def _answered(self, index: int, status: int) -> None:
        self.answers[index] = Answered(index, time.monotonic(), status)

    def status_of(self, index: int) -> int | None:
        answer = self.answers.get(index)
        return None if answer is None else answer.status


# ---- what reached the server -----------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    """One receipt or marker as it went over the wire."""

    index: int  # position in proxy.seen
    room_id: str
    receipt_type: str  # m.read, m.read.private, m.fully_read
    thread: str | None  # None: unthreaded (or the fully-read marker)
    event_id: str
    via: str  # "receipt" or "read_markers"

    @property
    def key(self) -> tuple[str, str, str | None]:
        return (self.room_id, self.receipt_type, self.thread)


def receipts_sent(proxy: FaultProxy) -> list[Sent]:
    """Every receipt and read marker any request carried, in the order they arrived."""
    sent: list[Sent] = []
    for index, seen in enumerate(proxy.seen):
        path = urllib.parse.urlsplit(seen.path_qs).path
        parts = [urllib.parse.unquote(p) for p in path.split("/")]
        if seen.method != "POST" or "rooms" not in parts:
            continue
        room_id = parts[parts.index("rooms") + 1]
        try:
            body = json.loads(seen.body or b"{}")
        except ValueError:
            body = {}
        if "receipt" in parts:
            at = parts.index("receipt")
            receipt_type, event_id = parts[at + 1], parts[at + 2]
            sent.append(Sent(index, room_id, receipt_type, body.get("thread_id"), event_id, "receipt"))
        elif parts[-1] == "read_markers":
            for receipt_type, event_id in body.items():
                sent.append(Sent(index, room_id, receipt_type, None, event_id, "read_markers"))
    return sent


def assert_never_backwards(sent: Iterable[Sent], order: list[str]) -> None:
    """For each key, the events sent never go back in room order."""
    last: dict[tuple, int] = {}
    for item in sent:
        position = order.index(item.event_id)
        assert position >= last.get(item.key, -1), f"{item} goes back from {order[last[item.key]]}"
        last[item.key] = position


# ---- scenes on the real Synapse ----------------------------------------------------------


@dataclass
class Scene:
    """One room, a witness (alice) and me: a thread root with replies, then main messages.
    ``order`` is the room's event order (what "older" means)."""

    me: MatrixActor
    alice: MatrixActor
    room: str
    root: str
    replies: list[str]
    main: list[str]
    order: list[str] = field(default_factory=list)

    def my_receipt(self, event_id: str, receipt_type: str = "m.read") -> dict | None:
        return self.alice.room_receipts(self.room).get(event_id, {}).get(receipt_type, {}).get(self.me.user_id)

    def my_receipts_seen_by_witness(self) -> dict[str, dict]:
        """{event_id: {type: receipt}} for my receipts as the witness's initial sync shows them."""
        seen: dict[str, dict] = {}
        for event_id, by_type in self.alice.room_receipts(self.room).items():
            for receipt_type, by_user in by_type.items():
                if self.me.user_id in by_user:
                    seen.setdefault(event_id, {})[receipt_type] = by_user[self.me.user_id]
        return seen


def make_scene(make_actor: Callable[..., MatrixActor], name: str = "Ops", replies: int = 2, main: int = 3) -> Scene:
    me, alice = make_actor("me"), make_actor("alice")
    room = alice.create_room(name, invite=[me.user_id])
    me.join(room)
    root = alice.send_text(room, "Deploy plan for Friday")
    thread = [alice.send_thread_reply(room, root, f"step {i}") for i in range(replies)]
    messages = [alice.send_text(room, f"main {i}") for i in range(main)]
    return Scene(me, alice, room, root, thread, messages, [root, *thread, *messages])


# ---- the screen --------------------------------------------------------------------------


def screen_text(pilot: Pilot) -> str:
    """Every line the terminal would show now, as plain text."""
    strips = pilot.app.screen._compositor.render_strips()  # noqa: SLF001 - what a terminal receives
    return "\n".join(strip.text for strip in strips)


async def until(pilot: Pilot, check: Callable[[], object], seconds: float = 20.0, what: str = "") -> object:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        await pilot.pause(0.05)
    raise AssertionError(f"timed out after {seconds} s waiting for {what or check}")
