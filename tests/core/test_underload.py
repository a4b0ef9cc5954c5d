"""Underload detectors: threshold, last-n average and never."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleetwise.core.types import DetectorContext
from fleetwise.core.underload import UNDERLOAD

CTX = DetectorContext()
fractions = st.floats(min_value=0.0, max_value=1.5, allow_nan=False)


def underloaded(name: str, history: Sequence[float], **params: object) -> bool:
    detector = UNDERLOAD.build(name, params)
    decision, state = detector(np.asarray(history, dtype=np.float64), CTX, {})
    assert state == {}
    return decision


@pytest.mark.parametrize(
    ("current", "expected"), [(0.0, True), (0.29, True), (0.3, True), (0.31, False)]
)
def test_threshold_is_inclusive_on_the_current_value(current: float, expected: bool) -> None:
    # Default threshold 0.3, rule u[-1] <= 0.3; earlier values do not matter.
    assert underloaded("threshold", [0.9, 0.9, current]) is expected


def test_threshold_without_data_is_not_underloaded() -> None:
    assert underloaded("threshold", []) is False
    assert underloaded("last-n-average", []) is False


def test_last_n_average_by_hand() -> None:
    # Default threshold 0.5, n = 2.
    assert underloaded("last-n-average", [0.25, 0.75]) is True  # mean 0.5 <= 0.5
    assert underloaded("last-n-average", [0.25, 0.875]) is False  # mean 0.5625
    # Older values are ignored: the mean of the last two is still 0.5625.
    assert underloaded("last-n-average", [0.0, 0.0, 0.0, 0.25, 0.875]) is False
    # n = 5 takes them in: (0 + 0 + 0 + 0.25 + 0.875)/5 = 0.225.
    assert underloaded("last-n-average", [0.0, 0.0, 0.0, 0.25, 0.875], n=5) is True


def test_last_n_average_with_fewer_values_than_n() -> None:
    assert underloaded("last-n-average", [0.5], n=4) is True
    assert underloaded("last-n-average", [0.625], n=4) is False


@given(st.lists(fractions, min_size=1, max_size=20), st.floats(0.0, 1.0))
def test_last_n_average_with_n_1_is_threshold(history: list[float], threshold: float) -> None:
    assert underloaded("last-n-average", history, threshold=threshold, n=1) == underloaded(
        "threshold", history, threshold=threshold
    )


@given(st.lists(fractions, max_size=20))
def test_never_is_never_underloaded(history: list[float]) -> None:
    assert underloaded("never", history) is False
