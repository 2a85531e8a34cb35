"""MatrixClient against the real Synapse, with a second user as witness.

What goes out on the wire is recorded by a small loopback proxy between the client and
Synapse (method, path with query, headers, body as bytes), so the tests assert the exact
bodies sent and that no URL ever carries the access token. Failures that Synapse cannot
produce on demand (HTML instead of Matrix, 429 with ``Retry-After``, a reset connection, a
server that never answers) come from a scripted loopback server.
"""

from __future__ import annotations

import asyncio
import http.client
import http.server
import json
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from app.devserver.actor import CLIENT_V3, MatrixActor
from app.devserver.synapse import free_port
from app.matrix.client import (
    MatrixClient,
    error_from_answer,
    insecure_transport_warning,
    normalize_homeserver,
    supports_private_receipts,
)
from app.matrix.errors import (
    LoginFailed,
    MatrixError,
    NetworkError,
    NotAMatrixServer,
    RateLimited,
    RequestRefused,
    ServerError,
    TokenInvalid,
)

# -- loopback helpers -----------------------------------------------------------


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


# A payload that is an iterable of pieces goes out chunked (no Content-Length), piece by
# piece, so a body can be larger than anything the test holds in memory.
Answer = tuple[int, dict[str, str], "bytes | Iterable[bytes]"]


@dataclass
class LoopbackServer:
    """A threaded HTTP/1.1 server on 127.0.0.1 that answers with ``handler`` and records
    every request it receives."""

    handler: Callable[[Recorded], Answer | None]
    requests: list[Recorded] = field(default_factory=list)
    streamed: int = 0  # bytes of chunked payloads written before the client hung up

    def __post_init__(self) -> None:
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                record = Recorded(self.command, self.path, dict(self.headers.items()), body)
                outer.requests.append(record)
                answer = outer.handler(record)
                if answer is None:  # drop the connection without a word
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                status, headers, payload = answer
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                if isinstance(payload, bytes):
                    if "Content-Length" not in headers:
                        self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                try:
                    for piece in payload:
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                        outer.streamed += len(piece)
                    self.wfile.write(b"0\r\n\r\n")
                except OSError:  # the client hung up: what these tests want
                    self.close_connection = True

            do_GET = do_POST = do_PUT = do_DELETE = _handle

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def forward_to(upstream: str) -> Callable[[Recorded], Answer]:
    """A handler that passes each request on to ``upstream`` unchanged: a recording proxy."""
    target = urllib.parse.urlsplit(upstream)

    def forward(request: Recorded) -> Answer:
        connection = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
        try:
            headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "connection")}
            connection.request(request.method, request.path, body=request.body or None, headers=headers)
            response = connection.getresponse()
            payload = response.read()
            skip = {"content-length", "transfer-encoding", "connection", "server", "date"}  # the proxy adds its own
            return response.status, {k: v for k, v in response.getheaders() if k.lower() not in skip}, payload
        finally:
            connection.close()

    return forward


@pytest.fixture
def proxy(synapse) -> Iterator[LoopbackServer]:  # noqa: ANN001
    server = LoopbackServer(forward_to(synapse.base_url))
    yield server
    server.close()


@pytest.fixture
def scripted() -> Iterator[Callable[[Callable[[Recorded], Answer | None]], LoopbackServer]]:
    servers: list[LoopbackServer] = []

    def make(handler: Callable[[Recorded], Answer | None]) -> LoopbackServer:
        server = LoopbackServer(handler)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()


def closed_port_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


# -- accounts and rooms ---------------------------------------------------------


def password_of(actor: MatrixActor) -> str:
    """MatrixActor.register's default password."""
    return f"pw-{actor.user_id[1:].split(':', 1)[0]}"


@dataclass
class Scene:
    """Me (through MatrixClient, via the proxy), and a witness in a shared room."""

    client: MatrixClient
    me: MatrixActor  # the same account, as raw HTTP, to read what the server holds for me
    witness: MatrixActor
    room_id: str
    proxy: LoopbackServer


@pytest.fixture
async def scene(make_actor, proxy) -> Scene:  # noqa: ANN001
    me = make_actor("me")
    witness = make_actor("witness")
    room_id = witness.create_room("read state", invite=[me.user_id])
    me.join(room_id)
    client, _session = await MatrixClient.login(proxy.url, me.user_id, password_of(me))
    yield Scene(client, me, witness, room_id, proxy)
    await client.close()


