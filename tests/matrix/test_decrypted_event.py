"""``wire_events.decrypted_event`` builds a decrypted event without going through
``timeline_event`` again. Its definition is that round trip: the plaintext, under the
cleartext event's IDs, time and relation, read by ``timeline_event``, with the
ciphertext's bundled thread count, reaction key and ciphertext kept. The two must agree
on every plaintext, however odd."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from app.matrix.naming import RoomNaming
from app.matrix.wire import Tally
from app.matrix.wire_events import alerts, decrypted_event, timeline_event
from app.model.events import ENCRYPTED, TimelineEvent, Undecryptable
from app.model.room import RoomState

ME = "@me:example.org"
ROOT = "$root:example.org"


def reference(encrypted: TimelineEvent, plaintext: dict[str, Any], names: RoomNaming, alert: Any) -> TimelineEvent:
    """What ``decrypted_event`` did before it was made lean (commit 04ba254)."""
    content = plaintext.get("content")
    content = dict(content) if type(content) is dict else {}
    if encrypted.rel_type is not None:
        relation = content.get("m.relates_to")
        content["m.relates_to"] = {
            **(relation if type(relation) is dict else {}),
            "rel_type": encrypted.rel_type,
            "event_id": encrypted.relates_to,
        }
    elif type(content.get("m.relates_to")) is dict and content["m.relates_to"].get("rel_type") is not None:
        del content["m.relates_to"]
    raw = {
        "event_id": encrypted.event_id,
        "sender": encrypted.sender,
        "origin_server_ts": encrypted.ts,
        "type": plaintext.get("type"),
        "content": content,
    }
    event = timeline_event(raw, names, Tally(), alert)
    if event is None or event.state_key is not None or event.type == ENCRYPTED:
        return replace(encrypted, undecryptable=Undecryptable.BAD.value)
    return replace(
        event,
        thread_reply_count=encrypted.thread_reply_count,
        key=event.key or encrypted.key,
        ciphertext=encrypted.ciphertext,
    )


texts = st.one_of(st.text(max_size=30), st.sampled_from(["* fixed", "hi @me:example.org", "me", "", "\x1b[31m"]))
relations = st.one_of(
    st.none(),
    st.integers(),
    st.fixed_dictionaries(
        {},
        optional={
            "rel_type": st.one_of(st.sampled_from(["m.thread", "m.replace", "m.annotation", "m.reference"]), st.integers()),
            "event_id": st.one_of(st.just("$other:example.org"), st.just("bad id"), st.integers()),
            "key": st.one_of(texts, st.integers()),
            "m.in_reply_to": st.just({"event_id": "$x:example.org"}),
        },
    ),
)
contents = st.fixed_dictionaries(
    {},
    optional={
        "body": st.one_of(texts, st.integers(), st.none()),
        "msgtype": st.one_of(st.sampled_from(["m.text", "m.notice", "m.emote", "m.image", "x.custom"]), st.integers()),
        "m.relates_to": relations,
        "m.new_content": st.one_of(st.fixed_dictionaries({"body": texts, "msgtype": st.just("m.text")}), st.integers()),
        "redacts": st.one_of(st.just("$gone:example.org"), st.just("nope")),
        "m.mentions": st.one_of(st.just({"user_ids": [ME]}), st.just({"room": True}), st.just({})),
        "org.matrix.msc3381.poll.start": st.just({"question": {"org.matrix.msc1767.text": "Lunch?"}}),
    },
)
plaintexts = st.fixed_dictionaries(
    {
        "type": st.one_of(
            st.sampled_from(
                ["m.room.message", "m.reaction", "m.room.redaction", "m.sticker", ENCRYPTED, "m.poll.start",
                 "org.matrix.msc3381.poll.start", "x.custom", "", "not a token!"]
            ),
            st.integers(),
        ),
        "content": st.one_of(contents, st.integers(), st.none()),
    }
)
cleartext = st.fixed_dictionaries(
    {
        "rel": st.sampled_from([None, ("m.thread", ROOT), ("m.replace", ROOT), ("m.annotation", ROOT)]),
        "sender": st.sampled_from(["@alice:example.org", ME]),
        "count": st.sampled_from([None, 3]),
        "key": st.sampled_from(["", "👍"]),
    }
)


@settings(max_examples=400, deadline=None)
@given(plaintext=plaintexts, clear=cleartext, judged=st.booleans())
def test_the_lean_build_is_the_round_trip_through_timeline_event(
    plaintext: dict[str, Any], clear: dict[str, Any], judged: bool
) -> None:
    rel_type, relates_to = clear["rel"] or (None, None)
    encrypted = TimelineEvent(
        "$e:example.org", clear["sender"], 1_700_000_000_000, ENCRYPTED, "", rel_type, relates_to,
        thread_reply_count=clear["count"], key=clear["key"], ciphertext='{"algorithm":"m.megolm.v1.aes-sha2"}',
    )
    room = RoomState(room_id="!r:example.org", me=ME)
    names = RoomNaming(room)
    alert = alerts(None, names, room.room_id) if judged else None
    assert decrypted_event(encrypted, plaintext, names, alert) == reference(encrypted, plaintext, names, alert)
