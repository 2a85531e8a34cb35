"""The words an event shows (app.model.event_text), from the facts the model keeps: each
msgtype, each membership change, room state, reactions, polls, stickers, encrypted and
redacted events, and the bound on one line."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.model.event_text import LINE_MAX_CHARS, event_text
from app.model.events import Membership, MsgType, TimelineEvent

ALICE = "@alice:test"


def message(msgtype: MsgType | None, body: str = "", **fields: object) -> TimelineEvent:
    return TimelineEvent("$m", ALICE, 1, "m.room.message", body, msgtype=msgtype, **fields)  # type: ignore[arg-type]


def state(etype: str, body: str = "", state_key: str = "", **fields: object) -> TimelineEvent:
    return TimelineEvent("$s", ALICE, 1, etype, body, state_key=state_key, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("msgtype", "body", "words"),
    [
        (MsgType.TEXT, "hello", "hello"),
        (MsgType.NOTICE, "a bot speaks", "a bot speaks"),
        (MsgType.OTHER, "custom", "custom"),
        (None, "built by hand", "built by hand"),
        (MsgType.TEXT, "", ""),
        (MsgType.IMAGE, "cat.png", "[image] cat.png"),
        (MsgType.FILE, "plan.pdf", "[file] plan.pdf"),
        (MsgType.AUDIO, "memo.ogg", "[audio] memo.ogg"),
        (MsgType.VIDEO, "clip.mp4", "[video] clip.mp4"),
        (MsgType.LOCATION, "Berlin", "[location] Berlin"),
        (MsgType.IMAGE, "", "[image]"),
        (MsgType.FILE, "", "[file]"),
        (MsgType.AUDIO, "", "[audio]"),
        (MsgType.VIDEO, "", "[video]"),
        (MsgType.LOCATION, "", "[location]"),
    ],
)
def test_each_msgtype_reads_as_its_label_and_body(msgtype: MsgType | None, body: str, words: str) -> None:
    assert event_text(message(msgtype, body)) == words


def test_an_emote_reads_as_its_senders_name_and_action() -> None:
    assert event_text(message(MsgType.EMOTE, "waves", member_name="Alice")) == "* Alice waves"
    assert event_text(message(MsgType.EMOTE, "", member_name="Alice")) == "* Alice "


@pytest.mark.parametrize(
    ("membership", "words"),
    [
        (Membership.JOIN, "Bob joined"),
        (Membership.LEAVE, "Bob left"),
        (Membership.INVITE, "Bob was invited"),
        (Membership.BAN, "Bob was banned"),
        (Membership.KNOCK, "Bob knocked"),
        (Membership.OTHER, "Bob changed membership"),
        (None, "Bob changed membership"),
    ],
)
def test_each_membership_change_reads_as_its_verb(membership: Membership | None, words: str) -> None:
    event = state("m.room.member", state_key="@bob:test", membership=membership, member_name="Bob")
    assert event_text(event) == words


@pytest.mark.parametrize(
    ("event", "words"),
    [
        (state("m.room.name", "Lab"), "[name] Lab"),
        (state("m.room.name"), "[name removed]"),
        (state("m.room.canonical_alias", "#lab:test"), "[alias] #lab:test"),
        (state("m.room.canonical_alias"), "[alias removed]"),
        (state("m.room.topic", "Deploys"), "[topic] Deploys"),
        (state("m.room.topic"), "[topic] "),
        (state("m.room.power_levels"), "[m.room.power_levels]"),
        (state("m.room.message", "a state event's body is not shown"), "[m.room.message]"),
        (state("org." + "x" * 200), "[org." + "x" * 114 + "…"),
    ],
)
def test_room_state_reads_as_its_new_value(event: TimelineEvent, words: str) -> None:
    assert event_text(event) == words


@pytest.mark.parametrize(
    ("event", "words"),
    [
        (TimelineEvent("$e", ALICE, 1, "m.room.encrypted"), "[encrypted]"),
        (TimelineEvent("$e", ALICE, 1, "m.sticker", "a cat"), "[sticker] a cat"),
        (TimelineEvent("$e", ALICE, 1, "m.sticker"), "[sticker]"),
        (TimelineEvent("$e", ALICE, 1, "m.poll.start", "Lunch?"), "[poll] Lunch?"),
        (TimelineEvent("$e", ALICE, 1, "org.matrix.msc3381.poll.start", "Tea?"), "[poll] Tea?"),
        (TimelineEvent("$e", ALICE, 1, "m.poll.start"), "[poll]"),
        (TimelineEvent("$e", ALICE, 1, "m.reaction", key="🎂"), "[reaction] 🎂"),
        (TimelineEvent("$e", ALICE, 1, "m.reaction"), "[reaction]"),
        (TimelineEvent("$e", ALICE, 1, "m.room.redaction", redacts="$x"), ""),
        (TimelineEvent("$e", ALICE, 1, "org.example.note", "a note"), "a note"),
        (TimelineEvent("$e", ALICE, 1, "org.example.bare"), ""),
    ],
)
def test_other_events_read_as_their_label_and_fact(event: TimelineEvent, words: str) -> None:
    assert event_text(event) == words


@pytest.mark.parametrize(
    "event",
    [
        message(MsgType.IMAGE, "cat.png", redacted=True),
        message(MsgType.EMOTE, "waves", member_name="Alice", redacted=True),
        state("m.room.member", state_key="@bob:test", membership=Membership.JOIN, member_name="Bob", redacted=True),
        state("m.room.name", redacted=True),
        TimelineEvent("$e", ALICE, 1, "m.room.encrypted", redacted=True),
        TimelineEvent("$e", ALICE, 1, "m.reaction", key="🎂", redacted=True),
    ],
)
def test_a_redacted_event_says_nothing(event: TimelineEvent) -> None:
    assert event_text(event) == ""


def test_long_lines_are_cut_to_one_bounded_line() -> None:
    words = event_text(message(MsgType.EMOTE, "w" * LINE_MAX_CHARS, member_name="Alice"))
    assert len(words) == LINE_MAX_CHARS and words.startswith("* Alice www") and words.endswith("w…")
    words = event_text(message(MsgType.IMAGE, "a  b " + "x" * LINE_MAX_CHARS))
    assert words.startswith("[image] a b xxx") and len(words) == LINE_MAX_CHARS  # folded once over the bound
    assert event_text(message(MsgType.IMAGE, "a  b")) == "[image] a  b"  # short and printable: as it is
    assert event_text(message(MsgType.TEXT, "x" * 1_000)) == "x" * 1_000  # a text is its body: the translation bounds it


_safe_line = st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=LINE_MAX_CHARS)


@given(
    msgtype=st.none() | st.sampled_from(list(MsgType)),
    body=_safe_line,
    name=st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=120),
)
def test_words_from_bounded_facts_never_exceed_one_line(msgtype: MsgType | None, body: str, name: str) -> None:
    for event in (
        message(msgtype, body, member_name=name),
        state("m.room.member", state_key="@bob:test", membership=Membership.JOIN, member_name=name),
        state("m.room.topic", body),
        TimelineEvent("$e", ALICE, 1, "m.sticker", body),
    ):
        assert len(event_text(event)) <= LINE_MAX_CHARS
