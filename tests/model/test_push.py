"""Push rules against the spec (push.md, mentions.md, appendices.md, v1.17): every
predefined rule, the spec's own examples, and property tests against references written
here from the spec's words (fnmatch for globs, a brute-force evaluator over the wire JSON)."""

from __future__ import annotations

import fnmatch
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.model.push import (
    MAX_RULES_PER_KIND,
    NO_MATCH,
    EventMatch,
    EventPropertyContains,
    EventPropertyIs,
    PushContext,
    PushOutcome,
    PushRule,
    PushRuleset,
    RoomMemberCount,
    SetTweak,
    UnrecognisedCondition,
    counts_as_notification,
    default_rules_json,
    default_ruleset,
    evaluate,
    glob_matches,
    is_highlight,
    join_property_path,
    merged_ruleset,
    parse_condition,
    parse_push_rules,
    parse_ruleset,
    ruleset_from_account_data,
    split_property_path,
)

ME = "@me:test"
ALICE = "@alice:test"
BOB = "@bob:test"
ROOM = "!room:test"
DEFAULTS = default_ruleset(ME)


def event(type: str = "m.room.message", content: dict | None = None, sender: str = ALICE, **extra) -> dict:
    body = {"type": type, "sender": sender, "event_id": "$e", "origin_server_ts": 1, "content": content or {}}
    body.update(extra)
    return body


def text(body: str = "hello", sender: str = ALICE, room_id: str | None = None, **content) -> dict:
    """An m.text message; keyword arguments other than sender and room_id go in its content."""
    extra = {} if room_id is None else {"room_id": room_id}
    return event(content={"msgtype": "m.text", "body": body, **content}, sender=sender, **extra)


def context(members: int | None = 5, power: int = 0, **kw) -> PushContext:
    return PushContext(ME, member_count=members, sender_power_level=power, room_id=ROOM, **kw)


def decide(ev: dict, ruleset: PushRuleset = DEFAULTS, **kw) -> PushOutcome:
    return evaluate(ruleset, ev, context(**kw))


def rule(rule_id: str, actions: list, conditions: list | None = None, enabled: bool = True, **extra) -> dict:
    raw = {"rule_id": rule_id, "default": rule_id.startswith("."), "enabled": enabled, "actions": actions, **extra}
    if conditions is not None:
        raw["conditions"] = conditions
    return raw


def account_data(**kinds: list) -> dict:
    return {"global": {kind: kinds.get(kind, []) for kind in ("override", "content", "room", "sender", "underride")}}


NOTIFY = PushOutcome(True, False, None, ".m.rule.message")


# --- the predefined rules, one by one (push.md "Predefined Rules") ---------------------


def test_master_is_disabled_by_default_and_silences_everything_when_enabled() -> None:
    assert decide(text()) == NOTIFY
    data = account_data(override=[rule(".m.rule.master", [], [], enabled=True)])
    muted = ruleset_from_account_data(data, ME)
    invite = event("m.room.member", {"membership": "invite"}, state_key=ME)
    mention = text("hi", **{"m.mentions": {"user_ids": [ME]}})
    for ev in (text(), invite, mention, event("m.call.invite")):
        assert evaluate(muted, ev, context()) == PushOutcome(False, False, None, ".m.rule.master")


def test_master_outranks_user_defined_overrides() -> None:
    data = account_data(override=[
        rule("loud", ["notify", {"set_tweak": "highlight"}], []),
        rule(".m.rule.master", [], [], enabled=True),
    ])
    ruleset = ruleset_from_account_data(data, ME)
    assert ruleset.override[0].rule_id == ".m.rule.master"
    assert decide(text(), ruleset).rule_id == ".m.rule.master"


def test_suppress_notices_even_in_a_one_to_one_room() -> None:
    notice = event(content={"msgtype": "m.notice", "body": "bot says"})
    assert decide(notice, members=2) == PushOutcome(False, False, None, ".m.rule.suppress_notices")


def test_invite_for_me_notifies_with_the_default_sound() -> None:
    invite = event("m.room.member", {"membership": "invite"}, state_key=ME)
    assert decide(invite) == PushOutcome(True, False, "default", ".m.rule.invite_for_me")


def test_an_invite_for_someone_else_is_a_silent_member_event() -> None:
    invite = event("m.room.member", {"membership": "invite"}, state_key=BOB)
    assert decide(invite) == PushOutcome(False, False, None, ".m.rule.member_event")


def test_member_events_do_not_notify() -> None:
    join = event("m.room.member", {"membership": "join"}, sender=BOB, state_key=BOB)
    assert decide(join, members=2) == PushOutcome(False, False, None, ".m.rule.member_event")


def test_is_user_mention_highlights_with_the_default_sound() -> None:
    mention = text("hi", **{"m.mentions": {"user_ids": [BOB, ME]}})
    assert decide(mention) == PushOutcome(True, True, "default", ".m.rule.is_user_mention")


def test_a_mention_of_someone_else_or_a_mention_not_in_an_array_does_not_highlight() -> None:
    assert decide(text("hi", **{"m.mentions": {"user_ids": [BOB]}})) == NOTIFY
    assert decide(text("hi", **{"m.mentions": {"user_ids": ME}})) == NOTIFY
    assert decide(text(f"hi {ME}")) == NOTIFY


def test_is_room_mention_needs_the_senders_power() -> None:
    room_mention = text("everyone!", **{"m.mentions": {"room": True}})
    assert decide(room_mention, power=50) == PushOutcome(True, True, None, ".m.rule.is_room_mention")
    assert decide(room_mention, power=49) == NOTIFY
    raised = {"notification_power_levels": {"room": 100}}
    assert decide(room_mention, power=50, **raised) == NOTIFY
    assert decide(room_mention, power=100, **raised).rule_id == ".m.rule.is_room_mention"
    lowered = {"notification_power_levels": {"room": 0}}
    assert decide(room_mention, power=0, **lowered).highlight


def test_is_room_mention_wants_the_boolean_true() -> None:
    for room in ("true", 1, False, None):
        assert decide(text("x", **{"m.mentions": {"room": room}}), power=100) == NOTIFY


def test_tombstone_state_event_highlights_and_a_non_state_one_does_nothing() -> None:
    tombstone = event("m.room.tombstone", {"body": "moved", "replacement_room": "!new:test"}, state_key="")
    assert decide(tombstone) == PushOutcome(True, True, None, ".m.rule.tombstone")
    not_state = event("m.room.tombstone", {"body": "moved"})
    assert decide(not_state) == NO_MATCH


def test_reactions_do_not_notify_even_in_a_one_to_one_room() -> None:
    reaction = event("m.reaction", {"m.relates_to": {"rel_type": "m.annotation", "event_id": "$x", "key": "👍"}})
    assert decide(reaction, members=2) == PushOutcome(False, False, None, ".m.rule.reaction")


