"""TimelineEvent itself: a frozen, slotted dataclass whose hand-written ``__init__``
(faster than the generated one) takes exactly its fields, in order, with their defaults."""

from __future__ import annotations

import dataclasses
import inspect
import pickle

import pytest

from app.model.events import Membership, MsgType, TimelineEvent, as_redacted

EVERY_FIELD = ("$e", "@a:b", 5, "m.room.member", "body", "m.thread", "$root", "@a:b", False, "$x", 3,
               MsgType.EMOTE, Membership.JOIN, "Alice", "🎂", '{"algorithm":"m.megolm.v1.aes-sha2"}', "no-key", 3)


def test_init_takes_the_fields_in_order_with_their_defaults() -> None:
    parameters = list(inspect.signature(TimelineEvent.__init__).parameters.values())[1:]
    fields = dataclasses.fields(TimelineEvent)
    assert [p.name for p in parameters] == [f.name for f in fields]
    assert all(p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD for p in parameters)
    assert [p.default for p in parameters] == [
        inspect.Parameter.empty if f.default is dataclasses.MISSING else f.default for f in fields
    ]


def test_every_field_is_set_from_its_own_argument() -> None:
    event = TimelineEvent(*EVERY_FIELD)
    assert dataclasses.astuple(event) == EVERY_FIELD
    by_keyword = TimelineEvent(**{f.name: value for f, value in zip(dataclasses.fields(TimelineEvent), EVERY_FIELD,
                                                                     strict=True)})
    assert by_keyword == event and hash(by_keyword) == hash(event)
    assert TimelineEvent("$e", "@a:b", 5, "m.room.message") == TimelineEvent(
        "$e", "@a:b", 5, "m.room.message", "", None, None, None, False, None, None, None, None, "", "", None, "", 0)


def test_an_event_is_frozen_slotted_and_copied_by_replace() -> None:
    event = TimelineEvent(*EVERY_FIELD)
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.body = "changed"  # type: ignore[misc]
    assert not hasattr(event, "__dict__")
    assert dataclasses.replace(event, body="new").body == "new"
    assert dataclasses.replace(event, body="new").key == "🎂"
    assert pickle.loads(pickle.dumps(event)) == event


def test_a_redacted_copy_keeps_its_place_and_loses_what_it_said() -> None:
    gone = as_redacted(TimelineEvent(*EVERY_FIELD))
    assert gone.redacted
    assert (gone.event_id, gone.sender, gone.ts, gone.type, gone.rel_type, gone.relates_to, gone.state_key) == (
        "$e", "@a:b", 5, "m.room.member", "m.thread", "$root", "@a:b")
    assert (gone.body, gone.msgtype, gone.membership, gone.member_name, gone.key) == ("", None, None, "", "")


def test_new_event_builds_the_same_frozen_event() -> None:
    from app.model.events import new_event

    parameters = list(inspect.signature(new_event.__init__).parameters)[1:]
    assert parameters == [f.name for f in dataclasses.fields(TimelineEvent)]
    event = new_event(*EVERY_FIELD)
    assert type(event) is TimelineEvent and isinstance(event, TimelineEvent)
    assert event == TimelineEvent(*EVERY_FIELD) and hash(event) == hash(TimelineEvent(*EVERY_FIELD))
    assert dataclasses.astuple(event) == EVERY_FIELD
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.body = "changed"  # type: ignore[misc]
    assert not hasattr(event, "__dict__")
    assert dataclasses.replace(event, body="new") == dataclasses.replace(TimelineEvent(*EVERY_FIELD), body="new")
    assert pickle.loads(pickle.dumps(event)) == event
    assert repr(event) == repr(TimelineEvent(*EVERY_FIELD))
