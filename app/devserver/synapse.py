"""Launching a private, local Synapse homeserver in a subprocess.

Owns the homeserver's configuration (generated once per data directory, then rewritten
for a loopback-only, offline, rate-limit-free server on every start) and the lifetime of
its process. Used by the test fixtures and by ``readmark demo``; it must not import pytest.

The server never reaches outside the machine: no trusted key servers, no stats, no URL
previews, no federation listener.
"""

from __future__ import annotations

import atexit
import copy
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml  # pyyaml ships with Synapse

VERSIONS_PATH = "/_matrix/client/versions"

# Far above anything a test or the demo does; a test that wants real 429s passes its own
# limits through ``config_overrides``. The key names are the ones Synapse 1.163 reads in
# synapse/config/ratelimiting.py.
_UNLIMITED = {"per_second": 100_000, "burst_count": 100_000}
RATE_LIMITS_OFF: dict[str, Any] = {
    "rc_message": _UNLIMITED,
    "rc_registration": _UNLIMITED,
    "rc_registration_token_validity": _UNLIMITED,
    "rc_login": {"address": _UNLIMITED, "account": _UNLIMITED, "failed_attempts": _UNLIMITED},
    "rc_admin_redaction": _UNLIMITED,
    "rc_joins": {"local": _UNLIMITED, "remote": _UNLIMITED},
    "rc_joins_per_room": _UNLIMITED,
    "rc_key_requests": _UNLIMITED,
    "rc_3pid_validation": _UNLIMITED,
    "rc_invites": {"per_room": _UNLIMITED, "per_user": _UNLIMITED, "per_issuer": _UNLIMITED},
    "rc_third_party_invite": _UNLIMITED,
    "rc_media_create": _UNLIMITED,
    "rc_presence": {"per_user": _UNLIMITED},
    "rc_delayed_event_mgmt": _UNLIMITED,
    "rc_room_creation": _UNLIMITED,
    "rc_reports": _UNLIMITED,
    "rc_user_directory": _UNLIMITED,
    "rc_profile": _UNLIMITED,
}


class SynapseStartError(RuntimeError):
    """Synapse exited, or did not answer /versions in time. The message carries its log tail."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def deep_merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``extra`` laid over it; nested mappings merge, everything else replaces."""
    merged = copy.deepcopy(dict(base))
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty)"


_running_servers: set[SynapseServer] = set()


@atexit.register
def _stop_running_servers() -> None:
    for server in list(_running_servers):
        server.stop()


