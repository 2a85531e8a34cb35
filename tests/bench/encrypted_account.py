"""The synthetic account with its rooms encrypted: real Megolm ciphertext, made by one
vodozemac outbound ``GroupSession`` per room, and the matching inbound sessions as a key
export would carry them (for a ``CryptoDevice`` to import) and as bare vodozemac
``InboundGroupSession``s (for the baseline decrypt loop).

Each room of ``synthetic.initial_sync`` keeps its shape, event IDs, receipts and counts;
what changes is what an encrypted room's sync holds: an ``m.room.encryption`` state
event, and every message, reaction and edit sent as ``m.room.encrypted`` (algorithm
``m.megolm.v1.aes-sha2``, ``ciphertext``, ``sender_key``, ``session_id``, ``device_id``)
with its ``m.relates_to`` in cleartext, as clients send them (threads, edits and
reactions stay visible to the server). The plaintext is the event's ``type`` and
``content`` (without the relation) and the ``room_id``, as nio's ``group_encrypt`` makes
it. Redacted messages come as redacted encrypted events (empty content).

Keys are random, so the ciphertext (and the body's digest) differs from run to run; the
shape does not. One sender device (one curve25519 key) holds every room's session: a
``CryptoDevice`` looks a session up by room, sender key and session ID in a dict, so
more sender devices would cost nothing more per event.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

from tests.bench.synthetic import BASE_TS, Shape, initial_sync

MEGOLM = "m.megolm.v1.aes-sha2"
SENDER_DEVICE = "BENCHSENDER"
# Who turned encryption on (any member would do).
CREATOR = "@creator:example.org"
# What a client encrypts in an encrypted room (state events and redactions stay cleartext).
ENCRYPTED_TYPES = frozenset({"m.room.message", "m.reaction"})


@dataclass
class EncryptedAccount:
    """One account, plain and encrypted, with the keys of its encrypted rooms."""

    plain: dict[str, Any]
    encrypted: dict[str, Any]
    sender_key: str
    signing_key: str
    # room ID -> the sender's outbound session (later syncs are encrypted with it)
    outbound: dict[str, Any] = field(default_factory=dict)
    # session ID -> a bare vodozemac InboundGroupSession from message index 0
    inbound: dict[str, Any] = field(default_factory=dict)
    # key export entries (app.matrix.key_export's session objects), one per room
    exports: list[dict[str, Any]] = field(default_factory=list)

    def session_for(self, room_id: str) -> Any:
        import vodozemac

        session = self.outbound.get(room_id)
        if session is None:
            session = self.outbound[room_id] = vodozemac.GroupSession()
            # Inbound from index 0: made before the first message is encrypted.
            inbound = vodozemac.InboundGroupSession(session.session_key)
            self.inbound[session.session_id] = inbound
            self.exports.append(
                {
                    "algorithm": MEGOLM,
                    "room_id": room_id,
                    "sender_key": self.sender_key,
                    "session_id": session.session_id,
                    "session_key": inbound.export_at(0).to_base64(),
                    "sender_claimed_keys": {"ed25519": self.signing_key},
                    "forwarding_curve25519_key_chain": [],
                }
            )
        return session

    def encrypt_event(self, room_id: str, event: dict[str, Any]) -> dict[str, Any]:
        """``event`` as an encrypted room's sync carries it (a new dict)."""
        if event.get("type") not in ENCRYPTED_TYPES or "state_key" in event:
            return event
        out = dict(event)
        out["type"] = "m.room.encrypted"
        if "redacted_because" in event.get("unsigned", {}):
            out["content"] = {}
            return out
        content = dict(event["content"])
        relation = content.pop("m.relates_to", None)
        plaintext = {"type": event["type"], "content": content, "room_id": room_id}
        session = self.session_for(room_id)
        ciphertext = session.encrypt(json.dumps(plaintext, ensure_ascii=False, separators=(",", ":")).encode())
        cleartext: dict[str, Any] = {
            "algorithm": MEGOLM,
            "ciphertext": ciphertext.to_base64(),
            "device_id": SENDER_DEVICE,
            "sender_key": self.sender_key,
            "session_id": session.session_id,
        }
        if relation is not None:
            cleartext["m.relates_to"] = relation
        out["content"] = cleartext
        return out

    def encrypt_sync(self, body: dict[str, Any]) -> dict[str, Any]:
        """A ``/sync`` body (plain, built for this account's rooms) with every joined
        room's messages encrypted; a room seen for the first time gets its session and,
        with a state section, its ``m.room.encryption`` event."""
        out = copy.deepcopy(body)
        for room_id, entry in out.get("rooms", {}).get("join", {}).items():
            timeline = entry.get("timeline")
            if timeline is not None:
                timeline["events"] = [self.encrypt_event(room_id, e) for e in timeline["events"]]
            state = entry.get("state")
            if state is not None:
                state["events"].append(
                    {
                        "content": {"algorithm": MEGOLM, "rotation_period_ms": 604_800_000, "rotation_period_msgs": 100},
                        "event_id": f"$encryption-{room_id}",
                        "origin_server_ts": BASE_TS - 10**9,
                        "sender": CREATOR,
                        "state_key": "",
                        "type": "m.room.encryption",
                    }
                )
        return out


def encrypted_account(shape: Shape) -> EncryptedAccount:
    """The synthetic account of ``shape``, plain and with every joined room encrypted."""
    import vodozemac

    sender = vodozemac.Account()
    plain = initial_sync(shape)
    account = EncryptedAccount(
        plain=plain,
        encrypted={},
        sender_key=sender.curve25519_key.to_base64(),
        signing_key=sender.ed25519_key.to_base64(),
    )
    account.encrypted = account.encrypt_sync(plain)
    return account


def encrypted_events(body: dict[str, Any]) -> int:
    """How many events of a sync body carry Megolm ciphertext."""
    return sum(
        1
        for entry in body.get("rooms", {}).get("join", {}).values()
        for event in entry.get("timeline", {}).get("events", ())
        if event.get("type") == "m.room.encrypted" and "ciphertext" in event.get("content", {})
    )


def import_into(device: Any, account: EncryptedAccount) -> int:
    """Import the account's room keys into a ``CryptoDevice``; how many were new."""
    result = device.import_sessions(account.exports)
    if result.invalid:
        raise RuntimeError(f"{result.invalid} of the synthetic room keys did not import")
    return result.imported
