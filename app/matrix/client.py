"""``MatrixClient``: the one facade over ``nio.AsyncClient``; nothing else imports nio.

nio is imported on the first request, not with this module: a start from the local
cache paints before any request, and importing nio with aiohttp is a large part of
a start.

nio is the transport here (its aiohttp session, TLS and proxy settings); requests are
built and answers read by this module, because nio gets several of them wrong for a
read-state client (see /work/shared/MATRIX_NOTES.md): ``update_receipt_marker`` cannot
send an unthreaded receipt, ``room_read_markers`` insists on ``m.fully_read``, nio's
public ``send()`` leaves ``?access_token=`` in every ``nio.Api`` path, and parsing a sync
with ``SyncResponse`` costs about 17x ``json.loads``.

What this module guarantees:

- The access token travels only in the ``Authorization`` header, never in a URL.
- nio never retries on its own (``max_limit_exceeded=0``, ``max_timeouts=0``); and since
  every request goes through ``AsyncClient.send()`` rather than nio's ``_send`` loop,
  each call here is exactly one HTTP request. Retry policy belongs to the callers (the
  receipt queue, the sync loop), guided by ``MatrixError.is_retryable``.
- Every non-2xx answer and every transport failure is raised as a ``MatrixError``
  subclass from ``app.matrix.errors``; no aiohttp or nio exception escapes.
- No answer is read past its cap (``app.matrix.answers``: ``MAX_SYNC_BYTES`` for ``/sync``,
  ``MAX_ANSWER_BYTES`` for the rest), and every JSON body is decoded by
  ``answers.decode_json``: whatever a server sends (huge, nested deeper than any Matrix
  document, not UTF-8) is a one-line, retryable ``ServerError``, never a
  ``RecursionError`` or ``MemoryError``.
"""

from __future__ import annotations

import asyncio
import importlib
import ipaddress
import json
import logging
import os
import sys
import time
import urllib.parse
from collections.abc import Mapping
from types import ModuleType, TracebackType
from typing import TYPE_CHECKING, Any

from app import __version__
from app.logs import register_secret
from app.matrix.errors import (
    LoginFailed,
    MatrixError,
    NetworkError,
    NotAMatrixServer,
    RateLimited,
    RequestRefused,
    ServerError,
    TlsError,
    TokenInvalid,
)
from app.matrix.session import Session
from app.matrix.answers import MAX_ANSWER_BYTES, MAX_SYNC_BYTES, NotJson, decode_json, too_large
from app.model.plan import FullyReadRequest, Request
from app.model.receipts import ReceiptType
from app.model.room import RECEIPT_POLICY_TYPE
from app.model.sending import needs_private_receipts, refuse_request

if TYPE_CHECKING:
    import nio

log = logging.getLogger(__name__)

CLIENT_V3 = "/_matrix/client/v3"
CLIENT_V1 = "/_matrix/client/v1"
VERSIONS_PATH = "/_matrix/client/versions"

# Seconds one request may take, connection included. A sync adds its long-poll timeout.
DEFAULT_REQUEST_TIMEOUT = 20.0
# How long the first request lets the event loop run before importing nio (see
# _import_transport): long enough for the first frame to go out.
TRANSPORT_IMPORT_DELAY_S = 0.1
# An answer is read in pieces of this size, so that reading stops at its cap.
READ_CHUNK_BYTES = 256 * 1024

PRIVATE_RECEIPTS_FEATURE = "org.matrix.msc2285.stable"

# Login answers that mean "these credentials will not do" rather than "bad request".
_LOGIN_FAILURE_CODES = frozenset(
    {"M_FORBIDDEN", "M_USER_DEACTIVATED", "M_USER_LOCKED", "M_INVALID_USERNAME", "M_NOT_FOUND"}
)
_TOKEN_CODES = frozenset({"M_UNKNOWN_TOKEN", "M_MISSING_TOKEN", "M_USER_LOCKED"})


