"""Simulate a day with fleetwise's own managers.

Each 300 s interval: VMs demand ``sample × MIPS``; hosts share their CPU when
over-committed; at the interval's end the collector records what every VM got,
the local manager of every awake host with VMs decides (one request per host), the
global manager plans the round, and the plan runs: hosts wake (after a latency),
VMs migrate (RAM / bandwidth, 10 % degradation at the source and a 10 % charge at
the destination), emptied hosts go to sleep. Energy counts awake hosts by load,
waking hosts at idle power and sleeping hosts at ``sleep_w``.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from fleetwise.core.global_manager import (
    ClusterSnapshot,
    HostState,
    ReallocationRequest,
    VmState,
    plan_reallocation,
)
from fleetwise.core.local_manager import HostObservation, LocalManager
from fleetwise.core.placement import BfdParams, HostCapacity, VmDemand, best_fit_decreasing
from fleetwise.core.power import interpolate_tables
from fleetwise.core.types import JsonState, VmObservation
from fleetwise.errors import InputError
from fleetwise.sim.cloudsim.datacenter import build_datacenter
from fleetwise.sim.native.config import NativeConfig, native_config_for
from fleetwise.sim.policies import NATIVE_DETECTORS, parse_policy
from fleetwise.sim.results import SimulationResult, TickSeries
from fleetwise.traces.loader import TraceSet

__all__ = ["NativeRun", "simulate_native"]

STEP_S = 300.0
AWAKE, ASLEEP, WAKING = 0, 1, 2

FloatArray = npt.NDArray[np.float64]


@dataclass
class _Counters:
    energy_ws: float = 0.0
    overload_time: float = 0.0
    busy_time: float = 0.0
    asleep_time: float = 0.0
    demand: float = 0.0
    served: float = 0.0
    migration_shortfall: float = 0.0
    migrations: int = 0
    migration_time: float = 0.0
    shutdowns: int = 0
    host_busy: FloatArray = field(default_factory=lambda: np.zeros(0))
    host_over: FloatArray = field(default_factory=lambda: np.zeros(0))
    vm_demand: FloatArray = field(default_factory=lambda: np.zeros(0))
    vm_shortfall: FloatArray = field(default_factory=lambda: np.zeros(0))


class NativeRun:
    """One simulated day of the native model."""

    def __init__(
        self, traces: TraceSet, config: NativeConfig, hosts: int = 800, consolidate: bool = True
    ) -> None:
        self.samples = traces.cpu.astype(np.float64) / 100.0
        self.dc = build_datacenter(traces.vm_count, hosts)
        self.config = config
        self.consolidate = consolidate
        self.manager = LocalManager(config.local)
        n, m = self.dc.hosts, self.dc.vms
        self.vm_host = np.full(m, -1, dtype=np.intp)
        self.migrating_to = np.full(m, -1, dtype=np.intp)
        self.power_state = np.full(n, ASLEEP, dtype=np.intp)
        self.history = np.zeros((m, config.history_length))
        self.history_len = 0
        self.states: dict[int, dict[str, JsonState]] = {}
        self.c = _Counters(
            host_busy=np.zeros(n), host_over=np.zeros(n), vm_demand=np.zeros(m),
            vm_shortfall=np.zeros(m),
        )  # fmt: skip
        self.host_ids = [f"host-{h:04d}" for h in range(n)]
        self.vm_ids = [f"vm-{v:05d}" for v in range(m)]
        self._host_index = {h: i for i, h in enumerate(self.host_ids)}
        self._vm_index = {v: i for i, v in enumerate(self.vm_ids)}
        self.pending_sleep: set[int] = set()

    # ------------------------------------------------------------ placement
    def initial_placement(self) -> None:
        """BFD of every VM by its first sample, waking hosts as needed."""
        dc = self.dc
        hosts = tuple(
            HostCapacity(self.host_ids[h], dc.host_total[h], self.config.host_ram_mb, awake=False)
            for h in range(dc.hosts)
        )
        vms = tuple(
            VmDemand(self.vm_ids[v], float(self.samples[v, 0] * dc.vm_mips[v]), dc.vm_ram[v])
            for v in range(dc.vms)
        )
        params = self.config.placement.placement.params
        placement = best_fit_decreasing(
            hosts,
            vms,
            params=BfdParams(**params, all_or_nothing=True),
        )
        if not placement.complete:
            raise InputError(f"{len(placement.unplaced)} VMs do not fit on {dc.hosts} hosts")
        for vm_id, host_id in placement.assignments.items():
            self.vm_host[self._vm_index[vm_id]] = self._host_index[host_id]
        for h in np.unique(self.vm_host):
            self.power_state[h] = AWAKE

    # --------------------------------------------------------------- physics
    def _segment(self, demand: FloatArray, dt: float) -> FloatArray:
        """Account ``dt`` seconds at constant demand; returns each VM's served MHz."""
        dc, c = self.dc, self.c
        n = dc.hosts
        load = np.bincount(self.vm_host, demand, minlength=n)
        moving = self.migrating_to >= 0
        if moving.any():
            extra = self.config.migration_degradation * demand[moving]
            load += np.bincount(self.migrating_to[moving], extra, minlength=n)
        share = np.minimum(1.0, np.divide(dc.host_total, load, out=np.ones(n), where=load > 0))
        served = demand * share[self.vm_host]
        awake = self.power_state == AWAKE
        busy = awake & (load > 0)
        over = busy & (load > dc.host_total)
        u = np.minimum(load / dc.host_total, 1.0)
        watts = np.where(
            awake,
            interpolate_tables(dc.power_table, u),
            np.where(self.power_state == WAKING, dc.power_table[:, 0], self.config.sleep_w),
        )
        c.energy_ws += float(watts.sum()) * dt
        c.busy_time += float(busy.sum()) * dt
        c.overload_time += float(over.sum()) * dt
        c.host_busy[busy] += dt
        c.host_over[over] += dt
        c.asleep_time += float((self.power_state == ASLEEP).sum()) * dt
        c.demand += float(demand.sum()) * dt
        c.served += float(served.sum()) * dt
        c.vm_demand += demand * dt
        if moving.any():
            lost = self.config.migration_degradation * demand[moving] * dt
            c.migration_shortfall += float(lost.sum())
            c.vm_shortfall[moving] += lost
        return served

    # ------------------------------------------------------------- decisions
    def _observations(self) -> dict[int, list[VmObservation]]:
        n = self.history_len
        dc = self.dc
        per_host: dict[int, list[VmObservation]] = {}
        for v in range(dc.vms):
            h = int(self.vm_host[v])
            if self.power_state[h] != AWAKE:
                continue
            per_host.setdefault(h, []).append(
                VmObservation(
                    self.vm_ids[v], float(dc.vm_ram[v]), float(dc.vm_mips[v]),
                    self.history[v, -n:] if n else np.zeros(0),
                )
            )  # fmt: skip
        return per_host

    def _decide(self, step: int) -> list[ReallocationRequest]:
        requests: list[ReallocationRequest] = []
        for h, vms in self._observations().items():
            obs = HostObservation(self.host_ids[h], float(self.dc.host_total[h]), tuple(vms))
            decision, state = self.manager.decide(obs, self.states.get(h, {}), seed=step * 7919 + h)
            self.states[h] = state
            if decision.reason != "none":
                requests.append(ReallocationRequest(obs.host_id, decision.reason, decision.vm_ids))
        return requests

    def _snapshot(self) -> ClusterSnapshot:
        dc = self.dc
        last = self.config.placement_cpu_last_n
        n = min(self.history_len, last)
        cpu = self.history[:, -n:].mean(axis=1) if n else np.zeros(dc.vms)
        hosts = tuple(
            HostState(
                self.host_ids[h], float(dc.host_total[h]), self.config.host_ram_mb,
                "awake" if self.power_state[h] == AWAKE else "asleep",
            )
            for h in range(dc.hosts)
        )  # fmt: skip
        vms = tuple(
            VmState(self.vm_ids[v], self.host_ids[self.vm_host[v]], float(cpu[v]), dc.vm_ram[v])
            for v in range(dc.vms)
        )
        return ClusterSnapshot(hosts, vms)

    # ----------------------------------------------------------------- main
    def run(self, progress: Callable[[int, int], None] | None = None) -> None:
        self.initial_placement()
        dc, c = self.dc, self.c
        steps = self.samples.shape[1]
        bw = self.config.local.migration_bandwidth_mb_s
        self.series = TickSeries()
        events: list[tuple[float, int, str, int, int]] = []  # (time, seq, kind, a, b)
        seq = 0
        for k in range(steps):
            start, end = k * STEP_S, (k + 1) * STEP_S
            demand = self.samples[:, k] * dc.vm_mips
            energy_before = c.energy_ws
            now = start
            served = demand
            while True:
                upcoming = events[0][0] if events and events[0][0] < end else end
                if upcoming > now:
                    served = self._segment(demand, upcoming - now)
                    now = upcoming
                if now >= end:
                    break
                _, _, kind, a, b = heapq.heappop(events)
                if kind == "awake":
                    self.power_state[a] = AWAKE
                elif kind == "start":
                    self.migrating_to[a] = b
                    seq += 1
                    duration = float(dc.vm_ram[a]) / bw
                    heapq.heappush(events, (now + duration, seq, "done", a, b))
                elif kind == "done":
                    self.vm_host[a] = b
                    self.migrating_to[a] = -1
                    self._maybe_sleep()
            # collector: what each VM got during the interval
            self.history = np.roll(self.history, -1, axis=1)
            self.history[:, -1] = served
            self.history_len = min(self.history_len + 1, self.config.history_length)
            self.series.time_s.append(end)
            self.series.active_hosts.append(int((self.power_state == AWAKE).sum()))
            self.series.power_w.append((c.energy_ws - energy_before) / STEP_S)
            migrations_before = c.migrations
            if self.consolidate and k < steps - 1:
                seq = self._plan_and_schedule(k, end, events, seq)
            self.series.migrations.append(c.migrations - migrations_before)
            if progress is not None:
                progress(k + 1, steps)

    def _plan_and_schedule(
        self, step: int, now: float, events: list[tuple[float, int, str, int, int]], seq: int
    ) -> int:
        requests = self._decide(step)
        busy = set(np.flatnonzero(self.migrating_to >= 0).tolist())
        if not requests and not self.config.placement.sleep_empty_hosts:
            return seq
        solution = plan_reallocation(self._snapshot(), tuple(requests), self.config.placement)
        wake_at: dict[int, float] = {}
        for host_id in solution.wake:
            h = self._host_index[host_id]
            self.power_state[h] = WAKING
            wake_at[h] = now + self.config.wake_latency_s
            seq += 1
            heapq.heappush(events, (wake_at[h], seq, "awake", h, -1))
        for m in solution.migrations:
            v, dst = self._vm_index[m.vm_id], self._host_index[m.destination]
            if v in busy:
                continue
            self.c.migrations += 1
            self.c.migration_time += (
                float(self.dc.vm_ram[v]) / self.config.local.migration_bandwidth_mb_s
            )
            seq += 1
            heapq.heappush(events, (wake_at.get(dst, now), seq, "start", v, dst))
        self.pending_sleep |= {self._host_index[h] for h in solution.sleep}
        self._maybe_sleep()
        return seq

    def _maybe_sleep(self) -> None:
        """Put pending hosts to sleep once nothing is on them or on its way there."""
        for h in sorted(self.pending_sleep):
            if (self.vm_host == h).any() or (self.migrating_to == h).any():
                continue
            self.pending_sleep.discard(h)
            if self.power_state[h] == AWAKE:
                self.power_state[h] = ASLEEP
                self.c.shutdowns += 1


