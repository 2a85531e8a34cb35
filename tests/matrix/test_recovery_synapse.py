"""The recovery key on the real Synapse. The user's first device (``first_device.py``)
sets up cross-signing, secret storage and a key backup as the spec describes and backs
up the room key of a message another user sent before readmark existed; then readmark
verifies with the recovery key (or the passphrase), is cross-signed (checked by another
user with an Ed25519 verification of its own), decrypts the earlier message from the
backup, and uploads a key that arrives later. Every bad input is one line, and leaves no
signature and no import behind."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os

import pytest
from Crypto.Signature import eddsa

from app.devserver.actor import MatrixActor
from app.matrix.client import MatrixClient
from app.matrix.crypto import store_directory
from app.matrix.encrypting_peer import EncryptingPeer
from app.matrix.encryption import set_up_device
from app.matrix.service import MatrixService, SyncState
from app.matrix.session import Session, save_session
from tests.faultproxy import FaultProxy, Rule, path_contains
from tests.matrix.first_device import CLIENT_V3, FirstDevice, b64
from tests.matrix.helpers import Recorder, eventually, session_of
from tests.matrix.test_crypto_synapse import event_in, run_cli

pytestmark = pytest.mark.synapse


class Scene:
    """Me with a first device set up for recovery, Alice, and an encrypted room where Alice
    wrote before readmark's device existed (its key is in the backup)."""

    def __init__(self, me: MatrixActor, first: FirstDevice, alice: EncryptingPeer, alice_actor: MatrixActor,
                 room: str, before: str) -> None:
        self.me, self.first, self.alice, self.alice_actor, self.room, self.before = me, first, alice, alice_actor, room, before

    async def close(self) -> None:
        await self.first.close()
        await self.alice.close()


async def scene(make_actor, tmp_path, *, passphrase: str | None = None, set_up: bool = True, backup: bool = True,
                base_url: str | None = None) -> Scene:
    me, alice_actor = make_actor("me"), make_actor("alice")
    alice = EncryptingPeer(alice_actor.base_url, alice_actor.user_id, alice_actor.device_id, alice_actor.access_token,
                           tmp_path / "peer-alice")
    await alice.start()
    first = await FirstDevice.create(me.base_url, me, tmp_path / "peer-first")
    room = await alice.create_encrypted_room("Launch", invite=[me.user_id])
    await first.peer.join(room)
    if set_up:
        await first.set_up_everything(passphrase)
    before = await alice.send(room, "sent before readmark existed")
    await first.peer.sync()
    if set_up and backup:
        assert first.back_up() >= 1
    session = session_of(me) if base_url is None else Session(base_url, me.user_id, me.device_id, me.access_token)
    save_session(session)
    async with MatrixClient.from_session(session_of(me)) as client:
        assert await set_up_device(client) is None
    return Scene(me, first, alice, alice_actor, room, before)


@contextlib.asynccontextmanager
async def running(me: MatrixActor):
    """readmark's service syncing as ``me`` (the profile's owner) until the block ends."""
    service = MatrixService(MatrixClient.from_session(session_of(me)), sync_timeout_ms=300)
    task = asyncio.create_task(service.run(Recorder()))
    try:
        yield service
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await service.close()


def tui(me: MatrixActor):
    from app.config import Settings
    from tests.ui.helpers import RecordingApp

    return RecordingApp(MatrixService(MatrixClient.from_session(session_of(me)), sync_timeout_ms=300), Settings())


def verify(capsys, secret: str, *extra: str) -> tuple[int, str, str]:
    return run_cli(capsys, "verify", "--stdin", *extra, stdin=secret + "\n")


def status(capsys) -> dict:
    code, out, err = run_cli(capsys, "status", "--json")
    assert code == 0, err
    return json.loads(out)


def room_in(document: dict, room: str) -> dict:
    [found] = [r for r in document["rooms"] if r["room_id"] == room]
    return found


