"""The homeserver stops while the TUI runs (Pilot, the real ``MatrixService``, the real
Synapse behind a recording proxy), and comes back.

The outage lasts about 4 s rather than the issue's 30 s to keep CI fast: what matters is
that the sync loop and the receipt queue both fail and back off at least once while keys
are pressed; the 30 s cap of both backoffs is checked with a fake clock in
``test_http_faults.py``. With the proxy in front, a stopped Synapse answers ``502`` (what a
reverse proxy in front of a real homeserver says); the direct connection-refused case is
``tests/matrix/test_live_synapse.py``.
"""

from __future__ import annotations

import re
import time
from collections import Counter

import pytest

from app.config import Settings
from app.matrix.client import MatrixClient
from app.matrix.service import MatrixService
from app.matrix.session import Session
from app.model.ids import MAIN
from app.model.receipts import ReceiptType
from app.ui.screens.main import MainScreen
from tests.matrix.helpers import in_thread
from tests.reliability.helpers import RecordingProxy, assert_never_backwards, make_scene, receipts_sent, screen_text, until
from tests.ui.helpers import RecordingApp, shown

pytestmark = [pytest.mark.faults, pytest.mark.synapse]

OUTAGE_S = 4.0


@pytest.mark.serial
async def test_outage_while_the_tui_runs_queues_coalesces_and_delivers(make_actor, synapse) -> None:
    scene = make_scene(make_actor, replies=2, main=3)
    root, (_r0, r1), (m0, m1, m2) = scene.root, scene.replies, scene.main
    async with RecordingProxy(synapse.base_url) as proxy:
        session = Session(proxy.base_url, scene.me.user_id, scene.me.device_id, scene.me.access_token)
        service = MatrixService(MatrixClient.from_session(session, request_timeout=5), sync_timeout_ms=1000)
        app = RecordingApp(service, Settings(receipt_mode=ReceiptType.PUBLIC))
        async with app.run_test(size=(160, 40)) as pilot:
            await until(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen.status.sync_text.endswith("live"))
            screen = app.screen
            assert isinstance(screen, MainScreen)
            assert " 6 " in shown(screen.rooms, scene.room)  # the root, 3 main, 2 in the thread

            stopped_at = len(proxy.seen)
            synapse.stop()
            outage_began = time.monotonic()
            try:
                # The status bar says offline, with a countdown that moves.
                countdowns: set[str] = set()

                def offline() -> bool:
                    match = re.search(r"offline, retry in (\d+) s", screen_text(pilot))
                    if match:
                        countdowns.add(match.group(1))
                    return bool(match)

                await until(pilot, offline, 15, "offline with a countdown")

                # Keys work on the cached state: three receipts on one key (main), walking
                # the timeline cursor forwards, then the thread, then the whole room, then
                # the fully-read marker.
                await pilot.press("tab", "tab")
                await until(pilot, lambda: screen.focused is screen.timeline)
                pressed: list[tuple[str, str | None]] = []
                for event_id in (m0, m1, m2):
                    while screen.timeline.highlighted_event != event_id:
                        await pilot.press("j" if scene.order.index(screen.timeline.highlighted_event or root) < scene.order.index(event_id) else "k")
                    await pilot.press("r")
                    pressed.append((event_id, MAIN))
                    assert screen.last_action.outcome == "sent", screen.last_action
                await pilot.press("shift+tab", "j")  # the threads pane: the thread
                await until(pilot, lambda: screen.selection.thread_id == root)
                await pilot.press("r")
                assert screen.last_action.outcome == "sent" and "thread" in screen.last_action.text
                await pilot.press("R", "f")
                assert screen.last_action.outcome == "sent", screen.last_action
                # Counts dropped at once, and the status bar shows what waits.
                assert " 6 " not in shown(screen.rooms, scene.room)
                assert re.search(r"\d+ queued", screen_text(pilot)), screen_text(pilot)
                assert service.queued >= 4
                # Navigation still answers while offline.
                await pilot.press("g")
                first = screen.selection
                await pilot.press("G")
                assert screen.selection != first and {first.thread_id, screen.selection.thread_id} == {MAIN, root}
                # Hold the outage, watching the countdown on screen.
                while time.monotonic() - outage_began < OUTAGE_S or (
                    len(countdowns) < 2 and time.monotonic() - outage_began < 3 * OUTAGE_S
                ):
                    offline()
                    await pilot.pause(0.2)
                assert "offline" in screen.status.sync_text
            finally:
                synapse.start()
            restarted_at = time.monotonic()
            # The sync's own backoff still to wait out (the loop was blocked during the start).
            backoff_left = service.status.retry_in or 0

            await until(pilot, lambda: service.queued == 0 and screen.status.sync_text.endswith("live"), 60, "delivery")
            delivered_after = time.monotonic() - restarted_at
            assert len(countdowns) >= 2, countdowns  # it counted down
            assert not re.search(r"\d+ queued", screen_text(pilot))
            await pilot.press("q")
            await pilot.pause()

    # What reached the server: failures during the outage, then per key exactly one
    # request after the restart, and never an older event after a newer one.
    sent = receipts_sent(proxy)
    during = [s for s in sent if s.index >= stopped_at]
    assert during, "nothing was attempted"
    back = next(i for i in range(stopped_at, len(proxy.seen)) if (proxy.status_of(i) or 0) // 100 == 2)
    after = [s for s in during if s.index >= back]
    per_key = Counter(s.key for s in after)
    assert per_key == {
        (scene.room, "m.read", MAIN): 1,
        (scene.room, "m.read", root): 1,
        (scene.room, "m.read", None): 1,
        (scene.room, "m.fully_read", None): 1,
    }, after
    assert all(proxy.status_of(s.index) == 200 for s in after)
    assert {s.key: s.event_id for s in after} == {
        (scene.room, "m.read", MAIN): m2,  # coalesced: the newest of the three presses
        (scene.room, "m.read", root): r1,
        (scene.room, "m.read", None): m2,
        (scene.room, "m.fully_read", None): m2,
    }
    assert_never_backwards(during, scene.order)
    # No receipt was duplicated: no key was sent twice with a 2xx.
    ok = Counter(s.key for s in sent if proxy.status_of(s.index) == 200)
    assert all(count == 1 for count in ok.values()), ok

    # The witness sees the newest of each.
    def witnessed():
        seen = scene.my_receipts_seen_by_witness()
        return seen if m2 in seen and r1 in seen else None

    seen = await in_thread(lambda: scene.alice.wait_for(witnessed))
    assert seen[r1]["m.read"]["thread_id"] == root
    assert scene.me.fully_read(scene.room) == m2
    # Delivery waited for nothing but the sync's own countdown after the server came back
    # (a fixed 15 s bound would fail when the outage runs long and the countdown is 8-16 s).
    print(f"delivered {delivered_after:.1f} s after the restart, {backoff_left} s of backoff left then")
    assert delivered_after < backoff_left + 5, (delivered_after, backoff_left)