def test_server_acl_changes_do_not_notify() -> None:
    acl = event("m.room.server_acl", {"allow": ["*"], "deny": []}, state_key="")
    assert decide(acl) == PushOutcome(False, False, None, ".m.rule.room.server_acl")


def test_edits_are_suppressed_even_in_a_one_to_one_room() -> None:
    edit = text("* fixed", **{"m.new_content": {"body": "fixed"}, "m.relates_to": {"rel_type": "m.replace", "event_id": "$x"}})
    assert decide(edit, members=2) == PushOutcome(False, False, None, ".m.rule.suppress_edits")
    in_thread = text("reply", **{"m.relates_to": {"rel_type": "m.thread", "event_id": "$root"}})
    assert decide(in_thread) == NOTIFY


def test_an_edit_that_newly_mentions_me_highlights_since_is_user_mention_comes_first() -> None:
    edit = text("* hi", **{"m.mentions": {"user_ids": [ME]}, "m.relates_to": {"rel_type": "m.replace", "event_id": "$x"}})
    assert decide(edit).rule_id == ".m.rule.is_user_mention"


def test_call_invites_ring() -> None:
    assert decide(event("m.call.invite", {"call_id": "c"})) == PushOutcome(True, False, "ring", ".m.rule.call")


def test_encrypted_events_notify_with_sound_in_a_one_to_one_room_and_silently_in_a_group() -> None:
    encrypted = event("m.room.encrypted", {"algorithm": "m.megolm.v1.aes-sha2", "ciphertext": "..."})
    assert decide(encrypted, members=2) == PushOutcome(True, False, "default", ".m.rule.encrypted_room_one_to_one")
    assert decide(encrypted, members=3) == PushOutcome(True, False, None, ".m.rule.encrypted")


def test_a_one_to_one_room_notifies_every_message_with_sound() -> None:
    assert decide(text(), members=2) == PushOutcome(True, False, "default", ".m.rule.room_one_to_one")


def test_an_unknown_member_count_is_not_a_one_to_one_room() -> None:
    assert decide(text(), members=None) == NOTIFY


def test_group_messages_notify_without_sound() -> None:
    assert decide(text(), members=30) == NOTIFY


def test_other_events_match_no_rule() -> None:
    assert decide(event("m.room.topic", {"topic": "x"}, state_key="")) == NO_MATCH
    assert not counts_as_notification(DEFAULTS, event("m.room.topic", {"topic": "x"}, state_key=""), context())


def test_my_own_events_never_notify() -> None:
    mine = text("note to self", sender=ME, **{"m.mentions": {"user_ids": [ME]}})
    assert decide(mine, members=2) == NO_MATCH


def test_the_default_ruleset_is_push_md_in_order() -> None:
    assert [r.rule_id for r in DEFAULTS.override] == [
        ".m.rule.master", ".m.rule.suppress_notices", ".m.rule.invite_for_me", ".m.rule.member_event",
        ".m.rule.is_user_mention", ".m.rule.is_room_mention", ".m.rule.tombstone", ".m.rule.reaction",
        ".m.rule.room.server_acl", ".m.rule.suppress_edits",
    ]
    assert [r.rule_id for r in DEFAULTS.underride] == [
        ".m.rule.call", ".m.rule.encrypted_room_one_to_one", ".m.rule.room_one_to_one", ".m.rule.message",
        ".m.rule.encrypted",
    ]
    # v1.17 removed the body-mention rules: no content rules, no display name, no @room.
    assert DEFAULTS.content == DEFAULTS.room == DEFAULTS.sender == ()
    assert all(r.default for _, r in DEFAULTS)
    assert [r.enabled for r in DEFAULTS.override][:2] == [False, True]
    invite = DEFAULTS.find("override", ".m.rule.invite_for_me")
    assert invite is not None and invite.conditions[2] == EventMatch("state_key", ME)


# --- the legacy body-mention rules a pre-1.17 server still sends ------------------------

LEGACY = account_data(
    override=[
        rule(".m.rule.contains_display_name", ["notify", {"set_tweak": "sound", "value": "default"}, {"set_tweak": "highlight"}],
             [{"kind": "contains_display_name"}]),
        rule(".m.rule.roomnotif", ["notify", {"set_tweak": "highlight"}],
             [{"kind": "event_match", "key": "content.body", "pattern": "@room"},
              {"kind": "sender_notification_permission", "key": "room"}]),
    ],
    content=[rule(".m.rule.contains_user_name", ["notify", {"set_tweak": "highlight"}], pattern="me")],
)
LEGACY_RULES = ruleset_from_account_data(LEGACY, ME)


def test_legacy_display_name_rule_matches_on_word_boundaries_case_insensitively() -> None:
    named = {"display_name": "Mister Me"}
    assert decide(text("hey mister ME, look"), LEGACY_RULES, **named).rule_id == ".m.rule.contains_display_name"
    assert decide(text("hey Mister Meow"), LEGACY_RULES, **named) == NOTIFY
    assert decide(text("hey Mister Me"), LEGACY_RULES).rule_id != ".m.rule.contains_display_name"


def test_legacy_mention_rules_apply_only_without_m_mentions() -> None:
    """mentions.md: those push rules were disabled if the ``m.mentions`` field was present."""
    named = {"display_name": "Alfred"}
    assert decide(text("thanks Alfred"), LEGACY_RULES, **named).highlight
    assert decide(text("thanks Alfred", **{"m.mentions": {}}), LEGACY_RULES, **named) == NOTIFY
    assert decide(text("@room lunch", sender=BOB), LEGACY_RULES, power=50).rule_id == ".m.rule.roomnotif"
    assert decide(text("@room lunch", **{"m.mentions": {}}), LEGACY_RULES, power=50) == NOTIFY
    assert decide(text("ask me"), LEGACY_RULES).rule_id == ".m.rule.contains_user_name"
    assert decide(text("ask me", **{"m.mentions": {}}), LEGACY_RULES) == NOTIFY


# --- the spec's own examples ------------------------------------------------------------


def test_push_md_event_match_example() -> None:
    """"if key is content.topic, and pattern is lunc?*, then the following event will
    match ... Other topic values which will match are: "LUNCH" ... The following topic
    values will NOT match: " lunch" (note leading space), "lunc" (? must match a
    character), null (not a string)"."""
    ruleset = PushRuleset(override=(PushRule("t", False, True, (EventMatch("content.topic", "lunc?*"),), ("notify",)),))

    def topic(value: object) -> dict:
        return {"content": {"topic": value}, "event_id": "$143273582443PhrSn:example.org",
                "room_id": "!636q39766251:example.com", "sender": "@example:example.org", "state_key": "",
                "type": "m.room.topic"}

    assert counts_as_notification(ruleset, topic("Lunch plans"), context())
    assert counts_as_notification(ruleset, topic("LUNCH"), context())
    for value in (" lunch", "lunc", None):
        assert not counts_as_notification(ruleset, topic(value), context())
    absent = topic("x")
    del absent["content"]["topic"]
    assert not counts_as_notification(ruleset, absent, context())


