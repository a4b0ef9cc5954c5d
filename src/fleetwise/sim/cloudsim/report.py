"""Turn a CloudSim-model run into the reported metrics."""

from __future__ import annotations

from fleetwise.sim.cloudsim.outcome import RunOutcome
from fleetwise.sim.results import SimulationResult, TickSeries

__all__ = ["to_result"]


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 else 0.0


def to_result(
    outcome: RunOutcome, policy: str, day: str, wall: float, seed: int, profile: str
) -> SimulationResult:
    m = outcome.metrics
    active_time = float(m.host_active_time.sum())
    slatah = _ratio(float(m.host_violation_time.sum()), active_time)
    req_time = float(m.vm_req_time.sum())
    pdm = _ratio(float(m.vm_mig_shortfall.sum()), req_time)
    slav = slatah * pdm
    energy = outcome.energy_ws / 3.6e6
    busy = m.host_active_time > 0
    slatah_mean = (
        float((m.host_violation_time[busy] / m.host_active_time[busy]).mean())
        if busy.any()
        else 0.0
    )
    asked = m.vm_req_time > 0
    pdm_mean = (
        float((m.vm_mig_shortfall[asked] / m.vm_req_time[asked]).mean()) if asked.any() else 0.0
    )
    ticks = outcome.active_hosts.size
    times = [300.1 + 300.0 * k for k in range(ticks)]
    total_host_time = outcome.hosts * (times[-1] if times else 0.0)
    return SimulationResult(
        model="cloudsim",
        policy=policy,
        day=day,
        vms=outcome.vms,
        hosts=outcome.hosts,
        energy_kwh=energy,
        migrations=outcome.migrations,
        slatah=slatah,
        pdm=pdm,
        slav=slav,
        esv=energy * slav,
        sla_overall=_ratio(req_time - float(m.vm_alloc_time.sum()), req_time),
        sla_average=_ratio(m.under_ratio_sum, float(m.under_ratio_count)),
        slatah_mean=slatah_mean,
        pdm_mean=pdm_mean,
        host_shutdowns=m.shutdowns,
        mean_time_before_shutdown_s=_ratio(m.shutdown_wait_sum, float(m.shutdowns)),
        mean_migration_time_s=_ratio(outcome.migration_time_sum, float(outcome.migrations)),
        aotf=slatah,
        aitf=_ratio(total_host_time - active_time, total_host_time),
        removed_vms=outcome.removed_vms,
        wall_seconds=wall,
        seed=seed,
        profile=profile,
        mean_time_before_migration_s=_ratio(m.migration_episode_sum, float(m.migration_episodes)),
        series=TickSeries(
            time_s=times,
            active_hosts=[int(x) for x in outcome.active_hosts],
            power_w=[float(x) for x in outcome.power_w],
            migrations=[int(x) for x in outcome.migrations_per_tick],
        ),
    )
