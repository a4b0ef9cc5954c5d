"""Exponential back-off with jitter, as a schedule of the next allowed attempt.

Nothing here sleeps: the caller asks :meth:`Backoff.ready` on each pass of its periodic
task, so a peer that is down never blocks the other tasks. Delays are real seconds;
``clock_speed`` converts them to the caller's clock (a simulated clock running 100
times faster waits 100 of its seconds per real second), so a real peer is never
probed faster than the settings say.
"""

from __future__ import annotations

import random

__all__ = ["Backoff"]


class Backoff:
    """After ``n`` consecutive failures the next attempt waits ``initial × multiplier^(n-1)``
    seconds (at most ``maximum``), of which a random half is dropped ("equal jitter")
    so that many agents that failed together do not retry together.
    """

    def __init__(
        self,
        initial_s: float,
        maximum_s: float,
        multiplier: float = 2.0,
        rng: random.Random | None = None,
        *,
        clock_speed: float = 1.0,
    ) -> None:
        self._clock_speed = clock_speed
        self._initial = initial_s
        self._maximum = maximum_s
        self._multiplier = multiplier
        self._rng = rng if rng is not None else random.Random()
        self.failures = 0
        self._next_at = float("-inf")

    def ready(self, now: float) -> bool:
        """Whether an attempt may be made at clock time ``now``."""
        return now >= self._next_at

    @property
    def next_at(self) -> float:
        """Clock time of the next allowed attempt (``-inf`` after a success)."""
        return self._next_at

    def failed(self, now: float) -> float:
        """Record a failure at clock time ``now``; returns the delay in real seconds."""
        self.failures += 1
        base = self._initial
        for _ in range(self.failures - 1):
            if base >= self._maximum:
                break
            base *= self._multiplier
        base = min(base, self._maximum)
        delay = base / 2 + self._rng.uniform(0.0, base / 2)
        self._next_at = now + delay * self._clock_speed
        return delay

    def succeeded(self) -> None:
        """Record a success: the next attempt may be made at once."""
        self.failures = 0
        self._next_at = float("-inf")
