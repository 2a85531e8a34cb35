"""`readmark audit` and `status --json`'s policy on the real Synapse, with a witness: the
position the audit says others see equals what the witness reads of me; a public receipt
that another client of mine sent into a private-policy room raises a warning with the
server's facts; one readmark itself sent while the room was public does not; a rule's
`none` makes `mark` send nothing while `--fully-read` still moves the marker."""

from __future__ import annotations

import json

import pytest

from app.matrix.session import save_session
from tests.matrix.helpers import session_of
from tests.test_cli_bulk import my_receipts, run, write_config

pytestmark = pytest.mark.synapse


def test_the_audit_matches_the_witness_and_warns_of_another_clients_public_receipt(make_actor, xdg_dirs, capsys) -> None:
    me, alice = make_actor("me"), make_actor("alice")
    room = alice.create_room("Private talk", invite=[me.user_id])
    me.join(room)
    events = [alice.send_text(room, f"message {i}") for i in range(3)]
    save_session(session_of(me))
    # Another client of mine (a raw one, not readmark) sends a public receipt.
    me.send_receipt(room, events[0], "m.read")
    alice.wait_for(lambda: me.user_id in alice.room_receipts(room).get(events[0], {}).get("m.read", {}))

    code, out, err = run(capsys, "mark", room)  # private by default
    assert code == 0, err
    code, out, err = run(capsys, "audit", "--json")
    assert code == 0, err
    entry = next(r for r in json.loads(out)["rooms"] if r["room_id"] == room)
    assert entry["receipt_policy"] == {"mode": "private", "rule": "default"}
    main = next(t for t in entry["threads"] if t["thread_id"] == "main")
    # What the witness reads of me is what the audit says others see: the raw client's receipt.
    witness = {event_id for event_id, by_type in alice.room_receipts(room).items()
               if me.user_id in by_type.get("m.read", {})}
    assert witness == {main["public"]["event_id"]} == {events[0]}
    assert main["public"]["behind"] == 2
    assert main["private"] == {"event_id": events[2], "behind": 0}
    assert [w["event_id"] for w in entry["warnings"]] == [events[0]]
    assert entry["warnings"][0]["ts"] > 0 and "did not send" in entry["warnings"][0]["text"]
    code, out, err = run(capsys, "audit")
    assert code == 0 and "WARNING" in out and "Private talk" in out

    # status --json says the policy and the visible position too.
    code, out, err = run(capsys, "status", "--json")
    status = next(r for r in json.loads(out)["rooms"] if r["room_id"] == room)
    assert status["receipt_policy"] == {"mode": "private", "rule": "default"}
    assert status["visible_read_position"] == events[0]


def test_a_public_receipt_readmark_sent_while_the_room_was_public_is_no_warning(make_actor, xdg_dirs, capsys) -> None:
    me, alice = make_actor("me"), make_actor("alice")
    room = alice.create_room("Was public", invite=[me.user_id])
    me.join(room)
    event = alice.send_text(room, "hello")
    save_session(session_of(me))
    write_config(xdg_dirs, f'[receipts.rooms]\n"{room}" = "public"\n')
    code, out, err = run(capsys, "mark", room, "--unthreaded")
    assert code == 0, err
    alice.wait_for(lambda: me.user_id in alice.room_receipts(room).get(event, {}).get("m.read", {}))
    # Now the room's policy is private: readmark's own public receipt is in its record.
    write_config(xdg_dirs, f'[[receipts.rule]]\nmatch = "room:{room}"\nmode = "private"\n')
    code, out, err = run(capsys, "audit", "--json")
    entry = next(r for r in json.loads(out)["rooms"] if r["room_id"] == room)
    assert entry["receipt_policy"] == {"mode": "private", "rule": f"rule: room {room}"}
    assert entry["warnings"] == []
    assert entry["threads"][0]["public"]["event_id"] == event


def test_a_none_rule_sends_nothing_and_fully_read_still_moves(make_actor, xdg_dirs, capsys) -> None:
    me, alice = make_actor("me"), make_actor("alice")
    room = alice.create_room("No receipts", invite=[me.user_id])
    me.join(room)
    event = alice.send_text(room, "quietly")
    save_session(session_of(me))
    write_config(xdg_dirs, '[[receipts.rule]]\nmatch = "invite-only"\nmode = "none"\n')
    for argv in (["mark", room], ["mark", room, "--unthreaded"], ["mark", room, "--public"],
                 ["mark", room, "--fully-read", "--with-receipt"]):
        code, out, err = run(capsys, *argv)
        assert code == 1 and "receipts are off in this room (rule: invite-only)" in err, (argv, err)
    code, out, err = run(capsys, "mark", "--all", "--json")
    assert json.loads(out)["rooms"][0]["refused"].startswith("receipts are off")
    assert my_receipts(me, room) == {}
    code, out, err = run(capsys, "mark", room, "--fully-read")
    assert code == 0, err
    me.wait_for(lambda: me.fully_read(room) == event)
    assert my_receipts(me, room) == {}
    code, out, err = run(capsys, "status", "--json")
    status = next(r for r in json.loads(out)["rooms"] if r["room_id"] == room)
    assert status["receipt_policy"] == {"mode": "none", "rule": "rule: invite-only"}
