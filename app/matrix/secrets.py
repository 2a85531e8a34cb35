"""Secret storage (SSSS), the recovery key, cross-signing signatures and key-backup crypto.

This module owns the byte-level formats behind "enter your recovery key": the base58
recovery key, ``m.secret_storage.v1.aes-hmac-sha2`` (the key check and the secrets),
``m.pbkdf2`` passphrases, Matrix's canonical JSON and ed25519 JSON signatures, and the
``m.megolm_backup.v1.curve25519-aes-sha2`` session data. It is pure: no nio, no network
or file I/O, no event loop, no logging. Fetching account data and backups is the caller's.

Every failure is a ``SecretsError`` whose message is one line a user can act on. No
message carries a key, a passphrase, a secret or a plaintext.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import math
import os
import re
from collections.abc import Mapping

from functools import cache
from types import SimpleNamespace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from Crypto.PublicKey.ECC import EccKey


@cache
def _crypto() -> SimpleNamespace:
    """pycryptodome's modules, imported on first use: they cost tens of milliseconds to
    import, and a start that never touches secret storage or the key backup needs none
    of them before its first frame."""
    from Crypto.Cipher import AES
    from Crypto.Hash import SHA256
    from Crypto.Protocol import DH, KDF
    from Crypto.PublicKey import ECC
    from Crypto.Signature import eddsa
    from Crypto.Util import Padding

    return SimpleNamespace(AES=AES, SHA256=SHA256, DH=DH, KDF=KDF, ECC=ECC, eddsa=eddsa, Padding=Padding)

__all__ = [
    "BACKUP_ALGORITHM",
    "MAX_PBKDF2_ITERATIONS",
    "PBKDF2_ALGORITHM",
    "SSSS_ALGORITHM",
    "RecoveryKeyError",
    "SecretsError",
    "TamperedSecretError",
    "WrongKeyError",
    "backup_decrypt",
    "backup_encrypt",
    "backup_public_key",
    "canonical_json",
    "check_key",
    "decode_recovery_key",
    "decode_seed",
    "decrypt_secret",
    "ed25519_public_key",
    "encode_recovery_key",
    "encrypt_secret",
    "key_from_description",
    "make_key_description",
    "passphrase_key",
    "sign_json",
    "verify_json",
]

SSSS_ALGORITHM = "m.secret_storage.v1.aes-hmac-sha2"
PBKDF2_ALGORITHM = "m.pbkdf2"
BACKUP_ALGORITHM = "m.megolm_backup.v1.curve25519-aes-sha2"

_BASE58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BASE58_INDEX = {char: value for value, char in enumerate(_BASE58_ALPHABET)}
_RECOVERY_PREFIX = b"\x8b\x01"
_KEY_BYTES = 32
_RECOVERY_BYTES = len(_RECOVERY_PREFIX) + _KEY_BYTES + 1
# Every 35-byte string that starts 0x8B 0x01 is a 48-digit base58 number.
_RECOVERY_CHARS = 48
_IV_BYTES = 16
_MAC_BYTES = 32
_BACKUP_MAC_BYTES = 8
_ZERO_SALT = bytes(32)
# A key description names its own iteration count, so a hostile one could ask for hours
# of PBKDF2; this bounds the work at a few seconds (Element writes 500,000).
MAX_PBKDF2_ITERATIONS = 10_000_000
_MAX_PBKDF2_BITS = 4096
_CANONICAL_INT_LIMIT = 2**53 - 1
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")


class SecretsError(ValueError):
    """Secret storage, a signature or a backup cannot be used. One line for the user."""


class RecoveryKeyError(SecretsError):
    """The recovery key as typed is not a recovery key (a typo, most likely)."""


class WrongKeyError(SecretsError):
    """A well-formed key or passphrase that is not the one the data was made with."""


class TamperedSecretError(SecretsError):
    """A stored secret fails its MAC: changed on the server, or written with another key."""


# --- encodings ---------------------------------------------------------------------------


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _b64decode(text: object, what: str) -> bytes:
    """Standard base64, padded or not, as the spec asks readers to accept."""
    if not isinstance(text, str) or not _BASE64.fullmatch(text):
        raise SecretsError(f"{what} is not valid base64")
    unpadded = text.rstrip("=")
    if len(unpadded) % 4 == 1:
        raise SecretsError(f"{what} is not valid base64")
    return base64.b64decode(unpadded + "=" * (-len(unpadded) % 4), validate=True)


def _base58_encode(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    digits = []
    while number:
        number, digit = divmod(number, 58)
        digits.append(_BASE58_ALPHABET[digit])
    zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * zeros + "".join(reversed(digits))


def _base58_decode(text: str) -> bytes:
    number = 0
    for char in text:
        number = number * 58 + _BASE58_INDEX[char]
    zeros = len(text) - len(text.lstrip("1"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return b"\0" * zeros + body


def _shown(char: str) -> str:
    return f"'{char}'" if char.isprintable() and not char.isspace() else f"U+{ord(char):04X}"


def _parity(data: bytes) -> int:
    parity = 0
    for byte in data:
        parity ^= byte
    return parity


def decode_recovery_key(text: str) -> bytes:
    """The 32-byte key in a recovery key as Element shows it ("EsTj 3yST ..."); whitespace is ignored."""
    if not isinstance(text, str):
        raise RecoveryKeyError("the recovery key must be text")
    chars = "".join(text.split())
    if not chars:
        raise RecoveryKeyError("the recovery key is empty")
    for position, char in enumerate(chars, start=1):
        if char not in _BASE58_INDEX:
            hint = " (recovery keys have no 0, O, I or l)" if char in "0OIl" else ""
            raise RecoveryKeyError(
                f"the recovery key has a bad character {_shown(char)} at position {position}"
                f" (group {(position - 1) // 4 + 1}): check for a typo{hint}"
            )
    if len(chars) != _RECOVERY_CHARS:
        raise RecoveryKeyError(
            f"the recovery key has the wrong length: {len(chars)} characters where it needs"
            f" {_RECOVERY_CHARS} (12 groups of 4)"
        )
    decoded = _base58_decode(chars)
    if len(decoded) != _RECOVERY_BYTES or not decoded.startswith(_RECOVERY_PREFIX):
        raise RecoveryKeyError(
            "the recovery key has a bad prefix (every recovery key starts with 'Es'): check for a typo,"
            " most likely in the first groups"
        )
    if _parity(decoded) != 0:
        raise RecoveryKeyError("the recovery key's parity check failed: check for a typo")
    return decoded[len(_RECOVERY_PREFIX) : -1]


def encode_recovery_key(key: bytes) -> str:
    """The recovery key for a 32-byte key, in groups of 4 separated by spaces."""
    if not isinstance(key, (bytes, bytearray)) or len(key) != _KEY_BYTES:
        raise SecretsError(f"a recovery key holds a {_KEY_BYTES}-byte key")
    body = _RECOVERY_PREFIX + bytes(key)
    chars = _base58_encode(body + bytes([_parity(body)]))
    return " ".join(chars[i : i + 4] for i in range(0, len(chars), 4))


# --- secret storage keys -----------------------------------------------------------------


def passphrase_key(passphrase: str, salt: str, iterations: int, bits: int = 256) -> bytes:
    """PBKDF2-HMAC-SHA-512 of the passphrase; the salt is used as its UTF-8 bytes, as Element does."""
    if not isinstance(salt, str):
        raise SecretsError("the passphrase's salt in the key description is not a string")
    if not isinstance(iterations, int) or isinstance(iterations, bool) or not 1 <= iterations <= MAX_PBKDF2_ITERATIONS:
        raise SecretsError(
            f"the passphrase's iteration count in the key description is not a number from 1 to {MAX_PBKDF2_ITERATIONS:,}"
        )
    if not isinstance(bits, int) or isinstance(bits, bool) or not 8 <= bits <= _MAX_PBKDF2_BITS or bits % 8:
        raise SecretsError("the passphrase's key size in the key description is not a whole number of bytes")
    try:
        secret = passphrase.encode("utf-8")
        salt_bytes = salt.encode("utf-8")
    except UnicodeEncodeError:
        secret = salt_bytes = None
    if secret is None or salt_bytes is None:
        raise SecretsError("the passphrase or its salt cannot be encoded as UTF-8")
    return hashlib.pbkdf2_hmac("sha512", secret, salt_bytes, iterations, bits // 8)


def _require_ssss(description: object) -> Mapping[str, object]:
    if not isinstance(description, Mapping):
        raise SecretsError("the secret storage key description is not a JSON object")
    algorithm = description.get("algorithm")
    if algorithm != SSSS_ALGORITHM:
        shown = repr(algorithm)[:60] if algorithm is not None else "no algorithm"
        raise SecretsError(f"the secret storage key uses {shown}, which readmark does not support (only {SSSS_ALGORITHM})")
    return description


def _check_bytes(key: object) -> bytes:
    if not isinstance(key, (bytes, bytearray)) or not key:
        raise SecretsError("a secret storage key must be non-empty bytes")
    return bytes(key)


def _aes_hmac_keys(key: bytes, name: str) -> tuple[bytes, bytes]:
    """(AES key, MAC key): HKDF-SHA-256 over the key, zero salt, the secret's name as info."""
    crypto = _crypto()
    aes_key, mac_key = crypto.KDF.HKDF(key, 32, _ZERO_SALT, crypto.SHA256, num_keys=2, context=name.encode("utf-8"))
    return aes_key, mac_key


