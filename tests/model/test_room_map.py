"""RoomMap: an account's rooms that know which rooms changed since the maps before them,
the rooms pane's shortcut (it looks at those rooms only). Held to the truth: whatever
``touched_since`` answers is a superset of the rooms that differ."""

from __future__ import annotations

import gc

from hypothesis import given, settings
from hypothesis import strategies as st

from app.model.account import AccountState, RoomMap
from app.model.room import RoomState
from tests.model.builders import ME


def rooms_of(n: int) -> AccountState:
    return AccountState(ME, RoomMap({f"!r{i}:t": RoomState(f"!r{i}:t", ME) for i in range(n)}))


def test_each_change_names_its_room_and_a_chain_names_them_all() -> None:
    first = rooms_of(5)
    second = first.with_room(RoomState("!r1:t", ME, name="one"))
    third = second.with_rooms([RoomState("!r3:t", ME, name="three"), RoomState("!new:t", ME)])
    assert second.rooms.touched_since(first.rooms) == {"!r1:t"}
    assert third.rooms.touched_since(second.rooms) == {"!r3:t", "!new:t"}
    assert third.rooms.touched_since(first.rooms) == {"!r1:t", "!r3:t", "!new:t"}
    assert third.rooms.touched_since(third.rooms) == frozenset()
    # A map it was not made from, or a plain dict: it does not know.
    assert third.rooms.touched_since(rooms_of(5).rooms) is None
    assert third.rooms.touched_since(dict(first.rooms)) is None
    assert RoomMap(third.rooms).touched_since(second.rooms) is None


def test_an_older_map_is_held_weakly_and_the_history_is_bounded() -> None:
    account = rooms_of(3)
    start = account.rooms
    for i in range(RoomMap.DEPTH + 1):
        account = account.with_room(RoomState("!r0:t", ME, name=str(i)))
    assert account.rooms.touched_since(start) is None  # past DEPTH: forgotten
    middle = account.rooms
    account = account.with_room(RoomState("!r2:t", ME))
    assert account.rooms.touched_since(middle) == {"!r2:t"}
    held = account.rooms._history[0][0]
    del middle
    gc.collect()
    assert held() is None  # nobody looks at it: gone, and no answer for it


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.integers(0, 9), max_size=4), max_size=12), st.integers(0, 11))
def test_touched_since_covers_every_room_that_differs(steps: list[list[int]], look: int) -> None:
    account = rooms_of(10)
    maps = [account.rooms]
    for n, step in enumerate(steps):
        account = account.with_rooms([RoomState(f"!r{i}:t", ME, name=f"{n}") for i in step])
        maps.append(account.rooms)
    # By position, not ``maps.index(old)``: that compares maps as dicts, and maps with
    # the same rooms (steps that change nothing) are equal, so it found an earlier one.
    position = min(look, len(maps) - 1)
    old = maps[position]
    touched = account.rooms.touched_since(old)
    if len(maps) - 1 - position > RoomMap.DEPTH:
        assert touched is None
        return
    assert touched is not None
    differ = {r for r in account.rooms if old.get(r) is not account.rooms[r]}
    assert differ <= touched
