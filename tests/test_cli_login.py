"""``readmark login`` and ``readmark logout`` against the real Synapse, in-process through
``main()`` and as a subprocess, and the promise behind both: the access token is in the
0600 session file and nowhere else, not in any output, not in any log line.
"""

from __future__ import annotations

import http.server
import io
import json
import logging
import os
import stat
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterable
from pathlib import Path

import pytest

from app import cli, paths
from app.devserver.actor import CLIENT_V3, MatrixActor, MatrixHttpError
from app.devserver.synapse import free_port
from app.logs import REDACTED, log_file, register_secret, setup_logging, teardown_logging
from app.matrix.session import Session, load_session, save_session
from app.store.cache import cache_path

REPO = Path(__file__).resolve().parent.parent


def password_of(actor: MatrixActor) -> str:
    return f"pw-{actor.user_id[1:].split(':', 1)[0]}"


def run_main(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    stdin: str | None = None,
) -> tuple[int, str, str]:
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def login_argv(homeserver: str, user: str, *extra: str) -> list[str]:
    return ["login", "--homeserver", homeserver, "--user", user, "--password-stdin", *extra]


def every_file(roots: Iterable[Path]) -> list[Path]:
    return [path for root in roots for path in root.rglob("*") if path.is_file()]


def assert_token_only_in_session_file(xdg_dirs, token: str, outputs: Iterable[str]) -> None:  # noqa: ANN001
    for text in outputs:
        assert token not in text
    session_file = paths.session_file()
    found = [p for p in every_file([xdg_dirs.config, xdg_dirs.data, xdg_dirs.state, xdg_dirs.cache, xdg_dirs.home])
             if token.encode() in p.read_bytes()]
    assert found == ([session_file] if session_file.exists() else [])
    if session_file.exists():
        assert stat.S_IMODE(session_file.stat().st_mode) == 0o600


def assert_one_error_line(err: str) -> None:
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("readmark: "), err
    assert "Traceback" not in err


def token_is_alive(synapse, session: Session) -> bool:  # noqa: ANN001
    try:
        MatrixActor(synapse.base_url, session.user_id, session.access_token, session.device_id).request(
            "GET", f"{CLIENT_V3}/account/whoami"
        )
    except MatrixHttpError as error:
        assert error.errcode == "M_UNKNOWN_TOKEN"
        return False
    return True


@pytest.fixture(autouse=True)
def _no_logging_left_behind() -> None:
    yield
    teardown_logging()


# -- login ------------------------------------------------------------------------


