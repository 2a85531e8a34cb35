"""User settings from ``config.toml`` in the platformdirs config dir.

```toml
[receipts]
mode = "private"            # or "public": what r, R, a and f send
[receipts.rooms]
"!abc:example.org" = "public"   # per-room override ("public", "private" or "none")

[[receipts.rule]]           # ordered: the first that matches a room decides
match = "dm"                # dm, encrypted, public, invite-only, room:!id|#alias, space:!id|#alias
mode = "private"            # public, private, or none (no receipt at all)

[keys]
"receipt.thread" = "r"      # remap a binding by its id (app/ui/keymap.py, the help screen)

[display]
glyphs = true               # false: words instead of 🧵 ⦿ ◂
group_rooms = true          # false: one flat list, no spaces / direct messages groups

[triage]
confirm_above = 1           # a bulk read that clears more rooms than this asks first
```

Errors name the key (and, for TOML syntax errors, the line); secrets never live here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from app.model.ids import is_room_alias, is_room_id
from app.model.policy import RULE_KINDS, Mode, PolicyRule, parse_match
from app.model.receipts import ReceiptType
from app.model.sending import ModeRules
from app.paths import config_file


class ConfigError(Exception):
    """A problem in config.toml, as one line naming the file and the key or line."""

    def __init__(self, message: str, *, key: str | None = None, problem: str = "") -> None:
        super().__init__(message)
        self.key = key
        self.problem = problem


@dataclass(frozen=True)
class Settings:
    """What config.toml sets, with the defaults for what it leaves out."""

    receipt_mode: ReceiptType = ReceiptType.PRIVATE
    room_modes: Mapping[str, ReceiptType | Mode] = field(default_factory=lambda: MappingProxyType({}))
    keys: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    glyphs: bool = True
    group_rooms: bool = True
    # A bulk read clearing more rooms than this asks for a confirmation first.
    confirm_above: int = 1
    # The ordered receipt policy rules ([[receipts.rule]]).
    rules: tuple[PolicyRule, ...] = ()

    @property
    def mode_rules(self) -> ModeRules:
        """What the receipt settings decide, for ``app.model.sending.room_mode``."""
        return ModeRules(self.receipt_mode, self.room_modes, self.rules)


_MODES = {"private": ReceiptType.PRIVATE, "public": ReceiptType.PUBLIC}
_SECTIONS = {"receipts", "keys", "display", "triage"}


def load_settings(path: Path | None = None) -> Settings:
    """Read the config file; a missing file means defaults."""
    path = path or config_file()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Settings()
    except OSError as error:
        raise ConfigError(f"{path}: cannot read: {error.strerror}") from None
    import tomllib  # only when there is a file to parse: a start without one skips it

    try:
        document = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: invalid TOML: {error}") from None
    try:
        return parse_settings(document, str(path))
    except ConfigError as error:
        line = _line_of(raw.decode("utf-8"), error.key) if error.key else None
        if line is None:
            raise
        raise ConfigError(f"{path}: line {line}: {error.key}: {error.problem}", key=error.key, problem=error.problem) from None


def parse_settings(document: Mapping[str, object], where: str = "config.toml") -> Settings:
    def fail(key: str, problem: str) -> ConfigError:
        return ConfigError(f"{where}: {key}: {problem}", key=key, problem=problem)

    unknown = sorted(set(document) - _SECTIONS)
    if unknown:
        raise fail(unknown[0], f"unknown section or key (known: {', '.join(sorted(_SECTIONS))})")
    receipts = _table(document, "receipts", fail)
    mode = ReceiptType.PRIVATE
    room_modes: dict[str, ReceiptType | Mode] = {}
    rules: list[PolicyRule] = []
    for key, value in receipts.items():
        if key == "mode":
            mode = _mode(value, "receipts.mode", fail)
        elif key == "rooms":
            if not isinstance(value, dict):
                raise fail("receipts.rooms", "must be a table of room ID = \"private\" | \"public\" | \"none\"")
            for room, room_mode in value.items():
                if not is_room_id(room):
                    # An alias can move to another room; a privacy setting must not.
                    hint = " (aliases are not accepted: use the room ID)" if is_room_alias(room) else ""
                    raise fail(f"receipts.rooms.{room}", f"not a room ID (!id){hint}")
                if room_mode == "none":
                    room_modes[room] = Mode.NONE
                else:
                    room_modes[room] = _mode(room_mode, f"receipts.rooms.{room}", fail, none=True)
        elif key == "rule":
            if not isinstance(value, list):
                raise fail("receipts.rule", "must be a list of [[receipts.rule]] tables")
            for number, entry in enumerate(value, 1):
                rules.append(_rule(entry, number, fail))
        else:
            raise fail(f"receipts.{key}", "unknown key (known: mode, rooms, rule)")
    keys: dict[str, str] = {}
    for key, value in _flatten(_table(document, "keys", fail)):
        if not isinstance(value, str) or not value.strip():
            raise fail(f"keys.{key}", "must be a key name such as \"r\" or \"ctrl+r\" (comma-separated for several)")
        keys[key] = value.strip()
    flags = {"glyphs": True, "group_rooms": True}
    for key, value in _table(document, "display", fail).items():
        if key not in flags:
            raise fail(f"display.{key}", "unknown key (known: glyphs, group_rooms)")
        if not isinstance(value, bool):
            raise fail(f"display.{key}", "must be true or false")
        flags[key] = value
    confirm_above = 1
    for key, value in _table(document, "triage", fail).items():
        if key != "confirm_above":
            raise fail(f"triage.{key}", "unknown key (known: confirm_above)")
        if type(value) is not int or value < 0:
            raise fail("triage.confirm_above", "must be a whole number of rooms, 0 or more")
        confirm_above = value
    return Settings(mode, MappingProxyType(room_modes), MappingProxyType(keys), flags["glyphs"],
                    flags["group_rooms"], confirm_above, tuple(rules))


def _rule(entry: object, number: int, fail) -> PolicyRule:  # noqa: ANN001 - the parser's error maker
    """One ``[[receipts.rule]]``: ``match`` and ``mode``, both required."""
    where = f"receipts.rule[{number}]"
    if not isinstance(entry, dict):
        raise fail(where, "must be a table with match and mode")
    unknown = sorted(set(entry) - {"match", "mode"})
    if unknown:
        raise fail(f"{where}.{unknown[0]}", "unknown key (known: match, mode)")
    if "match" not in entry or "mode" not in entry:
        raise fail(where, "needs both match and mode")
    match = entry["match"]
    parsed = parse_match(match) if isinstance(match, str) else None
    if parsed is None:
        kinds = ", ".join(k + (":ID" if k in ("room", "space") else "") for k in RULE_KINDS)
        raise fail(f"{where}.match", f"must be one of {kinds} (ID: !room:server or #alias:server)")
    kind, value = parsed
    if value is not None and not (is_room_id(value) or is_room_alias(value)):
        raise fail(f"{where}.match", f"{value!r} is not a room ID (!id) or alias (#name:server)")
    mode = entry["mode"]
    if mode not in ("public", "private", "none"):
        raise fail(f"{where}.mode", 'must be "public", "private" or "none"')
    return PolicyRule(kind, value, Mode(mode))


# Just enough of TOML's key syntax to find the line a key is set on (tomllib keeps no
# positions): bare and quoted keys, dotted keys, and [table] headers.
_KEY_PART = r"""(?:"(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_-]+)"""
_DOTTED = rf"{_KEY_PART}(?:\s*\.\s*{_KEY_PART})*"
# Compiled (and then cached by ``re``) on the first error message, not at every start.
_HEADER = rf"^\s*\[\s*({_DOTTED})\s*\]\s*(?:#.*)?$"
_ASSIGN = rf"^\s*({_DOTTED})\s*="


def _key_parts(dotted: str) -> list[str]:
    return [part[1:-1] if part[:1] in "\"'" else part for part in re.findall(_KEY_PART, dotted)]


_ARRAY_KEY = r"^(.+)\[(\d+)\](?:\.(.+))?$"
_ARRAY_HEADER = rf"^\s*\[\[\s*({_DOTTED})\s*\]\]\s*(?:#.*)?$"


def _line_of(text: str, key: str) -> int | None:
    """The line that sets ``key`` (dotted), else the first line of a table or inline
    table that holds it; None when neither is found. ``table[n].key`` is ``key`` in the
    n-th ``[[table]]`` (from 1), or that header's line."""
    if match := re.match(_ARRAY_KEY, key):
        return _array_line_of(text, match.group(1), int(match.group(2)), match.group(3))
    table: list[str] = []
    holder: int | None = None
    for number, line in enumerate(text.splitlines(), 1):
        if match := re.match(_HEADER, line):
            table = _key_parts(match.group(1))
            full = ".".join(table)
        elif match := re.match(_ASSIGN, line):
            full = ".".join(table + _key_parts(match.group(1)))
        else:
            continue
        if full == key:
            return number
        if holder is None and key.startswith(full + "."):
            holder = number
    return holder


def _array_line_of(text: str, table: str, number: int, key: str | None) -> int | None:
    seen = 0
    header: int | None = None
    for line_number, line in enumerate(text.splitlines(), 1):
        if match := re.match(_ARRAY_HEADER, line):
            if header is not None:
                break  # the next entry: the key was not in this one
            if ".".join(_key_parts(match.group(1))) == table:
                seen += 1
                if seen == number:
                    header = line_number
                    if key is None:
                        return header
            continue
        if header is not None:
            if re.match(_HEADER, line):
                break
            if (match := re.match(_ASSIGN, line)) and ".".join(_key_parts(match.group(1))) == key:
                return line_number
    return header


def _flatten(table: dict, prefix: str = ""):
    """Binding ids contain dots, so ``receipt.thread = "x"`` in TOML is a nested table:
    give it back as the dotted id."""
    for key, value in table.items():
        if isinstance(value, dict):
            yield from _flatten(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def _table(document: Mapping[str, object], name: str, fail) -> dict:
    value = document.get(name, {})
    if not isinstance(value, dict):
        raise fail(name, "must be a table")
    return value


def _mode(value: object, key: str, fail, *, none: bool = False) -> ReceiptType:
    if not isinstance(value, str) or value.lower() not in _MODES:
        words = '"private", "public" or "none"' if none else '"private" or "public"'
        raise fail(key, f"must be {words}, not {value!r}")
    return _MODES[value.lower()]
