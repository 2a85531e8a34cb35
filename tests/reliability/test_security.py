"""The access token lives only in the 0600 session file: after a full session (login,
the TUI with receipts, status, mark, logout) it is in no other file under the XDG dirs,
not in any output, not in the log (written at DEBUG), not in a running ``readmark``'s
command line or environment, and not in any URL the server saw. TLS is verified: a
self-signed HTTPS homeserver makes login and status fail with one line."""

from __future__ import annotations

import asyncio
import datetime
import http.server
import io
import ipaddress
import logging
import os
import ssl
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from app import cli, paths
from app.config import Settings
from app.logs import log_file, setup_logging, teardown_logging
from app.matrix.client import MatrixClient
from app.matrix.service import MatrixService
from app.matrix.session import Session, load_session, save_session
from app.model.receipts import ReceiptType
from app.ui.screens.main import MainScreen
from tests.matrix.helpers import in_thread
from tests.reliability.helpers import RecordingProxy, Rule, make_scene, path_contains, screen_text, until
from tests.ui.helpers import RecordingApp

pytestmark = pytest.mark.faults
REPO = Path(__file__).resolve().parents[2]


def password_of(actor) -> str:  # noqa: ANN001
    return f"pw-{actor.user_id[1:].split(':', 1)[0]}"


async def run_cli(capsys, monkeypatch, argv: list[str], stdin: str = "") -> tuple[int, str, str]:  # noqa: ANN001
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = await asyncio.to_thread(cli.main, argv)
    out, err = capsys.readouterr()
    return code, out, err


def files_holding(xdg_dirs, secret: bytes) -> list[Path]:  # noqa: ANN001
    roots = [xdg_dirs.home, xdg_dirs.config, xdg_dirs.data, xdg_dirs.state, xdg_dirs.cache]
    return sorted(p for root in roots for p in root.rglob("*") if p.is_file() and secret in p.read_bytes())


@pytest.mark.synapse
async def test_the_token_is_only_in_the_session_file_after_a_full_session(
    make_actor, synapse, xdg_dirs, capsys, monkeypatch  # noqa: ANN001
) -> None:
    monkeypatch.setenv("READMARK_LOG_LEVEL", "DEBUG")
    scene = make_scene(make_actor, replies=1, main=2)
    outputs: list[str] = []
    async with RecordingProxy(synapse.base_url) as proxy:
        # Login.
        code, out, err = await run_cli(capsys, monkeypatch, ["login", "--homeserver", proxy.base_url, "--user",
                                                             scene.me.user_id, "--password-stdin"], password_of(scene.me))
        assert code == 0, err
        outputs += [out, err]
        session = load_session()
        token = session.access_token

        # The TUI with receipts (logging set up as `readmark` does it, at DEBUG).
        setup_logging(logging.DEBUG)
        try:
            app = RecordingApp(MatrixService(MatrixClient.from_session(session), sync_timeout_ms=500),
                               Settings(receipt_mode=ReceiptType.PUBLIC))
            async with app.run_test(size=(160, 40)) as pilot:
                await until(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen.status.sync_text.endswith("live"))
                await pilot.press("r", "tab", "j", "r", "R", "f")
                await until(pilot, lambda: app.service.queued == 0 and app.screen.last_action.outcome == "settled")
                outputs.append(screen_text(pilot))
                outputs += [f"{title} {text}" for title, text, _ in app.notified]
                await pilot.press("q")
                await pilot.pause()
        finally:
            teardown_logging()

        # status and mark, in-process and as a running process.
        await in_thread(lambda: scene.alice.send_text(scene.room, "one more"))
        for argv in (["status"], ["status", "--json"], ["mark", scene.room, "--private"]):
            code, out, err = await run_cli(capsys, monkeypatch, argv)
            assert code == 0, err
            outputs += [out, err]
        proxy.add(Rule(path_contains("/sync", "GET"), times=1, delay=2.0))
        process = subprocess.Popen([sys.executable, "-m", "app", "status"], cwd=REPO, env=os.environ.copy(),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 10
            while not any(s.path_qs.startswith("/_matrix/client/v3/sync") for s in proxy.seen[-3:]) and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            cmdline = Path(f"/proc/{process.pid}/cmdline").read_bytes()
            environ = Path(f"/proc/{process.pid}/environ").read_bytes()
            comm = Path(f"/proc/{process.pid}/comm").read_bytes()
        finally:
            out, err = await asyncio.to_thread(process.communicate, timeout=30)
        assert process.returncode == 0, err
        outputs += [out.decode(), err.decode()]
        for blob in (cmdline, environ, comm):
            assert token.encode() not in blob

        # Before logout: exactly one file holds the token, the 0600 session file.
        assert files_holding(xdg_dirs, token.encode()) == [paths.session_file()]
        assert stat.S_IMODE(paths.session_file().stat().st_mode) == 0o600
        assert log_file().exists() and "DEBUG" in log_file().read_text()

        code, out, err = await run_cli(capsys, monkeypatch, ["logout"])
        assert code == 0, err
        outputs += [out, err]

    assert files_holding(xdg_dirs, token.encode()) == []  # logout left no copy anywhere
    for text in outputs:
        assert token not in text
    assert token not in log_file().read_text()
    for seen in proxy.seen:
        assert token not in seen.path_qs and "access_token" not in seen.path_qs, seen.path_qs
        # Only readmark talks through the proxy, with this session's token; the requests
        # before there is one (versions, login) carry none.
        authorization = seen.headers.get("Authorization")
        unauthenticated = seen.path_qs.startswith(("/_matrix/client/versions", "/_matrix/client/v3/login"))
        assert authorization == (None if unauthenticated else f"Bearer {token}"), (seen.path_qs, authorization)
    assert any(seen.headers.get("Authorization") == f"Bearer {token}" for seen in proxy.seen)  # it was used


# ---- TLS ---------------------------------------------------------------------------------


def _self_signed(directory: Path) -> tuple[Path, Path]:
    x509 = pytest.importorskip("cryptography.x509", reason="needs the cryptography package (a Synapse dependency)")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture
def self_signed_homeserver(tmp_path: Path):  # noqa: ANN201
    """An HTTPS server on 127.0.0.1 with a self-signed certificate that answers like a
    homeserver (so only the certificate can stop a client)."""
    cert_path, key_path = _self_signed(tmp_path)
    requests: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self) -> None:
            requests.append(self.path)
            body = b'{"versions": ["v1.11"]}' if self.path.startswith("/_matrix/client/versions") else b"{}"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()


def test_a_self_signed_homeserver_fails_login_and_status_with_one_line(self_signed_homeserver, capsys, monkeypatch) -> None:  # noqa: ANN001
    url, requests = self_signed_homeserver
    monkeypatch.setattr(sys, "stdin", io.StringIO("secret password\n"))
    code = cli.main(["login", "--homeserver", url, "--user", "@me:localhost", "--password-stdin"])
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and err.startswith("readmark: TLS verification failed for 127.0.0.1:"), err
    assert "self-signed certificate" in err  # what TLS said, not an errno
    assert requests == []  # not even /versions got through, let alone the password
    assert not paths.session_file().exists()

    save_session(Session(url, "@me:localhost", "DEV", "syt_tls_test_token_abcdef"))
    code = cli.main(["status"])
    out, err = capsys.readouterr()
    assert code == 1 and err.count("\n") == 1 and "TLS verification failed" in err, err
    assert requests == []
