"""``status --json``'s groups: the rooms pane's groups with totals counting a room once;
spaces are groups, not rooms."""

from __future__ import annotations

from app.model.account import AccountState
from app.model.events import ALERT_HIGHLIGHT
from app.model.room import SPACE_TYPE, RoomState, ServerCounts, SpaceChild, add_timeline
from app.model.status import status_document

from tests.model.builders import ME, msg


def test_groups_total_each_room_once_and_spaces_are_not_rooms() -> None:
    def space(room_id, name, *children):
        return RoomState(room_id, ME, name=name, room_type=SPACE_TYPE,
                         space_children={c: SpaceChild(None, i) for i, c in enumerate(children)})

    def room(room_id, *events, **kw):
        return add_timeline(RoomState(room_id, ME, name=room_id, **kw), list(events), limited=False)

    rooms = [
        space("!top:t", "Top", "!a:t", "!sub:t", "!both:t"),
        space("!sub:t", "Sub", "!both:t"),
        room("!a:t", msg("$a1", ts=1), msg("$a2", ts=2)),
        room("!both:t", msg("$b1", ts=3, alert=ALERT_HIGHLIGHT), server_main=ServerCounts(1, 1)),
        room("!enc:t", msg("$e1", ts=4, alert=ALERT_HIGHLIGHT), encrypted=True, is_direct=True),
        room("!loose:t", msg("$l1", ts=5)),
    ]
    document = status_document(AccountState(ME, {r.room_id: r for r in rooms}))
    assert {r["room_id"] for r in document["rooms"]} == {"!a:t", "!both:t", "!enc:t", "!loose:t"}
    groups = [(g["kind"], g["space_id"], g["depth"], g["unread"], g["highlights"], g["rooms"])
              for g in document["groups"]]
    assert groups == [
        ("space", "!top:t", 0, 3, 1, ["!a:t", "!both:t"]),
        ("space", "!sub:t", 1, 1, 1, ["!both:t"]),
        # The encrypted DM's highlight is readmark's own (the server cannot see it).
        ("direct", None, 0, 1, 1, ["!enc:t"]),
        ("other", None, 0, 1, 0, ["!loose:t"]),
    ]


def test_each_room_says_its_receipt_policy_and_what_others_see() -> None:
    from app.model.policy import Mode, PolicyRule
    from app.model.receipts import Receipt, ReceiptKey, ReceiptType
    from app.model.room import add_pending, apply_receipt
    from app.model.sending import ModeRules, room_mode

    room = add_timeline(RoomState("!r:t", ME, is_direct=True), [msg("$1", ts=1), msg("$2", ts=2)], limited=False)
    room = apply_receipt(room, ReceiptKey(ME, ReceiptType.PUBLIC, None), Receipt("$1"))
    room = apply_receipt(room, ReceiptKey(ME, ReceiptType.PRIVATE, None), Receipt("$2"))
    # A public receipt not yet confirmed is not what others see.
    room = add_pending(room, ReceiptKey(ME, ReceiptType.PUBLIC, "main"), Receipt("$2"))
    rules = ModeRules(ReceiptType.PRIVATE, {}, (PolicyRule("dm", None, Mode.NONE),))
    from app.model.policy import room_facts

    document = status_document(AccountState(ME, {room.room_id: room}),
                               policy=lambda room_id: room_mode(rules, None, room_id, room_facts(room)))
    entry = document["rooms"][0]
    assert entry["receipt_policy"] == {"mode": "none", "rule": "rule: dm"}
    assert entry["visible_read_position"] == "$1"