def simulate_native(
    traces: TraceSet,
    policy: str,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    config: NativeConfig | None = None,
    hosts: int = 800,
) -> SimulationResult:
    """Simulate ``policy`` with fleetwise's own managers."""
    parsed = parse_policy(policy, NATIVE_DETECTORS)
    cfg = native_config_for(policy, config)
    started = time.perf_counter()
    if parsed.baseline == "dvfs":
        cfg = cfg.model_copy(
            update={"placement": cfg.placement.model_copy(update={"sleep_empty_hosts": False})}
        )
    run = NativeRun(traces, cfg, hosts, consolidate=parsed.migrates or parsed.baseline == "dvfs")
    run.run(progress)
    c = run.c
    duration = run.samples.shape[1] * STEP_S
    energy_ws = c.energy_ws
    if parsed.baseline == "npa":
        energy_ws = float(run.dc.power_table[:, 10].sum()) * duration
    wall = time.perf_counter() - started
    energy = energy_ws / 3.6e6
    slatah = c.overload_time / c.busy_time if c.busy_time else 0.0
    pdm = c.migration_shortfall / c.demand if c.demand else 0.0
    busy = c.host_busy > 0
    asked = c.vm_demand > 0
    return SimulationResult(
        model="native",
        policy=parsed.name,
        day=traces.name,
        vms=run.dc.vms,
        hosts=run.dc.hosts,
        energy_kwh=energy,
        migrations=c.migrations,
        slatah=slatah,
        pdm=pdm,
        slav=slatah * pdm,
        esv=energy * slatah * pdm,
        sla_overall=(c.demand - c.served) / c.demand if c.demand else 0.0,
        sla_average=0.0,
        slatah_mean=float((c.host_over[busy] / c.host_busy[busy]).mean()) if busy.any() else 0.0,
        pdm_mean=float((c.vm_shortfall[asked] / c.vm_demand[asked]).mean()) if asked.any() else 0.0,
        host_shutdowns=c.shutdowns,
        mean_time_before_shutdown_s=0.0,
        mean_migration_time_s=c.migration_time / c.migrations if c.migrations else 0.0,
        aotf=slatah,
        aitf=c.asleep_time / (run.dc.hosts * duration),
        removed_vms=0,
        wall_seconds=wall,
        seed=seed,
        profile="native",
        series=run.series,
    )
