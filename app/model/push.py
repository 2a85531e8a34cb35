"""Push rules, evaluated locally: which events notify and which highlight.

The server cannot read encrypted events, so readmark runs the user's push rules itself
on decrypted (or plain) events. This module owns the rule types, the parsing of the
``m.push_rules`` account data, the spec's predefined rules and their merge with the
account data, and the evaluator: glob matching, dot-separated property paths and every
condition kind of the Client-Server API's push module (v1.17).

Hostile account data never raises: a rule that cannot be read is skipped, a condition
that cannot be read (or is of an unknown kind) makes its rule never match, and the work
is bounded by caps on rules, conditions, actions and string lengths. Globs compile to
regexes once per pattern and a ruleset compiles its rules once, so evaluating an event
costs a few dictionary look-ups and regex calls per rule.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import islice
from typing import Final, Union

Scalar = Union[str, int, bool, None]

# Checked in this order; the first matching enabled rule decides.
KINDS: tuple[str, ...] = ("override", "content", "room", "sender", "underride")

MAX_RULES_PER_KIND = 2_000
MAX_CONDITIONS = 64
MAX_ACTIONS = 64
# Room and user IDs are at most 255 bytes; keys, patterns and rule IDs far longer than
# that are junk, and a bound keeps glob matching linear in the event's size.
MAX_STRING = 1_024

# Canonical JSON integers: the range an IEEE double holds exactly.
_MAX_SAFE_INT = 2**53 - 1
# The default power needed for a notification kind, as m.room.power_levels defines
# for "room"; other keys have no default of their own and take the same.
DEFAULT_NOTIFICATION_LEVEL = 50

MASTER_RULE = ".m.rule.master"
# Rules of pre-1.17 servers that find mentions in the plain body. mentions.md: they
# are disabled when the event has an ``m.mentions`` property.
LEGACY_MENTION_RULES = frozenset({".m.rule.contains_display_name", ".m.rule.contains_user_name", ".m.rule.roomnotif"})


# --- conditions -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EventMatch:
    """A glob on a string property; ``content.body`` matches on word boundaries."""

    key: str
    pattern: str


@dataclass(frozen=True, slots=True)
class EventPropertyIs:
    """An exact, type-sensitive match of a string, integer, boolean or null property."""

    key: str
    value: Scalar
    # Keeps EventPropertyIs(k, True) unequal to EventPropertyIs(k, 1), as matching does.
    value_type: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "value_type", type(self.value).__name__)


@dataclass(frozen=True, slots=True)
class EventPropertyContains:
    """An array property that holds ``value`` exactly (same type and value)."""

    key: str
    value: Scalar
    value_type: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "value_type", type(self.value).__name__)


@dataclass(frozen=True, slots=True)
class ContainsDisplayName:
    """``content.body`` contains my display name in the room, on word boundaries
    (deprecated in v1.17, still sent by servers with the legacy rules)."""


@dataclass(frozen=True, slots=True)
class RoomMemberCount:
    """The room's member count compared with ``count``; ``op`` is one of ==, <, >, <=, >=."""

    op: str
    count: int


@dataclass(frozen=True, slots=True)
class SenderNotificationPermission:
    """The sender's power level reaches the room's ``notifications[key]`` level."""

    key: str


@dataclass(frozen=True, slots=True)
class UnrecognisedCondition:
    """A condition of an unknown kind, or a known kind with unusable parameters: the
    spec says an unrecognised condition never matches, which disables its rule."""

    kind: str
    reason: str = "unknown kind"


PushCondition = Union[
    EventMatch,
    EventPropertyIs,
    EventPropertyContains,
    ContainsDisplayName,
    RoomMemberCount,
    SenderNotificationPermission,
    UnrecognisedCondition,
]


# --- rules ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SetTweak:
    """``{"set_tweak": tweak, "value": value}``. A highlight tweak without a value is
    stored as True, which the spec defines it to mean."""

    tweak: str
    value: Scalar = None


PushAction = Union[str, SetTweak]


