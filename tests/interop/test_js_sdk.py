"""readmark against matrix-js-sdk (Element's SDK, with its Rust crypto) on the real Synapse.

The user's first device is js-sdk in Node (``first_device.mjs``): it sets up cross-signing,
secret storage with a new recovery key and a key backup the way Element does, and backs up
by itself the room key of a message Alice (a matrix-nio client) sent before readmark
existed. readmark then verifies with js-sdk's recovery key, restores the backup, and js-sdk
sees readmark's device cross-signed by its owner. A key that only readmark received goes
to the backup, and a new js-sdk device restoring from the backup decrypts its message.

The Node packages come from ``package-lock.json`` (``make test`` runs ``npm ci``)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from app.devserver.actor import MatrixActor
from app.matrix.client import MatrixClient
from app.matrix.encrypting_peer import EncryptingPeer
from app.matrix.encryption import set_up_device
from app.matrix.service import MatrixService, SyncState
from app.matrix.session import save_session
from tests.matrix.first_device import CLIENT_V3
from tests.matrix.helpers import Recorder, eventually, session_of
from tests.matrix.test_crypto_synapse import event_in
from tests.matrix.test_recovery_synapse import room_in, status, verify

pytestmark = [pytest.mark.synapse, pytest.mark.slow,
              pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed (make test installs it)")]

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "first_device.mjs"
ANSWER_TIMEOUT = 120.0


def node_major() -> int:
    version = subprocess.run(["node", "--version"], capture_output=True, text=True, timeout=30).stdout
    return int(version.strip().lstrip("v").split(".")[0])


class JsDevice:
    """One js-sdk device of ``user`` in a Node process, driven one JSON line at a time."""

    def __init__(self, process: asyncio.subprocess.Process, log: Path) -> None:
        self.process, self.log = process, log
        self.device_id = ""

    @classmethod
    async def start(cls, user: MatrixActor, log: Path, mode: str = "first") -> JsDevice:
        if not (HERE / "node_modules" / "matrix-js-sdk").is_dir():
            pytest.fail("tests/interop/node_modules is missing: run `make test` (or npm ci --prefix tests/interop)")
        if node_major() < 20:
            pytest.fail(f"matrix-js-sdk needs Node.js 20 or newer; `node` here is {node_major()}")
        password = f"pw-{user.user_id[1:].split(':')[0]}"
        env = {**os.environ, "READMARK_INTEROP_PASSWORD": password}
        stderr = log.open("wb")
        process = await asyncio.create_subprocess_exec(
            "node", str(SCRIPT), user.base_url, user.user_id, mode, cwd=HERE, env=env,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=stderr)
        stderr.close()
        device = cls(process, log)
        ready = await device._read()
        assert ready.get("ready"), ready
        device.device_id = ready["device_id"]
        return device

    async def ask(self, cmd: str, **args: str) -> dict:
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps({"cmd": cmd, **args}) + "\n").encode())
        await self.process.stdin.drain()
        return await self._read()

    async def _read(self) -> dict:
        assert self.process.stdout is not None
        try:
            line = await asyncio.wait_for(self.process.stdout.readline(), ANSWER_TIMEOUT)
        except TimeoutError:
            raise AssertionError(f"js-sdk did not answer within {ANSWER_TIMEOUT} s; {self._log_tail()}") from None
        if not line:
            raise AssertionError(f"js-sdk exited ({await self.process.wait()}); {self._log_tail()}")
        answer = json.loads(line)
        if "error" in answer:
            raise AssertionError(f"js-sdk failed: {answer['error']}; {self._log_tail()}")
        return answer

    def _log_tail(self) -> str:
        return "its log ends:\n" + "\n".join(self.log.read_text(errors="replace").splitlines()[-30:])

    async def close(self) -> None:
        if self.process.returncode is None:
            try:
                assert self.process.stdin is not None
                self.process.stdin.write(b'{"cmd": "quit"}\n')
                await self.process.stdin.drain()
                await asyncio.wait_for(self.process.wait(), 10)
            except (TimeoutError, ConnectionError):
                self.process.kill()
                await self.process.wait()


def backed_up_sessions(me: MatrixActor, version: str, room: str) -> dict:
    answer = me.request("GET", f"{CLIENT_V3}/room_keys/keys", query={"version": version})
    return answer["rooms"].get(room, {}).get("sessions", {})


class Scene:
    """Me with a js-sdk first device that set everything up, Alice, and an encrypted room
    where Alice wrote before readmark's device existed (js-sdk backed its key up)."""

    def __init__(self, me: MatrixActor, alice: EncryptingPeer, first: JsDevice, room: str, before: str,
                 set_up: dict) -> None:
        self.me, self.alice, self.first, self.room, self.before = me, alice, first, room, before
        self.recovery_key: str = set_up["recovery_key"]
        self.backup_version: str = set_up["backup_version"]

    async def close(self) -> None:
        await self.first.close()
        await self.alice.close()


