"""A small homeserver on loopback for the benchmarks that run readmark as a process
(``tests/bench/status.py``): it answers what ``readmark login`` and ``readmark status``
ask, and serves one fixed initial ``/sync`` body (the synthetic account's), on demand.

A benchmark fixture, not a Matrix server: a real Synapse cannot serve a 5,000-room
account quickly, and this one holds the account as bytes. What it does answer, it
answers as the spec says (client-server API v1.11):

- ``GET /_matrix/client/versions``; ``GET`` and ``POST /login`` (password only, for
  ``ME`` with ``PASSWORD``), each login a new device and token; ``POST /logout``;
  ``GET /account/whoami``;
- ``POST /user/{me}/filter`` (and ``GET`` of a filter), ``GET /sync``: the initial body
  for a request without ``since``, an empty incremental one with it. The body's
  ``device_one_time_keys_count`` is the count this server holds for the device (as a
  server's is), so a client that uploaded its keys at login is not asked for more;
- ``POST /keys/upload`` (keeps the device keys, counts the one-time keys),
  ``POST /keys/query`` (the devices it holds), ``POST /keys/claim`` (nothing to claim);
- ``GET /user/{me}/account_data/{type}`` and ``GET /room_keys/version``: 404
  ``M_NOT_FOUND`` (nothing set, no backup), which the client reads as "none".

Anything else is 404 ``M_UNRECOGNIZED`` (the spec's answer to an unknown endpoint) and is
listed in ``unknown``, so a benchmark can say that its subject asked for something this
fixture does not serve. Every request is logged (method, path without query, status).
"""

from __future__ import annotations

import http.server
import json
import re
import threading
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from tests.bench.synthetic import ME

PASSWORD = "bench-password"
CLIENT_V3 = "/_matrix/client/v3"
_OTK_COUNT = b'"device_one_time_keys_count":{"signed_curve25519":0}'


@dataclass
class Device:
    device_id: str
    token: str
    device_keys: dict[str, Any] | None = None
    one_time_keys: int = 0
    fallback_keys: int = 0


