"""Clocks that drive the periodic-task runner: real time for services, virtual time for the
simulator and tests.

``now()`` is a monotonic reading in seconds used for spacing tasks; its origin is arbitrary.
``sleep(seconds, stop)`` waits and returns ``True`` as soon as ``stop`` is set (at once if it
already is), ``False`` when the full time has passed.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Protocol

from fleetwise.errors import ParameterError

__all__ = ["Clock", "RealClock", "VirtualClock", "WallClock"]


class Clock(Protocol):
    """A source of time that can also wait."""

    def now(self) -> float:
        """Current monotonic time in seconds."""
        ...

    def sleep(self, seconds: float, stop: threading.Event | None = None) -> bool:
        """Wait ``seconds`` (negative counts as zero); ``True`` if ``stop`` cut the wait short."""
        ...


class WallClock(Clock, Protocol):
    """A :class:`Clock` that also tells wall time (``wall()``, seconds since the epoch).

    Services pace their tasks with ``now``/``sleep`` (real or simulated seconds) and
    stamp what they store or send with ``wall``. :class:`RealClock`,
    :class:`VirtualClock` and the shared simulated fleet's clock all qualify.
    """

    def wall(self) -> float:
        """Seconds since the Unix epoch."""
        ...


class RealClock:
    """Real time: ``time.monotonic`` for spacing, ``time.time`` for timestamps."""

    def now(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        """Seconds since the Unix epoch, for timestamps shown to people or stored."""
        return time.time()

    def sleep(self, seconds: float, stop: threading.Event | None = None) -> bool:
        seconds = max(0.0, seconds)
        if stop is None:
            time.sleep(seconds)
            return False
        return stop.wait(seconds)


class VirtualClock:
    """Virtual time that moves only through :meth:`advance` or :meth:`sleep`.

    Sleeping advances the clock by exactly the requested time and returns at once, so a day
    of periodic work runs in moments and always in the same way. ``wall()`` is ``epoch``
    plus the virtual time elapsed since the clock was made.
    """

    def __init__(self, start: float = 0.0, *, epoch: float = 0.0) -> None:
        if not (math.isfinite(start) and math.isfinite(epoch)):
            raise ParameterError("virtual clock start and epoch must be finite numbers")
        self._start = start
        self._now = start
        self._epoch = epoch
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def wall(self) -> float:
        """Virtual seconds since the Unix epoch."""
        with self._lock:
            return self._epoch + (self._now - self._start)

    def advance(self, seconds: float) -> float:
        """Move time forward by ``seconds`` (finite, not negative); return the new time."""
        if not (math.isfinite(seconds) and seconds >= 0):
            raise ParameterError(
                f"virtual time can only advance by a finite amount >= 0, got {seconds!r}"
            )
        with self._lock:
            self._now += seconds
            return self._now

    def sleep(self, seconds: float, stop: threading.Event | None = None) -> bool:
        if stop is not None and stop.is_set():
            return True
        self.advance(max(0.0, seconds))
        return False
