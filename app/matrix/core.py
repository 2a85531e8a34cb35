"""The read-state core: every decision about the account, with no asyncio and no I/O.

As matrix-nio's ``Client`` sits under its ``AsyncClient``, ``ReadStateCore`` sits under
``MatrixService``: the service does the waiting and the requests, and tells the core what
came back; the core owns the account, whether the server takes private receipts, the
requests applied but not yet answered, and which history to fetch next (``FillJob``).
It answers:

- ``load``: the state kept on this machine (the cache's account, the queued requests);
- ``plan`` then ``queued``: an action becomes a ``Request`` (or a ``Refusal``), which is
  applied at once once it is safely queued;
- ``receive_sync``: a ``/sync`` body, and which rooms it changed;
- ``settled``: the server's answer to a request;
- ``take_fill_jobs``, ``thread_loaded``, ``gap_loaded``, ``threads_listed``: what history
  to load next, and what loading it brought;
- ``decrypt_wanted``, ``keys_arrived``, ``reveal``: which encrypted events to decrypt
  (with a ``Decrypt`` function the service gives it: the crypto store is I/O), and the
  account with them decrypted.

Its tests run in milliseconds: nothing here waits, reads a file or sends a request.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any

from app.gcpause import collector_paused
from app.matrix import translate
from app.matrix.naming import RoomNaming
from app.matrix.wire_events import DeferredAlert, alerts, decrypted_event, with_verdict
from app.model import decryption
from app.model.account import AccountState
from app.model.bulk import BulkPlan, bulk_plan
from app.model.summary import room_title
from app.model.ids import MAIN, EventId, RoomId, ThreadId
from app.model.plan import (
    ReceiptAction,
    Refusal,
    Request,
    apply_optimistic,
    covered,
    plan,
    request_key,
    settle,
)
from app.model.receipts import ReceiptType
from app.model.events import TimelineEvent, Undecryptable
from app.model.room import (
    RECEIPT_MODES,
    RoomState,
    backfill,
    confirmed_read,
    fill_gap,
    gap_before_latest,
    read_for_good,
    replace_events,
)
from app.model.policy import needs_spaces, room_facts, space_ancestors, structure_of
from app.model.sending import ModeRules, RoomMode, refuse_action, refuse_request, room_mode
from app.model.unread import thread_unread, threads_unread

# Threads whose local count is only a lower bound are loaded whole in the background,
# most recent first, up to this many jobs per run (a main timeline's gap counts as one).
FILL_BUDGET = 300
# Threads that left the sync window without unread notifications are invisible to it;
# GET /threads lists them, for the most active rooms whose history is not all loaded.
DISCOVERY_ROOMS = 30
# A main timeline's gap is paged back from /messages at most this many times per job.
MAIN_FILL_PAGES = 5


# (room, event ID, sender, timestamp, encrypted content) -> the plaintext event (its
# "type" and "content"), or why it cannot be decrypted (an Undecryptable value).
Decrypt = Callable[[str, str, str, int, Mapping[str, Any]], "dict[str, Any] | str"]


class FillKind(Enum):
    """What a fill job loads."""

    THREAD = "thread"  # one thread whole, from /relations
    MAIN_GAP = "main timeline gap"  # the main timeline back to my read position, from /messages
    DISCOVER = "thread list"  # the room's threads, from /threads


@dataclass(frozen=True, slots=True)
class FillJob:
    """One piece of history to load. Equal jobs are run once per run of the service."""

    kind: FillKind
    room_id: RoomId
    # THREAD: the thread's root.
    thread_id: ThreadId | None = None
    # MAIN_GAP: the event the gap is before (each new gap is worth another try).
    gap_before: EventId | None = None


@dataclass(frozen=True, slots=True)
class ReceiptOutcome:
    """The server's answer to one queued request: accepted, or refused and why."""

    request: Request
    accepted: bool
    # The server's errcode and message when refused, for example
    # "M_INVALID_PARAM: event_id ... is not related to thread ...".
    error: str | None = None