@dataclass
class Served:
    """The server's state, read by the benchmark (under ``lock``)."""

    devices: dict[str, Device] = field(default_factory=dict)  # by token
    filters: dict[str, Any] = field(default_factory=dict)
    log: list[tuple[str, str, int]] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    logins: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class FakeHomeserver:
    """``with FakeHomeserver(body) as server:`` serves on ``server.url`` from a thread."""

    def __init__(self, initial_sync: bytes, user_id: str = ME) -> None:
        self.user_id = user_id
        at = initial_sync.find(_OTK_COUNT)
        if at < 0 or initial_sync.find(_OTK_COUNT, at + 1) >= 0:
            raise ValueError("the initial sync body must hold device_one_time_keys_count once, at 0")
        # The body around the count: served as three writes, never copied.
        cut = at + len(_OTK_COUNT) - 2
        self._before, self._after = memoryview(initial_sync)[:cut], memoryview(initial_sync)[cut + 1 :]
        self.next_batch = json.loads(initial_sync[initial_sync.find(b'"next_batch":') + 13 :].split(b",", 1)[0])
        self.state = Served()
        self._httpd: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- what the benchmark reads ------------------------------------------------

    @property
    def url(self) -> str:
        assert self._httpd is not None
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def sync_url(self) -> str:
        """The initial /sync of this account, as readmark asks for it (the filter
        aside: this server ignores filters)."""
        return f"{self.url}{CLIENT_V3}/sync?timeout=0"

    def sync_body(self, token: str | None) -> bytes:
        """The exact bytes an initial /sync with ``token`` is answered with."""
        return b"".join(self._sync_parts(token))

    def requests(self) -> list[tuple[str, str, int]]:
        with self.state.lock:
            return list(self.state.log)

    def clear_log(self) -> None:
        with self.state.lock:
            self.state.log.clear()

    # ---- serving ---------------------------------------------------------------

    def __enter__(self) -> FakeHomeserver:
        server = self

        class Handler(_Handler):
            homeserver = server

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="fake-homeserver", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._httpd is not None and self._thread is not None
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def _sync_parts(self, token: str | None) -> tuple[bytes | memoryview, ...]:
        with self.state.lock:
            device = self.state.devices.get(token or "")
            count = device.one_time_keys if device is not None else 0
        return self._before, str(count).encode(), self._after

    def answer(self, method: str, path: str, query: dict[str, str], token: str | None, body: Any) -> tuple[int, Any]:
        """(status, JSON document or a tuple of byte parts) for one request."""
        state = self.state
        me = self.user_id  # paths arrive percent-decoded (see _Handler._serve)
        if path == "/_matrix/client/versions" and method == "GET":
            return 200, {"versions": [f"v1.{n}" for n in range(1, 12)], "unstable_features": {}}
        if path == f"{CLIENT_V3}/login":
            if method == "GET":
                return 200, {"flows": [{"type": "m.login.password"}]}
            if method == "POST":
                return self._login(body)
        with state.lock:
            device = state.devices.get(token or "")
        if device is None:
            if token is None:
                return 401, _error("M_MISSING_TOKEN", "Missing access token")
            return 401, _error("M_UNKNOWN_TOKEN", "Unknown access token", soft_logout=False)
        if path == f"{CLIENT_V3}/sync" and method == "GET":
            if query.get("since"):
                return 200, {"next_batch": self.next_batch}
            return 200, self._sync_parts(token)
        if path == f"{CLIENT_V3}/account/whoami" and method == "GET":
            return 200, {"user_id": self.user_id, "device_id": device.device_id}
        if path == f"{CLIENT_V3}/logout" and method == "POST":
            with state.lock:
                state.devices.pop(device.token, None)
            return 200, {}
        if path == f"{CLIENT_V3}/user/{me}/filter" and method == "POST":
            if not isinstance(body, dict):
                return 400, _error("M_BAD_JSON", "the filter is not a JSON object")
            with state.lock:
                filter_id = str(len(state.filters))
                state.filters[filter_id] = body
            return 200, {"filter_id": filter_id}
        found = re.fullmatch(rf"{CLIENT_V3}/user/{re.escape(me)}/filter/([^/]+)", path)
        if found and method == "GET":
            with state.lock:
                stored = state.filters.get(found.group(1))
            return (200, stored) if stored is not None else (404, _error("M_NOT_FOUND", "No such filter"))
        if re.fullmatch(rf"{CLIENT_V3}/user/{re.escape(me)}/account_data/[^/]+", path) and method == "GET":
            return 404, _error("M_NOT_FOUND", "Account data not found")
        if path == f"{CLIENT_V3}/room_keys/version" and method == "GET":
            return 404, _error("M_NOT_FOUND", "No current backup version")
        if path == f"{CLIENT_V3}/keys/upload" and method == "POST":
            return self._keys_upload(device, body)
        if path == f"{CLIENT_V3}/keys/query" and method == "POST":
            return self._keys_query(body)
        if path == f"{CLIENT_V3}/keys/claim" and method == "POST":
            return 200, {"one_time_keys": {}, "failures": {}}
        with state.lock:
            state.unknown.append(f"{method} {path}")
        return 404, _error("M_UNRECOGNIZED", "Unrecognized request")

    def _login(self, body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict) or body.get("type") != "m.login.password":
            return 400, _error("M_UNKNOWN", "Unknown login type")
        identifier = body.get("identifier")
        user = identifier.get("user") if isinstance(identifier, dict) else body.get("user")
        localpart = self.user_id[1:].split(":", 1)[0]
        if user not in (self.user_id, localpart) or body.get("password") != PASSWORD:
            return 403, _error("M_FORBIDDEN", "Invalid username or password")
        with self.state.lock:
            self.state.logins += 1
            number = self.state.logins
            device_id = body.get("device_id") if isinstance(body.get("device_id"), str) else f"BENCH{number:06d}"
            token = f"syt_bench_{number:06d}_{device_id}"
            self.state.devices[token] = Device(device_id, token)
        return 200, {"user_id": self.user_id, "access_token": token, "device_id": device_id}

    def _keys_upload(self, device: Device, body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict):
            return 400, _error("M_BAD_JSON", "not a JSON object")
        with self.state.lock:
            if isinstance(body.get("device_keys"), dict):
                device.device_keys = body["device_keys"]
            if isinstance(body.get("one_time_keys"), dict):
                device.one_time_keys += len(body["one_time_keys"])
            if isinstance(body.get("fallback_keys"), dict):
                device.fallback_keys = len(body["fallback_keys"])
            count = device.one_time_keys
        return 200, {"one_time_key_counts": {"signed_curve25519": count}}

    def _keys_query(self, body: Any) -> tuple[int, Any]:
        wanted = body.get("device_keys") if isinstance(body, dict) else None
        if not isinstance(wanted, dict):
            return 400, _error("M_BAD_JSON", "device_keys is required")
        answer: dict[str, dict[str, Any]] = {user: {} for user in wanted}
        with self.state.lock:
            for device in self.state.devices.values():
                if self.user_id in answer and device.device_keys is not None:
                    asked = wanted[self.user_id]
                    if not asked or device.device_id in asked:
                        answer[self.user_id][device.device_id] = device.device_keys
        return 200, {"device_keys": answer, "failures": {}}


def _error(errcode: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"errcode": errcode, "error": message, **extra}


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as aiohttp expects
    homeserver: FakeHomeserver

    def do_GET(self) -> None:  # noqa: N802 - http.server's names
        self._serve("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._serve("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._serve("PUT")

    def _serve(self, method: str) -> None:
        split = urllib.parse.urlsplit(self.path)
        # Percent-decoded: clients differ in what they escape ("@" and ":" in a user ID).
        path = urllib.parse.unquote(split.path)
        query = dict(urllib.parse.parse_qsl(split.query))
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                self._send(path, method, 400, _error("M_NOT_JSON", "Content not JSON"))
                return
        authorization = self.headers.get("Authorization") or ""
        token = authorization[7:] if authorization.startswith("Bearer ") else query.get("access_token")
        status, answer = self.homeserver.answer(method, path, query, token, body)
        self._send(path, method, status, answer)

    def _send(self, path: str, method: str, status: int, answer: Any) -> None:
        parts = answer if isinstance(answer, tuple) else (json.dumps(answer).encode(),)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(sum(len(part) for part in parts)))
        self.end_headers()
        try:
            for part in parts:
                self.wfile.write(part)
        except (BrokenPipeError, ConnectionResetError):
            # The client stopped reading (readmark does past its answer cap).
            status = -status
            self.close_connection = True
        with self.homeserver.state.lock:
            self.homeserver.state.log.append((method, path, status))

    def log_message(self, *args: object) -> None:
        pass
