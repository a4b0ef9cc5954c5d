"""Coefficients of determination by Householder QR, step for step as commons-math 3 computes them.

For every column of a data matrix, :func:`householder_r_squared` fits an ordinary
least-squares model of that column on an intercept and the other columns, and returns
its R². The arithmetic repeats the IEEE-754 operations of Apache commons-math 3's
``OLSMultipleLinearRegression`` (default singularity threshold 0) in the same order, so
the results equal the Java values bit for bit:

* the design ``[1, other columns in order]`` is factorised by Householder reflections,
  column by column: ``a = -‖x‖`` if the pivot is positive, else ``+‖x‖``; the pivot
  becomes ``x_kk - a`` and each later column ``c`` loses ``α·v`` with
  ``α = (0 - Σ c_r·v_r) / (a·v_k)``;
* the design is singular iff some ``a`` is exactly 0;
* the reflections are applied to ``y``, ``R·β = Qᵀy`` is solved backwards, the fitted
  values are ``Σ_c X_rc·β_c`` and ``RSS = Σ (y - ŷ)²``;
* ``SS_tot`` is the incremental second moment of ``y`` (Welford's update), and
  ``R² = 1 - RSS/SS_tot``: ``-inf`` or NaN for a constant ``y``.

Every sum runs left to right from ``+0.0``, as a Java accumulation loop does. The
loops are compiled (numba, with numpy's floating-point error model: no exceptions,
infinities and NaN as IEEE-754 gives them); each operation rounds exactly like the
scalar Java one.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from fleetwise.core.types import FloatArray

__all__ = ["all_r_squared", "householder_r_squared"]


@njit(cache=True, error_model="numpy")
def _second_moment(samples: FloatArray) -> float:
    """Sum of squared deviations of ``samples``, by the incremental (Welford) update."""
    mean = 0.0
    moment = 0.0
    for count in range(1, samples.size + 1):
        deviation = samples[count - 1] - mean
        scaled = deviation / float(count)
        mean = mean + scaled
        moment = moment + (float(count) - 1.0) * deviation * scaled
    return moment


@njit(cache=True, error_model="numpy")
def _reflect(qrt: FloatArray, k: int, diagonal: FloatArray, columns: range) -> bool:
    """Pivot on row ``k`` of a transposed design and reflect the rows in ``columns``.

    False if the pivot is exactly zero (the design is singular).
    """
    m = qrt.shape[1]
    squares = 0.0
    for r in range(k, m):
        squares += qrt[k, r] * qrt[k, r]
    norm = math.sqrt(squares)
    a = -norm if qrt[k, k] > 0.0 else norm
    if a == 0.0:
        return False
    diagonal[k] = a
    qrt[k, k] -= a
    for c in columns:
        dot = 0.0
        for r in range(k, m):
            dot += qrt[c, r] * qrt[k, r]
        alpha = (0.0 - dot) / (a * qrt[k, k])
        for r in range(k, m):
            qrt[c, r] -= alpha * qrt[k, r]
    return True


@njit(cache=True, error_model="numpy")
def _r_squared(
    columns: FloatArray, target: int, qrt: FloatArray, diagonal: FloatArray, y: FloatArray
) -> float:
    """R² of column ``target`` from its factorised design and its reflected values ``y``."""
    m, n = columns.shape
    beta = np.empty(n)
    for row in range(n - 1, -1, -1):
        y[row] /= diagonal[row]
        value = y[row]
        beta[row] = value
        for r in range(row):
            y[r] -= value * qrt[row, r]
    original = columns[:, target]
    rss = 0.0
    for r in range(m):
        fitted = beta[0]  # the intercept column is ones: 0 + 1·β₀
        c = 1
        for j in range(n):
            if j != target:
                fitted += columns[r, j] * beta[c]
                c += 1
        residual = original[r] - fitted
        rss += residual * residual
    return 1.0 - rss / _second_moment(original.copy())


@njit(cache=True, error_model="numpy")
def all_r_squared(columns: FloatArray) -> tuple[bool, FloatArray]:
    """Every column's R² (compiled callers); False when any design is exactly singular.

    Column ``i``'s design is ``[1, c_0 … c_(i-1), c_(i+1) …]``: its first ``i + 1``
    pivots are those of every later design, so their reflections are computed once,
    on all columns, and each design only continues from there. Every value is reached
    by the same operations as in a factorisation of its own.
    """
    m, n = columns.shape
    scores = np.empty(n)
    shared = np.ones((n + 1, m))  # row 0: the intercept, row j + 1: column j
    shared[1:] = columns.T
    diagonal = np.empty(n)
    qrt = np.empty((n, m))
    for i in range(n):
        # shared rows 0..i are design i's first pivots (ones, c_0 … c_(i-1)); the newest
        # one is reflected onto every later row, column i included
        if not _reflect(shared, i, diagonal, range(i + 1, n + 1)):
            return False, scores
        qrt[: i + 1] = shared[: i + 1]
        qrt[i + 1 :] = shared[i + 2 :]
        y = shared[i + 1].copy()  # column i with the shared reflections applied
        for k in range(i + 1, n):
            if not _reflect(qrt, k, diagonal, range(k + 1, n)):
                return False, scores
            dot = 0.0
            for r in range(k, m):
                dot += y[r] * qrt[k, r]
            dot = dot / (diagonal[k] * qrt[k, k])
            for r in range(k, m):
                y[r] += dot * qrt[k, r]
        scores[i] = _r_squared(columns, i, qrt, diagonal, y)
    return True, scores


def householder_r_squared(columns: FloatArray) -> FloatArray | None:
    """R² of each column of ``columns`` (shape ``(m, n)``) on an intercept and the others.

    Requires ``2 <= n <= m`` (fewer rows than regressors plus intercept is an error in
    commons-math too). Returns None when any of the ``n`` designs is exactly singular.
    """
    m, n = columns.shape
    if not 2 <= n <= m:
        raise ValueError(f"need 2 <= columns <= rows, got {n} columns and {m} rows")
    regular, scores = all_r_squared(np.ascontiguousarray(columns, dtype=np.float64))
    return scores if regular else None
