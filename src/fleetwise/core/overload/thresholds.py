"""Threshold overload detectors: THR, last-n THR and never."""

from __future__ import annotations

from pydantic import Field

from fleetwise.core.overload.registry import OVERLOAD
from fleetwise.core.registry import AlgorithmSpec, NoParams, Params
from fleetwise.core.types import DetectorContext, FloatArray, JsonState

__all__ = [
    "LastNThresholdParams",
    "OverloadThresholdParams",
    "last_n_threshold",
    "never",
    "threshold",
]


class OverloadThresholdParams(Params):
    """THR: overloaded when the current utilisation exceeds ``threshold``."""

    threshold: float = Field(0.8, gt=0.0, le=2.0)


class LastNThresholdParams(Params):
    """Last-n THR: overloaded when the mean of the last ``n`` values exceeds ``threshold``."""

    threshold: float = Field(0.8, gt=0.0, le=2.0)
    n: int = Field(2, ge=1)


def threshold(
    history: FloatArray, ctx: DetectorContext, state: JsonState, *, params: OverloadThresholdParams
) -> tuple[bool, JsonState]:
    """Overloaded iff ``history[-1] > threshold``; never overloaded without data."""
    if history.size == 0:
        return False, state
    return bool(history[-1] > params.threshold), state


def last_n_threshold(
    history: FloatArray, ctx: DetectorContext, state: JsonState, *, params: LastNThresholdParams
) -> tuple[bool, JsonState]:
    """Overloaded iff the mean of the last ``n`` values exceeds the threshold."""
    if history.size == 0:
        return False, state
    tail = history[-params.n :]
    return bool(float(tail.mean()) > params.threshold), state


def never(
    history: FloatArray, ctx: DetectorContext, state: JsonState, *, params: NoParams
) -> tuple[bool, JsonState]:
    """Never overloaded (disables overload handling)."""
    return False, state


OVERLOAD.register(
    AlgorithmSpec("thr", threshold, OverloadThresholdParams, "static utilisation threshold")
)
OVERLOAD.register(
    AlgorithmSpec("thr-n", last_n_threshold, LastNThresholdParams, "threshold on a last-n mean")
)
OVERLOAD.register(AlgorithmSpec("never", never, NoParams, "never overloaded"))