@dataclass(frozen=True, slots=True)
class PushRule:
    """One rule. ``conditions`` apply to override and underride rules, ``pattern`` to
    content rules; room and sender rules match on their ``rule_id``."""

    rule_id: str
    default: bool
    enabled: bool
    conditions: tuple[PushCondition, ...] = ()
    actions: tuple[PushAction, ...] = ()
    pattern: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "conditions", tuple(self.conditions))
        object.__setattr__(self, "actions", tuple(self.actions))


@dataclass(frozen=True, slots=True)
class PushOutcome:
    """What the deciding rule says. ``highlight`` and ``sound`` are tweaks of a
    notification, so they are False and None when the rule does not notify."""

    notify: bool
    highlight: bool
    sound: str | None
    rule_id: str | None


NO_MATCH = PushOutcome(notify=False, highlight=False, sound=None, rule_id=None)


def rule_outcome(rule: PushRule) -> PushOutcome:
    """The outcome of ``rule`` matching. Unknown actions, and the historical
    ``dont_notify`` and ``coalesce`` (which the spec says to ignore), do nothing."""
    notify = "notify" in rule.actions
    highlight = False
    sound: str | None = None
    for action in rule.actions:
        if isinstance(action, SetTweak):
            if action.tweak == "highlight" and type(action.value) is bool:
                highlight = action.value
            elif action.tweak == "sound" and type(action.value) is str:
                sound = action.value
    if not notify:
        return PushOutcome(False, False, None, rule.rule_id)
    return PushOutcome(True, highlight, sound, rule.rule_id)


@dataclass(frozen=True, slots=True)
class PushContext:
    """What the evaluator needs to know beyond the event: who I am, my display name in
    the room, the room's member count, the sender's power level and the room's
    ``notifications`` power levels. ``room_id`` serves room rules when the event
    (as in a sync timeline) has none."""

    user_id: str
    display_name: str | None = None
    member_count: int | None = None
    sender_power_level: int = 0
    notification_power_levels: Mapping[str, int] = field(default_factory=dict, hash=False)
    room_id: str | None = None


_Test = Callable[[Mapping, PushContext], bool]
_CompiledRule = tuple[tuple[_Test, ...], PushOutcome]
# A rule as compiled: the matchers its event_match conditions on ``type`` apply to the
# event's type, its other tests, its outcome.
_TypedRule = tuple[tuple[Callable[[str], object], ...], tuple[_Test, ...], PushOutcome]
# Event types whose candidate rules are kept per ruleset at once (a room's events have a
# handful; past this many, a hostile sync's, the cache starts again).
_MAX_CACHED_TYPES: Final = 256


class _Kind:
    """One kind's rules in priority order, with, per event type, the rules whose
    conditions on ``type`` hold for it (those conditions are then not tested again:
    each depends on the type alone). Most default rules name one event type, so an
    event is tested against a few rules instead of all of them."""

    __slots__ = ("by_type", "rules")

    def __init__(self, rules: tuple[_TypedRule, ...]) -> None:
        self.rules = rules
        self.by_type: dict[object, tuple[_CompiledRule, ...]] = {}

    def for_type(self, etype: object) -> tuple[_CompiledRule, ...]:
        found = self.by_type.get(etype) if type(etype) is str or etype is None else None
        if found is not None:
            return found
        text = etype if type(etype) is str else None
        found = tuple(
            (tests, outcome)
            for matchers, tests, outcome in self.rules
            if all(text is not None and match(text) is not None for match in matchers)
        )
        if text is not None or etype is None:
            if len(self.by_type) >= _MAX_CACHED_TYPES:
                # Junk types (a hostile sync's) must not keep the common ones out for good.
                self.by_type.clear()
            self.by_type[etype] = found
        return found


@dataclass(frozen=True, slots=True)
class _Compiled:
    override: _Kind
    content: _Kind
    room: Mapping[str, PushOutcome]
    sender: Mapping[str, PushOutcome]
    underride: _Kind