def _quote(part: str) -> str:
    """A path segment: everything reserved is escaped, ``/`` included (event IDs may hold it)."""
    return urllib.parse.quote(part, safe="")


def normalize_homeserver(url: str) -> str:
    """``matrix.example.org`` -> ``https://matrix.example.org``; no trailing slash.

    Raises ``NotAMatrixServer`` for something that cannot be a homeserver URL.
    """
    text = url.strip()
    if "://" not in text:
        text = "https://" + text
    parsed = urllib.parse.urlsplit(text)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise NotAMatrixServer(f"{url!r} is not a homeserver URL (expected https://host[:port])")
    if parsed.query or parsed.fragment or parsed.username or parsed.password:
        raise NotAMatrixServer(f"{url!r} is not a homeserver URL (no query, fragment or credentials)")
    try:
        parsed.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise NotAMatrixServer(f"{url!r} has an invalid port") from None
    return urllib.parse.urlunsplit((parsed.scheme, parsed.netloc, parsed.path.rstrip("/"), "", ""))


def is_loopback_host(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.") or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def insecure_transport_warning(homeserver: str) -> str | None:
    """A one-line warning when the token would travel unencrypted, else None."""
    parsed = urllib.parse.urlsplit(homeserver)
    if parsed.scheme == "http" and not is_loopback_host(parsed.hostname or ""):
        return (
            f"{homeserver} uses plain http: the password and access token travel unencrypted; "
            "use https unless this network is trusted"
        )
    return None


def supports_private_receipts(versions: Mapping[str, Any]) -> bool:
    """``/versions`` lists v1.4 or later, or the stable MSC2285 flag is set."""
    features = versions.get("unstable_features")
    if isinstance(features, Mapping) and features.get(PRIVATE_RECEIPTS_FEATURE) is True:
        return True
    for version in versions.get("versions") or ():
        if not isinstance(version, str) or not version.startswith("v"):
            continue
        try:
            major, minor = (int(part) for part in version[1:].split(".")[:2])
        except ValueError:
            continue
        if (major, minor) >= (1, 4):
            return True
    return False


def _retry_after_ms(body: Mapping[str, Any], headers: Mapping[str, str]) -> int | None:
    value = body.get("retry_after_ms")
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    header = headers.get("Retry-After")
    if not header:
        return None
    header = header.strip()
    if header.isdigit():
        return int(header) * 1000
    import email.utils  # only for a rate limit given as an HTTP date: kept off the start

    try:
        when = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    return max(0, int((when.timestamp() - time.time()) * 1000))


def _error_body(raw: bytes) -> dict[str, Any]:
    try:
        body = decode_json(raw, what="an error answer") if raw else {}
    except ServerError:
        return {}
    return body if isinstance(body, dict) else {}


def error_from_answer(
    status: int,
    raw: bytes,
    headers: Mapping[str, str],
    *,
    request: str,
    reason: str = "",
    login: bool = False,
) -> MatrixError:
    """The ``MatrixError`` for a non-2xx answer. ``request`` names it ("POST /login")."""
    body = _error_body(raw)
    errcode = body.get("errcode") if isinstance(body.get("errcode"), str) else None
    message = body.get("error") if isinstance(body.get("error"), str) else ""
    if not message:
        message = f"HTTP {status}{' ' + reason if reason else ''} from {request}"
    if status == 429 or errcode == "M_LIMIT_EXCEEDED":
        return RateLimited(message, errcode=errcode, status=status, retry_after_ms=_retry_after_ms(body, headers))
    if login and (status in (401, 403) or errcode in _LOGIN_FAILURE_CODES):
        return LoginFailed(message, errcode=errcode, status=status)
    if errcode in _TOKEN_CODES or (status == 401 and errcode != "M_FORBIDDEN"):
        return TokenInvalid(message, errcode=errcode, status=status, soft_logout=body.get("soft_logout") is True)
    if 400 <= status < 500:
        return RequestRefused(message, errcode=errcode, status=status)
    return ServerError(message, errcode=errcode, status=status)


async def _import_transport() -> ModuleType:
    """nio (and aiohttp under it), imported on the first request rather than at start.

    Importing them is a large part of a start, and a start from the cache paints
    without them (``tests/bench/coldstart.py`` measures it). The service makes its
    first request right after publishing the cached account, before the UI has drawn
    it; so the import first gives the event loop TRANSPORT_IMPORT_DELAY_S (the first
    frame of 1,000 rooms takes about that), then runs in a worker thread, leaving the
    loop free for keys, and the first paint does not wait for the import.
    """
    loaded = sys.modules.get("nio")
    if loaded is not None:
        return loaded
    await asyncio.sleep(TRANSPORT_IMPORT_DELAY_S)
    return await asyncio.to_thread(importlib.import_module, "nio")


def _transport_error(error: BaseException, homeserver: str, timeout: float) -> MatrixError:
    import aiohttp  # already imported by the request that failed

    host = urllib.parse.urlsplit(homeserver).netloc or homeserver
    if isinstance(error, (aiohttp.ClientConnectorCertificateError, aiohttp.ClientSSLError)):
        return TlsError(f"TLS verification failed for {host}: {_tls_detail(error)}")
    if isinstance(error, (asyncio.TimeoutError, TimeoutError)):
        return NetworkError(f"{host} did not answer within {timeout:g} s")
    if isinstance(error, aiohttp.TooManyRedirects):
        return ServerError(f"{host} redirected too many times")
    if isinstance(error, aiohttp.InvalidURL):
        return NotAMatrixServer(f"{homeserver} is not a usable homeserver URL")
    if isinstance(error, aiohttp.ClientConnectorError):
        return NetworkError(f"cannot reach {host}: {_describe(error.os_error)}")
    if isinstance(error, aiohttp.ServerDisconnectedError):
        return NetworkError(f"{host} closed the connection")
    return NetworkError(f"connection to {host} failed: {_describe(error)}")


def _tls_detail(error: BaseException) -> str:
    """What the TLS layer said ("self-signed certificate"); these errors are OSErrors
    whose errno would read "Operation not permitted"."""
    cause = getattr(error, "certificate_error", None) or getattr(error, "os_error", None) or error
    detail = getattr(cause, "verify_message", None) or getattr(cause, "reason", None) or str(cause)
    return str(detail) or type(cause).__name__


def _describe(error: BaseException) -> str:
    if isinstance(error, OSError) and error.errno and error.errno > 0:
        return os.strerror(error.errno)  # "Connection refused", not "Connect call failed (...)"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__


class MatrixClient:
    """One account on one homeserver. Build it with ``login`` or ``from_session``.

    Every coroutine sends exactly one request (``login`` sends two: ``/versions``, then
    ``/login``) and either returns the answer or raises a ``MatrixError``.
    """

    def __init__(
        self,
        homeserver: str,
        *,
        user_id: str = "",
        device_id: str | None = None,
        access_token: str | None = None,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
    ) -> None:
        self.homeserver = normalize_homeserver(homeserver)
        self.request_timeout = request_timeout
        self._versions: dict[str, Any] | None = None
        # The identity lives here; nio's client is built on the first request.
        self._user_id = ""
        self._device_id = device_id
        self._access_token = ""
        self._nio: nio.AsyncClient | None = None
        if access_token:
            self._set_login(user_id, device_id or "", access_token)

    def __repr__(self) -> str:
        return f"MatrixClient({self.homeserver!r}, user_id={self.user_id!r}, device_id={self.device_id!r})"

    def _set_login(self, user_id: str, device_id: str, access_token: str) -> None:
        register_secret(access_token)
        self._user_id, self._device_id, self._access_token = user_id, device_id, access_token
        if self._nio is not None:
            self._login_nio(self._nio)

    def _login_nio(self, client: nio.AsyncClient) -> None:
        # Set directly rather than with restore_login(), which would load a crypto store.
        client.user_id = self._user_id
        client.device_id = self._device_id
        client.access_token = self._access_token

    async def _transport(self) -> nio.AsyncClient:
        """nio's client, built (and nio imported) on first use."""
        if self._nio is None:
            nio = await _import_transport()
            if self._nio is None:
                config = nio.AsyncClientConfig(
                    # nio's _send would otherwise retry 429s and connection errors forever.
                    max_limit_exceeded=0,
                    max_timeouts=0,
                    request_timeout=self.request_timeout,
                    encryption_enabled=False,
                    store_sync_tokens=False,
                )
                # ssl=True: aiohttp's default context, certificates verified.
                client = nio.AsyncClient(
                    self.homeserver, user=self._user_id, device_id=self._device_id, config=config, ssl=True
                )
                self._login_nio(client)
                self._nio = client
        return self._nio

    # -- identity ---------------------------------------------------------------

    @property
    def user_id(self) -> str:
        return self._user_id

    @property
    def device_id(self) -> str | None:
        return self._device_id

    @property
    def logged_in(self) -> bool:
        return bool(self._access_token)

    @property
    def insecure_transport(self) -> bool:
        """True when the homeserver is plain http on a non-loopback host."""
        return insecure_transport_warning(self.homeserver) is not None

    def session(self) -> Session:
        if not self.logged_in:
            raise TokenInvalid("not logged in")
        return Session(self.homeserver, self.user_id, self.device_id or "", self._access_token)

    # -- construction -----------------------------------------------------------

    @classmethod
    async def login(
        cls,
        homeserver: str,
        user: str,
        password: str,
        device_name: str = "readmark",
        *,
        device_id: str | None = None,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
    ) -> tuple[MatrixClient, Session]:
        """Password login. ``user`` is ``@me:server`` or a localpart. ``device_id``
        logs in as that device again (the spec's way back after the server ended a
        session, soft logout included): no new device in the account's list.

        Asks ``/versions`` first, so a URL that is not a homeserver fails with
        ``NotAMatrixServer`` before any password is sent. Plain http to a non-loopback
        host is allowed but logged as a warning; ``client.insecure_transport`` says so.
        """
        client = cls(homeserver, request_timeout=request_timeout)
        try:
            warning = insecure_transport_warning(client.homeserver)
            if warning:
                log.warning("%s", warning)
            await client.versions()
            body = {
                "type": "m.login.password",
                "identifier": {"type": "m.id.user", "user": user},
                "password": password,
                "initial_device_display_name": device_name,
            }
            if device_id:
                body["device_id"] = device_id
            answer = await client._json("POST", f"{CLIENT_V3}/login", body=body, authenticated=False, login=True)
            user_id, access_token, device_id = (answer.get(key) for key in ("user_id", "access_token", "device_id"))
            if not all(isinstance(value, str) and value for value in (user_id, access_token, device_id)):
                raise ServerError(f"{client.homeserver} answered the login without a user ID, token or device ID")
            client._set_login(user_id, device_id, access_token)
            log.info("logged in as %s (device %s) on %s", user_id, device_id, client.homeserver)
            return client, client.session()
        except BaseException:
            await client.close()
            raise

    @classmethod
    def from_session(cls, session: Session, *, request_timeout: float = DEFAULT_REQUEST_TIMEOUT) -> MatrixClient:
        """A client for a stored session. No I/O: call ``whoami()`` to check the token."""
        return cls(
            session.homeserver,
            user_id=session.user_id,
            device_id=session.device_id,
            access_token=session.access_token,
            request_timeout=request_timeout,
        )

    async def close(self) -> None:
        if self._nio is not None:
            await self._nio.close()

    async def __aenter__(self) -> MatrixClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    # -- the one way out --------------------------------------------------------

    async def _request(
        self,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        query: Mapping[str, Any] | None = None,
        authenticated: bool = True,
        timeout: float | None = None,
        login: bool = False,
        max_bytes: int | None = None,
    ) -> bytes:
        """Send one request; return the body of a 2xx answer, raise ``MatrixError`` otherwise.
        An answer longer than ``max_bytes`` (``MAX_ANSWER_BYTES`` unless given) is not read
        further: ``ServerError``."""
        if query:
            pairs = [(key, value) for key, value in query.items() if value is not None]
            if pairs:
                path = f"{path}?{urllib.parse.urlencode(pairs)}"
        path = _without_query_token(path)
        headers = {"User-Agent": f"readmark/{__version__}", "Accept": "application/json"}
        data: str | None = None
        if body is not None:
            data = json.dumps(body, separators=(",", ":"))
            headers["Content-Type"] = "application/json"
        if authenticated:
            if not self._access_token:
                raise TokenInvalid("not logged in", errcode="M_MISSING_TOKEN")
            headers["Authorization"] = f"Bearer {self._access_token}"
        request_timeout = self.request_timeout if timeout is None else timeout
        request_name = f"{method} {path.split('?', 1)[0]}"
        transport = await self._transport()
        import aiohttp  # imported with nio by _transport

        began = time.monotonic()
        try:
            response = await transport.send(method, path, data, headers, timeout=request_timeout)
            try:
                raw = await _read_capped(response, MAX_ANSWER_BYTES if max_bytes is None else max_bytes, request_name)
                status, reason, answer_headers = response.status, response.reason or "", response.headers
            finally:
                response.release()
        except asyncio.CancelledError:
            raise
        except (aiohttp.ClientError, asyncio.TimeoutError, TimeoutError, OSError) as error:
            log.debug("%s failed after %.3f s: %r", request_name, time.monotonic() - began, error)
            raise _transport_error(error, self.homeserver, request_timeout) from None
        log.debug("%s -> %s in %.3f s", request_name, status, time.monotonic() - began)
        if 200 <= status < 300:
            return raw
        error = error_from_answer(status, raw, answer_headers, request=request_name, reason=reason, login=login)
        log.info("%s refused: %s (HTTP %s)", request_name, error, status)
        raise error

    async def _json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        raw = await self._request(method, path, **kwargs)
        what = f"{method} {path.split('?', 1)[0]}"
        answer = decode_json(raw, what=what) if raw else {}
        if not isinstance(answer, dict):
            raise ServerError(f"{what} answered with something that is not a JSON object")
        return answer

    # -- server -----------------------------------------------------------------

    async def versions(self) -> dict[str, Any]:
        """``GET /_matrix/client/versions`` (cached for the client's life).

        Before a login an answer that is no Matrix answer (a web page, a 404, JSON
        without versions) means this is no homeserver: ``NotAMatrixServer``, and no
        password is sent. Once logged in, the server has shown it is one, so such an
        answer (a proxy's page during maintenance) is a glitch: ``ServerError``, which
        the sync loop retries. A body too large, too deep or not UTF-8 is a
        ``ServerError`` either way (``answers.decode_json``).
        """
        if self._versions is not None:
            return self._versions
        if self.logged_in:
            odd: type[MatrixError] = ServerError
            what = f"{self.homeserver} gave an unusable answer"
        else:
            odd, what = NotAMatrixServer, f"{self.homeserver} does not look like a Matrix homeserver"
        try:
            raw = await self._request("GET", VERSIONS_PATH, authenticated=False)
        except (RequestRefused, TokenInvalid) as error:
            raise odd(f"{what}: {VERSIONS_PATH} answered HTTP {error.status}", status=error.status) from None
        try:
            answer = decode_json(raw, what=f"GET {VERSIONS_PATH}")
        except NotJson as error:
            raise odd(f"{what}: {error}") from None
        if not isinstance(answer, dict) or not isinstance(answer.get("versions"), list):
            raise odd(f"{what}: {VERSIONS_PATH} did not list any Matrix versions")
        self._versions = answer
        return answer

    async def supports_private_receipts(self) -> bool:
        return supports_private_receipts(await self.versions())

    # -- account ----------------------------------------------------------------

    async def whoami(self) -> str:
        """The user the token belongs to; ``TokenInvalid`` when it was revoked."""
        answer = await self._json("GET", f"{CLIENT_V3}/account/whoami")
        user_id = answer.get("user_id")
        if not isinstance(user_id, str):
            raise ServerError("whoami answered without a user_id")
        return user_id

    async def logout(self) -> None:
        """Invalidate the token on the server. Afterwards this client is logged out."""
        await self._request("POST", f"{CLIENT_V3}/logout", body={})
        self._access_token = ""
        if self._nio is not None:
            self._nio.access_token = ""

    async def resolve_alias(self, alias: str) -> str:
        """``#alias:server`` -> room ID. An unknown alias is ``RequestRefused`` (M_NOT_FOUND)."""
        answer = await self._json("GET", f"{CLIENT_V3}/directory/room/{_quote(alias)}")
        room_id = answer.get("room_id")
        if not isinstance(room_id, str):
            raise ServerError(f"resolving {alias} answered without a room_id")
        return room_id

    # -- read state -------------------------------------------------------------

    async def send_receipt(self, room_id: str, receipt_type: str, event_id: str, thread_id: str | None) -> None:
        """``POST /rooms/{room_id}/receipt/{receipt_type}/{event_id}``.

        ``thread_id`` None sends an unthreaded receipt (body exactly ``{}``); ``"main"`` or
        a thread root's event ID sends ``{"thread_id": ...}``. Never ``null``.
        """
        receipt_type = getattr(receipt_type, "value", receipt_type)  # a str Enum is welcome
        if thread_id is not None and (not isinstance(thread_id, str) or not thread_id):
            raise ValueError("thread_id must be None (unthreaded), 'main' or a thread root's event ID")
        body = {} if thread_id is None else {"thread_id": thread_id}
        path = f"{CLIENT_V3}/rooms/{_quote(room_id)}/receipt/{_quote(receipt_type)}/{_quote(event_id)}"
        await self._request("POST", path, body=body)

    async def set_room_account_data(self, room_id: str, event_type: str, content: Mapping[str, Any]) -> None:
        """``PUT /user/{me}/rooms/{room}/account_data/{type}``."""
        path = f"{CLIENT_V3}/user/{_quote(self.user_id)}/rooms/{_quote(room_id)}/account_data/{_quote(event_type)}"
        await self._request("PUT", path, body=content)

    async def set_receipt_policy(self, room_id: str, mode: str | None) -> None:
        """The receipt mode chosen for a room from readmark, in its account data
        (``RECEIPT_POLICY_TYPE``): ``{"mode": mode}``, or ``{}`` for None (no override)."""
        await self.set_room_account_data(room_id, RECEIPT_POLICY_TYPE, {} if mode is None else {"mode": mode})

    async def set_read_markers(
        self,
        room_id: str,
        fully_read: str | None,
        read: str | None = None,
        read_private: str | None = None,
    ) -> None:
        """``POST /rooms/{room_id}/read_markers`` with only the markers given (receipts unthreaded)."""
        body = {
            key: value
            for key, value in (("m.fully_read", fully_read), ("m.read", read), ("m.read.private", read_private))
            if value is not None
        }
        if not body:
            raise ValueError("set_read_markers needs at least one marker")
        await self._request("POST", f"{CLIENT_V3}/rooms/{_quote(room_id)}/read_markers", body=body)

    async def send_request(self, request: Request) -> None:
        """One planned request on the wire: a receipt, or the read markers. A private
        receipt is checked against what the server supports first (it may have been
        queued before the server said) and refused rather than ever sent public."""
        if needs_private_receipts(request):
            refusal = refuse_request(request, private_supported=await self.supports_private_receipts())
            if refusal is not None:
                raise RequestRefused(refusal.reason, errcode="M_UNRECOGNIZED")
        if isinstance(request, FullyReadRequest):
            receipt_type, receipt_event = request.receipt_type, request.receipt_event_id
            await self.set_read_markers(
                request.room_id,
                fully_read=request.event_id,
                read=receipt_event if receipt_type is ReceiptType.PUBLIC else None,
                read_private=receipt_event if receipt_type is ReceiptType.PRIVATE else None,
            )
            return
        await self.send_receipt(request.room_id, request.receipt_type.value, request.event_id, request.thread_id)

    # -- end-to-end encryption -------------------------------------------------

    async def keys_upload(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /keys/upload``: this device's keys (``app.matrix.crypto`` builds them)."""
        return await self._json("POST", f"{CLIENT_V3}/keys/upload", body=body)

    async def keys_query(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /keys/query``: the devices of the users in ``body``."""
        return await self._json("POST", f"{CLIENT_V3}/keys/query", body=body)

    async def signatures_upload(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /keys/signatures/upload``: signatures of keys (this device's, by its
        owner's self-signing key)."""
        return await self._json("POST", f"{CLIENT_V3}/keys/signatures/upload", body=body)

    async def account_data(self, event_type: str) -> dict[str, Any] | None:
        """``GET /user/{me}/account_data/{type}``: its content, None when it is not set."""
        path = f"{CLIENT_V3}/user/{_quote(self.user_id)}/account_data/{_quote(event_type)}"
        try:
            return await self._json("GET", path)
        except RequestRefused as error:
            if error.status == 404:
                return None
            raise

    async def backup_version(self) -> dict[str, Any] | None:
        """``GET /room_keys/version``: the current key backup's version, None when there is none."""
        try:
            return await self._json("GET", f"{CLIENT_V3}/room_keys/version")
        except RequestRefused as error:
            if error.status == 404:
                return None
            raise

    async def backup_keys(self, version: str, room_id: str | None = None, session_id: str | None = None) -> dict[str, Any]:
        """``GET /room_keys/keys[/{room}[/{session}]]?version=``: backed-up sessions."""
        path = f"{CLIENT_V3}/room_keys/keys"
        if room_id is not None:
            path += f"/{_quote(room_id)}"
            if session_id is not None:
                path += f"/{_quote(session_id)}"
        return await self._json("GET", path, query={"version": version}, max_bytes=MAX_SYNC_BYTES)

    async def backup_put(self, version: str, rooms: Mapping[str, Any]) -> dict[str, Any]:
        """``PUT /room_keys/keys?version=``: sessions into the backup."""
        return await self._json("PUT", f"{CLIENT_V3}/room_keys/keys", query={"version": version}, body={"rooms": rooms})

    # -- sync -------------------------------------------------------------------

    async def upload_filter(self, filter: Mapping[str, Any]) -> str:  # noqa: A002 - the API's word
        answer = await self._json("POST", f"{CLIENT_V3}/user/{_quote(self.user_id)}/filter", body=filter)
        filter_id = answer.get("filter_id")
        if not isinstance(filter_id, str):
            raise ServerError("the filter upload answered without a filter_id")
        return filter_id

    async def sync_raw(self, since: str | None, timeout_ms: int, filter_id: str | None) -> bytes:
        """``GET /sync``; the raw body, for a fast decoder (nio's ``SyncResponse`` is ~17x slower)."""
        query = {"since": since, "timeout": int(timeout_ms), "filter": filter_id}
        return await self._request(
            "GET",
            f"{CLIENT_V3}/sync",
            query=query,
            timeout=max(0, timeout_ms) / 1000 + self.request_timeout,
            max_bytes=MAX_SYNC_BYTES,
        )

    # -- events and threads -----------------------------------------------------

    async def messages(
        self, room_id: str, from_token: str, *, direction: str = "b", limit: int = 100
    ) -> tuple[list[dict[str, Any]], str | None]:
        """``GET /rooms/{room_id}/messages``: (events in the order given, newest first for
        "b"; the token of the next page, None at the end of the history)."""
        if direction not in ("b", "f"):
            raise ValueError("direction is 'b' or 'f'")
        query = {
            "from": from_token,
            "dir": direction,
            "limit": limit,
            "filter": json.dumps({"lazy_load_members": True}, separators=(",", ":")),
        }
        answer = await self._json("GET", f"{CLIENT_V3}/rooms/{_quote(room_id)}/messages", query=query)
        end = answer.get("end")
        return _chunk(answer), end if isinstance(end, str) and end else None

    async def room_event(self, room_id: str, event_id: str) -> dict[str, Any]:
        return await self._json("GET", f"{CLIENT_V3}/rooms/{_quote(room_id)}/event/{_quote(event_id)}")

    async def threads(
        self, room_id: str, from_token: str | None = None, limit: int = 50, *, include: str = "all"
    ) -> tuple[list[dict[str, Any]], str | None]:
        """``GET /rooms/{room_id}/threads``: thread roots, latest activity first; (roots, next token)."""
        answer = await self._json(
            "GET",
            f"{CLIENT_V1}/rooms/{_quote(room_id)}/threads",
            query={"from": from_token, "limit": limit, "include": include},
        )
        return _chunk(answer), _next(answer)

    async def thread_events(
        self,
        room_id: str,
        root_id: str,
        from_token: str | None = None,
        limit: int = 100,
        *,
        direction: str = "b",
    ) -> tuple[list[dict[str, Any]], str | None]:
        """``GET /rooms/{room_id}/relations/{root_id}/m.thread``; (events, next token).

        ``direction`` "b" (the spec's default) gives the newest first and pages back in
        time; "f" gives oldest first. The root itself is never in the chunk, and neither
        are reactions to or edits of replies: they relate to a reply, not to the root by
        ``m.thread``, and Synapse 1.163 applies the relation type at every level even with
        ``recurse=true``, so asking for recursion here would gain nothing.
        """
        if direction not in ("b", "f"):
            raise ValueError("direction is 'b' or 'f'")
        query: dict[str, Any] = {"from": from_token, "limit": limit, "dir": direction}
        answer = await self._json(
            "GET",
            f"{CLIENT_V1}/rooms/{_quote(room_id)}/relations/{_quote(root_id)}/m.thread",
            query=query,
        )
        return _chunk(answer), _next(answer)


async def _read_capped(response: Any, limit: int, request_name: str) -> bytes:
    """An aiohttp response's body, read in pieces and given up on past ``limit`` bytes
    (decompressed: the cap holds for a small compressed body that inflates too). The
    Content-Length, when the server gives one, is checked before anything is read."""
    length = response.content_length
    if length is not None and length > limit:
        response.close()  # not released for reuse: the rest of the body is still coming
        raise too_large(request_name, limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(READ_CHUNK_BYTES):
        size += len(chunk)
        if size > limit:
            chunks.clear()
            response.close()
            raise too_large(request_name, limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _chunk(answer: Mapping[str, Any]) -> list[dict[str, Any]]:
    chunk = answer.get("chunk")
    if not isinstance(chunk, list):
        raise ServerError("a paginated answer came without a chunk")
    return [event for event in chunk if isinstance(event, dict)]


def _next(answer: Mapping[str, Any]) -> str | None:
    token = answer.get("next_batch")
    return token if isinstance(token, str) and token else None


def _without_query_token(path: str) -> str:
    """Drop any ``access_token`` query parameter (every ``nio.Api`` path carries one)."""
    if "access_token" not in path or "?" not in path:
        return path
    base, _, query = path.partition("?")
    pairs = [(key, value) for key, value in urllib.parse.parse_qsl(query, keep_blank_values=True) if key != "access_token"]
    return f"{base}?{urllib.parse.urlencode(pairs)}" if pairs else base
