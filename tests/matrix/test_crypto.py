"""``app.matrix.crypto`` on its own: no homeserver. A sender's nio ``Olm`` machine (as any
nio client would run it) and readmark's ``CryptoDevice`` pass each other only JSON, as
the server would carry it: key upload, claim, an Olm-encrypted room key, Megolm events.
The end-to-end tests on Synapse with an encrypting client are test_crypto_synapse.py."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest

from app.matrix.crypto import CannotDecrypt, CryptoDevice, CryptoStoreError
from app.model.events import Undecryptable as Reason

ROOM, OTHER_ROOM = "!room:test", "!other:test"
ME, MY_DEVICE = "@me:test", "READMARK"
ALICE, ALICE_DEVICE = "@alice:test", "ALICEDEV"
MALLORY, MALLORY_DEVICE = "@mallory:test", "MALLORYDEV"


def wire(value):  # noqa: ANN001, ANN201 - only JSON crosses
    return json.loads(json.dumps(value))


class Sender:
    """Another user's nio device that shares its Megolm session with readmark's device."""

    def __init__(self, tmp_path: Path, user: str, device: str) -> None:
        from nio.crypto import Olm
        from nio.store import DefaultStore

        directory = tmp_path / device
        directory.mkdir()
        self.olm = Olm(user, device, DefaultStore(user, device, str(directory), pickle_key="sender"))
        self.user, self.device = user, device
        self.events = 0

    @property
    def curve(self) -> str:
        return self.olm.account.identity_keys["curve25519"]

    def keys_query_answer(self) -> dict:
        body = self.olm.share_keys()
        return wire({"device_keys": {self.user: {self.device: body["device_keys"]}}, "failures": {}})

    def share_room_key(self, readmark: CryptoDevice, uploaded: dict, room: str = ROOM) -> dict:
        """Claim one of readmark's one-time keys, start an Olm session, and return the
        to-device event carrying this room's Megolm key (what /sync would deliver)."""
        from nio.responses import KeysClaimResponse, KeysQueryResponse

        keys = wire({"device_keys": {ME: {MY_DEVICE: uploaded["device_keys"]}}, "failures": {}})
        self.olm.handle_response(KeysQueryResponse.from_dict(keys))
        key_id, key = next(iter(uploaded["one_time_keys"].items()))
        claim = wire({"one_time_keys": {ME: {MY_DEVICE: {key_id: key}}}, "failures": {}})
        self.olm.handle_response(KeysClaimResponse.from_dict(claim))
        if room not in self.olm.outbound_group_sessions:
            self.olm.create_outbound_group_session(room)
        _, to_device = self.olm.share_group_session(room, [ME], ignore_unverified_devices=True)
        self.olm.outbound_group_sessions[room].shared = True
        content = to_device["messages"][ME][MY_DEVICE]
        return wire({"type": "m.room.encrypted", "sender": self.user, "content": content})

    def encrypt(self, body: str, room: str = ROOM, **extra: object) -> dict:
        self.events += 1
        content = self.olm.group_encrypt(room, {"type": "m.room.message", "content": {"msgtype": "m.text", "body": body, **extra}})
        return wire({"type": "m.room.encrypted", "event_id": f"${self.device}{self.events}", "sender": self.user,
                     "origin_server_ts": 1_000 + self.events, "content": content})


def decrypt(device: CryptoDevice, event: dict, room: str = ROOM) -> dict:
    return device.decrypt(room, event["event_id"], event["sender"], event["origin_server_ts"], event["content"])


@pytest.fixture
def readmark(tmp_path: Path):  # noqa: ANN201
    device = CryptoDevice.open(ME, MY_DEVICE, tmp_path / "store")
    yield device
    device.close()


def uploaded(device: CryptoDevice) -> dict:
    body = device.upload_body()
    assert body is not None
    device.uploaded({"one_time_key_counts": {"signed_curve25519": len(body.get("one_time_keys", {}))}})
    return body


def test_the_first_upload_has_device_keys_one_time_keys_and_a_fallback_key(readmark, tmp_path) -> None:  # noqa: ANN001
    body = readmark.upload_body()
    assert set(body) == {"device_keys", "one_time_keys", "fallback_keys"}
    keys = body["device_keys"]
    assert keys["user_id"] == ME and keys["device_id"] == MY_DEVICE
    assert keys["keys"] == {f"curve25519:{MY_DEVICE}": readmark.identity_keys["curve25519"],
                            f"ed25519:{MY_DEVICE}": readmark.identity_keys["ed25519"]}
    assert len(body["one_time_keys"]) == 25
    [fallback] = body["fallback_keys"].values()
    assert fallback["fallback"] is True and ME in fallback["signatures"]
    # Not answered yet (say the request failed): the very same body again, no new keys.
    assert readmark.upload_body() == body
    readmark.uploaded({"one_time_key_counts": {"signed_curve25519": 25}})
    assert readmark.upload_body() is None
    # The server's count runs low: new one-time keys, and only those.
    readmark.receive_sync({"device_one_time_keys_count": {"signed_curve25519": 3},
                           "device_unused_fallback_key_types": ["signed_curve25519"]}, ())
    again = readmark.upload_body()
    assert set(again) == {"one_time_keys"} and len(again["one_time_keys"]) == 22
    assert not set(again["one_time_keys"]) & set(body["one_time_keys"])
    readmark.uploaded({"one_time_key_counts": {"signed_curve25519": 25}})
    # The fallback key was used: a new one.
    readmark.receive_sync({"device_one_time_keys_count": {"signed_curve25519": 25},
                           "device_unused_fallback_key_types": []}, ())
    rotated = readmark.upload_body()
    assert set(rotated) == {"fallback_keys"} and rotated["fallback_keys"] != body["fallback_keys"]


