"""The shared-prefix Householder R² equals factorising every design on its own, bit for bit.

Both are compiled, so that they run the same floating-point operations.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit

from fleetwise.core.selection._householder import all_r_squared

FloatArray = np.ndarray


@njit(error_model="numpy")
def _one_design(columns: FloatArray, target: int) -> tuple[bool, float]:
    """R² of ``target`` by a factorisation of its own design (commons-math's steps)."""
    m, n = columns.shape
    design = np.ones((n, m))
    row = 1
    for j in range(n):
        if j != target:
            design[row] = columns[:, j]
            row += 1
    qrt = design.copy()
    diagonal = np.empty(n)
    for k in range(n):
        squares = 0.0
        for r in range(k, m):
            squares += qrt[k, r] * qrt[k, r]
        norm = math.sqrt(squares)
        a = -norm if qrt[k, k] > 0.0 else norm
        if a == 0.0:
            return False, 0.0
        diagonal[k] = a
        qrt[k, k] -= a
        for c in range(k + 1, n):
            dot = 0.0
            for r in range(k, m):
                dot += qrt[c, r] * qrt[k, r]
            alpha = (0.0 - dot) / (a * qrt[k, k])
            for r in range(k, m):
                qrt[c, r] -= alpha * qrt[k, r]
    y = columns[:, target].copy()
    for k in range(n):
        dot = 0.0
        for r in range(k, m):
            dot += y[r] * qrt[k, r]
        dot = dot / (diagonal[k] * qrt[k, k])
        for r in range(k, m):
            y[r] += dot * qrt[k, r]
    beta = np.empty(n)
    for row in range(n - 1, -1, -1):
        y[row] /= diagonal[row]
        beta[row] = y[row]
        for r in range(row):
            y[r] -= beta[row] * qrt[row, r]
    rss = 0.0
    for r in range(m):
        fitted = 0.0
        for c in range(n):
            fitted += design[c, r] * beta[c]
        residual = columns[r, target] - fitted
        rss += residual * residual
    mean = 0.0
    moment = 0.0
    for count in range(1, m + 1):
        deviation = columns[count - 1, target] - mean
        scaled = deviation / float(count)
        mean = mean + scaled
        moment = moment + (float(count) - 1.0) * deviation * scaled
    return True, 1.0 - rss / moment


@st.composite
def designs(draw: st.DrawFn) -> FloatArray:
    m = draw(st.integers(2, 12))
    n = draw(st.integers(2, m))
    levels = draw(st.sampled_from([3, 7, 100]))  # few levels: ties, repeats, singular designs
    cells = draw(st.lists(st.integers(0, levels), min_size=m * n, max_size=m * n))
    columns = np.asarray(cells, dtype=np.float64).reshape(m, n) / levels
    if draw(st.booleans()):
        columns[:, draw(st.integers(0, n - 1))] = columns[:, draw(st.integers(0, n - 1))]
    return np.ascontiguousarray(columns)


@settings(max_examples=300, deadline=None)
@given(columns=designs())
def test_shared_prefix_factorisation_equals_one_design_at_a_time(columns: FloatArray) -> None:
    expected = [_one_design(columns, i) for i in range(columns.shape[1])]
    regular, scores = all_r_squared(columns)
    assert regular == all(ok for ok, _ in expected)
    if regular:
        np.testing.assert_array_equal(scores, np.array([r2 for _, r2 in expected]))