def canonical(value: dict) -> bytes:
    """The spec's canonical JSON, written here again rather than taken from app.matrix.secrets."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def signed_by(device: dict, user_id: str, public_key: str) -> bool:
    """An independent Ed25519 check (pycryptodome's eddsa, RFC 8032) of a signature in ``device``."""
    signature = device.get("signatures", {}).get(user_id, {}).get(f"ed25519:{public_key}")
    if signature is None:
        return False
    body = {k: v for k, v in device.items() if k not in ("signatures", "unsigned")}
    key = eddsa.import_public_key(base64.b64decode(public_key + "=" * (-len(public_key) % 4)))
    try:
        eddsa.new(key, "rfc8032").verify(canonical(body), base64.b64decode(signature + "=" * (-len(signature) % 4)))
    except ValueError:
        return False
    return True


def my_device_as_seen_by(observer: MatrixActor, me: MatrixActor) -> dict:
    answer = observer.request("POST", f"{CLIENT_V3}/keys/query", {"device_keys": {me.user_id: []}})
    return answer["device_keys"][me.user_id][me.device_id]


def undecryptable(capsys, room: str) -> int:
    return room_in(status(capsys), room)["undecryptable"]


async def test_the_recovery_key_verifies_the_device_and_restores_history(make_actor, tmp_path, capsys) -> None:
    s = await scene(make_actor, tmp_path)
    try:
        assert (await asyncio.to_thread(status, capsys))["device"] == {"verified": False, "backup": "none"}
        assert await asyncio.to_thread(undecryptable, capsys, s.room) == 1
        # Element shows the key in groups of four; typed without spaces it is as good.
        code, out, err = await asyncio.to_thread(verify, capsys, s.first.recovery_key.replace(" ", ""))
        assert code == 0, err
        lines = out.strip().splitlines()
        assert lines[0] == f"this device ({s.me.device_id}) is verified: cross-signed by {s.me.user_id}'s self-signing key"
        assert lines[1].startswith(f"restored 1 room key(s) from the key backup (version {s.first.backup_version})")

        # Alice sees my device signed by my self-signing key, which my master key signed.
        seen = my_device_as_seen_by(s.alice_actor, s.me)
        assert signed_by(seen, s.me.user_id, s.first.public(s.first.self_signing))
        keys = s.alice_actor.request("POST", f"{CLIENT_V3}/keys/query", {"device_keys": {s.me.user_id: []}})
        ssk = keys["self_signing_keys"][s.me.user_id]
        assert signed_by(ssk, s.me.user_id, s.first.public(s.first.master))

        document = await asyncio.to_thread(status, capsys)
        assert document["device"] == {"verified": True, "backup": "on"}
        assert room_in(document, s.room)["undecryptable"] == 0
        # Nothing secret is kept but the backup key, 0600; never the recovery key.
        directory = store_directory(s.me.device_id)
        trust = (directory / "trust.json").read_text()
        assert (directory / "trust.json").stat().st_mode & 0o777 == 0o600
        assert s.first.recovery_key.replace(" ", "") not in trust and b64(s.first.storage_key) not in trust
        for path in directory.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                assert s.first.recovery_key.replace(" ", "").encode() not in data
                assert s.first.self_signing not in data and b64(s.first.self_signing).encode() not in data
    finally:
        await s.close()


async def test_a_key_arriving_later_goes_to_the_backup_and_a_fresh_login_restores_it(make_actor, tmp_path, capsys) -> None:
    s = await scene(make_actor, tmp_path)
    try:
        code, _, err = await asyncio.to_thread(verify, capsys, s.first.recovery_key)
        assert code == 0, err
        async with running(s.me) as service:
            await eventually(lambda: service.status.state is SyncState.LIVE)
            s.alice.forget_session(s.room)
            later = await s.alice.send(s.room, "sent while only readmark was online")
            await eventually(lambda: (event_in(service, s.room, later) or None) and event_in(service, s.room, later).body)
            session_id = json.loads(event_in(service, s.room, later).ciphertext)["session_id"]
            # readmark uploaded it (the first device backed up only the first session).
            backed_up = await eventually(
                lambda: session_id in s.first.backed_up()["rooms"].get(s.room, {}).get("sessions", {}), timeout=20)
            assert backed_up

        # A fresh login of readmark, verified at login: both messages decrypt from the backup.
        code, _, err = await asyncio.to_thread(run_cli, capsys, "logout")
        assert code == 0, err
        password = f"pw-{s.me.user_id[1:].split(':')[0]}"
        code, out, err = await asyncio.to_thread(
            run_cli, capsys, "login", "--homeserver", s.me.base_url, "--user", s.me.user_id, "--password-stdin",
            "--verify-stdin", stdin=f"{password}\n{s.first.recovery_key}\n")
        assert code == 0, err
        assert "is verified" in out and "restored 2 room key(s)" in out, out
        document = await asyncio.to_thread(status, capsys)
        assert room_in(document, s.room)["undecryptable"] == 0
        assert document["device"] == {"verified": True, "backup": "on"}
    finally:
        await s.close()


async def test_the_passphrase_unlocks_as_the_key_description_says(make_actor, tmp_path, capsys) -> None:
    s = await scene(make_actor, tmp_path, passphrase="correct horse battery staple")
    try:
        code, out, err = await asyncio.to_thread(verify, capsys, "wrong horse battery staple")
        assert code == 1 and out == "" and err.count("\n") == 1 and "passphrase does not unlock" in err, err
        code, out, err = await asyncio.to_thread(verify, capsys, "correct horse battery staple")
        assert code == 0 and "restored 1 room key(s)" in out, err
    finally:
        await s.close()


def assert_nothing_done(s: Scene, capsys) -> None:
    """No signature uploaded, nothing recorded, nothing imported."""
    seen = my_device_as_seen_by(s.alice_actor, s.me)
    assert not signed_by(seen, s.me.user_id, s.first.public(s.first.self_signing))
    assert set(seen.get("signatures", {}).get(s.me.user_id, {})) == {f"ed25519:{s.me.device_id}"}
    assert not (store_directory(s.me.device_id) / "trust.json").exists()
    assert undecryptable(capsys, s.room) == 1


def one_line(code: int, out: str, err: str, *fragments: str) -> None:
    assert code == 1 and out == "", (code, out, err)
    assert err.count("\n") == 1 and err.startswith("readmark: ") and "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in err, err


async def test_wrong_keys_and_typos_are_one_line_and_change_nothing(make_actor, tmp_path, capsys) -> None:
    from app.matrix import secrets

    s = await scene(make_actor, tmp_path)
    try:
        other = secrets.encode_recovery_key(os.urandom(32))
        one_line(*await asyncio.to_thread(verify, capsys, other), "recovery key does not unlock")
        key = s.first.recovery_key
        typo = key[:10] + ("a" if key[10] != "a" else "b") + key[11:]
        one_line(*await asyncio.to_thread(verify, capsys, typo), "typo")
        assert s.first.recovery_key not in capsys.readouterr().err
        await asyncio.to_thread(assert_nothing_done, s, capsys)
    finally:
        await s.close()


async def test_a_tampered_or_foreign_or_mismatched_secret_is_refused(make_actor, tmp_path, capsys) -> None:
    s = await scene(make_actor, tmp_path)
    try:
        name = "m.cross_signing.self_signing"
        stored = s.me.request("GET", f"{CLIENT_V3}/user/{s.me.user_id}/account_data/{name}")
        entry = dict(stored["encrypted"][s.first.key_id])
        raw = bytearray(base64.b64decode(entry["ciphertext"] + "=" * (-len(entry["ciphertext"]) % 4)))
        raw[0] ^= 1
        s.first.account_data(name, {"encrypted": {s.first.key_id: {**entry, "ciphertext": base64.b64encode(bytes(raw)).decode()}}})
        one_line(*await asyncio.to_thread(verify, capsys, s.first.recovery_key), "MAC")

        s.first.store_secret(name, b64(s.first.self_signing), key=os.urandom(32), key_id="another-key")
        one_line(*await asyncio.to_thread(verify, capsys, s.first.recovery_key), "another secret storage key")

        s.first.store_secret(name, b64(os.urandom(32)))  # readable, but not the published key
        one_line(*await asyncio.to_thread(verify, capsys, s.first.recovery_key), "not the one the server publishes")
        await asyncio.to_thread(assert_nothing_done, s, capsys)
    finally:
        await s.close()


async def test_an_account_without_secret_storage_or_cross_signing_says_what_to_do(make_actor, tmp_path, capsys) -> None:
    s = await scene(make_actor, tmp_path, set_up=False)
    try:
        one_line(*await asyncio.to_thread(verify, capsys, s.first.recovery_key), "no secret storage")
        s.first.create_secret_storage()
        s.first.store_cross_signing_secrets()  # stored, but never uploaded to the server
        one_line(*await asyncio.to_thread(verify, capsys, s.first.recovery_key), "publishes no cross-signing keys")
        await asyncio.to_thread(assert_nothing_done, s, capsys)
    finally:
        await s.close()


async def test_a_download_that_fails_or_races_a_new_backup_imports_nothing_and_a_retry_resumes(
    make_actor, synapse, tmp_path, capsys
) -> None:
    async with FaultProxy(synapse.base_url) as proxy:
        s = await scene(make_actor, tmp_path, base_url=proxy.base_url)
        try:
            downloads = path_contains("/room_keys/keys", "GET")
            # A 5xx on every try: one line, verified (that step worked), nothing imported.
            proxy.add(Rule(downloads, times=10, status=502, body={"errcode": "M_UNKNOWN", "error": "bad gateway"}))
            code, out, err = await asyncio.to_thread(verify, capsys, s.first.recovery_key)
            one_line(code, out, err, "is verified", "nothing was imported", "run it again")
            assert await asyncio.to_thread(undecryptable, capsys, s.room) == 1
            proxy.rules.clear()
            # A 404 (the backup deleted under it): not retried, the same one line.
            proxy.add(Rule(downloads, times=1, status=404, body={"errcode": "M_NOT_FOUND", "error": "Unknown backup version"}))
            code, out, err = await asyncio.to_thread(verify, capsys, s.first.recovery_key)
            one_line(code, out, err, "M_NOT_FOUND", "nothing was imported")
            assert await asyncio.to_thread(undecryptable, capsys, s.room) == 1
            proxy.rules.clear()

            # A new backup version made while the download is under way.
            def racing(request) -> bool:
                if downloads(request):
                    s.first.create_backup()  # same key, a new version
                    return True
                return False

            proxy.add(Rule(racing, times=1, delay=0.01))
            code, out, err = await asyncio.to_thread(verify, capsys, s.first.recovery_key)
            assert code == 1 and "changed during the download" in err and "nothing was imported" in err, err
            assert await asyncio.to_thread(undecryptable, capsys, s.room) == 1
            document = await asyncio.to_thread(status, capsys)
            assert document["device"] == {"verified": True, "backup": "none"}
            proxy.rules.clear()

            # The retry resumes against the new version, once the first device backed up to it.
            assert s.first.back_up() == 1
            code, out, err = await asyncio.to_thread(verify, capsys, s.first.recovery_key)
            assert code == 0 and f"restored 1 room key(s) from the key backup (version {s.first.backup_version})" in out, err
            assert await asyncio.to_thread(undecryptable, capsys, s.room) == 0
        finally:
            await s.close()


async def test_a_429_halfway_is_waited_out(make_actor, synapse, tmp_path, capsys) -> None:
    async with FaultProxy(synapse.base_url) as proxy:
        s = await scene(make_actor, tmp_path, base_url=proxy.base_url)
        try:
            proxy.add(Rule(path_contains("/room_keys/keys", "GET"), times=1, status=429,
                           body={"errcode": "M_LIMIT_EXCEEDED", "error": "slow down", "retry_after_ms": 200}))
            code, out, err = await asyncio.to_thread(verify, capsys, s.first.recovery_key)
            assert code == 0 and "restored 1 room key(s)" in out, err
            assert await asyncio.to_thread(undecryptable, capsys, s.room) == 0
        finally:
            await s.close()


async def test_the_tui_offers_the_unlock_screen_and_a_recovery_key_makes_history_readable(make_actor, tmp_path) -> None:
    from textual.widgets import Input

    from app.ui.screens.main import MainScreen
    from app.ui.screens.unlock import UnlockScreen
    from tests.reliability.helpers import until
    from tests.ui.helpers import shown

    s = await scene(make_actor, tmp_path)
    try:
        app = tui(s.me)
        async with app.run_test(size=(200, 40)) as pilot:
            # Pushed is not yet composed: wait for the field itself.
            await until(pilot, lambda: isinstance(app.screen, UnlockScreen) and app.screen.query(Input), 30, "the unlock screen")
            main = next(screen for screen in app.screen_stack if isinstance(screen, MainScreen))
            assert main.status.device_text == "unverified"
            # A typo: said on the screen, which stays; nothing sent.
            key = s.first.recovery_key
            app.screen.query_one(Input).value = key[:10] + ("a" if key[10] != "a" else "b") + key[11:]
            await pilot.press("enter")
            await until(pilot, lambda: "typo" in app.screen.message, 10, "the typo message")
            assert isinstance(app.screen, UnlockScreen) and app.screen.query_one(Input).value == ""
            assert not signed_by(my_device_as_seen_by(s.alice_actor, s.me), s.me.user_id, s.first.public(s.first.self_signing))
            # The key as Element shows it: verified, the earlier message readable at once.
            app.screen.query_one(Input).value = key
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, MainScreen), 30, "back to the main screen")
            assert signed_by(my_device_as_seen_by(s.alice_actor, s.me), s.me.user_id, s.first.public(s.first.self_signing))
            await until(pilot, lambda: main.status.device_text == "verified", 10, "verified in the status line")
            main.select(s.room)
            await until(pilot, lambda: s.before in main.timeline.keys, 10)
            await until(pilot, lambda: "sent before readmark existed" in shown(main.timeline, s.before), 10)
            await pilot.press("q")
            await pilot.pause()
    finally:
        await s.close()


