"""Where readmark keeps things: platformdirs locations, and where its stylesheets are.

Every path honours the XDG_* variables (platformdirs does), so tests point all of
them at a temporary directory.
"""

from __future__ import annotations

from pathlib import Path

import platformdirs

APP_NAME = "readmark"


def config_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME))


def data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME))


def state_dir() -> Path:
    return Path(platformdirs.user_state_dir(APP_NAME))


def cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir(APP_NAME))


def log_dir() -> Path:
    return Path(platformdirs.user_log_dir(APP_NAME))


def config_file() -> Path:
    return config_dir() / "config.toml"


def session_file() -> Path:
    return data_dir() / "session.json"


def styles_dir() -> Path:
    """The folder holding the .tcss files.

    In a wheel they ship as ``app/styles``; in a checkout (editable install) they sit
    in the top-level ``styles/`` beside the package.
    """
    package = Path(__file__).resolve().parent
    for candidate in (package / "styles", package.parent / "styles"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("readmark's stylesheets are missing from this installation")