@dataclass(frozen=True, slots=True)
class PushRuleset:
    """The five kinds of rules, each in priority order."""

    override: tuple[PushRule, ...] = ()
    content: tuple[PushRule, ...] = ()
    room: tuple[PushRule, ...] = ()
    sender: tuple[PushRule, ...] = ()
    underride: tuple[PushRule, ...] = ()
    _compiled: _Compiled = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        for kind in KINDS:
            object.__setattr__(self, kind, tuple(getattr(self, kind)))
        object.__setattr__(self, "_compiled", _compile(self))

    def rules(self, kind: str) -> tuple[PushRule, ...]:
        return getattr(self, kind) if kind in KINDS else ()

    def __iter__(self) -> Iterator[tuple[str, PushRule]]:
        """(kind, rule) in evaluation order."""
        for kind in KINDS:
            for rule in getattr(self, kind):
                yield kind, rule

    def find(self, kind: str, rule_id: str) -> PushRule | None:
        return next((rule for rule in self.rules(kind) if rule.rule_id == rule_id), None)


# --- glob matching and property paths ----------------------------------------------

# The spec's word characters; everything else (non-ASCII letters too) is a boundary.
_WORD = "A-Za-z0-9_"
_NOT_AFTER_WORD = f"(?<![{_WORD}])"
_NOT_BEFORE_WORD = f"(?![{_WORD}])"


def _glob_segment(segment: str) -> str:
    # Case-insensitivity is scoped to the pattern's own characters so that the
    # boundary classes stay ASCII (re.IGNORECASE would let the Kelvin sign into [A-Z]).
    return "(?i:" + "".join("." if ch == "?" else re.escape(ch) for ch in segment) + ")"


@lru_cache(maxsize=4_096)
def compile_glob(pattern: str, word_boundary: bool = False) -> Callable[[str], object]:
    """A matcher for ``pattern`` (``*`` any run of characters, ``?`` exactly one, the
    rest literal, case-insensitive) that returns a truthy value on a match. Without
    ``word_boundary`` it matches the whole value; with it, any substring that starts
    and ends at a word boundary (as for ``content.body``).

    Each ``*`` after the first segment is an atomic lazy group: the leftmost place
    for every middle segment is always a right one, so the regex never backtracks
    into it, and matching stays linear in the value times the pattern."""
    segments = pattern.split("*")
    if len(segments) == 1:
        literal = _glob_segment(pattern)
        if word_boundary:
            return re.compile(_NOT_AFTER_WORD + literal + _NOT_BEFORE_WORD, re.DOTALL).search
        return re.compile(literal, re.DOTALL).fullmatch
    first, *middle, last = segments
    if word_boundary:
        # Anchored at the start: the leftmost boundary at which the first segment
        # matches is always a right start, so no later start needs trying.
        parts = [f"(?>.*?{_NOT_AFTER_WORD}{_glob_segment(first)})"]
    else:
        parts = [_glob_segment(first)]
    parts += [f"(?>.*?{_glob_segment(segment)})" for segment in middle if segment]
    parts.append(".*" + _glob_segment(last))
    if word_boundary:
        parts.append(_NOT_BEFORE_WORD)
        return re.compile("".join(parts), re.DOTALL).match
    return re.compile("".join(parts), re.DOTALL).fullmatch


def glob_matches(pattern: str, value: str, *, word_boundary: bool = False) -> bool:
    return compile_glob(pattern, word_boundary)(value) is not None


@lru_cache(maxsize=4_096)
def split_property_path(key: str) -> tuple[str, ...]:
    """``content.m\\.relates_to`` -> ("content", "m.relates_to"). ``\\.`` is a literal dot
    and ``\\\\`` a literal backslash; any other backslash is itself."""
    parts: list[str] = []
    current: list[str] = []
    i, n = 0, len(key)
    while i < n:
        ch = key[i]
        if ch == "\\" and i + 1 < n and key[i + 1] in ".\\":
            current.append(key[i + 1])
            i += 2
            continue
        if ch == ".":
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    parts.append("".join(current))
    return tuple(parts)


def join_property_path(names: Iterable[str]) -> str:
    """The inverse of ``split_property_path``: escapes backslashes, then dots."""
    return ".".join(name.replace("\\", "\\\\").replace(".", "\\.") for name in names)


_ABSENT = object()