def receipt_bodies(proxy: LoopbackServer) -> list[tuple[str, bytes]]:
    return [(r.path, r.body) for r in proxy.requests if "/receipt/" in r.path]


async def wait_until(predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Poll a blocking predicate (a MatrixActor call) off the event loop."""
    return await asyncio.to_thread(MatrixActor.wait_for, predicate, timeout)


# -- pure mapping ---------------------------------------------------------------


class TestErrorMapping:
    def test_rate_limit_from_body(self) -> None:
        body = json.dumps({"errcode": "M_LIMIT_EXCEEDED", "error": "Too many", "retry_after_ms": 1500}).encode()
        error = error_from_answer(429, body, {}, request="POST /x")
        assert isinstance(error, RateLimited) and error.retry_after_ms == 1500 and error.is_retryable

    def test_rate_limit_from_header_when_body_has_none(self) -> None:
        error = error_from_answer(429, b"", {"Retry-After": "3"}, request="POST /x")
        assert isinstance(error, RateLimited) and error.retry_after_ms == 3000

    def test_unknown_token_with_soft_logout(self) -> None:
        body = json.dumps({"errcode": "M_UNKNOWN_TOKEN", "error": "expired", "soft_logout": True}).encode()
        error = error_from_answer(401, body, {}, request="GET /sync")
        assert isinstance(error, TokenInvalid) and error.soft_logout and not error.is_retryable

    def test_login_forbidden_is_login_failed_elsewhere_refused(self) -> None:
        body = json.dumps({"errcode": "M_FORBIDDEN", "error": "Invalid username or password"}).encode()
        assert isinstance(error_from_answer(403, body, {}, request="POST /login", login=True), LoginFailed)
        refused = error_from_answer(403, body, {}, request="POST /receipt")
        assert isinstance(refused, RequestRefused) and not refused.is_retryable

    def test_server_error_is_retryable_and_one_line(self) -> None:
        error = error_from_answer(502, b"<html>\n<b>Bad gateway</b>\n</html>", {}, request="GET /sync", reason="Bad Gateway")
        assert isinstance(error, ServerError) and error.is_retryable
        assert str(error) == "HTTP 502 Bad Gateway from GET /sync"

    def test_str_is_errcode_and_message_on_one_line(self) -> None:
        body = json.dumps({"errcode": "M_INVALID_PARAM", "error": "thread_id field\nmust be a non-empty string"}).encode()
        error = error_from_answer(400, body, {}, request="POST /receipt")
        assert str(error) == "M_INVALID_PARAM: thread_id field must be a non-empty string"
        assert (error.errcode, error.status) == ("M_INVALID_PARAM", 400)

    def test_versions_and_private_receipts(self) -> None:
        assert supports_private_receipts({"versions": ["r0.6.1", "v1.1", "v1.4"]})
        assert supports_private_receipts({"versions": ["v1.12"]})
        assert not supports_private_receipts({"versions": ["r0.6.1", "v1.3"]})
        assert supports_private_receipts({"versions": ["v1.3"], "unstable_features": {"org.matrix.msc2285.stable": True}})
        assert not supports_private_receipts({"versions": ["v1.3"], "unstable_features": {"org.matrix.msc2285.stable": False}})

    def test_homeserver_urls(self) -> None:
        assert normalize_homeserver("matrix.example.org/") == "https://matrix.example.org"
        assert normalize_homeserver("http://127.0.0.1:8008") == "http://127.0.0.1:8008"
        with pytest.raises(NotAMatrixServer):
            normalize_homeserver("ftp://example.org")
        assert insecure_transport_warning("http://matrix.example.org") is not None
        for loopback in ("http://127.0.0.1:8008", "http://localhost:8008", "http://[::1]:8008", "https://example.org"):
            assert insecure_transport_warning(loopback) is None


# -- login ----------------------------------------------------------------------


async def test_login_then_whoami(make_actor, proxy) -> None:  # noqa: ANN001
    me = make_actor("me")
    client, session = await MatrixClient.login(proxy.url, me.user_id, password_of(me), device_name="readmark test")
    async with client:
        assert (session.homeserver, session.user_id) == (proxy.url, me.user_id)
        assert session.device_id and session.access_token and session.access_token != me.access_token
        assert session.access_token not in repr(session) and session.access_token not in repr(client)
        assert await client.whoami() == me.user_id
        assert not client.insecure_transport  # loopback
    # /versions first, then /login; neither carries an Authorization header.
    paths = [r.path for r in proxy.requests]
    assert paths[:2] == ["/_matrix/client/versions", f"{CLIENT_V3}/login"]
    assert all("Authorization" not in r.headers for r in proxy.requests[:2])
    login_body = json.loads(proxy.requests[1].body)
    assert login_body["identifier"] == {"type": "m.id.user", "user": me.user_id}
    assert login_body["initial_device_display_name"] == "readmark test"
    assert proxy.requests[2].headers["Authorization"] == f"Bearer {session.access_token}"


async def test_login_with_a_localpart(make_actor, synapse) -> None:  # noqa: ANN001
    me = make_actor("me")
    localpart = me.user_id[1:].split(":", 1)[0]
    client, session = await MatrixClient.login(synapse.base_url, localpart, password_of(me))
    async with client:
        assert session.user_id == me.user_id


async def test_wrong_password(make_actor, synapse) -> None:  # noqa: ANN001
    me = make_actor("me")
    with pytest.raises(LoginFailed) as caught:
        await MatrixClient.login(synapse.base_url, me.user_id, "not the password")
    assert caught.value.errcode == "M_FORBIDDEN" and caught.value.status == 403
    assert not caught.value.is_retryable


async def test_unknown_user(synapse) -> None:  # noqa: ANN001
    with pytest.raises(LoginFailed) as caught:
        await MatrixClient.login(synapse.base_url, f"@nobody-{time.time_ns()}:{synapse.server_name}", "whatever")
    assert caught.value.errcode == "M_FORBIDDEN"


@pytest.mark.serial
async def test_unreachable_homeserver_fails_fast_without_retrying() -> None:
    began = time.monotonic()
    with pytest.raises(NetworkError) as caught:
        await MatrixClient.login(closed_port_url(), "@me:localhost", "pw")
    assert time.monotonic() - began < 2.0
    assert "Connection refused" in str(caught.value) and caught.value.is_retryable


@pytest.mark.parametrize(
    "answer",
    [
        (404, {"Content-Type": "text/html"}, b"<html><body>Not Found</body></html>"),
        (200, {"Content-Type": "text/html"}, b"<html><body>Welcome to nginx!</body></html>"),
        (200, {"Content-Type": "application/json"}, b'{"hello": "world"}'),
    ],
    ids=["404-html", "200-html", "200-json-without-versions"],
)
async def test_not_a_matrix_server(scripted, answer) -> None:  # noqa: ANN001
    server = scripted(lambda request: answer)
    with pytest.raises(NotAMatrixServer) as caught:
        await MatrixClient.login(server.url, "@me:localhost", "secret password")
    assert "does not look like a Matrix homeserver" in str(caught.value)
    # The password never went there.
    assert [r.path for r in server.requests] == ["/_matrix/client/versions"]


async def test_revoked_token_is_token_invalid(make_actor, synapse) -> None:  # noqa: ANN001
    me = make_actor("me")
    client, session = await MatrixClient.login(synapse.base_url, me.user_id, password_of(me))
    async with client:
        assert await client.whoami() == me.user_id
        # Another session of the same user logs every device out.
        me.request("POST", f"{CLIENT_V3}/logout/all", {})
        with pytest.raises(TokenInvalid) as caught:
            await client.whoami()
    assert caught.value.errcode == "M_UNKNOWN_TOKEN" and caught.value.status == 401
    assert caught.value.soft_logout is False and not caught.value.is_retryable


async def test_logout_invalidates_the_token(make_actor, synapse) -> None:  # noqa: ANN001
    me = make_actor("me")
    client, session = await MatrixClient.login(synapse.base_url, me.user_id, password_of(me))
    async with client:
        await client.logout()
        assert not client.logged_in
    stale = MatrixClient.from_session(session)
    async with stale:
        with pytest.raises(TokenInvalid):
            await stale.whoami()
        with pytest.raises(TokenInvalid):
            await stale.logout()


# -- failures nio would otherwise retry -----------------------------------------


async def test_429_is_raised_at_once_with_retry_after_header(scripted) -> None:  # noqa: ANN001
    def answer(request: Recorded) -> Answer:
        if request.path == "/_matrix/client/versions":
            return 200, {"Content-Type": "application/json"}, b'{"versions": ["v1.11"]}'
        return 429, {"Retry-After": "7", "Content-Type": "application/json"}, b'{"errcode": "M_LIMIT_EXCEEDED", "error": "slow down"}'

    server = scripted(answer)
    client = MatrixClient.from_session(_fake_session(server.url))
    async with client:
        with pytest.raises(RateLimited) as caught:
            await client.send_receipt("!r:localhost", "m.read", "$e", None)
    assert caught.value.retry_after_ms == 7000 and caught.value.errcode == "M_LIMIT_EXCEEDED"
    assert len([r for r in server.requests if "/receipt/" in r.path]) == 1  # nio did not retry


async def test_reset_connection_is_a_network_error_without_nio_retrying(scripted) -> None:  # noqa: ANN001
    server = scripted(lambda request: None)
    client = MatrixClient.from_session(_fake_session(server.url))
    async with client:
        with pytest.raises(NetworkError) as caught:
            await client.send_receipt("!r:localhost", "m.read", "$e", None)
        assert caught.value.is_retryable
        assert len(server.requests) == 1
        # aiohttp itself (not nio) retries an idempotent request once on a dropped
        # connection (RFC 9112 section 9.3.1.1); that is bounded, and it stops there.
        with pytest.raises(NetworkError):
            await client.whoami()
        assert len(server.requests) == 3


@pytest.mark.serial
async def test_a_server_that_never_answers_times_out() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)  # accepts connections (the kernel does), never answers
    try:
        port = listener.getsockname()[1]
        client = MatrixClient.from_session(_fake_session(f"http://127.0.0.1:{port}"), request_timeout=0.5)
        began = time.monotonic()
        async with client:
            with pytest.raises(NetworkError) as caught:
                await client.whoami()
        assert time.monotonic() - began < 2.0
        assert "did not answer within 0.5 s" in str(caught.value)
    finally:
        listener.close()


async def test_5xx_is_a_server_error(scripted) -> None:  # noqa: ANN001
    server = scripted(lambda request: (502, {"Content-Type": "text/html"}, b"<h1>Bad Gateway</h1>"))
    client = MatrixClient.from_session(_fake_session(server.url))
    async with client:
        with pytest.raises(ServerError) as caught:
            await client.whoami()
    assert caught.value.status == 502 and caught.value.is_retryable


def _fake_session(url: str):  # noqa: ANN202
    from app.matrix.session import Session

    return Session(url, "@me:localhost", "DEVICE", "syt_fake_token_for_scripted_server")


# -- receipts ---------------------------------------------------------------------


async def test_threaded_public_receipt_is_seen_by_the_witness_with_its_thread(scene: Scene) -> None:
    root = scene.witness.send_text(scene.room_id, "root")
    reply = scene.witness.send_thread_reply(scene.room_id, root, "in the thread")
    await scene.client.send_receipt(scene.room_id, "m.read", reply, root)

    seen = await wait_until(
        lambda: scene.witness.room_receipts(scene.room_id).get(reply, {}).get("m.read", {}).get(scene.me.user_id)
    )
    assert seen["thread_id"] == root
    assert receipt_bodies(scene.proxy)[-1][1] == json.dumps({"thread_id": root}, separators=(",", ":")).encode()


async def test_main_timeline_receipt_carries_main(scene: Scene) -> None:
    event = scene.witness.send_text(scene.room_id, "main timeline")
    await scene.client.send_receipt(scene.room_id, "m.read", event, "main")
    seen = await wait_until(
        lambda: scene.witness.room_receipts(scene.room_id).get(event, {}).get("m.read", {}).get(scene.me.user_id)
    )
    assert seen["thread_id"] == "main"


async def test_unthreaded_receipt_has_no_thread_and_body_is_exactly_empty(scene: Scene) -> None:
    event = scene.witness.send_text(scene.room_id, "hello")
    await scene.client.send_receipt(scene.room_id, "m.read", event, None)

    seen = await wait_until(
        lambda: scene.witness.room_receipts(scene.room_id).get(event, {}).get("m.read", {}).get(scene.me.user_id)
    )
    assert "thread_id" not in seen
    path, body = receipt_bodies(scene.proxy)[-1]
    assert body == b"{}"
    # aiohttp (yarl) sends "!" and "$" unescaped: both are legal in a path segment.
    assert urllib.parse.unquote(path) == f"{CLIENT_V3}/rooms/{scene.room_id}/receipt/m.read/{event}"


async def test_private_receipt_reaches_only_my_own_sync(scene: Scene) -> None:
    event = scene.witness.send_text(scene.room_id, "private read")
    await scene.client.send_receipt(scene.room_id, "m.read.private", event, "main")

    async def my_private_receipt() -> dict[str, Any] | None:
        raw = await scene.client.sync_raw(None, 0, None)
        room = json.loads(raw)["rooms"]["join"].get(scene.room_id, {})
        for ephemeral in room.get("ephemeral", {}).get("events", []):
            if ephemeral["type"] == "m.receipt":
                found = ephemeral["content"].get(event, {}).get("m.read.private", {}).get(scene.me.user_id)
                if found:
                    return found
        return None

    deadline = time.monotonic() + 10
    while (mine := await my_private_receipt()) is None:
        assert time.monotonic() < deadline, "my own sync never showed the private receipt"
        await asyncio.sleep(0.1)
    assert mine["thread_id"] == "main"
    # The server has it (my sync shows it); the witness still sees nothing of it.
    witness_view = await asyncio.to_thread(scene.witness.room_receipts, scene.room_id)
    assert scene.me.user_id not in json.dumps(witness_view.get(event, {}))
    assert all(b"null" not in body for _path, body in receipt_bodies(scene.proxy))


async def test_event_not_in_the_thread_is_refused_with_invalid_param(scene: Scene) -> None:
    root = scene.witness.send_text(scene.room_id, "root")
    scene.witness.send_thread_reply(scene.room_id, root, "reply")
    unrelated = scene.witness.send_text(scene.room_id, "main timeline, not in the thread")
    with pytest.raises(RequestRefused) as caught:
        await scene.client.send_receipt(scene.room_id, "m.read", unrelated, root)
    assert caught.value.errcode == "M_INVALID_PARAM" and caught.value.status == 400
    assert not caught.value.is_retryable
    assert str(caught.value).startswith("M_INVALID_PARAM: ") and "\n" not in str(caught.value)


async def test_unknown_receipt_type_is_refused(scene: Scene) -> None:
    event = scene.witness.send_text(scene.room_id, "hello")
    with pytest.raises(RequestRefused) as caught:
        await scene.client.send_receipt(scene.room_id, "m.read.bogus", event, None)
    assert caught.value.status == 400


async def test_receipt_type_enum_and_awkward_ids_are_encoded(scene: Scene) -> None:
    from app.model.receipts import ReceiptType

    # Synapse answers 200 to a receipt for an event that does not exist (so the model
    # validates targets); here that lets the path encoding show on the wire.
    awkward = "$a/b?c#d%e+f"
    await scene.client.send_receipt(scene.room_id, ReceiptType.PUBLIC, awkward, None)
    path, body = receipt_bodies(scene.proxy)[-1]
    assert path.endswith("/receipt/m.read/$a%2Fb%3Fc%23d%25e%2Bf") and body == b"{}"


async def test_empty_thread_id_is_a_programming_error_not_a_request(scene: Scene) -> None:
    with pytest.raises(ValueError):
        await scene.client.send_receipt(scene.room_id, "m.read", "$e", "")
    assert receipt_bodies(scene.proxy) == []


# -- read markers ---------------------------------------------------------------


async def test_set_read_markers_moves_fully_read(scene: Scene) -> None:
    first = scene.witness.send_text(scene.room_id, "one")
    second = scene.witness.send_text(scene.room_id, "two")
    await scene.client.set_read_markers(scene.room_id, first)
    assert await wait_until(lambda: scene.me.fully_read(scene.room_id) == first)
    await scene.client.set_read_markers(scene.room_id, second, read=second)
    assert await wait_until(lambda: scene.me.fully_read(scene.room_id) == second)
    seen = await wait_until(
        lambda: scene.witness.room_receipts(scene.room_id).get(second, {}).get("m.read", {}).get(scene.me.user_id)
    )
    assert "thread_id" not in seen  # read markers send unthreaded receipts
    bodies = [json.loads(r.body) for r in scene.proxy.requests if r.path.endswith("/read_markers")]
    assert bodies == [{"m.fully_read": first}, {"m.fully_read": second, "m.read": second}]


async def test_read_markers_private_receipt_only(scene: Scene) -> None:
    event = scene.witness.send_text(scene.room_id, "one")
    await scene.client.set_read_markers(scene.room_id, None, read_private=event)
    body = [json.loads(r.body) for r in scene.proxy.requests if r.path.endswith("/read_markers")]
    assert body == [{"m.read.private": event}]
    assert scene.me.fully_read(scene.room_id) is None


# -- reads ------------------------------------------------------------------------


async def test_server_reads(scene: Scene, synapse) -> None:  # noqa: ANN001
    client = scene.client
    assert await client.supports_private_receipts()

    localpart = f"al{time.time_ns()}"
    alias_room = scene.witness.create_room("aliased", alias_localpart=localpart, preset="public_chat")
    alias = f"#{localpart}:{synapse.server_name}"
    assert await client.resolve_alias(alias) == alias_room
    with pytest.raises(RequestRefused) as caught:
        await client.resolve_alias(f"#missing-{time.time_ns()}:{synapse.server_name}")
    assert caught.value.errcode == "M_NOT_FOUND"

    root = scene.witness.send_text(scene.room_id, "root")
    replies = [scene.witness.send_thread_reply(scene.room_id, root, f"reply {n}") for n in range(3)]
    event = await client.room_event(scene.room_id, replies[0])
    assert event["content"]["m.relates_to"]["event_id"] == root

    roots, _next = await client.threads(scene.room_id)
    assert [r["event_id"] for r in roots] == [root]

    newest_first, token = await client.thread_events(scene.room_id, root, limit=2)
    assert [e["event_id"] for e in newest_first] == replies[:0:-1] and token
    rest, token = await client.thread_events(scene.room_id, root, from_token=token, limit=2)
    assert [e["event_id"] for e in rest] == replies[:1] and token is None
    oldest_first, _ = await client.thread_events(scene.room_id, root, direction="f")
    assert [e["event_id"] for e in oldest_first] == replies

    # A reaction to a reply belongs to the thread (3-hop rule) but is not an m.thread
    # relation: /relations/{root}/m.thread does not list it, even with recurse=true,
    # since Synapse applies the relation type at every level. Fetch it from the reply.
    reaction = scene.witness.react(scene.room_id, replies[1])
    listed, _ = await client.thread_events(scene.room_id, root)
    assert reaction not in [e["event_id"] for e in listed]


@pytest.mark.serial
async def test_filter_and_raw_sync(scene: Scene) -> None:
    event = scene.witness.send_text(scene.room_id, "hello")
    filter_id = await scene.client.upload_filter({"room": {"timeline": {"limit": 5, "unread_thread_notifications": True}}})
    raw = await scene.client.sync_raw(None, 0, filter_id)
    assert isinstance(raw, bytes)
    body = json.loads(raw)
    timeline = body["rooms"]["join"][scene.room_id]["timeline"]["events"]
    assert event in [e["event_id"] for e in timeline]
    # An incremental long-poll with nothing new returns after its timeout, not the request timeout.
    began = time.monotonic()
    again = json.loads(await scene.client.sync_raw(body["next_batch"], 300, filter_id))
    assert 0.25 < time.monotonic() - began < 5
    assert "next_batch" in again
    sync_paths = [r.path for r in scene.proxy.requests if r.path.startswith(f"{CLIENT_V3}/sync")]
    assert f"filter={filter_id}" in sync_paths[0] and "since=" in sync_paths[1] and "timeout=300" in sync_paths[1]


async def test_no_url_ever_carries_the_token(scene: Scene) -> None:
    """Every request this suite sends through the proxy: the token only in the header."""
    client = scene.client
    event = scene.witness.send_text(scene.room_id, "hello")
    await client.whoami()
    await client.send_receipt(scene.room_id, "m.read", event, None)
    await client.set_read_markers(scene.room_id, event)
    await client.sync_raw(None, 0, None)
    await client.threads(scene.room_id)
    await client.room_event(scene.room_id, event)
    token = client.session().access_token
    # A path built the way nio.Api builds them still goes out without the query token.
    await client._request("GET", f"{CLIENT_V3}/account/whoami?access_token={token}")
    assert len(scene.proxy.requests) >= 9  # versions, login and the seven above
    whoami = [r.path for r in scene.proxy.requests if r.path.startswith(f"{CLIENT_V3}/account/whoami")]
    assert whoami == [f"{CLIENT_V3}/account/whoami"] * 2  # the second one's query token stripped
    for request in scene.proxy.requests:
        assert token not in request.path and "access_token" not in request.path
        if request.path.startswith("/_matrix/client/versions") or request.path.endswith("/login"):
            continue
        assert request.headers["Authorization"] == f"Bearer {token}"


async def test_errors_never_leak_transport_exceptions(scripted) -> None:  # noqa: ANN001
    """A grab bag of broken answers: every one is a MatrixError."""
    answers = iter([
        (200, {"Content-Type": "application/json"}, b"not json"),
        (200, {"Content-Type": "application/json"}, b"[1, 2]"),
        (418, {}, b""),
        None,
    ])
    server = scripted(lambda request: next(answers))
    client = MatrixClient.from_session(_fake_session(server.url))
    async with client:
        for _ in range(4):
            with pytest.raises(MatrixError):
                await client.whoami()


# -- hostile answers: bounded errors, bounded memory ----------------------------------

VERSIONS_ANSWER: Answer = (200, {"Content-Type": "application/json"}, b'{"versions": ["v1.11"]}')
JSON = {"Content-Type": "application/json"}


def nested(depth: int) -> bytes:
    """A JSON object whose one value is ``depth`` arrays deep (``depth + 1`` levels)."""
    return b'{"user_id": ' + b"[" * depth + b"]" * depth + b"}"


HOSTILE_BODIES = {
    "nested-100000": (nested(100_000), "nested deeper than 512 levels"),
    # Deeper than the cap, yet shallow enough for Python's json to decode: the cap is
    # readmark's own, not wherever the interpreter's recursion limit happens to fall.
    "nested-512": (nested(512), "nested deeper than 512 levels"),
    "invalid-utf-8": (b'{"user_id": "@me:localhost\xff\xfe"}', "not UTF-8"),
}

# Every call that parses a JSON answer, on a logged-in client.
JSON_CALLS = {
    "versions": lambda client: client.versions(),
    "whoami": lambda client: client.whoami(),
    "directory": lambda client: client.resolve_alias("#ops:localhost"),
    "filter": lambda client: client.upload_filter({"room": {}}),
    "threads": lambda client: client.threads("!r:localhost"),
    "relations": lambda client: client.thread_events("!r:localhost", "$root"),
    "messages": lambda client: client.messages("!r:localhost", "t1"),
    "event": lambda client: client.room_event("!r:localhost", "$e"),
}


@pytest.mark.parametrize("body", HOSTILE_BODIES, ids=list(HOSTILE_BODIES))
@pytest.mark.parametrize("call", JSON_CALLS, ids=list(JSON_CALLS))
async def test_hostile_json_in_any_answer_is_a_retryable_one_line_server_error(scripted, call, body) -> None:  # noqa: ANN001
    payload, reason = HOSTILE_BODIES[body]
    server = scripted(lambda request: (200, JSON, payload))
    client = MatrixClient.from_session(_fake_session(server.url))
    async with client:
        with pytest.raises(ServerError) as caught:
            await JSON_CALLS[call](client)
    assert caught.value.is_retryable
    assert reason in str(caught.value) and "\n" not in str(caught.value), caught.value
    assert len(str(caught.value)) < 300


@pytest.mark.parametrize("body", HOSTILE_BODIES, ids=list(HOSTILE_BODIES))
async def test_hostile_json_in_a_login_is_one_line(scripted, body) -> None:  # noqa: ANN001
    payload, reason = HOSTILE_BODIES[body]
    server = scripted(lambda request: VERSIONS_ANSWER if request.path.endswith("/versions") else (200, JSON, payload))
    with pytest.raises(ServerError) as caught:
        await MatrixClient.login(server.url, "@me:localhost", "secret password")
    assert reason in str(caught.value) and caught.value.is_retryable
    # /versions too, before any password is sent.
    server = scripted(lambda request: (200, JSON, payload))
    with pytest.raises(ServerError) as caught:
        await MatrixClient.login(server.url, "@me:localhost", "secret password")
    assert reason in str(caught.value)
    assert [r.path for r in server.requests] == ["/_matrix/client/versions"]


async def test_a_web_page_at_versions_is_no_homeserver_before_a_login_and_a_glitch_after(scripted) -> None:  # noqa: ANN001
    page: Answer = (200, {"Content-Type": "text/html"}, b"<html>down for maintenance</html>")
    server = scripted(lambda request: page)
    with pytest.raises(NotAMatrixServer):
        await MatrixClient.login(server.url, "@me:localhost", "secret password")
    # Logged in, the sync loop retries it instead of stopping for good.
    client = MatrixClient.from_session(_fake_session(server.url))
    async with client:
        with pytest.raises(ServerError) as caught:
            await client.versions()
    assert caught.value.is_retryable and not isinstance(caught.value, NotAMatrixServer)
    assert "gave an unusable answer" in str(caught.value)


@pytest.mark.parametrize("status", [429, 500, 403])
async def test_a_hostile_error_body_still_gives_the_status_error(scripted, status) -> None:  # noqa: ANN001
    server = scripted(lambda request: (status, {**JSON, "Retry-After": "2"}, nested(100_000)))
    client = MatrixClient.from_session(_fake_session(server.url))
    async with client:
        with pytest.raises(MatrixError) as caught:
            await client.whoami()
    expected = {429: RateLimited, 500: ServerError, 403: RequestRefused}[status]
    assert type(caught.value) is expected and f"HTTP {status}" in str(caught.value)


def pieces(total: int, piece: bytes = b"[" + b" " * 65_534 + b"]") -> Iterator[bytes]:
    """``total`` bytes in 64 KiB pieces, made as they are sent."""
    sent = 0
    while sent < total:
        yield piece
        sent += len(piece)


async def test_an_answer_past_its_cap_is_not_read_further(scripted) -> None:  # noqa: ANN001
    from app.matrix.answers import MAX_ANSWER_BYTES, MAX_SYNC_BYTES

    big = MAX_SYNC_BYTES + 64 * 1024 * 1024
    server = scripted(lambda request: (200, JSON, pieces(big)))
    client = MatrixClient.from_session(_fake_session(server.url))
    async with client:
        with pytest.raises(ServerError) as caught:
            await client.sync_raw(None, 0, None)
        assert "more than 256 MiB" in str(caught.value) and caught.value.is_retryable
        # The client hung up soon after the cap (what the socket buffers held aside).
        assert server.streamed < MAX_SYNC_BYTES + 16 * 1024 * 1024, server.streamed
        with pytest.raises(ServerError) as caught:
            await client.whoami()
        assert "more than 16 MiB" in str(caught.value)
        # Just under the cap is read whole.
        under = b'{"user_id": "@me:localhost", "pad": "' + b"x" * (MAX_ANSWER_BYTES - 100) + b'"}'
        server.handler = lambda request: (200, JSON, under)
        assert await client.whoami() == "@me:localhost"


@pytest.mark.serial
async def test_a_content_length_past_the_cap_is_refused_before_reading(scripted) -> None:  # noqa: ANN001
    # The server announces 1 GiB and sends 10 bytes: nothing is waited for.
    server = scripted(lambda request: (200, {**JSON, "Content-Length": str(1 << 30)}, b'{"a": 1}  '))
    client = MatrixClient.from_session(_fake_session(server.url), request_timeout=5)
    began = time.monotonic()
    async with client:
        with pytest.raises(ServerError) as caught:
            await client.sync_raw(None, 0, None)
    assert "more than 256 MiB" in str(caught.value)
    assert time.monotonic() - began < 2


async def test_a_compressed_answer_is_capped_as_it_inflates(scripted) -> None:  # noqa: ANN001
    import gzip

    bomb = gzip.compress(b'{"user_id": "' + b"x" * (40 * 1024 * 1024) + b'"}', compresslevel=9)
    assert len(bomb) < 100 * 1024  # a small body on the wire
    server = scripted(lambda request: (200, {**JSON, "Content-Encoding": "gzip"}, bomb))
    client = MatrixClient.from_session(_fake_session(server.url))
    async with client:
        with pytest.raises(ServerError) as caught:
            await client.whoami()
    assert "more than 16 MiB" in str(caught.value)
