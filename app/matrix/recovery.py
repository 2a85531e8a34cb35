"""The recovery key: it unlocks the account's secret storage, whose self-signing key makes
this device a cross-signed (trusted) one, and whose backup key brings back the room keys
of what was sent before the device existed.

The steps, each checked before the next uses its result (the spec's "Secrets",
"Cross-signing" and "Server-side key backups"; the crypto is ``app.matrix.secrets``):

1. ``unlock``: the default secret storage key's description from account data; the key
   from the recovery key (or derived from the passphrase) must match its MAC; then the
   self-signing key and the backup key are decrypted (each under its MAC).
2. ``cross_sign``: the self-signing key's public part must be the one the server publishes
   for the user, signed by the master key; this device's keys on the server must be its
   own; only then is their signature uploaded.
3. ``restore``: the backup's public key must be the backup key's; the sessions are
   downloaded whole, the version checked again, and only then imported.

What is kept (``DeviceTrust``, in the crypto store's directory, 0600): that the device is
verified, and the backup key with its version, so that an event found undecryptable later
is looked up in the backup, and room keys that arrive are uploaded to it. The recovery key
and the secret storage key are never written anywhere, and nothing here logs a secret.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final

from app.matrix import secrets
from app.matrix.client import MatrixClient
from app.matrix.errors import MatrixError
from app.store.files import write_atomic

log = logging.getLogger(__name__)

DEFAULT_KEY: Final = "m.secret_storage.default_key"
KEY_PREFIX: Final = "m.secret_storage.key."
MASTER: Final = "m.cross_signing.master"
SELF_SIGNING: Final = "m.cross_signing.self_signing"
BACKUP_SECRET: Final = "m.megolm_backup.v1"
BACKUP_ALGORITHM: Final = "m.megolm_backup.v1.curve25519-aes-sha2"
MEGOLM: Final = "m.megolm.v1.aes-sha2"
TRUST_FILE: Final = "trust.json"
# Sessions per backup upload request (Synapse takes far more; a bounded body is kinder).
UPLOAD_BATCH: Final = 200
# Sessions imported between two progress reports.
IMPORT_BATCH: Final = 250

BASE58: Final = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
SET_UP_HINT: Final = "set up a recovery key in Element (Settings > Security & Privacy) first"


class RecoveryError(Exception):
    """One line saying what went wrong and what to do; no secret in it."""


@dataclass(frozen=True)
class Unlocked:
    """What secret storage gave: the self-signing key's seed and the backup key (None when
    the account stores no backup key). Held in memory only."""

    self_signing_seed: bytes
    backup_key: bytes | None
    master_public: str | None


@dataclass(frozen=True)
class Restored:
    """What a restore from the key backup did."""

    version: str
    total: int
    imported: int
    known: int
    invalid: int


Progress = Callable[[int, int], None]


# ---- 1. unlocking secret storage -------------------------------------------------------


def looks_like_recovery_key(text: str) -> bool:
    """Whether the text is meant as a recovery key rather than a passphrase: base58
    characters only, about the length of one (48 without spaces)."""
    compact = "".join(text.split())
    return 40 <= len(compact) <= 60 and all(c in BASE58 for c in compact)


async def unlock(client: MatrixClient, secret: str, *, passphrase: bool | None = None) -> Unlocked:
    """Secret storage opened with the recovery key or passphrase ``secret`` (``passphrase``
    None: a recovery key when it looks like one). Raises ``RecoveryError``."""
    default = await _account_data(client, DEFAULT_KEY)
    key_id = default.get("key") if default else None
    if not isinstance(key_id, str) or not key_id:
        raise RecoveryError(f"this account has no secret storage: {SET_UP_HINT}")
    description = await _account_data(client, KEY_PREFIX + key_id)
    if description is None:
        raise RecoveryError(f"this account's secret storage key {key_id!r} is missing on the server: {SET_UP_HINT}")
    as_passphrase = passphrase if passphrase is not None else not looks_like_recovery_key(secret)
    try:
        if as_passphrase:
            key = secrets.key_from_description(description, passphrase=secret)
        else:
            key = secrets.key_from_description(description, recovery_key=secret)
    except secrets.WrongKeyError:
        what = "passphrase" if as_passphrase else "recovery key"
        raise RecoveryError(f"that {what} does not unlock this account's secret storage; check it and try again") from None
    except secrets.SecretsError as error:
        raise RecoveryError(str(error)) from None
    seed_text = await _secret(client, SELF_SIGNING, key_id, key)
    if seed_text is None:
        raise RecoveryError("this account's secret storage holds no self-signing key: set up cross-signing in Element first")
    try:
        seed = secrets.decode_seed(seed_text)
    except secrets.SecretsError as error:
        raise RecoveryError(f"the self-signing key in secret storage is unusable: {error}") from None
    master_text = await _secret(client, MASTER, key_id, key)
    master_public = None
    if master_text is not None:
        try:
            master_public = secrets.ed25519_public_key(secrets.decode_seed(master_text))
        except secrets.SecretsError:
            master_public = None
    backup_text = await _secret(client, BACKUP_SECRET, key_id, key)
    backup_key = None
    if backup_text is not None:
        try:
            backup_key = secrets.decode_key(backup_text, "the backup key")
        except secrets.SecretsError:
            raise RecoveryError("the key backup's key in secret storage is not a 32-byte key; reset the backup in Element") from None
    return Unlocked(seed, backup_key, master_public)


async def _account_data(client: MatrixClient, event_type: str) -> dict[str, Any] | None:
    try:
        return await client.account_data(event_type)
    except MatrixError as error:
        raise RecoveryError(f"cannot read {event_type} from the homeserver: {error}") from None


async def _secret(client: MatrixClient, name: str, key_id: str, key: bytes) -> str | None:
    """The secret ``name`` decrypted with the storage key, None when it is not stored."""
    content = await _account_data(client, name)
    if content is None:
        return None
    encrypted = content.get("encrypted")
    if not isinstance(encrypted, dict) or not encrypted:
        return None
    entry = encrypted.get(key_id)
    if not isinstance(entry, dict):
        raise RecoveryError(f"{name} is encrypted with another secret storage key than the default; "
                            "reset secret storage in Element, or use that key")
    try:
        return secrets.decrypt_secret(key, name, entry)
    except secrets.TamperedSecretError:
        raise RecoveryError(f"{name} in secret storage fails its integrity check (MAC mismatch): nothing was used; "
                            "it may have been tampered with, reset it in Element") from None
    except secrets.SecretsError as error:
        raise RecoveryError(f"{name} in secret storage is unreadable: {error}") from None


# ---- 2. cross-signing this device ------------------------------------------------------


def _published(answer: Mapping[str, Any], field: str, user_id: str) -> tuple[str, dict[str, Any]] | None:
    """A cross-signing key the server publishes: its public key and the signed object."""
    by_user = answer.get(field)
    key = by_user.get(user_id) if isinstance(by_user, dict) else None
    if not isinstance(key, dict) or not isinstance(key.get("keys"), dict):
        return None
    values = [value for name, value in key["keys"].items() if isinstance(name, str) and name.startswith("ed25519:")]
    if len(values) != 1 or not isinstance(values[0], str):
        return None
    return values[0], key


async def cross_sign(client: MatrixClient, identity: Mapping[str, str], unlocked: Unlocked) -> str:
    """Sign this device's keys with the self-signing key and upload the signature, after
    checking the key against what the server publishes. The self-signing public key."""
    user_id, device_id = client.user_id, client.device_id
    assert device_id is not None
    try:
        answer = await client.keys_query({"device_keys": {user_id: [device_id]}})
    except MatrixError as error:
        raise RecoveryError(f"cannot fetch your cross-signing keys: {error}") from None
    master = _published(answer, "master_keys", user_id)
    self_signing = _published(answer, "self_signing_keys", user_id)
    if master is None or self_signing is None:
        raise RecoveryError("the homeserver publishes no cross-signing keys for you: set up cross-signing in Element first")
    master_public, _ = master
    ssk_public, ssk_object = self_signing
    if secrets.ed25519_public_key(unlocked.self_signing_seed) != ssk_public:
        raise RecoveryError("the self-signing key in secret storage is not the one the server publishes for you; "
                            "reset cross-signing in Element, then verify again")
    if unlocked.master_public is not None and unlocked.master_public != master_public:
        raise RecoveryError("the master key in secret storage is not the one the server publishes for you; "
                            "reset cross-signing in Element, then verify again")
    if not secrets.verify_json(ssk_object, master_public, user_id, master_public):
        raise RecoveryError("the server's self-signing key is not signed by your master key; reset cross-signing in Element")
    devices = answer.get("device_keys")
    mine = devices.get(user_id, {}).get(device_id) if isinstance(devices, dict) and isinstance(devices.get(user_id), dict) else None
    if not isinstance(mine, dict):
        raise RecoveryError("the homeserver has no keys for this device yet; start readmark once, then verify again")
    keys = mine.get("keys") if isinstance(mine.get("keys"), dict) else {}
    if (keys.get(f"ed25519:{device_id}") != identity.get("ed25519")
            or keys.get(f"curve25519:{device_id}") != identity.get("curve25519")
            or not secrets.verify_json(mine, identity["ed25519"], user_id, device_id)):
        raise RecoveryError("the homeserver's copy of this device's keys is not this device's; log out and in again")
    unsigned = {name: value for name, value in mine.items() if name not in ("signatures", "unsigned")}
    signed = secrets.sign_json(unsigned, unlocked.self_signing_seed, user_id, ssk_public)
    try:
        result = await client.signatures_upload({user_id: {device_id: signed}})
    except MatrixError as error:
        raise RecoveryError(f"the homeserver refused this device's signature: {error}") from None
    failure = _first_failure(result.get("failures"))
    if failure is not None:
        raise RecoveryError(f"the homeserver refused this device's signature ({failure})")
    return ssk_public


def _first_failure(failures: object) -> str | None:
    """``/keys/signatures/upload``'s first failure (user -> key -> error), as one line."""
    if not isinstance(failures, dict) or not failures:
        return None
    for by_key in failures.values():
        for error in (by_key.values() if isinstance(by_key, dict) else ()):
            if isinstance(error, dict):
                return " ".join(f"{error.get('errcode', '')}: {error.get('error', '')}".split())[:200]
    return "no reason given"


