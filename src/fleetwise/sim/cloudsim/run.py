"""Simulate one day in the CloudSim model with one compiled call (numpy only here).

The inputs are prepared as :class:`fleetwise.sim.cloudsim.engine.CloudSimRun` does,
then the day kernel (:mod:`fleetwise.sim.cloudsim.aot`) runs the whole day. Results
are the engine's to the last bit; the engine remains the step-by-step form, whose
consolidation step tests can watch.
"""

from __future__ import annotations

import numpy as np

from fleetwise.errors import InputError
from fleetwise.sim.cloudsim.codes import FALLBACK_THRESHOLD, RULE_KINDS, SELECTION_KINDS
from fleetwise.sim.cloudsim.datacenter import HOST_RAM_MB, SCHEDULING_INTERVAL_S, build_datacenter
from fleetwise.sim.cloudsim.outcome import RunOutcome, new_metrics
from fleetwise.traces.loader import TraceSet

__all__ = ["MAX_VMS_PER_HOST", "simulate_day", "tick_times"]

MAX_VMS_PER_HOST = 10  # host BW 1 Gbit/s / VM BW 100 Mbit/s, binding only at t = 0
_MODES = {"npa": 0, "dvfs": 1, "migrate": 2}


def tick_times(samples: int) -> list[float]:
    """Consolidation ticks, 300.1 s apart (by repeated addition), over ``samples`` samples."""
    limit = SCHEDULING_INTERVAL_S * (samples - 1)
    ticks = []
    t = 0.1 + SCHEDULING_INTERVAL_S
    while t < limit:
        ticks.append(t)
        t = t + SCHEDULING_INTERVAL_S
    return ticks


def simulate_day(
    traces: TraceSet,
    mode: str,
    detector: tuple[str, float, str] | None = None,
    selection: str = "mmt",
    seed: int = 0,
    hosts: int = 800,
) -> RunOutcome:
    """Simulate ``traces`` under ``mode`` (npa, dvfs or migrate).

    ``detector`` is (kind, parameter, LR weighting) as in
    :class:`~fleetwise.sim.cloudsim.detectors.CloudSimDetector`.
    """
    from fleetwise.sim.cloudsim.aot import day_kernel

    if mode == "migrate" and detector is None:
        raise ValueError("a migrating policy needs an overload detector")
    kind, param, weighting = detector or ("thr", 1.0, "none")
    weighted = weighting != "none" and kind in ("lr", "lrr")
    tricube = np.zeros(10)
    if weighted:
        from fleetwise.core.overload.regression import tricube_weights

        tricube = tricube_weights(10)
    samples = traces.cpu.astype(np.float64) / 100.0
    samples_t = np.ascontiguousarray(np.concatenate([samples, samples[:, -1:]], axis=1).T)
    dc = build_datacenter(traces.vm_count, hosts)
    flat_tables = np.ascontiguousarray(dc.power_table).reshape(-1)
    ticks = np.array(tick_times(samples_t.shape[0]))
    metrics = new_metrics(dc.hosts, dc.vms)
    active = np.zeros(ticks.size, dtype=np.int64)
    power = np.zeros(ticks.size)
    per_tick = np.zeros(ticks.size, dtype=np.int64)
    npa_watts = float(dc.power_table[:, 10].sum()) if mode == "npa" else 0.0
    energy, migrations, planned, removed, unplaced = day_kernel()(
        samples_t, ticks, dc.vm_mips, dc.vm_ram, dc.migration_time, dc.vm_hash,
        dc.host_type.astype(np.int64), dc.host_total, dc.host_pe, flat_tables, dc.type_totals,
        _MODES[mode], RULE_KINDS[kind], float(param), weighted, tricube,
        SELECTION_KINDS[selection], seed, float(param) if kind == "thr" else FALLBACK_THRESHOLD,
        npa_watts, HOST_RAM_MB, MAX_VMS_PER_HOST, *metrics, active, power, per_tick,
    )  # fmt: skip
    if unplaced >= 0:
        raise InputError(
            f"VM {unplaced} of {dc.vms} does not fit on any of the {dc.hosts} hosts at start-up"
        )
    return RunOutcome(
        energy_ws=energy,
        migrations=migrations,
        metrics=metrics,
        migration_time_sum=planned,
        active_hosts=active,
        power_w=power,
        migrations_per_tick=per_tick,
        vms=dc.vms,
        hosts=dc.hosts,
        removed_vms=removed,
    )