def test_the_store_is_private_and_one_process_at_a_time(readmark, tmp_path) -> None:  # noqa: ANN001
    uploaded(readmark)
    directory = tmp_path / "store"
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    for path in directory.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    with pytest.raises(CryptoStoreError, match="in use by another readmark"):
        CryptoDevice.open(ME, MY_DEVICE, directory)


def test_room_keys_arrive_over_olm_and_decrypt_events(readmark, tmp_path) -> None:  # noqa: ANN001
    alice = Sender(tmp_path, ALICE, ALICE_DEVICE)
    body = uploaded(readmark)
    key_event = alice.share_room_key(readmark, body)
    first = alice.encrypt("hello")
    with pytest.raises(CannotDecrypt) as waiting:
        decrypt(readmark, first)
    assert waiting.value.reason is Reason.NO_KEY
    touched = readmark.receive_sync({"to_device": {"events": [key_event]}}, {ALICE})
    assert touched == {first["content"]["session_id"]}
    plain = decrypt(readmark, first)
    assert plain == {"type": "m.room.message", "content": {"msgtype": "m.text", "body": "hello"}}
    # The same event again is fine; its index under another event ID is a replay.
    assert decrypt(readmark, first) == plain
    replayed = dict(first, event_id="$replayed")
    with pytest.raises(CannotDecrypt) as replay:
        decrypt(readmark, replayed)
    assert replay.value.reason is Reason.REPLAY
    # A key for one room does not open another's events.
    with pytest.raises(CannotDecrypt) as elsewhere:
        decrypt(readmark, alice.encrypt("moved"), OTHER_ROOM)
    assert elsewhere.value.reason is Reason.NO_KEY
    # Its members were queued for a device-list query.
    assert readmark.query_body() == {"device_keys": {ALICE: []}}


def test_a_withheld_key_says_its_code_and_survives_a_restart(readmark, tmp_path) -> None:  # noqa: ANN001
    alice = Sender(tmp_path, ALICE, ALICE_DEVICE)
    alice.olm.create_outbound_group_session(ROOM)
    alice.olm.outbound_group_sessions[ROOM].shared = True  # shared with others, never with readmark
    event = alice.encrypt("secret")
    notice = {"type": "m.room_key.withheld", "sender": ALICE, "content": {
        "algorithm": "m.megolm.v1.aes-sha2", "room_id": ROOM, "session_id": event["content"]["session_id"],
        "sender_key": alice.curve, "code": "m.unverified", "reason": "Device not verified\n by its owner"}}
    assert readmark.receive_sync({"to_device": {"events": [notice]}}, ()) == {event["content"]["session_id"]}
    with pytest.raises(CannotDecrypt) as withheld:
        decrypt(readmark, event)
    assert (withheld.value.reason, withheld.value.code) == (Reason.WITHHELD, "m.unverified")
    assert str(withheld.value) == "Device not verified by its owner"
    readmark.close()
    reopened = CryptoDevice.open(ME, MY_DEVICE, tmp_path / "store")
    with pytest.raises(CannotDecrypt) as again:
        decrypt(reopened, event)
    assert again.value.code == "m.unverified"
    reopened.close()