async def device_signed(client: MatrixClient, ssk_public: str) -> bool:
    """Whether the server shows this device signed by the self-signing key ``ssk_public``."""
    user_id, device_id = client.user_id, client.device_id
    answer = await client.keys_query({"device_keys": {user_id: [device_id]}})
    devices = answer.get("device_keys", {})
    mine = devices.get(user_id, {}).get(device_id) if isinstance(devices, dict) else None
    return isinstance(mine, dict) and secrets.verify_json(mine, ssk_public, user_id, ssk_public)


# ---- 3. the key backup -------------------------------------------------------------------


async def current_backup(client: MatrixClient, backup_key: bytes) -> str:
    """The version of the current key backup, checked to be the backup of ``backup_key``."""
    try:
        info = await client.backup_version()
    except MatrixError as error:
        raise RecoveryError(f"cannot read the key backup's version: {error}") from None
    if info is None:
        raise RecoveryError("this account has no key backup on the server; turn it on in Element (Settings > Security)")
    version, auth = info.get("version"), info.get("auth_data")
    if info.get("algorithm") != BACKUP_ALGORITHM or not isinstance(version, str) or not isinstance(auth, dict):
        raise RecoveryError(f"the key backup uses an algorithm readmark does not know ({str(info.get('algorithm'))[:60]})")
    if auth.get("public_key") != secrets.backup_public_key(backup_key):
        raise RecoveryError("the key backup on the server is not the one the key in secret storage opens; "
                            "it was reset elsewhere: reset secret storage in Element")
    return version


