"""The receipt policy (app.model.policy): each rule kind decides as documented, the first
matching rule wins, the default applies when none matches, and a room's own setting and
a pinned room come first."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from app.model.policy import RULE_KINDS, Decision, Mode, PolicyRule, RoomFacts, decide, parse_match, room_facts, space_ancestors
from app.model.receipts import ReceiptType
from app.model.room import SPACE_TYPE, RoomState, SpaceChild
from app.model.names import NameInputs
from app.model.sending import ModeRules, RoomMode, refuse_action, room_mode
from app.model.plan import ActionKind, ReceiptAction

from tests.model.builders import ME

ROOM = "!r:t"


def test_each_kind_matches_what_it_says() -> None:
    facts = RoomFacts(ROOM, "#r:t", is_direct=True, encrypted=True, join_rule="public",
                      history_visibility="shared", spaces=frozenset({"!s:t", "#s:t"}))
    assert PolicyRule("room", ROOM, Mode.NONE).matches(facts)
    assert PolicyRule("room", "#r:t", Mode.NONE).matches(facts)
    assert not PolicyRule("room", "!other:t", Mode.NONE).matches(facts)
    assert PolicyRule("space", "!s:t", Mode.NONE).matches(facts)
    assert PolicyRule("space", "#s:t", Mode.NONE).matches(facts)
    assert not PolicyRule("space", "!t:t", Mode.NONE).matches(facts)
    assert PolicyRule("dm", None, Mode.NONE).matches(facts)
    assert PolicyRule("encrypted", None, Mode.NONE).matches(facts)
    assert PolicyRule("public", None, Mode.NONE).matches(facts)
    assert not PolicyRule("invite-only", None, Mode.NONE).matches(facts)
    plain = RoomFacts(ROOM, join_rule="invite", history_visibility="world_readable")
    assert not PolicyRule("dm", None, Mode.NONE).matches(plain)
    assert not PolicyRule("encrypted", None, Mode.NONE).matches(plain)
    # World-readable history makes a room public whatever its join rule.
    assert PolicyRule("public", None, Mode.NONE).matches(plain)
    assert PolicyRule("invite-only", None, Mode.NONE).matches(plain)
    assert not PolicyRule("public", None, Mode.NONE).matches(RoomFacts(ROOM, join_rule="knock"))


def test_parse_match() -> None:
    assert parse_match("dm") == ("dm", None)
    assert parse_match(" invite-only ") == ("invite-only", None)
    assert parse_match("space:#eng:example.org") == ("space", "#eng:example.org")
    assert parse_match("room:!abc:x") == ("room", "!abc:x")
    for bad in ("", "dms", "room", "room:", "dm:x", "space: ", "everything"):
        assert parse_match(bad) is None, bad


facts_st = st.builds(
    RoomFacts,
    st.sampled_from(["!a:t", "!b:t"]),
    st.sampled_from([None, "#a:t"]),
    st.booleans(),
    st.booleans(),
    st.sampled_from([None, "public", "invite", "knock"]),
    st.sampled_from([None, "shared", "world_readable"]),
    st.frozensets(st.sampled_from(["!s:t", "#s:t", "!u:t"]), max_size=2),
)
rules_st = st.lists(
    st.builds(
        PolicyRule,
        st.sampled_from(RULE_KINDS),
        st.sampled_from([None, "!a:t", "#a:t", "!s:t", "#s:t"]),
        st.sampled_from(list(Mode)),
    ),
    max_size=6,
)


@given(facts_st, rules_st, st.sampled_from([Mode.PUBLIC, Mode.PRIVATE]))
@settings(max_examples=500, deadline=None)
def test_the_first_matching_rule_wins_and_the_default_applies_when_none_does(facts, rules, default) -> None:
    decision = decide(facts, rules, None, default)
    matching = [rule for rule in rules if rule.matches(facts)]
    if matching:
        assert decision == Decision(matching[0].mode, f"rule: {matching[0].label}", True)
    else:
        assert decision == Decision(default, "default")


@given(facts_st, rules_st, st.sampled_from(list(Mode)), st.sampled_from(list(Mode)))
@settings(max_examples=200, deadline=None)
def test_the_room_setting_then_a_pinned_room_come_before_any_rule(facts, rules, own, pinned) -> None:
    from dataclasses import replace

    assert decide(replace(facts, override=own), rules, {facts.room_id: pinned}, Mode.PUBLIC) == \
        Decision(own, "this room", True)
    assert decide(facts, rules, {facts.room_id: pinned}, Mode.PUBLIC) == Decision(pinned, "pinned in config", True)


def test_none_refuses_every_receipt_and_lets_the_marker_move() -> None:
    mode = room_mode(ModeRules(rules=(PolicyRule("dm", None, Mode.NONE),)), None, ROOM, RoomFacts(ROOM, is_direct=True))
    assert mode == RoomMode(ReceiptType.PRIVATE, pinned=True, sends=False)
    assert mode.mode is Mode.NONE and mode.rule == "rule: dm"
    for kind in (ActionKind.THREADED, ActionKind.UNTHREADED):
        for receipt_type in ReceiptType:
            refusal = refuse_action(ReceiptAction(kind, receipt_type, "main"), mode, private_supported=True)
            assert refusal is not None and refusal.code == "receipts-off"
            assert "rule: dm" in refusal.reason
    with_receipt = ReceiptAction(ActionKind.FULLY_READ, ReceiptType.PRIVATE, with_receipt=True)
    assert refuse_action(with_receipt, mode, private_supported=True).code == "receipts-off"
    assert refuse_action(ReceiptAction(ActionKind.FULLY_READ), mode, private_supported=True) is None


def test_the_session_mode_moves_only_undecided_rooms() -> None:
    rules = ModeRules(ReceiptType.PRIVATE, {}, (PolicyRule("encrypted", None, Mode.PRIVATE),))
    assert room_mode(rules, None, ROOM).rule == "default"
    moved = room_mode(rules, ReceiptType.PUBLIC, ROOM)
    assert moved == RoomMode(ReceiptType.PUBLIC) and moved.rule == "session"
    kept = room_mode(rules, ReceiptType.PUBLIC, ROOM, RoomFacts(ROOM, encrypted=True))
    assert kept == RoomMode(ReceiptType.PRIVATE, pinned=True) and kept.rule == "rule: encrypted"


def test_room_facts_and_space_ancestors_from_room_states() -> None:
    def space(room_id, *children, alias=None):
        return RoomState(room_id, ME, room_type=SPACE_TYPE, name_inputs=NameInputs(None, alias),
                         space_children={c: SpaceChild(None, 0) for c in children})

    rooms = {
        "!top:t": space("!top:t", "!sub:t", alias="#top:t"),
        "!sub:t": space("!sub:t", ROOM),
        ROOM: RoomState(ROOM, ME, is_direct=True, encrypted=True, join_rule="invite", history_visibility="shared",
                        receipt_override="none", name_inputs=NameInputs(None, "#r:t")),
    }
    ancestors = space_ancestors(rooms)
    assert ancestors[ROOM] == {"!top:t", "#top:t", "!sub:t"}
    facts = room_facts(rooms[ROOM], ancestors[ROOM])
    assert facts == RoomFacts(ROOM, "#r:t", True, True, "invite", "shared", frozenset({"!top:t", "#top:t", "!sub:t"}),
                              Mode.NONE)
    # An override readmark does not know is no override.
    from dataclasses import replace

    assert room_facts(replace(rooms[ROOM], receipt_override="loud")).override is None


def test_the_policy_has_the_last_word_on_a_queued_request() -> None:
    from app.model.plan import FullyReadRequest, ReceiptRequest
    from app.model.sending import refuse_by_policy

    public = ReceiptRequest(ROOM, ReceiptType.PUBLIC, "$e", None)
    private = ReceiptRequest(ROOM, ReceiptType.PRIVATE, "$e", "main")
    marker = FullyReadRequest(ROOM, "$e")
    marker_public = FullyReadRequest(ROOM, "$e", ReceiptType.PUBLIC, "$e")
    none = RoomMode(ReceiptType.PRIVATE, True, False, "rule: dm")
    priv = RoomMode(ReceiptType.PRIVATE, True, True, "this room")
    pub = RoomMode(ReceiptType.PUBLIC)
    assert refuse_by_policy(public, pub) is None and refuse_by_policy(private, pub) is None
    assert refuse_by_policy(public, priv).code == "private-mode"
    assert refuse_by_policy(marker_public, priv).code == "private-mode"
    assert refuse_by_policy(private, priv) is None
    for request in (public, private, marker_public):
        assert refuse_by_policy(request, none).code == "receipts-off"
    assert refuse_by_policy(marker, none) is None
    # Where the session mode decides, the mode it was queued under stands.
    assert refuse_by_policy(public, RoomMode(ReceiptType.PRIVATE)) is None