def _resolve(event: Mapping, path: tuple[str, ...]) -> object:
    node: object = event
    for part in path:
        if type(node) is not dict and not isinstance(node, Mapping):
            return _ABSENT
        node = node.get(part, _ABSENT)  # type: ignore[union-attr]
        if node is _ABSENT:
            return _ABSENT
    return node


def _resolver(path: tuple[str, ...]) -> Callable[[Mapping], object]:
    """``_resolve`` of ``path``, unrolled for the paths push rules name most (two and
    three parts: ``content.msgtype``, ``content.m\\.mentions.user_ids``): a test runs
    for nearly every message and rule, and the loop costs about twice as much."""
    if len(path) == 2:
        first, second = path

        def resolve2(event: Mapping) -> object:
            node = event.get(first, _ABSENT) if type(event) is dict else _resolve(event, path[:1])
            if type(node) is dict:
                return node.get(second, _ABSENT)
            return _resolve(node, path[1:]) if node is not _ABSENT else _ABSENT

        return resolve2
    if len(path) == 3:
        first, second, third = path

        def resolve3(event: Mapping) -> object:
            node = event.get(first, _ABSENT) if type(event) is dict else _resolve(event, path[:1])
            if type(node) is dict:
                node = node.get(second, _ABSENT)
                if type(node) is dict:
                    return node.get(third, _ABSENT)
                return _resolve(node, path[2:]) if node is not _ABSENT else _ABSENT
            return _resolve(node, path[1:]) if node is not _ABSENT else _ABSENT

        return resolve3
    return lambda event: _resolve(event, path)


def _is_canonical_scalar(value: object) -> bool:
    if value is None or type(value) is bool or type(value) is str:
        return True
    return type(value) is int and -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT  # type: ignore[operator]


# --- compiling conditions to tests --------------------------------------------------


def _event_match_test(condition: EventMatch) -> _Test:
    path = split_property_path(condition.key)
    match = compile_glob(condition.pattern, path == ("content", "body"))
    if len(path) == 1:
        (name,) = path

        def test(event: Mapping, context: PushContext) -> bool:
            value = event.get(name)
            return type(value) is str and match(value) is not None
    else:
        resolve = _resolver(path)

        def test(event: Mapping, context: PushContext) -> bool:
            value = resolve(event)
            return type(value) is str and match(value) is not None

    return test


def _property_is_test(condition: EventPropertyIs) -> _Test:
    path = split_property_path(condition.key)
    expected, expected_type = condition.value, type(condition.value)
    resolve = _resolver(path)

    def test(event: Mapping, context: PushContext) -> bool:
        value = resolve(event)
        return type(value) is expected_type and value == expected

    return test


def _property_contains_test(condition: EventPropertyContains) -> _Test:
    path = split_property_path(condition.key)
    expected, expected_type = condition.value, type(condition.value)
    resolve = _resolver(path)

    def test(event: Mapping, context: PushContext) -> bool:
        values = resolve(event)
        if type(values) is not list and type(values) is not tuple:
            return False
        return any(type(item) is expected_type and item == expected for item in values)  # type: ignore[union-attr]

    return test


@lru_cache(maxsize=1_024)
def _display_name_search(display_name: str) -> Callable[[str], object]:
    literal = "(?i:" + re.escape(display_name) + ")"
    return re.compile(_NOT_AFTER_WORD + literal + _NOT_BEFORE_WORD, re.DOTALL).search


def _body(event: Mapping) -> object:
    content = event.get("content")
    if type(content) is not dict and not isinstance(content, Mapping):
        return None
    return content.get("body")


def _contains_display_name(event: Mapping, context: PushContext) -> bool:
    name = context.display_name
    if not name or type(name) is not str:
        return False
    body = _body(event)
    return type(body) is str and _display_name_search(name)(body) is not None


_COMPARE: dict[str, Callable[[int, int], bool]] = {
    "==": operator.eq,
    "<": operator.lt,
    ">": operator.gt,
    "<=": operator.le,
    ">=": operator.ge,
}


def _member_count_test(condition: RoomMemberCount) -> _Test:
    compare, count = _COMPARE[condition.op], condition.count

    def test(event: Mapping, context: PushContext) -> bool:
        members = context.member_count
        return type(members) is int and compare(members, count)

    return test