def _ctr(aes_key: bytes, iv: bytes, data: bytes) -> bytes:
    # WebCrypto's AES-CTR with ``length: 64``, as matrix-js-sdk calls it: the IV's last 8
    # bytes count and wrap within themselves. Bit 63 clear, as writers set it, makes this
    # agree with a 128-bit counter for any secret shorter than 2**63 blocks.
    crypto = _crypto()
    return crypto.AES.new(aes_key, crypto.AES.MODE_CTR, nonce=iv[:8], initial_value=iv[8:]).encrypt(data)


def _clear_bit_63(iv: bytes) -> bytes:
    return iv[:8] + bytes([iv[8] & 0x7F]) + iv[9:]


def _description_iv(encoded: object, what: str) -> bytes:
    iv = _b64decode(encoded, what)
    # nheko once wrote 32-byte IVs and used the first 16; mautrix reads them the same way.
    if len(iv) < _IV_BYTES:
        raise SecretsError(f"{what} is {len(iv)} bytes where it needs {_IV_BYTES}")
    return iv[:_IV_BYTES]


def _key_check_mac(key: bytes, iv: bytes) -> bytes:
    aes_key, mac_key = _aes_hmac_keys(key, "")
    return hmac.new(mac_key, _ctr(aes_key, iv, bytes(32)), hashlib.sha256).digest()


