"""The key backup while readmark runs, for the process that owns the crypto store: room
keys that arrive over to-device messages go up to the backup (encrypted to its public
key, so the user's other devices can read what came while only readmark was online), and
an event that turns out undecryptable has its session looked up in the backup, once.

It acts only with the backup key that ``readmark verify`` kept in the device's trust file
(``app.matrix.recovery.DeviceTrust``), and reads that file again when it changes (a
``verify`` beside a running readmark). Sessions waiting for their upload are kept on
disk, so a quit before the upload does not leave them out of the backup.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Final

from app.matrix import recovery, secrets
from app.matrix.client import MatrixClient
from app.matrix.crypto import CryptoDevice, CryptoStoreError
from app.matrix.errors import MatrixError
from app.matrix.recovery import DeviceTrust, load_trust, save_trust
from app.store.files import write_atomic

log = logging.getLogger(__name__)

PENDING_FILE: Final = "backup-pending.json"
# Sessions the backup did not have, and when it said so: not asked again for an hour
# (a status bar runs ``readmark status`` every few seconds, each a new process).
ABSENT_FILE: Final = "backup-absent.json"
ASK_AGAIN_S: Final = 3600.0
MAX_ABSENT: Final = 10_000
# Sessions looked up in the backup after one sync, at most (the rest after the next).
LOOKUPS_PER_SYNC: Final = 20
MAX_PENDING: Final = 100_000


class KeyBackup:
    def __init__(self, device: CryptoDevice) -> None:
        self._device = device
        self._directory: Path = device.directory
        self._stamp: tuple[int, int] | None = None
        self.trust = DeviceTrust()
        self._pending: list[str] = _load_pending(self._directory)
        self._asked: set[str] = set()
        self._absent: dict[str, float] = _load_absent(self._directory)
        self.reload()

    def reload(self) -> bool:
        """Read the trust file again if it changed; whether it did."""
        try:
            stat = (self._directory / recovery.TRUST_FILE).stat()
            stamp = (stat.st_mtime_ns, stat.st_size)
        except OSError:
            stamp = None
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        self.trust = load_trust(self._directory)
        return True

    @property
    def uploading(self) -> bool:
        return self.trust.backup_key is not None and self.trust.uploading

    def received(self, session_ids: Iterable[str]) -> None:
        """Room keys that arrived from other devices: to upload after this sync."""
        known = set(self._pending)
        new = [session for session in dict.fromkeys(session_ids) if session not in known]
        if not new:
            return
        self._pending = (self._pending + new)[-MAX_PENDING:]
        self._save_pending()

    async def after_sync(self, client: MatrixClient, waiting: Mapping[str, Iterable[str]]) -> set[str]:
        """Upload what arrived, look up what is missing; the sessions imported from the backup."""
        self.reload()
        key, version = self.trust.backup_key, self.trust.backup_version
        if key is None or version is None:
            return set()
        if self.uploading and self._pending:
            await self._upload(client, version, key)
        return await self._look_up(client, version, key, waiting)

    async def _upload(self, client: MatrixClient, version: str, key: bytes) -> None:
        held = self._device.sessions_with_ids(self._pending)
        try:
            count = await recovery.upload(client, version, key, held)
        except MatrixError as error:
            if error.errcode == "M_WRONG_ROOM_KEYS_VERSION" or error.status == 404:
                log.warning("the key backup was replaced elsewhere: readmark stops uploading to it (readmark verify again)")
                self.trust = replace(self.trust, uploading=False)
                save_trust(self._directory, self.trust)
                self._stamp = None
            else:
                log.info("uploading room keys to the backup failed (%s); trying again after the next sync", error)
            return
        log.info("uploaded %d room key(s) to the key backup", count)
        self._pending = []
        self._save_pending()

    async def _look_up(self, client: MatrixClient, version: str, key: bytes,
                       waiting: Mapping[str, Iterable[str]]) -> set[str]:
        imported: set[str] = set()
        asked = 0
        for session_id, rooms in waiting.items():
            if session_id in self._asked or asked >= LOOKUPS_PER_SYNC:
                continue
            if time.time() - self._absent.get(session_id, float("-inf")) < ASK_AGAIN_S:
                continue
            self._asked.add(session_id)
            for room_id in rooms:
                asked += 1
                try:
                    data = await client.backup_keys(version, room_id, session_id)
                except MatrixError as error:
                    if error.status == 404:
                        self._note_absent(session_id)
                    else:
                        self._asked.discard(session_id)  # a fault, not an answer: ask again later
                        log.info("looking a room key up in the backup failed: %s", error)
                    continue
                try:
                    plain = secrets.backup_decrypt(key, data["session_data"])
                except (secrets.SecretsError, KeyError, TypeError):
                    log.info("a room key in the backup does not decrypt with the backup key")
                    continue
                try:
                    result = self._device.import_sessions([{**plain, "room_id": room_id, "session_id": session_id}])
                except CryptoStoreError as error:
                    log.warning("cannot import a room key from the backup: %s", error)
                    continue
                imported |= result.sessions
        return imported

    def _note_absent(self, session_id: str) -> None:
        self._absent[session_id] = time.time()
        if len(self._absent) > MAX_ABSENT:
            self._absent = dict(sorted(self._absent.items(), key=lambda item: item[1])[-MAX_ABSENT:])
        try:
            write_atomic(self._directory / ABSENT_FILE, json.dumps(self._absent).encode())
        except OSError as error:
            log.info("cannot record the room keys the backup lacks: %s", error)

    def _save_pending(self) -> None:
        try:
            write_atomic(self._directory / PENDING_FILE, json.dumps(self._pending).encode())
        except OSError as error:
            log.warning("cannot record the room keys waiting for the backup: %s", error)


def _load_absent(directory: Path) -> dict[str, float]:
    try:
        raw = json.loads((directory / ABSENT_FILE).read_bytes())
    except (OSError, ValueError, RecursionError):
        return {}
    if not isinstance(raw, dict):
        return {}
    return {k: float(v) for k, v in raw.items() if isinstance(k, str) and isinstance(v, (int, float))}


def _load_pending(directory: Path) -> list[str]:
    try:
        raw = json.loads((directory / PENDING_FILE).read_bytes())
    except (OSError, ValueError, RecursionError):
        return []
    return [item for item in raw if isinstance(item, str)][-MAX_PENDING:] if isinstance(raw, list) else []
