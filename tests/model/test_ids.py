"""What a well-formed identifier looks like (app.model.ids): the one definition the sync
translation, the command line and the config share."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.model.ids import ID_MAX_CHARS, is_event_id, is_room_alias, is_room_id, is_token, is_user_id

# (check, valid values, invalid values): every invalid one differs from a valid one in
# one respect (sigil, length, a space, a control or other unprintable character, type).
CASES = [
    (
        is_event_id,
        ["$a", "$abc123:example.org", "$" + "x" * (ID_MAX_CHARS - 1), "$🎂"],
        ["", "$", "a", "!abc", "$a b", "$a\tb", "$a\nb", "$a\x1b[2J", "$a\u202e", "$a\xa0b", "$\ud800",
         "$" + "x" * ID_MAX_CHARS, None, 5, ["$a"], b"$a"],
    ),
    (
        is_user_id,
        ["@a:b", "@alice:example.org", "@" + "x" * (ID_MAX_CHARS - 4) + ":ab"],
        ["", "@", "@a:", "@ab", "alice:example.org", "@alice", "@al ice:x", "@alice:x\x07", "@alice:x\u2066",
         "@" + "x" * (ID_MAX_CHARS - 3) + ":ab", None, 1.5, {"@a:b": 1}],
    ),
    (
        is_room_id,
        ["!a", "!abc:example.org", "!v12OpaqueRoomId", "!" + "x" * (ID_MAX_CHARS - 1)],
        ["", "!", "#abc:example.org", "!abc def:x", "!\x1b]0;pwned\x07:localhost", "!a\r", "!a\u3000b",
         "!" + "x" * ID_MAX_CHARS, None, 0],
    ),
    (
        is_room_alias,
        ["#a:b", "#lab:example.org", "#" + "x" * (ID_MAX_CHARS - 4) + ":ab"],
        ["", "#", "#a:", "#lab", "!lab:example.org", "#lab :x", "#\x1b[2J-gone:localhost", "#a:b\u202e",
         "#" + "x" * (ID_MAX_CHARS - 3) + ":ab", None, ["#a:b"]],
    ),
    (
        is_token,
        ["m.room.message", "m.thread", "x", "org.example.custom_type", "t" * ID_MAX_CHARS],
        ["", "m.room message", "m.room.message\n", "m\x00", "t" * (ID_MAX_CHARS + 1), None, 3, ("m.x",)],
    ),
]


@pytest.mark.parametrize(("check", "valid", "invalid"), CASES, ids=[c[0].__name__ for c in CASES])
def test_each_kind_of_id_accepts_its_shape_and_nothing_else(check, valid, invalid) -> None:  # noqa: ANN001
    assert [v for v in valid if not check(v)] == []
    assert [v for v in invalid if check(v)] == []


_CHECKS = [is_event_id, is_user_id, is_room_id, is_room_alias, is_token]


@given(value=st.text(max_size=300) | st.binary(max_size=10) | st.integers() | st.none())
def test_an_accepted_id_is_a_bounded_printable_string_without_spaces(value: object) -> None:
    for check in _CHECKS:
        if check(value):
            assert isinstance(value, str) and 0 < len(value) <= ID_MAX_CHARS
            assert value.isprintable() and not any(c.isspace() for c in value)


@given(value=st.text(max_size=40))
def test_a_whitespace_character_anywhere_refuses_an_id(value: object) -> None:
    for sigil, check in (("$", is_event_id), ("!", is_room_id), ("@", is_user_id), ("#", is_room_alias)):
        for space in (" ", "\t", "\n", "\xa0", "\u2028", "\u3000"):
            assert not check(f"{sigil}a{value}{space}b:example.org")
