"""Underload detectors: should a host be emptied so that it can sleep?

Same calling convention as overload detectors (:class:`~fleetwise.core.types.HostDetector`).
"""

from __future__ import annotations

from pydantic import Field

from fleetwise.core.registry import AlgorithmSpec, NoParams, Params, Registry
from fleetwise.core.types import (
    DetectorContext,
    DetectorFunction,
    FloatArray,
    HostDetector,
    JsonState,
)

__all__ = ["UNDERLOAD", "last_n_average_threshold", "threshold"]

UNDERLOAD: Registry[DetectorFunction, HostDetector] = Registry("underload")


class UnderloadThresholdParams(Params):
    """Underloaded when the current utilisation is at most ``threshold``."""

    threshold: float = Field(0.3, ge=0.0, le=1.0)


class LastNAverageParams(Params):
    """Underloaded when the mean of the last ``n`` values is at most ``threshold``."""

    threshold: float = Field(0.5, ge=0.0, le=1.0)
    n: int = Field(2, ge=1)


def threshold(
    history: FloatArray, ctx: DetectorContext, state: JsonState, *, params: UnderloadThresholdParams
) -> tuple[bool, JsonState]:
    """Underloaded iff ``history[-1] <= threshold``; not underloaded without data."""
    if history.size == 0:
        return False, state
    return bool(history[-1] <= params.threshold), state


def last_n_average_threshold(
    history: FloatArray, ctx: DetectorContext, state: JsonState, *, params: LastNAverageParams
) -> tuple[bool, JsonState]:
    """Underloaded iff the mean of the last ``n`` values is at most the threshold."""
    if history.size == 0:
        return False, state
    return bool(float(history[-params.n :].mean()) <= params.threshold), state


def never(
    history: FloatArray, ctx: DetectorContext, state: JsonState, *, params: NoParams
) -> tuple[bool, JsonState]:
    """Never underloaded (disables consolidation of lightly loaded hosts)."""
    return False, state


UNDERLOAD.register(
    AlgorithmSpec("threshold", threshold, UnderloadThresholdParams, "static threshold")
)
UNDERLOAD.register(
    AlgorithmSpec(
        "last-n-average", last_n_average_threshold, LastNAverageParams, "threshold on a mean"
    )
)
UNDERLOAD.register(AlgorithmSpec("never", never, NoParams, "never underloaded"))
