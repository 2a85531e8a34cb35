"""The read-state cache: one SQLite file in the platformdirs cache dir.

It owns the on-disk form of ``AccountState`` (minus what is only optimistic: pending
receipts and a pending fully-read marker, which are the receipt queue's to persist).

Layout (``SCHEMA_VERSION``):

- ``meta(key, value)``: ``schema_version``, ``user_id``, ``device_id``, ``next_batch``,
  ``push_rules`` (the account's ``m.push_rules``, which the server sends once),
  ``direct_rooms`` (the rooms the last ``m.direct`` named, as a JSON list; "" unknown);
- ``rooms(room_id, data)``: one row per room, ``data`` a compact JSON array (UTF-8,
  lone surrogates kept) of the room's fields, events as positional arrays;
- ``summaries(room_id, title, membership, latest_ts, unread, lower_bound,
  notifications, highlights, unread_threads, marked_unread, ..., links)``: each room's
  ``RoomSummary`` (what its row in the rooms pane shows) as the room will be when
  decoded, in a table of its own (a few pages, not interleaved with the rooms' big
  rows) and in plain columns, so a start paints the rooms pane from the summaries
  (``load_summaries``, a small fraction of the decoding) before it decodes the rooms
  (``load_account``).

Writes touch only the rooms that changed, in one transaction with ``next_batch``, so an
incremental save costs what the sync carried and a crash never pairs new rooms with an
old token (or the reverse). Journal mode is WAL.

Anything unreadable (not a database, truncated, malformed rows, another user's cache, an
older or newer schema) is deleted with a logged notice and ``load_account`` returns
None: the next sync is then an initial one. So is the cache of another login (device) of
the same user when the caller names its device, as the app and the commands do: a new
login starts from a fresh sync. Its sync token and rooms may come from a homeserver that
is gone (a local server wiped and set up again under the same user ID answered the old
token, from its future, with an incremental sync: every old room stayed listed for good
and the new ones showed unnamed). Loading never raises. Saving raises
``CacheError`` (an ``OSError``) when the disk refuses.

Loading runs with the cyclic garbage collector paused, and then freezes what is alive
(``gc.freeze()``): the loaded account is long-lived, and full collections that walk it
again and again are the largest pauses of the running TUI (``tests/bench/RESULTS.md``).

The file holds message text: it, its ``-wal`` and ``-shm`` companions and its directory
are readable by the user only (0600 in 0700) whatever the umask. The file is created
0600 before SQLite opens it, and SQLite gives the companions the database file's mode;
a file an older readmark left looser is tightened when it is next opened.

Each room keeps at most ``MAX_EVENTS_PER_ROOM`` events, the newest; when older ones are
cut, a gap is recorded before the first kept event, so counts say they are lower bounds
where that matters, and the cache stays bounded.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import sqlite3
from collections.abc import Iterable, Mapping
from contextlib import closing
from pathlib import Path
from typing import Any, Final

from app import paths
from app.gcpause import collector_paused
from app.model.account import AccountState
from app.model.events import (
    ALERT_HIGHLIGHT,
    ALERT_NOTIFY,
    ALERT_SILENT,
    ALERT_UNKNOWN,
    ENCRYPTED,
    Membership,
    MsgType,
    new_event,
)
from app.model.ids import is_room_id
from app.model.names import NameInputs
from app.model.push import ruleset_from_json
from app.model.receipts import ReceiptType, new_receipt, new_receipt_key
from app.model.room import RECEIPT_MODES, PowerLevels, RoomState, ServerCounts, SpaceChild, SpaceParent, trim_history
from app.model.spaces import DIRECT_LINKS, NO_LINKS, RoomLinks
from app.model.summary import SUMMARY_VERSION, RoomSummary, summarize
from app.model.unread import RoomUnread
from app.store.files import FILE_MODE, create_private_file, private_dir

log = logging.getLogger(__name__)

# 2 added gap tokens, 3 room summaries, 4 events' facts instead of their text, 5 encrypted
# events' ciphertext and the rooms' encryption, 6 the rooms' type, a space's children and
# a room's parents, and the level that may add a space's children, 7 the rooms' join rule,
# history visibility and the receipt mode set for them from readmark, 8 whether a room's
# account data holds the stable m.marked_unread (Famedly's flag counts only where not).
SCHEMA_VERSION: Final = 8
FILE_NAME: Final = "readmark.sqlite3"
MAX_EVENTS_PER_ROOM: Final = 500

_RECEIPT_TYPES: Final = {t.value: t for t in ReceiptType}
_ALERTS: Final = frozenset({ALERT_UNKNOWN, ALERT_SILENT, ALERT_NOTIFY, ALERT_HIGHLIGHT})
_MSGTYPES: Final = {t.value: t for t in MsgType}
_MEMBERSHIPS: Final = {m.value: m for m in Membership}
# Seconds to wait for another readmark process holding the file.
_CONNECT_TIMEOUT = 5.0


class CacheError(OSError):
    """The cache could not be written (disk full, read-only directory, locked file)."""


class CacheCorrupt(Exception):
    """Internal: the file's content is not a cache we can read."""


