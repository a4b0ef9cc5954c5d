"""MHOD overload detector (Markov Host Overload Detection).

The host's utilisation is modelled as a Markov chain over states set by
``state_config`` (see :mod:`.mhod_estimation`); whenever the current state is the
overload state, enough history exists and the estimated chance of staying overloaded
is positive, MHOD looks for a migration policy that keeps the overload time fraction
within ``otf`` (see :mod:`.mhod_policy`). A VM is migrated iff no such policy exists.

State keys (counted in calls, i.e. local-manager steps, and kept across restarts):
``time_in_states`` (steps observed) and ``time_in_state_n`` (steps in the overload
state). The transition estimates are recomputed from the history on every call.

Differences to Neat: any number of thresholds works (state = number of thresholds
``<=`` u, general matrix solution instead of 2-state closed forms); no transition
into the first history value is invented; the brute-force step defaults to 0.1 as in
the published evaluation (Neat shipped 0.5); Neat's unused ``history_size`` is not
accepted.
"""

from __future__ import annotations

import math
from itertools import pairwise

import numpy as np
from pydantic import Field, field_validator, model_validator

from fleetwise.core.overload.mhod_estimation import estimate_transitions, utilisation_states
from fleetwise.core.overload.mhod_policy import best_policy
from fleetwise.core.overload.otf import migration_steps, read_counter
from fleetwise.core.overload.registry import OVERLOAD
from fleetwise.core.registry import AlgorithmSpec, Params
from fleetwise.core.types import DetectorContext, FloatArray, JsonState
from fleetwise.errors import InputError

__all__ = ["MAX_POLICIES", "MhodParams", "mhod"]

MAX_POLICIES = 200_000
"""Largest brute-force grid accepted (``(⌊1/step⌋ + 1)^(thresholds + 1)`` policies)."""

MAX_WINDOW = 10_000


def _strictly_ascending(values: tuple[float, ...] | tuple[int, ...], what: str) -> None:
    if any(b <= a for a, b in pairwise(values)):
        raise ValueError(f"{what} must be strictly ascending")


class MhodParams(Params):
    """MHOD parameters.

    ``state_config``: ascending utilisation thresholds in (0, 1] splitting the states;
    ``otf``: limit on the overload time fraction; ``window_sizes``: ascending sliding
    window sizes (≥ 2); ``bruteforce_step``: grid step of the policy search;
    ``learning_steps``: fewest history values before any migration.
    """

    state_config: tuple[float, ...] = Field((0.8,), min_length=1)
    otf: float = Field(0.1, gt=0.0, le=1.0)
    window_sizes: tuple[int, ...] = Field((30, 40, 50, 60, 70, 80, 90, 100), min_length=1)
    bruteforce_step: float = Field(0.1, gt=0.0, le=1.0)
    learning_steps: int = Field(10, ge=1)

    @field_validator("state_config")
    @classmethod
    def _check_thresholds(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(not 0.0 < t <= 1.0 for t in value):
            raise ValueError("every threshold must be in (0, 1]")
        _strictly_ascending(value, "thresholds")
        return value

    @field_validator("window_sizes")
    @classmethod
    def _check_windows(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(not 2 <= size <= MAX_WINDOW for size in value):
            raise ValueError(f"every window size must be in [2, {MAX_WINDOW}]")
        _strictly_ascending(value, "window sizes")
        return value

    @model_validator(mode="after")
    def _check_grid(self) -> MhodParams:
        levels = math.floor(1.0 / self.bruteforce_step + 1e-9) + 1
        size = levels ** (len(self.state_config) + 1)
        if size > MAX_POLICIES:
            raise ValueError(
                f"the policy search would try {size} policies (at most {MAX_POLICIES}); "
                "use a larger bruteforce_step or fewer thresholds"
            )
        return self


def mhod(
    history: FloatArray, ctx: DetectorContext, state: JsonState, *, params: MhodParams
) -> tuple[bool, JsonState]:
    """One MHOD step: count the current state, then decide whether to migrate."""
    observed = read_counter(state, "time_in_states", "mhod")
    in_overload = read_counter(state, "time_in_state_n", "mhod")
    if in_overload > observed:
        raise InputError(
            f"mhod state: time_in_state_n ({in_overload}) exceeds time_in_states ({observed})"
        )
    tm = migration_steps(ctx)
    values = np.asarray(history, dtype=np.float64)
    if values.ndim != 1 or not np.isfinite(values).all():
        raise InputError("utilisation history must be a one-dimensional array of finite numbers")
    if values.size == 0:
        return False, {"time_in_states": observed, "time_in_state_n": in_overload}

    states = utilisation_states(values, params.state_config)
    overload_state = len(params.state_config)
    current = int(states[-1])
    observed += 1
    in_overload += int(current == overload_state)
    new_state = {"time_in_states": observed, "time_in_state_n": in_overload}
    if current != overload_state or values.size < params.learning_steps:
        return False, new_state

    estimate = estimate_transitions(states, overload_state + 1, params.window_sizes)
    if estimate.probabilities[current, current] <= 0.0:
        return False, new_state
    policy = best_policy(
        estimate.probabilities,
        current,
        migration_steps=tm,
        observed_steps=observed,
        observed_overload_steps=in_overload,
        otf_limit=params.otf,
        step=params.bruteforce_step,
    )
    return policy is None, new_state


OVERLOAD.register(
    AlgorithmSpec(
        name="mhod",
        function=mhod,
        params_model=MhodParams,
        summary="Markov host overload detection under an overload-time-fraction limit",
    )
)
