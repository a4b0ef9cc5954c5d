"""OTF overload detector: keep the overload time fraction below a limit.

The detector counts, across calls, how many steps the host has been observed and in
how many of them it was overloaded (``u >= threshold``). While the host is overloaded
it asks for a migration once the fraction it would reach if a VM were migrated now,
``(tm + overloaded) / (tm + total)`` with ``tm = Tm / Δt`` the migration time in
steps, reaches the limit. The counters are the detector's state: the caller keeps
the returned mapping and passes it back on the next call.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from pydantic import Field

from fleetwise.core.overload.registry import OVERLOAD
from fleetwise.core.registry import AlgorithmSpec, Params
from fleetwise.core.types import DetectorContext, FloatArray, JsonState
from fleetwise.errors import InputError

__all__ = ["OtfParams", "migration_steps", "otf", "read_counter"]


class OtfParams(Params):
    """OTF parameters.

    ``otf`` is the limit on the overload time fraction, ``threshold`` the utilisation
    at or above which a step counts as overloaded, ``limit`` the fewest history values
    needed before any migration is requested. Defaults are Neat's example settings.
    """

    otf: float = Field(0.2, gt=0.0, le=1.0)
    threshold: float = Field(0.8, gt=0.0, le=1.0)
    limit: int = Field(10, ge=1)


def read_counter(state: Mapping[str, Any], key: str, owner: str) -> int:
    """The non-negative integer ``state[key]`` (0 when absent); InputError otherwise."""
    value = state.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InputError(f"{owner} state: {key!r} must be a non-negative integer, got {value!r}")
    return value


def migration_steps(ctx: DetectorContext) -> float:
    """The migration time in steps, ``Tm / Δt``; InputError for an unusable context."""
    step, tm = ctx.time_step_s, ctx.migration_time_s
    if not (math.isfinite(step) and step > 0.0):
        raise InputError(f"time_step_s must be a positive number, got {step!r}")
    if not (math.isfinite(tm) and tm >= 0.0):
        raise InputError(f"migration_time_s must be a non-negative number, got {tm!r}")
    return tm / step


def otf(
    history: FloatArray, ctx: DetectorContext, state: JsonState, *, params: OtfParams
) -> tuple[bool, JsonState]:
    """One OTF step: count the current observation, then decide.

    State keys: ``total`` (observed steps) and ``overloaded`` (overloaded steps).
    An empty history observes nothing: no migration and the counters stay as they are.
    """
    total = read_counter(state, "total", "otf")
    overloaded = read_counter(state, "overloaded", "otf")
    if overloaded > total:
        raise InputError(f"otf state: overloaded ({overloaded}) exceeds total ({total})")
    tm = migration_steps(ctx)
    values = np.asarray(history, dtype=np.float64)
    if values.ndim != 1:
        raise InputError("utilisation history must be a one-dimensional array")
    if values.size == 0:
        return False, {"total": total, "overloaded": overloaded}
    current = float(values[-1])
    if not math.isfinite(current):
        raise InputError(f"utilisation must be finite, got {current!r}")

    overloaded_now = current >= params.threshold
    total += 1
    overloaded += int(overloaded_now)
    new_state = {"total": total, "overloaded": overloaded}
    if not overloaded_now or values.size < params.limit:
        return False, new_state
    return (tm + overloaded) / (tm + total) >= params.otf, new_state


OVERLOAD.register(
    AlgorithmSpec(
        name="otf",
        function=otf,
        params_model=OtfParams,
        summary="migrate when the overload time fraction would reach a limit",
    )
)
