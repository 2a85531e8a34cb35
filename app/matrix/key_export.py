"""Megolm room-key export files, the format Element writes and reads (the spec's "Key exports").

This module owns the file format and nothing else: the ASCII armour, the encryption
(PBKDF2-HMAC-SHA-512 key derivation, AES-256-CTR, HMAC-SHA-256 over the whole body) and
the JSON array of ``ExportedSessionData`` inside. It is pure: no nio, no file or network
I/O, no logging. Handing the sessions to the crypto store and counting what was imported
is the caller's business.

Every failure to read a file is a ``KeyExportError`` whose message is one line naming what
is wrong with the file. No message carries the passphrase, a derived key or any plaintext.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

from Crypto.Cipher import AES

if TYPE_CHECKING:
    from Crypto.Cipher._mode_ctr import CtrMode

__all__ = [
    "DEFAULT_ROUNDS",
    "FOOTER",
    "HEADER",
    "MAX_EXPORT_BYTES",
    "MAX_ROUNDS",
    "MEGOLM_ALGORITHM",
    "ExportContents",
    "ExportedSession",
    "KeyExportError",
    "decrypt_armoured",
    "decrypt_export",
    "encrypt_armoured",
    "encrypt_export",
]

HEADER = "-----BEGIN MEGOLM SESSION DATA-----"
FOOTER = "-----END MEGOLM SESSION DATA-----"
MEGOLM_ALGORITHM = "m.megolm.v1.aes-sha2"

FORMAT_VERSION = 1
# Element's default; the spec asks for at least 100,000.
DEFAULT_ROUNDS = 500_000
# A file names its own round count, so a hostile one could ask for hours of PBKDF2; this
# bounds the work at a few seconds.
MAX_ROUNDS = 10_000_000
# Far above any real account's keys (about 1 KiB per session), small enough to hold in memory.
MAX_EXPORT_BYTES = 64 * 1024 * 1024

_SALT_BYTES = 16
_IV_BYTES = 16
_ROUNDS_BYTES = 4
_MAC_BYTES = 32
_HEAD_BYTES = 1 + _SALT_BYTES + _IV_BYTES + _ROUNDS_BYTES
_MIN_BODY_BYTES = _HEAD_BYTES + _MAC_BYTES
# Element base64-encodes 96 bytes per line (128 characters), so no line but the last is padded.
_BYTES_PER_LINE = 96
_BIT_63 = 0x80  # the top bit of IV byte 8, in the big-endian 128-bit IV
_WHITESPACE = re.compile(r"[ \t\r\n\f\v]+")
_BASE64_ALPHABET = re.compile(r"[A-Za-z0-9+/]*={0,2}")
# The spec names the flag `shared_history`; the Rust SDK (and so Element) reads and writes
# the MSC3061 names. Reading all of them and writing both the spec's and Element's keeps
# the flag in a file that goes either way.
_SHARED_HISTORY_KEYS = ("shared_history", "m.shared_history", "org.matrix.msc3061.shared_history")


class KeyExportError(ValueError):
    """A key export cannot be read (or a session entry is malformed). One line for the user."""


@dataclass(frozen=True, slots=True)
class ExportedSession:
    """One Megolm inbound session as the spec's ``ExportedSessionData`` describes it.

    ``session_key`` is the secret; it is kept out of the repr so a logged session leaks nothing.
    Construction validates every field and raises ``KeyExportError`` on a wrong type.
    """

    room_id: str
    session_id: str
    sender_key: str
    session_key: str = field(repr=False)
    sender_claimed_keys: Mapping[str, str] = field(default_factory=dict, hash=False)
    forwarding_curve25519_key_chain: tuple[str, ...] = ()
    shared_history: bool = False
    algorithm: str = MEGOLM_ALGORITHM

    def __post_init__(self) -> None:
        if self.algorithm != MEGOLM_ALGORITHM:
            raise KeyExportError(f"unsupported session algorithm {_short(self.algorithm)}")
        for name in ("room_id", "session_id", "sender_key", "session_key"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise KeyExportError(f"session field {name!r} is not a non-empty string")
        claimed = self.sender_claimed_keys
        if not isinstance(claimed, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in claimed.items()
        ):
            raise KeyExportError("session field 'sender_claimed_keys' is not a map of strings")
        chain = self.forwarding_curve25519_key_chain
        if isinstance(chain, (str, bytes)) or not isinstance(chain, Sequence) or not all(
            isinstance(key, str) for key in chain
        ):
            raise KeyExportError("session field 'forwarding_curve25519_key_chain' is not a list of strings")
        if not isinstance(self.shared_history, bool):
            raise KeyExportError("session field 'shared_history' is not a boolean")
        object.__setattr__(self, "sender_claimed_keys", MappingProxyType(dict(claimed)))
        object.__setattr__(self, "forwarding_curve25519_key_chain", tuple(chain))

    def __repr__(self) -> str:
        return f"ExportedSession(room_id={self.room_id!r}, session_id={self.session_id!r}, sender_key={self.sender_key!r})"

    def to_json(self) -> dict[str, object]:
        """The ``ExportedSessionData`` object, in the key order Element writes."""
        return {
            "algorithm": self.algorithm,
            "room_id": self.room_id,
            "sender_key": self.sender_key,
            "session_id": self.session_id,
            "session_key": self.session_key,
            "sender_claimed_keys": dict(self.sender_claimed_keys),
            "forwarding_curve25519_key_chain": list(self.forwarding_curve25519_key_chain),
            _SHARED_HISTORY_KEYS[0]: self.shared_history,
            _SHARED_HISTORY_KEYS[1]: self.shared_history,
        }

    @classmethod
    def from_json(cls, entry: object) -> ExportedSession:
        """One array entry of an export. Raises ``KeyExportError`` when it is malformed.

        A missing ``sender_claimed_keys`` or ``forwarding_curve25519_key_chain`` reads as
        empty, as the Rust SDK reads it; unknown fields are ignored.
        """
        if not isinstance(entry, dict):
            raise KeyExportError("session entry is not a JSON object")
        # An optional flag of the wrong type is read as false rather than losing the session.
        shared = next((entry[key] for key in _SHARED_HISTORY_KEYS if key in entry), False) is True
        chain = entry.get("forwarding_curve25519_key_chain", [])
        if not isinstance(chain, list):
            raise KeyExportError("session field 'forwarding_curve25519_key_chain' is not a list of strings")
        return cls(
            algorithm=entry.get("algorithm"),  # type: ignore[arg-type]  # validated in __post_init__
            room_id=entry.get("room_id"),  # type: ignore[arg-type]
            session_id=entry.get("session_id"),  # type: ignore[arg-type]
            sender_key=entry.get("sender_key"),  # type: ignore[arg-type]
            session_key=entry.get("session_key"),  # type: ignore[arg-type]
            sender_claimed_keys=entry.get("sender_claimed_keys", {}),
            forwarding_curve25519_key_chain=tuple(chain),
            shared_history=shared,
        )


@dataclass(frozen=True, slots=True)
class ExportContents:
    """What a file held: the sessions that parsed, and how many entries were skipped as malformed."""

    sessions: tuple[ExportedSession, ...]
    skipped: int


def decrypt_export(data: bytes | str, passphrase: str) -> ExportContents:
    """Read an export file's sessions. Malformed entries are counted in ``skipped``, not fatal."""
    plaintext = decrypt_armoured(data, passphrase)
    entries = _json_array(plaintext)
    sessions = []
    skipped = 0
    for entry in entries:
        try:
            sessions.append(ExportedSession.from_json(entry))
        except KeyExportError:
            skipped += 1
    return ExportContents(tuple(sessions), skipped)


