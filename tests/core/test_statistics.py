"""Adaptive-threshold overload detectors (MAD, IQR) and their statistics."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleetwise.core.overload import OVERLOAD
from fleetwise.core.overload.statistics import iqr, legacy_median, mad
from fleetwise.core.types import DetectorContext

CTX = DetectorContext()
samples = st.lists(
    st.floats(min_value=0.0, max_value=2.0, allow_nan=False), min_size=1, max_size=40
)


def overloaded(name: str, history: Sequence[float], **params: object) -> bool:
    detector = OVERLOAD.build(name, params)
    decision, state = detector(np.asarray(history, dtype=np.float64), CTX, {})
    assert state == {}
    return decision


# ----------------------------------------------------------------- legacy median


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([0.25], 0.25),  # n = 1: position 1 = the only value
        ([5.0, 1.0, 3.0], 3.0),  # odd n = 3: position 2 of 1, 3, 5
        ([4.0, 1.0, 3.0, 2.0], 2.5),  # even n = 4: position 2.5 -> 2 + 0.5·(3 − 2)
        ([9.0, 1.0], 5.0),  # n = 2: position 1.5 -> 1 + 0.5·(9 − 1)
    ],
)
def test_legacy_median_by_hand(values: list[float], expected: float) -> None:
    assert legacy_median(np.asarray(values)) == expected


def test_legacy_median_interpolates_as_lower_plus_fraction_of_gap() -> None:
    # Position 1.5 of (0.1, 0.7): 0.1 + 0.5·(0.7 − 0.1) = 0.1 + 0.3 = 0.4 exactly in doubles,
    # whereas the midpoint formula (0.1 + 0.7)/2 rounds to 0.39999999999999997.
    assert legacy_median(np.asarray([0.7, 0.1])) == 0.4
    assert (0.1 + 0.7) / 2 != 0.4


@given(samples)
def test_legacy_median_equals_the_usual_median(values: list[float]) -> None:
    array = np.asarray(values)
    assert legacy_median(array) == pytest.approx(float(np.median(array)), rel=1e-12, abs=1e-15)


# ----------------------------------------------------------------------- MAD

# Twelve values, current (last) 0.8. Sorted: 0.2 0.3 0.4 0.4 0.5 0.5 0.5 0.5 0.6 0.6 0.7 0.8;
# median = position 6.5 = 0.5. |x − 0.5| sorted: 0 0 0 0 .1 .1 .1 .1 .2 .2 .3 .3 -> MAD = 0.1.
MAD_CASE = [0.5, 0.4, 0.6, 0.5, 0.3, 0.7, 0.5, 0.4, 0.6, 0.5, 0.2, 0.8]


def test_mad_by_hand() -> None:
    assert mad(np.asarray(MAD_CASE)) == pytest.approx(0.1)


def test_mad_detector_by_hand() -> None:
    # Default safety 2.5: T = 1 − 2.5·0.1 = 0.75 < 0.8 -> overloaded.
    assert overloaded("mad", MAD_CASE) is True
    # Safety 1.5: T = 0.85 > 0.8 -> not overloaded.
    assert overloaded("mad", MAD_CASE, safety=1.5) is False


def test_mad_is_zero_when_most_values_are_equal() -> None:
    # Eight of twelve values are 0.5: more than half the deviations are 0, so MAD = 0 and
    # T = 1. The current 1.0 is not above 1 (strict) but reaches it (inclusive).
    history = [0.5] * 8 + [0.0, 0.2, 0.9, 1.0]
    assert mad(np.asarray(history)) == 0.0
    assert overloaded("mad", history) is False
    assert overloaded("mad", history, inclusive=True) is True


def test_mad_on_all_equal_values() -> None:
    assert overloaded("mad", [0.6] * 12) is False  # T = 1, 0.6 <= 1
    assert overloaded("mad", [1.0] * 12) is False  # 1.0 > 1.0 is false
    assert overloaded("mad", [1.0] * 12, inclusive=True) is True
    assert overloaded("mad", [1.25] * 12) is True  # uncapped demand above 1


@given(samples)
def test_mad_is_non_negative_and_order_free(values: list[float]) -> None:
    array = np.asarray(values)
    assert mad(array) >= 0.0
    assert mad(array[::-1]) == mad(array)


# ----------------------------------------------------------------------- IQR


def test_iqr_at_17_values_uses_indices_4_and_13() -> None:
    # Sorted k²/1000 for k = 1..17. q1 = round(0.25·18) − 1 = round(4.5) − 1 = 4 (half up)
    # -> 25/1000; q3 = round(13.5) − 1 = 13 -> 196/1000; IQR = 0.171. Banker's rounding would
    # take index 3 (16/1000) and give 0.180.
    values = np.asarray([k * k / 1000 for k in range(17, 0, -1)])
    assert iqr(values) == pytest.approx(0.171)


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (1, 0.0),  # indices 0, 0 (q3 index 1 clamped)
        (2, 1.0),  # round(0.75) − 1 = 0, round(2.25) − 1 = 1: 1 − 0
        (3, 4.0),  # round(1) − 1 = 0, round(3) − 1 = 2: 4 − 0
        (4, 9.0),  # round(1.25) − 1 = 0, round(3.75) − 1 = 3: 9 − 0
        (5, 15.0),  # round(1.5) − 1 = 1, round(4.5) − 1 = 4: 16 − 1 (half up)
        (6, 15.0),  # round(1.75) − 1 = 1, round(5.25) − 1 = 4: 16 − 1
        (7, 24.0),  # round(2) − 1 = 1, round(6) − 1 = 5: 25 − 1
        (9, 45.0),  # round(2.5) − 1 = 2, round(7.5) − 1 = 7: 49 − 4 (half up)
    ],
)
def test_iqr_indices_for_small_n(n: int, expected: float) -> None:
    # Values are the squares 0, 1, 4, 9, … so that every index gives a different value.
    values = np.asarray([float(k * k) for k in range(n)])[::-1]
    assert iqr(values) == expected


# Twelve values, current 0.5. Sorted: .10 .15 .20 .25 .30 .35 .40 .45 .50 .55 .60 .90;
# q1 = round(3.25) − 1 = 2 -> 0.20, q3 = round(9.75) − 1 = 9 -> 0.55; IQR = 0.35.
IQR_CASE = [0.30, 0.10, 0.45, 0.20, 0.60, 0.35, 0.90, 0.40, 0.55, 0.25, 0.15, 0.50]


def test_iqr_detector_by_hand() -> None:
    assert iqr(np.asarray(IQR_CASE)) == pytest.approx(0.35)
    # Default safety 1.5: T = 1 − 0.525 = 0.475 < 0.5 -> overloaded.
    assert overloaded("iqr", IQR_CASE) is True
    # Safety 1.0: T = 0.65 > 0.5 -> not overloaded.
    assert overloaded("iqr", IQR_CASE, safety=1.0) is False


def test_zero_iqr_gives_threshold_one() -> None:
    # Eleven equal values and one spike: q1 and q3 (indices 2 and 9) are both 0.3.
    history = [0.3] * 11 + [1.0]
    assert iqr(np.asarray(history)) == 0.0
    assert overloaded("iqr", history) is False
    assert overloaded("iqr", history, inclusive=True) is True


@given(samples)
def test_iqr_is_non_negative_and_order_free(values: list[float]) -> None:
    array = np.asarray(values)
    assert iqr(array) >= 0.0
    assert iqr(array[::-1]) == iqr(array)


# --------------------------------------------------------- short history, fallback


@pytest.mark.parametrize("name", ["mad", "iqr"])
def test_short_history_uses_the_static_fallback(name: str) -> None:
    # 11 values < min_history 12: THR 0.7, strict.
    assert overloaded(name, [0.1] * 10 + [0.71]) is True
    assert overloaded(name, [0.1] * 10 + [0.7]) is False
    assert overloaded(name, [0.1] * 10 + [0.71], fallback_threshold=0.9) is False


@pytest.mark.parametrize("name", ["mad", "iqr"])
def test_fallback_none_means_not_overloaded_with_short_history(name: str) -> None:
    assert overloaded(name, [0.99] * 11, fallback_threshold=None) is False
    assert overloaded(name, [], fallback_threshold=None) is False
    assert overloaded(name, []) is False


@pytest.mark.parametrize("name", ["mad", "iqr"])
def test_min_history_is_the_switch_point(name: str) -> None:
    # Three equal values: dispersion 0, T = 1; 0.9 is below it, though above the fallback 0.7.
    assert overloaded(name, [0.9, 0.9, 0.9], min_history=3) is False
    assert overloaded(name, [0.9, 0.9, 0.9], min_history=4) is True


def test_neat_style_mad() -> None:
    # Neat: "if len(u) < limit: False; else overloaded iff 1 − s·MAD <= u[-1]".
    neat = {"fallback_threshold": None, "inclusive": True, "min_history": 12}
    assert overloaded("mad", MAD_CASE[:-1], **neat) is False  # 11 values: too few
    # MAD = 0.1, u = 0.8: s = 2.5 gives T = 0.75 <= 0.8; s = 1.5 gives T = 0.85 > 0.8.
    assert overloaded("mad", MAD_CASE, safety=2.5, **neat) is True
    assert overloaded("mad", MAD_CASE, safety=1.5, **neat) is False


@given(samples, st.floats(0.0, 10.0))
def test_mad_detector_matches_the_formula(values: list[float], safety: float) -> None:
    history = np.asarray(values)
    expected = (
        float(history[-1]) > 1.0 - safety * mad(history)
        if history.size >= 12
        else float(history[-1]) > 0.7
    )
    assert overloaded("mad", values, safety=safety) is expected
