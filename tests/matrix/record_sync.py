"""Record real /sync bodies from a local Synapse for the translation tests.

    python -m tests.matrix.record_sync                # a throwaway Synapse, into recorded/
    python -m tests.matrix.record_sync --url URL --out DIR

Each scenario seeds rooms as several users (``MatrixActor``), then syncs as "me" with
readmark's own filter (``sync_filter()``) and writes, per step, the body the server sent
(decoded and re-serialised with sorted keys) to ``<scenario>.NN-<step>.json``, and the IDs
it made to ``<scenario>.labels.json``. Synapse computes counts asynchronously, so every
step first waits (``wait_for``) until the server's counts are the ones the step expects.

``tests/matrix/test_translate.py`` asserts the translated model on the committed files;
``test_translate_synapse.py`` runs this recorder against the session Synapse and checks
that fresh recordings still translate the same way.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.devserver.actor import CLIENT_V3, MatrixActor, _quote
from app.matrix.sync_filter import sync_filter

RECORDED = Path(__file__).parent / "recorded"

HOSTILE_NAME = "\x1b]0;pwned\x07[bold red]x[/]\u202eevil"
HOSTILE_BODY = "\x1b[2Jcleared?\nsecond line\r\n\tthird \x9b31m"


class Recorder:
    """Writes one scenario's steps and labels."""

    def __init__(self, out_dir: Path, scenario: str) -> None:
        self.out_dir = out_dir
        self.scenario = scenario
        self.labels: dict[str, Any] = {"users": {}, "rooms": {}, "events": {}}
        self.step = 0
        self.written: list[Path] = []

    def write(self, name: str, body: dict[str, Any]) -> str:
        self.step += 1
        path = self.out_dir / f"{self.scenario}.{self.step:02d}-{name}.json"
        path.write_text(json.dumps(body, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        self.written.append(path)
        return body["next_batch"]

    def finish(self) -> None:
        path = self.out_dir / f"{self.scenario}.labels.json"
        path.write_text(json.dumps(self.labels, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        self.written.append(path)


def _user(base_url: str, name: str) -> MatrixActor:
    actor = MatrixActor.register(base_url, f"rm-{name.lower()}-{uuid.uuid4().hex[:8]}")
    actor.request("PUT", f"{CLIENT_V3}/profile/{_quote(actor.user_id)}/displayname", {"displayname": name})
    return actor


def _set_room_account_data(actor: MatrixActor, room_id: str, event_type: str, content: dict[str, Any]) -> None:
    path = f"{CLIENT_V3}/user/{_quote(actor.user_id)}/rooms/{_quote(room_id)}/account_data/{_quote(event_type)}"
    actor.request("PUT", path, content)


def _set_account_data(actor: MatrixActor, event_type: str, content: dict[str, Any]) -> None:
    actor.request("PUT", f"{CLIENT_V3}/user/{_quote(actor.user_id)}/account_data/{_quote(event_type)}", content)


def _wait_for_counts(actor: MatrixActor, room_id: str, main: int, threads: dict[str, int]) -> None:
    """Until the server's notification counts for ``room_id`` are these. Synapse counts
    asynchronously, and slowly on a loaded machine: up to a minute, and a timeout says
    what the counts were (once 20 s were not enough during a full test run)."""
    seen: list[tuple[int, dict[str, int]]] = []

    def check() -> bool:
        notifications, _, per_thread = actor.unread_counts(room_id)
        seen.append((notifications, {root: n for root, (n, _) in per_thread.items()}))
        return seen[-1] == (main, threads)

    try:
        MatrixActor.wait_for(check, timeout=60)
    except TimeoutError:
        raise TimeoutError(f"counts in {room_id}: wanted {(main, threads)}, last seen {seen[-1] if seen else None}") from None


def record_threads(base_url: str, out_dir: Path) -> list[Path]:
    """Threads, receipts from two users (public, private, unthreaded, threaded), names,
    a mention, reactions, an edit, a redaction, fully-read, an invite, a DM, a leave,
    marked-unread, and counts moving to zero over two incremental syncs."""
    rec = Recorder(out_dir, "threads")
    me, alice, bob = _user(base_url, "Me"), _user(base_url, "Alice"), _user(base_url, "Bob")
    rec.labels["users"] = {"me": me.user_id, "alice": alice.user_id, "bob": bob.user_id}
    rooms, events = rec.labels["rooms"], rec.labels["events"]

    # The lab: text only, so every message from someone else notifies under the default rules.
    lab = alice.create_room("Read state lab", invite=[me.user_id, bob.user_id])
    me.join(lab)
    bob.join(lab)
    rooms["lab"] = lab
    events["m1"] = alice.send_text(lab, "hello lab")
    # My receipts go out right after their events, while each is the latest of what it
    # covers: Synapse 1.163 may otherwise not apply them to its counts (see
    # app/devserver/seed.py, _Room._check_receipt_is_prompt).
    me.send_receipt(lab, events["m1"], "m.read.private")
    events["m2"] = alice.send_text(lab, "are you there?", mentions=[me.user_id])
    events["r1"] = alice.send_text(lab, "thread one root")
    events["t1a"] = bob.send_thread_reply(lab, events["r1"], "bob in thread one")
    me.send_receipt(lab, events["t1a"], "m.read", thread_id=events["r1"])
    events["t1b"] = alice.send_thread_reply(lab, events["r1"], "alice in thread one")
    events["r2"] = bob.send_text(lab, "thread two root")
    events["t2a"] = alice.send_thread_reply(lab, events["r2"], "alice in thread two")
    events["t2b"] = bob.send_thread_reply(lab, events["r2"], "bob in thread two")
    events["like_m1"] = bob.react(lab, events["m1"])
    events["like_t1a"] = alice.react(lab, events["t1a"], "🎉")
    events["edit_m1"] = alice.edit(lab, events["m1"], "hello, lab")
    # Mine, so it never notifies me. Synapse 1.163 (read in its source) deletes a redacted
    # message's push action but does not lower a count its 30 s rotation has already summed:
    # one of alice's, redacted just after a rotation, would stay counted.
    events["m3"] = me.send_text(lab, "oops, wrong room")
    events["redact_m3"] = me.redact(lab, events["m3"])
    events["mine"] = me.send_text(lab, "my own message")
    events["m4"] = bob.send_text(lab, "latest in main")

    # Receipts: mine (above) drive the counts; bob's are visible to me; alice's private one is not.
    me.set_read_markers(lab, fully_read=events["m2"])
    bob.send_receipt(lab, events["m2"], "m.read", thread_id="main")
    bob.send_receipt(lab, events["t1b"], "m.read")
    alice.send_receipt(lab, events["m4"], "m.read.private")

    # Names: by canonical alias only, and by heroes.
    alias_localpart = f"rm-alias-{uuid.uuid4().hex[:6]}"
    aliased = alice.create_room(None, invite=[me.user_id], alias_localpart=alias_localpart)
    me.join(aliased)
    rooms["aliased"] = aliased
    rec.labels["alias"] = f"#{alias_localpart}:localhost"
    heroes = alice.create_room(None, invite=[me.user_id, bob.user_id])
    me.join(heroes)
    bob.join(heroes)
    rooms["heroes"] = heroes
    events["heroes_hi"] = bob.send_text(heroes, "hi both")

    # Everything that is not plain text, and hostile text.
    # Public and joined without an invite: the zoo's server count is asserted, and Synapse
    # counts an invite's notification (.m.rule.invite_for_me) once its 30 s rotation folds
    # it into event_push_summary, in a room where I have no receipt (measured on 1.163: 5,
    # then 6 after the rotation).
    zoo = alice.create_room(HOSTILE_NAME, preset="public_chat")
    me.join(zoo)
    rooms["zoo"] = zoo
    events["emote"] = alice.send_event(zoo, "m.room.message", {"msgtype": "m.emote", "body": "waves"})
    events["image"] = alice.send_event(
        zoo, "m.room.message", {"msgtype": "m.image", "body": "cat.png", "url": "mxc://localhost/cat", "info": {}}
    )
    events["notice"] = alice.send_event(zoo, "m.room.message", {"msgtype": "m.notice", "body": "a bot speaks"})
    events["encrypted"] = alice.send_event(zoo, "m.room.encrypted", {
        "algorithm": "m.megolm.v1.aes-sha2", "ciphertext": "AwgAEnAC", "device_id": "DEV",
        "sender_key": "c2VuZGVy", "session_id": "c2Vzc2lvbg",
    })
    events["sticker"] = alice.send_event(zoo, "m.sticker", {"body": "a cat sticker", "url": "mxc://localhost/s", "info": {}})
    events["poll"] = alice.send_event(zoo, "org.matrix.msc3381.poll.start", {
        "org.matrix.msc3381.poll.start": {
            "question": {"org.matrix.msc1767.text": "Lunch?"},
            "kind": "org.matrix.msc3381.poll.disclosed",
            "max_selections": 1,
            "answers": [{"id": "y", "org.matrix.msc1767.text": "Yes"}, {"id": "n", "org.matrix.msc1767.text": "No"}],
        },
        "org.matrix.msc1767.text": "Lunch?\n1. Yes\n2. No",
    })
    events["hostile"] = alice.send_text(zoo, HOSTILE_BODY)
    events["rich_reply"] = alice.send_event(zoo, "m.room.message", {
        "msgtype": "m.text", "body": "> <@x> quoted\n\nanswer",
        "m.relates_to": {"m.in_reply_to": {"event_id": events["notice"]}},
    })

    # A DM (m.direct), an invite I have not answered, and a room I will leave.
    dm = alice.create_room(None, invite=[me.user_id], is_direct=True)
    me.join(dm)
    rooms["dm"] = dm
    events["dm_hi"] = alice.send_text(dm, "psst")
    _set_account_data(me, "m.direct", {alice.user_id: [dm]})
    invite = bob.create_room("Bob's invite", invite=[me.user_id])
    rooms["invite"] = invite
    leaving = bob.create_room("Soon left", invite=[me.user_id])
    me.join(leaving)
    rooms["leaving"] = leaving

    # Step 1, initial: main has m2 (mention), m4 after my fully-read/receipts; thread one
    # has t1b after my threaded receipt on t1a; thread two has t2a, t2b.
    _wait_for_counts(me, lab, 4, {events["r1"]: 1, events["r2"]: 2})
    filter_json = sync_filter()
    since = rec.write("initial", me.sync(filter=filter_json))

    # Step 2: new messages in main and thread one; my threaded receipt empties thread two;
    # the room gets marked unread.
    events["m5"] = alice.send_text(lab, "one more in main")
    events["t1c"] = bob.send_thread_reply(lab, events["r1"], "more in thread one")
    me.send_receipt(lab, events["t2b"], "m.read.private", thread_id=events["r2"])
    _set_room_account_data(me, lab, "m.marked_unread", {"unread": True})
    _wait_for_counts(me, lab, 5, {events["r1"]: 2})
    since = rec.write("thread-two-read", me.sync(since=since, filter=filter_json))

    # Step 3: an unthreaded receipt on the latest event reads everything; fully-read moves;
    # I leave one room; the unmarked flag comes back.
    me.send_receipt(lab, events["t1c"], "m.read")
    me.set_read_markers(lab, fully_read=events["t1c"])
    _set_room_account_data(me, lab, "m.marked_unread", {"unread": False})
    me.request("POST", f"{CLIENT_V3}/rooms/{_quote(leaving)}/leave", {})
    _wait_for_counts(me, lab, 0, {})
    rec.write("all-read", me.sync(since=since, filter=filter_json))
    rec.finish()
    return rec.written


def record_gap(base_url: str, out_dir: Path) -> list[Path]:
    """A busy room synced with a small timeline window: a limited initial timeline, then
    a limited incremental one that leaves a gap in the middle."""
    rec = Recorder(out_dir, "gap")
    me, alice = _user(base_url, "Me"), _user(base_url, "Alice")
    rec.labels["users"] = {"me": me.user_id, "alice": alice.user_id}
    busy = alice.create_room("Busy room", invite=[me.user_id])
    me.join(busy)
    rec.labels["rooms"]["busy"] = busy
    events = rec.labels["events"]
    events["root"] = alice.send_text(busy, "a thread that spans the gap")
    events["first"] = []
    for i in range(8):
        events["first"].append(alice.send_text(busy, f"early {i}"))
        if i == 1:  # right after its event, as in record_threads
            me.send_receipt(busy, events["first"][1], "m.read")
    filter_json = sync_filter(timeline_limit=5)
    _wait_for_counts(me, busy, 6, {})
    since = rec.write("initial-limited", me.sync(filter=filter_json))

    # The first thread's replies fall into the gap; the second thread's root and replies
    # are the newest five events, so the server bundles the root's thread summary.
    events["replies"] = [alice.send_thread_reply(busy, events["root"], f"reply {i}") for i in range(3)]
    events["second"] = [alice.send_text(busy, f"late {i}") for i in range(6)]
    events["root2"] = alice.send_text(busy, "a thread after the gap")
    events["replies2"] = [alice.send_thread_reply(busy, events["root2"], f"reply {i}") for i in range(2)]
    _wait_for_counts(me, busy, 13, {events["root"]: 3, events["root2"]: 2})
    rec.write("incremental-limited", me.sync(since=since, filter=filter_json))
    rec.finish()
    return rec.written


SCENARIOS: dict[str, Callable[[str, Path], list[Path]]] = {"threads": record_threads, "gap": record_gap}


def record(base_url: str, out_dir: Path, scenarios: list[str] | None = None) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name in scenarios or list(SCENARIOS):
        written += SCENARIOS[name](base_url, out_dir)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running homeserver with open registration (default: start one)")
    parser.add_argument("--out", type=Path, default=RECORDED, help=f"output directory (default {RECORDED})")
    parser.add_argument("scenario", nargs="*", choices=[[], *SCENARIOS], help="scenarios to record (default all)")
    args = parser.parse_args(argv)
    if args.url:
        paths = record(args.url, args.out, args.scenario or None)
    else:
        from app.devserver.synapse import SynapseServer

        with tempfile.TemporaryDirectory(prefix="readmark-record-") as tmp, SynapseServer(Path(tmp)) as server:
            paths = record(server.base_url, args.out, args.scenario or None)
    for path in paths:
        sys.stdout.write(f"{path}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
