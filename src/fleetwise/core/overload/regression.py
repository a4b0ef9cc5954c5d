"""Local-regression overload detectors: LR and robust LR (LRR).

A line is fitted to the last ``length`` utilisation values (x = 1 … length, oldest
first) and extrapolated ``horizon`` steps ahead, where the horizon is the migration
time in steps; the host is overloaded when ``safety · prediction >= threshold``.

Variants, by parameter:

* ``weighting="tricube"`` (default): weighted least squares with effective weights
  ``k_i²``, ``k_i = (1 − ((n−1−i)/(n−1))³)³`` and the first three weights equal,
  so recent values count most. This is the published algorithm's intent (CloudSim
  2012 and Neat). ``"none"``: plain least squares, what CloudSim 3.0.3 actually runs
  (its weighting is skipped, which also makes LRR identical to LR).
* ``horizon="ceil"`` (default, CloudSim): ``ceil(Tm / Δt)`` steps; ``"exact"`` (Neat):
  ``Tm / Δt``.
* ``fallback_threshold``: static threshold with too little history (CloudSim 0.7);
  ``None`` means not overloaded (Neat).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import Field

from fleetwise.core.overload.registry import OVERLOAD
from fleetwise.core.registry import AlgorithmSpec, Params
from fleetwise.core.types import DetectorContext, FloatArray, JsonState

__all__ = [
    "RegressionParams",
    "bisquare_weights",
    "fit_line",
    "local_regression",
    "local_regression_robust",
    "tricube_weights",
]


class RegressionParams(Params):
    """Parameters of LR and LRR (the paper's best safety is 1.2)."""

    safety: float = Field(1.2, gt=0.0, le=10.0)
    length: int = Field(10, ge=3, le=10_000)
    threshold: float = Field(1.0, gt=0.0, le=2.0)
    weighting: Literal["tricube", "none"] = "tricube"
    horizon: Literal["ceil", "exact"] = "ceil"
    fallback_threshold: float | None = Field(0.7, gt=0.0, le=2.0)


def tricube_weights(n: int) -> FloatArray:
    """Tricube weights for ``n`` points, oldest first, the first three equal."""
    i = np.arange(n, dtype=np.float64)
    k = (1.0 - ((n - 1 - i) / (n - 1)) ** 3) ** 3
    k[:3] = k[2]
    return k


def bisquare_weights(residuals: FloatArray) -> FloatArray:
    """Robustness weights ``(1 − (r / 6·median|r|)²)²``, 0 beyond; ones if median|r| is 0."""
    scale = 6.0 * float(np.median(np.abs(residuals)))
    if scale == 0.0:
        return np.ones_like(residuals)
    u = residuals / scale
    out = (1.0 - u * u) ** 2
    out[np.abs(u) >= 1.0] = 0.0
    out[:2] = out[2]
    return out


def fit_line(x: FloatArray, y: FloatArray, weights: FloatArray | None) -> tuple[float, float]:
    """Weighted least-squares line ``y = a + b·x``; ``weights=None`` is ordinary LS."""
    if weights is None:
        x_mean = float(x.mean())
        y_mean = float(y.mean())
        dx = x - x_mean
        sxx = float(dx @ dx)
        b = float(dx @ (y - y_mean)) / sxx
        return y_mean - b * x_mean, b
    w_sum = float(weights.sum())
    if w_sum <= 0.0:
        return fit_line(x, y, None)
    x_mean = float(weights @ x) / w_sum
    y_mean = float(weights @ y) / w_sum
    dx = x - x_mean
    sxx = float(weights @ (dx * dx))
    if sxx == 0.0:
        return y_mean, 0.0
    b = float(weights @ (dx * (y - y_mean))) / sxx
    return y_mean - b * x_mean, b


def _predict(
    history: FloatArray, ctx: DetectorContext, params: RegressionParams, robust: bool
) -> float:
    n = params.length
    y = history[-n:]
    x = np.arange(1.0, n + 1.0)
    weights = tricube_weights(n) ** 2 if params.weighting == "tricube" else None
    a, b = fit_line(x, y, weights)
    if robust:
        residuals = y - (a + b * x)
        robust_w = bisquare_weights(residuals)
        base = tricube_weights(n) if params.weighting == "tricube" else np.ones(n)
        combined = (base * robust_w) ** 2 if params.weighting == "tricube" else None
        a, b = fit_line(x, y, combined)
    steps = ctx.migration_time_s / ctx.time_step_s
    ahead = math.ceil(steps) if params.horizon == "ceil" else steps
    return a + b * (n + ahead)


def _decide(
    history: FloatArray, ctx: DetectorContext, params: RegressionParams, robust: bool
) -> bool:
    if history.size < params.length:
        if params.fallback_threshold is None or history.size == 0:
            return False
        return bool(history[-1] > params.fallback_threshold)
    predicted = _predict(history, ctx, params, robust)
    return params.safety * predicted >= params.threshold


def local_regression(
    history: FloatArray, ctx: DetectorContext, state: JsonState, *, params: RegressionParams
) -> tuple[bool, JsonState]:
    """LR: overloaded when the extrapolated utilisation, times ``safety``, reaches ``threshold``."""
    return _decide(history, ctx, params, robust=False), state


def local_regression_robust(
    history: FloatArray, ctx: DetectorContext, state: JsonState, *, params: RegressionParams
) -> tuple[bool, JsonState]:
    """LRR: LR refitted once with bisquare robustness weights."""
    return _decide(history, ctx, params, robust=True), state


OVERLOAD.register(AlgorithmSpec("lr", local_regression, RegressionParams, "local regression"))
OVERLOAD.register(
    AlgorithmSpec("lrr", local_regression_robust, RegressionParams, "robust local regression")
)
