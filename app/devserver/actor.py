"""A Matrix user speaking raw HTTP to the local homeserver: seeds rooms, and witnesses
what the server received (receipts, read markers, unread counts).

Standard library only (``urllib``, ``json``): it must stay independent of matrix-nio, which
is what it checks. The access token travels in the ``Authorization`` header, never in a URL.
"""

from __future__ import annotations

import html
import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

T = TypeVar("T")

CLIENT_V3 = "/_matrix/client/v3"

# What the default sync asks for: per-thread counts (so unread_notifications holds only the
# main timeline) and lazily loaded members (small responses).
DEFAULT_SYNC_FILTER: dict[str, Any] = {
    "room": {
        "timeline": {"unread_thread_notifications": True, "lazy_load_members": True},
        "state": {"lazy_load_members": True},
    }
}


class MatrixHttpError(Exception):
    """A non-2xx answer, with the Matrix error fields pulled out of the body."""

    def __init__(self, method: str, path: str, status: int, body: dict[str, Any],
                 retry_after_ms: int | None = None) -> None:
        self.status = status
        self.body = body
        self.errcode: str | None = body.get("errcode")
        self.error: str | None = body.get("error")
        self.retry_after_ms = retry_after_ms
        super().__init__(f"{method} {path} -> {status} {self.errcode}: {self.error}")


def _quote(part: str) -> str:
    return urllib.parse.quote(part, safe="")


