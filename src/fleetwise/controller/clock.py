"""The controller's time source: a service clock that also tells wall time."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from fleetwise.service.clock import Clock

__all__ = ["WallClock", "utc_now"]


class WallClock(Clock, Protocol):
    """A :class:`~fleetwise.service.clock.Clock` with ``wall()`` (seconds since the epoch).

    :class:`~fleetwise.service.clock.RealClock` and
    :class:`~fleetwise.service.clock.VirtualClock` both qualify.
    """

    def wall(self) -> float:
        """Seconds since the Unix epoch."""
        ...


def utc_now(clock: WallClock) -> datetime:
    """The clock's wall time as an aware UTC datetime."""
    return datetime.fromtimestamp(clock.wall(), UTC)
