"""This device's end-to-end encryption: its keys, the room keys it receives, and the
decryption of room events. The only user of matrix-nio's crypto machinery (``Olm``, on
vodozemac), and the only code that holds a device's secret keys.

readmark only reads: it receives Megolm room keys (over Olm-encrypted to-device messages,
or from a key export) and decrypts room events with them; it never encrypts or shares a
key. What it must do for others to send it keys: upload its device keys, one-time keys
and a fallback key, keep the one-time keys topped up from the counts in each sync, and
follow the device lists of the people it shares encrypted rooms with.

One store per login, in ``<data dir>/crypto/<device>/`` (0700; files 0600): nio's SQLite
store of the account and sessions, the key the store's secrets are pickled with, the
device's public identity (to tell a store of another device), and the withheld notices
received. Only the process that owns the profile opens it (``app/store/profile.py``), and
the store takes a lock of its own as well: two processes never write one store.

Decryption goes to vodozemac directly (a Megolm decrypt is some tens of microseconds;
nio's event classes and schema checks around it cost several times that) and keeps nio's
checks: the session is looked up by room, sender key and session ID, a message index
seen under another event is a replay, and the plaintext must name this room if it names
one. Nothing here logs or raises a key, a passphrase or decrypted text.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import logging
import os
import secrets
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from app import paths
from app.matrix.errors import first_line
from app.matrix.nio_internals import vodozemac_account
from app.model.events import Undecryptable, undecryptable_value
from app.store.files import FILE_MODE, private_dir, write_atomic

log = logging.getLogger(__name__)

MEGOLM: Final = "m.megolm.v1.aes-sha2"
OLM: Final = "m.olm.v1.curve25519-aes-sha2"
SIGNED_CURVE: Final = "signed_curve25519"
# Top the one-time keys up once fewer than this many are left on the server (of the
# account's maximum, 50 with vodozemac): uploading after every claim would be a request
# per message someone starts a session with.
OTK_LOW_WATER: Final = 25
IDENTITY_FILE: Final = "identity.json"
# Withheld notices kept (one per session a sender refused to share).
MAX_WITHHELD: Final = 10_000
# Message indexes remembered for replay detection (what nio keeps too).
MAX_INDEXES: Final = 100_000


class CryptoStoreError(Exception):
    """The crypto store cannot be used; one line for the user, no secret in it."""


@dataclass(frozen=True, slots=True)
class CannotDecrypt(Exception):
    """An event that cannot be decrypted now: why, and for a withheld key its code."""

    reason: Undecryptable
    detail: str = ""
    code: str | None = None

    def __str__(self) -> str:
        return self.detail or self.reason.value

    @property
    def value(self) -> str:
        """What the model keeps of it (``TimelineEvent.undecryptable``)."""
        return undecryptable_value(self.reason, self.code)


@dataclass(frozen=True, slots=True)
class Withheld:
    """An ``m.room_key.withheld`` notice: the session, and the sender's code and reason."""

    room_id: str
    session_id: str
    sender_key: str
    code: str
    reason: str


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What importing room keys did: sessions new to this device, sessions already held
    as well or better (same or earlier first index), and entries that were no key."""

    imported: int
    known: int
    invalid: int
    sessions: frozenset[str] = frozenset()


def store_directory(device_id: str) -> Path:
    """Where a login's crypto store lives: one directory per device."""
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in device_id)[:64] or "device"
    if safe != device_id:
        safe += "-" + hashlib.sha256(device_id.encode()).hexdigest()[:12]
    return paths.data_dir() / "crypto" / safe


def recorded_identity(device_id: str) -> dict[str, str] | None:
    """This device's public identity keys as its store recorded them (``identity.json``),
    read without opening the store (another process may hold it); None when unknown."""
    try:
        recorded = json.loads((store_directory(device_id) / IDENTITY_FILE).read_bytes())
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(recorded, dict):
        return None
    keys = {name: recorded.get(name) for name in ("ed25519", "curve25519")}
    return keys if all(isinstance(value, str) for value in keys.values()) else None  # type: ignore[return-value]


