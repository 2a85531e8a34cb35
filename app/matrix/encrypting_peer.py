"""Another user's encrypting client, for the demo and the tests: a plain matrix-nio
``AsyncClient`` with encryption on and its own store, as any nio bot runs it. It is
independent of readmark's own crypto code (``app.matrix.crypto``): it shares its Megolm
keys with the devices of the room's members the way nio does, so what readmark decrypts
is what a real client sent.

Lives here because it is nio (only ``app.matrix`` imports nio); readmark itself never
sends messages.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class PeerError(Exception):
    """What the peer asked the server for failed."""


class EncryptingPeer:
    """One user's nio client with end-to-end encryption, logged in with an existing token."""

    def __init__(self, base_url: str, user_id: str, device_id: str, access_token: str, store: Path) -> None:
        from nio import AsyncClient, AsyncClientConfig

        store.mkdir(parents=True, exist_ok=True)
        config = AsyncClientConfig(encryption_enabled=True, store_sync_tokens=True, max_limit_exceeded=0,
                                   max_timeouts=3, request_timeout=30)
        self.client = AsyncClient(base_url, user_id, device_id=device_id, store_path=str(store), config=config)
        self.client.restore_login(user_id, device_id, access_token)
        self.user_id = user_id

    async def start(self) -> None:
        """Upload this device's keys and catch up with the rooms."""
        if self.client.should_upload_keys:
            await self._ok(self.client.keys_upload())
        await self.sync()

    async def sync(self) -> None:
        """One sync, then the device lists and key claims nio asks for."""
        await self._ok(self.client.sync(timeout=0, full_state=True))
        if self.client.should_upload_keys:
            await self._ok(self.client.keys_upload())
        if self.client.should_query_keys:
            await self._ok(self.client.keys_query())

    async def create_encrypted_room(self, name: str, invite: Sequence[str] = (), *, is_direct: bool = False) -> str:
        from nio import RoomCreateResponse

        initial_state = [{"type": "m.room.encryption", "state_key": "", "content": {"algorithm": "m.megolm.v1.aes-sha2"}}]
        response = await self.client.room_create(name=name, invite=list(invite), is_direct=is_direct,
                                                 initial_state=initial_state)
        if not isinstance(response, RoomCreateResponse):
            raise PeerError(f"creating {name} failed: {response}")
        await self.sync()
        return response.room_id

    async def join(self, room_id: str) -> None:
        await self._ok(self.client.join(room_id))
        await self.sync()

    async def send(
        self,
        room_id: str,
        body: str,
        *,
        thread: str | None = None,
        mentions: Sequence[str] | None = None,
        msgtype: str = "m.text",
        extra: dict[str, Any] | None = None,
    ) -> str:
        """An encrypted message (in ``thread`` when given; ``mentions``: ``m.mentions``
        user IDs); its event ID. The Megolm key goes to the members' devices first."""
        from nio import RoomSendResponse

        content: dict[str, Any] = {"msgtype": msgtype, "body": body, **(extra or {})}
        if mentions is not None:
            content["m.mentions"] = {"user_ids": list(mentions)}
        if thread is not None:
            content["m.relates_to"] = {"rel_type": "m.thread", "event_id": thread, "is_falling_back": True,
                                       "m.in_reply_to": {"event_id": thread}}
        await self.sync()
        response = await self.client.room_send(room_id, "m.room.message", content, ignore_unverified_devices=True)
        if not isinstance(response, RoomSendResponse):
            raise PeerError(f"sending to {room_id} failed: {response}")
        return response.event_id

    async def send_event(self, room_id: str, event_type: str, content: dict[str, Any]) -> str:
        from nio import RoomSendResponse

        await self.sync()
        response = await self.client.room_send(room_id, event_type, content, ignore_unverified_devices=True)
        if not isinstance(response, RoomSendResponse):
            raise PeerError(f"sending to {room_id} failed: {response}")
        return response.event_id

    def forget_session(self, room_id: str) -> None:
        """Start a new Megolm session for the next message (the old one's key stays
        with whoever has it)."""
        self.client.olm.rotate_outbound_group_session(room_id)

    async def export_keys(self, path: Path, passphrase: str) -> None:
        await self.client.export_keys(str(path), passphrase)

    async def close(self) -> None:
        await self.client.close()

    async def _ok(self, call: Any) -> Any:
        from nio import ErrorResponse

        response = await call
        if isinstance(response, ErrorResponse):
            raise PeerError(f"{type(response).__name__}: {response.message}")
        return response