def check_key(key: bytes, description: dict) -> bool:
    """Whether ``key`` is the one a ``m.secret_storage.key.*`` description was made from.

    Without ``iv`` and ``mac`` the spec says to assume the key is right, so this is True.
    A damaged ``iv`` or ``mac`` raises ``SecretsError``: no key can match it.
    """
    key = _check_bytes(key)
    description = _require_ssss(description)
    encoded_iv, encoded_mac = description.get("iv"), description.get("mac")
    if not encoded_iv or not encoded_mac:
        return True
    iv = _description_iv(encoded_iv, "the secret storage key description's iv")
    mac = _b64decode(encoded_mac, "the secret storage key description's mac")
    if len(mac) != _MAC_BYTES:
        raise SecretsError(f"the secret storage key description's mac is {len(mac)} bytes where it needs {_MAC_BYTES}")
    return hmac.compare_digest(_key_check_mac(key, iv), mac)


def key_from_description(
    description: dict, *, recovery_key: str | None = None, passphrase: str | None = None
) -> bytes:
    """The secret storage key from a recovery key or passphrase, checked against the description."""
    if (recovery_key is None) == (passphrase is None):
        raise TypeError("give exactly one of recovery_key and passphrase")
    description = _require_ssss(description)
    if recovery_key is not None:
        key = decode_recovery_key(recovery_key)
        wrong = "that recovery key is not the one for this secret storage: check you have the newest one"
    else:
        settings = description.get("passphrase")
        if not settings:
            raise SecretsError("this secret storage key was not made from a passphrase: enter the recovery key instead")
        if not isinstance(settings, Mapping):
            raise SecretsError("the key description's passphrase settings are not a JSON object")
        if settings.get("algorithm") != PBKDF2_ALGORITHM:
            shown = repr(settings.get("algorithm"))[:60]
            raise SecretsError(
                f"the passphrase uses {shown}, which readmark does not support (only {PBKDF2_ALGORITHM}):"
                " enter the recovery key instead"
            )
        if not isinstance(passphrase, str):
            raise SecretsError("the passphrase must be text")
        key = passphrase_key(passphrase, settings.get("salt"), settings.get("iterations"), settings.get("bits", 256))
        wrong = "that passphrase is not the one for this secret storage: check for a typo"
    if not check_key(key, description):
        raise WrongKeyError(wrong)
    return key


