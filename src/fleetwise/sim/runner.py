"""Run one simulation: a policy on a trace set in one of the two models."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from fleetwise.errors import ParameterError, UnknownNameError
from fleetwise.sim.cloudsim.report import to_result
from fleetwise.sim.cloudsim.run import simulate_day
from fleetwise.sim.policies import CLOUDSIM_DETECTORS, parse_policy
from fleetwise.sim.results import SimulationResult
from fleetwise.traces.loader import TraceSet

__all__ = ["DEFAULT_POLICY", "MODELS", "PROFILES", "Progress", "simulate"]

DEFAULT_POLICY = "lr-mmt-1.2"
"""The CloudSim model's policy when none is given."""

MODELS = ("cloudsim", "native")
PROFILES = ("cs303", "cs2012")

Progress = Callable[[int, int], None]
Model = Literal["cloudsim", "native"]


def simulate(
    traces: TraceSet,
    policy: str | None,
    model: str = "cloudsim",
    seed: int = 0,
    profile: str = "cs303",
    progress: Progress | None = None,
    scenario: Path | None = None,
) -> SimulationResult:
    """Simulate ``policy`` on ``traces``; ``profile`` selects CloudSim 3.0.3 or 2012 LR.

    The native model runs ``scenario`` (the bundled one if None); without a policy it
    runs the scenario's own configuration. The CloudSim model's policy defaults to
    LR-MMT-1.2.
    """
    if model not in MODELS:
        raise UnknownNameError(f"unknown model {model!r}; known: {', '.join(MODELS)}")
    if profile not in PROFILES:
        raise UnknownNameError(f"unknown profile {profile!r}; known: {', '.join(PROFILES)}")
    if model == "native":
        from fleetwise.sim.native.runner import simulate_native
        from fleetwise.sim.native.scenario import load_scenario

        loaded = load_scenario(scenario) if scenario is not None else None
        return simulate_native(traces, policy, scenario=loaded, seed=seed, progress=progress)
    if scenario is not None:
        raise ParameterError("a scenario applies to the native model only (--model native)")
    policy = policy or DEFAULT_POLICY
    parsed = parse_policy(policy, CLOUDSIM_DETECTORS)
    started = time.perf_counter()
    if parsed.baseline is not None:
        outcome = simulate_day(traces, parsed.baseline)
    else:
        assert parsed.detector is not None and parsed.selection is not None
        weighting = "tricube" if profile == "cs2012" else "none"
        detector = (parsed.detector, parsed.param, weighting)
        outcome = simulate_day(traces, "migrate", detector, parsed.selection, seed=seed)
    if progress is not None:
        progress(outcome.active_hosts.size, outcome.active_hosts.size)
    wall = time.perf_counter() - started
    return to_result(outcome, parsed.name, traces.name, wall, seed, profile)
