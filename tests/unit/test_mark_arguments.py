"""``readmark mark``'s arguments are checked before any request, with the same ID shapes
the sync translation accepts (app.model.ids): bounded, printable, no spaces."""

from __future__ import annotations

import pytest

from app.commands import CommandError, MarkArgs, validate_mark

LONG = "x" * 300


@pytest.mark.parametrize(
    "args",
    [
        MarkArgs("!abc:example.org"),
        MarkArgs("!v12OpaqueRoomId"),
        MarkArgs("#lab:example.org"),
        MarkArgs("!abc:example.org", thread="main"),
        MarkArgs("!abc:example.org", thread="$root:example.org", event_id="$event"),
        MarkArgs("!abc:example.org", unthreaded=True),
    ],
)
def test_well_formed_arguments_pass(args: MarkArgs) -> None:
    validate_mark(args)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (MarkArgs("lobby"), "not a room ID"),
        (MarkArgs("!"), "not a room ID"),
        (MarkArgs("!abc def:localhost"), "not a room ID"),
        (MarkArgs("!\x1b]0;pwned\x07:localhost"), "not a room ID"),
        (MarkArgs("#\x1b[2J-gone:localhost"), "not a room ID"),
        (MarkArgs("#lab :localhost"), "not a room ID"),
        (MarkArgs("!" + LONG), "not a room ID"),
        (MarkArgs("#" + LONG + ":x"), "not a room ID"),
        (MarkArgs("!abc:x", thread="root"), "--thread takes"),
        (MarkArgs("!abc:x", thread="$ro ot"), "--thread takes"),
        (MarkArgs("!abc:x", thread="$root\x07"), "--thread takes"),
        (MarkArgs("!abc:x", thread="$" + LONG), "--thread takes"),
        (MarkArgs("!abc:x", event_id="not-an-event"), "--event takes"),
        (MarkArgs("!abc:x", event_id="$ev\u202eent"), "--event takes"),
        (MarkArgs("!abc:x", event_id="$" + LONG), "--event takes"),
    ],
)
def test_malformed_ids_are_refused_with_exit_code_2(args: MarkArgs, message: str) -> None:
    with pytest.raises(CommandError) as caught:
        validate_mark(args)
    assert caught.value.exit_code == 2
    assert message in str(caught.value)
