"""Local-regression overload detectors (LR, LRR) and their building blocks.

Predictions are read through the decision: with ``safety=1`` the detector answers
``prediction >= threshold``, so two thresholds bracket the prediction.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleetwise.core.overload import OVERLOAD
from fleetwise.core.overload.regression import bisquare_weights, fit_line, tricube_weights
from fleetwise.core.types import DetectorContext

ONE_STEP = DetectorContext(time_step_s=300.0, migration_time_s=300.0)
X = np.arange(1.0, 11.0)
# y = 0.10, 0.15, …, 0.55 at x = 1..10: the line y = 0.05·x + 0.05; at x = 11 it is 0.60.
LINEAR = [0.05 * x + 0.05 for x in range(1, 11)]
# y = 0.01·(x − 1)² at x = 1..10. OLS by hand with t = x − 1 (mean 4.5, Σ(t − 4.5)² = 82.5,
# Σ(t − 4.5)·t² = Σt³ − 4.5·Σt² = 2025 − 1282.5 = 742.5): b = 0.01·742.5/82.5 = 0.09;
# mean y = 0.285, a = 0.285 − 0.09·5.5 = −0.21; at x = 11: −0.21 + 0.99 = 0.78.
CURVED = [0.01 * (x - 1) ** 2 for x in range(1, 11)]
# LINEAR with one outlier (+0.3 at x = 8). OLS moves by 0.3/10 = 0.03 at the mean x and its
# slope by 0.3·(8 − 5.5)/82.5 = 0.00909: at x = 11 it predicts 0.60 + 0.03 + 0.00909·5.5 = 0.68.
OUTLIER = [*LINEAR[:7], LINEAR[7] + 0.3, *LINEAR[8:]]


def overloaded(
    name: str, history: Sequence[float], ctx: DetectorContext = ONE_STEP, **params: object
) -> bool:
    detector = OVERLOAD.build(name, params)
    decision, state = detector(np.asarray(history, dtype=np.float64), ctx, {})
    assert state == {}
    return decision


def predicts_within(
    name: str,
    history: Sequence[float],
    low: float,
    high: float,
    ctx: DetectorContext = ONE_STEP,
    **params: object,
) -> bool:
    """True iff the prediction lies in [low, high)."""
    reaches_low = overloaded(name, history, ctx, safety=1.0, threshold=low, **params)
    reaches_high = overloaded(name, history, ctx, safety=1.0, threshold=high, **params)
    return reaches_low and not reaches_high


def near(value: float, tol: float = 1e-9) -> tuple[float, float]:
    return value - tol, value + tol


# ---------------------------------------------------------------- weights, fit


def test_tricube_weights_by_hand() -> None:
    # k_i = (1 − ((9 − i)/9)³)³ for n = 10, the first three equal to k_2.
    k = tricube_weights(10)
    k2 = (1 - (7 / 9) ** 3) ** 3  # (386/729)³
    assert k[:3] == pytest.approx([k2, k2, k2])
    assert k[3] == pytest.approx((19 / 27) ** 3)  # 1 − (6/9)³ = 19/27
    assert k[6] == pytest.approx((26 / 27) ** 3)  # 1 − (3/9)³ = 26/27
    assert k[9] == 1.0
    assert np.all(np.diff(k[2:]) > 0)  # strictly more weight on newer values
    assert tricube_weights(3).tolist() == [1.0, 1.0, 1.0]


def test_bisquare_weights_by_hand() -> None:
    # |r| sorted: .1 .1 .1 .1 .1 .3 .7 5 5 -> median 0.1, scale 6·0.1 = 0.6.
    # |r| = 0.1 -> u = 1/6, w = (1 − 1/36)² = (35/36)²; 0.3 -> u = 0.5, w = 0.75² = 0.5625;
    # 0.7 -> u > 1, w = 0; the first two copy the third whatever their residuals.
    residuals = np.asarray([5.0, -5.0, 0.1, -0.1, 0.1, -0.1, 0.3, 0.7, 0.1])
    w = bisquare_weights(residuals)
    mid = (35 / 36) ** 2
    assert w == pytest.approx([mid, mid, mid, mid, mid, mid, 0.5625, 0.0, mid])
    assert w[7] == 0.0


def test_bisquare_weights_with_zero_median_residual_are_ones() -> None:
    assert bisquare_weights(np.asarray([0.0, 0.0, 0.0, 0.5, 0.0])).tolist() == [1.0] * 5


@pytest.mark.parametrize(
    "weights", [None, tricube_weights(10) ** 2, np.linspace(0.1, 3.0, 10)], ids=str
)
def test_fit_line_recovers_an_exact_line(weights: np.ndarray | None) -> None:
    a, b = fit_line(X, np.asarray(LINEAR), weights)
    assert a == pytest.approx(0.05, abs=1e-12)
    assert b == pytest.approx(0.05, abs=1e-12)


@given(
    st.lists(st.floats(0.0, 1.5), min_size=10, max_size=10),
    st.lists(st.floats(0.01, 1.0), min_size=10, max_size=10),
)
def test_weighted_fit_matches_numpy_polyfit(ys: list[float], ws: list[float]) -> None:
    # polyfit multiplies each residual by w_i, i.e. minimises Σ w_i²·r_i².
    y, w = np.asarray(ys), np.asarray(ws)
    a, b = fit_line(X, y, w**2)
    slope, intercept = np.polyfit(X, y, 1, w=w)
    assert b == pytest.approx(slope, abs=1e-9)
    assert a == pytest.approx(intercept, abs=1e-9)


# ------------------------------------------------------------- LR predictions


@pytest.mark.parametrize("name", ["lr", "lrr"])
@pytest.mark.parametrize("weighting", ["tricube", "none"])
def test_prediction_on_linear_data_is_exact(name: str, weighting: str) -> None:
    assert predicts_within(name, LINEAR, *near(0.60), weighting=weighting)


@pytest.mark.parametrize(
    ("migration_time_s", "horizon", "expected"),
    [
        (0.0, "ceil", 0.55),  # 0 steps: x = 10, the fitted current value
        (150.0, "ceil", 0.60),  # ceil(0.5) = 1 step: x = 11
        (150.0, "exact", 0.575),  # 0.5 step: x = 10.5 -> 0.05·10.5 + 0.05
        (600.0, "ceil", 0.65),  # 2 steps either way
        (600.0, "exact", 0.65),
        (390.0, "exact", 0.615),  # 1.3 steps: x = 11.3
        (390.0, "ceil", 0.65),  # ceil(1.3) = 2
    ],
)
def test_horizon_is_migration_time_in_steps(
    migration_time_s: float, horizon: str, expected: float
) -> None:
    ctx = DetectorContext(time_step_s=300.0, migration_time_s=migration_time_s)
    assert predicts_within("lr", LINEAR, *near(expected), ctx, horizon=horizon)


def test_default_decision_uses_safety_times_prediction() -> None:
    # LINEAR predicts 0.6: 1.2·0.6 = 0.72 < 1.
    assert overloaded("lr", LINEAR) is False
    # y = 0.08·x, current value 0.8 < 1, but at x = 11: 0.88 and 1.2·0.88 = 1.056 >= 1.
    assert overloaded("lr", [0.08 * x for x in range(1, 11)]) is True
    # Same data, safety 1.1: 0.968 < 1.
    assert overloaded("lr", [0.08 * x for x in range(1, 11)], safety=1.1) is False


def test_only_the_last_length_values_count() -> None:
    assert predicts_within("lr", [2.0, 0.0, 2.0, 2.0, *LINEAR], *near(0.60))
    # length 5: the last five points are on the same line, so the prediction is unchanged.
    assert predicts_within("lr", [1.5] * 5 + LINEAR[5:], *near(0.60), length=5)


def test_plain_least_squares_on_curved_data_by_hand() -> None:
    assert predicts_within("lr", CURVED, *near(0.78), weighting="none")


def test_tricube_weighting_follows_the_recent_trend() -> None:
    # Effective weights k_i², as numpy's polyfit with w = k: an independent fit of the line.
    slope, intercept = np.polyfit(X, np.asarray(CURVED), 1, w=tricube_weights(10))
    expected = intercept + slope * 11
    assert expected > 0.85  # recent points are steeper than the overall trend
    assert predicts_within("lr", CURVED, *near(expected), weighting="tricube")


def test_tricube_and_none_differ_on_curved_data_and_agree_on_linear_data() -> None:
    assert overloaded("lr", CURVED, safety=1.0, threshold=0.85, weighting="tricube") is True
    assert overloaded("lr", CURVED, safety=1.0, threshold=0.85, weighting="none") is False
    for threshold in (0.6 - 1e-9, 0.6 + 1e-9):
        assert overloaded(
            "lr", LINEAR, safety=1.0, threshold=threshold, weighting="tricube"
        ) == overloaded("lr", LINEAR, safety=1.0, threshold=threshold, weighting="none")


# ------------------------------------------------------------------------ LRR


def test_lrr_resists_one_outlier() -> None:
    # Tricube LR is pulled up to about 0.668 by the outlier; LRR down-weights it (≈ 0.602),
    # much closer to the trend's 0.60.
    assert predicts_within("lr", OUTLIER, 0.66, 0.68)
    assert predicts_within("lrr", OUTLIER, 0.595, 0.61)
    assert overloaded("lr", OUTLIER, safety=1.0, threshold=0.63) is True
    assert overloaded("lrr", OUTLIER, safety=1.0, threshold=0.63) is False


def test_without_weighting_lrr_is_plain_least_squares_like_lr() -> None:
    # CloudSim 3.0.3: both reduce to OLS, 0.68 on OUTLIER (hand computation above).
    assert predicts_within("lr", OUTLIER, *near(0.68), weighting="none")
    assert predicts_within("lrr", OUTLIER, *near(0.68), weighting="none")


@given(
    st.lists(st.floats(0.0, 1.5), min_size=10, max_size=30),
    st.floats(0.5, 2.0),
    st.floats(0.1, 2.0),
    st.sampled_from([0.0, 150.0, 300.0, 900.0]),
)
def test_lr_and_lrr_decide_alike_without_weighting(
    history: list[float], safety: float, threshold: float, migration_time_s: float
) -> None:
    ctx = DetectorContext(time_step_s=300.0, migration_time_s=migration_time_s)
    params = {"safety": safety, "threshold": threshold, "weighting": "none"}
    assert overloaded("lr", history, ctx, **params) == overloaded("lrr", history, ctx, **params)


# ------------------------------------------------------------------- fallback


@pytest.mark.parametrize("name", ["lr", "lrr"])
def test_short_history_uses_the_static_fallback(name: str) -> None:
    # 9 values < length 10: THR 0.7, strict; a rising trend does not matter.
    assert overloaded(name, [0.71] * 9) is True
    assert overloaded(name, [0.1 * x for x in range(1, 8)] + [0.7, 0.7]) is False
    assert overloaded(name, [0.71] * 9, fallback_threshold=0.8) is False
    assert overloaded(name, [0.99] * 9, fallback_threshold=None) is False
    assert overloaded(name, []) is False
    assert overloaded(name, [], fallback_threshold=None) is False
