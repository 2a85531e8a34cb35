"""The sending rules are one definition (``app.model.sending``) asked by every path: here the
service and ``readmark mark`` each refuse a public receipt where the room's mode is private
and a private receipt on a server without private receipts, sending nothing. (The screen's
keys and palette: ``tests/reliability/test_private_mode.py`` and
``tests/ui/test_screens.py::test_the_account_and_server_support_can_arrive_after_the_first_paint``;
the rules over every combination: ``tests/model/test_sending.py``.)"""

from __future__ import annotations

import asyncio

import pytest

from app import cli
from app.matrix.client import MatrixClient
from app.matrix.service import MatrixService, SyncState
from app.matrix.session import Session, save_session
from app.model.ids import MAIN
from app.model.plan import ActionKind, ReceiptAction, Refusal
from app.model.receipts import ReceiptType
from app.model.sending import ModeRules
from tests.faultproxy import FaultProxy, Rule
from tests.matrix.helpers import Recorder, eventually

pytestmark = pytest.mark.synapse

PRIV, PUB = ReceiptType.PRIVATE, ReceiptType.PUBLIC
OLD_SERVER = {"versions": ["r0.6.1", "v1.1", "v1.3"]}


def scene(make_actor):  # noqa: ANN001, ANN201
    me, alice = make_actor("me"), make_actor("alice")
    room = alice.create_room("Ops", invite=[me.user_id])
    me.join(room)
    latest = alice.send_text(room, "hello")
    return me, room, latest


def no_receipt_sent(proxy: FaultProxy) -> None:
    sent = [s.path_qs for s in proxy.seen if s.method == "POST" and ("/receipt/" in s.path_qs or "read_markers" in s.path_qs)]
    assert sent == []


@pytest.mark.parametrize("server", ["current", "without private receipts"])
async def test_the_service_refuses_what_the_rules_refuse(make_actor, synapse, server) -> None:  # noqa: ANN001
    me, room, latest = scene(make_actor)
    async with FaultProxy(synapse.base_url) as proxy:
        if server != "current":
            proxy.add(Rule(lambda r: r.path == "/_matrix/client/versions", times=10**6, status=200, body=OLD_SERVER))
        service = MatrixService(MatrixClient.from_session(Session(proxy.base_url, me.user_id, me.device_id, me.access_token)),
                                sync_timeout_ms=300)
        service.use_modes(ModeRules(PUB, {room: PRIV}))  # public by default; this room pinned private
        task = asyncio.create_task(service.run(Recorder()))
        try:
            await eventually(lambda: service.status.state is SyncState.LIVE and room in service.account.rooms)
            refusal = service.submit(room, ReceiptAction(ActionKind.UNTHREADED, PUB))
            assert isinstance(refusal, Refusal) and refusal.code == "private-mode"
            assert "pinned to PRIVATE" in refusal.reason
            private = service.submit(room, ReceiptAction(ActionKind.THREADED, PRIV, MAIN))
            if server == "current":
                assert private.event_id == latest
            else:
                assert isinstance(private, Refusal) and private.code == "no-private-receipts"
                await asyncio.sleep(0.5)
                no_receipt_sent(proxy)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await service.close()


async def test_mark_refuses_what_the_rules_refuse(make_actor, synapse, capsys, xdg_dirs) -> None:  # noqa: ANN001
    me, room, latest = scene(make_actor)
    (xdg_dirs.config / "readmark").mkdir()
    (xdg_dirs.config / "readmark" / "config.toml").write_text(f'[receipts]\nmode = "public"\n[receipts.rooms]\n"{room}" = "private"\n')
    async with FaultProxy(synapse.base_url) as proxy:
        save_session(Session(proxy.base_url, me.user_id, me.device_id, me.access_token))
        # A room pinned to private: --public is refused, and nothing goes out.
        code = await asyncio.to_thread(cli.main, ["mark", room, "--public"])
        out, err = capsys.readouterr()
        assert code == 1 and out == ""
        assert err.strip() == (
            "readmark: nothing sent: this room is pinned to PRIVATE: a public receipt needs PUBLIC mode "
            "(the room is set to private in config.toml)"
        ), err
        no_receipt_sent(proxy)
        # A server without private receipts: the pinned room's private receipt is refused, not sent public.
        proxy.add(Rule(lambda r: r.path == "/_matrix/client/versions", times=10**6, status=200, body=OLD_SERVER))
        code = await asyncio.to_thread(cli.main, ["mark", room])
        out, err = capsys.readouterr()
        assert code == 1 and "does not support private receipts" in err and "(use --public)" in err, err
        no_receipt_sent(proxy)
