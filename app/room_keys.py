"""``readmark keys import FILE`` and ``readmark keys export FILE``: room keys in Element's
key export format (``app.matrix.key_export``), with counts that say what happened.

Import: the file is decrypted here; the sessions go into the login's crypto store, or,
when another readmark owns the profile (and so the store), are handed to it, which
imports them and makes what waited for them readable at once. Export: every room key
held, encrypted with the passphrase; it needs the store, so not beside a running owner.
Problems are ``CommandError``s (one line, an exit code); the passphrase is never shown.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app import paths
from app.commands import CommandError, profile_owned
from app.matrix.crypto import CryptoDevice, CryptoStoreError
from app.matrix.key_export import (
    ExportedSession,
    KeyExportError,
    decrypt_export,
    encrypt_export,
)
from app.matrix.key_inbox import KEY_INBOX_DIR, Answer, KeyInbox
from app.matrix.session import Session
from app.store.files import write_atomic
from app.store.profile import Owner

# How long an import waits for the running readmark to answer.
OWNER_ANSWER_S = 20.0
MAX_EXPORT_FILE = 64 * 2**20


def _read(path: Path) -> bytes:
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_EXPORT_FILE + 1)
    except OSError as error:
        raise CommandError(f"cannot read {path}: {error.strerror or error}") from None
    if len(data) > MAX_EXPORT_FILE:
        raise CommandError(f"{path} is larger than any key export readmark reads (64 MiB)")
    return data


def _counts(imported: int, known: int, invalid: int, skipped: int = 0) -> str:
    text = f"imported {imported} room key(s); {known} already known"
    bad = invalid + skipped
    return text + (f"; {bad} skipped as unusable" if bad else "")


def hand_to_owner(user_id: str, owner: Owner, sessions: list[dict[str, Any]], timeout: float) -> Answer | None:
    """Room keys handed to the readmark that owns the profile (and its crypto store); its
    answer, or None when it did not answer within ``timeout``."""
    inbox = KeyInbox(paths.state_dir() / KEY_INBOX_DIR, user_id)
    try:
        request = inbox.hand_over(sessions)
    except OSError as error:
        raise CommandError(f"cannot hand the keys to {owner.describe()}: {error.strerror or error}") from None
    answer = inbox.wait_for_answer(request, timeout)
    if answer is not None and answer.error:
        raise CommandError(f"{owner.describe()} could not import the keys: {answer.error}")
    return answer


def import_keys(session: Session, path: Path, passphrase: str) -> str:
    try:
        contents = decrypt_export(_read(path), passphrase)
    except KeyExportError as error:
        raise CommandError(f"{path}: {error}") from None
    sessions = [s.to_json() for s in contents.sessions]
    with profile_owned("keys") as owner:
        if owner is not None:
            answer = hand_to_owner(session.user_id, owner, sessions, OWNER_ANSWER_S)
            if answer is None:
                return f"handed {len(sessions)} room key(s) to {owner.describe()}, which imports them when it next looks"
            return _counts(answer.imported, answer.known, answer.invalid, contents.skipped) + f" (by {owner.describe()})"
        device = _open(session)
        try:
            result = device.import_sessions(sessions)
        finally:
            device.close()
    return _counts(result.imported, result.known, result.invalid, contents.skipped)


def export_keys(session: Session, path: Path, passphrase: str) -> str:
    with profile_owned("keys") as owner:
        if owner is not None:
            raise CommandError(f"{owner.describe()} holds the crypto store: quit it, then export the keys")
        device = _open(session)
        try:
            exported = device.export_sessions()
        finally:
            device.close()
    sessions = [ExportedSession.from_json(entry) for entry in exported]
    try:
        text = encrypt_export(sessions, passphrase)
        write_atomic(path, text.encode())
    except (KeyExportError, ValueError) as error:
        raise CommandError(f"cannot export the keys: {error}") from None
    except OSError as error:
        raise CommandError(f"cannot write {path}: {error.strerror or error}") from None
    return f"exported {len(sessions)} room key(s) to {path}"


def _open(session: Session) -> CryptoDevice:
    try:
        return CryptoDevice.open(session.user_id, session.device_id)
    except CryptoStoreError as error:
        raise CommandError(str(error)) from None