async def test_the_unlock_screen_is_skippable_and_not_offered_without_secret_storage(make_actor, tmp_path) -> None:
    from app.matrix.service import SyncState
    from app.ui.screens.main import MainScreen
    from app.ui.screens.unlock import UnlockScreen
    from tests.reliability.helpers import until

    s = await scene(make_actor, tmp_path)
    try:
        app = tui(s.me)
        async with app.run_test(size=(200, 40)) as pilot:
            await until(pilot, lambda: isinstance(app.screen, UnlockScreen), 30, "the unlock screen")
            await pilot.press("escape")
            await until(pilot, lambda: isinstance(app.screen, MainScreen), 5)
            assert app.screen.status.device_text == "unverified"
            # V brings it back later; escape again.
            await pilot.press("V")
            await until(pilot, lambda: isinstance(app.screen, UnlockScreen), 5, "the unlock screen again")
            await pilot.press("escape")
            await until(pilot, lambda: isinstance(app.screen, MainScreen), 5)
            await pilot.press("q")
            await pilot.pause()
    finally:
        await s.close()
    bare = await scene(make_actor, tmp_path / "bare", set_up=False)
    try:
        app = tui(bare.me)
        async with app.run_test(size=(200, 40)) as pilot:
            await until(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen.sync_status.state is SyncState.LIVE, 30)
            await until(pilot, lambda: app.screen.status.device_text == "unverified", 10)
            await pilot.pause(1.0)
            assert isinstance(app.screen, MainScreen)  # nothing to unlock: no screen
            await pilot.press("q")
            await pilot.pause()
    finally:
        await bare.close()