def test_push_md_content_body_word_boundary_example() -> None:
    """"if key is content.body and pattern is ex*ple, the following event will match:
    "An example event." ... "exple" (the pattern can match at the start and end of the
    body.) "An exciting triple-whammy" (the pattern can span multiple words, and - acts
    as a word separator.)"."""
    ruleset = PushRuleset(override=(PushRule("t", False, True, (EventMatch("content.body", "ex*ple"),), ("notify",)),))
    for body in ("An example event.", "exple", "An exciting triple-whammy"):
        assert counts_as_notification(ruleset, text(body), context()), body
    for body in ("An examples event", "Texple", "exampled"):
        assert not counts_as_notification(ruleset, text(body), context()), body


def test_push_md_event_property_is_example() -> None:
    """"if key is content.m\\.federate, and value is true, then the following event will
    match ... The following m.federate values will NOT match: "true" (note the string
    value), 1 (do not cast types)"."""
    condition = parse_condition({"kind": "event_property_is", "key": "content.m\\.federate", "value": True})
    ruleset = PushRuleset(override=(PushRule("t", False, True, (condition,), ("notify",)),))

    def create(federate: object) -> dict:
        return {"content": {"creator": "@example:example.org", "m.federate": federate,
                            "predecessor": {"event_id": "$something:example.org", "room_id": "!oldroom:example.org"},
                            "room_version": "1"},
                "event_id": "$143273582443PhrSn:example.org", "room_id": "!636q39766251:example.com",
                "sender": "@example:example.org", "state_key": "", "type": "m.room.create"}

    assert counts_as_notification(ruleset, create(True), context())
    for value in ("true", 1, 1.0, False, None):
        assert not counts_as_notification(ruleset, create(value), context()), value


def test_push_md_event_property_contains_example() -> None:
    """"if key is content.alt_aliases, and value is "#myroom:example.com", then the
    following event will match ... The following alt_aliases values will NOT match:
    ":example.com" (partial values do not match)"."""

    def aliases(value: str) -> PushRuleset:
        condition = EventPropertyContains("content.alt_aliases", value)
        return PushRuleset(override=(PushRule("t", False, True, (condition,), ("notify",)),))

    canonical_alias = {
        "content": {"alias": "#somewhere:localhost", "alt_aliases": ["#somewhere:example.org", "#myroom:example.com"]},
        "event_id": "$143273582443PhrSn:example.org", "origin_server_ts": 1432735824653,
        "room_id": "!jEsUZKDJdhlrceRyVU:example.org", "sender": "@example:example.org", "state_key": "",
        "type": "m.room.canonical_alias", "unsigned": {"age": 1234},
    }
    assert counts_as_notification(aliases("#myroom:example.com"), canonical_alias, context())
    assert not counts_as_notification(aliases(":example.com"), canonical_alias, context())


def test_event_property_contains_ignores_compound_items_and_is_type_sensitive() -> None:
    ruleset = PushRuleset(override=(PushRule("t", False, True, (EventPropertyContains("content.xs", 1),), ("notify",)),))
    assert counts_as_notification(ruleset, event(content={"xs": [[1], {"a": 1}, 1]}), context())
    assert not counts_as_notification(ruleset, event(content={"xs": [True, "1", 1.0, [1]]}), context())
    assert not counts_as_notification(ruleset, event(content={"xs": 1}), context())


def test_mentions_md_example_highlights_alice() -> None:
    content = {
        "body": "Hello Alice!",
        "msgtype": "m.text",
        "format": "org.matrix.custom.html",
        "formatted_body": "Hello <a href='https://matrix.to/#/@alice:example.org'>Alice</a>!",
        "m.mentions": {"user_ids": ["@alice:example.org"]},
    }
    alice = PushContext("@alice:example.org", display_name="Alice", member_count=5)
    ev = event(content=content, sender=BOB)
    assert evaluate(default_ruleset("@alice:example.org"), ev, alice).rule_id == ".m.rule.is_user_mention"
    assert is_highlight(default_ruleset("@alice:example.org"), ev, alice)
    assert not is_highlight(DEFAULTS, ev, context())


def test_push_md_api_examples() -> None:
    """The push.md "Examples": suppress a room, suppress a sender, a 'cake' content rule
    with its own sound, 'cake*lie' put before it, and a 'beer' override for rooms of 10
    members or fewer."""
    data = account_data(
        override=[rule("U2VlIHlvdSBpbiBUaGUgRHVrZQ", ["notify", {"set_tweak": "sound", "value": "beeroclock.wav"}], [
            {"kind": "event_match", "key": "content.body", "pattern": "beer"},
            {"kind": "room_member_count", "is": "<=10"},
        ])],
        content=[
            rule("U3BvbmdlIGNha2UgaXMgYmVzdA", ["notify"], pattern="cake*lie"),
            rule("SSByZWFsbHkgbGlrZSBjYWtl", ["notify", {"set_tweak": "sound", "value": "cakealarm.wav"}], pattern="cake"),
        ],
        room=[rule("!dj234r78wl45Gh4D:matrix.org", [])],
        sender=[rule("@spambot:matrix.org", [])],
    )
    ruleset = ruleset_from_account_data(data, ME)
    assert decide(text("I like cake")) == NOTIFY
    assert decide(text("I like cake"), ruleset).sound == "cakealarm.wav"
    assert decide(text("the cake is a lie"), ruleset) == PushOutcome(True, False, None, "U3BvbmdlIGNha2UgaXMgYmVzdA")
    assert decide(text("beer?"), ruleset, members=10).sound == "beeroclock.wav"
    assert decide(text("beer?"), ruleset, members=11) == NOTIFY
    suppressed_room = evaluate(ruleset, text("hi"), PushContext(ME, member_count=2, room_id="!dj234r78wl45Gh4D:matrix.org"))
    assert suppressed_room == PushOutcome(False, False, None, "!dj234r78wl45Gh4D:matrix.org")
    assert decide(text("buy now", sender="@spambot:matrix.org"), ruleset, members=2).rule_id == "@spambot:matrix.org"