def make_key_description(
    key: bytes, *, name: str | None = None, passphrase: dict | None = None, iv: bytes | None = None
) -> dict:
    """The ``m.secret_storage.key.*`` content for a new key, with the check other clients verify."""
    key = _check_bytes(key)
    iv = _new_iv(iv)
    description: dict[str, object] = {
        "algorithm": SSSS_ALGORITHM,
        "iv": _b64encode(iv),
        "mac": _b64encode(_key_check_mac(key, iv)),
    }
    if name is not None:
        description["name"] = name
    if passphrase is not None:
        description["passphrase"] = dict(passphrase)
    return description


def _new_iv(iv: bytes | None) -> bytes:
    """A random IV, or the given one; either way with bit 63 clear, as the spec generates it."""
    if iv is None:
        iv = os.urandom(_IV_BYTES)
    elif not isinstance(iv, (bytes, bytearray)) or len(iv) != _IV_BYTES:
        raise SecretsError(f"an IV is {_IV_BYTES} bytes")
    return _clear_bit_63(bytes(iv))


# --- secrets -----------------------------------------------------------------------------


def encrypt_secret(key: bytes, name: str, secret: str, iv: bytes | None = None) -> dict:
    """One entry of an account-data secret's ``encrypted`` map, in unpadded base64."""
    key = _check_bytes(key)
    iv = _new_iv(iv)
    try:
        plaintext = secret.encode("utf-8")
    except UnicodeEncodeError:
        plaintext = None
    if plaintext is None:
        raise SecretsError(f"the secret {name!r} cannot be encoded as UTF-8")
    aes_key, mac_key = _aes_hmac_keys(key, name)
    ciphertext = _ctr(aes_key, iv, plaintext)
    mac = hmac.new(mac_key, ciphertext, hashlib.sha256).digest()
    return {"iv": _b64encode(iv), "ciphertext": _b64encode(ciphertext), "mac": _b64encode(mac)}


def decrypt_secret(key: bytes, name: str, encrypted: dict) -> str:
    """The secret in one entry of an ``encrypted`` map, after its MAC checks out."""
    key = _check_bytes(key)
    if not isinstance(encrypted, Mapping):
        raise SecretsError(f"the stored secret {name!r} is not a JSON object")
    for field in ("iv", "ciphertext", "mac"):
        if field not in encrypted:
            raise SecretsError(f"the stored secret {name!r} has no {field}")
    iv = _description_iv(encrypted["iv"], f"the iv of the stored secret {name!r}")
    ciphertext = _b64decode(encrypted["ciphertext"], f"the ciphertext of the stored secret {name!r}")
    mac = _b64decode(encrypted["mac"], f"the mac of the stored secret {name!r}")
    if len(mac) != _MAC_BYTES:
        raise SecretsError(f"the mac of the stored secret {name!r} is {len(mac)} bytes where it needs {_MAC_BYTES}")
    aes_key, mac_key = _aes_hmac_keys(key, name)
    if not hmac.compare_digest(hmac.new(mac_key, ciphertext, hashlib.sha256).digest(), mac):
        raise TamperedSecretError(
            f"the stored secret {name!r} failed its integrity check: it was changed on the server"
            " or encrypted with a different key"
        )
    try:
        return _ctr(aes_key, iv, ciphertext).decode("utf-8")
    except UnicodeDecodeError:
        pass
    raise SecretsError(f"the stored secret {name!r} decrypted but is not UTF-8 text")


def decode_key(text: str, what: str) -> bytes:
    """A 32-byte key stored as base64 (padded or not): a cross-signing seed, the backup key."""
    key = _b64decode(text, what)
    if len(key) != _KEY_BYTES:
        raise SecretsError(f"{what} is {len(key)} bytes where it needs {_KEY_BYTES}")
    return key


def decode_seed(secret: str) -> bytes:
    """The 32-byte ed25519 seed in a cross-signing secret (base64, as the spec stores it)."""
    return decode_key(secret, "the stored cross-signing key")


# --- canonical JSON and signatures -------------------------------------------------------


