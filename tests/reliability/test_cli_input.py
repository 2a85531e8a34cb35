"""Bad input on the command line and in config.toml: one line on stderr, a non-zero
exit, and nothing sent (the recording proxy in front of Synapse saw no receipt or marker
request). Builds on ``tests/test_cli_commands.py`` (which checks the witness) and
``tests/unit/test_config.py`` (which checks the messages in-process)."""

from __future__ import annotations

import asyncio
import io
import re
import sys
from pathlib import Path

import pytest

from app import cli, paths
from app.config import ConfigError, load_settings
from app.matrix.session import Session, save_session
from tests.reliability.helpers import RecordingProxy, make_scene, receipts_sent

pytestmark = pytest.mark.faults
CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")


async def run_cli(capsys, argv: list[str]) -> tuple[int, str, str]:  # noqa: ANN001
    code = await asyncio.to_thread(cli.main, argv)
    out, err = capsys.readouterr()
    return code, out, err


def assert_refused(code: int, out: str, err: str, exit_code: int, *fragments: str) -> None:
    assert code == exit_code, (code, err)
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("readmark: ") and "Traceback" not in err, err
    assert not CONTROL.search(err), repr(err)  # nothing from the input reaches the terminal raw
    for fragment in fragments:
        assert fragment in err, err


MARK_CASES = {
    "not-an-id": (["mark", "lobby"], 2, "not a room ID"),
    "bare-bang": (["mark", "!"], 2, "not a room ID"),
    "spaces": (["mark", "!abc def:localhost"], 2, "not a room ID"),
    # Not a room ID (control characters are not printable): refused before any request.
    "escape-in-room-id": (["mark", "!\x1b]0;pwned\x07:localhost"], 2, "not a room ID"),
    "alias-unknown": (["mark", "#nope-nothing-here:localhost"], 1, "does not resolve"),
    "alias-with-escape": (["mark", "#\x1b[2J-gone:localhost"], 2, "not a room ID"),
    "overlong-room-id": (["mark", "!" + "x" * 300 + ":localhost"], 2, "not a room ID"),
    "alias-of-a-room-not-joined": (["mark", "{foreign_alias}"], 1, "not joined"),
    "room-not-joined": (["mark", "{foreign}"], 1, "not joined"),
    "event-from-another-room": (["mark", "{room}", "--event", "{elsewhere}"], 1, "is not in"),
    "fully-read-event-from-another-room": (["mark", "{room}", "--fully-read", "--event", "{elsewhere}"], 1, "is not in"),
    "unknown-thread": (["mark", "{room}", "--thread", "$no-such-thread"], 1, "is not in"),
    "thread-of-another-room": (["mark", "{room}", "--thread", "{elsewhere}"], 1, ""),
    "reply-is-not-a-root": (["mark", "{room}", "--thread", "{reply}"], 1, "nothing sent"),
    "event-outside-the-thread": (["mark", "{room}", "--thread", "{root}", "--event", "{last}"], 1, "not in this thread"),
    "malformed-event": (["mark", "{room}", "--event", "not-an-event"], 2, "--event takes an event ID"),
    "malformed-thread": (["mark", "{room}", "--thread", "root"], 2, "--thread takes"),
    "fully-read-with-thread": (["mark", "{room}", "--fully-read", "--thread", "main"], 2, "fully-read marker has no thread"),
    "with-receipt-alone": (["mark", "{room}", "--with-receipt"], 2, "--with-receipt goes with --fully-read"),
}