def cache_path() -> Path:
    return paths.cache_dir() / FILE_NAME


# ---- public API -------------------------------------------------------------


def version_of(path: Path | None = None) -> tuple[int, ...]:
    """Something that changes whenever the cache file is written (its and its WAL's
    modification times and sizes), for a process that follows another's saves."""
    path = path or cache_path()
    marks: list[int] = []
    for each in (path, path.with_name(path.name + "-wal")):
        try:
            stat = each.stat()
        except OSError:
            marks += [0, 0]
        else:
            marks += [stat.st_mtime_ns, stat.st_size]
    return tuple(marks)


def load_account(user_id: str, path: Path | None = None, *, device_id: str | None = None) -> AccountState | None:
    """The cached state of ``user_id``, or None (no cache, or one that was discarded).
    With ``device_id``, only a cache written by that login counts (see the module's notes)."""
    path = path or cache_path()
    if not path.exists():
        return None
    try:
        with closing(_connect(path)) as db, collector_paused():
            account = _load(db, user_id, device_id)
            if account is not None:
                # Frozen before the collector is back on: otherwise its first act would
                # be a collection walking everything just loaded.
                _keep_out_of_full_collections()
        return account
    except _Discard as discard:
        _discard(path, discard.reason)
    except sqlite3.OperationalError as error:
        if _looks_corrupt(error):
            _discard(path, f"unreadable ({error})")
        else:
            # Locked by another readmark, or not readable: not the file's fault; keep it.
            log.warning("the cache %s could not be read (%s); starting without it", path, error)
    except _UNREADABLE as error:
        _discard(path, f"unreadable ({type(error).__name__}: {str(error)[:120]})")
    except OSError as error:
        log.warning("the cache %s could not be read (%s); starting without it", path, error)
    return None


def load_summaries(user_id: str, path: Path | None = None, *, device_id: str | None = None) -> list[RoomSummary] | None:
    """The stored summary of every cached room of ``user_id`` (cheap: no room is
    decoded), or None when there is no cache this readmark can read. Never raises and
    never discards: ``load_account`` decides what to do with a bad file."""
    path = path or cache_path()
    if not path.exists():
        return None
    try:
        with closing(_connect(path)) as db:
            meta = _check_meta(db, user_id, device_id)
            if meta.get("summary_version") != str(SUMMARY_VERSION):
                return None  # written under other rules: load_account rewrites them
            summaries = [decode_summary(row) for row in db.execute(f"SELECT {_SUMMARY_COLUMNS} FROM summaries")]
            # Every room has its summary, or there is no preview: a partial one would
            # paint a rooms pane that then grows.
            if str(len(summaries)) != meta.get("room_count"):
                return None
            return summaries
    except (_Discard, OSError, *_UNREADABLE):
        return None


def load_rooms(
    user_id: str, room_ids: Iterable[str], path: Path | None = None, *, device_id: str | None = None
) -> dict[str, RoomState]:
    """The cached state of the given rooms only (those of them that are cached); empty
    when the cache cannot be read. Never raises."""
    path = path or cache_path()
    wanted = list(dict.fromkeys(room_ids))
    if not wanted or not path.exists():
        return {}
    try:
        with closing(_connect(path)) as db:
            _check_meta(db, user_id, device_id)
            rooms = {}
            for room_id in wanted:
                row = db.execute("SELECT data FROM rooms WHERE room_id = ?", (room_id,)).fetchone()
                if row is not None:
                    rooms[room_id] = decode_room(room_id, user_id, row[0])
            return rooms
    except (_Discard, OSError, *_UNREADABLE):
        return {}


