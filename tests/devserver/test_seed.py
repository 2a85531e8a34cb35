"""The seeded demo account, checked against what the real Synapse holds.

One seed per module on the session server (users carry a random suffix so they cannot clash
with other tests' users), with the demo user's reading device set up as the demo sets it
up, in a demo profile of its own, so readmark can be asked what it reads. The tests only
read, but the last, which has one more message posted to an encrypted room.
"""

from __future__ import annotations

import contextlib
import io
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote as _quote
from collections.abc import Callable
from typing import Any, TypeVar

import pytest

from app.devserver.actor import CLIENT_V3, MatrixActor, MatrixHttpError
from app.devserver.demo import DEMO_DEVICE_ID, demo_environment, prepare_demo_device
from app.devserver.seed import DemoAccount, DemoUser, seed_demo_account
from app.devserver.synapse import SynapseServer

T = TypeVar("T")


def quote(part: str) -> str:
    return _quote(part, safe="")


@dataclass(frozen=True)
class Seeded:
    account: DemoAccount
    reader: MatrixActor  # the demo user's readmark device, DEMO_DEVICE_ID
    profile: Path  # its demo profile, with its crypto store
    peers: Path  # the colleagues' encrypting clients' stores


@pytest.fixture(scope="module")
def seeded(synapse: SynapseServer, tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    root = tmp_path_factory.mktemp("demo")
    readers: list[MatrixActor] = []

    def ready(user: DemoUser) -> None:
        readers.append(prepare_demo_device(synapse.base_url, user.user_id, user.password, root / "profile"))

    account = seed_demo_account(synapse.base_url, suffix=f"-{uuid.uuid4().hex[:6]}", peer_stores=root / "peers",
                                prepare_demo_device=ready)
    print(f"\nseeded {account.events_sent} events in {account.seed_seconds:.1f} s")
    return Seeded(account, readers[0], root / "profile", root / "peers")


@pytest.fixture(scope="module")
def account(seeded: Seeded) -> DemoAccount:
    return seeded.account


@pytest.fixture(scope="module")
def demo(account: DemoAccount) -> MatrixActor:
    return MatrixActor.login(account.base_url, account.user_id, account.password)


@pytest.fixture(scope="module")
def colleagues(account: DemoAccount) -> dict[str, MatrixActor]:
    return {key: MatrixActor.login(account.base_url, user.user_id, user.password)
            for key, user in account.others.items()}


def settle(read: Callable[[], T], expected: T, timeout: float = 15.0) -> T:
    """Poll ``read()`` until it equals ``expected``; return the last value for the assert's diff."""
    last: list[T] = []

    def matches() -> bool:
        last[:] = [read()]
        return last[0] == expected

    try:
        MatrixActor.wait_for(matches, timeout=timeout, interval=0.2)
    except TimeoutError:
        pass
    return last[0]


def room_events(actor: MatrixActor, room_id: str) -> list[dict[str, Any]]:
    """Every event of the room, oldest first (paginating /messages backwards)."""
    events: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        page = actor.request("GET", f"{CLIENT_V3}/rooms/{room_id}/messages",
                             query={"dir": "b", "limit": 500, "from": token})
        events.extend(page.get("chunk", []))
        token = page.get("end")
        if not page.get("chunk") or token is None:
            return list(reversed(events))


def state(actor: MatrixActor, room_id: str, event_type: str, state_key: str = "") -> dict[str, Any] | None:
    try:
        return actor.request("GET", f"{CLIENT_V3}/rooms/{quote(room_id)}/state/{event_type}/{quote(state_key)}")
    except MatrixHttpError as error:
        if error.status == 404:
            return None
        raise


# -- rooms ---------------------------------------------------------------------------------


@pytest.mark.synapse
def test_the_spaces_hold_their_children_and_one_room_sits_in_two(account: DemoAccount, demo: MatrixActor) -> None:
    ids = {**account.rooms, **account.spaces}
    for key, space_id in account.spaces.items():
        state = demo.request("GET", f"{CLIENT_V3}/rooms/{space_id}/state")
        create = next(e for e in state if e["type"] == "m.room.create")
        assert create["content"].get("type") == "m.space"
        children = {e["state_key"] for e in state if e["type"] == "m.space.child" and e["content"].get("via")}
        assert children == {ids[child] for child in account.space_children[key]}
    assert "ci" in account.space_children["engineering"] and "ci" in account.space_children["releases"]
    assert "releases" in account.space_children["engineering"]


@pytest.mark.synapse
def test_demo_user_joined_the_rooms_and_has_an_invite(account: DemoAccount, demo: MatrixActor) -> None:
    joined = set(demo.request("GET", f"{CLIENT_V3}/joined_rooms")["joined_rooms"])
    assert joined == set(account.rooms.values()) | set(account.spaces.values())
    assert len(joined) >= 8

    answer = demo.sync(filter={"room": {"timeline": {"limit": 1}}})
    invites = answer["rooms"].get("invite", {})
    assert set(invites) == set(account.invites.values()) == {account.invites["hiring"]}
    invite_state = invites[account.invites["hiring"]]["invite_state"]["events"]
    membership = next(e for e in invite_state if e["type"] == "m.room.member" and e["state_key"] == demo.user_id)
    assert membership["content"]["membership"] == "invite"
    assert membership["sender"] == account.others["dan"].user_id


@pytest.mark.synapse
def test_room_names_dm_and_alias(account: DemoAccount, demo: MatrixActor) -> None:
    for key in ("ops", "random", "design", "release", "support", "quiet", "ci", "announcements", "launch"):
        assert state(demo, account.rooms[key], "m.room.name") == {"name": account.room_names[key]}
    # The DM and the alias room have no name: a client names them from heroes / the alias.
    assert state(demo, account.rooms["dm"], "m.room.name") is None
    assert state(demo, account.rooms["coffee"], "m.room.name") is None
    alias = state(demo, account.rooms["coffee"], "m.room.canonical_alias")
    assert alias is not None and alias["alias"] == account.room_names["coffee"]
    assert account.room_names["dm"] == "Alice"

    dm = account.rooms["dm"]
    members = demo.request("GET", f"{CLIENT_V3}/rooms/{dm}/joined_members")["joined"]
    assert set(members) == {demo.user_id, account.others["alice"].user_id}
    direct = demo.request("GET", f"{CLIENT_V3}/user/{demo.user_id}/account_data/m.direct")
    alice, bob = account.others["alice"].user_id, account.others["bob"].user_id
    assert direct == {alice: [dm], bob: [account.rooms["bob_dm"]]}
    my_member = state(demo, dm, "m.room.member", demo.user_id)
    assert my_member is not None and my_member["membership"] == "join"


@pytest.mark.synapse
def test_display_names(account: DemoAccount, demo: MatrixActor) -> None:
    expected = {account.user_id: "Demo"} | {user.user_id: user.display_name for user in account.others.values()}
    assert set(expected.values()) == {"Demo", "Alice", "Bob", "Carol", "Dan"}
    for user_id, name in expected.items():
        assert demo.request("GET", f"{CLIENT_V3}/profile/{user_id}/displayname") == {"displayname": name}
    # Set before any room existed, so the member events carry them too.
    member = state(demo, account.rooms["ops"], "m.room.member", account.others["bob"].user_id)
    assert member is not None and member["displayname"] == "Bob"


@pytest.mark.synapse
def test_busy_room_has_200_messages_and_a_gap(account: DemoAccount, demo: MatrixActor) -> None:
    ci = account.rooms["ci"]
    messages = [e for e in room_events(demo, ci) if e["type"] == "m.room.message"]
    assert len(messages) == account.message_counts["ci"] >= 200

    window = demo.sync(filter={"room": {"rooms": [ci], "timeline": {"limit": 20}}})["rooms"]["join"][ci]["timeline"]
    assert window["limited"] is True
    assert len(window["events"]) == 20


# -- threads ---------------------------------------------------------------------------------


@pytest.mark.synapse
def test_rooms_with_three_to_six_threads_of_different_lengths(account: DemoAccount, demo: MatrixActor) -> None:
    rich = {room for room, threads in account.threads.items() if 3 <= len(threads) <= 6}
    assert len(rich) >= 4, {room: len(threads) for room, threads in account.threads.items()}

    lengths: list[int] = []
    for room in sorted(rich):
        answer = demo.request("GET", f"/_matrix/client/v1/rooms/{account.rooms[room]}/threads",
                              query={"limit": 50})
        on_server = {
            root["event_id"]: root["unsigned"]["m.relations"]["m.thread"]["count"] for root in answer["chunk"]
        }
        seeded = {thread.root_id: len(thread.reply_ids) for thread in account.threads[room]}
        assert on_server == seeded, room
        lengths.extend(seeded.values())
    assert min(lengths) == 1
    assert max(lengths) == 15
    assert len(set(lengths)) >= 8


@pytest.mark.synapse
def test_demo_user_replied_in_a_thread(account: DemoAccount, demo: MatrixActor) -> None:
    deploy = next(t for t in account.threads["ops"] if t.title == "Deploy plan for Friday")
    senders = [
        demo.request("GET", f"{CLIENT_V3}/rooms/{account.rooms['ops']}/event/{reply}")["sender"]
        for reply in deploy.reply_ids
    ]
    assert senders.count(demo.user_id) == 2


# -- counts: highlights, and reactions and edits that do not count ---------------------------


@pytest.mark.synapse
def test_ops_counts_exactly_reactions_and_edits_excluded(account: DemoAccount, demo: MatrixActor) -> None:
    """Ops has two reactions and an edit in main and a reaction in a thread, after the demo
    user's receipts: none of them counts."""
    ops = account.rooms["ops"]
    threads = {t.title: t.root_id for t in account.threads["ops"]}
    expected = (8, 1, {
        threads["Disk alert on db-2: 81% and climbing"]: (1, 0),
        threads["Deploy plan for Friday"]: (4, 1),  # receipt after reply 4; 5 later, 1 the demo user's own
        threads["Incident 4521 postmortem draft is up, comments welcome"]: (5, 0),
        threads["Who owns the staging certs? They expire in 9 days."]: (3, 0),
    })
    assert settle(lambda: demo.unread_counts(ops), expected) == expected
    kinds = {(r.room, r.kind) for r in account.relations}
    assert {("ops", "reaction"), ("ops", "edit")} <= kinds


@pytest.mark.synapse
def test_highlights_in_main_timelines_and_threads(account: DemoAccount, demo: MatrixActor) -> None:
    plain = [m for m in account.mentions if m.room not in account.encrypted]
    main_mentions = {m.room for m in plain if m.thread_id == "main"}
    thread_mentions = {(m.room, m.thread_id) for m in plain if m.thread_id != "main"}
    assert len(main_mentions) >= 3 and len(thread_mentions) >= 2

    for room in sorted(main_mentions):
        _notes, highlights, _threads = demo.wait_for(
            lambda room=room: (counts := demo.unread_counts(account.rooms[room]))[1] > 0 and counts)
        assert highlights > 0, room
    for room, root in sorted(thread_mentions):
        threads = demo.wait_for(lambda room=room, root=root: demo.unread_counts(account.rooms[room])[2].get(root))
        assert threads[1] > 0, (room, root)


@pytest.mark.synapse
def test_busy_room_counts(account: DemoAccount, demo: MatrixActor) -> None:
    # Read up to message 10 of 212, then Bob's mention: 202 + 1 notifications, 1 highlight.
    expected = (203, 1, {})
    assert settle(lambda: demo.unread_counts(account.rooms["ci"]), expected) == expected


@pytest.mark.synapse
def test_quiet_room_is_fully_read(account: DemoAccount, demo: MatrixActor) -> None:
    quiet = account.rooms["quiet"]
    assert settle(lambda: demo.unread_counts(quiet), (0, 0, {})) == (0, 0, {})
    last = [e for e in room_events(demo, quiet) if e["type"] == "m.room.message"][-1]["event_id"]
    assert demo.fully_read(quiet) == last


@pytest.mark.synapse
def test_reactions_edits_and_a_redaction(account: DemoAccount, demo: MatrixActor) -> None:
    by_kind: dict[str, list[Any]] = {}
    for relation in account.relations:
        by_kind.setdefault(relation.kind, []).append(relation)
    assert len(by_kind["reaction"]) >= 5 and len(by_kind["edit"]) >= 3 and len(by_kind["redaction"]) == 1

    for relation in by_kind["reaction"] + by_kind["edit"]:
        event = demo.request("GET", f"{CLIENT_V3}/rooms/{account.rooms[relation.room]}/event/{relation.event_id}")
        rel = event["content"]["m.relates_to"]
        assert rel["event_id"] == relation.target_id
        assert rel["rel_type"] == ("m.annotation" if relation.kind == "reaction" else "m.replace")
    (redaction,) = by_kind["redaction"]
    redacted = demo.request("GET", f"{CLIENT_V3}/rooms/{account.rooms[redaction.room]}/event/{redaction.target_id}")
    assert redacted["content"] == {}
    assert redacted["unsigned"]["redacted_because"]["event_id"] == redaction.event_id


# -- the encrypted rooms -------------------------------------------------------------------------


def readmark_status(seeded: Seeded) -> dict[str, Any]:
    """``readmark status --json`` as the demo user's readmark device, in its demo profile."""
    from app import cli
    from app.matrix.session import Session, delete_session, save_session

    reader = seeded.reader
    out = io.StringIO()
    with demo_environment(seeded.profile):
        save_session(Session(reader.base_url, reader.user_id, reader.device_id, reader.access_token))
        try:
            with contextlib.redirect_stdout(out):
                code = cli.main(["status", "--json"])
        finally:
            delete_session()
    assert code == 0, out.getvalue()
    return json.loads(out.getvalue())


@pytest.mark.synapse
def test_encrypted_rooms_hold_only_ciphertext_and_cleartext_threads(
    account: DemoAccount, demo: MatrixActor, colleagues: dict[str, MatrixActor]
) -> None:
    assert account.encrypted == ("launch", "bob_dm")
    for key in account.encrypted:
        room_id = account.rooms[key]
        assert state(demo, room_id, "m.room.encryption") == {"algorithm": "m.megolm.v1.aes-sha2"}
        sent = [e for e in room_events(demo, room_id) if e["type"] in ("m.room.message", "m.room.encrypted")]
        assert [e["type"] for e in sent] == ["m.room.encrypted"] * account.message_counts[key]
        joined = demo.request("GET", f"{CLIENT_V3}/rooms/{quote(room_id)}/joined_members")["joined"]
        assert set(joined) == {demo.user_id} | {account.others[k].user_id for k in account.members[key]}
    assert account.members["launch"] == ("alice", "bob", "carol") and account.members["bob_dm"] == ("bob",)

    # The DM has no name: clients name it after Bob. Both list it in m.direct.
    bob_dm = account.rooms["bob_dm"]
    assert state(demo, bob_dm, "m.room.name") is None and account.room_names["bob_dm"] == "Bob"
    bob = colleagues["bob"]
    assert bob.request("GET", f"{CLIENT_V3}/user/{quote(bob.user_id)}/account_data/m.direct") == {demo.user_id: [bob_dm]}

    # Thread relations stay in cleartext: the server knows the threads.
    launch = account.rooms["launch"]
    answer = demo.request("GET", f"/_matrix/client/v1/rooms/{quote(launch)}/threads", query={"limit": 50})
    on_server = {root["event_id"]: root["unsigned"]["m.relations"]["m.thread"]["count"] for root in answer["chunk"]}
    assert on_server == {t.root_id: len(t.reply_ids) for t in account.threads["launch"]}
    assert len(on_server) == 2


@pytest.mark.synapse
def test_the_server_counts_encrypted_messages_and_highlights_none(account: DemoAccount, demo: MatrixActor) -> None:
    """It cannot read them: every one notifies, the mentions in them do not highlight."""
    threads = {t.title: t.root_id for t in account.threads["launch"]}
    expected = (3, 0, {
        threads["Pricing page copy: final review"]: (1, 0),  # read to its end, then one more
        threads["Product video: the 90 s cut or the 3 min cut?"]: (3, 0),  # one of them mentions Demo
    })
    assert settle(lambda: demo.unread_counts(account.rooms["launch"]), expected) == expected
    assert settle(lambda: demo.unread_counts(account.rooms["bob_dm"]), (3, 0, {})) == (3, 0, {})
    encrypted_mentions = {(m.room, m.thread_id) for m in account.mentions if m.room in account.encrypted}
    assert encrypted_mentions == {("bob_dm", "main"), ("launch", threads["Product video: the 90 s cut or the 3 min cut?"])}


@pytest.mark.synapse
def test_the_demo_users_invites_left_no_notification_before_their_joins(
    account: DemoAccount, demo: MatrixActor
) -> None:
    """Synapse's summary of a room's notifications, summed every 30 s, would count an
    invite's notification too where the demo user has no receipt (the DMs): 4 instead of 3
    in Bob's, depending on when a run fell (see seed.set_invites_notify). The seed's invites
    notify nobody, and the demo user's invite rule is on again afterwards."""
    notified: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        page = demo.request("GET", f"{CLIENT_V3}/notifications", query={"limit": 500, "from": token})
        notified.extend(page["notifications"])
        token = page.get("next_token")
        if not page["notifications"] or not token:
            break
    assert notified  # the messages do notify
    assert [n["room_id"] for n in notified if n["event"]["type"] == "m.room.member"] == []
    rule = demo.request("GET", f"{CLIENT_V3}/pushrules/global/override/.m.rule.invite_for_me/enabled")
    assert rule == {"enabled": True}


@pytest.mark.synapse
def test_readmark_reads_the_encrypted_rooms_and_counts_their_mentions(seeded: Seeded) -> None:
    account = seeded.account
    assert seeded.reader.device_id == DEMO_DEVICE_ID
    rooms = {room["room_id"]: room for room in readmark_status(seeded)["rooms"]}
    launch, dm = rooms[account.rooms["launch"]], rooms[account.rooms["bob_dm"]]
    assert (launch["name"], dm["name"]) == ("Launch", "Bob")
    for room in (launch, dm):
        assert room["encrypted"] is True and room["undecryptable"] == 0, room
    assert rooms[account.rooms["ops"]]["encrypted"] is False

    # Thread titles come from the decrypted roots; counts from the seeded receipts.
    by_title = {t.title: t.root_id for t in account.threads["launch"]}
    threads = {t["thread_id"]: t for t in launch["threads"]}
    assert {threads[root]["root_preview"] for root in by_title.values()} == set(by_title)
    pricing, video = by_title["Pricing page copy: final review"], by_title["Product video: the 90 s cut or the 3 min cut?"]
    assert (threads["main"]["unread"], threads[pricing]["unread"], threads[video]["unread"]) == (3, 1, 3)

    # The mentions by m.mentions: highlights readmark finds itself, none on the server.
    assert (dm["highlights"], dm["local_highlights"]) == (0, 1)
    assert (launch["highlights"], launch["local_highlights"]) == (0, 1)
    assert threads[video]["local_highlights"] == 1


# -- receipts and markers ------------------------------------------------------------------------


def receipt_at(view: dict[str, Any], event_id: str, receipt_type: str, user_id: str) -> dict[str, Any] | None:
    return view.get(event_id, {}).get(receipt_type, {}).get(user_id)


@pytest.mark.synapse
def test_public_receipts_are_seen_by_others_private_ones_only_by_the_demo_user(
    account: DemoAccount, demo: MatrixActor, colleagues: dict[str, MatrixActor]
) -> None:
    mine = [r for r in account.receipts if r.user_id == account.user_id and r.receipt_type != "m.fully_read"]
    forms = {(r.receipt_type, "threaded" if r.thread_id not in (None, "main") else r.thread_id) for r in mine}
    assert forms == {
        ("m.read", "threaded"), ("m.read.private", "threaded"),
        ("m.read", "main"), ("m.read.private", "main"), ("m.read", None),
    }
    for receipt in mine:
        room_id = account.rooms[receipt.room]
        other = colleagues[account.members[receipt.room][0]]  # another member of that room
        as_other = other.room_receipts(room_id)
        as_demo = demo.room_receipts(room_id)
        seen_by_demo = receipt_at(as_demo, receipt.event_id, receipt.receipt_type, account.user_id)
        assert seen_by_demo is not None, receipt
        assert seen_by_demo.get("thread_id") == receipt.thread_id, receipt
        seen_by_other = receipt_at(as_other, receipt.event_id, receipt.receipt_type, account.user_id)
        if receipt.receipt_type == "m.read":
            assert seen_by_other is not None and seen_by_other.get("thread_id") == receipt.thread_id, receipt
        else:
            assert seen_by_other is None, receipt
            assert all(account.user_id not in by_type.get("m.read.private", {}) for by_type in as_other.values())


@pytest.mark.synapse
def test_private_receipt_ahead_of_public_in_design_review(account: DemoAccount, demo: MatrixActor) -> None:
    design = account.rooms["design"]
    main = {r.receipt_type: r.event_id for r in account.receipts_in("design")
            if r.user_id == account.user_id and r.thread_id == "main"}
    order = [e["event_id"] for e in room_events(demo, design)]
    assert order.index(main["m.read.private"]) > order.index(main["m.read"])
    # The thread root's own thread has a private threaded receipt part-way.
    sidebar = next(t for t in account.threads["design"] if t.title == "Sidebar mockups v3")
    private = next(r for r in account.receipts_in("design") if r.thread_id == sidebar.root_id)
    assert private.receipt_type == "m.read.private"
    assert 0 < sidebar.reply_ids.index(private.event_id) < len(sidebar.reply_ids) - 1


@pytest.mark.synapse
def test_fully_read_marker_behind_the_read_receipt(account: DemoAccount, demo: MatrixActor) -> None:
    release = account.rooms["release"]
    marker = next(r for r in account.receipts_in("release") if r.receipt_type == "m.fully_read")
    read = next(r for r in account.receipts_in("release") if r.receipt_type == "m.read")
    assert read.thread_id is None  # the unthreaded receipt
    assert demo.fully_read(release) == marker.event_id
    order = [e["event_id"] for e in room_events(demo, release)]
    assert order.index(marker.event_id) < order.index(read.event_id) < len(order) - 1


@pytest.mark.synapse
def test_other_readers_at_different_points(account: DemoAccount, demo: MatrixActor) -> None:
    support = account.rooms["support"]
    view = demo.room_receipts(support)
    others = {user.user_id for user in account.others.values()}
    positions: dict[str, set[str]] = {}
    for event_id, by_type in view.items():
        for user_id in by_type.get("m.read", {}):
            if user_id in others:
                positions.setdefault(user_id, set()).add(event_id)
    assert positions.keys() == others
    main_positions = {r.event_id for r in account.receipts_in("support") if r.thread_id in (None, "main")}
    assert len(main_positions) == 4  # four readers, four different points
    assert all(r.event_id in view for r in account.receipts_in("support"))


# -- the record itself -------------------------------------------------------------------------


def test_account_record_round_trips_through_json() -> None:
    from app.devserver.seed import DemoUser, SeededMention, SeededReceipt, SeededRelation, SeededThread

    account = DemoAccount(
        base_url="http://127.0.0.1:1", server_name="localhost", user_id="@demo:localhost", password="pw",
        display_name="Demo", others={"alice": DemoUser("alice", "@alice:localhost", "pa", "Alice")},
        rooms={"ops": "!o:localhost"}, invites={"hiring": "!h:localhost"}, room_names={"ops": "Ops"},
        members={"ops": ("alice",)}, threads={"ops": (SeededThread("ops", "T", "$r", ("$a", "$b")),)},
        message_counts={"ops": 3}, receipts=(SeededReceipt("ops", "@demo:localhost", "m.read", None, "$a", "n"),),
        relations=(SeededRelation("ops", "edit", "$e", "$a"),), mentions=(SeededMention("ops", "main", "$m"),),
        events_sent=4, seed_seconds=0.5, encrypted=("ops",),
    )
    again = DemoAccount.from_json(json.loads(json.dumps(account.to_json())))
    assert again == account
    assert "pw" not in repr(again)


def test_a_late_demo_receipt_is_a_seed_error() -> None:
    """The demo user's receipts must go out while their event is the latest of what they cover
    (see _Room._check_receipt_is_prompt: Synapse may otherwise miscount for good)."""
    from app.devserver.seed import MAIN, _Room

    room = _Room(None, "ops")  # type: ignore[arg-type]  # the check runs before any send
    room.latest_in_main, room.latest_message, room.latest_in_thread = "$root", "$reply", {"$root": "$reply"}
    room._check_receipt_is_prompt("$root", MAIN, "main, at its latest")
    room._check_receipt_is_prompt("$reply", "$root", "thread, at its latest")
    room._check_receipt_is_prompt("$reply", None, "room, at its latest")
    for event_id, thread_id in (("$older", MAIN), ("$root", None), ("$older", "$root")):
        with pytest.raises(ValueError, match="right after its event"):
            room.receipt("demo", event_id, thread_id=thread_id, note="late")


@pytest.mark.synapse
def test_registering_an_existing_user_logs_in_instead(account: DemoAccount) -> None:
    """What makes seeding a server twice work: the demo user is reused, not re-registered."""
    from app.devserver.seed import register_or_login

    localpart = account.user_id[1:].split(":", 1)[0]
    again = register_or_login(account.base_url, localpart, account.password)
    assert again.user_id == account.user_id
    assert again.request("GET", f"{CLIENT_V3}/account/whoami")["user_id"] == account.user_id
    again.logout()
    with pytest.raises(MatrixHttpError) as raised:
        register_or_login(account.base_url, localpart, "not the password")
    assert raised.value.errcode == "M_FORBIDDEN"


# -- last: this one posts ------------------------------------------------------------------------


@pytest.mark.synapse
def test_a_live_activity_post_to_an_encrypted_room_is_read_by_readmark(seeded: Seeded) -> None:
    """The live activity's encrypting clients reuse the seed's stores (as a later demo run
    does), and what they post readmark decrypts: the thread's latest event, unread, readable."""
    import threading

    from app.devserver.activity import LiveActivity
    from app.devserver.peers import THREAD_NAME as PEERS_THREAD

    account = seeded.account
    activity = LiveActivity(account, peer_stores=seeded.peers, thread_chance=1.0, mention_chance=0.0)
    try:
        posted = activity.step_encrypted("launch")
    finally:
        activity.stop()
    assert not any(t.name == PEERS_THREAD for t in threading.enumerate())
    assert posted.thread_id in account.thread_roots("launch")

    rooms = {room["room_id"]: room for room in readmark_status(seeded)["rooms"]}
    launch = rooms[account.rooms["launch"]]
    thread = next(t for t in launch["threads"] if t["thread_id"] == posted.thread_id)
    assert thread["latest_event_id"] == posted.event_id
    assert thread["undecryptable"] == 0 and launch["undecryptable"] == 0
    seeded_unread = {t.root_id: 1 if t.title.startswith("Pricing") else 3 for t in account.threads["launch"]}
    assert thread["unread"] == seeded_unread[posted.thread_id] + 1


@pytest.mark.synapse
def test_readmarks_own_counts_equal_synapses_on_the_plain_rooms(seeded: Seeded, demo: MatrixActor) -> None:
    """The push rules evaluated here count and highlight what Synapse does, room by room and
    thread by thread, wherever both count the same messages: not where the demo user's own
    reply reads a thread up to it (readmark's rule; Synapse does not lower its counts for
    it), and not where readmark's count is only a lower bound (history not loaded)."""
    account = seeded.account
    status = {room["room_id"]: room for room in readmark_status(seeded)["rooms"]}
    compared = 0
    for short, room_id in account.rooms.items():
        if short in account.encrypted or room_id not in status:
            continue
        own_threads = set()
        for event in room_events(demo, room_id):
            if event["sender"] == demo.user_id and event["type"] == "m.room.message":
                relation = event["content"].get("m.relates_to") or {}
                own_threads.add(relation.get("event_id") if relation.get("rel_type") == "m.thread" else "main")
        notifications, highlights, per_thread = demo.unread_counts(room_id)
        server = {"main": (notifications, highlights), **per_thread}
        for thread in status[room_id]["threads"]:
            tid = thread["thread_id"]
            if tid in own_threads or thread["unread_is_lower_bound"]:
                continue
            local = (thread["local_notifications"], thread["local_highlights"])
            assert local == server.get(tid, (0, 0)), (short, thread["root_preview"], local, server.get(tid))
            compared += 1
    assert compared >= 10  # the main timelines and threads of the plain rooms (12 when written)