@pytest.mark.synapse
async def test_bad_mark_arguments_send_nothing(make_actor, synapse, capsys) -> None:  # noqa: ANN001
    scene = make_scene(make_actor, replies=1, main=1)
    other = scene.alice.create_room("Elsewhere", invite=[scene.me.user_id])
    scene.me.join(other)
    elsewhere = scene.alice.send_text(other, "in another room")
    foreign = scene.alice.create_room("Private", alias_localpart=f"private-{scene.me.user_id[4:14]}")
    values = {
        "room": scene.room, "root": scene.root, "reply": scene.replies[0], "last": scene.main[-1],
        "elsewhere": elsewhere, "foreign": foreign, "foreign_alias": f"#private-{scene.me.user_id[4:14]}:localhost",
    }
    async with RecordingProxy(synapse.base_url) as proxy:
        save_session(Session(proxy.base_url, scene.me.user_id, scene.me.device_id, scene.me.access_token))
        results = {}
        for name, (argv, exit_code, fragment) in MARK_CASES.items():
            argv = [a.format(**values) for a in argv]
            results[name] = await run_cli(capsys, argv)
            assert_refused(*results[name], exit_code, fragment)
        # A valid one at the end: the proxy does record receipts when there are some.
        code, out, err = await run_cli(capsys, ["mark", scene.room, "--public"])
        assert code == 0, err
    sent = receipts_sent(proxy)
    assert [(s.receipt_type, s.event_id) for s in sent] == [("m.read", scene.main[-1])], sent
    assert scene.alice.wait_for(lambda: scene.my_receipt(scene.main[-1]))


async def test_a_bad_config_stops_mark_before_any_request(make_actor, synapse, capsys) -> None:  # noqa: ANN001
    config = paths.config_file()
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('[receipts]\nmode = "loud"\n')
    async with RecordingProxy(synapse.base_url) as proxy:
        save_session(Session(proxy.base_url, "@me:localhost", "DEV", "syt_config_test_token"))
        code, out, err = await run_cli(capsys, ["mark", "!room:localhost"])
        assert_refused(code, out, err, 2, "receipts.mode", "line 2")
        code, out, err = await run_cli(capsys, ["status"])
        assert_refused(code, out, err, 2, "receipts.mode")
    assert proxy.seen == []  # not a single request


CONFIG_CASES = {
    "wrong-type-mode": ('# comment\n[receipts]\n\nmode = ["public"]\n', "receipts.mode", 4),
    "rooms-not-a-table": ('[receipts]\nrooms = "public"\n', "receipts.rooms", 2),
    "room-value-wrong-type": ('[receipts.rooms]\n"!a:example.org" = true\n', "receipts.rooms.!a:example.org", 2),
    "room-key-not-an-id": ('[receipts]\nmode = "public"\n[receipts.rooms]\n"lobby.example" = "public"\n', "receipts.rooms.lobby.example", 4),
    "dotted-key": ('receipts.mode = 3\n', "receipts.mode", 1),
    "unknown-key": ('[display]\nglyphs = true\ncolour = "red"\n', "display.colour", 3),
    "unknown-section": ('[receipts]\nmode = "public"\n\n[theme]\nname = "x"\n', "theme", 4),
    "keys-not-a-string": ('[display]\nglyphs = false\n[keys]\n"receipt.thread" = ["r"]\n', "keys.receipt.thread", 4),
    "inline-table": ('display = { glyphs = "yes" }\n', "display.glyphs", 1),
}


@pytest.mark.parametrize("case", sorted(CONFIG_CASES))
def test_config_errors_name_the_key_and_the_line(tmp_path: Path, case: str) -> None:
    text, key, line = CONFIG_CASES[case]
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message
    assert f"{key}:" in message and f"line {line}" in message, message


@pytest.mark.parametrize(
    ("content", "says"),
    [(b"\xff\xfe[receipts]\n", "not UTF-8"), (b'[receipts]\nmode = "public"\nmode = "private"\n', "line 3"),
     (b"[receipts\n", "line 1"), (b"\x00\x01\x02", "invalid TOML")],
)
def test_unreadable_config_files_are_one_line(tmp_path: Path, content: bytes, says: str) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert says in str(caught.value) and "\n" not in str(caught.value)


def test_a_config_that_is_a_directory_is_one_line(tmp_path: Path, capsys, monkeypatch) -> None:  # noqa: ANN001
    paths.config_file().mkdir(parents=True)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    code = cli.main(["status", "--offline"])
    out, err = capsys.readouterr()
    assert_refused(code, out, err, 2, "cannot read")
