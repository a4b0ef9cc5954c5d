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
def _design(columns: FloatArray, target: int) -> FloatArray:
    """Transposed design of column ``target``: ones, then every other column in order."""
    m, n = columns.shape
    design = np.ones((n, m))
    row = 1
    for j in range(n):
        if j != target:
            design[row] = columns[:, j]
            row += 1
    return design


@njit(cache=True, error_model="numpy")
def _factorise(qrt: FloatArray, diagonal: FloatArray) -> bool:
    """Householder QR of a transposed design in place; False if it is exactly singular."""
    width, m = qrt.shape
    for k in range(width):
        squares = 0.0
        for r in range(k, m):
            squares += qrt[k, r] * qrt[k, r]
        norm = math.sqrt(squares)
        a = -norm if qrt[k, k] > 0.0 else norm
        if a == 0.0:
            return False
        diagonal[k] = a
        qrt[k, k] -= a
        for c in range(k + 1, width):
            dot = 0.0
            for r in range(k, m):
                dot += qrt[c, r] * qrt[k, r]
            alpha = (0.0 - dot) / (a * qrt[k, k])
            for r in range(k, m):
                qrt[c, r] -= alpha * qrt[k, r]
    return True


@njit(cache=True, error_model="numpy")
def _solve(qrt: FloatArray, diagonal: FloatArray, target: FloatArray) -> FloatArray:
    """Least-squares coefficients of ``target`` from its factorised design."""
    width, m = qrt.shape
    y = target.copy()
    for k in range(width):
        dot = 0.0
        for r in range(k, m):
            dot += y[r] * qrt[k, r]
        dot = dot / (diagonal[k] * qrt[k, k])
        for r in range(k, m):
            y[r] += dot * qrt[k, r]
    beta = np.empty(width)
    for row in range(width - 1, -1, -1):
        y[row] /= diagonal[row]
        value = y[row]
        beta[row] = value
        for r in range(row):
            y[r] -= value * qrt[row, r]
    return beta


@njit(cache=True, error_model="numpy")
def all_r_squared(columns: FloatArray) -> tuple[bool, FloatArray]:
    """Every column's R² (compiled callers); False when any design is exactly singular."""
    m, n = columns.shape
    scores = np.empty(n)
    diagonal = np.empty(n)
    for i in range(n):
        design = _design(columns, i)
        qrt = design.copy()
        if not _factorise(qrt, diagonal):
            return False, scores
        target = columns[:, i].copy()
        beta = _solve(qrt, diagonal, target)
        rss = 0.0
        for r in range(m):
            fitted = 0.0
            for c in range(n):
                fitted += design[c, r] * beta[c]
            residual = target[r] - fitted
            rss += residual * residual
        scores[i] = 1.0 - rss / _second_moment(target)
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
