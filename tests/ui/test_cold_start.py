"""A start from the cache paints the rooms pane from the cache's room summaries, then
decodes the rooms. The real ``MatrixService`` and cache, a
homeserver that accepts connections and never answers (everything shown comes from
the local state), Pilot at 160x50.

What must hold: the rooms pane already lists every cached room with the count the
loaded account gives it by the time the rooms are decoded; a receipt still queued from
an earlier run counts in that first paint; a key pressed before the rooms are decoded
acts on the real state; the loaded account replaces the preview without moving a row.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from app.matrix.client import MatrixClient
from app.matrix.service import MatrixService
from app.matrix.session import Session
from app.model.account import AccountState
from app.model.ids import MAIN
from app.model.plan import ActionKind, ReceiptAction, ReceiptRequest
from app.model.receipts import ReceiptType
from app.model.summary import summarize
from app.model.unread import room_unread, thread_unread
from app.store import cache
from tests.bench.fixtures import silent_port
from tests.ui.helpers import RecordingApp, main_screen, shown
from tests.ui.recorded import ME, recorded_account


DEVICE = "DEVICE"


@pytest.fixture
def silent_homeserver() -> Iterator[str]:
    with silent_port() as port:
        yield f"http://127.0.0.1:{port}"


def _service(homeserver: str) -> MatrixService:
    session = Session(homeserver, ME, DEVICE, "syt_never_used")
    return MatrixService(MatrixClient.from_session(session, request_timeout=60))


@pytest.fixture
def cached() -> AccountState:
    """The recorded account, saved in the cache as a previous run left it."""
    account = recorded_account()
    cache.save_account(account, device_id=DEVICE)
    return account


def test_the_preview_is_the_summary_of_each_cached_room(cached: AccountState, silent_homeserver: str) -> None:
    service = _service(silent_homeserver)
    preview = {summary.room_id: summary for summary in service.preview()}
    loaded = service.load_local()
    assert preview == {room_id: summarize(room) for room_id, room in loaded.rooms.items()}
    assert any(summary.unread.unread for summary in preview.values())
    # Once the rooms are loaded there is nothing left to preview.
    assert service.preview() == ()


def test_a_cache_left_by_another_login_is_neither_shown_nor_kept(silent_homeserver: str) -> None:
    """After a new login (`readmark login` again, or the demo on a homeserver set up anew)
    the rooms come from a fresh sync, not from the cache the old login wrote: its rooms
    may not exist on this server."""
    cache.save_account(recorded_account(), device_id="AN_EARLIER_LOGIN")
    service = _service(silent_homeserver)
    assert service.preview() == ()
    assert service.load_local().rooms == {}
    assert not cache.cache_path().exists()


def test_a_receipt_queued_by_an_earlier_run_counts_in_the_preview(cached: AccountState, silent_homeserver: str) -> None:
    account = cached
    room_id, room = next((r_id, r) for r_id, r in account.rooms.items() if room_unread(r).unread)
    earlier = _service(silent_homeserver)
    earlier.load_local()
    # Queued (durably), never sent: the earlier run ended before the server answered.
    request = earlier.submit(room_id, ReceiptAction(ActionKind.UNTHREADED, ReceiptType.PRIVATE))
    assert isinstance(request, ReceiptRequest)
    expected = room_unread(earlier.account.rooms[room_id])
    assert expected.unread < room_unread(room).unread

    service = _service(silent_homeserver)
    preview = {summary.room_id: summary for summary in service.preview()}
    assert preview[room_id].unread == expected
    assert room_unread(service.load_local().rooms[room_id]) == expected


def test_a_receipt_before_the_rooms_are_decoded_plans_on_the_real_state(cached: AccountState, silent_homeserver: str) -> None:
    account = cached
    room_id = next(r_id for r_id, r in account.rooms.items() if room_unread(r).unread)
    service = _service(silent_homeserver)
    assert service.preview()
    result = service.submit(room_id, ReceiptAction(ActionKind.THREADED, ReceiptType.PRIVATE, MAIN))
    assert isinstance(result, ReceiptRequest), result
    assert service.queued == 1


async def test_the_rooms_pane_is_painted_before_the_rooms_are_decoded(
    cached: AccountState, silent_homeserver: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = cached
    service = _service(silent_homeserver)
    app = RecordingApp(service)
    at_decode: dict[str, object] = {}
    original = MatrixService.load_local

    def watching(self: MatrixService) -> AccountState:
        screen = app.screen
        if not at_decode and hasattr(screen, "rooms"):
            # What the screen holds when the rooms start being decoded.
            at_decode["account"] = screen.account
            at_decode["keys"] = list(screen.rooms.keys)
            at_decode["lines"] = {key: shown(screen.rooms, key) for key in screen.rooms.keys}
        return original(self)

    monkeypatch.setattr(MatrixService, "load_local", watching)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await main_screen(pilot)
        assert at_decode, "the rooms were never decoded"
        assert at_decode["account"] is None  # the preview was on screen, not the account
        joined = {room_id for room_id, room in account.rooms.items() if room.membership == "join"}
        assert joined <= set(at_decode["keys"])  # type: ignore[arg-type]
        # The loaded account keeps every row where the preview put it, drawn the same.
        assert screen.account is not None and len(screen.account.rooms) == len(account.rooms)
        assert list(screen.rooms.keys) == at_decode["keys"]
        for key in screen.rooms.keys:
            if key in account.rooms:
                assert shown(screen.rooms, key) == at_decode["lines"][key]  # type: ignore[index]
        # And those lines carry the counts.
        counted = [room_id for room_id in joined if room_unread(account.rooms[room_id]).unread]
        assert counted
        for room_id in counted:
            label = room_unread(account.rooms[room_id]).label()
            assert f" {label} " in at_decode["lines"][room_id]  # type: ignore[index]


async def test_quitting_before_the_rooms_are_decoded_keeps_the_cache(cached: AccountState, silent_homeserver: str) -> None:
    account = cached
    service = _service(silent_homeserver)
    assert service.preview()
    await service.close()  # q pressed while the screen showed the preview
    kept = cache.load_account(ME)
    assert kept is not None and set(kept.rooms) == set(account.rooms)
    assert len(cache.load_summaries(ME) or []) == len(account.rooms)


async def test_keys_that_need_the_rooms_load_them_while_the_preview_is_shown(
    cached: AccountState, silent_homeserver: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = _service(silent_homeserver)

    async def held(self: MatrixService, listener) -> None:  # noqa: ANN001
        await asyncio.Event().wait()  # the decode after the first frame never comes

    monkeypatch.setattr(MatrixService, "run", held)
    app = RecordingApp(service)
    async with app.run_test(size=(160, 50)) as pilot:
        for _ in range(50):
            await pilot.pause()
            screen = app.screen
            if hasattr(screen, "rooms") and screen.rooms.keys and screen.selection is not None:
                break
        assert screen.account is None and screen.rooms.shown_room_ids
        await pilot.press("n")
        await pilot.pause()
        # n walked the real threads: it moved to an unread one, and did not say "all read".
        assert screen.account is not None
        room = screen.account.rooms[screen.selection.room_id]
        assert thread_unread(room, screen.selection.thread_id).unread > 0
        assert not [n for n in app.notified if n[0] == "All read"]
