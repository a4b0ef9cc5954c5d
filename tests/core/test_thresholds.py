"""Static-threshold overload detectors: THR, last-n THR and never."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleetwise.core.overload import OVERLOAD
from fleetwise.core.types import DetectorContext

CTX = DetectorContext()
fractions = st.floats(min_value=0.0, max_value=1.5, allow_nan=False)


def overloaded(name: str, history: Sequence[float], **params: object) -> bool:
    detector = OVERLOAD.build(name, params)
    decision, state = detector(np.asarray(history, dtype=np.float64), CTX, {})
    assert state == {}
    return decision


@pytest.mark.parametrize(
    ("current", "expected"),
    [(0.79, False), (0.8, False), (0.81, True), (1.2, True)],
)
def test_thr_compares_the_current_value_strictly(current: float, expected: bool) -> None:
    # Default threshold 0.8, rule u[-1] > 0.8: equality is not an overload.
    assert overloaded("thr", [0.1, 0.95, current]) is expected


def test_thr_ignores_everything_but_the_current_value() -> None:
    assert overloaded("thr", [1.0, 1.0, 1.0, 0.5], threshold=0.6) is False
    assert overloaded("thr", [0.0, 0.0, 0.0, 0.7], threshold=0.6) is True


def test_thr_without_history_is_not_overloaded() -> None:
    assert overloaded("thr", [], threshold=0.1) is False


def test_thr_n_uses_the_mean_of_the_last_n_values() -> None:
    # n = 2, threshold 0.75: mean(0.5, 1.0) = 0.75 -> not above; the older 1.0s do not count.
    assert overloaded("thr-n", [1.0, 1.0, 0.5, 1.0], threshold=0.75, n=2) is False
    # mean(0.5, 1.0, 1.0) = 0.8333 > 0.75 with n = 3.
    assert overloaded("thr-n", [1.0, 1.0, 0.5, 1.0], threshold=0.75, n=3) is True
    # Current value 0.9 alone exceeds 0.75, but mean(0.5, 0.9) = 0.7 does not.
    assert overloaded("thr-n", [0.5, 0.9], threshold=0.75, n=2) is False


def test_thr_n_with_fewer_values_than_n_averages_what_there_is() -> None:
    # One value, n = 5: mean is the value itself.
    assert overloaded("thr-n", [0.9], threshold=0.8, n=5) is True
    assert overloaded("thr-n", [0.8], threshold=0.8, n=5) is False
    assert overloaded("thr-n", [], threshold=0.8, n=5) is False


@given(st.lists(fractions, min_size=1, max_size=20), st.floats(0.05, 1.5))
def test_thr_n_with_n_1_is_thr(history: list[float], threshold: float) -> None:
    assert overloaded("thr-n", history, threshold=threshold, n=1) == overloaded(
        "thr", history, threshold=threshold
    )


@given(st.lists(fractions, max_size=20))
def test_never_is_never_overloaded(history: list[float]) -> None:
    assert overloaded("never", history) is False
