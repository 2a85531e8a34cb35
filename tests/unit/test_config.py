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
    ],
)
def test_errors_name_the_key(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text))
    message = str(caught.value)
    assert expected in message and "\n" not in message


def test_invalid_toml_names_the_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"line 2"):
        load_settings(write(tmp_path, '[receipts]\nmode = "public\n'))
