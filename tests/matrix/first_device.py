"""The user's first device, as the spec describes it, for the recovery key tests: it
creates the cross-signing keys and uploads them (with the password step the server asks
for), signs its own device, creates a secret storage key from a recovery key (or a
passphrase), stores the three cross-signing secrets and the backup key in it, creates a
backup version signed by the master key, and uploads the room keys it holds to it.

It is a matrix-nio client of the user's own (``EncryptingPeer``, another device of the
same account), so the room keys it backs up are ones a real client received.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.devserver.actor import MatrixActor, MatrixHttpError
from app.matrix import secrets
from app.matrix.encrypting_peer import EncryptingPeer
from app.matrix.recovery import BACKUP_ALGORITHM, backup_entry

CLIENT_V3 = "/_matrix/client/v3"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


@dataclass
class FirstDevice:
    """The first device of ``actor``'s account and the secrets it made."""

    actor: MatrixActor
    password: str
    peer: EncryptingPeer
    master: bytes = field(default_factory=lambda: os.urandom(32))
    self_signing: bytes = field(default_factory=lambda: os.urandom(32))
    user_signing: bytes = field(default_factory=lambda: os.urandom(32))
    storage_key: bytes = field(default_factory=lambda: os.urandom(32))
    backup_key: bytes = field(default_factory=lambda: os.urandom(32))
    key_id: str = field(default_factory=lambda: os.urandom(16).hex())
    backup_version: str | None = None

    @classmethod
    async def create(cls, base_url: str, user: MatrixActor, store: Path) -> FirstDevice:
        """Log in as a new device of ``user`` (registered with the devserver's password)."""
        password = f"pw-{user.user_id[1:].split(':')[0]}"
        actor = MatrixActor.login(base_url, user.user_id, password)
        peer = EncryptingPeer(base_url, actor.user_id, actor.device_id, actor.access_token, store)
        await peer.start()
        return cls(actor, password, peer)

    @property
    def user_id(self) -> str:
        return self.actor.user_id

    @property
    def recovery_key(self) -> str:
        return secrets.encode_recovery_key(self.storage_key)

    def public(self, seed: bytes) -> str:
        return secrets.ed25519_public_key(seed)

    # ---- cross-signing -----------------------------------------------------------------

    def cross_signing_keys(self) -> dict[str, Any]:
        user, master_pub = self.user_id, self.public(self.master)
        master = {"user_id": user, "usage": ["master"], "keys": {f"ed25519:{master_pub}": master_pub}}
        subkeys = {}
        for usage, seed in (("self_signing", self.self_signing), ("user_signing", self.user_signing)):
            pub = self.public(seed)
            subkeys[f"{usage}_key"] = secrets.sign_json(
                {"user_id": user, "usage": [usage], "keys": {f"ed25519:{pub}": pub}}, self.master, user, master_pub
            )
        return {"master_key": master, **subkeys}

    def upload_cross_signing(self) -> None:
        """``/keys/device_signing/upload``, through the password step when it is asked for."""
        body = self.cross_signing_keys()
        path = f"{CLIENT_V3}/keys/device_signing/upload"
        try:
            self.actor.request("POST", path, body)
        except MatrixHttpError as error:
            if error.status != 401 or "session" not in error.body:
                raise
            auth = {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": self.user_id},
                    "password": self.password, "session": error.body["session"]}
            self.actor.request("POST", path, {**body, "auth": auth})

    def sign_own_device(self) -> None:
        answer = self.actor.request("POST", f"{CLIENT_V3}/keys/query", {"device_keys": {self.user_id: []}})
        device = answer["device_keys"][self.user_id][self.actor.device_id]
        unsigned = {k: v for k, v in device.items() if k not in ("signatures", "unsigned")}
        ssk = self.public(self.self_signing)
        signed = secrets.sign_json(unsigned, self.self_signing, self.user_id, ssk)
        answer = self.actor.request("POST", f"{CLIENT_V3}/keys/signatures/upload",
                                    {self.user_id: {self.actor.device_id: signed}})
        assert not answer.get("failures"), answer

    # ---- secret storage ------------------------------------------------------------------

    def account_data(self, event_type: str, content: dict[str, Any]) -> None:
        self.actor.request("PUT", f"{CLIENT_V3}/user/{self.user_id}/account_data/{event_type}", content)

    def create_secret_storage(self, passphrase: str | None = None, iterations: int = 1000) -> None:
        """A default secret storage key from a random recovery key, or derived from
        ``passphrase`` (PBKDF2 with a salt, as Element makes it)."""
        info = None
        if passphrase is not None:
            salt = b64(os.urandom(24))
            info = {"algorithm": "m.pbkdf2", "salt": salt, "iterations": iterations, "bits": 256}
            self.storage_key = secrets.passphrase_key(passphrase, salt, iterations)
        description = secrets.make_key_description(self.storage_key, name="readmark test key", passphrase=info)
        self.account_data(f"m.secret_storage.key.{self.key_id}", description)
        self.account_data("m.secret_storage.default_key", {"key": self.key_id})

    def store_secret(self, name: str, value: str, key: bytes | None = None, key_id: str | None = None) -> None:
        encrypted = secrets.encrypt_secret(key or self.storage_key, name, value)
        self.account_data(name, {"encrypted": {key_id or self.key_id: encrypted}})

    def store_cross_signing_secrets(self) -> None:
        for name, seed in (("m.cross_signing.master", self.master), ("m.cross_signing.self_signing", self.self_signing),
                           ("m.cross_signing.user_signing", self.user_signing)):
            self.store_secret(name, b64(seed))

    # ---- key backup ----------------------------------------------------------------------

    def create_backup(self) -> str:
        master_pub = self.public(self.master)
        auth = secrets.sign_json({"public_key": secrets.backup_public_key(self.backup_key)}, self.master,
                                 self.user_id, master_pub)
        answer = self.actor.request("POST", f"{CLIENT_V3}/room_keys/version",
                                    {"algorithm": BACKUP_ALGORITHM, "auth_data": auth})
        self.backup_version = answer["version"]
        self.store_secret("m.megolm_backup.v1", b64(self.backup_key))
        return self.backup_version

    def sessions(self) -> list[dict[str, Any]]:
        """Every room key this device's nio store holds, as key export entries."""
        held = []
        for session in self.peer.client.olm.inbound_group_store:
            held.append({
                "room_id": session.room_id, "session_id": session.id, "sender_key": session.sender_key,
                "session_key": session.export_session(session.first_known_index),
                "sender_claimed_keys": {"ed25519": session.ed25519},
                "forwarding_curve25519_key_chain": list(session.forwarding_chain),
                "first_known_index": session.first_known_index,
            })
        return held

    def back_up(self, sessions: list[dict[str, Any]] | None = None) -> int:
        """Upload room keys (all held unless given) to the current backup version."""
        assert self.backup_version is not None
        public = secrets.backup_public_key(self.backup_key)
        rooms: dict[str, Any] = {}
        chosen = self.sessions() if sessions is None else sessions
        for session in chosen:
            rooms.setdefault(session["room_id"], {"sessions": {}})["sessions"][session["session_id"]] = backup_entry(session, public)
        self.actor.request("PUT", f"{CLIENT_V3}/room_keys/keys", {"rooms": rooms}, query={"version": self.backup_version})
        return len(chosen)

    def backed_up(self) -> dict[str, Any]:
        assert self.backup_version is not None
        return self.actor.request("GET", f"{CLIENT_V3}/room_keys/keys", query={"version": self.backup_version})

    async def set_up_everything(self, passphrase: str | None = None) -> None:
        """What Element's "set up recovery" does on a first device."""
        self.upload_cross_signing()
        self.sign_own_device()
        self.create_secret_storage(passphrase)
        self.store_cross_signing_secrets()
        self.create_backup()

    async def close(self) -> None:
        await self.peer.close()