def test_a_room_rule_falls_back_to_the_events_own_room_id() -> None:
    ruleset = parse_push_rules(account_data(room=[rule(ROOM, [])]))
    assert evaluate(ruleset, text(room_id=ROOM), PushContext(ME)).rule_id == ROOM
    assert evaluate(ruleset, text(room_id="!other:test"), PushContext(ME)) == NO_MATCH


def test_pushrules_yaml_get_example_rule() -> None:
    data = account_data(content=[{"actions": [], "pattern": "cake*lie", "rule_id": "nocake", "enabled": True,
                                  "default": False}])
    ruleset = ruleset_from_account_data(data, ME)
    assert ruleset.content == (PushRule("nocake", False, True, (), (), "cake*lie"),)
    assert decide(text("Cake, all lies? No: cake... a LIE"), ruleset) == PushOutcome(False, False, None, "nocake")


def test_push_ruleset_yaml_example_parses_and_runs_in_its_own_order() -> None:
    """push_ruleset.yaml's example is older than push.md's definitions (is_user_mention
    among the underrides, highlight false spelled out); it is honoured as sent."""
    example = {
        "override": [
            {"actions": [], "conditions": [], "default": True, "enabled": False, "rule_id": ".m.rule.master"},
            {"actions": [], "conditions": [{"key": "content.msgtype", "kind": "event_match", "pattern": "m.notice"}],
             "default": True, "enabled": True, "rule_id": ".m.rule.suppress_notices"},
        ],
        "room": [],
        "sender": [],
        "underride": [
            {"actions": ["notify", {"set_tweak": "sound", "value": "ring"}, {"set_tweak": "highlight", "value": False}],
             "conditions": [{"key": "type", "kind": "event_match", "pattern": "m.call.invite"}],
             "default": True, "enabled": True, "rule_id": ".m.rule.call"},
            {"actions": ["notify", {"set_tweak": "sound", "value": "default"}, {"set_tweak": "highlight"}],
             "conditions": [{"kind": "event_property_contains", "key": "content.m\\.mentions.user_ids",
                             "value": "@alice:example.com"}],
             "default": True, "enabled": True, "rule_id": ".m.rule.is_user_mention"},
            {"actions": ["notify", {"set_tweak": "sound", "value": "default"}, {"set_tweak": "highlight", "value": False}],
             "conditions": [{"kind": "room_member_count", "is": "2"},
                            {"kind": "event_match", "key": "type", "pattern": "m.room.message"}],
             "default": True, "enabled": True, "rule_id": ".m.rule.room_one_to_one"},
            {"actions": ["notify", {"set_tweak": "highlight", "value": False}],
             "conditions": [{"key": "type", "kind": "event_match", "pattern": "m.room.message"}],
             "default": True, "enabled": True, "rule_id": ".m.rule.message"},
        ],
    }
    ruleset = parse_push_rules({"global": example})
    assert [r.rule_id for _, r in ruleset] == [
        ".m.rule.master", ".m.rule.suppress_notices", ".m.rule.call", ".m.rule.is_user_mention",
        ".m.rule.room_one_to_one", ".m.rule.message",
    ]
    assert ruleset.underride[0].actions == ("notify", SetTweak("sound", "ring"), SetTweak("highlight", False))
    alice = PushContext("@alice:example.com", member_count=2)
    assert evaluate(ruleset, event("m.call.invite"), alice) == PushOutcome(True, False, "ring", ".m.rule.call")
    mention = text("hi", **{"m.mentions": {"user_ids": ["@alice:example.com"]}})
    assert evaluate(ruleset, mention, alice) == PushOutcome(True, True, "default", ".m.rule.is_user_mention")
    assert evaluate(ruleset, text(), alice).rule_id == ".m.rule.room_one_to_one"


def test_appendix_property_path_examples() -> None:
    """"content.m\\.relates_to" is m.relates_to in content; a content property named
    m\\foo is "content.m\\\\foo"; "a \\x would be treated as a literal backslash
    followed by 'x'"."""
    assert split_property_path("content.m\\.relates_to") == ("content", "m.relates_to")
    assert split_property_path("content.m\\\\foo") == ("content", "m\\foo")
    assert split_property_path("content.m\\xfoo") == ("content", "m\\xfoo")
    assert split_property_path("content.body") == ("content", "body")
    assert split_property_path("a\\") == ("a\\",)
    assert split_property_path("a\\\\.b") == ("a\\", "b")
    assert join_property_path(["content", "m.relates_to"]) == "content.m\\.relates_to"
    assert join_property_path(["content", "m\\foo"]) == "content.m\\\\foo"


def test_content_body_is_special_only_as_that_exact_path() -> None:
    """A top-level property literally named "content.body" is matched whole."""
    whole = PushRuleset(override=(PushRule("t", False, True, (EventMatch("content\\.body", "cake"),), ("notify",)),))
    assert counts_as_notification(whole, {"content.body": "cake", "sender": ALICE}, context())
    assert not counts_as_notification(whole, {"content.body": "a cake", "sender": ALICE}, context())
    assert not counts_as_notification(whole, text("cake"), context())


# --- actions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("actions", "expected"),
    [
        (["notify"], (True, False, None)),
        ([], (False, False, None)),
        (["dont_notify"], (False, False, None)),
        (["coalesce"], (False, False, None)),
        (["notify", {"set_tweak": "highlight"}], (True, True, None)),
        (["notify", {"set_tweak": "highlight", "value": True}], (True, True, None)),
        (["notify", {"set_tweak": "highlight", "value": False}], (True, False, None)),
        (["notify", {"set_tweak": "highlight", "value": "yes"}], (True, False, None)),
        (["notify", {"set_tweak": "highlight", "value": None}], (True, False, None)),
        ([{"set_tweak": "highlight"}, {"set_tweak": "sound", "value": "default"}], (False, False, None)),
        (["notify", {"set_tweak": "sound", "value": 5}], (True, False, None)),
        (["notify", {"set_tweak": "sound", "value": "a"}, {"set_tweak": "sound", "value": "b"}], (True, False, "b")),
        (["org.example.unknown", {"org.example.other": 1}, 7, None, "notify"], (True, False, None)),
        ([{"set_tweak": "org.example.light", "value": {"colour": "red"}}, "notify"], (True, False, None)),
    ],
)
def test_actions(actions: list, expected: tuple) -> None:
    ruleset = parse_push_rules(account_data(override=[rule("r", actions, [])]))
    assert decide(text(), ruleset) == PushOutcome(*expected, "r")


def test_a_rule_with_only_unknown_actions_still_decides() -> None:
    ruleset = ruleset_from_account_data(account_data(override=[rule("quiet", ["org.example.unknown"], [])]), ME)
    assert decide(text(), ruleset, members=2) == PushOutcome(False, False, None, "quiet")


# --- parsing ------------------------------------------------------------------------------


