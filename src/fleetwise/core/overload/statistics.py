"""Adaptive-threshold overload detectors: MAD and IQR.

Both set the threshold ``T = 1 − safety · dispersion(history)`` and report an
overload when the current utilisation exceeds it. Defaults follow the published
algorithm as CloudSim runs it (at least 12 values, else a static 0.7 threshold,
strict ``>``); Neat's variant is ``fallback_threshold=None`` (too little data means
"not overloaded") with ``inclusive=True`` (``T <= u``).
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import Field

from fleetwise.core.overload.registry import OVERLOAD
from fleetwise.core.registry import AlgorithmSpec, Params
from fleetwise.core.types import DetectorContext, FloatArray, JsonState

__all__ = [
    "AdaptiveThresholdParams",
    "iqr",
    "iqr_threshold",
    "legacy_median",
    "mad",
    "mad_threshold",
]


class AdaptiveThresholdParams(Params):
    """Parameters shared by MAD and IQR.

    ``safety`` is the paper's ``s``; ``min_history`` the fewest values needed;
    ``fallback_threshold`` the static threshold used below that (None: not overloaded);
    ``inclusive`` compares with ``>=`` instead of ``>``.
    """

    safety: float = Field(2.5, ge=0.0, le=10.0)
    min_history: int = Field(12, ge=3)
    fallback_threshold: float | None = Field(0.7, gt=0.0, le=2.0)
    inclusive: bool = False


class IqrParams(AdaptiveThresholdParams):
    """IQR parameters (the paper's best safety is 1.5)."""

    safety: float = Field(1.5, ge=0.0, le=10.0)


def legacy_median(values: FloatArray) -> float:
    """Median by the position rule ``(n + 1) / 2`` with linear interpolation.

    Equal to the usual median; computed as ``lower + frac · (upper − lower)`` so the
    rounding matches CloudSim's percentile estimator.
    """
    ordered = np.sort(values)
    n = ordered.size
    pos = (n + 1) / 2.0
    if pos < 1.0:
        return float(ordered[0])
    if pos >= n:
        return float(ordered[-1])
    k = math.floor(pos)
    lower = float(ordered[k - 1])
    upper = float(ordered[k])
    return lower + (pos - k) * (upper - lower)


def mad(values: FloatArray) -> float:
    """Median absolute deviation (no consistency constant)."""
    med = legacy_median(values)
    return legacy_median(np.abs(med - values))


def _round_half_up(x: float) -> int:
    return math.floor(x + 0.5)


def iqr(values: FloatArray) -> float:
    """Interquartile range with the rank rule ``round(p·(n+1))`` (half up), 1-based."""
    ordered = np.sort(values)
    n = ordered.size
    q1 = min(max(_round_half_up(0.25 * (n + 1)) - 1, 0), n - 1)
    q3 = min(max(_round_half_up(0.75 * (n + 1)) - 1, 0), n - 1)
    return float(ordered[q3] - ordered[q1])


def _adaptive(
    history: FloatArray, params: AdaptiveThresholdParams, dispersion: float | None
) -> bool:
    current = float(history[-1])
    if dispersion is None:
        if params.fallback_threshold is None:
            return False
        limit = params.fallback_threshold
    else:
        limit = 1.0 - params.safety * dispersion
    return current >= limit if params.inclusive else current > limit


def mad_threshold(
    history: FloatArray, ctx: DetectorContext, state: JsonState, *, params: AdaptiveThresholdParams
) -> tuple[bool, JsonState]:
    """MAD detector: ``T = 1 − s·MAD``."""
    if history.size == 0:
        return False, state
    spread = mad(history) if history.size >= params.min_history else None
    return _adaptive(history, params, spread), state


def iqr_threshold(
    history: FloatArray, ctx: DetectorContext, state: JsonState, *, params: IqrParams
) -> tuple[bool, JsonState]:
    """IQR detector: ``T = 1 − s·IQR``."""
    if history.size == 0:
        return False, state
    spread = iqr(history) if history.size >= params.min_history else None
    return _adaptive(history, params, spread), state


OVERLOAD.register(
    AlgorithmSpec("mad", mad_threshold, AdaptiveThresholdParams, "median absolute deviation")
)
OVERLOAD.register(AlgorithmSpec("iqr", iqr_threshold, IqrParams, "interquartile range"))
