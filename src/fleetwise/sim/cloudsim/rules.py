"""CloudSim's host overload rules, compiled (numba).

The host history is the newest-first array ``H`` of summed VM utilisation histories
(trailing zeros trimmed) and ``rho`` the host's current requested utilisation. THR,
MAD and IQR compare ``rho`` with their threshold; LR/LRR extrapolate ``H``. Too
little history falls back to a static 0.7 threshold. Same arithmetic as the readable
:class:`~fleetwise.sim.cloudsim.detectors.CloudSimDetector`: spreads and unweighted
predictions match it to the last bit, the 2012 weighted regression to rounding.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from numba import njit

from fleetwise.core.overload.regression import tricube_weights
from fleetwise.sim.cloudsim.codes import IQR, LR, LRR, MAD, RULE_KINDS, THR
from fleetwise.sim.cloudsim.detectors import FALLBACK_THRESHOLD

__all__ = [
    "IQR",
    "LR",
    "LRR",
    "MAD",
    "THR",
    "Rule",
    "overloaded",
    "prediction",
    "rule_for",
    "spread",
]

FloatArray = npt.NDArray[np.float64]


class Rule(NamedTuple):
    """A compiled overload rule with its parameter."""

    kind: int
    param: float
    weighted: bool  # the 2012 tricube (and bisquare) weighted regression
    tricube: FloatArray  # tricube weights of 10 points, oldest first


def rule_for(kind: str, param: float, lr_weighting: str = "none") -> Rule:
    """The compiled form of CloudSim policy ``kind`` with ``param``."""
    weighted = lr_weighting != "none" and kind in ("lr", "lrr")
    return Rule(RULE_KINDS[kind], float(param), weighted, tricube_weights(10))


@njit(cache=True)
def _median_of_sorted(values: FloatArray, n: int) -> float:
    """CloudSim's percentile-50 estimator on sorted values (position (n + 1) / 2)."""
    pos = (n + 1) / 2.0
    if pos < 1.0:
        return float(values[0])
    if pos >= n:
        return float(values[n - 1])
    k = math.floor(pos)
    lower = values[k - 1]
    return float(lower + (pos - k) * (values[k] - lower))


@njit(cache=True)
def _insertion_sorted(values: FloatArray) -> FloatArray:
    """A sorted copy (histories hold at most 30 values, where insertion sort is fastest)."""
    out = values.copy()
    for i in range(1, out.size):
        x = out[i]
        j = i - 1
        while j >= 0 and out[j] > x:
            out[j + 1] = out[j]
            j -= 1
        out[j + 1] = x
    return out


@njit(cache=True)
def _sum10(y: FloatArray) -> float:
    """Sum of 10 values in numpy's pairwise order (8 partial sums, then the tail)."""
    total = ((y[0] + y[1]) + (y[2] + y[3])) + ((y[4] + y[5]) + (y[6] + y[7]))
    total += y[8]
    total += y[9]
    return float(total)


@njit(cache=True)
def _dot(a: FloatArray, b: FloatArray) -> float:
    total = 0.0
    for i in range(a.size):
        total += a[i] * b[i]
    return total


@njit(cache=True)
def _fit_line(x: FloatArray, y: FloatArray, w: FloatArray) -> tuple[float, float]:
    """Weighted least-squares line ``y = a + b·x`` (ordinary when the weights sum to 0)."""
    w_sum = _sum10(w)
    if w_sum <= 0.0:
        x_mean = _sum10(x) / 10.0
        y_mean = _sum10(y) / 10.0
        dx = x - x_mean
        b = _dot(dx, y - y_mean) / _dot(dx, dx)
        return y_mean - b * x_mean, b
    x_mean = _dot(w, x) / w_sum
    y_mean = _dot(w, y) / w_sum
    dx = x - x_mean
    sxx = _dot(w, dx * dx)
    if sxx == 0.0:
        return y_mean, 0.0
    b = _dot(w, dx * (y - y_mean)) / sxx
    return y_mean - b * x_mean, b


@njit(cache=True)
def _bisquare(residuals: FloatArray) -> FloatArray:
    """Robustness weights ``(1 − (r / 6·median|r|)²)²``, 0 beyond; ones if median|r| is 0."""
    scale = 6.0 * np.median(np.abs(residuals))
    out = np.ones(residuals.size)
    if scale == 0.0:
        return out
    for i in range(residuals.size):
        u = residuals[i] / scale
        out[i] = 0.0 if abs(u) >= 1.0 else (1.0 - u * u) ** 2
    out[0] = out[2]
    out[1] = out[2]
    return out


@njit(cache=True)
def _weighted_prediction(rule: Rule, y: FloatArray) -> float:
    x = np.arange(1.0, 11.0)
    a, b = _fit_line(x, y, rule.tricube * rule.tricube)
    if rule.kind == LRR:
        robust = rule.tricube * _bisquare(y - (a + b * x))
        a, b = _fit_line(x, y, robust * robust)
    return a + b * 11.0


@njit(cache=True)
def spread(rule: Rule, history: FloatArray) -> float:
    """MAD or IQR of ``history`` (at least 12 values), as CloudSim estimates them."""
    n = history.size
    ordered = _insertion_sorted(history)
    if rule.kind == MAD:
        med = _median_of_sorted(ordered, n)
        return _median_of_sorted(_insertion_sorted(np.abs(med - history)), n)
    q1 = min(max(math.floor(0.25 * (n + 1) + 0.5) - 1, 0), n - 1)
    q3 = min(max(math.floor(0.75 * (n + 1) + 0.5) - 1, 0), n - 1)
    return float(ordered[q3] - ordered[q1])


@njit(cache=True)
def prediction(rule: Rule, history: FloatArray) -> float:
    """The next utilisation extrapolated from the newest 10 values of ``history``."""
    if rule.weighted:
        return _weighted_prediction(rule, history[9::-1].copy())
    # Ordinary least squares on the newest 10 values, oldest first (y[i] = H[9 - i]),
    # at x = 1..10, evaluated at x = 11: ȳ + 5.5·b.
    dot = 0.0
    for i in range(10):
        dot += (i + 1.0 - 5.5) * history[9 - i]
    slope = dot / 82.5
    h = history
    total = ((h[9] + h[8]) + (h[7] + h[6])) + ((h[5] + h[4]) + (h[3] + h[2]))
    total += h[1]
    total += h[0]
    return float(total / 10.0 + 5.5 * slope)


@njit(cache=True, inline="always")
def overloaded(rule: Rule, history: FloatArray, rho: float) -> bool:
    """CloudSim 3.0.3's overload test on a host's trimmed newest-first history."""
    if rule.kind == THR:
        return bool(rho > rule.param)
    n = history.size
    if rule.kind in (MAD, IQR):
        if n < 12:
            return bool(rho > FALLBACK_THRESHOLD)
        return bool(rho > 1.0 - rule.param * spread(rule, history))
    if n < 10:
        return bool(rho > FALLBACK_THRESHOLD)
    return bool(rule.param * prediction(rule, history) >= 1.0)