def test_malformed_rules_are_skipped_and_the_rest_kept() -> None:
    good = rule("good", ["notify"], [])
    data = account_data(
        override=[
            "not a rule", None, 3, [good],
            {"rule_id": 5, "enabled": True, "actions": []},
            {"rule_id": "no-enabled", "actions": []},
            {"rule_id": "enabled-string", "enabled": "true", "actions": []},
            {"rule_id": "no-actions", "enabled": True},
            {"rule_id": "actions-dict", "enabled": True, "actions": {"notify": True}},
            {"rule_id": "conditions-dict", "enabled": True, "actions": [], "conditions": {}},
            {"rule_id": "x" * 5000, "enabled": True, "actions": []},
            {"rule_id": "many-conditions", "enabled": True, "actions": [], "conditions": [{"kind": "x"}] * 1000},
            good,
        ],
        content=[rule("no-pattern", ["notify"]), rule("pattern-int", ["notify"], pattern=3)],
    )
    ruleset = parse_push_rules(data)
    assert [r.rule_id for _, r in ruleset] == ["good"]


def test_missing_conditions_always_match_and_default_is_informational() -> None:
    ruleset = parse_push_rules(account_data(override=[{"rule_id": "all", "enabled": True, "actions": ["notify"]}]))
    assert ruleset.override == (PushRule("all", False, True, (), ("notify",)),)
    assert decide(event("m.anything"), ruleset).rule_id == "all"


@pytest.mark.parametrize(
    "condition",
    [
        {"kind": "org.example.future"},
        {"kind": "event_match", "key": "type"},
        {"kind": "event_match", "pattern": "*"},
        {"kind": "event_match", "key": 1, "pattern": "*"},
        {"kind": "event_property_is", "key": "type"},
        {"kind": "event_property_is", "key": "content.n", "value": 1.5},
        {"kind": "event_property_is", "key": "content.n", "value": 2**53},
        {"kind": "event_property_is", "key": "content.n", "value": [1]},
        {"kind": "event_property_contains", "key": "content.n", "value": {"a": 1}},
        {"kind": "room_member_count", "is": "two"},
        {"kind": "room_member_count", "is": "2\n"},
        {"kind": "room_member_count", "is": " 2"},
        {"kind": "room_member_count", "is": "=2"},
        {"kind": "room_member_count", "is": 2},
        {"kind": "sender_notification_permission"},
        {"kind": None},
        "event_match",
        {"kind": "event_match", "key": "type", "pattern": "*" * 5000},
    ],
)
def test_an_unusable_condition_never_matches(condition: object) -> None:
    parsed = parse_condition(condition)
    assert isinstance(parsed, UnrecognisedCondition)
    ruleset = parse_push_rules(account_data(override=[rule("never", ["notify"], [condition])]))
    everything = text(n=1, **{"m.mentions": {}})
    assert decide(everything, ruleset, members=2, power=100) == NO_MATCH


@pytest.mark.parametrize(
    ("spec", "members", "expected"),
    [("2", 2, True), ("2", 3, False), ("==2", 2, True), ("<2", 1, True), ("<2", 2, False), (">2", 3, True),
     (">2", 2, False), ("<=10", 10, True), ("<=10", 11, False), (">=3", 3, True), (">=3", 2, False), ("0", 0, True)],
)
def test_room_member_count(spec: str, members: int, expected: bool) -> None:
    ruleset = parse_push_rules(account_data(override=[rule("c", ["notify"], [{"kind": "room_member_count", "is": spec}])]))
    assert counts_as_notification(ruleset, text(), context(members=members)) is expected


def test_room_member_count_parses_the_operator() -> None:
    assert parse_condition({"kind": "room_member_count", "is": "<=10"}) == RoomMemberCount("<=", 10)
    assert parse_condition({"kind": "room_member_count", "is": "2"}) == RoomMemberCount("==", 2)


def test_property_is_conditions_compare_types_as_matching_does() -> None:
    assert EventPropertyIs("k", True) != EventPropertyIs("k", 1)
    assert EventPropertyIs("k", 1) == parse_condition({"kind": "event_property_is", "key": "k", "value": 1})
    assert hash(EventPropertyIs("k", None)) == hash(EventPropertyIs("k", None))


@pytest.mark.serial
def test_huge_lists_are_cut_at_the_cap_quickly() -> None:
    junk = [rule(f"r{i}", ["notify"], [{"kind": "event_match", "key": "type", "pattern": f"t{i}"}]) for i in range(20_000)]
    started = time.perf_counter()
    ruleset = parse_push_rules(account_data(override=junk, room=[rule(f"!r{i}:t", []) for i in range(20_000)]))
    assert len(ruleset.override) == len(ruleset.room) == MAX_RULES_PER_KIND
    assert time.perf_counter() - started < 10


def test_a_repeated_rule_id_keeps_the_first() -> None:
    ruleset = parse_push_rules(account_data(room=[rule(ROOM, [], enabled=False), rule(ROOM, ["notify"])]))
    assert ruleset.room == (PushRule(ROOM, False, False),)
    assert decide(text(), ruleset) == NO_MATCH


@pytest.mark.parametrize("content", [None, [], "x", {}, {"global": []}, {"global": {"override": {}}}, {"device": {}}])
def test_no_usable_account_data_is_an_empty_ruleset_and_merges_to_the_defaults(content: object) -> None:
    assert parse_push_rules(content) == PushRuleset()
    assert ruleset_from_account_data(content, ME) == DEFAULTS


@pytest.mark.serial
def test_a_hostile_pattern_stays_fast_on_a_long_body() -> None:
    pattern = "*a" * 200 + "*b"
    ruleset = ruleset_from_account_data(account_data(content=[rule("slow?", ["notify"], pattern=pattern)]), ME)
    started = time.perf_counter()
    assert decide(text("a " * 20_000), ruleset) == NOTIFY
    assert not glob_matches(pattern, "a" * 20_000)
    assert time.perf_counter() - started < 2


# --- merging with the predefined rules ---------------------------------------------------


def server_rules(**changes: list) -> dict:
    """What a v1.17 server sends: the defaults, with per-kind changes."""
    rules = default_rules_json(ME)
    rules.update(changes)
    return {"global": rules}


def test_a_full_server_ruleset_merges_to_itself() -> None:
    assert ruleset_from_account_data(server_rules(), ME) == DEFAULTS
    assert merged_ruleset(DEFAULTS, ME) == DEFAULTS


