"""Gap tokens survive the cache, so a restart can still page back through missing history."""

from __future__ import annotations

from app.model.room import RoomState, add_timeline
from app.store.cache import decode_room, encode_room, room_fields

from tests.model.builders import ME, ROOM, msg


def test_gap_tokens_round_trip() -> None:
    room = add_timeline(RoomState(ROOM, ME), [msg("$a")], limited=True, prev_batch="t0")
    room = add_timeline(room, [msg("$x"), msg("$y")], limited=True, prev_batch="t1")
    assert room.gap_tokens == {"$a": "t0", "$x": "t1"}
    again = decode_room(ROOM, ME, encode_room(room))
    assert room_fields(again) == room_fields(room)