def encrypt_export(
    sessions: Iterable[ExportedSession],
    passphrase: str,
    *,
    rounds: int = DEFAULT_ROUNDS,
    salt: bytes | None = None,
    iv: bytes | None = None,
) -> str:
    """The armoured export file for ``sessions``, as Element writes it (128-character lines)."""
    entries = [session.to_json() for session in sessions]
    plaintext = json.dumps(entries, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return encrypt_armoured(plaintext, passphrase, rounds=rounds, salt=salt, iv=iv)


def decrypt_armoured(data: bytes | str, passphrase: str) -> bytes:
    """The plaintext inside an armoured export, after checking its HMAC. No JSON parsing."""
    body = _unarmour(data)
    if body[0] != FORMAT_VERSION:
        raise KeyExportError(f"unsupported key export version {body[0]} (this readmark reads version 1)")
    if len(body) < _MIN_BODY_BYTES:
        raise KeyExportError(f"the key export is too short ({len(body)} bytes): the file is truncated")
    salt = body[1 : 1 + _SALT_BYTES]
    iv = body[1 + _SALT_BYTES : 1 + _SALT_BYTES + _IV_BYTES]
    rounds = int.from_bytes(body[_HEAD_BYTES - _ROUNDS_BYTES : _HEAD_BYTES], "big")
    if not 1 <= rounds <= MAX_ROUNDS:
        raise KeyExportError(f"the key export asks for {rounds:,} PBKDF2 rounds; readmark accepts 1 to {MAX_ROUNDS:,}")
    aes_key, mac_key = _derive_keys(passphrase, salt, rounds)
    expected = hmac.new(mac_key, body[:-_MAC_BYTES], hashlib.sha256).digest()
    if not hmac.compare_digest(expected, body[-_MAC_BYTES:]):
        raise KeyExportError("the key export does not verify: wrong passphrase, or the file was changed")
    return _ctr(aes_key, iv).decrypt(body[_HEAD_BYTES:-_MAC_BYTES])


def encrypt_armoured(
    plaintext: bytes,
    passphrase: str,
    *,
    rounds: int = DEFAULT_ROUNDS,
    salt: bytes | None = None,
    iv: bytes | None = None,
) -> str:
    """Encrypt and armour ``plaintext``. ``salt`` and ``iv`` are random unless given (for tests).

    A random IV has bit 63 cleared as the spec requires; a given IV with bit 63 set is
    refused, since a reader that counts in 64 bits and one that counts in 128 could then
    disagree. Programming errors raise ``ValueError``, never ``KeyExportError``.
    """
    if not passphrase:
        raise ValueError("a key export needs a non-empty passphrase")
    if not 1 <= rounds <= MAX_ROUNDS:
        raise ValueError(f"PBKDF2 rounds must be 1 to {MAX_ROUNDS:,}, not {rounds:,}")
    if salt is None:
        salt = os.urandom(_SALT_BYTES)
    if iv is None:
        iv = bytearray(os.urandom(_IV_BYTES))
        iv[8] &= ~_BIT_63 & 0xFF
        iv = bytes(iv)
    if len(salt) != _SALT_BYTES or len(iv) != _IV_BYTES:
        raise ValueError("the salt and the IV are 16 bytes each")
    if iv[8] & _BIT_63:
        raise ValueError("the IV must have bit 63 clear")
    aes_key, mac_key = _derive_keys(passphrase, salt, rounds)
    head = bytes([FORMAT_VERSION]) + salt + iv + rounds.to_bytes(_ROUNDS_BYTES, "big")
    signed = head + _ctr(aes_key, iv).encrypt(plaintext)
    body = signed + hmac.new(mac_key, signed, hashlib.sha256).digest()
    lines = [
        base64.b64encode(body[start : start + _BYTES_PER_LINE]).decode("ascii")
        for start in range(0, len(body), _BYTES_PER_LINE)
    ]
    armoured = "\n".join([HEADER, *lines, FOOTER]) + "\n"
    if len(armoured) > MAX_EXPORT_BYTES:
        raise ValueError("too many sessions for one key export: readers refuse a file this large")
    return armoured


def _unarmour(data: bytes | str) -> bytes:
    """The base64-decoded body between the armour lines.

    As Element reads it: text before the header and after the footer is ignored, each
    armour line may carry surrounding whitespace (CRLF included), and the base64 may be
    split into lines of any length, padded (Element) or not (the Rust SDK, matrix-nio).
    """
    if len(data) > MAX_EXPORT_BYTES:
        raise KeyExportError(f"the file is too large for a key export (over {MAX_EXPORT_BYTES // (1024 * 1024)} MiB)")
    text = data.decode("utf-8", errors="replace") if isinstance(data, (bytes, bytearray)) else data
    lines = text.lstrip("\ufeff").splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == HEADER), None)
    if start is None:
        raise KeyExportError(f"not a Megolm key export: no '{HEADER}' line")
    end = next((i for i in range(start + 1, len(lines)) if lines[i].strip() == FOOTER), None)
    if end is None:
        raise KeyExportError(f"the key export is truncated: no '{FOOTER}' line")
    encoded = _WHITESPACE.sub("", "".join(lines[start + 1 : end]))
    unpadded = encoded.rstrip("=")
    # Past these two checks the padded text always decodes.
    if not _BASE64_ALPHABET.fullmatch(encoded) or len(unpadded) % 4 == 1:
        raise KeyExportError("the key export is damaged: its body is not valid base64")
    body = base64.b64decode(unpadded + "=" * (-len(unpadded) % 4), validate=True)
    if not body:
        raise KeyExportError("the key export is empty")
    return body