async def test_a_key_only_the_backup_has_is_fetched_on_demand_without_asking_again(make_actor, tmp_path, capsys) -> None:
    s = await scene(make_actor, tmp_path)
    try:
        code, _, err = await asyncio.to_thread(verify, capsys, s.first.recovery_key)
        assert code == 0, err
        # Alice's client refuses readmark's device its key; the first device gets it and backs it up.
        await s.alice.sync()
        readmark_device = s.alice.client.device_store[s.me.user_id][s.me.device_id]
        s.alice.client.blacklist_device(readmark_device)
        s.alice.forget_session(s.room)
        only_backed_up = await s.alice.send(s.room, "readmark was never sent this key")
        await s.first.peer.sync()
        assert s.first.back_up() >= 2
        # status syncs, finds it undecryptable, looks its session up in the backup: readable.
        await asyncio.to_thread(status, capsys)
        document = await asyncio.to_thread(status, capsys)
        assert room_in(document, s.room)["undecryptable"] == 0, document
        async with running(s.me) as service:
            await eventually(lambda: service.status.state is SyncState.LIVE and event_in(service, s.room, only_backed_up))
            service._core.reveal(s.room, "main", service._decrypt)
            assert event_in(service, s.room, only_backed_up).body == "readmark was never sent this key"
    finally:
        await s.close()


