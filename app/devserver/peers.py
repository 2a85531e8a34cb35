"""The demo's colleagues as encrypting clients, for its end-to-end encrypted rooms.

Each colleague who posts in an encrypted room does it through an ``EncryptingPeer``
(matrix-nio with encryption, in ``app.matrix``): it shares its Megolm keys with the room's
devices the way a real client does, so what readmark decrypts is what a real client sent.

The peers are asyncio; their callers are not (the seed's thread pool, the live activity's
thread). ``Peers`` runs them on an event loop of its own, in a thread of its own, and each
call waits for its answer, up to ``timeout``. Calls are taken one at a time: a nio client
must not sync from two tasks at once, and the seed's threads call side by side.

Stores: ``stores/<localpart>/``, 0700, one per colleague, reused by every run on the same
homeserver and removed with it. A store remembers the device it belongs to
(``device.json``): a store made anew (a first run, or one deleted by hand) logs in as a new
device, never as one whose keys the server already holds for another identity. The
peers are never logged out: a logout deletes the device and its keys, and its store would
then describe a device the server no longer knows. Each run's login token stays valid on
the loopback-only server, where the passwords are known anyway.

Nothing here logs what is sent or a key.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import threading
from collections.abc import Callable, Coroutine, Mapping, Sequence
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from app.devserver.actor import CLIENT_V3, http_call
from app.store.files import private_dir, write_atomic

if TYPE_CHECKING:
    from app.devserver.seed import DemoUser
    from app.matrix.encrypting_peer import EncryptingPeer

log = logging.getLogger(__name__)
log.addHandler(logging.NullHandler())
# Without the app's file logging configured, nio's warnings (a new Olm session, say) would
# reach logging's last-resort handler and print over the TUI; with it, they go to the file.
logging.getLogger("nio").addHandler(logging.NullHandler())

THREAD_NAME = "readmark-demo-peers"
DEVICE_FILE = "device.json"
DEVICE_PREFIX = "READMARK_PEER_"

T = TypeVar("T")


class PeersError(Exception):
    """A peer's request failed or did not answer in time; one line, no message text in it."""


class Peers:
    """The colleagues' encrypting clients, by user key ("alice", ...). ``close()`` when done."""

    def __init__(self, base_url: str, users: Mapping[str, DemoUser], stores: Path, *,
                 timeout: float = 60.0, login_timeout: float = 30.0) -> None:
        self.base_url = base_url
        self.users = users
        self.stores = stores
        self.timeout = timeout
        self.login_timeout = login_timeout
        self._peers: dict[str, EncryptingPeer] = {}
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=THREAD_NAME, daemon=True)
        self._thread.start()
        self._closed = False

    # -- what the callers ask ---------------------------------------------------------------

    def create_encrypted_room(self, key: str, name: str | None, invite: Sequence[str], *,
                              is_direct: bool = False) -> str:
        # A room without a name (a DM) is named by its members, as clients make DMs.
        return self._call(key, lambda peer: peer.create_encrypted_room(name, invite, is_direct=is_direct))

    def join(self, key: str, room_id: str) -> None:
        self._call(key, lambda peer: peer.join(room_id))

    def send_event(self, key: str, room_id: str, event_type: str, content: dict[str, Any]) -> str:
        """Encrypted in the room (its key shared with the members' devices first); the event ID."""
        return self._call(key, lambda peer: peer.send_event(room_id, event_type, content))

    def start(self, keys: Sequence[str]) -> None:
        """Log these colleagues' peers in now rather than at their first message."""
        for key in keys:
            self._call(key, lambda _peer: _nothing())

    # -- lifetime -----------------------------------------------------------------------------

    def close(self, timeout: float = 5.0) -> None:
        """Close every peer's connections and stop the loop's thread. Safe to call twice."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            peers, self._peers = list(self._peers.values()), {}

        async def close_all() -> None:
            await asyncio.gather(*(peer.close() for peer in peers), return_exceptions=True)
            # The logins and aiohttp's name lookups ran in the loop's executor: its threads go too.
            await asyncio.get_running_loop().shutdown_default_executor()

        try:
            asyncio.run_coroutine_threadsafe(close_all(), self._loop).result(timeout)
        except Exception as error:  # noqa: BLE001 - closing must not fail the demo's way out
            log.debug("closing the demo peers failed: %s", type(error).__name__)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)
        if not self._thread.is_alive():
            self._loop.close()

    def __enter__(self) -> Peers:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- inside ---------------------------------------------------------------------------------

    def _call(self, key: str, use: Callable[[EncryptingPeer], Coroutine[Any, Any, T]]) -> T:
        with self._lock:
            if self._closed:
                raise PeersError("the demo peers are closed")
            peer = self._peers.get(key)
            if peer is None:
                peer = self._run(self._started(key), f"starting {key}'s encrypting client")
                self._peers[key] = peer
            return self._run(use(peer), f"{key}'s encrypting client")

    def _run(self, coroutine: Coroutine[Any, Any, T], what: str) -> T:
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        try:
            return future.result(self.timeout)
        except FutureTimeout:
            future.cancel()
            raise PeersError(f"{what}: no answer within {self.timeout:.0f} s") from None
        except PeersError:
            raise
        except Exception as error:  # PeerError, aiohttp's errors, nio's: one line for the caller
            raise PeersError(f"{what}: {type(error).__name__}: {error}") from error

    async def _started(self, key: str) -> EncryptingPeer:
        from app.matrix.encrypting_peer import EncryptingPeer

        user = self.users[key]
        store = private_dir(private_dir(self.stores) / user.user_id[1:].split(":", 1)[0])
        device_id = await asyncio.to_thread(_device_of, store)
        answer = await asyncio.to_thread(http_call, self.base_url, "POST", f"{CLIENT_V3}/login", {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": user.user_id},
            "password": user.password,
            "device_id": device_id,
            "initial_device_display_name": "readmark demo colleague (encrypting)",
        }, timeout=self.login_timeout)
        peer = EncryptingPeer(self.base_url, answer["user_id"], answer["device_id"], answer["access_token"], store)
        try:
            await peer.start()
        except BaseException:
            await peer.close()
            raise
        return peer


def _device_of(store: Path) -> str:
    """The device this store belongs to; a new store gets a device ID of its own."""
    marker = store / DEVICE_FILE
    try:
        return str(json.loads(marker.read_text(encoding="utf-8"))["device_id"])
    except (OSError, ValueError, KeyError, TypeError):
        device_id = DEVICE_PREFIX + secrets.token_hex(4).upper()
        write_atomic(marker, json.dumps({"device_id": device_id}).encode("utf-8"))
        return device_id


async def _nothing() -> None:
    return None