def test_a_session_of_another_users_device_or_a_plaintext_naming_another_room_is_refused(readmark, tmp_path) -> None:  # noqa: ANN001
    alice = Sender(tmp_path, ALICE, ALICE_DEVICE)
    body = uploaded(readmark)
    readmark.receive_sync({"to_device": {"events": [alice.share_room_key(readmark, body)]}}, {ALICE})
    readmark.queried(alice.keys_query_answer())
    forged = alice.encrypt("I am mallory")
    forged["sender"] = MALLORY
    with pytest.raises(CannotDecrypt) as mismatch:
        decrypt(readmark, forged)
    assert mismatch.value.reason is Reason.MISMATCH
    # A plaintext that names another room than the one the event came in (nio's group_encrypt
    # writes the right room: the outbound session encrypts the forged plaintext itself).
    session = alice.olm.outbound_group_sessions[ROOM]
    forged_plain = json.dumps({"type": "m.room.message", "room_id": OTHER_ROOM, "content": {"body": "x"}})
    content = {"algorithm": "m.megolm.v1.aes-sha2", "sender_key": alice.curve, "ciphertext": session.encrypt(forged_plain),
               "session_id": session.id, "device_id": ALICE_DEVICE}
    event = {"event_id": "$x", "sender": ALICE, "origin_server_ts": 5, "content": content}
    with pytest.raises(CannotDecrypt) as named:
        decrypt(readmark, event)
    assert named.value.reason is Reason.MISMATCH


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"algorithm": "m.olm.v1.curve25519-aes-sha2"}, Reason.BAD),
        ({"session_id": None}, Reason.BAD),
        ({"ciphertext": "!!! not base64"}, Reason.BAD),
        ({"session_id": "A" * 43}, Reason.NO_KEY),
    ],
)
def test_damaged_events_say_why(readmark, tmp_path, change, reason) -> None:  # noqa: ANN001
    alice = Sender(tmp_path, ALICE, ALICE_DEVICE)
    body = uploaded(readmark)
    readmark.receive_sync({"to_device": {"events": [alice.share_room_key(readmark, body)]}}, ())
    event = alice.encrypt("fine")
    event["content"] = {**event["content"], **change}
    with pytest.raises(CannotDecrypt) as error:
        decrypt(readmark, event)
    assert error.value.reason is reason


def test_keys_export_and_import_and_a_later_key_never_replaces_an_earlier_one(readmark, tmp_path) -> None:  # noqa: ANN001
    alice = Sender(tmp_path, ALICE, ALICE_DEVICE)
    body = uploaded(readmark)
    readmark.receive_sync({"to_device": {"events": [alice.share_room_key(readmark, body)]}}, ())
    events = [alice.encrypt(f"#{i}") for i in range(3)]
    exported = readmark.export_sessions()
    assert len(exported) == 1 and exported[0]["room_id"] == ROOM
    other = CryptoDevice.open(ME, "SECOND", tmp_path / "second")
    result = other.import_sessions(exported + [{"session_key": "junk"}])
    assert (result.imported, result.known, result.invalid) == (1, 0, 1)
    assert decrypt(other, events[0])["content"]["body"] == "#0"
    assert other.import_sessions(exported).known == 1
    # A key exported from index 2 is worse than the one held from index 0: kept as it was.
    later = dict(exported[0])
    session = next(iter(readmark._olm.inbound_group_store))  # noqa: SLF001 - the test reaches for the held session
    later["session_key"] = session.export_session(2)
    third = CryptoDevice.open(ME, "THIRD", tmp_path / "third")
    assert third.import_sessions([later]).imported == 1
    with pytest.raises(CannotDecrypt) as early:
        decrypt(third, events[0])
    assert early.value.reason is Reason.UNKNOWN_INDEX
    assert third.import_sessions(exported).imported == 1  # the better key replaces it
    assert decrypt(third, events[0])["content"]["body"] == "#0"
    assert other.import_sessions([later]).known == 1  # and the worse one never replaces a better one
    assert decrypt(other, events[0])["content"]["body"] == "#0"
    other.close()
    third.close()


def test_an_empty_or_damaged_or_foreign_store_is_one_line_and_changes_nothing(readmark, tmp_path) -> None:  # noqa: ANN001
    uploaded(readmark)
    readmark.close()
    directory = tmp_path / "store"
    database = directory / f"{ME}_{MY_DEVICE}.db"
    # Another device's store copied here.
    other = CryptoDevice.open(ME, "OTHERDEV", tmp_path / "other")
    other.close()
    shutil.copy(tmp_path / "other" / "identity.json", directory / "identity.json")
    with pytest.raises(CryptoStoreError, match="belongs to another device"):
        CryptoDevice.open(ME, MY_DEVICE, directory)
    # A damaged database.
    good = database.read_bytes()
    database.write_bytes(b"not a database" * 100)
    with pytest.raises(CryptoStoreError, match="unreadable") as damaged:
        CryptoDevice.open(ME, MY_DEVICE, directory)
    assert "\n" not in str(damaged.value)
    database.write_bytes(b"")
    with pytest.raises(CryptoStoreError, match="empty"):
        CryptoDevice.open(ME, MY_DEVICE, directory)
    assert database.read_bytes() == b""  # nothing was made of it
    database.write_bytes(good)
    os.remove(directory / "identity.json")
    CryptoDevice.open(ME, MY_DEVICE, directory).close()  # the record is made again


def test_hostile_to_device_messages_change_nothing(readmark) -> None:  # noqa: ANN001
    junk = [None, 7, {"type": "m.room.encrypted"}, {"type": "m.room.encrypted", "sender": ALICE,
            "content": {"algorithm": "m.olm.v1.curve25519-aes-sha2", "sender_key": "x" * 43,
                        "ciphertext": {readmark.identity_keys["curve25519"]: {"type": 0, "body": "!!"}}}},
            {"type": "m.room_key.withheld", "content": {"code": "m.unverified"}}]
    assert readmark.receive_sync({"to_device": {"events": junk}, "device_lists": {"changed": [1, None]},
                                  "device_one_time_keys_count": {"signed_curve25519": "many"}}, ()) == set()