def _sender_permission_test(condition: SenderNotificationPermission) -> _Test:
    key = condition.key

    def test(event: Mapping, context: PushContext) -> bool:
        required = context.notification_power_levels.get(key, DEFAULT_NOTIFICATION_LEVEL)
        if type(required) is not int:
            required = DEFAULT_NOTIFICATION_LEVEL
        level = context.sender_power_level
        return type(level) is int and level >= required

    return test


def _condition_test(condition: PushCondition) -> _Test | None:
    """None for a condition that can never match."""
    if isinstance(condition, EventMatch):
        return _event_match_test(condition)
    if isinstance(condition, EventPropertyIs):
        return _property_is_test(condition)
    if isinstance(condition, EventPropertyContains):
        return _property_contains_test(condition)
    if isinstance(condition, ContainsDisplayName):
        return _contains_display_name
    if isinstance(condition, RoomMemberCount) and condition.op in _COMPARE:
        return _member_count_test(condition)
    if isinstance(condition, SenderNotificationPermission):
        return _sender_permission_test(condition)
    return None


def _has_no_mentions(event: Mapping, context: PushContext) -> bool:
    content = event.get("content")
    return not (isinstance(content, Mapping) and "m.mentions" in content)


def _rule_tests(kind: str, rule: PushRule) -> _TypedRule | None:
    """The matchers of the event type and the tests that must all pass for ``rule`` to
    match, and its outcome; None if it never can."""
    matchers: list[Callable[[str], object]] = []
    if kind == "content":
        if rule.pattern is None:
            return None
        body_match = compile_glob(rule.pattern, True)

        def body_test(event: Mapping, context: PushContext) -> bool:
            body = _body(event)
            return type(body) is str and body_match(body) is not None

        tests: list[_Test] = [body_test]
    else:
        tests = []
        for condition in rule.conditions:
            if isinstance(condition, EventMatch) and split_property_path(condition.key) == ("type",):
                matchers.append(compile_glob(condition.pattern, False))
                continue
            test = _condition_test(condition)
            if test is None:
                return None
            tests.append(test)
    if rule.rule_id in LEGACY_MENTION_RULES:
        tests.insert(0, _has_no_mentions)
    return tuple(matchers), tuple(tests), rule_outcome(rule)


def _compile(ruleset: PushRuleset) -> _Compiled:
    ordered: dict[str, _Kind] = {}
    for kind in ("override", "content", "underride"):
        compiled = []
        for rule in getattr(ruleset, kind):
            if not rule.enabled:
                continue
            typed = _rule_tests(kind, rule)
            if typed is not None:
                compiled.append(typed)
        ordered[kind] = _Kind(tuple(compiled))
    # A room or sender rule matches on its ID alone, so the first enabled one of each
    # ID is the only one that can decide: a dict finds it without walking the list.
    by_id: dict[str, dict[str, PushOutcome]] = {"room": {}, "sender": {}}
    for kind, index in by_id.items():
        for rule in getattr(ruleset, kind):
            if rule.enabled and rule.rule_id not in index:
                index[rule.rule_id] = rule_outcome(rule)
    return _Compiled(ordered["override"], ordered["content"], by_id["room"], by_id["sender"], ordered["underride"])


# --- evaluation -----------------------------------------------------------------------


def _first_match(rules: tuple[_CompiledRule, ...], event: Mapping, context: PushContext) -> PushOutcome | None:
    for tests, outcome in rules:
        for test in tests:
            if not test(event, context):
                break
        else:
            return outcome
    return None


def evaluate(ruleset: PushRuleset, event: Mapping, context: PushContext) -> PushOutcome:
    """The outcome of the first enabled rule, in kind order, that matches ``event``;
    NO_MATCH if none does. My own events never notify (the spec forbids it)."""
    if type(event) is not dict and not isinstance(event, Mapping):
        return NO_MATCH
    sender = event.get("sender")
    if sender == context.user_id:
        return NO_MATCH
    compiled = ruleset._compiled
    etype = event.get("type")
    outcome = _first_match(compiled.override.for_type(etype), event, context) or _first_match(
        compiled.content.for_type(etype), event, context
    )
    if outcome is not None:
        return outcome
    if compiled.room:
        room_id = context.room_id if context.room_id is not None else event.get("room_id")
        if type(room_id) is str and room_id in compiled.room:
            return compiled.room[room_id]
    if compiled.sender and type(sender) is str and sender in compiled.sender:
        return compiled.sender[sender]
    return _first_match(compiled.underride.for_type(etype), event, context) or NO_MATCH


