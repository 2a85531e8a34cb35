"""``evolve``, the sync's fast copy of a room, is ``dataclasses.replace``: the same
fields, and indexes worked out anew from them, never carried over from the original."""

from __future__ import annotations

from dataclasses import fields, replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.model.ids import MAIN
from app.model.room import RoomState, evolve
from tests.store.test_cache import rooms

NAMES = [f.name for f in fields(RoomState)]


def derived(room: RoomState) -> tuple:
    return (dict(room.index), dict(room.thread_of), dict(room.thread_positions), room.last_gap,
            room.read_position(MAIN))


@given(rooms(), rooms(), st.sets(st.sampled_from(NAMES)))
@settings(max_examples=200)
def test_evolve_is_replace(room: RoomState, other: RoomState, chosen: set[str]) -> None:
    derived(room)  # the original's indexes are worked out (cached) first
    updates = {name: getattr(other, name) for name in chosen}
    fast, slow = evolve(room, updates), replace(room, **updates)
    assert type(fast) is RoomState and fast is not room
    for name in NAMES:
        assert getattr(fast, name) is getattr(slow, name), name
    assert derived(fast) == derived(slow)


def test_evolve_refuses_what_is_not_a_field_as_replace_does() -> None:
    room = RoomState("!r:x", "@me:x")
    with pytest.raises(TypeError):
        replace(room, colour="red")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="colour"):
        evolve(room, {"colour": "red"})
    with pytest.raises(AttributeError):
        evolve(room, {"name": "n"}).name = "m"  # type: ignore[misc]
