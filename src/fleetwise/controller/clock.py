"""The controller's wall-clock helper (the clock protocol itself is the service frame's)."""

from __future__ import annotations

from datetime import UTC, datetime

from fleetwise.service.clock import WallClock

__all__ = ["WallClock", "utc_now"]


def utc_now(clock: WallClock) -> datetime:
    """The clock's wall time as an aware UTC datetime."""
    return datetime.fromtimestamp(clock.wall(), UTC)