def backup_sessions(answer: Mapping[str, Any], backup_key: bytes) -> tuple[list[dict[str, Any]], int]:
    """The key export entries of a ``GET /room_keys/keys`` answer, decrypted; and how many
    entries could not be decrypted."""
    sessions: list[dict[str, Any]] = []
    invalid = 0
    rooms = answer.get("rooms")
    for room_id, room in (rooms.items() if isinstance(rooms, dict) else ()):
        entries = room.get("sessions") if isinstance(room, dict) else None
        for session_id, data in (entries.items() if isinstance(entries, dict) else ()):
            try:
                plain = secrets.backup_decrypt(backup_key, data["session_data"])
                if not isinstance(plain, dict):
                    raise secrets.SecretsError("not an object")
            except (secrets.SecretsError, KeyError, TypeError):
                invalid += 1
                continue
            sessions.append({**plain, "room_id": room_id, "session_id": session_id})
    return sessions, invalid


async def restore(
    client: MatrixClient,
    backup_key: bytes,
    import_sessions: Callable[[list[dict[str, Any]]], tuple[int, int, int]],
    progress: Progress | None = None,
) -> Restored:
    """Every session of the current backup, downloaded whole and imported in batches.
    ``import_sessions`` returns (imported, known, invalid). A download that fails, or a
    backup whose version changed meanwhile, imports nothing (``RecoveryError``)."""
    version = await current_backup(client, backup_key)
    try:
        answer = await _with_retries(lambda: client.backup_keys(version))
    except MatrixError as error:
        raise RecoveryError(f"the key backup's download failed ({error}); nothing was imported: run it again") from None
    try:
        again = await client.backup_version()
    except MatrixError as error:
        raise RecoveryError(f"cannot check the key backup's version after the download ({error}); run it again") from None
    if again is None or again.get("version") != version:
        new = again.get("version") if again else "none"
        raise RecoveryError(f"the key backup changed during the download (version {version} -> {new}); "
                            "nothing was imported: run it again")
    sessions, invalid = backup_sessions(answer, backup_key)
    total = len(sessions) + invalid
    imported = known = 0
    done = invalid  # the entries that did not decrypt are done with
    if progress is not None:
        progress(done, total)
    for start in range(0, len(sessions), IMPORT_BATCH):
        batch = sessions[start:start + IMPORT_BATCH]
        new, old, bad = import_sessions(batch)
        imported, known, invalid = imported + new, known + old, invalid + bad
        done += len(batch)
        if progress is not None:
            progress(done, total)
    return Restored(version, total, imported, known, invalid)