def save_account(
    account: AccountState,
    changed_room_ids: Iterable[str] | None = None,
    path: Path | None = None,
    *,
    device_id: str | None = None,
) -> None:
    """Write ``account``: only ``changed_room_ids`` (all rooms when None) and the sync token.

    A changed room that is no longer in the account is deleted. If the file holds no
    cache for this user, login (``device_id``) and schema, everything is written. Raises
    ``CacheError``.
    """
    path = path or cache_path()
    try:
        private_dir(path.parent)
        try:
            db = _connect(path)
            with closing(db):
                _save(db, account, changed_room_ids, device_id or "")
        except sqlite3.DatabaseError as error:
            if isinstance(error, sqlite3.OperationalError) and not _looks_corrupt(error):
                raise
            # Not a database (or a damaged one): start the file over.
            _discard(path, f"unwritable ({error})")
            with closing(_connect(path)) as db:
                _save(db, account, None, device_id or "")
    except (sqlite3.Error, OSError) as error:
        raise CacheError(f"could not write the cache {path}: {error}") from None


def delete_cache(path: Path | None = None) -> None:
    """Remove the cache (logout). Missing files are fine."""
    _remove_files(path or cache_path())


# ---- the garbage collector ---------------------------------------------------------


def _keep_out_of_full_collections() -> None:
    """The loaded account lives as long as the process: ``gc.freeze()`` moves what is
    alive now (the rooms, and the modules and app around them) out of the collector's
    reach. Otherwise every full collection walks all of it again: with 1,000 rooms
    that is a visible pause every few keypresses (``tests/bench/keys.py``). Nothing
    is lost: frozen objects are still freed when their last reference goes (the model
    holds no reference cycles); only cycles among them would never be collected."""
    gc.freeze()


# ---- SQLite -------------------------------------------------------------------


# What reading a damaged file can raise, besides OSError (decode_room, decode_summary,
# SQLite itself).
_UNREADABLE: Final = (CacheCorrupt, sqlite3.Error, ValueError, TypeError, KeyError, IndexError, RecursionError)


