"""Counts in every pane and column: compact (``count_text``: 9999, 10k, 99k, 99k+, with
``+`` for a lower bound), and never run together with their neighbours, however large
the server's numbers are."""

from __future__ import annotations

import pytest

from app.model.account import AccountState
from app.model.ids import MAIN
from app.model.room import RoomState, ServerCounts, add_timeline, set_server_counts
from app.ui.describe import COUNT_MAX_CELLS, count_text
from app.ui.widgets.keyed_list import columns
from tests.ui.helpers import RecordingApp, main_screen, shown
from tests.ui.local_service import LocalService
from tests.ui.recorded import ALICE, ME, message


@pytest.mark.parametrize(
    ("count", "lower_bound", "text"),
    [
        (0, False, "0"),
        (0, True, "0+"),
        (7, False, "7"),
        (20, True, "20+"),
        (999, True, "999+"),
        (1_000, False, "1000"),
        (9_999, False, "9999"),
        (1_234, True, "1k+"),  # five cells otherwise; still says "at least"
        (10_000, False, "10k"),
        (19_999, False, "19k"),  # rounded down: never more than it is
        (12_345, True, "12k+"),
        (99_999, False, "99k"),
        (100_000, False, "99k+"),
        (200_000, True, "99k+"),
        (10**12, False, "99k+"),
        (-5, False, "0"),  # a server's nonsense reads as nothing
    ],
)
def test_count_text(count: int, lower_bound: bool, text: str) -> None:
    assert count_text(count, lower_bound) == text
    assert len(text) <= COUNT_MAX_CELLS


def test_a_full_column_keeps_a_space_from_its_neighbour() -> None:
    assert columns(("14 Nov", 7, ""), ("99k+", 5, ""), ("99k+", 5, "")).plain == " 14 Nov 99k+ 99k+"
    # Filling its width exactly, or overflowing it: one space, not none.
    assert columns(("alice", 5, ""), ("9999", 4, "")).plain == "alice 9999"
    assert columns(("x", 3, ""), ("longer", 2, "bold")).plain == "  x longer"
    # Not doubled after a separator or a pad, nor at the start.
    assert columns(("1234", 4, ""), " ", ("@99k+", 4, "")).plain == "1234 @99k+"
    assert columns(("", 3, ""), ("abcd", 4, "")).plain == "   abcd"


def huge_account() -> AccountState:
    """One room with 200,000 unread messages, and the server counting as many, with as
    many highlights. The room holds its newest MAX_LIVE_EVENTS (app.model.room), so its
    local count is that many, as a lower bound: 3k+."""
    events = [message(f"$e{i}", ALICE, i // 600, f"message {i}") for i in range(200_000)]
    room = add_timeline(RoomState("!huge:example.org", ME, name="Huge"), events, limited=False)
    room = set_server_counts(room, ServerCounts(200_000, 200_000), {})
    quiet = add_timeline(RoomState("!quiet:example.org", ME, name="Quiet"),
                         [message("$q", ALICE, 1, "hello")], limited=False)
    quiet = set_server_counts(quiet, ServerCounts(12, 3), {})
    return AccountState(ME, {room.room_id: room, quiet.room_id: quiet})


async def test_six_digit_counts_keep_their_columns_apart() -> None:
    app = RecordingApp(LocalService(huge_account()))
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await main_screen(pilot)
        room = shown(screen.rooms, "!huge:example.org")
        assert room.split()[-2:] == ["3k+", "@99k+"], room
        main = shown(screen.threads, MAIN)
        # The time of the latest message, the local count, the server's count and highlights.
        assert main.split()[-3:] == ["15:33", "3k+", "99k+@99k+"], main
        assert "200000" not in main and ":3399" not in main
        # Ordinary counts are drawn as before: as they are, in their columns.
        screen.selection = screen.selection.__class__("!quiet:example.org", MAIN)
        await pilot.pause()
        assert shown(screen.rooms, "!quiet:example.org").split()[-2:] == ["1", "@3"]
        assert shown(screen.threads, MAIN).split()[-2:] == ["1", "12@3"]