def counts_as_notification(ruleset: PushRuleset, event: Mapping, context: PushContext) -> bool:
    return evaluate(ruleset, event, context).notify


def is_highlight(ruleset: PushRuleset, event: Mapping, context: PushContext) -> bool:
    return evaluate(ruleset, event, context).highlight


# --- parsing the account data ---------------------------------------------------------

_MEMBER_COUNT = re.compile(r"(==|<=|>=|<|>)?([0-9]{1,15})")


def _text(value: object) -> str | None:
    """``value`` if it is a string of sane length, else None."""
    return value if type(value) is str and len(value) <= MAX_STRING else None


def parse_condition(raw: object) -> PushCondition:
    """One wire condition; anything unusable becomes an UnrecognisedCondition."""
    if not isinstance(raw, Mapping):
        return UnrecognisedCondition("", "not an object")
    kind = _text(raw.get("kind"))
    if kind is None:
        return UnrecognisedCondition("", "no kind")
    key = _text(raw.get("key"))
    if kind == "event_match":
        pattern = _text(raw.get("pattern"))
        if key is not None and pattern is not None:
            return EventMatch(key, pattern)
        return UnrecognisedCondition(kind, "key and pattern must be strings")
    if kind in ("event_property_is", "event_property_contains"):
        if key is None:
            return UnrecognisedCondition(kind, "key must be a string")
        value = raw.get("value", _ABSENT)
        if not _is_canonical_scalar(value) or (type(value) is str and _text(value) is None):
            return UnrecognisedCondition(kind, "value must be a string, integer, boolean or null")
        cls = EventPropertyIs if kind == "event_property_is" else EventPropertyContains
        return cls(key, value)  # type: ignore[arg-type]
    if kind == "contains_display_name":
        return ContainsDisplayName()
    if kind == "room_member_count":
        is_ = raw.get("is")
        found = _MEMBER_COUNT.fullmatch(is_) if type(is_) is str else None
        if found is None:
            return UnrecognisedCondition(kind, "'is' must be a decimal integer with an optional ==, <, >, <= or >=")
        return RoomMemberCount(found.group(1) or "==", int(found.group(2)))
    if kind == "sender_notification_permission":
        if key is not None:
            return SenderNotificationPermission(key)
        return UnrecognisedCondition(kind, "key must be a string")
    return UnrecognisedCondition(kind)


def parse_actions(raw: object) -> tuple[PushAction, ...] | None:
    """The actions we can represent; None if ``raw`` is not a list of sane length.
    Dict actions other than scalar ``set_tweak`` ones are unknown and dropped."""
    if type(raw) is not list or len(raw) > MAX_ACTIONS:  # type: ignore[arg-type]
        return None
    actions: list[PushAction] = []
    for action in raw:  # type: ignore[union-attr]
        if type(action) is str:
            if _text(action) is not None:
                actions.append(action)
        elif isinstance(action, Mapping):
            tweak = _text(action.get("set_tweak"))
            if tweak is None:
                continue
            if "value" not in action:
                actions.append(SetTweak(tweak, True if tweak == "highlight" else None))
                continue
            value = action["value"]
            if _is_canonical_scalar(value) and not (type(value) is str and _text(value) is None):
                actions.append(SetTweak(tweak, value))  # type: ignore[arg-type]
    return tuple(actions)


