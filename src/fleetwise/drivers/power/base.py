"""The power driver interface: wake a sleeping host, put an idle one to sleep, ask its state.

Drivers raise :class:`fleetwise.errors.DriverError` when the host or its controller
fails, and :class:`fleetwise.errors.ParameterError` for a host they have no settings for.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol

__all__ = ["PowerDriver", "PowerState"]


class PowerState(StrEnum):
    """A host's power state as far as its driver can tell."""

    ON = "on"
    OFF = "off"
    UNKNOWN = "unknown"


class PowerDriver(Protocol):
    """Switches hosts between working and sleeping."""

    def wake(self, host: str) -> None:
        """Ask the host to power up; returns without waiting for it."""
        ...

    def sleep(self, host: str) -> None:
        """Ask the host to suspend or power off."""
        ...

    def status(self, host: str) -> PowerState:
        """The host's power state now."""
        ...