def remove_store(device_id: str) -> bool:
    """Delete a login's crypto store (its device is gone: its keys are worthless)."""
    directory = store_directory(device_id)
    if not directory.exists():
        return False
    shutil.rmtree(directory, ignore_errors=True)
    return True


class CryptoDevice:
    """One login's crypto machinery; open it with ``open``, close it when done."""

    def __init__(self, olm: Any, directory: Path, lock_fd: int) -> None:
        self._olm = olm
        self.directory = directory
        self._lock_fd = lock_fd
        self._withheld: dict[str, Withheld] = _load_withheld(directory)
        # (sender key, session ID, message index) -> (event ID, timestamp)
        self._indexes: dict[tuple[str, str, int], tuple[str, int]] = {}
        self._fallback_wanted = False
        self._upload_in_flight: dict[str, Any] | None = None
        # curve25519 identity key -> the user of the first known device with it (the
        # device store's order); None until asked, dropped whenever nio may change it.
        self._owners: dict[str, str] | None = None

    # ---- opening ------------------------------------------------------------------

    @classmethod
    def open(cls, user_id: str, device_id: str, directory: Path | None = None) -> CryptoDevice:
        """Open (or create) the store of this login. Raises ``CryptoStoreError`` when it is
        in use by another process, unreadable, or the store of another device."""
        directory = directory or store_directory(device_id)
        try:
            private_dir(directory.parent)
            private_dir(directory)
            lock_fd = os.open(directory / "lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
        except OSError as error:
            raise CryptoStoreError(f"cannot open the crypto store {directory}: {error.strerror or error}") from None
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(lock_fd)
            raise CryptoStoreError(f"the crypto store {directory} is in use by another readmark") from None
        try:
            olm = _open_machine(user_id, device_id, directory)
            device = cls(olm, directory, lock_fd)
            device._check_identity(user_id, device_id)
        except BaseException:
            fcntl.flock(lock_fd, fcntl.LOCK_UN)
            os.close(lock_fd)
            raise
        return device

    def _check_identity(self, user_id: str, device_id: str) -> None:
        """The store must be this device's: a store copied from another device, or one
        whose database was replaced, would upload keys the server already has for
        another identity (and other clients ignore a changed identity key)."""
        marker = self.directory / IDENTITY_FILE
        mine = {"user_id": user_id, "device_id": device_id, **self.identity_keys}
        try:
            recorded = json.loads(marker.read_bytes())
        except FileNotFoundError:
            write_atomic(marker, json.dumps(mine).encode())
            return
        except (OSError, ValueError, RecursionError) as error:
            raise CryptoStoreError(f"the crypto store {self.directory} is damaged (identity.json: {error})") from None
        if recorded != mine:
            raise CryptoStoreError(
                f"the crypto store {self.directory} belongs to another device than {user_id} {device_id}; "
                "move it aside, or log in again as a new device"
            )

    def close(self) -> None:
        fd, self._lock_fd = self._lock_fd, -1
        if fd < 0:
            return
        try:
            self._olm.store.database.close()
        except Exception:  # noqa: BLE001 - closing must not fail a quit
            log.debug("closing the crypto store failed", exc_info=True)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    @property
    def identity_keys(self) -> dict[str, str]:
        return dict(self._olm.account.identity_keys)

    @property
    def user_id(self) -> str:
        return self._olm.user_id

    @property
    def device_id(self) -> str:
        return self._olm.device_id

    # ---- keys the server hands out for us ---------------------------------------------

    def upload_body(self) -> dict[str, Any] | None:
        """The ``/keys/upload`` body this device needs now (None: nothing to upload): its
        device keys the first time, one-time keys when the server runs low, a fallback
        key when the server has no unused one. Saved before it is returned, so a crash
        after the upload cannot lose a private key the server hands out; after a failed
        upload the same body comes back (one-time keys are never generated twice over)."""
        if self._upload_in_flight is not None:
            return self._upload_in_flight
        olm = self._olm
        account = vodozemac_account(olm)
        body: dict[str, Any] = {}
        if not olm.account.shared:
            body["device_keys"] = self._device_keys()
        unpublished = olm.account.one_time_keys["curve25519"]
        count = olm.uploaded_key_count
        low = not olm.account.shared or (count is not None and count < OTK_LOW_WATER)
        if not unpublished and low:
            on_server = count if (olm.account.shared and count is not None) else 0
            wanted = olm.account.max_one_time_keys // 2 - on_server
            if wanted > 0:
                account.generate_one_time_keys(wanted)
            unpublished = olm.account.one_time_keys["curve25519"]
        if unpublished:
            body["one_time_keys"] = {f"{SIGNED_CURVE}:{key_id}": self._signed({"key": key}) for key_id, key in unpublished.items()}
        if self._fallback_wanted or not olm.account.shared:
            if not account.fallback_key:
                account.generate_fallback_key()
            body["fallback_keys"] = {
                f"{SIGNED_CURVE}:{key_id}": self._signed({"key": key.to_base64(), "fallback": True})
                for key_id, key in account.fallback_key.items()
            }
        if not body:
            return None
        olm.save_account()
        self._upload_in_flight = body
        return body

    def uploaded(self, answer: Mapping[str, Any]) -> None:
        """``/keys/upload`` answered: the keys in the body are published."""
        from nio.responses import KeysUploadResponse

        response = KeysUploadResponse.from_dict(dict(answer))
        if not isinstance(response, KeysUploadResponse):
            raise CryptoStoreError("the homeserver's answer to the key upload lacks the one-time key counts")
        self._upload_in_flight = None
        self._fallback_wanted = False
        # Sets shared, the server's count, marks one-time and fallback keys published, saves.
        self._olm.handle_response(response)
        self._owners = None

    def _device_keys(self) -> dict[str, Any]:
        olm = self._olm
        keys = olm.account.identity_keys
        device_keys = {
            "algorithms": [OLM, MEGOLM],
            "device_id": olm.device_id,
            "user_id": olm.user_id,
            "keys": {f"curve25519:{olm.device_id}": keys["curve25519"], f"ed25519:{olm.device_id}": keys["ed25519"]},
        }
        return self._signed(device_keys)

    def _signed(self, value: dict[str, Any]) -> dict[str, Any]:
        signature = self._olm.sign_json(value)
        return {**value, "signatures": {self._olm.user_id: {f"ed25519:{self._olm.device_id}": signature}}}

    # ---- what a sync brings -----------------------------------------------------------

    def receive_sync(self, sync: Mapping[str, Any], encrypted_members: Iterable[str]) -> set[str]:
        """The crypto parts of one ``/sync`` answer: to-device messages (room keys,
        withheld notices), the one-time key counts, the unused fallback key types, and
        device list changes of the people in ``encrypted_members``. The session IDs whose
        keys arrived (or were withheld) are returned: their events can be tried again."""
        touched: set[str] = set()
        # What nio does with to-device messages is its own business: the owner map is
        # built again after each sync (one walk of the device store per sync, not per event).
        self._owners = None
        to_device = sync.get("to_device")
        events = to_device.get("events") if isinstance(to_device, dict) else None
        for raw in events if isinstance(events, list) else ():
            touched |= self._to_device(raw)
        counts = sync.get("device_one_time_keys_count")
        if isinstance(counts, dict):
            count = counts.get(SIGNED_CURVE, 0)
            self._olm.uploaded_key_count = count if type(count) is int and count >= 0 else 0
        unused = sync.get("device_unused_fallback_key_types")
        if isinstance(unused, list):
            self._fallback_wanted = SIGNED_CURVE not in unused
        members = set(encrypted_members)
        lists = sync.get("device_lists")
        if isinstance(lists, dict):
            changed = lists.get("changed")
            if isinstance(changed, list):
                tracked = self._olm.tracked_users
                self._olm.add_changed_users({u for u in changed if isinstance(u, str) and (u in members or u in tracked)})
        # Members never queried in this run (nio keeps the tracked set in memory only).
        self._olm.users_for_key_query |= members - self._olm.tracked_users
        # readmark sends no to-device messages: what nio queues (key requests after a
        # failed decryption) would pile up.
        self._olm.outgoing_to_device_messages.clear()
        return touched

    def _to_device(self, raw: object) -> set[str]:
        if not isinstance(raw, dict):
            return set()
        kind = raw.get("type")
        if kind == "m.room_key.withheld":
            return self._withheld_notice(raw)
        if kind != "m.room.encrypted":
            return set()
        from nio.events import ToDeviceEvent
        from nio.events.to_device import OlmEvent

        event = ToDeviceEvent.parse_event(raw)
        if not isinstance(event, OlmEvent):
            return set()
        try:
            result = self._olm.decrypt_event(event)
        except Exception as error:  # noqa: BLE001 - nio lets vodozemac's own errors through
            log.info("an Olm to-device message from %s could not be decrypted: %s", raw.get("sender"), type(error).__name__)
            return set()
        session_id = getattr(result, "session_id", None)
        return {session_id} if isinstance(session_id, str) else set()

    def _withheld_notice(self, raw: dict) -> set[str]:
        content = raw.get("content")
        if not isinstance(content, dict):
            return set()
        fields = [content.get(name) for name in ("room_id", "session_id", "sender_key", "code")]
        if not all(isinstance(value, str) and 0 < len(value) <= 255 for value in fields):
            return set()  # m.no_olm names no session: nothing to show it on
        reason = content.get("reason")
        notice = Withheld(*fields, reason=" ".join(reason.split())[:200] if isinstance(reason, str) else "")  # type: ignore[arg-type]
        if len(self._withheld) >= MAX_WITHHELD and notice.session_id not in self._withheld:
            self._withheld.pop(next(iter(self._withheld)))
        self._withheld[notice.session_id] = notice
        try:
            write_atomic(self.directory / "withheld.json", json.dumps([vars_of(w) for w in self._withheld.values()]).encode())
        except OSError as error:
            log.warning("cannot record a withheld room key: %s", error)
        return {notice.session_id}

    def query_body(self) -> dict[str, Any] | None:
        """The ``/keys/query`` body for the device lists to fetch now, or None."""
        users = sorted(self._olm.users_for_key_query)
        return {"device_keys": {user: [] for user in users}} if users else None

    def queried(self, answer: Mapping[str, Any]) -> None:
        from nio.responses import KeysQueryResponse

        response = KeysQueryResponse.from_dict(dict(answer))
        if isinstance(response, KeysQueryResponse):
            self._olm.handle_response(response)
            self._owners = None

    # ---- decryption ---------------------------------------------------------------------

    def decrypt(self, room_id: str, event_id: str, sender: str, ts: int, content: Mapping[str, Any]) -> dict[str, Any]:
        """The plaintext event (``type`` and ``content``) of an ``m.room.encrypted`` event
        of ``room_id``; raises ``CannotDecrypt`` saying why not."""
        if content.get("algorithm") != MEGOLM:
            raise CannotDecrypt(Undecryptable.BAD, f"not a Megolm event ({str(content.get('algorithm'))[:40]})")
        sender_key, session_id, ciphertext = (content.get(k) for k in ("sender_key", "session_id", "ciphertext"))
        if not (isinstance(sender_key, str) and isinstance(session_id, str) and isinstance(ciphertext, str)):
            raise CannotDecrypt(Undecryptable.BAD, "the event lacks its sender key, session or ciphertext")
        session = self._olm.inbound_group_store.get(room_id, sender_key, session_id)
        if session is None:
            withheld = self._withheld.get(session_id)
            if withheld is not None and withheld.room_id == room_id:
                raise CannotDecrypt(Undecryptable.WITHHELD, withheld.reason, withheld.code)
            raise CannotDecrypt(Undecryptable.NO_KEY, "the key for this message has not arrived")
        owner = self._device_owner(sender_key)
        if owner is not None and owner != sender:
            raise CannotDecrypt(Undecryptable.MISMATCH, "its session belongs to another user's device")
        try:
            plaintext, index = session.decrypt(ciphertext)
        except Exception as error:  # noqa: BLE001 - vodozemac's decryption and decode errors, bad UTF-8
            text = str(error)
            if "unknown message index" in text.lower() or "first known index" in text.lower():
                raise CannotDecrypt(Undecryptable.UNKNOWN_INDEX, "the key held starts after this message") from None
            raise CannotDecrypt(Undecryptable.BAD, "its ciphertext does not decrypt with the session's key") from None
        seen = self._indexes.get((sender_key, session_id, index))
        if seen is not None and seen != (event_id, ts):
            raise CannotDecrypt(Undecryptable.REPLAY, "its message index was already used by another message")
        if len(self._indexes) >= MAX_INDEXES:
            self._indexes.pop(next(iter(self._indexes)))
        self._indexes[(sender_key, session_id, index)] = (event_id, ts)
        try:
            event = json.loads(plaintext)
        except (ValueError, RecursionError):
            raise CannotDecrypt(Undecryptable.BAD, "its plaintext is not JSON") from None
        if not isinstance(event, dict) or not isinstance(event.get("type"), str) or not isinstance(event.get("content"), dict):
            raise CannotDecrypt(Undecryptable.BAD, "its plaintext is not an event")
        if event.get("room_id", room_id) != room_id:
            raise CannotDecrypt(Undecryptable.MISMATCH, "its plaintext names another room")
        return {"type": event["type"], "content": event["content"]}

    def _device_owner(self, curve_key: str) -> str | None:
        """The user whose known device has this identity key, if any: one dict lookup
        per event, the map built from the device store once per change of it (a
        ``/keys/query`` answer; a sync's device list changes only queue a query)."""
        owners = self._owners
        if owners is None:
            owners = {}
            for user_id, devices in self._olm.device_store.items():
                for device in devices.values():
                    owners.setdefault(device.curve25519, user_id)
            self._owners = owners
        return owners.get(curve_key)

    def has_session(self, room_id: str, sender_key: str, session_id: str) -> bool:
        return self._olm.inbound_group_store.get(room_id, sender_key, session_id) is not None

    # ---- imports and exports --------------------------------------------------------------

    def import_sessions(self, sessions: Iterable[Mapping[str, Any]]) -> ImportResult:
        """Room keys from an export (``app.matrix.key_export``'s session objects, or the
        key backup's). A session already held from the same or an earlier message index is
        kept; a better one replaces it."""
        from nio.crypto.sessions import InboundGroupSession

        imported = known = invalid = 0
        added: set[str] = set()
        for entry in sessions:
            try:
                session = InboundGroupSession.import_session(
                    entry["session_key"],
                    entry["sender_claimed_keys"]["ed25519"],
                    entry["sender_key"],
                    entry["room_id"],
                    list(entry.get("forwarding_curve25519_key_chain") or ()),
                )
                if entry.get("algorithm", MEGOLM) != MEGOLM or session.id != entry["session_id"]:
                    raise ValueError("not this session's key")
            except Exception:  # noqa: BLE001 - a malformed entry is counted, not fatal
                invalid += 1
                continue
            if not self._keep(session):
                known += 1
                continue
            self._olm.inbound_group_store.add(session)
            self._olm.save_inbound_group_session(session)
            imported += 1
            added.add(session.id)
        return ImportResult(imported, known, invalid, frozenset(added))

    def _keep(self, new: Any) -> bool:
        old = self._olm.inbound_group_store.get(new.room_id, new.sender_key, new.id)
        return old is None or new.first_known_index < old.first_known_index

    def export_sessions(self) -> list[dict[str, Any]]:
        """Every room key held, as key export entries, each from its first known index."""
        return [_exported(session) for session in self._olm.inbound_group_store]

    def sessions_with_ids(self, session_ids: Iterable[str]) -> list[dict[str, Any]]:
        """The room keys of these sessions held, as key export entries with their first
        known index (what the key backup records of each)."""
        wanted = set(session_ids)
        if not wanted:
            return []
        return [
            {**_exported(session), "first_known_index": session.first_known_index}
            for session in self._olm.inbound_group_store
            if session.id in wanted
        ]


def _exported(session: Any) -> dict[str, Any]:
    return {
        "algorithm": MEGOLM,
        "room_id": session.room_id,
        "sender_key": session.sender_key,
        "session_id": session.id,
        "session_key": session.export_session(session.first_known_index),
        "sender_claimed_keys": {"ed25519": session.ed25519},
        "forwarding_curve25519_key_chain": list(session.forwarding_chain),
    }


def vars_of(notice: Withheld) -> dict[str, str]:
    return {name: getattr(notice, name) for name in ("room_id", "session_id", "sender_key", "code", "reason")}


def _load_withheld(directory: Path) -> dict[str, Withheld]:
    try:
        raw = json.loads((directory / "withheld.json").read_bytes())
    except (OSError, ValueError, RecursionError):
        return {}
    found: dict[str, Withheld] = {}
    for item in raw if isinstance(raw, list) else ():
        try:
            notice = Withheld(**{name: str(item[name]) for name in ("room_id", "session_id", "sender_key", "code", "reason")})
        except (KeyError, TypeError):
            continue
        found[notice.session_id] = notice
    return dict(list(found.items())[-MAX_WITHHELD:])


def _pickle_key(directory: Path) -> str:
    path = directory / "pickle.key"
    try:
        key = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        key = ""
    except (OSError, UnicodeDecodeError) as error:
        raise CryptoStoreError(f"cannot read the crypto store's key {path}: {error}") from None
    if not key:
        key = base64.b64encode(secrets.token_bytes(32)).decode()
        write_atomic(path, key.encode())
    return key


def _open_machine(user_id: str, device_id: str, directory: Path) -> Any:
    """nio's ``Olm`` on its ``DefaultStore`` in ``directory``, with the guard that a room key
    never replaces a better one. nio's own errors become ``CryptoStoreError``."""
    try:
        from nio.crypto import Olm
        from nio.crypto.sessions import InboundGroupSession
        from nio.store import DefaultStore
    except ImportError as error:
        raise CryptoStoreError(f"end-to-end encryption needs matrix-nio's e2e extra: {error}") from None

    class GuardedOlm(Olm):
        """nio's machine, except that a re-shared room key that starts later than the one
        held does not replace it (older messages would become unreadable)."""

        def create_group_session(self, sender_key, sender_fp_key, room_id, session_id, session_key):  # noqa: ANN001, ANN202
            held = self.inbound_group_store.get(room_id, sender_key, session_id)
            if held is not None:
                try:
                    new = InboundGroupSession(session_key, sender_fp_key, sender_key, room_id)
                except Exception:  # noqa: BLE001 - a bad key changes nothing
                    return
                if new.first_known_index >= held.first_known_index:
                    return
            super().create_group_session(sender_key, sender_fp_key, room_id, session_id, session_key)

    database = directory / f"{user_id}_{device_id}.db"
    existed = database.exists()
    if existed and database.stat().st_size == 0:
        # nio would make a new account in an empty file: a store that lost its account
        # must not silently become another identity.
        raise CryptoStoreError(f"the crypto store {directory} is empty; move it aside, or log in again")
    pickle_key = _pickle_key(directory)
    try:
        store = DefaultStore(user_id, device_id, str(directory), pickle_key=pickle_key)
        machine = GuardedOlm(user_id, device_id, store)
    except Exception as error:  # noqa: BLE001 - peewee and vodozemac errors alike
        raise CryptoStoreError(
            f"the crypto store {directory} is unreadable ({first_line(error, 120)}); move it aside, or log in again"
        ) from None
    for each in directory.iterdir():
        if each.is_file():
            os.chmod(each, FILE_MODE)
    return machine