def parse_rule(kind: str, raw: object) -> PushRule | None:
    """One wire rule of ``kind``, or None if it cannot be read: no string rule_id, no
    boolean enabled, no actions list, too many conditions, a content rule without a
    string pattern."""
    if not isinstance(raw, Mapping):
        return None
    rule_id, enabled = _text(raw.get("rule_id")), raw.get("enabled")
    if rule_id is None or type(enabled) is not bool:
        return None
    actions = parse_actions(raw.get("actions"))
    if actions is None:
        return None
    default = raw.get("default")
    if type(default) is not bool:
        # Informational only; the spec marks server-default rules with a leading dot.
        default = rule_id.startswith(".")
    conditions: tuple[PushCondition, ...] = ()
    pattern: str | None = None
    if kind in ("override", "underride"):
        raw_conditions = raw.get("conditions", [])
        if type(raw_conditions) is not list or len(raw_conditions) > MAX_CONDITIONS:  # type: ignore[arg-type]
            return None
        conditions = tuple(parse_condition(condition) for condition in raw_conditions)  # type: ignore[union-attr]
    elif kind == "content":
        pattern = _text(raw.get("pattern"))
        if pattern is None:
            return None
    return PushRule(rule_id, default, enabled, conditions, actions, pattern)


def parse_ruleset(raw: object) -> PushRuleset:
    """A wire ruleset (``{"override": [...], ...}``). Within a kind, a repeated
    rule_id is dropped: IDs are unique per kind and the first is the one in force."""
    if not isinstance(raw, Mapping):
        return PushRuleset()
    kinds: dict[str, tuple[PushRule, ...]] = {}
    for kind in KINDS:
        raw_rules = raw.get(kind)
        rules: list[PushRule] = []
        seen: set[str] = set()
        if type(raw_rules) is list:
            for raw_rule in islice(raw_rules, MAX_RULES_PER_KIND):  # type: ignore[arg-type]
                rule = parse_rule(kind, raw_rule)
                if rule is not None and rule.rule_id not in seen:
                    seen.add(rule.rule_id)
                    rules.append(rule)
        kinds[kind] = tuple(rules)
    return PushRuleset(**kinds)


def parse_push_rules(content: object) -> PushRuleset:
    """The global ruleset of ``m.push_rules`` account data content (``{"global": ...}``)."""
    if not isinstance(content, Mapping):
        return PushRuleset()
    return parse_ruleset(content.get("global"))


# --- the predefined rules ---------------------------------------------------------------

_ME = "[the user's Matrix ID]"


def _match(key: str, pattern: str) -> dict:
    return {"kind": "event_match", "key": key, "pattern": pattern}


def _rule(rule_id: str, conditions: list[dict], actions: list, enabled: bool = True) -> dict:
    return {"rule_id": rule_id, "default": True, "enabled": enabled, "conditions": conditions, "actions": actions}


_SOUND_DEFAULT = {"set_tweak": "sound", "value": "default"}
_HIGHLIGHT = {"set_tweak": "highlight"}

# push.md, "Predefined Rules", in its order (v1.17: the body-mention rules are gone).
_DEFAULT_RULES: dict[str, list[dict]] = {
    "override": [
        _rule(MASTER_RULE, [], [], enabled=False),
        _rule(".m.rule.suppress_notices", [_match("content.msgtype", "m.notice")], []),
        _rule(
            ".m.rule.invite_for_me",
            [_match("type", "m.room.member"), _match("content.membership", "invite"), _match("state_key", _ME)],
            ["notify", _SOUND_DEFAULT],
        ),
        _rule(".m.rule.member_event", [_match("type", "m.room.member")], []),
        _rule(
            ".m.rule.is_user_mention",
            [{"kind": "event_property_contains", "key": "content.m\\.mentions.user_ids", "value": _ME}],
            ["notify", _SOUND_DEFAULT, _HIGHLIGHT],
        ),
        _rule(
            ".m.rule.is_room_mention",
            [
                {"kind": "event_property_is", "key": "content.m\\.mentions.room", "value": True},
                {"kind": "sender_notification_permission", "key": "room"},
            ],
            ["notify", _HIGHLIGHT],
        ),
        _rule(".m.rule.tombstone", [_match("type", "m.room.tombstone"), _match("state_key", "")], ["notify", _HIGHLIGHT]),
        _rule(".m.rule.reaction", [_match("type", "m.reaction")], []),
        _rule(".m.rule.room.server_acl", [_match("type", "m.room.server_acl"), _match("state_key", "")], []),
        _rule(
            ".m.rule.suppress_edits",
            [{"kind": "event_property_is", "key": "content.m\\.relates_to.rel_type", "value": "m.replace"}],
            [],
        ),
    ],
    "content": [],
    "room": [],
    "sender": [],
    "underride": [
        _rule(".m.rule.call", [_match("type", "m.call.invite")], ["notify", {"set_tweak": "sound", "value": "ring"}]),
        _rule(
            ".m.rule.encrypted_room_one_to_one",
            [{"kind": "room_member_count", "is": "2"}, _match("type", "m.room.encrypted")],
            ["notify", _SOUND_DEFAULT],
        ),
        _rule(
            ".m.rule.room_one_to_one",
            [{"kind": "room_member_count", "is": "2"}, _match("type", "m.room.message")],
            ["notify", _SOUND_DEFAULT],
        ),
        _rule(".m.rule.message", [_match("type", "m.room.message")], ["notify"]),
        _rule(".m.rule.encrypted", [_match("type", "m.room.encrypted")], ["notify"]),
    ],
}