def test_user_overrides_come_first_and_win() -> None:
    mute_room = rule(ROOM, ["dont_notify"], [{"kind": "event_match", "key": "room_id", "pattern": ROOM}])
    data = server_rules(override=default_rules_json(ME)["override"] + [mute_room])
    ruleset = ruleset_from_account_data(data, ME)
    assert [r.rule_id for r in ruleset.override][:2] == [".m.rule.master", ROOM]
    mention = text("hi", room_id=ROOM, **{"m.mentions": {"user_ids": [ME]}})
    assert evaluate(ruleset, mention, PushContext(ME, member_count=2)) == PushOutcome(False, False, None, ROOM)


def test_a_users_change_to_a_default_rule_is_kept() -> None:
    underride = default_rules_json(ME)["underride"]
    for raw in underride:
        if raw["rule_id"] == ".m.rule.message":
            raw["enabled"] = False
        if raw["rule_id"] == ".m.rule.room_one_to_one":
            raw["actions"] = ["notify"]
    ruleset = ruleset_from_account_data(server_rules(underride=underride), ME)
    assert decide(text(), ruleset, members=5) == NO_MATCH
    assert decide(text(), ruleset, members=2) == PushOutcome(True, False, None, ".m.rule.room_one_to_one")
    assert [r.rule_id for r in ruleset.underride] == [r.rule_id for r in DEFAULTS.underride]


def test_a_missing_default_is_filled_in_at_its_place() -> None:
    override = [r for r in default_rules_json(ME)["override"]
                if r["rule_id"] not in (".m.rule.suppress_edits", ".m.rule.is_room_mention", ".m.rule.master")]
    underride = [r for r in default_rules_json(ME)["underride"] if r["rule_id"] != ".m.rule.call"]
    extra = rule(".org.example.rule.jitsi", [], [{"kind": "event_match", "key": "type", "pattern": "im.vector.*"}])
    override.insert(3, extra)
    ruleset = ruleset_from_account_data(server_rules(override=override, underride=underride), ME)
    assert [r.rule_id for r in ruleset.override] == [
        ".m.rule.master", ".m.rule.suppress_notices", ".m.rule.invite_for_me", ".m.rule.member_event",
        ".org.example.rule.jitsi", ".m.rule.is_user_mention", ".m.rule.is_room_mention", ".m.rule.tombstone",
        ".m.rule.reaction", ".m.rule.room.server_acl", ".m.rule.suppress_edits",
    ]
    assert [r.rule_id for r in ruleset.underride] == [r.rule_id for r in DEFAULTS.underride]
    edit = text("* x", **{"m.relates_to": {"rel_type": "m.replace", "event_id": "$x"}})
    assert decide(edit, ruleset, members=2).rule_id == ".m.rule.suppress_edits"
    assert decide(event("m.call.invite"), ruleset).sound == "ring"


def test_user_rules_sent_after_server_defaults_are_put_before_them() -> None:
    data = account_data(underride=[
        rule(".m.rule.message", ["notify"], [{"kind": "event_match", "key": "type", "pattern": "m.room.message"}]),
        rule("mine", ["notify", {"set_tweak": "highlight"}], [{"kind": "event_match", "key": "type", "pattern": "m.room.message"}]),
    ])
    ruleset = ruleset_from_account_data(data, ME)
    assert ruleset.underride[0].rule_id == "mine"
    assert decide(text(), ruleset).highlight


def test_the_merge_does_not_add_the_removed_legacy_rules() -> None:
    ids = {r.rule_id for _, r in ruleset_from_account_data(account_data(), ME)}
    assert not ids & {".m.rule.contains_display_name", ".m.rule.roomnotif", ".m.rule.contains_user_name"}
    assert ".m.rule.contains_display_name" in {r.rule_id for _, r in LEGACY_RULES}


# --- glob matching against fnmatch (appendices.md "Glob-style matching") ------------------

PATTERN_CHARS = "aAbB.-_ *?[]\\\né"
VALUE_CHARS = "aAbB.-_ []\\\né"


def reference_glob(pattern: str, value: str) -> bool:
    """``*`` any run, ``?`` one character, the rest literal, case-insensitive: fnmatch
    with its one other special character, ``[``, made literal."""
    return fnmatch.fnmatchcase(value.lower(), pattern.lower().replace("[", "[[]"))


def is_word_char(ch: str) -> bool:
    return ch.isascii() and (ch.isalnum() or ch == "_")


def reference_body_glob(pattern: str, value: str) -> bool:
    """Any substring that starts and ends at a word boundary: the start or end of the
    value, or next to a character not in [A-Za-z0-9_]."""
    starts = [i for i in range(len(value) + 1) if i == 0 or not is_word_char(value[i - 1])]
    ends = [j for j in range(len(value) + 1) if j == len(value) or not is_word_char(value[j])]
    return any(reference_glob(pattern, value[i:j]) for i in starts for j in ends if i <= j)


@st.composite
def pattern_and_value(draw) -> tuple[str, str]:
    pattern = draw(st.text(PATTERN_CHARS, max_size=8))
    if draw(st.booleans()):
        return pattern, draw(st.text(VALUE_CHARS, max_size=12))
    # A value built from the pattern, so that matches are common.
    filled = "".join(
        draw(st.text(VALUE_CHARS, max_size=3)) if ch == "*" else draw(st.sampled_from(VALUE_CHARS)) if ch == "?" else ch
        for ch in pattern
    )
    return pattern, draw(st.text(VALUE_CHARS, max_size=3)) + filled + draw(st.text(VALUE_CHARS, max_size=3))


@given(pattern_and_value())
@settings(max_examples=400)
def test_glob_matches_the_whole_value_as_fnmatch_does(case: tuple[str, str]) -> None:
    pattern, value = case
    assert glob_matches(pattern, value) == reference_glob(pattern, value)


@given(pattern_and_value())
@settings(max_examples=400)
def test_content_body_globs_match_between_word_boundaries(case: tuple[str, str]) -> None:
    pattern, value = case
    assert glob_matches(pattern, value, word_boundary=True) == reference_body_glob(pattern, value)


def test_glob_edges() -> None:
    assert glob_matches("", "") and not glob_matches("", "a")
    assert glob_matches("*", "") and glob_matches("*", "line\nbreak")
    assert glob_matches("a?c", "a\nc")
    assert glob_matches("m.room.*", "M.ROOM.message") and not glob_matches("m.room.*", "mxroom.message")
    assert not glob_matches("cake", "cakes", word_boundary=True)
    assert glob_matches("cake", "café cake!", word_boundary=True)
    assert glob_matches("caf", "café", word_boundary=True)  # é is not in [A-Za-z0-9_]
    # The boundary classes stay ASCII under case-insensitivity: the Kelvin sign, which
    # folds to "k", is still a boundary.
    assert glob_matches("a", "\u212aa", word_boundary=True)


# --- property paths -------------------------------------------------------------------------