def _canonical_value(value: object) -> object:
    """The value with integral floats as ints; anything canonical JSON cannot hold refused."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise SecretsError("canonical JSON holds only integers, not fractions")
        value = int(value)
    if isinstance(value, int):
        if abs(value) > _CANONICAL_INT_LIMIT:
            raise SecretsError("canonical JSON holds only integers within ±(2**53 - 1)")
        return value
    if isinstance(value, Mapping):
        if not all(isinstance(k, str) for k in value):
            raise SecretsError("canonical JSON objects have only string keys")
        return {k: _canonical_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical_value(v) for v in value]
    raise SecretsError(f"canonical JSON cannot hold a {type(value).__name__}")


def canonical_json(value: object) -> bytes:
    """The spec's canonical JSON: sorted keys, no whitespace, UTF-8 rather than escapes."""
    try:
        text = json.dumps(
            _canonical_value(value), ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False
        )
    except RecursionError:
        text = None
    if text is None:
        raise SecretsError("the JSON is nested too deeply to sign")
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        pass
    raise SecretsError("the JSON holds a string that is not valid Unicode")


def _signing_key(seed: bytes) -> EccKey:
    crypto = _crypto()
    if not isinstance(seed, (bytes, bytearray)) or len(seed) != _KEY_BYTES:
        raise SecretsError(f"an ed25519 private key is a {_KEY_BYTES}-byte seed")
    return crypto.eddsa.import_private_key(bytes(seed))


def ed25519_public_key(seed: bytes) -> str:
    """The unpadded base64 public key of a 32-byte ed25519 seed."""
    return _b64encode(_signing_key(seed).public_key().export_key(format="raw"))


def _signable(value: Mapping[str, object]) -> bytes:
    return canonical_json({k: v for k, v in value.items() if k not in ("signatures", "unsigned")})


def sign_json(value: dict, seed: bytes, user_id: str, key_id: str) -> dict:
    """A copy of ``value`` with this key's signature added beside any it already has."""
    crypto = _crypto()
    if not isinstance(value, Mapping):
        raise SecretsError("only a JSON object can be signed")
    signer = crypto.eddsa.new(_signing_key(seed), "rfc8032")
    signature = _b64encode(signer.sign(_signable(value)))
    signed = copy.deepcopy(dict(value))
    signatures = signed.get("signatures")
    if not isinstance(signatures, dict):
        signatures = signed["signatures"] = {}
    by_user = signatures.get(user_id)
    if not isinstance(by_user, dict):
        by_user = signatures[user_id] = {}
    by_user[f"ed25519:{key_id}"] = signature
    return signed


def verify_json(value: dict, public_key: str, user_id: str, key_id: str) -> bool:
    """Whether ``value`` carries a valid ``ed25519:key_id`` signature by ``user_id`` under this key."""
    crypto = _crypto()
    if not isinstance(value, Mapping):
        return False
    signatures = value.get("signatures")
    by_user = signatures.get(user_id) if isinstance(signatures, Mapping) else None
    encoded = by_user.get(f"ed25519:{key_id}") if isinstance(by_user, Mapping) else None
    try:
        signature = _b64decode(encoded, "the signature")
        raw_key = _b64decode(public_key, "the public key")
        message = _signable(value)
        verifier = crypto.eddsa.new(crypto.eddsa.import_public_key(raw_key), "rfc8032")
        verifier.verify(message, signature)
    except ValueError:  # SecretsError too: bad base64, bad key, unsignable JSON, bad signature
        return False
    return True


# --- key backup --------------------------------------------------------------------------


def _backup_private(private_key: bytes) -> EccKey:
    crypto = _crypto()
    if not isinstance(private_key, (bytes, bytearray)) or len(private_key) != _KEY_BYTES:
        raise SecretsError(f"a backup key is {_KEY_BYTES} bytes")
    return crypto.DH.import_x25519_private_key(bytes(private_key))


def _backup_keys(private: EccKey, public: EccKey) -> tuple[bytes, bytes, bytes]:
    """(AES key, MAC key, IV) from HKDF-SHA-256 over the X25519 shared secret."""
    crypto = _crypto()
    shared = crypto.DH.key_agreement(static_priv=private, static_pub=public, kdf=lambda secret: secret)
    if not any(shared):
        raise SecretsError("the backed-up key names an ephemeral key that gives no shared secret")
    derived = crypto.KDF.HKDF(shared, 80, _ZERO_SALT, crypto.SHA256, context=b"")
    return derived[:32], derived[32:64], derived[64:]


def _empty_mac(mac_key: bytes) -> bytes:
    # The spec's known flaw, kept by every implementation since libolm: the MAC covers
    # the empty string, not the ciphertext, so it proves only that the keys match.
    return hmac.new(mac_key, b"", hashlib.sha256).digest()


