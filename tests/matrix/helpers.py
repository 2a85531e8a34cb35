"""Shared pieces for tests of the Matrix layer against the real Synapse."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

from app.devserver.actor import MatrixActor
from app.matrix.service import ReceiptOutcome, SyncStatus
from app.matrix.session import Session
from app.model.account import AccountState

T = TypeVar("T")


def session_of(actor: MatrixActor) -> Session:
    return Session(actor.base_url, actor.user_id, actor.device_id, actor.access_token)


async def eventually(predicate: Callable[[], T], timeout: float = 20.0, interval: float = 0.05) -> T:
    """Poll (without blocking the loop) until the predicate gives something truthy."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        await asyncio.sleep(interval)
    raise TimeoutError(f"not within {timeout} s; last value {last!r}")


async def in_thread(function: Callable[[], T]) -> T:
    """Blocking witness calls (urllib) off the event loop, so the service keeps running."""
    return await asyncio.to_thread(function)


class Recorder:
    """A ServiceListener that keeps everything it is told."""

    def __init__(self) -> None:
        self.accounts: list[AccountState] = []
        self.statuses: list[SyncStatus] = []
        self.outcomes: list[ReceiptOutcome] = []
        self.queue_sizes: list[int] = []

    def account_changed(self, account: AccountState) -> None:
        self.accounts.append(account)

    def status_changed(self, status: SyncStatus) -> None:
        self.statuses.append(status)

    def receipt_settled(self, outcome: ReceiptOutcome) -> None:
        self.outcomes.append(outcome)

    def queue_changed(self, pending: int) -> None:
        self.queue_sizes.append(pending)