async def scene(make_actor, tmp_path: Path, passphrase: str | None = None) -> Scene:  # noqa: ANN001
    me, alice_actor = make_actor("me"), make_actor("alice")
    alice = EncryptingPeer(alice_actor.base_url, alice_actor.user_id, alice_actor.device_id, alice_actor.access_token,
                           tmp_path / "peer-alice")
    await alice.start()
    first = await JsDevice.start(me, tmp_path / "js-first.log")
    try:
        room = await alice.create_encrypted_room("Launch", invite=[me.user_id])
        set_up = await first.ask("set_up", room=room, **({"passphrase": passphrase} if passphrase else {}))
        assert set_up["device_id"] == first.device_id != me.device_id
        before = await alice.send(room, "sent before readmark existed")
        backed = await first.ask("await_key", room=room, event=before)
        assert backed["body"] == "sent before readmark existed" and backed["backup_version"] == set_up["backup_version"]

        save_session(session_of(me))
        async with MatrixClient.from_session(session_of(me)) as client:
            assert await set_up_device(client) is None
    except BaseException:
        await first.close()
        await alice.close()
        raise
    return Scene(me, alice, first, room, before, set_up)


async def test_readmark_verifies_and_restores_with_a_js_sdk_first_devices_recovery_key(
    make_actor, tmp_path, capsys  # noqa: ANN001
) -> None:
    s = await scene(make_actor, tmp_path)
    me, alice, room, recovery_key, version = s.me, s.alice, s.room, s.recovery_key, s.backup_version
    restoring: JsDevice | None = None
    try:
        assert (await asyncio.to_thread(status, capsys))["device"] == {"verified": False, "backup": "none"}
        code, out, err = await asyncio.to_thread(verify, capsys, recovery_key)
        assert code == 0, err
        lines = out.strip().splitlines()
        assert lines[0] == f"this device ({me.device_id}) is verified: cross-signed by {me.user_id}'s self-signing key"
        assert lines[1].startswith(f"restored 1 room key(s) from the key backup (version {version})"), out
        document = await asyncio.to_thread(status, capsys)
        assert document["device"] == {"verified": True, "backup": "on"}
        assert room_in(document, room)["undecryptable"] == 0
        assert recovery_key not in out + err

        # js-sdk, the device that made the cross-signing keys, sees readmark's device signed.
        seen = await s.first.ask("device_status", device=me.device_id)
        assert seen == {"known": True, "signed_by_owner": True, "cross_signing_verified": True,
                        "locally_verified": False, "is_verified": True}, seen
        await s.first.close()  # from here on only readmark is online to receive and back up keys

        service = MatrixService(MatrixClient.from_session(session_of(me)), sync_timeout_ms=300)
        task = asyncio.create_task(service.run(Recorder()))
        try:
            await eventually(lambda: service.status.state is SyncState.LIVE)
            alice.forget_session(room)
            later = await alice.send(room, "sent while only readmark was online")
            await eventually(lambda: (event_in(service, room, later) or None) and event_in(service, room, later).body)
            session_id = json.loads(event_in(service, room, later).ciphertext)["session_id"]
            await eventually(lambda: session_id in backed_up_sessions(me, version, room), timeout=20)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await service.close()

        # A new js-sdk device, which no one sent the later key to, reads it from the backup.
        restoring = await JsDevice.start(me, tmp_path / "js-restore.log", mode="restore")
        restored = await restoring.ask("restore", recovery_key=recovery_key, room=room, event=later)
        assert restored["body"] == "sent while only readmark was online", restored
        assert restored["total"] == 2 and restored["imported"] >= 1, restored
        for log in (tmp_path / "js-first.log", tmp_path / "js-restore.log"):
            assert recovery_key not in log.read_text(errors="replace")
    finally:
        if restoring is not None:
            await restoring.close()
        await s.close()


async def test_a_js_sdk_security_phrase_unlocks_readmark_too(make_actor, tmp_path, capsys) -> None:  # noqa: ANN001
    """Element's "security phrase": the secret storage key is PBKDF2 of the passphrase with
    the salt and iterations js-sdk wrote in the key's description."""
    s = await scene(make_actor, tmp_path, passphrase="correct horse battery staple")
    try:
        code, out, err = await asyncio.to_thread(verify, capsys, "wrong horse battery staple")
        assert code == 1 and out == "" and err.count("\n") == 1 and "passphrase does not unlock" in err, err
        code, out, err = await asyncio.to_thread(verify, capsys, "correct horse battery staple")
        assert code == 0 and "is verified" in out and "restored 1 room key(s)" in out, err
        document = await asyncio.to_thread(status, capsys)
        assert document["device"] == {"verified": True, "backup": "on"}
        assert room_in(document, s.room)["undecryptable"] == 0
    finally:
        await s.close()