def backup_public_key(private_key: bytes) -> str:
    """The unpadded base64 curve25519 public key (the backup's ``auth_data.public_key``)."""
    return _b64encode(_backup_private(private_key).public_key().export_key(format="raw"))


def _backup_public(public_key: object) -> EccKey:
    crypto = _crypto()
    raw = _b64decode(public_key, "the backup's public key")
    if len(raw) != _KEY_BYTES:
        raise SecretsError(f"the backup's public key is {len(raw)} bytes where it needs {_KEY_BYTES}")
    try:
        return crypto.DH.import_x25519_public_key(raw)
    except ValueError:
        pass
    raise SecretsError("the backup's public key is not a usable curve25519 key")


def backup_encrypt(public_key: str, session_data: dict) -> dict:
    """``session_data`` for one backed-up room key: {"ephemeral", "ciphertext", "mac"}."""
    crypto = _crypto()
    backup_key = _backup_public(public_key)
    ephemeral = crypto.ECC.generate(curve="Curve25519")
    aes_key, mac_key, iv = _backup_keys(ephemeral, backup_key)
    padded = crypto.Padding.pad(canonical_json(session_data), crypto.AES.block_size)
    ciphertext = crypto.AES.new(aes_key, crypto.AES.MODE_CBC, iv=iv).encrypt(padded)
    return {
        "ephemeral": _b64encode(ephemeral.public_key().export_key(format="raw")),
        "ciphertext": _b64encode(ciphertext),
        "mac": _b64encode(_empty_mac(mac_key)[:_BACKUP_MAC_BYTES]),
    }


def backup_decrypt(private_key: bytes, session_data: dict) -> dict:
    """The ``BackedUpSessionData`` JSON object inside one backed-up room key's ``session_data``.

    A MAC mismatch is a ``WrongKeyError``: the MAC covers no ciphertext, so it fails only
    when the key (or the ephemeral key beside it) is not the one it was made with.
    """
    crypto = _crypto()
    private = _backup_private(private_key)
    if not isinstance(session_data, Mapping):
        raise SecretsError("the backed-up key's session_data is not a JSON object")
    for field in ("ephemeral", "ciphertext", "mac"):
        if field not in session_data:
            raise SecretsError(f"the backed-up key's session_data has no {field}")
    ephemeral_raw = _b64decode(session_data["ephemeral"], "the backed-up key's ephemeral key")
    ciphertext = _b64decode(session_data["ciphertext"], "the backed-up key's ciphertext")
    mac = _b64decode(session_data["mac"], "the backed-up key's mac")
    if len(ephemeral_raw) != _KEY_BYTES:
        raise SecretsError(f"the backed-up key's ephemeral key is {len(ephemeral_raw)} bytes where it needs {_KEY_BYTES}")
    # libolm writes 8 bytes; vodozemac reads any prefix. Fewer than 8 would check almost nothing.
    if not _BACKUP_MAC_BYTES <= len(mac) <= _MAC_BYTES:
        raise SecretsError(f"the backed-up key's mac is {len(mac)} bytes where it needs {_BACKUP_MAC_BYTES}")
    if not ciphertext or len(ciphertext) % crypto.AES.block_size:
        raise SecretsError("the backed-up key's ciphertext is damaged: not a whole number of AES blocks")
    try:
        ephemeral = crypto.DH.import_x25519_public_key(ephemeral_raw)
    except ValueError:
        ephemeral = None
    if ephemeral is None:
        raise SecretsError("the backed-up key's ephemeral key is not a usable curve25519 key")
    aes_key, mac_key, iv = _backup_keys(private, ephemeral)
    if not hmac.compare_digest(_empty_mac(mac_key)[: len(mac)], mac):
        raise WrongKeyError("this backed-up room key does not match the backup key: it is for another backup or damaged")
    plaintext = crypto.AES.new(aes_key, crypto.AES.MODE_CBC, iv=iv).decrypt(ciphertext)
    # Parsed outside any except block so no traceback chain keeps the plaintext alive.
    try:
        parsed = json.loads(crypto.Padding.unpad(plaintext, crypto.AES.block_size).decode("utf-8"))
    except (ValueError, RecursionError):
        parsed = None
    if not isinstance(parsed, dict):
        raise SecretsError("the backed-up room key is damaged: it does not decrypt to a JSON object")
    return parsed