def _with_user(value: object, user_id: str) -> object:
    if value == _ME:
        return user_id
    if isinstance(value, dict):
        return {k: _with_user(v, user_id) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_user(v, user_id) for v in value]
    return value


def default_rules_json(user_id: str) -> dict[str, list[dict]]:
    """The predefined rules as wire JSON, with ``user_id`` where push.md says
    "[the user's Matrix ID]"."""
    return _with_user(_DEFAULT_RULES, user_id)  # type: ignore[return-value]


@lru_cache(maxsize=16)
def default_ruleset(user_id: str) -> PushRuleset:
    """The spec's server-default rules for ``user_id``."""
    return parse_ruleset(default_rules_json(user_id))


def _is_server_default(rule: PushRule) -> bool:
    return rule.rule_id.startswith(".")


def _merge_kind(kind: str, present: tuple[PushRule, ...], defaults: tuple[PushRule, ...]) -> tuple[PushRule, ...]:
    user = [rule for rule in present if not _is_server_default(rule)]
    server = [rule for rule in present if _is_server_default(rule)]
    # Each missing default goes after the last spec default before it that is present
    # (or, if none is, first among the server-default rules): its defined position.
    position = {rule.rule_id: i for i, rule in enumerate(server)}
    cursor = 0
    for rule in defaults:
        if rule.rule_id in position:
            cursor = max(cursor, position[rule.rule_id] + 1)
            continue
        server.insert(cursor, rule)
        cursor += 1
        position = {r.rule_id: i for i, r in enumerate(server)}
    merged = user + server
    if kind == "override":
        # The master rule outranks every rule, user-defined ones too.
        master = [rule for rule in merged if rule.rule_id == MASTER_RULE]
        merged = master + [rule for rule in merged if rule.rule_id != MASTER_RULE]
    return tuple(merged)


def merged_ruleset(user_rules: PushRuleset | None, user_id: str) -> PushRuleset:
    """The account data's rules, with any predefined rule it lacks filled in at its
    defined place: user-defined rules first, then the server-default ones, and
    ``.m.rule.master`` above all. Rules the account data has keep its order and its
    settings (a user's disabled or changed default stays so)."""
    defaults = default_ruleset(user_id)
    if user_rules is None:
        return defaults
    return PushRuleset(**{kind: _merge_kind(kind, user_rules.rules(kind), defaults.rules(kind)) for kind in KINDS})


def ruleset_from_account_data(content: object, user_id: str) -> PushRuleset:
    """``m.push_rules`` content to the ruleset in force: parsed, then merged."""
    return merged_ruleset(parse_push_rules(content), user_id)


def ruleset_from_json(text: str, user_id: str) -> PushRuleset:
    """``ruleset_from_account_data`` of the account data kept as JSON text (the cache
    keeps it so); text that is no JSON gives the defaults."""
    import json

    try:
        content = json.loads(text)
    except (ValueError, RecursionError):
        content = None
    return ruleset_from_account_data(content, user_id)
