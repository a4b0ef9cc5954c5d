"""``fleetwise simulate --model native``: a day of the native model, as a result.

A policy name such as ``thr-mmt-0.8`` replaces the scenario's overload detector and
VM selection (``npa`` and ``dvfs`` are the baselines: every host at full power all
day, and no consolidation at all); without a policy the scenario's own
configuration runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fleetwise.core.local_manager import AlgorithmChoice
from fleetwise.sim.native.run import STEP_S, NativeRun
from fleetwise.sim.native.scenario import Scenario, default_scenario
from fleetwise.sim.policies import NATIVE_DETECTORS, Policy, parse_policy
from fleetwise.sim.results import SimulationResult, TickSeries
from fleetwise.traces.loader import TraceSet

__all__ = ["CONFIGURED", "scenario_for", "simulate_native"]

CONFIGURED = "configured"
"""The policy name of a run with the scenario's own configuration."""


def _overload_params(policy: Policy) -> dict[str, Any]:
    if policy.detector == "thr":
        return {"threshold": policy.param}
    if policy.detector in ("mad", "iqr", "lr", "lrr"):
        return {"safety": policy.param}
    if policy.detector in ("otf", "mhod"):
        return {"otf": policy.param}
    return {}


def scenario_for(policy: Policy, scenario: Scenario) -> Scenario:
    """``scenario`` running ``policy``'s overload detector and VM selection."""
    if policy.baseline is not None:
        return scenario
    assert policy.detector is not None and policy.selection is not None
    local = scenario.local_manager.model_copy(
        update={
            "overload": AlgorithmChoice(name=policy.detector, params=_overload_params(policy)),
            "selection": AlgorithmChoice(name=policy.selection),
        }
    )
    # Validate again: a parameter out of the detector's range fails before the run.
    return scenario.model_validate(scenario.model_dump() | {"local_manager": local.model_dump()})


def simulate_native(
    traces: TraceSet,
    policy: str | None = None,
    *,
    scenario: Scenario | None = None,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> SimulationResult:
    """Simulate ``policy`` (or the scenario's configuration) on ``traces``."""
    scenario = scenario if scenario is not None else default_scenario()
    parsed = parse_policy(policy, NATIVE_DETECTORS) if policy is not None else None
    configured = scenario_for(parsed, scenario) if parsed is not None else scenario
    started = time.perf_counter()
    run = NativeRun(traces, configured, manage=parsed is None or parsed.migrates)
    run.run(progress)
    wall = time.perf_counter() - started
    meter, tally, dc = run.meter, run.tally, run.dc
    duration = run.samples.shape[1] * STEP_S
    energy_ws = meter.energy_ws
    if parsed is not None and parsed.baseline == "npa":
        energy_ws = float(dc.power_tables[:, 10].sum()) * duration
    energy = energy_ws / 3.6e6
    busy = meter.host_busy > 0
    asked = meter.vm_demand > 0
    slatah = float(meter.host_over.sum() / meter.host_busy.sum()) if busy.any() else 0.0
    pdm = meter.shortfall / meter.demand if meter.demand else 0.0
    awake = float(meter.host_awake.sum())
    return SimulationResult(
        model="native",
        policy=parsed.name if parsed is not None else CONFIGURED,
        day=traces.name,
        vms=dc.vms,
        hosts=dc.hosts,
        energy_kwh=energy,
        migrations=tally.migrations,
        slatah=slatah,
        pdm=pdm,
        slav=slatah * pdm,
        esv=energy * slatah * pdm,
        sla_overall=(meter.demand - meter.served) / meter.demand if meter.demand else 0.0,
        sla_average=0.0,
        slatah_mean=float((meter.host_over[busy] / meter.host_busy[busy]).mean())
        if busy.any()
        else 0.0,
        pdm_mean=float((meter.vm_shortfall[asked] / meter.vm_demand[asked]).mean())
        if asked.any()
        else 0.0,
        host_shutdowns=tally.shutdowns,
        mean_time_before_shutdown_s=0.0,
        mean_migration_time_s=tally.migration_time_s / tally.migrations
        if tally.migrations
        else 0.0,
        aotf=float(meter.host_hot.sum()) / awake if awake else 0.0,
        aitf=float(meter.host_asleep.sum()) / (dc.hosts * duration),
        removed_vms=0,
        wall_seconds=wall,
        seed=seed,
        profile=configured.name,
        series=TickSeries(
            time_s=run.series_time,
            active_hosts=run.series_active,
            power_w=run.series_power,
            migrations=run.series_migrations,
        ),
    )
