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

Every sum runs left to right from ``+0.0``, as a Java accumulation loop does. The ``n``
regressions are evaluated together along a leading batch axis; element-wise NumPy
operations round exactly like the scalar Java ones.
"""

from __future__ import annotations

import numpy as np

from fleetwise.core.types import FloatArray

__all__ = ["householder_r_squared"]


def _running_sum(terms: FloatArray) -> FloatArray:
    """``0 + t_0 + t_1 + …`` along the last axis, strictly left to right.

    Starting the accumulation at ``t_0`` instead of ``+0`` only differs when every term
    is a zero, where the leading ``+0`` would make the sum ``+0``: adding ``0.0``
    restores that.
    """
    total: FloatArray = np.add.accumulate(terms, axis=-1)[..., -1] + 0.0
    return total


def _running_negated_sum(terms: FloatArray) -> FloatArray:
    """``0 - t_0 - t_1 - …`` along the last axis, strictly left to right.

    Round-to-nearest is symmetric, so each partial difference is the negated partial
    sum, and both are ``+0`` when they vanish.
    """
    total: FloatArray = 0.0 - np.add.accumulate(terms, axis=-1)[..., -1]
    return total


def _second_moment(samples: FloatArray) -> FloatArray:
    """Sum of squared deviations of each row of ``samples``, by the incremental update."""
    mean = np.zeros(samples.shape[0])
    moment = np.zeros(samples.shape[0])
    for count in range(1, samples.shape[1] + 1):
        deviation = samples[:, count - 1] - mean
        scaled = deviation / float(count)
        mean = mean + scaled
        moment = moment + (float(count) - 1.0) * deviation * scaled
    return moment


def _designs(columns: FloatArray) -> FloatArray:
    """Transposed designs, shape ``(n, n, m)``: ``[i, 0]`` is ones, ``[i, 1:]`` the others."""
    m, n = columns.shape
    others = np.array([[j for j in range(n) if j != i] for i in range(n)], dtype=np.intp)
    designs = np.ones((n, n, m))
    designs[:, 1:, :] = columns.T[others]
    return designs


def _factorise(qrt: FloatArray) -> FloatArray | None:
    """Householder QR of every transposed design in place; R's diagonal, or None if singular."""
    batch, width, _ = qrt.shape
    diagonal = np.empty((batch, width))
    for k in range(width):
        pivot_column = qrt[:, k, k:]
        norm = np.sqrt(_running_sum(pivot_column * pivot_column))
        a = np.where(pivot_column[:, 0] > 0.0, -norm, norm)
        if (a == 0.0).any():
            return None
        diagonal[:, k] = a
        qrt[:, k, k] -= a
        if k + 1 < width:
            later = qrt[:, k + 1 :, k:]
            alpha = _running_negated_sum(later * pivot_column[:, None, :])
            alpha = alpha / (a * qrt[:, k, k])[:, None]
            later -= alpha[:, :, None] * pivot_column[:, None, :]
    return diagonal


def _solve(qrt: FloatArray, diagonal: FloatArray, targets: FloatArray) -> FloatArray:
    """Least-squares coefficients of each target from its factorised design."""
    batch, width, _ = qrt.shape
    y = targets.copy()
    for k in range(width):
        reflector = qrt[:, k, k:]
        dot = _running_sum(y[:, k:] * reflector)
        dot = dot / (diagonal[:, k] * reflector[:, 0])
        y[:, k:] += dot[:, None] * reflector
    beta = np.empty((batch, width))
    for row in range(width - 1, -1, -1):
        y[:, row] /= diagonal[:, row]
        value = y[:, row].copy()
        beta[:, row] = value
        y[:, :row] -= value[:, None] * qrt[:, row, :row]
    return beta


def householder_r_squared(columns: FloatArray) -> FloatArray | None:
    """R² of each column of ``columns`` (shape ``(m, n)``) on an intercept and the others.

    Requires ``2 <= n <= m`` (fewer rows than regressors plus intercept is an error in
    commons-math too). Returns None when any of the ``n`` designs is exactly singular.
    """
    m, n = columns.shape
    if not 2 <= n <= m:
        raise ValueError(f"need 2 <= columns <= rows, got {n} columns and {m} rows")
    targets = np.ascontiguousarray(columns.T, dtype=np.float64)
    designs = _designs(targets.T)
    with np.errstate(all="ignore"):
        qrt = designs.copy()
        diagonal = _factorise(qrt)
        if diagonal is None:
            return None
        beta = _solve(qrt, diagonal, targets)
        fitted = _running_sum(np.swapaxes(designs * beta[:, :, None], 1, 2))
        residuals = targets - fitted
        rss = _running_sum(residuals * residuals)
        r_squared: FloatArray = 1.0 - rss / _second_moment(targets)
    return r_squared
