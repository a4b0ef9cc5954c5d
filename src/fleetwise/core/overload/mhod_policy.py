"""MHOD's control problem: how long can the host run before it must migrate a VM?

A policy ``m`` gives, per state ``i``, the probability ``m_i`` of migrating a VM at a
step spent in state ``i``. With the estimated transition matrix ``P̂`` and the
current state as one-hot row ``π``, the expected number of steps spent in each state
before the migration is

    [L_0 … L_N] = π · (I − diag(1 − m) · P̂)^−1

(the fundamental matrix of the chain absorbed by the migration). The policy is
chosen by brute force over ``m ∈ {0, step, 2·step, … ≤ 1}^(N+1)``: maximise
``Σ L_i`` subject to the overload time fraction including the migration time ``tm``
(in steps) and the steps already observed,
``(tm + observed_in_overload + L_N) / (tm + observed + Σ L_i) <= otf``.

Policies under which the expected time is unbounded (the spectral radius of
``diag(1 − m)·P̂`` is 1 or more, e.g. ``m = 0`` with a stochastic ``P̂``) have no
finite ``L`` and are skipped. They are recognised without eigenvalues:
``I − diag(1 − m)·P̂`` is a Z-matrix, and the series ``Σ_k (diag(1 − m)·P̂)^k``
converges iff all its leading principal minors are positive (it is then a
nonsingular M-matrix).
"""

from __future__ import annotations

import math

import numpy as np

from fleetwise.core.types import FloatArray

__all__ = ["SINGULAR_TOLERANCE", "best_policy", "expected_steps", "policy_grid"]

SINGULAR_TOLERANCE = 1e-12
"""Elimination pivots at or below this count as zero (unbounded expectation)."""


def policy_grid(n_states: int, step: float) -> FloatArray:
    """All policies with entries in ``{0, step, 2·step, … ≤ 1}``, first state outermost."""
    levels = np.arange(math.floor(1.0 / step + 1e-9) + 1, dtype=np.float64) * step
    mesh = np.meshgrid(*([levels] * n_states), indexing="ij")
    return np.stack(mesh, axis=-1).reshape(-1, n_states)


def expected_steps(transitions: FloatArray, start: int, policies: FloatArray) -> FloatArray:
    """Expected steps spent in each state before migrating, for each policy.

    ``transitions`` is ``P̂`` (``S × S``), ``policies`` a ``G × S`` array of ``m``.
    Returns ``G × S``; rows of policies with an unbounded expectation are NaN.

    Solves ``(I − diag(1 − m)·P̂)ᵀ · Lᵀ = π`` for all policies at once by Gaussian
    elimination without pivoting, vectorised over the policies (a LAPACK call per
    small matrix costs more than the arithmetic). Elimination without pivoting is
    sound here: the pivots are the ratios of consecutive leading principal minors,
    so they are all positive exactly when the expectation is bounded, and then the
    matrix is an M-matrix, for which this elimination is stable.
    """
    n_policies, n_states = policies.shape
    kept = (1.0 - policies)[:, :, None] * transitions[None, :, :]
    system = np.swapaxes(np.eye(n_states) - kept, -1, -2)  # transposed, one per policy
    rhs = np.zeros((n_policies, n_states))
    rhs[:, start] = 1.0
    bounded = np.ones(n_policies, dtype=bool)
    pivots = np.ones((n_policies, n_states))
    for k in range(n_states):
        bounded &= system[:, k, k] > SINGULAR_TOLERANCE
        pivots[:, k] = np.where(bounded, system[:, k, k], 1.0)
        factors = system[:, k + 1 :, k] / pivots[:, k, None]
        system[:, k + 1 :, k:] -= factors[:, :, None] * system[:, None, k, k:]
        rhs[:, k + 1 :] -= factors * rhs[:, k, None]
    result = np.zeros((n_policies, n_states))
    for k in reversed(range(n_states)):
        known = (system[:, k, k + 1 :] * result[:, k + 1 :]).sum(axis=1)
        result[:, k] = (rhs[:, k] - known) / pivots[:, k]
    result[~bounded] = np.nan
    return result


def best_policy(
    transitions: FloatArray,
    start: int,
    *,
    migration_steps: float,
    observed_steps: int,
    observed_overload_steps: int,
    otf_limit: float,
    step: float,
) -> FloatArray | None:
    """The feasible policy with the longest expected time to migration, or None.

    Ties go to the first policy in grid order. The overload state is the last one.
    """
    policies = policy_grid(transitions.shape[0], step)
    steps = expected_steps(transitions, start, policies)
    horizon = steps.sum(axis=1)
    with np.errstate(invalid="ignore"):
        fraction = (migration_steps + observed_overload_steps + steps[:, -1]) / (
            migration_steps + observed_steps + horizon
        )
        feasible = (fraction <= otf_limit) & (horizon > 0.0)
    if not feasible.any():
        return None
    objective = np.where(feasible, horizon, -np.inf)
    chosen: FloatArray = policies[int(np.argmax(objective))]
    return chosen