async def _with_retries(call: Callable[[], Any], attempts: int = 4) -> Any:
    """A download asked again after a 429 or a 5xx (as the server says, or backing off)."""
    import asyncio

    from app.matrix.retry import retry_delay

    for attempt in range(attempts):
        try:
            return await call()
        except MatrixError as error:
            if not error.is_retryable or attempt == attempts - 1:
                raise
            await asyncio.sleep(min(retry_delay(error, attempt), 10.0))
    raise AssertionError("unreachable")


def backup_entry(session: Mapping[str, Any], backup_key_public: str) -> dict[str, Any]:
    """A session (a key export entry with ``first_known_index``) as ``KeyBackupData``."""
    plain = {
        "algorithm": MEGOLM,
        "sender_key": session["sender_key"],
        "session_key": session["session_key"],
        "sender_claimed_keys": dict(session["sender_claimed_keys"]),
        "forwarding_curve25519_key_chain": list(session.get("forwarding_curve25519_key_chain") or ()),
    }
    chain = plain["forwarding_curve25519_key_chain"]
    return {
        "first_message_index": int(session.get("first_known_index", 0)),
        "forwarded_count": len(chain),
        "is_verified": False,
        "session_data": secrets.backup_encrypt(backup_key_public, plain),
    }


async def upload(client: MatrixClient, version: str, backup_key: bytes, sessions: Iterable[Mapping[str, Any]]) -> int:
    """Sessions encrypted to the backup and uploaded, in batches; how many. Raises
    ``MatrixError`` (a 403 ``M_WRONG_ROOM_KEYS_VERSION``: the backup was replaced)."""
    public = secrets.backup_public_key(backup_key)
    pending = list(sessions)
    for start in range(0, len(pending), UPLOAD_BATCH):
        rooms: dict[str, Any] = {}
        for session in pending[start:start + UPLOAD_BATCH]:
            rooms.setdefault(session["room_id"], {"sessions": {}})["sessions"][session["session_id"]] = backup_entry(session, public)
        await client.backup_put(version, rooms)
    return len(pending)


# ---- the whole step ------------------------------------------------------------------------


