"""The clock an agent runs on: spacing and waiting, plus wall time for timestamps."""

from __future__ import annotations

import threading
from typing import Protocol

__all__ = ["AgentClock"]


class AgentClock(Protocol):
    """``now``/``sleep`` pace the agent's tasks (real or simulated seconds); ``wall`` is
    Unix time for the timestamps the controller sees.

    :class:`~fleetwise.service.clock.RealClock`, :class:`~fleetwise.service.clock.VirtualClock`
    and the shared fleet's :class:`~fleetwise.drivers.hypervisor.shared_fleet.FleetClock`
    all qualify.
    """

    def now(self) -> float:
        """Monotonic time in seconds."""
        ...

    def wall(self) -> float:
        """Seconds since the Unix epoch."""
        ...

    def sleep(self, seconds: float, stop: threading.Event | None = None) -> bool:
        """Wait ``seconds``; ``True`` if ``stop`` cut the wait short."""
        ...