class _Discard(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _connect(path: Path) -> sqlite3.Connection:
    _make_private(path)
    db = sqlite3.connect(path, timeout=_CONNECT_TIMEOUT, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    return db


def _make_private(path: Path) -> None:
    """A missing database file is created 0600 (SQLite would create it with the umask's
    mode, and give the ``-wal`` and ``-shm`` files the same); existing ones that are
    looser are tightened. Only a failure to create the file is an error: a file that
    cannot be tightened (another owner, a read-only mount) can still be read."""
    if not path.exists():
        create_private_file(path)
        return
    for candidate in _files(path):
        try:
            if candidate.stat().st_mode & 0o077:
                os.chmod(candidate, FILE_MODE)
        except OSError:
            pass


def _files(path: Path) -> tuple[Path, Path, Path]:
    return path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")


def _looks_corrupt(error: sqlite3.Error) -> bool:
    text = str(error).lower()
    return any(word in text for word in ("malformed", "not a database", "corrupt", "no such table", "no such column"))


def _create_schema(db: sqlite3.Connection) -> None:
    db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID")
    # A rowid table: rows are kilobytes, which WITHOUT ROWID tables handle badly.
    db.execute("CREATE TABLE IF NOT EXISTS rooms (room_id TEXT PRIMARY KEY, data BLOB NOT NULL)")
    db.execute(
        "CREATE TABLE IF NOT EXISTS summaries (room_id TEXT PRIMARY KEY, title TEXT NOT NULL, membership TEXT NOT NULL,"
        " latest_ts INTEGER NOT NULL, unread INTEGER NOT NULL, lower_bound INTEGER NOT NULL,"
        " notifications INTEGER NOT NULL, highlights INTEGER NOT NULL, unread_threads INTEGER NOT NULL,"
        " marked_unread INTEGER NOT NULL, encrypted INTEGER NOT NULL, local_notifications INTEGER NOT NULL,"
        " local_highlights INTEGER NOT NULL, links TEXT NOT NULL) WITHOUT ROWID"
    )


def _meta(db: sqlite3.Connection) -> dict[str, str] | None:
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if "meta" not in tables or "rooms" not in tables:
        return None
    return {str(key): value for key, value in db.execute("SELECT key, value FROM meta")}


def _check_meta(db: sqlite3.Connection, user_id: str, device_id: str | None) -> dict[str, str]:
    """The meta table of a cache of ``user_id`` (written by login ``device_id``, unless that
    is None) in this schema; raises _Discard otherwise."""
    meta = _meta(db)
    if meta is None:
        raise _Discard("it holds no readmark cache")
    version = meta.get("schema_version")
    if version != str(SCHEMA_VERSION):
        raise _Discard(f"schema version {version}, this readmark uses {SCHEMA_VERSION}")
    if meta.get("user_id") != user_id:
        raise _Discard("it belongs to another user")
    if device_id is not None and meta.get("device_id") != device_id:
        raise _Discard("it was written by another login of this user; a new login starts from a fresh sync")
    return meta


def _load(db: sqlite3.Connection, user_id: str, device_id: str | None) -> AccountState | None:
    meta = _check_meta(db, user_id, device_id)
    rooms: dict[str, RoomState] = {}
    for room_id, data in db.execute("SELECT room_id, data FROM rooms"):
        if not isinstance(room_id, str) or not isinstance(data, bytes):
            raise CacheCorrupt("a room row has the wrong types")
        room = decode_room(room_id, user_id, data)
        rooms[room_id] = room
    next_batch = meta.get("next_batch")
    push_json = meta.get("push_rules") or None
    return AccountState(
        user_id,
        rooms,
        next_batch if isinstance(next_batch, str) and next_batch else None,
        ruleset_from_json(push_json, user_id) if push_json else None,
        push_json,
        _direct_from_meta(meta.get("direct_rooms")),
    )


def _direct_from_meta(text: str | None) -> frozenset[str] | None:
    """The rooms ``m.direct`` named, as ``_save`` wrote them ("" when unknown)."""
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        raise CacheCorrupt("the direct rooms are not JSON") from None
    if type(value) is not list or not all(type(r) is str and is_room_id(r) for r in value):
        raise CacheCorrupt("the direct rooms are not a list of room IDs")
    return frozenset(value)


def _save(db: sqlite3.Connection, account: AccountState, changed_room_ids: Iterable[str] | None, device_id: str) -> None:
    meta = _meta(db)
    full = (
        changed_room_ids is None
        or meta is None
        or meta.get("schema_version") != str(SCHEMA_VERSION)
        or meta.get("user_id") != account.user_id
        or meta.get("device_id", "") != device_id
        # Summaries written under other rules: all of them are written again, once.
        or meta.get("summary_version") != str(SUMMARY_VERSION)
    )
    rooms = account.rooms
    db.execute("BEGIN IMMEDIATE")
    try:
        if full:
            db.execute("DROP TABLE IF EXISTS meta")
            db.execute("DROP TABLE IF EXISTS rooms")
            db.execute("DROP TABLE IF EXISTS summaries")
            _create_schema(db)
            wanted: Iterable[str] = rooms.keys()
        else:
            wanted = changed_room_ids  # type: ignore[assignment]
        upserts = []
        summaries = []
        unsummarised = []
        deletes = []
        for room_id in dict.fromkeys(wanted):
            room = rooms.get(room_id)
            if room is None:
                deletes.append((room_id,))
            else:
                data = encode_room(room)
                upserts.append((room_id, data))
                summary = encode_summary(stored_summary(room, data))
                if all(_INT64_MIN <= value <= _INT64_MAX for value in summary if type(value) is int):
                    summaries.append(summary)
                else:
                    # A count or time past SQLite's integers (a hostile server): no
                    # summary, so no preview either (load_summaries sees one missing).
                    unsummarised.append((room_id,))
        if full:
            count = len(upserts)
        else:
            # The row count lives in meta, kept by looking up only the changed rooms, so
            # a save costs what changed, not what is stored.
            stored = meta.get("room_count", "")  # type: ignore[union-attr]
            count = int(stored) if isinstance(stored, str) and stored.isascii() and stored.isdigit() else -1
            for room_id, _ in upserts:
                if db.execute("SELECT 1 FROM rooms WHERE room_id = ?", (room_id,)).fetchone() is None:
                    count += 1
            for (room_id,) in deletes:
                if db.execute("SELECT 1 FROM rooms WHERE room_id = ?", (room_id,)).fetchone() is not None:
                    count -= 1
        if deletes:
            db.executemany("DELETE FROM rooms WHERE room_id = ?", deletes)
            db.executemany("DELETE FROM summaries WHERE room_id = ?", deletes)
        if upserts:
            db.executemany("INSERT OR REPLACE INTO rooms (room_id, data) VALUES (?, ?)", upserts)
            db.executemany("DELETE FROM summaries WHERE room_id = ?", unsummarised)
            db.executemany(
                f"INSERT OR REPLACE INTO summaries ({_SUMMARY_COLUMNS}) VALUES ({', '.join('?' * 14)})", summaries
            )
        if count != len(rooms):
            # A caller that forgot a removed room (left, forgotten) must not bring it back
            # on the next start; this listing happens only on such a mismatch.
            stale = [(r,) for (r,) in db.execute("SELECT room_id FROM rooms") if r not in rooms]
            db.executemany("DELETE FROM rooms WHERE room_id = ?", stale)
            db.executemany("DELETE FROM summaries WHERE room_id = ?", stale)
            (count,) = db.execute("SELECT COUNT(*) FROM rooms").fetchone()
        db.executemany(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
            [
                ("schema_version", str(SCHEMA_VERSION)),
                ("user_id", account.user_id),
                ("device_id", device_id),
                ("next_batch", account.next_batch or ""),
                ("room_count", str(count)),
                ("summary_version", str(SUMMARY_VERSION)),
                ("push_rules", account.push_rules_json or ""),
                (
                    "direct_rooms",
                    json.dumps(sorted(account.direct_rooms)) if account.direct_rooms is not None else "",
                ),
            ],
        )
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def _remove_files(path: Path) -> None:
    for candidate in _files(path):
        try:
            candidate.unlink()
        except FileNotFoundError:
            pass


def _discard(path: Path, reason: str) -> None:
    log.warning("discarding the cache %s: %s; the next sync starts afresh", path, reason)
    try:
        _remove_files(path)
    except OSError as error:
        log.warning("could not remove the cache %s: %s", path, error)


# ---- rooms as JSON ------------------------------------------------------------
#
# A room is one JSON array, in this order:
#   0 name, 1 membership, 2 is_direct, 3 events, 4 gaps_before, 5 history_complete,
#   6 complete_threads, 7 receipts, 8 fully_read, 9 server_main, 10 server_threads,
#   11 marked_unread, 12 name_inputs, 13 member_names, 14 gap_tokens, 15 encrypted,
#   16 power, 17 room_type, 18 space_children, 19 space_parents, 20 join_rule,
#   21 history_visibility, 22 receipt_override, 23 marked_unread_stable
# An event is [event_id, sender, ts, type, body, rel_type, relates_to, state_key,
# redacted, redacts, thread_reply_count, msgtype|null, membership|null, member_name, key]
# (msgtype and membership by their values); a receipt [user, type, thread|null, event, ts];
# counts [notifications, highlights]; name inputs [name, alias, heroes, joined, invited].


def encode_room(room: RoomState) -> bytes:
    """The stored form of a room (bounded to MAX_EVENTS_PER_ROOM events)."""
    room = trim_history(room, MAX_EVENTS_PER_ROOM)
    events, gaps, history_complete, complete_threads = (
        room.events, room.gaps_before, room.history_complete, room.complete_threads
    )
    inputs = room.name_inputs
    data = [
        room.name,
        room.membership,
        room.is_direct,
        [
            [
                e.event_id,
                e.sender,
                e.ts,
                e.type,
                e.body,
                e.rel_type,
                e.relates_to,
                e.state_key,
                e.redacted,
                e.redacts,
                e.thread_reply_count,
                e.msgtype,
                e.membership,
                e.member_name,
                e.key,
                None,
                e.alert,
            ]
            if e.ciphertext is None
            # An encrypted event: its ciphertext and cleartext relation only; what it
            # says stays in memory (decrypted again after a restart).
            else [e.event_id, e.sender, e.ts, ENCRYPTED, "", e.rel_type, e.relates_to, None, e.redacted, None,
                  e.thread_reply_count, None, None, "", "", e.ciphertext, e.alert]
            for e in events
        ],
        sorted(gaps),
        history_complete,
        sorted(complete_threads),
        [
            [key.user_id, key.receipt_type.value, key.thread_id, receipt.event_id, receipt.ts]
            for key, receipt in room.receipts.items()
        ],
        room.fully_read,
        [room.server_main.notifications, room.server_main.highlights],
        {thread: [c.notifications, c.highlights] for thread, c in room.server_threads.items()},
        room.marked_unread,
        [inputs.name, inputs.canonical_alias, list(inputs.heroes), inputs.joined, inputs.invited],
        dict(room.member_names),
        {event_id: token for event_id, token in room.gap_tokens.items() if room.index.get(event_id) is not None},
        room.encrypted,
        [
            room.power.users_default, room.power.notify_room, dict(room.power.elevated), sorted(room.power.creators),
            room.power.space_child,
        ],
        room.room_type,
        {child_id: [child.order, child.ts] for child_id, child in room.space_children.items()},
        {parent_id: [parent.sender, parent.canonical] for parent_id, parent in room.space_parents.items()},
        room.join_rule,
        room.history_visibility,
        room.receipt_override,
        room.marked_unread_stable,
    ]
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")


def decode_room(room_id: str, me: str, data: bytes) -> RoomState:
    """The inverse of ``encode_room``. Raises CacheCorrupt (or a ValueError/TypeError/
    KeyError/IndexError) on anything that is not exactly that shape."""
    row = json.loads(data.decode("utf-8", "surrogatepass"))
    if not isinstance(row, list) or len(row) != 24:
        raise CacheCorrupt("a room row has the wrong shape")
    (
        name,
        membership,
        is_direct,
        raw_events,
        gaps,
        history_complete,
        complete_threads,
        raw_receipts,
        fully_read,
        server_main,
        server_threads,
        marked_unread,
        inputs,
        member_names,
        gap_tokens,
        encrypted,
        power,
        room_type,
        space_children,
        space_parents,
        join_rule,
        history_visibility,
        receipt_override,
        marked_unread_stable,
    ) = row
    events = tuple(new_event(*_checked_event(e)) for e in raw_events)
    receipts = {
        new_receipt_key(_str(user), _RECEIPT_TYPES[kind], _opt_str(thread)): new_receipt(_str(event_id), _int(ts))
        for user, kind, thread, event_id, ts in raw_receipts
    }
    if not all(
        isinstance(part, dict) for part in (server_threads, member_names, gap_tokens, space_children, space_parents)
    ):
        raise CacheCorrupt("a room row has the wrong shape")
    if receipt_override is not None and receipt_override not in RECEIPT_MODES:
        raise CacheCorrupt("a room's receipt mode is not one of readmark's")
    return RoomState(
        room_id=room_id,
        me=me,
        name=_str(name),
        membership=_str(membership),
        is_direct=_bool(is_direct),
        events=events,
        gaps_before=frozenset(_str(g) for g in gaps),
        history_complete=_bool(history_complete),
        complete_threads=frozenset(_str(t) for t in complete_threads),
        receipts=receipts,
        fully_read=_opt_str(fully_read),
        server_main=_counts(server_main),
        server_threads={_str(t): _counts(c) for t, c in server_threads.items()},
        marked_unread=_bool(marked_unread),
        name_inputs=_name_inputs(inputs),
        member_names={_str(u): _str(n) for u, n in member_names.items()},
        gap_tokens={_str(e): _str(t) for e, t in gap_tokens.items()},
        encrypted=_bool(encrypted),
        power=_power(power),
        room_type=_opt_str(room_type),
        space_children={_str(c): _space_child(v) for c, v in space_children.items()},
        space_parents={_str(p): _space_parent(v) for p, v in space_parents.items()},
        join_rule=_opt_str(join_rule),
        history_visibility=_opt_str(history_visibility),
        receipt_override=receipt_override,
        marked_unread_stable=_bool(marked_unread_stable),
    )


def stored_summary(room: RoomState, data: bytes) -> RoomSummary:
    """The summary of ``room`` as ``decode_room(data)`` will give it back: what is not
    stored (my pending receipts and marker, events past ``MAX_EVENTS_PER_ROOM``) must
    not count. Such rooms are decoded again to be sure; the rest are summarised as
    they are."""
    if room.pending or room.pending_fully_read is not None or len(room.events) > MAX_EVENTS_PER_ROOM:
        return summarize(decode_room(room.room_id, room.me, data))
    return summarize(room)


_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1
_SUMMARY_COLUMNS: Final = (
    "room_id, title, membership, latest_ts, unread, lower_bound, notifications, highlights, unread_threads,"
    " marked_unread, encrypted, local_notifications, local_highlights, links"
)


def encode_summary(summary: RoomSummary) -> tuple:
    """A ``summaries`` row (``_SUMMARY_COLUMNS``)."""
    u = summary.unread
    return (
        summary.room_id,
        summary.title,
        summary.membership,
        summary.latest_ts,
        u.unread,
        int(u.lower_bound),
        u.notifications,
        u.highlights,
        u.unread_threads,
        int(u.marked_unread),
        int(summary.encrypted),
        u.local_notifications,
        u.local_highlights,
        _encode_links(summary.links),
    )


def _encode_links(links: RoomLinks) -> str:
    """A summary's links as JSON text ("" for a room in no space, not direct: most)."""
    if links is NO_LINKS:
        return ""
    if links is DIRECT_LINKS:
        return "d"
    return json.dumps(
        [links.is_space, links.is_direct, list(links.children), [list(p) for p in links.parents],
         sorted(links.adders), links.anyone_adds],
        ensure_ascii=False, separators=(",", ":"),
    )


def _decode_links(text: str) -> RoomLinks:
    if text == "":
        return NO_LINKS
    if text == "d":
        return DIRECT_LINKS
    raw = json.loads(text)
    if not (isinstance(raw, list) and len(raw) == 6):
        raise CacheCorrupt("a summary's links have the wrong shape")
    is_space, is_direct, children, parents, adders, anyone = raw
    if not (
        type(is_space) is bool and type(is_direct) is bool and type(anyone) is bool
        and type(children) is list and all(type(c) is str for c in children)
        and type(parents) is list
        and all(type(p) is list and len(p) == 2 and all(type(x) is str for x in p) for p in parents)
        and type(adders) is list and all(type(a) is str for a in adders)
    ):
        raise CacheCorrupt("a summary's links have the wrong shape")
    return RoomLinks(is_space, is_direct, tuple(children), tuple((p, s) for p, s in parents), frozenset(adders), anyone)


def decode_summary(row: tuple) -> RoomSummary:
    """The inverse of ``encode_summary``; raises CacheCorrupt on a wrong type."""
    (room_id, title, membership, latest_ts, unread, lower, notifications, highlights, threads, marked, encrypted,
     local_notifications, local_highlights, links) = row
    if not (
        type(room_id) is str
        and type(title) is str
        and type(membership) is str
        and type(latest_ts) is int
        and type(unread) is int
        and lower in (0, 1)
        and type(notifications) is int
        and type(highlights) is int
        and type(threads) is int
        and marked in (0, 1)
        and encrypted in (0, 1)
        and type(local_notifications) is int
        and type(local_highlights) is int
        and type(links) is str
    ):
        raise CacheCorrupt("a summary row has the wrong types")
    counts = RoomUnread(unread, lower == 1, notifications, highlights, threads, marked == 1, local_notifications,
                        local_highlights)
    return RoomSummary(room_id, title, membership, latest_ts, counts, encrypted == 1, _decode_links(links))


def _checked_event(raw: Any) -> list[Any]:
    """``raw`` itself when it is exactly an event's shape, its msgtype and membership
    turned into their enums. One expression of ``type()`` tests rather than a helper
    call per field: 29,000 events are checked on a start with 1,000 rooms, and per-field
    calls would be half the load."""
    if type(raw) is not list or len(raw) != 17:
        raise CacheCorrupt("an event has the wrong shape")
    (event_id, sender, ts, kind, body, rel_type, relates_to, state_key, redacted, redacts, count,
     msgtype, membership, member_name, key, ciphertext, alert) = raw
    if not (
        type(event_id) is str
        and type(sender) is str
        and type(ts) is int
        and type(kind) is str
        and type(body) is str
        and (rel_type is None or type(rel_type) is str)
        and (relates_to is None or type(relates_to) is str)
        and (state_key is None or type(state_key) is str)
        and type(redacted) is bool
        and (redacts is None or type(redacts) is str)
        and (count is None or type(count) is int)
        and (msgtype is None or type(msgtype) is str)
        and (membership is None or type(membership) is str)
        and type(member_name) is str
        and type(key) is str
        and (ciphertext is None or type(ciphertext) is str)
        and type(alert) is int
        and alert in _ALERTS
    ):
        raise CacheCorrupt("an event field has the wrong type")
    if msgtype is not None:
        raw[11] = _MSGTYPES.get(msgtype)
        if raw[11] is None:
            raise CacheCorrupt("an event has an unknown msgtype")
    if membership is not None:
        raw[12] = _MEMBERSHIPS.get(membership)
        if raw[12] is None:
            raise CacheCorrupt("an event has an unknown membership")
    # Why an event could not be decrypted is not stored: found again when it is tried.
    raw.insert(16, "")
    return raw


def _power(raw: Any) -> PowerLevels:
    if type(raw) is not list or len(raw) != 5:
        raise CacheCorrupt("a room's power levels have the wrong shape")
    users_default, notify_room, elevated, creators, space_child = raw
    if not isinstance(elevated, dict) or not isinstance(creators, list):
        raise CacheCorrupt("a room's power levels have the wrong shape")
    return PowerLevels(
        _int(users_default), _int(notify_room), {_str(u): _int(v) for u, v in elevated.items()},
        frozenset(_str(u) for u in creators), _int(space_child),
    )


def _space_child(raw: Any) -> SpaceChild:
    if type(raw) is not list or len(raw) != 2:
        raise CacheCorrupt("a space's child has the wrong shape")
    order, ts = raw
    return SpaceChild(_opt_str(order), _int(ts))


def _space_parent(raw: Any) -> SpaceParent:
    if type(raw) is not list or len(raw) != 2:
        raise CacheCorrupt("a room's parent has the wrong shape")
    sender, canonical = raw
    return SpaceParent(_str(sender), _bool(canonical))


def _counts(raw: Any) -> ServerCounts:
    notifications, highlights = raw
    return ServerCounts(_int(notifications), _int(highlights))


def _name_inputs(raw: Any) -> NameInputs:
    name, alias, heroes, joined, invited = raw
    return NameInputs(_opt_str(name), _opt_str(alias), tuple(_str(h) for h in heroes), _int(joined), _int(invited))


def _str(value: Any) -> str:
    if type(value) is not str:
        raise CacheCorrupt("expected a string")
    return value


def _opt_str(value: Any) -> str | None:
    return None if value is None else _str(value)


def _int(value: Any) -> int:
    if type(value) is not int:
        raise CacheCorrupt("expected an integer")
    return value


def _bool(value: Any) -> bool:
    if type(value) is not bool:
        raise CacheCorrupt("expected a boolean")
    return value


def room_fields(room: RoomState) -> Mapping[str, Any]:
    """Everything the cache keeps of a room, as comparable values (RoomState compares by
    identity). Tests use it to check a round trip."""
    return {
        "room_id": room.room_id,
        "me": room.me,
        "name": room.name,
        "membership": room.membership,
        "is_direct": room.is_direct,
        "events": room.events,
        "gaps_before": room.gaps_before,
        "history_complete": room.history_complete,
        "complete_threads": room.complete_threads,
        "receipts": dict(room.receipts),
        "fully_read": room.fully_read,
        "server_main": room.server_main,
        "server_threads": dict(room.server_threads),
        "marked_unread": room.marked_unread,
        "name_inputs": room.name_inputs,
        "member_names": dict(room.member_names),
        "gap_tokens": dict(room.gap_tokens),
        "encrypted": room.encrypted,
        "power": room.power,
        "room_type": room.room_type,
        "space_children": dict(room.space_children),
        "space_parents": dict(room.space_parents),
        "join_rule": room.join_rule,
        "history_visibility": room.history_visibility,
        "receipt_override": room.receipt_override,
        "marked_unread_stable": room.marked_unread_stable,
    }