Importer = Callable[[list[dict[str, Any]]], tuple[int, int, int]]


async def verify_device(client: MatrixClient, identity: Mapping[str, str], directory: Path, secret: str, *,
                        passphrase: bool | None, import_sessions: Importer,
                        progress: Progress | None = None) -> tuple[DeviceTrust, list[str]]:
    """Unlock, cross-sign, restore; the trust file written after each step that succeeded.
    The new trust and what was done, one line each. Raises ``RecoveryError`` (after a
    cross-signing that worked, saying so)."""
    unlocked = await unlock(client, secret, passphrase=passphrase)
    ssk = await cross_sign(client, identity, unlocked)
    trust = replace(load_trust(directory), verified=True, self_signing_key=ssk)
    save_trust(directory, trust)
    done = f"this device ({client.device_id}) is verified: cross-signed by {client.user_id}'s self-signing key"
    if unlocked.backup_key is None:
        return trust, [done, "no key backup key in secret storage: nothing to restore"]
    try:
        restored = await restore(client, unlocked.backup_key, import_sessions, progress)
    except RecoveryError as error:
        raise RecoveryError(f"{done}; but {error}") from None
    # Kept only now: a backup key in the trust file is one whose backup was restored whole.
    trust = replace(load_trust(directory), backup_version=restored.version, backup_key=unlocked.backup_key,
                    restored=True, uploading=True)
    save_trust(directory, trust)
    text = f"restored {restored.imported} room key(s) from the key backup (version {restored.version}); {restored.known} already known"
    if restored.invalid:
        text += f"; {restored.invalid} unusable"
    return trust, [done, text]


# ---- what is kept ------------------------------------------------------------------------


@dataclass(frozen=True)
class DeviceTrust:
    """What this device knows of its own standing: cross-signed or not, and the backup key
    (its version, whether it was restored, whether received keys go up to it)."""

    verified: bool = False
    self_signing_key: str | None = None
    backup_version: str | None = None
    backup_key: bytes | None = None
    restored: bool = False
    uploading: bool = False

    @property
    def backup(self) -> str:
        """``status --json``'s word: none, restored (key held, not uploading) or on."""
        if self.backup_key is None:
            return "none"
        return "on" if self.uploading else "restored"

    def describe(self) -> dict[str, Any]:
        return {"verified": self.verified, "backup": self.backup}


def device_state(device_id: str | None) -> dict[str, Any]:
    """``status --json``'s ``device``: verified, and the backup's state."""
    from app.matrix.crypto import store_directory

    if device_id is None:
        return DeviceTrust().describe()
    return load_trust(store_directory(device_id)).describe()


def load_trust(directory: Path) -> DeviceTrust:
    """The device's trust file; an unreadable or damaged one is no trust at all."""
    try:
        raw = json.loads((directory / TRUST_FILE).read_bytes())
    except (OSError, ValueError, RecursionError):
        return DeviceTrust()
    if not isinstance(raw, dict):
        return DeviceTrust()
    version = raw.get("backup_version") if isinstance(raw.get("backup_version"), str) else None
    ssk = raw.get("self_signing_key") if isinstance(raw.get("self_signing_key"), str) else None
    key = None
    if isinstance(raw.get("backup_key"), str) and version is not None:
        try:
            key = secrets.decode_key(raw["backup_key"], "the kept backup key")
        except secrets.SecretsError:
            key = None
    return DeviceTrust(
        verified=raw.get("verified") is True and ssk is not None,
        self_signing_key=ssk,
        backup_version=version if key is not None else None,
        backup_key=key,
        restored=raw.get("restored") is True and key is not None,
        uploading=raw.get("uploading") is True and key is not None,
    )


def save_trust(directory: Path, trust: DeviceTrust) -> None:
    """Written whole (0600), beside the crypto store."""
    body = {
        "verified": trust.verified,
        "self_signing_key": trust.self_signing_key,
        "backup_version": trust.backup_version,
        "backup_key": base64.b64encode(trust.backup_key).decode() if trust.backup_key is not None else None,
        "restored": trust.restored,
        "uploading": trust.uploading,
    }
    write_atomic(directory / TRUST_FILE, json.dumps(body).encode())

