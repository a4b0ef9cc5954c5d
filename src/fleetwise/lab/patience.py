"""Deadlines that follow progress: waiting as long as something keeps coming up.

A fixed time-out is either too short on a busy machine or far too long when something
is stuck. :class:`Patience` instead gives up only after ``window_s`` seconds in which
nothing new was seen: each new milestone (a process that started logging, the
controller answering, an agent registered) moves the deadline on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable

__all__ = ["Patience"]


class Patience:
    """Runs out ``window_s`` seconds after the last new milestone (or the start)."""

    def __init__(self, window_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.window_s = window_s
        self._clock = clock
        self._seen: set[Hashable] = set()
        self._deadline = clock() + window_s

    def saw(self, milestone: Hashable) -> bool:
        """Note ``milestone``; whether it was new (and so moved the deadline on)."""
        if milestone in self._seen:
            return False
        self._seen.add(milestone)
        self._deadline = self._clock() + self.window_s
        return True

    def expired(self) -> bool:
        """Whether ``window_s`` passed without a new milestone."""
        return self._clock() >= self._deadline
