"""config.toml: defaults, values, and one-line errors naming the key or line."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.config import ConfigError, Settings, load_settings
from app.model.receipts import ReceiptType
from app.model.sending import RoomMode, room_mode


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_missing_file_gives_private_defaults(tmp_path: Path) -> None:
    settings = load_settings(tmp_path / "absent.toml")
    assert settings == Settings()
    assert settings.receipt_mode is ReceiptType.PRIVATE


def test_values_and_room_override(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[receipts]\nmode = "public"\n[receipts.rooms]\n"!a:x" = "private"\n[keys]\nreceipt.thread = "x"\n"receipt.room" = "X"\n[display]\nglyphs = false\n',
    )
    settings = load_settings(path)
    assert settings.receipt_mode is ReceiptType.PUBLIC
    assert room_mode(settings.mode_rules, None, "!a:x") == RoomMode(ReceiptType.PRIVATE, pinned=True)
    assert room_mode(settings.mode_rules, None, "!b:x") == RoomMode(ReceiptType.PUBLIC)
    assert settings.keys == {"receipt.thread": "x", "receipt.room": "X"}
    assert settings.glyphs is False


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[receipts]\nmode = "loud"\n', "receipts.mode"),
        ("[receipts]\nmode = 3\n", "receipts.mode"),
        ('[receipts]\nmodes = "public"\n', "receipts.modes"),
        ('[receipts.rooms]\n"lobby" = "public"\n', "receipts.rooms.lobby"),
        ('[receipts.rooms]\n"#secret:x" = "private"\n', "aliases are not accepted"),
        ('[receipts.rooms]\n"!a\\tb:x" = "private"\n', "not a room ID"),
        ('[receipts.rooms]\n"!a\\u001b[2J:x" = "private"\n', "not a room ID"),
        ('[receipts.rooms]\n"!' + "x" * 300 + ':x" = "private"\n', "not a room ID"),
        ("[display]\nglyphs = \"yes\"\n", "display.glyphs"),
        ("[keys]\nread_thread = 1\n", "keys.read_thread"),
        ("[colours]\nx = 1\n", "colours"),
        ("receipts = 1\n", "receipts"),
        # A policy rule's error names its line too.
        ('[[receipts.rule]]\nmatch = "dm"\nmode = "loud"\n', 'line 3: receipts.rule[1].mode: must be "public", "private" or "none"'),
        ('[[receipts.rule]]\nmatch = "dm"\nmode = "none"\n\n[[receipts.rule]]\nmatch = "dms"\nmode = "none"\n',
         "line 6: receipts.rule[2].match: must be one of"),
        ('[[receipts.rule]]\nmatch = "space:lobby"\nmode = "none"\n', "line 2: receipts.rule[1].match: 'lobby' is not a room ID"),
        ('[[receipts.rule]]\nmatch = "dm"\n', "line 1: receipts.rule[1]: needs both match and mode"),
        ('[[receipts.rule]]\nmatch = "dm"\nmode = "none"\ncolour = 1\n', "line 4: receipts.rule[1].colour: unknown key"),
        ('[receipts]\nrule = 3\n', "receipts.rule: must be a list"),
        ('[receipts]\nmode = "none"\n', 'receipts.mode: must be "private" or "public"'),
        ("[display]\ngroup_rooms = 1\n", "display.group_rooms: must be true or false"),
        ("[display]\ngroup = false\n", "display.group: unknown key (known: glyphs, group_rooms)"),
        ("[triage]\nconfirm_above = -1\n", "triage.confirm_above: must be a whole number of rooms, 0 or more"),
        ("[triage]\nconfirm_above = 2.5\n", "triage.confirm_above: must be a whole number"),
        ('[triage]\nconfirm_above = "3"\n', "triage.confirm_above: must be a whole number"),
        ("[triage]\nconfirm_above = true\n", "triage.confirm_above: must be a whole number"),
        ("[triage]\nconfirm = 3\n", "triage.confirm: unknown key (known: confirm_above)"),
        ("triage = 3\n", "triage"),
    ],
)
def test_errors_name_the_key(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text))
    message = str(caught.value)
    assert expected in message and "\n" not in message


def test_grouping_and_the_confirmation_threshold(tmp_path: Path) -> None:
    defaults = load_settings(tmp_path / "absent.toml")
    assert (defaults.group_rooms, defaults.confirm_above) == (True, 1)
    settings = load_settings(write(tmp_path, "[display]\ngroup_rooms = false\n[triage]\nconfirm_above = 0\n"))
    assert (settings.group_rooms, settings.confirm_above) == (False, 0)
    assert load_settings(write(tmp_path, "[triage]\nconfirm_above = 250\n")).confirm_above == 250


def test_invalid_toml_names_the_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"line 2"):
        load_settings(write(tmp_path, '[receipts]\nmode = "public\n'))


def test_policy_rules_in_order_with_none(tmp_path: Path) -> None:
    from app.model.policy import Mode, PolicyRule, RoomFacts

    path = write(tmp_path, """
[receipts]
mode = "public"
[receipts.rooms]
"!quiet:x" = "none"

[[receipts.rule]]
match = "space:#work:x"
mode = "private"

[[receipts.rule]]
match = "dm"
mode = "none"

[[receipts.rule]]
match = "room:!a:x"
mode = "public"
""")
    settings = load_settings(path)
    assert settings.rules == (
        PolicyRule("space", "#work:x", Mode.PRIVATE), PolicyRule("dm", None, Mode.NONE), PolicyRule("room", "!a:x", Mode.PUBLIC)
    )
    rules = settings.mode_rules
    quiet = room_mode(rules, None, "!quiet:x")
    assert not quiet.sends and quiet.rule == "pinned in config"
    # A DM in the work space: the space rule comes first.
    both = room_mode(rules, None, "!d:x", RoomFacts("!d:x", is_direct=True, spaces=frozenset({"#work:x"})))
    assert both == RoomMode(ReceiptType.PRIVATE, pinned=True) and both.rule == "rule: space #work:x"
    dm = room_mode(rules, None, "!d:x", RoomFacts("!d:x", is_direct=True))
    assert not dm.sends and dm.rule == "rule: dm"
    assert room_mode(rules, None, "!b:x") == RoomMode(ReceiptType.PUBLIC)
