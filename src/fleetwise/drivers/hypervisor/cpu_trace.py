"""Trace-driven CPU demand of a simulated VM and its exact cumulative CPU time."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fleetwise.errors import ParameterError

__all__ = ["CpuTrace"]


@dataclass(frozen=True)
class CpuTrace:
    """CPU demand as utilisation fractions (0..1 of all vCPUs), one per ``sample_s``.

    The demand is constant within a sample and the trace repeats after its last
    sample. Times are seconds since the trace's origin.
    """

    fractions: tuple[float, ...]
    sample_s: float = 300.0

    def __post_init__(self) -> None:
        if not self.fractions:
            raise ParameterError("a CPU trace needs at least one sample")
        bad = [f for f in self.fractions if not (math.isfinite(f) and 0.0 <= f <= 1.0)]
        if bad:
            raise ParameterError(f"trace fractions must lie in [0, 1], got {bad[0]!r}")
        if not (math.isfinite(self.sample_s) and self.sample_s > 0):
            raise ParameterError(f"sample_s must be positive, got {self.sample_s}")

    @classmethod
    def of(cls, fractions: Sequence[float], sample_s: float = 300.0) -> CpuTrace:
        """Build a trace from any sequence of fractions."""
        return cls(tuple(float(f) for f in fractions), sample_s)

    def _position(self, t: float) -> tuple[int, int, float]:
        """(completed cycles, sample index, elapsed part of that sample in [0, 1])."""
        if not (math.isfinite(t) and t >= 0):
            raise ParameterError(f"trace time must be finite and >= 0, got {t}")
        n = len(self.fractions)
        x = t / self.sample_s
        cycles = math.floor(x / n)
        within = x - cycles * n
        index = min(math.floor(within), n - 1)
        return cycles, index, min(1.0, within - index)

    def demand(self, t: float) -> float:
        """Utilisation fraction at time ``t``."""
        _cycles, index, _part = self._position(t)
        return self.fractions[index]

    def busy_seconds(self, t: float, vcpus: int, cap_cores: float | None = None) -> float:
        """CPU seconds used from the origin to ``t`` by ``vcpus`` vCPUs following the trace.

        Demand in cores is ``fraction × vcpus``, limited to ``cap_cores`` when given.
        """
        rates = np.asarray(self.fractions, dtype=np.float64) * vcpus
        if cap_cores is not None:
            rates = np.minimum(rates, cap_cores)
        prefix = np.concatenate(([0.0], np.cumsum(rates)))
        cycles, index, part = self._position(t)
        core_samples = cycles * prefix[-1] + prefix[index] + part * rates[index]
        return float(core_samples) * self.sample_s
