"""Clocks handed to simulated drivers, so they never read the wall clock themselves."""

from __future__ import annotations

import math
import threading
import time
from typing import Protocol

from fleetwise.errors import ParameterError

__all__ = ["Clock", "ManualClock", "MonotonicClock"]


class Clock(Protocol):
    """A source of time in seconds and a way to let time pass."""

    def now(self) -> float:
        """The current time in seconds."""
        ...

    def sleep(self, seconds: float) -> None:
        """Let ``seconds`` pass."""
        ...


def _check_duration(seconds: float) -> None:
    if not (math.isfinite(seconds) and seconds >= 0):
        raise ParameterError(f"a duration must be finite and >= 0, got {seconds}")


class ManualClock:
    """Virtual time that moves only when told; ``sleep`` advances it at once.

    Shared by everything that holds it: one caller's ``sleep`` moves time for all.
    """

    def __init__(self, start: float = 0.0) -> None:
        if not math.isfinite(start):
            raise ParameterError(f"start must be finite, got {start}")
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> float:
        """The current virtual time."""
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move time forward by ``seconds``; returns the new time."""
        _check_duration(seconds)
        with self._lock:
            self._now += seconds
            return self._now

    def sleep(self, seconds: float) -> None:
        """Same as :meth:`advance`."""
        self.advance(seconds)


class MonotonicClock:
    """Real time from the monotonic clock, optionally sped up by ``speed``."""

    def __init__(self, speed: float = 1.0) -> None:
        if not (math.isfinite(speed) and speed > 0):
            raise ParameterError(f"speed must be positive, got {speed}")
        self._speed = speed
        self._origin = time.monotonic()

    def now(self) -> float:
        """Seconds since this clock was made, times ``speed``."""
        return (time.monotonic() - self._origin) * self._speed

    def sleep(self, seconds: float) -> None:
        """Block for ``seconds`` of this clock's time."""
        _check_duration(seconds)
        time.sleep(seconds / self._speed)