@given(st.lists(st.text("a.\\x", max_size=5), min_size=1, max_size=4))
def test_property_paths_round_trip(names: list[str]) -> None:
    assert split_property_path(join_property_path(names)) == tuple(names)


@given(st.lists(st.text("ab.\\x", min_size=1, max_size=5), min_size=1, max_size=4), st.text(max_size=5))
def test_an_escaped_path_reaches_its_property(names: list[str], leaf: str) -> None:
    nested: object = leaf
    for name in reversed(names):
        nested = {name: nested}
    condition = EventPropertyIs(join_property_path(names), leaf)
    ruleset = PushRuleset(override=(PushRule("p", False, True, (condition,), ("notify",)),))
    assert counts_as_notification(ruleset, nested, context())  # type: ignore[arg-type]


# --- the evaluator against a brute-force reference ------------------------------------------

KEYS = [
    ("type", ("type",)),
    ("content.msgtype", ("content", "msgtype")),
    ("content.body", ("content", "body")),
    ("content.m\\.mentions.room", ("content", "m.mentions", "room")),
    ("content.m\\.mentions.user_ids", ("content", "m.mentions", "user_ids")),
    ("content.m\\.relates_to.rel_type", ("content", "m.relates_to", "rel_type")),
    ("state_key", ("state_key",)),
]
PATHS = dict(KEYS)
SCALARS = [True, False, 0, 1, 2, None, "m.text", "m.replace", ME, ""]
GLOBS = ["*", "m.*", "m.room.?essage", "m.text", "hi", "h*", "*o", "?", "", "@me:test", "M.ROOM.*"]
ACTIONS = [[], ["notify"], ["notify", {"set_tweak": "highlight"}], ["dont_notify"],
           ["notify", {"set_tweak": "sound", "value": "s"}, {"set_tweak": "highlight", "value": False}]]

conditions = st.one_of(
    st.builds(lambda k, p: {"kind": "event_match", "key": k, "pattern": p}, st.sampled_from(list(PATHS)), st.sampled_from(GLOBS)),
    st.builds(lambda k, v: {"kind": "event_property_is", "key": k, "value": v}, st.sampled_from(list(PATHS)), st.sampled_from(SCALARS)),
    st.builds(lambda k, v: {"kind": "event_property_contains", "key": k, "value": v}, st.sampled_from(list(PATHS)), st.sampled_from(SCALARS)),
    st.builds(lambda op, n: {"kind": "room_member_count", "is": f"{op}{n}"}, st.sampled_from(["", "==", "<", ">", "<=", ">="]), st.integers(0, 4)),
    st.builds(lambda k: {"kind": "sender_notification_permission", "key": k}, st.sampled_from(["room", "other"])),
    st.just({"kind": "contains_display_name"}),
    st.just({"kind": "org.example.unknown"}),
)


def rules_of(kind: str):
    ids = {
        "room": st.sampled_from([ROOM, "!other:test"]),
        "sender": st.sampled_from([ALICE, BOB, ME]),
    }.get(kind, st.sampled_from([f"{kind}{i}" for i in range(8)] + [".m.rule.contains_display_name"]))
    extra = {"content": {"pattern": st.sampled_from(GLOBS)}, "override": {"conditions": st.lists(conditions, max_size=3)},
             "underride": {"conditions": st.lists(conditions, max_size=3)}}.get(kind, {})
    one = st.fixed_dictionaries({"rule_id": ids, "default": st.booleans(), "enabled": st.booleans(),
                                 "actions": st.sampled_from(ACTIONS), **extra})
    return st.lists(one, max_size=5, unique_by=lambda r: r["rule_id"])


rulesets = st.fixed_dictionaries({kind: rules_of(kind) for kind in ("override", "content", "room", "sender", "underride")})

events = st.builds(
    lambda type_, msgtype, body, mentions, relates, sender, state_key: {
        "type": type_, "sender": sender, "room_id": ROOM,
        "content": {k: v for k, v in (("msgtype", msgtype), ("body", body), ("m.mentions", mentions), ("m.relates_to", relates)) if v is not ...},
        **({} if state_key is ... else {"state_key": state_key}),
    },
    st.sampled_from(["m.room.message", "m.room.encrypted", "m.room.member", "m.reaction", "m.room.tombstone", "M.Room.Message", 1, None]),
    st.sampled_from([..., "m.text", "m.notice", 1]),
    st.sampled_from([..., "hi", "oh hi there", "Al said hi", "h", None]),
    st.sampled_from([..., {}, {"room": True}, {"room": 1}, {"user_ids": [ME]}, {"user_ids": [ALICE, 1, None]}]),
    st.sampled_from([..., {"rel_type": "m.replace"}, {"rel_type": "m.thread"}]),
    st.sampled_from([ALICE, BOB, ME]),
    st.sampled_from([..., "", ME, None]),
)

contexts = st.builds(
    lambda members, power, levels, name: PushContext(ME, name, members, power, levels, ROOM),
    st.sampled_from([None, 0, 1, 2, 3, 4]),
    st.integers(0, 100),
    st.sampled_from([{}, {"room": 0}, {"room": 100}, {"other": 10}]),
    st.sampled_from([None, "", "Al", "hi"]),
)


def reference_lookup(ev: dict, path: tuple[str, ...]) -> tuple[bool, object]:
    node: object = ev
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    return True, node


def same_scalar(a: object, b: object) -> bool:
    return type(a) is type(b) and a == b


def reference_condition(condition: dict, ev: dict, ctx: PushContext) -> bool:
    kind = condition["kind"]
    if kind == "event_match":
        found, value = reference_lookup(ev, PATHS[condition["key"]])
        if not found or not isinstance(value, str):
            return False
        if condition["key"] == "content.body":
            return reference_body_glob(condition["pattern"], value)
        return reference_glob(condition["pattern"], value)
    if kind == "event_property_is":
        found, value = reference_lookup(ev, PATHS[condition["key"]])
        return found and same_scalar(value, condition["value"])
    if kind == "event_property_contains":
        found, value = reference_lookup(ev, PATHS[condition["key"]])
        return found and isinstance(value, list) and any(same_scalar(v, condition["value"]) for v in value)
    if kind == "room_member_count":
        spec = condition["is"]
        op = next((o for o in ("==", "<=", ">=", "<", ">") if spec.startswith(o)), "==")
        n = int(spec[len(op):] if spec.startswith(op) else spec)
        m = ctx.member_count
        return m is not None and {"==": m == n, "<": m < n, ">": m > n, "<=": m <= n, ">=": m >= n}[op]
    if kind == "sender_notification_permission":
        return ctx.sender_power_level >= ctx.notification_power_levels.get(condition["key"], 50)
    if kind == "contains_display_name":
        body = ev.get("content", {}).get("body")
        name = ctx.display_name
        return bool(name) and isinstance(body, str) and reference_body_glob(name, body)  # names here have no * or ?
    return False


