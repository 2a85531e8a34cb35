"""``readmark verify`` (and the step ``readmark login`` offers): the recovery key or its
passphrase unlocks secret storage, this device is cross-signed, and the room keys of the
key backup are restored (``app.matrix.recovery`` does each step and its checks).

The device's trust file is written only after each step succeeded: "verified" once the
server took the signature, the backup key once the backup was found to be its own (so a
restore cut short resumes, and later undecryptable events are looked up in the backup),
"restored" once every session was imported. Beside a running readmark, which holds the
crypto store, the restored keys are handed to it (``app.matrix.key_inbox``), and it reads
the new trust file when it next syncs.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from app.commands import CommandError, profile_owned
from app.matrix import recovery
from app.matrix.client import MatrixClient
from app.matrix.crypto import CryptoDevice, CryptoStoreError, recorded_identity, store_directory
from app.matrix.encryption import exchange_keys
from app.matrix.errors import MatrixError
from app.matrix.recovery import RecoveryError
from app.matrix.session import Session
from app.room_keys import hand_to_owner
from app.store.files import private_dir

OWNER_ANSWER_S = 60.0


def verify(session: Session, secret: str, *, passphrase: bool | None = None, progress: bool = False) -> str:
    """Run the three steps; what they did, one line each. Raises ``CommandError``."""
    with profile_owned("verify") as owner:
        device = None
        if owner is None:
            try:
                device = CryptoDevice.open(session.user_id, session.device_id)
            except CryptoStoreError as error:
                raise CommandError(str(error)) from None
        try:
            return asyncio.run(_verify(session, secret, passphrase, device, owner, progress))
        finally:
            if device is not None:
                device.close()


async def _verify(session: Session, secret: str, passphrase: bool | None, device: CryptoDevice | None,
                  owner: Any, progress: bool) -> str:
    identity = device.identity_keys if device is not None else recorded_identity(session.device_id)
    if identity is None:
        raise CommandError("this device has no encryption keys yet: start readmark once, then verify")
    directory = store_directory(session.device_id)
    private_dir(directory)
    async with MatrixClient.from_session(session) as client:
        try:
            if device is not None:
                # A login whose key upload failed uploads it now: the signature needs it.
                await exchange_keys(client, device)
            _, lines = await recovery.verify_device(
                client, identity, directory, secret, passphrase=passphrase,
                import_sessions=_importer(session, device, owner), progress=_progress if progress else None,
            )
        except (RecoveryError, MatrixError, CryptoStoreError) as error:
            raise CommandError(str(error)) from None
        finally:
            if progress:
                print(file=sys.stderr)
    if owner is not None and len(lines) > 1:
        lines[-1] += f" (imported by {owner.describe()})"
    return "\n".join(lines)


def _importer(session: Session, device: CryptoDevice | None, owner: Any):
    if device is not None:
        def into_store(sessions: list[dict[str, Any]]) -> tuple[int, int, int]:
            result = device.import_sessions(sessions)
            return result.imported, result.known, result.invalid
        return into_store

    def to_owner(sessions: list[dict[str, Any]]) -> tuple[int, int, int]:
        answer = hand_to_owner(session.user_id, owner, sessions, OWNER_ANSWER_S)
        if answer is None:
            raise CommandError(f"{owner.describe()} did not take the restored keys in time; run readmark verify again")
        return answer.imported, answer.known, answer.invalid
    return to_owner


def _progress(done: int, total: int) -> None:
    width = 30
    filled = width * done // total if total else width
    print(f"\rrestoring room keys [{'#' * filled}{'.' * (width - filled)}] {done}/{total}", end="", file=sys.stderr, flush=True)
