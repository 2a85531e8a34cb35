"""Every kind of receipt-policy rule decides on a real Synapse, read back from `status
--json`'s receipt_policy: a room by alias, a space (through a sub-space), dm, encrypted,
public, invite-only, first match winning, the default where none matches, and the room's
own mode set from readmark (account data) above them all."""

from __future__ import annotations

import json
import urllib.parse

import pytest

from app.matrix.session import save_session
from tests.matrix.helpers import session_of
from tests.test_cli_bulk import run, set_account_data, write_config

pytestmark = pytest.mark.synapse
CLIENT_V3 = "/_matrix/client/v3"


def test_each_rule_kind_decides_as_documented(make_actor, xdg_dirs, capsys) -> None:
    me, alice = make_actor("me"), make_actor("alice")
    server = me.user_id.split(":", 1)[1]

    def space(name: str) -> str:
        body = {"preset": "private_chat", "name": name, "invite": [me.user_id],
                "creation_content": {"type": "m.space"}}
        return alice.request("POST", f"{CLIENT_V3}/createRoom", body)["room_id"]

    top, sub = space("Work"), space("Work sub")
    in_space = alice.create_room("In the space", invite=[me.user_id])
    alice.send_state(top, "m.space.child", {"via": [server]}, state_key=sub)
    alice.send_state(sub, "m.space.child", {"via": [server]}, state_key=in_space)
    aliased = alice.create_room("Aliased", invite=[me.user_id], alias_localpart=f"aliased-{me.user_id[1:6]}")
    alias = f"#aliased-{me.user_id[1:6]}:{server}"
    dm = alice.create_room("A DM", invite=[me.user_id], is_direct=True)
    encrypted = alice.create_room("Encrypted", invite=[me.user_id])
    alice.send_state(encrypted, "m.room.encryption", {"algorithm": "m.megolm.v1.aes-sha2"})
    public = alice.create_room("Public", preset="public_chat")
    invite_only = alice.create_room("Invite only", invite=[me.user_id])
    overridden = alice.create_room("Overridden", invite=[me.user_id])
    knock = alice.create_room("Knock", invite=[me.user_id])
    alice.send_state(knock, "m.room.join_rules", {"join_rule": "knock"})
    for room in (top, sub, in_space, aliased, dm, encrypted, public, invite_only, overridden, knock):
        me.join(room)
    set_account_data(me, "m.direct", {alice.user_id: [dm]})
    user = urllib.parse.quote(me.user_id, safe="")
    me.request("PUT", f"{CLIENT_V3}/user/{user}/rooms/{overridden}/account_data/org.readmark.receipt_policy",
               {"mode": "public"})
    write_config(xdg_dirs, f"""
[receipts]
mode = "private"

[[receipts.rule]]
match = "room:{alias}"
mode = "public"

[[receipts.rule]]
match = "space:{top}"
mode = "none"

[[receipts.rule]]
match = "dm"
mode = "none"

[[receipts.rule]]
match = "encrypted"
mode = "private"

[[receipts.rule]]
match = "public"
mode = "public"

[[receipts.rule]]
match = "invite-only"
mode = "none"
""")
    save_session(session_of(me))
    code, out, err = run(capsys, "status", "--json")
    assert code == 0, err
    policy = {room["room_id"]: room["receipt_policy"] for room in json.loads(out)["rooms"]}
    assert policy[aliased] == {"mode": "public", "rule": f"rule: room {alias}"}
    assert policy[in_space] == {"mode": "none", "rule": f"rule: space {top}"}
    # The DM is invite-only too, and encrypted is not: the dm rule comes first.
    assert policy[dm] == {"mode": "none", "rule": "rule: dm"}
    # Encrypted and invite-only: the earlier rule (encrypted) wins.
    assert policy[encrypted] == {"mode": "private", "rule": "rule: encrypted"}
    assert policy[public] == {"mode": "public", "rule": "rule: public"}
    assert policy[invite_only] == {"mode": "none", "rule": "rule: invite-only"}
    # The room's own mode (account data) comes before the invite-only rule.
    assert policy[overridden] == {"mode": "public", "rule": "this room"}
    # No rule matches a knock room: the default.
    assert policy[knock] == {"mode": "private", "rule": "default"}
    # Spaces are groups, not rooms.
    assert top not in policy and sub not in policy