def test_login_with_password_stdin(make_actor, synapse, xdg_dirs, capsys, monkeypatch) -> None:  # noqa: ANN001
    actor = make_actor("me")
    monkeypatch.setenv("READMARK_LOG_LEVEL", "DEBUG")
    code, out, err = run_main(capsys, monkeypatch, login_argv(synapse.base_url, actor.user_id), password_of(actor) + "\n")
    assert code == 0, err
    session = load_session()
    assert session is not None
    assert out == f"logged in as {actor.user_id} (device {session.device_id})\n"
    assert err == ""
    assert (session.homeserver, session.user_id) == (synapse.base_url, actor.user_id)
    assert token_is_alive(synapse, session)
    session_file = paths.session_file()
    assert stat.S_IMODE(session_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(session_file.parent.stat().st_mode) == 0o700
    assert json.loads(session_file.read_text())["access_token"] == session.access_token
    assert log_file().exists()  # the log was written, at DEBUG ...
    assert_token_only_in_session_file(xdg_dirs, session.access_token, [out, err])  # ... without the token
    assert password_of(actor) not in log_file().read_text()


def test_login_prompts_with_getpass_without_password_stdin(make_actor, synapse, capsys, monkeypatch) -> None:  # noqa: ANN001
    actor = make_actor("me")
    prompts: list[str] = []
    monkeypatch.setattr("getpass.getpass", lambda prompt: prompts.append(prompt) or password_of(actor))
    code, out, err = run_main(
        capsys, monkeypatch, ["login", "--homeserver", synapse.base_url, "--user", actor.user_id, "--device-name", "laptop"]
    )
    assert code == 0, err
    assert prompts == [f"Password for {actor.user_id}: "]
    session = load_session()
    devices = MatrixActor(synapse.base_url, actor.user_id, session.access_token, session.device_id).request(
        "GET", f"{CLIENT_V3}/devices"
    )["devices"]
    assert {"device_id": session.device_id, "display_name": "laptop"}.items() <= next(
        d for d in devices if d["device_id"] == session.device_id
    ).items()


def test_login_as_a_subprocess(make_actor, synapse, xdg_dirs) -> None:  # noqa: ANN001
    actor = make_actor("me")
    localpart = actor.user_id[1:].split(":", 1)[0]
    result = subprocess.run(
        [sys.executable, "-m", "app", *login_argv(synapse.base_url, localpart)],
        input=password_of(actor) + "\n",
        capture_output=True,
        text=True,
        cwd=REPO,
        env=os.environ.copy(),  # the fixture's XDG_* dirs
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    session = load_session()
    assert result.stdout == f"logged in as {actor.user_id} (device {session.device_id})\n"
    assert result.stderr == ""
    assert_token_only_in_session_file(xdg_dirs, session.access_token, [result.stdout, result.stderr])


def test_bad_password_as_a_subprocess(make_actor, synapse) -> None:  # noqa: ANN001
    actor = make_actor("me")
    result = subprocess.run(
        [sys.executable, "-m", "app", *login_argv(synapse.base_url, actor.user_id)],
        input="wrong\n",
        capture_output=True,
        text=True,
        cwd=REPO,
        env=os.environ.copy(),
        timeout=60,
    )
    assert result.returncode == 1
    assert_one_error_line(result.stderr)
    assert "login failed: M_FORBIDDEN" in result.stderr
    assert result.stdout == ""
    assert not paths.session_file().exists()


def _non_matrix_server() -> http.server.ThreadingHTTPServer:
    class NotFound(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            body = b"<html><body><h1>404 Not Found</h1></body></html>"
            self.send_response(404)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotFound)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.mark.parametrize("case", ["wrong-password", "unknown-user", "unreachable", "not-matrix", "bad-url"])
def test_failed_logins_print_one_line_and_store_nothing(case, make_actor, synapse, xdg_dirs, capsys, monkeypatch) -> None:  # noqa: ANN001
    actor = make_actor("me")
    homeserver, user, expect = synapse.base_url, actor.user_id, ""
    server = None
    if case == "wrong-password":
        expect = "login failed: M_FORBIDDEN"
    elif case == "unknown-user":
        user, expect = f"@nobody-{uuid.uuid4().hex[:8]}:{synapse.server_name}", "login failed: M_FORBIDDEN"
    elif case == "unreachable":
        homeserver, expect = f"http://127.0.0.1:{free_port()}", "Connection refused"
    elif case == "not-matrix":
        server = _non_matrix_server()
        homeserver = f"http://127.0.0.1:{server.server_address[1]}"
        expect = "does not look like a Matrix homeserver"
    elif case == "bad-url":
        homeserver, expect = "ftp://example.org", "is not a homeserver URL"
    try:
        code, out, err = run_main(capsys, monkeypatch, login_argv(homeserver, user), "wrong\n")
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
    assert code == 1
    assert out == ""
    assert_one_error_line(err)
    assert expect in err
    assert not paths.session_file().exists()
    assert not any(p.name.endswith(".tmp") for p in every_file([xdg_dirs.data]))


def test_usage_errors_are_one_line(capsys, monkeypatch) -> None:  # noqa: ANN001
    code, out, err = run_main(capsys, monkeypatch, ["login", "--homeserver", "http://127.0.0.1:1"])
    assert code == 2
    assert_one_error_line(err)
    assert "--user" in err
    code, out, err = run_main(capsys, monkeypatch, login_argv("http://127.0.0.1:1", "@me:localhost"), "")
    assert code == 2 and "no password on stdin" in err


def test_plain_http_to_another_host_warns(capsys, monkeypatch) -> None:  # noqa: ANN001
    code, out, err = run_main(capsys, monkeypatch, login_argv("http://homeserver.invalid", "@me:homeserver.invalid"), "pw\n")
    assert code == 1
    warning, error = err.splitlines()
    assert warning.startswith("readmark: warning: http://homeserver.invalid uses plain http")
    assert error.startswith("readmark: cannot reach homeserver.invalid")


def test_login_refuses_to_replace_a_session(make_actor, synapse, capsys, monkeypatch) -> None:  # noqa: ANN001
    actor = make_actor("me")
    assert run_main(capsys, monkeypatch, login_argv(synapse.base_url, actor.user_id), password_of(actor))[0] == 0
    first = load_session()
    code, out, err = run_main(capsys, monkeypatch, login_argv(synapse.base_url, actor.user_id), password_of(actor))
    assert code == 1
    assert_one_error_line(err)
    assert "already logged in" in err and "readmark logout" in err
    assert load_session() == first


# -- logout -----------------------------------------------------------------------


def _logged_in(actor, synapse, capsys, monkeypatch) -> Session:  # noqa: ANN001
    code, _out, err = run_main(capsys, monkeypatch, login_argv(synapse.base_url, actor.user_id), password_of(actor))
    assert code == 0, err
    session = load_session()
    cache_path().parent.mkdir(parents=True, exist_ok=True)
    cache_path().write_bytes(b"cached")
    return session


def test_logout_ends_the_session_everywhere(make_actor, synapse, xdg_dirs, capsys, monkeypatch) -> None:  # noqa: ANN001
    actor = make_actor("me")
    session = _logged_in(actor, synapse, capsys, monkeypatch)
    code, out, err = run_main(capsys, monkeypatch, ["logout"])
    assert code == 0, err
    assert out == f"logged out {actor.user_id} (device {session.device_id})\n" and err == ""
    assert not paths.session_file().exists()
    assert not cache_path().exists()
    assert not token_is_alive(synapse, session)
    assert_token_only_in_session_file(xdg_dirs, session.access_token, [out, err])


def test_logout_after_the_token_died_still_clears_locally(make_actor, synapse, capsys, monkeypatch) -> None:  # noqa: ANN001
    actor = make_actor("me")
    _logged_in(actor, synapse, capsys, monkeypatch)
    actor.request("POST", f"{CLIENT_V3}/logout/all", {})
    code, out, err = run_main(capsys, monkeypatch, ["logout"])
    assert code == 0, err
    assert "already ended on the homeserver" in out and "M_UNKNOWN_TOKEN" in out
    assert not paths.session_file().exists()
    assert not cache_path().exists()


def test_logout_keeps_the_session_when_the_server_is_unreachable(capsys, monkeypatch) -> None:  # noqa: ANN001
    save_session(Session(f"http://127.0.0.1:{free_port()}", "@me:localhost", "DEV", "syt_unreachable_token_abc"))
    code, out, err = run_main(capsys, monkeypatch, ["logout"])
    assert code == 1
    assert_one_error_line(err)
    assert "the session is kept" in err and "--force" in err
    assert load_session() is not None
    code, out, err = run_main(capsys, monkeypatch, ["logout", "--force"])
    assert code == 0
    assert "stays logged in on the server" in out
    assert load_session() is None


def test_logout_without_a_session_and_with_a_corrupt_one(capsys, monkeypatch) -> None:  # noqa: ANN001
    code, out, err = run_main(capsys, monkeypatch, ["logout"])
    assert code == 1 and err == "readmark: not logged in\n"
    target = paths.session_file()
    target.parent.mkdir(parents=True)
    target.write_text("{garbage")
    # Any command that needs the session reports the corruption in one line ...
    code, out, err = run_main(capsys, monkeypatch, login_argv("http://127.0.0.1:1", "@me:localhost"), "pw")
    assert code == 1
    assert_one_error_line(err)
    assert "is corrupt" in err
    # ... and logout removes it.
    code, out, err = run_main(capsys, monkeypatch, ["logout"])
    assert code == 0 and "unreadable session file" in out
    assert not target.exists()


# -- secrets in logs and crashes --------------------------------------------------


def test_the_log_filter_redacts_tokens(xdg_dirs) -> None:  # noqa: ANN001
    path = setup_logging(logging.DEBUG)
    custom = "opaque-token-" + uuid.uuid4().hex
    register_secret(custom)
    logger = logging.getLogger("nio.some.module")
    logger.info("GET /sync?access_token=%s&since=s1", "syt_abc_def_123")
    logger.debug("headers: %r", {"Authorization": "Bearer plain-bearer-value"})
    logger.warning("json %s", json.dumps({"access_token": "secret-in-json"}))
    logger.error("a server that mints its own tokens: %s", custom)
    try:
        raise RuntimeError(f"boom with {custom} and syt_in_an_exception")
    except RuntimeError:
        logger.exception("failed")
    teardown_logging()
    text = path.read_text()
    for secret in ("syt_abc_def_123", "plain-bearer-value", "secret-in-json", custom, "syt_in_an_exception"):
        assert secret not in text
    assert text.count(REDACTED) >= 6
    assert "since=s1" in text and "Traceback" in text  # the rest of the record survives
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_an_unexpected_error_is_one_line_and_logged_without_the_token(
    make_actor, synapse, xdg_dirs, capsys, monkeypatch  # noqa: ANN001
) -> None:
    actor = make_actor("me")
    session = _logged_in(actor, synapse, capsys, monkeypatch)

    def broken(args: object) -> int:
        raise RuntimeError(f"bug while holding {session.access_token}")

    monkeypatch.setattr(cli, "_logout", broken)
    code, out, err = run_main(capsys, monkeypatch, ["logout"])
    assert code == cli.EXIT_INTERNAL
    assert_one_error_line(err)
    assert "internal error: RuntimeError" in err and str(log_file()) in err
    log_text = log_file().read_text()
    assert "Traceback" in log_text and "bug while holding" in log_text
    assert_token_only_in_session_file(xdg_dirs, session.access_token, [out, err])