def http_call(
    base_url: str,
    method: str,
    path: str,
    body: Mapping[str, Any] | None = None,
    query: Mapping[str, Any] | None = None,
    access_token: str | None = None,
    timeout: float = 30.0,
) -> dict[str, Any]:
    """One JSON request. Returns the decoded body; raises MatrixHttpError on non-2xx."""
    url = base_url.rstrip("/") + path
    if query:
        url += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if access_token is not None:
        request.add_header("Authorization", f"Bearer {access_token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
    except urllib.error.HTTPError as error:
        raw = error.read()
        try:
            payload = json.loads(raw) if raw else {}
        except ValueError:
            payload = {"error": raw.decode("utf-8", "replace")}
        if not isinstance(payload, dict):
            payload = {"error": str(payload)}
        retry_after_ms = payload.get("retry_after_ms")
        if retry_after_ms is None and error.headers.get("Retry-After", "").isdigit():
            retry_after_ms = int(error.headers["Retry-After"]) * 1000
        raise MatrixHttpError(method, path, error.code, payload, retry_after_ms) from None
    return json.loads(raw) if raw else {}


def _fresh_txn_id() -> str:
    return f"rm{uuid.uuid4().hex}"


class MatrixActor:
    """A logged-in user. Every call is synchronous and hits the server."""

    def __init__(self, base_url: str, user_id: str, access_token: str, device_id: str) -> None:
        self.base_url = base_url
        self.user_id = user_id
        self.access_token = access_token
        self.device_id = device_id

    def __repr__(self) -> str:  # never show the token
        return f"MatrixActor({self.user_id!r}, device={self.device_id!r})"

    # -- accounts ---------------------------------------------------------------

    @classmethod
    def register(cls, base_url: str, localpart: str, password: str | None = None) -> MatrixActor:
        """Register through the m.login.dummy interactive-auth flow. Password: ``pw-<localpart>``."""
        body: dict[str, Any] = {
            "username": localpart,
            "password": password if password is not None else f"pw-{localpart}",
            "initial_device_display_name": "readmark devserver actor",
        }
        try:
            answer = http_call(base_url, "POST", f"{CLIENT_V3}/register", body)
        except MatrixHttpError as error:
            if error.status != 401 or "session" not in error.body:
                raise
            body["auth"] = {"type": "m.login.dummy", "session": error.body["session"]}
            answer = http_call(base_url, "POST", f"{CLIENT_V3}/register", body)
        return cls(base_url, answer["user_id"], answer["access_token"], answer["device_id"])

    @classmethod
    def login(cls, base_url: str, user_id_or_localpart: str, password: str,
              device_id: str | None = None) -> MatrixActor:
        """``device_id``: log in as that device (the server makes it if it is new)."""
        body: dict[str, Any] = {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": user_id_or_localpart},
            "password": password,
        }
        if device_id is not None:
            body["device_id"] = device_id
        answer = http_call(base_url, "POST", f"{CLIENT_V3}/login", body)
        return cls(base_url, answer["user_id"], answer["access_token"], answer["device_id"])

    def logout(self) -> None:
        self.request("POST", f"{CLIENT_V3}/logout", {})

    def versions(self) -> dict[str, Any]:
        return http_call(self.base_url, "GET", "/_matrix/client/versions")

    def request(self, method: str, path: str, body: Mapping[str, Any] | None = None,
                query: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """An authenticated request; ``path`` starts at ``/_matrix``."""
        return http_call(self.base_url, method, path, body, query, access_token=self.access_token)

    # -- rooms and events -------------------------------------------------------

    def create_room(self, name: str | None = None, *, invite: Sequence[str] = (), is_direct: bool = False,
                    alias_localpart: str | None = None, preset: str = "private_chat",
                    topic: str | None = None) -> str:
        body: dict[str, Any] = {"preset": preset, "invite": list(invite), "is_direct": is_direct}
        if name is not None:
            body["name"] = name
        if topic is not None:
            body["topic"] = topic
        if alias_localpart is not None:
            body["room_alias_name"] = alias_localpart
        return self.request("POST", f"{CLIENT_V3}/createRoom", body)["room_id"]

    def join(self, room_id_or_alias: str) -> str:
        return self.request("POST", f"{CLIENT_V3}/join/{_quote(room_id_or_alias)}", {})["room_id"]

    def invite(self, room_id: str, user_id: str) -> None:
        self.request("POST", f"{CLIENT_V3}/rooms/{_quote(room_id)}/invite", {"user_id": user_id})

    def send_event(self, room_id: str, event_type: str, content: Mapping[str, Any]) -> str:
        path = f"{CLIENT_V3}/rooms/{_quote(room_id)}/send/{_quote(event_type)}/{_fresh_txn_id()}"
        return self.request("PUT", path, content)["event_id"]

    def send_text(self, room_id: str, body: str, *, mentions: Sequence[str] = (),
                  formatted: bool = False) -> str:
        """An m.text message. Each mentioned user ID goes in ``m.mentions`` and the body."""
        return self.send_event(room_id, "m.room.message", _text_content(body, mentions, formatted))

    def send_thread_reply(self, room_id: str, root_id: str, body: str, *,
                          mentions: Sequence[str] = ()) -> str:
        """A reply in the thread of ``root_id``, falling back to a reply to the thread's latest event."""
        latest = self._latest_in_thread(room_id, root_id)
        content = _text_content(body, mentions, formatted=False)
        content["m.relates_to"] = {
            "rel_type": "m.thread",
            "event_id": root_id,
            "is_falling_back": True,
            "m.in_reply_to": {"event_id": latest},
        }
        return self.send_event(room_id, "m.room.message", content)

    def _latest_in_thread(self, room_id: str, root_id: str) -> str:
        answer = self.request(
            "GET",
            f"/_matrix/client/v1/rooms/{_quote(room_id)}/relations/{_quote(root_id)}/m.thread",
            query={"limit": 1, "dir": "b"},
        )
        chunk = answer.get("chunk", [])
        return chunk[0]["event_id"] if chunk else root_id

    def react(self, room_id: str, event_id: str, key: str = "👍") -> str:
        return self.send_event(room_id, "m.reaction", {
            "m.relates_to": {"rel_type": "m.annotation", "event_id": event_id, "key": key},
        })

    def edit(self, room_id: str, event_id: str, new_body: str) -> str:
        return self.send_event(room_id, "m.room.message", {
            "msgtype": "m.text",
            "body": f"* {new_body}",
            "m.new_content": {"msgtype": "m.text", "body": new_body},
            "m.relates_to": {"rel_type": "m.replace", "event_id": event_id},
        })

    def redact(self, room_id: str, event_id: str) -> str:
        path = f"{CLIENT_V3}/rooms/{_quote(room_id)}/redact/{_quote(event_id)}/{_fresh_txn_id()}"
        return self.request("PUT", path, {})["event_id"]

    def send_state(self, room_id: str, event_type: str, content: Mapping[str, Any],
                   state_key: str = "") -> str:
        path = f"{CLIENT_V3}/rooms/{_quote(room_id)}/state/{_quote(event_type)}/{_quote(state_key)}"
        return self.request("PUT", path, content)["event_id"]

    # -- read state -------------------------------------------------------------

    def send_receipt(self, room_id: str, event_id: str, receipt_type: str = "m.read",
                     thread_id: str | None = None) -> None:
        """POST /receipt. ``thread_id=None`` sends ``{}``, an unthreaded receipt."""
        body = {} if thread_id is None else {"thread_id": thread_id}
        path = f"{CLIENT_V3}/rooms/{_quote(room_id)}/receipt/{_quote(receipt_type)}/{_quote(event_id)}"
        self.request("POST", path, body)

    def set_read_markers(self, room_id: str, *, fully_read: str | None = None, read: str | None = None,
                         read_private: str | None = None) -> None:
        body = {key: value for key, value in (
            ("m.fully_read", fully_read), ("m.read", read), ("m.read.private", read_private),
        ) if value is not None}
        self.request("POST", f"{CLIENT_V3}/rooms/{_quote(room_id)}/read_markers", body)

    def sync(self, since: str | None = None, timeout_ms: int = 0, *, full_state: bool = False,
             filter: Mapping[str, Any] | None = None) -> dict[str, Any]:  # noqa: A002 - the API's name
        query: dict[str, Any] = {
            "timeout": timeout_ms,
            "since": since,
            "filter": json.dumps(DEFAULT_SYNC_FILTER if filter is None else filter),
        }
        if full_state:
            query["full_state"] = "true"
        return self.request("GET", f"{CLIENT_V3}/sync", query=query)

    def _initial_sync_of(self, room_id: str) -> dict[str, Any]:
        """This room's part of a fresh initial sync (empty if the user is not joined)."""
        room_filter = {
            "room": {
                "rooms": [room_id],
                "timeline": {"limit": 1, "unread_thread_notifications": True, "lazy_load_members": True},
                "state": {"lazy_load_members": True},
            },
            "presence": {"types": []},
            "account_data": {"types": []},
        }
        return self.sync(filter=room_filter).get("rooms", {}).get("join", {}).get(room_id, {})

    def room_receipts(self, room_id: str) -> dict[str, dict[str, dict[str, dict[str, Any]]]]:
        """Receipts as this user's initial sync shows them: {event_id: {type: {user: {ts, thread_id?}}}}."""
        merged: dict[str, dict[str, dict[str, dict[str, Any]]]] = {}
        for event in self._initial_sync_of(room_id).get("ephemeral", {}).get("events", []):
            if event.get("type") != "m.receipt":
                continue
            for event_id, by_type in event.get("content", {}).items():
                for receipt_type, by_user in by_type.items():
                    merged.setdefault(event_id, {}).setdefault(receipt_type, {}).update(by_user)
        return merged

    def fully_read(self, room_id: str) -> str | None:
        path = f"{CLIENT_V3}/user/{_quote(self.user_id)}/rooms/{_quote(room_id)}/account_data/m.fully_read"
        try:
            return self.request("GET", path).get("event_id")
        except MatrixHttpError as error:
            if error.status == 404:
                return None
            raise

    def unread_counts(self, room_id: str) -> tuple[int, int, dict[str, tuple[int, int]]]:
        """(notification_count, highlight_count, {thread_root: (notifications, highlights)}).

        The first two count the main timeline only, since the sync asks for per-thread counts.
        """
        room = self._initial_sync_of(room_id)
        main = room.get("unread_notifications", {})
        threads = {
            root: (counts.get("notification_count", 0), counts.get("highlight_count", 0))
            for root, counts in room.get("unread_thread_notifications", {}).items()
        }
        return main.get("notification_count", 0), main.get("highlight_count", 0), threads

    @staticmethod
    def wait_for(predicate: Callable[[], T], timeout: float = 10.0, interval: float = 0.1) -> T:
        """Poll until ``predicate()`` is truthy and return it; TimeoutError otherwise.

        Synapse updates counts and receipts asynchronously: poll, never sleep a fixed time.
        """
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() >= deadline:
                raise TimeoutError(f"condition not met within {timeout} s (last value: {value!r})")
            time.sleep(interval)


def _text_content(body: str, mentions: Sequence[str], formatted: bool) -> dict[str, Any]:
    if mentions:
        body = " ".join([*mentions, body])
    content: dict[str, Any] = {"msgtype": "m.text", "body": body, "m.mentions": {"user_ids": list(mentions)}}
    if formatted:
        formatted_body = html.escape(body)
        for user_id in mentions:
            link = f'<a href="https://matrix.to/#/{user_id}">{html.escape(user_id)}</a>'
            formatted_body = formatted_body.replace(html.escape(user_id), link)
        content["format"] = "org.matrix.custom.html"
        content["formatted_body"] = formatted_body
    return content