async def test_verify_beside_a_running_readmark_hands_it_the_restored_keys(make_actor, tmp_path, capsys) -> None:
    s = await scene(make_actor, tmp_path)
    try:
        async with running(s.me) as service:
            await eventually(lambda: service.status.state is SyncState.LIVE and event_in(service, s.room, s.before))
            assert service.status.device is not None and not service.status.device.verified
            code, out, err = await asyncio.to_thread(verify, capsys, s.first.recovery_key)
            assert code == 0, err
            assert "restored 1 room key(s)" in out and "(imported by readmark (pid" in out, out
            await eventually(lambda: event_in(service, s.room, s.before).body == "sent before readmark existed", timeout=10)
            await eventually(lambda: service.status.device.verified and service.status.device.backup == "on", timeout=10)
    finally:
        await s.close()


async def test_a_status_bar_polling_asks_the_backup_for_a_missing_key_once(make_actor, synapse, tmp_path, capsys) -> None:  # noqa: ANN001
    async with FaultProxy(synapse.base_url) as proxy:
        s = await scene(make_actor, tmp_path, base_url=proxy.base_url)
        try:
            code, _, err = await asyncio.to_thread(verify, capsys, s.first.recovery_key)
            assert code == 0, err
            await s.alice.sync()
            s.alice.client.blacklist_device(s.alice.client.device_store[s.me.user_id][s.me.device_id])
            s.alice.forget_session(s.room)
            await s.alice.send(s.room, "nobody backs this key up")
            lookups = lambda: [seen for seen in proxy.seen if seen.method == "GET" and "/room_keys/keys/" in seen.path_qs]  # noqa: E731
            for _ in range(3):
                assert room_in(await asyncio.to_thread(status, capsys), s.room)["undecryptable"] == 1
            assert len(lookups()) == 1, [seen.path_qs for seen in lookups()]
        finally:
            await s.close()