class SynapseServer:
    """One Synapse process serving the client API on 127.0.0.1, with SQLite in ``data_dir``."""

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int | None = None,
        server_name: str = "localhost",
        config_overrides: dict[str, Any] | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.port = port if port is not None else free_port()
        self.server_name = server_name
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.config_overrides = config_overrides or {}
        self.generated_config_path = self.data_dir / "generated.yaml"
        self.config_path = self.data_dir / "homeserver.yaml"
        self.log_config_path = self.data_dir / "log.config.yaml"
        self.log_path = self.data_dir / "homeserver.log"
        self.output_path = self.data_dir / "synapse.stdout.log"
        # Seconds, for reporting: None until measured in this process.
        self.config_generation_seconds: float | None = None
        self.start_seconds: float | None = None
        self._process: subprocess.Popen[bytes] | None = None

    def __repr__(self) -> str:
        return f"SynapseServer({self.base_url}, data_dir={str(self.data_dir)!r}, running={self.running})"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    # -- configuration --------------------------------------------------------

    def _generate_config(self) -> None:
        """Run Synapse's own generator once: it makes the signing key and the secrets."""
        if self.generated_config_path.exists():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        began = time.monotonic()
        result = subprocess.run(
            [
                sys.executable, "-m", "synapse.app.homeserver",
                "--server-name", self.server_name,
                "--config-path", str(self.generated_config_path),
                "--generate-config",
                "--report-stats=no",
                "--data-directory", str(self.data_dir),
            ],
            cwd=self.data_dir,
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise SynapseStartError(
                f"synapse --generate-config failed ({result.returncode}):\n"
                f"{result.stdout[-2000:]}{result.stderr[-2000:]}"
            )
        self.config_generation_seconds = time.monotonic() - began

    def _config(self) -> dict[str, Any]:
        generated = yaml.safe_load(self.generated_config_path.read_text(encoding="utf-8"))
        if generated.get("server_name") != self.server_name:
            raise SynapseStartError(
                f"{self.data_dir} holds a homeserver for {generated.get('server_name')!r}, "
                f"not {self.server_name!r}"
            )
        ours: dict[str, Any] = {
            "listeners": [
                {
                    "port": self.port,
                    "bind_addresses": ["127.0.0.1"],
                    "type": "http",
                    "tls": False,
                    "x_forwarded": False,
                    "resources": [{"names": ["client"], "compress": False}],
                }
            ],
            "database": {
                "name": "sqlite3",
                "args": {"database": str(self.data_dir / "homeserver.db")},
            },
            "log_config": str(self.log_config_path),
            "pid_file": str(self.data_dir / "homeserver.pid"),
            "media_store_path": str(self.data_dir / "media_store"),
            "enable_registration": True,
            "enable_registration_without_verification": True,
            # Registration and password logins hash with bcrypt; 12 rounds cost ~0.25 s each.
            "bcrypt_rounds": 4,
            # Otherwise an identical initial /sync within 2 minutes returns a stale response.
            "caches": {"sync_response_cache_duration": 0},
            # Never reach outside the machine.
            "trusted_key_servers": [],
            "suppress_key_server_warning": True,
            "report_stats": False,
            "url_preview_enabled": False,
            "enable_metrics": False,
            "presence": {"enabled": False},
            **RATE_LIMITS_OFF,
        }
        return deep_merge(deep_merge(generated, ours), self.config_overrides)

    def _write_config(self) -> None:
        self._generate_config()
        self.config_path.write_text(yaml.safe_dump(self._config(), sort_keys=False), encoding="utf-8")
        log_config = {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {
                "precise": {"format": "%(asctime)s - %(name)s - %(lineno)d - %(levelname)s - %(message)s"}
            },
            "handlers": {
                "file": {
                    "class": "logging.FileHandler",
                    "formatter": "precise",
                    "filename": str(self.log_path),
                    "encoding": "utf8",
                }
            },
            "root": {"level": "WARNING", "handlers": ["file"]},
        }
        self.log_config_path.write_text(yaml.safe_dump(log_config, sort_keys=False), encoding="utf-8")

    # -- lifetime -------------------------------------------------------------

    def _answers_versions(self) -> bool:
        try:
            with urllib.request.urlopen(self.base_url + VERSIONS_PATH, timeout=1.0) as response:
                return response.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            return False

    def _failure(self, reason: str) -> SynapseStartError:
        return SynapseStartError(
            f"{reason}\n--- last lines of {self.log_path} ---\n{_tail(self.log_path)}"
            f"\n--- last lines of {self.output_path} ---\n{_tail(self.output_path)}"
        )

    def start(self, timeout: float = 30.0) -> None:
        """Start Synapse; return once GET /_matrix/client/versions answers 200."""
        if self.running:
            return
        self._write_config()
        began = time.monotonic()
        with self.output_path.open("ab") as output:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "synapse.app.homeserver", "--config-path", str(self.config_path)],
                cwd=self.data_dir,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() signals the whole group
            )
        _running_servers.add(self)
        deadline = began + timeout
        while True:
            if self._process.poll() is not None:
                code = self._process.returncode
                self.stop()
                raise self._failure(f"Synapse exited with code {code} while starting")
            if self._answers_versions():
                break
            if time.monotonic() > deadline:
                self.stop()
                raise self._failure(f"Synapse did not answer {VERSIONS_PATH} within {timeout} s")
            time.sleep(0.05)
        self.start_seconds = time.monotonic() - began

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the process group, then SIGKILL after ``timeout``. Safe to call twice."""
        process, self._process = self._process, None
        _running_servers.discard(self)
        if process is None:
            return
        if process.poll() is None:
            self._signal_group(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(process.pid, signal.SIGKILL)
                process.wait()
        # Anything Synapse left in its group goes too; normally there is nothing.
        self._signal_group(process.pid, signal.SIGKILL)

    @staticmethod
    def _signal_group(pgid: int, sig: signal.Signals) -> None:
        try:
            os.killpg(pgid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def restart(self) -> None:
        """Stop and start again: same port, same database."""
        self.stop()
        self.start()

    def __enter__(self) -> SynapseServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
