"""A sync decrypted as it is received (``ReadStateCore.receive_sync(body, decrypt)``,
which leaves the push rules' verdicts on encrypted events to the decryption) gives
the account the two steps give: the sync translated as it comes (every ciphertext
judged where it stands in the timeline), then what is wanted decrypted."""

from __future__ import annotations

import json
from typing import Any

from app.matrix.core import ReadStateCore
from app.model.events import ALERT_HIGHLIGHT, ALERT_SILENT, ALERT_UNKNOWN, is_undecrypted

ME = "@me:example.org"
ALICE = "@alice:example.org"
BOB = "@bob:example.org"
ROOM = "!room:example.org"

# Encrypted events from a sender allowed to notify the room highlight; a message saying
# "quiet" is silent: the ciphertext and the plaintext are judged differently.
RULES = {
    "global": {
        "override": [
            {"rule_id": "loud-encrypted", "default": False, "enabled": True,
             "conditions": [{"kind": "event_match", "key": "type", "pattern": "m.room.encrypted"},
                            {"kind": "sender_notification_permission", "key": "room"}],
             "actions": ["notify", {"set_tweak": "highlight"}]},
            {"rule_id": "quiet", "default": False, "enabled": True,
             "conditions": [{"kind": "event_match", "key": "content.body", "pattern": "quiet"}], "actions": []},
        ],
    }
}


def encrypted(n: int, sender: str, plaintext: dict[str, Any] | None, session: str = "S", **relation: str) -> dict:
    content: dict[str, Any] = {"algorithm": "m.megolm.v1.aes-sha2", "sender_key": "K", "session_id": session,
                               "device_id": "D", "ciphertext": json.dumps(plaintext)}
    if relation:
        content["m.relates_to"] = relation
    return {"type": "m.room.encrypted", "event_id": f"$e{n}", "sender": sender, "origin_server_ts": 1000 + n,
            "content": content}


def decrypt(room_id: str, event_id: str, sender: str, ts: int, content: Any) -> dict[str, Any] | str:
    if content.get("session_id") == "missing":
        return "no-key"
    plaintext = json.loads(content["ciphertext"])
    return plaintext if plaintext is not None else "bad"


def power(level: int) -> dict:
    return {"type": "m.room.power_levels", "state_key": "", "event_id": f"$power{level}", "sender": BOB,
            "origin_server_ts": 1000, "content": {"users": {ALICE: level, BOB: 100}, "notifications": {"room": 50}}}


def sync() -> dict:
    text = lambda body: {"type": "m.room.message", "content": {"msgtype": "m.text", "body": body}}  # noqa: E731
    timeline = [
        encrypted(1, ALICE, text("read already")),
        encrypted(2, ALICE, text("read too")),
        encrypted(6, ME, text("mine")),  # sending is reading
        power(0),
        encrypted(3, ALICE, text("hello")),  # unread: decrypted
        encrypted(4, ALICE, text("no key"), session="missing"),  # unread, undecryptable
        power(100),
        encrypted(5, ALICE, text("quiet")),  # unread: decrypted, silent by its plaintext
        encrypted(7, ALICE, None),  # a plaintext that is no event
        encrypted(8, ALICE, text("redacted")),
        {"type": "m.room.redaction", "event_id": "$r8", "sender": ALICE, "origin_server_ts": 1100, "redacts": "$e8",
         "content": {}},
        encrypted(9, ALICE, text("in a thread"), rel_type="m.thread", event_id="$e1"),
    ]
    receipts = {"$e2": {"m.read": {ME: {"ts": 1}}}}
    return {
        "next_batch": "s1",
        "account_data": {"events": [{"type": "m.push_rules", "content": RULES}]},
        "rooms": {"join": {ROOM: {
            "summary": {"m.joined_member_count": 3},
            "state": {"events": [
                {"type": "m.room.encryption", "state_key": "", "event_id": "$enc", "sender": BOB,
                 "origin_server_ts": 1, "content": {"algorithm": "m.megolm.v1.aes-sha2"}},
                power(100),
            ]},
            "timeline": {"events": timeline, "limited": False},
            "ephemeral": {"events": [{"type": "m.receipt", "content": receipts}]},
        }}},
    }


def test_decrypting_as_the_sync_arrives_is_translating_then_decrypting() -> None:
    at_once = ReadStateCore(ME)
    at_once.receive_sync(json.dumps(sync()), decrypt)
    two_steps = ReadStateCore(ME)
    two_steps.receive_sync(json.dumps(sync()))
    two_steps.decrypt_wanted([ROOM], decrypt)

    events = at_once.account.rooms[ROOM].events
    assert events == two_steps.account.rooms[ROOM].events
    assert at_once.waiting_sessions() == two_steps.waiting_sessions() == {"missing": frozenset({ROOM})}
    by_id = {event.event_id: event for event in events}
    # Not wanted (read, behind my confirmed receipt): ciphertext, and never judged: an
    # event read for good is never counted.
    assert is_undecrypted(by_id["$e2"]) and by_id["$e2"].alert == ALERT_UNKNOWN
    # Undecryptable: its ciphertext judged at its place, where Alice could not.
    assert by_id["$e4"].undecryptable == "no-key" and by_id["$e4"].alert not in (ALERT_HIGHLIGHT, 0)
    assert by_id["$e3"].body == "hello" and by_id["$e3"].alert not in (ALERT_HIGHLIGHT, 0)
    assert by_id["$e5"].body == "quiet" and by_id["$e5"].alert == ALERT_SILENT
    assert by_id["$e7"].undecryptable == "bad" and by_id["$e7"].alert == ALERT_HIGHLIGHT
    assert by_id["$e8"].redacted and by_id["$e8"].alert == ALERT_HIGHLIGHT
    assert by_id["$e9"].body == "in a thread"
