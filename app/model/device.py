"""This device's standing, as the status line and ``status --json`` show it: cross-signed
by its owner (verified) or not, and what it does with the key backup."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Backup = Literal["none", "restored", "on"]


@dataclass(frozen=True, slots=True)
class DeviceStanding:
    verified: bool
    backup: Backup = "none"
    # The account has secret storage: a recovery key can verify this device.
    can_unlock: bool = False