def reference_rule_matches(kind: str, raw: dict, ev: dict, ctx: PushContext) -> bool:
    if not raw["enabled"]:
        return False
    if raw["rule_id"] == ".m.rule.contains_display_name" and "m.mentions" in ev.get("content", {}):
        return False
    if kind == "room":
        return raw["rule_id"] == ev.get("room_id")
    if kind == "sender":
        return raw["rule_id"] == ev["sender"]
    if kind == "content":
        body = ev.get("content", {}).get("body")
        return isinstance(body, str) and reference_body_glob(raw["pattern"], body)
    return all(reference_condition(c, ev, ctx) for c in raw.get("conditions", []))


def reference_evaluate(data: dict, ev: dict, ctx: PushContext) -> PushOutcome:
    """push.md read literally: kinds in order, rules in order, the first enabled rule
    whose conditions all hold decides; my own events never notify."""
    if ev["sender"] == ctx.user_id:
        return NO_MATCH
    for kind in ("override", "content", "room", "sender", "underride"):
        for raw in data[kind]:
            if reference_rule_matches(kind, raw, ev, ctx):
                actions = raw["actions"]
                notify = "notify" in actions
                tweaks = {a["set_tweak"]: a.get("value", True if a["set_tweak"] == "highlight" else None)
                          for a in actions if isinstance(a, dict)}
                highlight = notify and tweaks.get("highlight") is True
                return PushOutcome(notify, highlight, tweaks.get("sound") if notify else None, raw["rule_id"])
    return NO_MATCH


@given(rulesets, events, contexts)
@settings(max_examples=500)
def test_the_first_matching_enabled_rule_decides(data: dict, ev: dict, ctx: PushContext) -> None:
    ruleset = parse_push_rules({"global": data})
    assert evaluate(ruleset, ev, ctx) == reference_evaluate(data, ev, ctx)


@given(rulesets, st.lists(events, min_size=1, max_size=12), contexts)
@settings(max_examples=200)
def test_one_ruleset_judges_a_stream_of_events_as_the_reference_does(data: dict, stream: list, ctx: PushContext) -> None:
    """The evaluator keeps, per event type, the rules whose type conditions hold: the
    verdicts of a ruleset that has seen other types before stay the reference's."""
    ruleset = parse_push_rules({"global": data})
    for ev in stream + stream:
        assert evaluate(ruleset, ev, ctx) == reference_evaluate(data, ev, ctx)
    # The spec's defaults name a type in most rules: kept warm, each verdict is that of
    # rules that never saw an event before.
    warm = parse_ruleset(default_rules_json(ME))
    for ev in stream + stream:
        assert evaluate(warm, ev, ctx) == evaluate(parse_ruleset(default_rules_json(ME)), ev, ctx)


def test_past_the_types_it_keeps_the_evaluator_still_judges_each_type() -> None:
    data = {"override": [], "content": [], "room": [], "sender": [], "underride": [
        {"rule_id": f"t{i}", "default": False, "enabled": True, "actions": ["notify"],
         "conditions": [{"kind": "event_match", "key": "type", "pattern": f"org.example.t{i}"}]}
        for i in range(300)
    ]}
    ruleset = parse_push_rules({"global": data})
    context = PushContext(ME, None, 3, 0, {}, ROOM)
    for _ in range(2):
        for i in range(300):
            ev = {"type": f"org.example.t{i}", "sender": ALICE, "content": {}}
            assert evaluate(ruleset, ev, context).rule_id == f"t{i}"
        assert evaluate(ruleset, {"type": "org.example.none", "sender": ALICE, "content": {}}, context) == NO_MATCH


@given(rulesets, events, contexts)
def test_disabled_rules_never_match(data: dict, ev: dict, ctx: PushContext) -> None:
    decided = evaluate(parse_push_rules({"global": data}), ev, ctx).rule_id
    disabled = {(r["rule_id"]) for kind in data.values() for r in kind if not r["enabled"]}
    enabled = {(r["rule_id"]) for kind in data.values() for r in kind if r["enabled"]}
    assert decided is None or decided not in disabled - enabled
    for kind in data.values():
        for raw in kind:
            raw["enabled"] = False
    assert evaluate(parse_push_rules({"global": data}), ev, ctx) == NO_MATCH


@given(rulesets, events, contexts, st.sampled_from([{"kind": "org.example.unknown"}, {"kind": "event_match"}, {}, "x"]))
def test_a_rule_with_an_unknown_condition_never_matches(data: dict, ev: dict, ctx: PushContext, unknown: object) -> None:
    for kind in ("override", "underride"):
        for raw in data[kind]:
            raw["conditions"] = [*raw["conditions"], unknown]
    assert evaluate(parse_push_rules({"global": data}), ev, ctx).rule_id not in {
        raw["rule_id"] for kind in ("override", "underride") for raw in data[kind]
    } - {raw["rule_id"] for kind in ("content", "room", "sender") for raw in data[kind]}


# --- hostile input never raises ----------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=30,
)
FIELD_NAMES = ["rule_id", "enabled", "default", "actions", "conditions", "pattern", "kind", "key", "value", "is",
               "set_tweak", "global", "override", "content", "room", "sender", "underride"]
wire_like = st.recursive(
    json_values | st.sampled_from(["notify", "event_match", "room_member_count", "contains_display_name", "*", "<=2"]),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.sampled_from(FIELD_NAMES), children, max_size=6),
    max_leaves=60,
)


@given(st.one_of(json_values, wire_like, st.builds(lambda g: {"global": g}, wire_like)), json_values | wire_like)
@settings(max_examples=400)
def test_parsing_and_evaluating_junk_never_raises(content: object, junk_event: object) -> None:
    ruleset = ruleset_from_account_data(content, ME)
    assert isinstance(ruleset, PushRuleset)
    for ev in (junk_event, {"type": "m.room.message", "sender": ALICE, "content": junk_event}):
        outcome = evaluate(ruleset, ev, PushContext(ME, "x", 2, 0, {"room": "50"}))  # type: ignore[arg-type, dict-item]
        assert isinstance(outcome, PushOutcome)


# --- cost ---------------------------------------------------------------------------------------


@pytest.mark.serial
def test_evaluating_a_plain_message_costs_microseconds() -> None:
    """A regression guard with a wide margin (it takes a few microseconds): counting
    runs on every event of every sync."""
    ev, ctx = text("hello there, how are you?"), context(members=10)
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(2_000):
            evaluate(DEFAULTS, ev, ctx)
        best = min(best, (time.perf_counter() - started) / 2_000)
    assert best < 250e-6
