"""The requests around this device's crypto store: the key uploads and device-list
queries a sync calls for, setting a new login's keys up, and the ``Decrypt`` function
the core decrypts with. ``app.matrix.crypto`` holds the keys and does no I/O but its
store's; this module talks to the homeserver for it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from app.matrix.client import MatrixClient
from app.matrix.core import Decrypt
from app.matrix.crypto import CannotDecrypt, CryptoDevice, CryptoStoreError
from app.matrix.errors import MatrixError

log = logging.getLogger(__name__)


def decryptor(device: CryptoDevice) -> Decrypt:
    """The core's ``Decrypt`` on this device: the plaintext, or why not."""

    def decrypt(room_id: str, event_id: str, sender: str, ts: int, content: Mapping[str, Any]) -> dict[str, Any] | str:
        try:
            return device.decrypt(room_id, event_id, sender, ts, content)
        except CannotDecrypt as error:
            return error.value

    return decrypt


async def exchange_keys(client: MatrixClient, device: CryptoDevice) -> None:
    """Upload the keys the device needs on the server now, and fetch the device lists it
    should know. Raises ``MatrixError``; what failed is asked again after the next sync."""
    body = device.upload_body()
    if body is not None:
        device.uploaded(await client.keys_upload(body))
    query = device.query_body()
    if query is not None:
        device.queried(await client.keys_query(query))


async def set_up_device(client: MatrixClient) -> str | None:
    """A new login's crypto identity: its store created and its keys uploaded, so that
    what others send from now on can be decrypted. None when done, else one line saying
    what failed (the next start of readmark tries again)."""
    assert client.device_id is not None
    try:
        device = CryptoDevice.open(client.user_id, client.device_id)
    except CryptoStoreError as error:
        return str(error)
    try:
        body = device.upload_body()
        if body is not None:
            device.uploaded(await client.keys_upload(body))
    except (MatrixError, CryptoStoreError) as error:
        return f"could not upload this device's encryption keys ({error}); readmark tries again when it next starts"
    finally:
        device.close()
    log.info("this device's encryption keys are uploaded")
    return None