class ReadStateCore:
    """The account and everything decided about it; see the module docstring."""

    def __init__(
        self,
        user_id: str,
        *,
        modes: ModeRules | None = None,
        session_mode: ReceiptType | None = None,
        fill_budget: int = FILL_BUDGET,
    ) -> None:
        self.account = AccountState(user_id)
        self.modes = modes if modes is not None else ModeRules()
        # The spaces each room descends from, and the structure they were found for.
        self._ancestors: tuple[tuple, dict[RoomId, frozenset[str]]] | None = None
        # What the session's toggle (``p``; ``mark --public``) chose; rooms pinned in
        # ``modes`` keep theirs.
        self.session_mode = session_mode if session_mode is not None else self.modes.default
        # None until the server has said (``/versions``).
        self.private_supported: bool | None = None
        self.loaded = False
        # Applied optimistically, not yet answered: the newest request per queue key.
        self._pending: dict[tuple[str, str, str], Request] = {}
        self._fill_budget = fill_budget
        self._fills_seen: set[FillJob] = set()
        self._fills_new: list[FillJob] = []
        # Rooms whose thread list has been read this run.
        self._listed: set[RoomId] = set()
        # Megolm sessions whose keys some events wait for, and their rooms.
        self._waiting: dict[str, set[RoomId]] = {}
        self._synced_once = False

    @property
    def user_id(self) -> str:
        return self.account.user_id

    @property
    def since(self) -> str | None:
        """The token the next ``/sync`` continues from (None: an initial sync)."""
        return self.account.next_batch

    @property
    def synced(self) -> bool:
        """Whether a sync has been received in this run (the rooms are the server's)."""
        return self._synced_once

    @property
    def pending(self) -> list[Request]:
        """Requests applied to the account and not yet answered, oldest first."""
        return list(self._pending.values())

    # ---- what is kept on this machine -------------------------------------------

    def load(self, cached: AccountState | None, queued: Iterable[Request]) -> AccountState:
        """Start from the cache's account (if any) with the queued requests applied. Once."""
        if self.loaded:
            return self.account
        if cached is not None:
            self.account = cached
        self.loaded = True
        for request in queued:
            self._apply(request, ts=0)
        return self.account

    def reload(self, cached: AccountState | None) -> AccountState:
        """The profile's owner saved a newer state (this process follows it): start over
        from it, with this process's own unanswered requests applied on top."""
        if cached is not None:
            self.account = cached
            for request in self._pending.values():
                self._change_room(request.room_id, lambda room, r=request: apply_optimistic(room, r))
        return self.account

    # ---- receipts ---------------------------------------------------------------

    def use_modes(self, modes: ModeRules) -> None:
        """Decide by these receipt settings from now on; the session mode starts again at
        their default."""
        self.modes = modes
        self.session_mode = modes.default

    def mode_in(self, room_id: RoomId | None) -> RoomMode:
        """The receipt policy of ``room_id`` (``app.model.policy``): the receipt type its
        read keys send, whether they send one, and what decided."""
        return self._mode_in(room_id, self._ancestor_map() if needs_spaces(self.modes.rules) else None)

    def _ancestor_map(self) -> Mapping[RoomId, frozenset[str]]:
        """Each room's space ancestors (``space_ancestors``), worked out again only when
        the spaces changed (one pass over the rooms to compare)."""
        rooms = self.account.rooms
        structure = structure_of(rooms)
        if self._ancestors is None or self._ancestors[0] != structure:
            self._ancestors = (structure, space_ancestors(rooms))
        return self._ancestors[1]

    def _mode_in(self, room_id: RoomId | None, ancestors: Mapping[RoomId, frozenset[str]] | None) -> RoomMode:
        """``mode_in`` with the ancestor map looked up already (None: no rule names a
        space), so that many rooms cost one look at the spaces, not one each."""
        room = self.account.rooms.get(room_id) if room_id is not None else None
        if room is None:
            return room_mode(self.modes, self.session_mode, room_id)
        spaces = ancestors.get(room.room_id, frozenset()) if ancestors is not None else frozenset()
        return room_mode(self.modes, self.session_mode, room_id, room_facts(room, spaces))

    def plan(self, room_id: RoomId, action: ReceiptAction) -> Request | Refusal:
        """The request ``action`` becomes, or why nothing may be sent. Changes nothing:
        ``queued`` applies the request once it is safely on its way."""
        refusal = refuse_action(action, self.mode_in(room_id), private_supported=self.private_supported)
        if refusal is not None:
            return refusal
        room = self.account.rooms.get(room_id)
        if room is None:
            return Refusal("unknown-room", f"room {room_id} is not joined")
        return plan(room, action)

    def bulk_plan(self, scope: str, room_ids: Iterable[RoomId], seen: Collection[EventId] = ()) -> BulkPlan:
        """The dry run of reading ``room_ids`` at once (``app.model.bulk``): each room in
        its own mode, planned and refused as a single ``R`` would be (``plan``'s steps,
        with the room's mode looked up once)."""
        rooms = self.account.rooms
        chosen = [rooms[room_id] for room_id in dict.fromkeys(room_ids) if room_id in rooms]
        modes: dict[RoomId, RoomMode] = {}
        ancestors = self._ancestor_map() if needs_spaces(self.modes.rules) else None

        def mode_of(room_id: RoomId) -> ReceiptType:
            mode = modes[room_id] = self._mode_in(room_id, ancestors)
            return mode.receipt_type

        def refuse(room: RoomState, action: ReceiptAction) -> Refusal | None:
            return refuse_action(action, modes[room.room_id], private_supported=self.private_supported)

        return bulk_plan(scope, chosen, refuse, mode_of, room_title, seen)

    def queued(self, request: Request, *, now_ms: int) -> None:
        """A planned request is queued: counts change at once, until it is answered."""
        self._apply(request, ts=now_ms)

    def adopt(self, request: Request) -> Refusal | None:
        """Whether to queue a request another process on this profile planned (its
        view of the room may be older): None to queue it; a refusal when the room is
        gone, the server cannot take it, or what it says is already told."""
        room = self.account.rooms.get(request.room_id)
        if room is None:
            return Refusal("unknown-room", f"room {request.room_id} is not joined")
        if self.private_supported is not None:
            refusal = refuse_request(request, private_supported=self.private_supported)
            if refusal is not None:
                return refusal
        if covered(room, request):
            return Refusal("already-read", "already read up to there")
        return None

    def mark_unread(self, room_id: RoomId, flag: bool) -> bool:
        """Flag a room (``m.marked_unread``) or clear the flag, here at once; whether it
        changed (the server is told by the caller, and its sync confirms it)."""
        room = self.account.rooms.get(room_id)
        if room is None or room.marked_unread == flag:
            return False
        self._change_room(room_id, lambda room: replace(room, marked_unread=flag))
        return True

    def set_receipt_override(self, room_id: RoomId, mode: str | None) -> bool:
        """Set the receipt mode chosen for a room from readmark (one of
        ``RECEIPT_MODES``; None: the config's rules decide), here at once; whether it
        changed (the server is told by the caller, and its sync confirms it)."""
        if mode is not None and mode not in RECEIPT_MODES:
            raise ValueError(f"a receipt mode is one of {', '.join(RECEIPT_MODES)} or None, not {mode!r}")
        room = self.account.rooms.get(room_id)
        if room is None or room.receipt_override == mode:
            return False
        self._change_room(room_id, lambda room: replace(room, receipt_override=mode))
        return True

    def settled(self, request: Request, error: str | None) -> ReceiptOutcome:
        """The server accepted ``request`` (``error`` None) or refused it (rolled back)."""
        key = request_key(request)
        if self._pending.get(key) == request:
            del self._pending[key]
        self._change_room(request.room_id, lambda room: settle(room, request, accepted=error is None))
        return ReceiptOutcome(request, error is None, error)

    def _apply(self, request: Request, *, ts: int) -> None:
        self._pending[request_key(request)] = request
        self._change_room(request.room_id, lambda room: apply_optimistic(room, request, ts=ts))

    def _change_room(self, room_id: RoomId, change) -> None:  # noqa: ANN001 - RoomState -> RoomState
        room = self.account.rooms.get(room_id)
        if room is not None:
            self.account = self.account.with_room(change(room))

    # ---- syncing ----------------------------------------------------------------

    def receive_sync(self, body: bytes | str | Mapping[str, Any], decrypt: Decrypt | None = None) -> frozenset[RoomId]:
        """Fold one ``/sync`` answer into the account; the IDs of the rooms it changed,
        added or removed. With ``decrypt``, the encrypted events the counts and the
        thread list need are decrypted. Raises ``translate.SyncFormatError`` on a body
        that is not a JSON object (and then changes nothing)."""
        # The decoding, the translation, the decryption and the counts allocate a lot
        # and make no reference cycles: collections while the sync's JSON is alive would
        # walk all of it again and again (its young collections run once, at the end).
        with collector_paused():
            return self._receive_sync(body, decrypt)

    def _receive_sync(self, body: bytes | str | Mapping[str, Any], decrypt: Decrypt | None) -> frozenset[RoomId]:
        sync = translate.parse_sync(body)
        initial = self.since is None
        if decrypt is None:
            self.account, changed = translate.apply_sync_changes(self.account, sync, initial=initial)
        else:
            # The encrypted events' verdicts wait for their decryption: what is
            # decrypted is judged on its plaintext only, the rest on its ciphertext.
            deferred: dict[RoomId, list[tuple[TimelineEvent, DeferredAlert]]] = {}
            self.account, changed = translate.apply_sync_changes(
                self.account, sync, initial=initial, deferred=deferred
            )
            self._decrypt_in(changed, decrypt, decryption.wanted, deferred)
        if not self._synced_once:
            # After the first sync, not at load: rooms restored from the cache may hold
            # lower-bound threads from an earlier run too.
            self._synced_once = True
            self._want_discovery()
            self._want_fills(frozenset(self.account.rooms) | changed)
        else:
            self._want_fills(changed)
        return changed

    # ---- encrypted events ------------------------------------------------------------

    def decrypt_wanted(self, room_ids: Iterable[RoomId], decrypt: Decrypt) -> frozenset[RoomId]:
        """Decrypt what the counts and the thread list need in these rooms (``app.model.
        decryption.wanted``); the rooms that changed."""
        return self._decrypt_in(room_ids, decrypt, decryption.wanted)

    def keys_arrived(self, session_ids: Iterable[str], decrypt: Decrypt) -> frozenset[RoomId]:
        """Room keys of these sessions arrived (or word that they are withheld): try the
        events that waited for them again."""
        sessions = set(session_ids)
        rooms = set().union(*(self._waiting.pop(session, set()) for session in sessions)) if sessions else set()
        return self._decrypt_in(rooms, decrypt, lambda room: decryption.waiting_for(room, sessions))

    def reveal(self, room_id: RoomId, thread_id: ThreadId, decrypt: Decrypt) -> bool:
        """The screen shows this thread: decrypt its events not tried yet."""
        return bool(self._decrypt_in([room_id], decrypt, lambda room: decryption.in_thread(room, thread_id)))

    def waiting_sessions(self) -> dict[str, frozenset[RoomId]]:
        """The Megolm sessions whose keys undecryptable events wait for, and their rooms."""
        return {session: frozenset(rooms) for session, rooms in self._waiting.items()}

    def encrypted_members(self) -> set[str]:
        """Who shares an encrypted room with me, as far as the loaded state says: the
        device lists to follow, for the checks decryption makes."""
        members: set[str] = set()
        for room in self.account.rooms.values():
            if room.encrypted and room.membership == "join":
                members.update(room.member_names)
                members.update(event.sender for event in room.events)
        members.discard(self.user_id)
        return members

    def _decrypt_in(
        self,
        room_ids: Iterable[RoomId],
        decrypt: Decrypt,
        positions_of,  # noqa: ANN001
        deferred: Mapping[RoomId, list[tuple[TimelineEvent, DeferredAlert]]] | None = None,
    ) -> frozenset[RoomId]:
        changed = set()
        with collector_paused():
            for room_id in room_ids:
                if self._decrypt_room(room_id, decrypt, positions_of, deferred):
                    changed.add(room_id)
        return frozenset(changed)

    def _decrypt_room(
        self,
        room_id: RoomId,
        decrypt: Decrypt,
        positions_of,  # noqa: ANN001
        deferred: Mapping[RoomId, list[tuple[TimelineEvent, DeferredAlert]]] | None,
    ) -> bool:
        room = self.account.rooms.get(room_id)
        if room is None:
            return False
        positions = positions_of(room)
        waiting = deferred.get(room_id) if deferred else None
        if not positions and not waiting:
            return False
        self.account = self.account.with_room(self._decrypted(room, positions, decrypt, waiting))
        return True

    def _decrypted(
        self,
        room: RoomState,
        positions: Sequence[int],
        decrypt: Decrypt,
        waiting: list[tuple[TimelineEvent, DeferredAlert]] | None = None,
    ) -> RoomState:
        """``room`` with the events at ``positions`` decrypted (or marked why not), and
        the verdicts ``waiting`` (``translate.apply_sync_changes``' deferred ones) set on
        the events that stay ciphertext."""
        naming: RoomNaming | None = None
        alert = None
        replacements = {}
        late: dict[EventId, DeferredAlert] = {}
        covered = confirmed_read(room) if waiting else {}

        def ciphertext_verdict(event: TimelineEvent, entry: DeferredAlert | None, position: int) -> int:
            # An event that stays ciphertext is judged as such where the sync left it
            # unjudged, unless my confirmed receipts cover it (as the translation
            # leaves a read event unjudged).
            if entry is None or read_for_good(room, covered, position):
                return event.alert
            return entry.verdict()

        if waiting:
            index, events = room.index, room.events
            for event, entry in waiting:
                position = index.get(event.event_id)
                if position is not None and events[position] is event:
                    late[event.event_id] = entry
        for position in positions:
            event = room.events[position]
            entry = late.pop(event.event_id, None)
            if entry is not None:
                # The sync's own content: what json.loads(event.ciphertext) gives.
                content: Any = entry.cipher_fields()
            else:
                try:
                    content = json.loads(event.ciphertext or "")
                except ValueError:
                    content = None
            if not isinstance(content, dict):
                replacements[event.event_id] = with_verdict(
                    event, ciphertext_verdict(event, entry, position), Undecryptable.BAD.value
                )
                continue
            result = decrypt(room.room_id, event.event_id, event.sender, event.ts, content)
            if isinstance(result, str):
                replacements[event.event_id] = with_verdict(event, ciphertext_verdict(event, entry, position), result)
                session = content.get("session_id")
                if isinstance(session, str) and (result in decryption.RETRYABLE or result.startswith("withheld")):
                    self._waiting.setdefault(session, set()).add(room.room_id)
                continue
            if naming is None:
                naming = RoomNaming(room)
                alert = alerts(self.account.push_rules, naming, room.room_id)
            decrypted = decrypted_event(event, result, naming, alert)
            if entry is not None and decrypted.undecryptable:
                # A plaintext that is no event: it stays ciphertext.
                decrypted = with_verdict(decrypted, ciphertext_verdict(event, entry, position))
            replacements[event.event_id] = decrypted
        for event_id, entry in late.items():
            position = room.index[event_id]
            event = room.events[position]
            verdict = ciphertext_verdict(event, entry, position)
            if verdict != event.alert:
                replacements[event_id] = with_verdict(event, verdict)
        return replace_events(room, replacements)

    def forget_since(self) -> None:
        """The server refused the since token: the next sync starts from scratch (and
        drops the rooms it does not list)."""
        self.account = replace(self.account, next_batch=None)

    # ---- history ----------------------------------------------------------------

    def take_fill_jobs(self) -> list[FillJob]:
        """The fill jobs wanted since the last call, most useful first."""
        jobs, self._fills_new = self._fills_new, []
        return jobs

    def fill_still_wanted(self, job: FillJob) -> bool:
        """Whether a job taken earlier still has something to load."""
        room = self.account.rooms.get(job.room_id)
        if room is None:
            return False
        if job.kind is FillKind.THREAD:
            return job.thread_id not in room.complete_threads
        if job.kind is FillKind.DISCOVER:
            return job.room_id not in self._listed
        return True

    def open_thread(self, room_id: RoomId, thread_id: ThreadId) -> FillJob | None:
        """The user looks at a thread: the job that makes its count exact now (the
        room's thread list, for the main timeline), or None when there is nothing to
        load. Not counted against the background budget."""
        room = self.account.rooms.get(room_id)
        if room is None:
            return None
        if thread_id == MAIN:
            job = FillJob(FillKind.DISCOVER, room_id)
        elif thread_id in room.complete_threads:
            return None
        else:
            job = FillJob(FillKind.THREAD, room_id, thread_id)
        if job.kind is FillKind.DISCOVER and room_id in self._listed:
            return None
        self._fills_seen.add(job)
        return job

    def thread_events_wanted(self, room_id: RoomId, thread_id: ThreadId, fetched: Iterable[EventId]) -> list[EventId]:
        """Besides a thread's replies: its root, and the events my receipts for it point
        at, when neither is loaded nor fetched. Without their positions the count would
        stay uncertain."""
        room = self.account.rooms.get(room_id)
        if room is None:
            return []
        wanted = [thread_id]
        for receipt_type in ReceiptType:
            for key_thread in (None, thread_id):
                receipt = room.my_receipt(receipt_type, key_thread)
                if receipt is not None and receipt.event_id not in wanted:
                    wanted.append(receipt.event_id)
        have = set(fetched)
        return [event_id for event_id in wanted if room.event(event_id) is None and event_id not in have]

    def thread_loaded(self, room_id: RoomId, thread_id: ThreadId, raw_events: Iterable[object], *, complete: bool) -> None:
        """A thread's events (from ``/relations`` and ``/event``) arrived."""
        events = self._events_of(room_id, raw_events)
        self._change_room(
            room_id, lambda room: backfill(room, events, complete_thread=thread_id if complete else None)
        )

    def gap_to_fill(self, room_id: RoomId) -> tuple[EventId, str] | None:
        """The main timeline's latest gap and the token to page back from it, while the
        main timeline's count is only a lower bound; None when there is nothing to page."""
        room = self.account.rooms.get(room_id)
        if room is None or not thread_unread(room, MAIN).lower_bound:
            return None
        before = gap_before_latest(room)
        token = room.gap_tokens.get(before) if before is not None else None
        if before is None or token is None:
            return None
        return before, token

    def gap_loaded(self, room_id: RoomId, before: EventId, raw_chunk: Sequence[object], end: str | None) -> None:
        """A page of ``/messages`` (newest first, as ``dir=b`` gives it) before ``before``."""
        older = self._events_of(room_id, reversed(raw_chunk))
        exhausted = end is None or not raw_chunk
        self._change_room(room_id, lambda room: fill_gap(room, before, older, next_token=end, exhausted=exhausted))

    def threads_listed(self, room_id: RoomId, raw_roots: Iterable[object]) -> None:
        """``/threads`` answered: roots of threads the sync window does not show are
        loaded whole."""
        self._listed.add(room_id)
        room = self.account.rooms.get(room_id)
        if room is None:
            return
        for root in translate.timeline_events(raw_roots):
            if root.event_id not in room.thread_positions:
                self._want(FillJob(FillKind.THREAD, room_id, root.event_id), budgeted=False)

    def _events_of(self, room_id: RoomId, raw_events: Iterable[object]) -> list:
        """Events fetched for a room, judged by the push rules in its current state."""
        return translate.timeline_events(raw_events, self.account.rooms.get(room_id), self.account.push_rules)

    def _want(self, job: FillJob, *, budgeted: bool = True) -> bool:
        if job in self._fills_seen:
            return False
        if budgeted and len(self._fills_seen) >= self._fill_budget:
            return False
        self._fills_seen.add(job)
        self._fills_new.append(job)
        return True

    def _want_discovery(self) -> None:
        rooms = [
            room
            for room in self.account.rooms.values()
            if room.membership == "join" and (not room.history_complete or room.gaps_before)
        ]
        rooms.sort(key=lambda room: room.latest_ts, reverse=True)
        for room in rooms[:DISCOVERY_ROOMS]:
            self._want(FillJob(FillKind.DISCOVER, room.room_id), budgeted=False)

    def _want_fills(self, changed: Iterable[RoomId]) -> None:
        """The threads of changed rooms whose count is only a lower bound, most recent first."""
        candidates: list[tuple[int, FillJob]] = []
        for room_id in changed:
            room = self.account.rooms.get(room_id)
            if room is None or room.membership != "join":
                continue
            for thread_id, counts in threads_unread(room).items():
                if not counts.lower_bound:
                    continue
                if thread_id == MAIN:
                    job = FillJob(FillKind.MAIN_GAP, room_id, gap_before=gap_before_latest(room))
                else:
                    job = FillJob(FillKind.THREAD, room_id, thread_id)
                if job in self._fills_seen:
                    continue
                latest = room.latest_event(thread_id)
                candidates.append((latest.ts if latest else 0, job))
        candidates.sort(key=lambda candidate: candidate[0], reverse=True)
        for _, job in candidates:
            if len(self._fills_seen) >= self._fill_budget:
                return
            self._want(job)


def describe_job(job: FillJob) -> str:
    """A fill job in words, for the log."""
    if job.kind is FillKind.THREAD:
        return f"thread {job.thread_id} in {job.room_id}"
    return f"{job.kind.value} of {job.room_id}"


__all__ = ["FillJob", "FillKind", "ReadStateCore", "ReceiptOutcome", "RoomMode", "RoomState", "describe_job"]
