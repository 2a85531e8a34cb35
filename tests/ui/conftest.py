"""Fixtures for the UI tests: a pinned clock and timezone, the recorded account behind
an in-memory service, and a factory for the app."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from app.ui import describe
from app.config import Settings
from tests.ui.helpers import RecordingApp
from tests.ui.local_service import LocalService
from tests.ui.recorded import BASE, recorded_account


@pytest.fixture(autouse=True)
def pinned_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """UTC, and "now" is the afternoon of the recorded day, so times read as HH:MM."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    monkeypatch.setattr(describe, "now", lambda: BASE / 1000 + 6 * 3600)
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def service() -> LocalService:
    return LocalService(recorded_account())


@pytest.fixture
def make_app(service: LocalService) -> Callable[..., RecordingApp]:
    def make(settings: Settings | None = None, svc: LocalService | None = None) -> RecordingApp:
        return RecordingApp(svc if svc is not None else service, settings)

    return make