def _derive_keys(passphrase: str, salt: bytes, rounds: int) -> tuple[bytes, bytes]:
    """(AES key, HMAC key): the first and last 32 bytes of PBKDF2-HMAC-SHA-512's 64."""
    try:
        secret = passphrase.encode("utf-8")
    except UnicodeEncodeError:
        secret = None
    if secret is None:
        raise KeyExportError("the passphrase cannot be encoded as UTF-8")
    derived = hashlib.pbkdf2_hmac("sha512", secret, salt, rounds, 64)
    return derived[:32], derived[32:]


def _ctr(aes_key: bytes, iv: bytes) -> CtrMode:
    """AES-256-CTR as Element's WebCrypto call (``length: 64``) runs it.

    The IV's first 8 bytes stay fixed and its last 8 count as a big-endian 64-bit
    counter that wraps within themselves. With bit 63 clear, as every writer sets it,
    this equals the 128-bit counter of the Rust SDK and matrix-nio for any file under
    2**63 blocks; only an IV near the 64-bit boundary tells them apart, and there this
    one decrypts what Element wrote.
    """
    return AES.new(aes_key, AES.MODE_CTR, nonce=iv[:8], initial_value=iv[8:])


def _json_array(plaintext: bytes) -> list[object]:
    # Parsed outside any except block so no traceback chain keeps the plaintext alive.
    # ValueError covers bad UTF-8, bad JSON and integers past Python's digit limit;
    # RecursionError, arrays nested thousands deep.
    try:
        entries = json.loads(plaintext.decode("utf-8"))
    except (ValueError, RecursionError):
        entries = None
    if not isinstance(entries, list):
        raise KeyExportError("the key export decrypted but does not hold a JSON array of sessions")
    return entries


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
