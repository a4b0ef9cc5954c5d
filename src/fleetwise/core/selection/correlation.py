"""Maximum correlation (MC) VM selection.

MC moves the VM whose CPU use is best explained by the other VMs on the host: the
more correlated a VM is with its neighbours, the likelier they peak together. For
each candidate, its utilisation history is regressed (ordinary least squares with an
intercept) on the histories of all other candidates, and the VM with the largest R²
is chosen.

Conventions, as in CloudSim 3.0.3's ``PowerVmSelectionPolicyMaximumCorrelation``:

* histories are utilisation relative to the VM's capacity (``cpu_history / capacity``);
  ``m`` is the shortest history length and the regression uses the ``m`` newest samples,
  newest first (the row order changes the rounding);
* the choice is the first R² strictly above a running maximum that starts at the
  smallest positive double, so index 0 wins when no R² is positive (NaN never wins);
* MC cannot decide, and the ``fallback`` policy picks instead, when there is a single
  VM (no regressor), when ``n > m`` (commons-math rejects fewer observations than
  coefficients, ``n - 1`` slopes plus the intercept; at ``n = m`` the fit is exact and
  rounding decides), or when any design is exactly singular. Collinear but not exactly
  singular histories give meaningless R² values and no fallback, as in CloudSim.

``exact=True`` reproduces the commons-math arithmetic bit for bit (see
:mod:`fleetwise.core.selection._householder`). ``exact=False`` computes R² with
``numpy.linalg.lstsq``, as the method is meant mathematically: it is better
conditioned (SVD), treats rank-deficient designs by their minimum-norm fit instead of
falling back, gives a constant history an undefined (NaN) R², and may break near-ties
differently.

For bit-exact CloudSim runs pass the CloudSim utilisation fractions with
``capacity=1.0``, so that the division leaves them unchanged.
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import Field, field_validator

from fleetwise.core.registry import AlgorithmSpec, Params
from fleetwise.core.selection._householder import householder_r_squared
from fleetwise.core.selection.registry import SELECTION
from fleetwise.core.types import FloatArray, SelectionContext, VmObservation
from fleetwise.errors import InputError

__all__ = ["McParams", "maximum_correlation", "r_squared", "relative_history_columns"]

_LOCAL_FALLBACK = "mmt"


class McParams(Params):
    """Parameters of maximum-correlation selection."""

    fallback: str = Field(
        default=_LOCAL_FALLBACK,
        description="policy, with its default parameters, that picks when MC cannot decide",
    )
    exact: bool = Field(
        default=True,
        description="reproduce commons-math's Householder OLS bit for bit (else numpy lstsq)",
    )

    @field_validator("fallback")
    @classmethod
    def _registered_policy(cls, name: str) -> str:
        if name == "mc":
            raise ValueError("MC cannot be its own fallback")
        if name != _LOCAL_FALLBACK and name not in SELECTION.names():
            raise ValueError(f"unknown selection policy {name!r}")
        return name


def _all_valid(vms: tuple[VmObservation, ...], histories: list[FloatArray]) -> bool:
    """Every capacity positive and every history one-dimensional and finite (checked at once)."""
    if not all(math.isfinite(vm.capacity) and vm.capacity > 0.0 for vm in vms):
        return False
    if any(history.ndim != 1 for history in histories):
        return False
    return bool(np.isfinite(np.concatenate(histories)).all())


def relative_history_columns(vms: tuple[VmObservation, ...]) -> FloatArray:
    """Utilisation matrix, shape ``(m, n)``: the ``m`` newest samples, newest first.

    Raises :class:`InputError` for a capacity that is not a positive number or a CPU
    history that is not a one-dimensional array of finite numbers.
    """
    histories = [np.asarray(vm.cpu_history, dtype=np.float64) for vm in vms]
    if not _all_valid(vms, histories):
        for vm, history in zip(vms, histories, strict=True):
            if not (math.isfinite(vm.capacity) and vm.capacity > 0.0):
                raise InputError(f"VM {vm.vm_id!r} has capacity {vm.capacity!r}; it must be > 0")
            if history.ndim != 1 or not np.isfinite(history).all():
                raise InputError(
                    f"VM {vm.vm_id!r}: the CPU history must be a list of finite numbers"
                )
    m = min(history.size for history in histories)
    newest_first = [
        history[::-1][:m] / vm.capacity for vm, history in zip(vms, histories, strict=True)
    ]
    return np.stack(newest_first, axis=1)


def _lstsq_r_squared(columns: FloatArray) -> FloatArray:
    """R² of each column on an intercept and the others, by a generic least-squares solver."""
    m, n = columns.shape
    scores = np.full(n, np.nan)
    for i in range(n):
        y = columns[:, i]
        if np.ptp(y) == 0.0:
            continue
        design = np.column_stack((np.ones(m), np.delete(columns, i, axis=1)))
        beta = np.linalg.lstsq(design, y, rcond=None)[0]
        residuals = y - design @ beta
        deviations = y - y.mean()
        scores[i] = 1.0 - float(residuals @ residuals) / float(deviations @ deviations)
    return scores


def r_squared(columns: FloatArray, *, exact: bool = True) -> FloatArray | None:
    """R² of each VM's history on the others', or None when MC cannot decide."""
    m, n = columns.shape
    if n < 2 or n > m:
        return None
    if exact:
        return householder_r_squared(columns)
    return _lstsq_r_squared(columns)


def _first_maximum(scores: FloatArray) -> int:
    """Index of the largest score (the first of equal ones) if any exceeds ``5e-324``, else 0."""
    best, best_value = 0, math.ulp(0.0)
    for i, value in enumerate(scores.tolist()):
        if value > best_value:
            best, best_value = i, value
    return best


def _least_ram(vms: tuple[VmObservation, ...]) -> int:
    """MMT: the first VM with the smallest RAM."""
    best = 0
    for i in range(1, len(vms)):
        if vms[i].ram_mb < vms[best].ram_mb:
            best = i
    return best


def maximum_correlation(
    vms: tuple[VmObservation, ...], ctx: SelectionContext, *, params: McParams
) -> int | None:
    """MC: the VM whose history the other VMs' histories explain best (largest R²)."""
    if not vms:
        return None
    scores = r_squared(relative_history_columns(vms), exact=params.exact)
    if scores is not None:
        return _first_maximum(scores)
    if params.fallback == _LOCAL_FALLBACK:
        return _least_ram(vms)
    fallback = SELECTION.build(params.fallback)
    return fallback(vms, ctx)


SELECTION.register(
    AlgorithmSpec(
        name="mc",
        function=maximum_correlation,
        params_model=McParams,
        summary="maximum correlation (largest R² against the other VMs)",
    )
)
