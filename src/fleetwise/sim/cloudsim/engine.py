"""The CloudSim 3.0.3 model: event loop, host updates and migrations.

Time advances through *ticks* (every 300 s from 300.1 s) and migration
*completions*. At every instant all hosts are updated at once with array
operations: requests from the traces, time-shared allocation with
over-subscription, host and VM entries, energy. At a tick the consolidation
policy (:mod:`fleetwise.sim.cloudsim.optimize`) proposes migrations, which start
at once and complete after RAM / (BW / 16000) seconds.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from fleetwise.core.power import interpolate_tables
from fleetwise.errors import InputError
from fleetwise.sim.cloudsim.datacenter import (
    HOST_RAM_MB,
    SCHEDULING_INTERVAL_S,
    Datacenter,
    build_datacenter,
)
from fleetwise.sim.cloudsim.detectors import CloudSimDetector
from fleetwise.sim.cloudsim.kernels import allocate
from fleetwise.sim.cloudsim.metrics import EntryMetrics
from fleetwise.sim.cloudsim.optimize import Optimizer
from fleetwise.sim.cloudsim.state import RunState, incoming
from fleetwise.traces.loader import TraceSet

__all__ = ["CloudSimRun", "RunOutcome", "run_cloudsim"]

MAX_VMS_PER_HOST = 10  # host BW 1 Gbit/s / VM BW 100 Mbit/s, binding only at t = 0

Mode = Literal["npa", "dvfs", "migrate"]


@dataclass(frozen=True)
class RunOutcome:
    """Raw results of one run (turned into reported metrics by the caller)."""

    energy_ws: float
    migrations: int
    metrics: EntryMetrics
    migration_time_sum: float
    active_hosts: npt.NDArray[np.int64]  # per tick
    power_w: npt.NDArray[np.float64]  # per tick (mean over the frame ending at the tick)
    migrations_per_tick: npt.NDArray[np.int64]
    vms: int
    hosts: int
    removed_vms: int


def _request_fraction(samples: npt.NDArray[np.float64], t: float) -> npt.NDArray[np.float64]:
    """Utilisation of every VM at time ``t``, interpolated between 300 s samples."""
    interval = SCHEDULING_INTERVAL_S
    if t % interval == 0.0:
        out: npt.NDArray[np.float64] = samples[:, int(t) // int(interval)].copy()
        return out
    i = int(np.floor(t / interval))
    j = int(np.ceil(t / interval))
    lo = samples[:, i]
    delta = (samples[:, j] - lo) / ((j - i) * interval)
    result: npt.NDArray[np.float64] = lo + delta * (t - i * interval)
    return result


class CloudSimRun:
    """One simulated day of the CloudSim PlanetLab experiment."""

    def __init__(
        self,
        traces: TraceSet,
        mode: Mode,
        detector: CloudSimDetector | None = None,
        selection: str = "mmt",
        seed: int = 0,
        hosts: int = 800,
    ) -> None:
        if mode == "migrate" and detector is None:
            raise ValueError("a migrating policy needs an overload detector")
        samples = traces.cpu.astype(np.float64) / 100.0
        self.samples = np.concatenate([samples, samples[:, -1:]], axis=1)
        self.dc: Datacenter = build_datacenter(traces.vm_count, hosts)
        self.mode = mode
        self.state = RunState(self.dc, self.samples)
        self.metrics = EntryMetrics(self.dc.hosts, self.dc.vms)
        self.optimizer = (
            Optimizer(self.state, detector, selection, seed) if detector is not None else None
        )
        self.energy_ws = 0.0
        self._last_time = 0.0
        self._frame_energy = 0.0

    # ----------------------------------------------------------------- placement
    def initial_placement(self) -> None:
        """Place every VM at t = 0 (PABFD for migrating policies, first fit otherwise)."""
        dc, st = self.dc, self.state
        placed_mips = np.zeros(dc.hosts)
        placed_ram = np.zeros(dc.hosts)
        counts = np.zeros(dc.hosts, dtype=np.intp)
        idle = dc.power_table[:, 0]
        for v in range(dc.vms):
            mips, ram = dc.vm_mips[v], dc.vm_ram[v]
            ok = (
                (dc.host_pe >= mips)
                & (dc.host_total - placed_mips >= mips)
                & (HOST_RAM_MB - placed_ram >= ram)
                & (counts < MAX_VMS_PER_HOST)
            )
            if self.mode == "migrate":
                assert self.optimizer is not None
                # Earlier VMs request nothing before their first update: only v counts.
                rho = mips / dc.host_total
                ok &= (counts == 0) | ~self.optimizer.initially_overloaded(rho)
                after = np.minimum((placed_mips + mips) / dc.host_total, 1.0)
                cost = interpolate_tables(dc.power_table, after)
                cost = np.where(ok, cost - idle, np.inf)
                h = int(np.argmin(cost)) if ok.any() else -1
            else:
                h = int(np.argmax(ok)) if ok.any() else -1
            if h < 0:
                raise InputError(
                    f"VM {v} of {dc.vms} does not fit on any of the {dc.hosts} hosts at start-up"
                )
            placed_mips[h] += mips
            placed_ram[h] += ram
            counts[h] += 1
            st.host_lists[h].append(v)
            st.vm_host[v] = h
        st.lists_changed()

    # ------------------------------------------------------------------ updates
    def update_hosts(self, t: float, tick: bool) -> None:
        """Update every host at instant ``t`` (allocation, entries, energy)."""
        dc, st = self.dc, self.state
        frac = _request_fraction(self.samples, t)
        request = frac * dc.vm_mips
        if tick:
            st.push_history(frac)
        st.utilisation = frac
        st.request = request
        vm, host, is_in = st.members()
        r = request[vm]
        alloc, cur, req = allocate(
            vm, host, is_in, request, dc.host_pe, dc.host_total, st.in_migration, dc.hosts
        )
        hosted = ~is_in
        hosted_vm = vm[hosted]
        st.alloc[hosted_vm] = alloc[hosted]
        dt = t - self._last_time
        if dt > 0.0:
            self._charge_energy(st.host_cur, cur, dt)
        st.host_cur = cur
        st.host_req = req
        self._last_time = t
        self.metrics.record(
            t, cur, req, hosted_vm, alloc[hosted], r[hosted], st.in_migration[hosted_vm]
        )

    def _charge_energy(
        self, prev: npt.NDArray[np.float64], cur: npt.NDArray[np.float64], dt: float
    ) -> None:
        dc = self.dc
        if self.mode == "npa":
            watts = float(dc.power_table[:, 10].sum())
            self.energy_ws += watts * dt
            self._frame_energy += watts * dt
            return
        p = _clamp(prev / dc.host_total)
        on = p > 0.0
        if not on.any():
            return
        c = _clamp(cur[on] / dc.host_total[on])
        tables = dc.power_table[on]
        p_prev = interpolate_tables(tables, p[on])
        p_cur = interpolate_tables(tables, c)
        energy = float(((p_prev + (p_cur - p_prev) / 2) * dt).sum())
        self.energy_ws += energy
        self._frame_energy += energy

    def remove_idle_vms(self) -> None:
        """VMs requesting nothing (and not migrating) leave the data centre for good."""
        st = self.state
        gone = st.alive & ~st.in_migration & (st.request == 0.0)
        if not gone.any():
            return
        ids = np.flatnonzero(gone)
        st.alive[ids] = False
        for v in ids:
            st.host_lists[st.vm_host[v]].remove(int(v))
        st.lists_changed()
        self.metrics.drop_vms(ids)

    def full_update(self, t: float, tick: bool) -> None:
        self.update_hosts(t, tick)
        self.remove_idle_vms()

    # --------------------------------------------------------------- migrations
    def start_migrations(
        self, t: float, pairs: list[tuple[int, int]], completions: list[tuple[float, int, int, int]]
    ) -> None:
        st = self.state
        for v, dst in pairs:
            st.in_migration[v] = True
            st.host_lists[dst].append(incoming(v))
            st.migrations += 1
            delay = float(self.dc.migration_time[v])
            st.migration_time_sum += delay
            heapq.heappush(completions, (t + delay, st.migrations, v, dst))
        st.lists_changed()
        self.update_hosts(t, tick=False)

    def complete_migration(self, v: int, dst: int) -> None:
        st = self.state
        st.host_lists[st.vm_host[v]].remove(v)
        st.host_lists[dst].remove(incoming(v))
        st.in_migration[v] = False
        st.host_lists[dst].append(v)
        st.vm_host[v] = dst
        st.lists_changed()

    # ----------------------------------------------------------------- main loop
    def run(self, progress: Callable[[int, int], None] | None = None) -> RunOutcome:
        self.initial_placement()
        st = self.state
        completions: list[tuple[float, int, int, int]] = []
        ticks: list[float] = []
        # The day's length follows the traces: 288 samples of 300 s are 86,400 s.
        limit = SCHEDULING_INTERVAL_S * (self.samples.shape[1] - 1)
        t = 0.1 + SCHEDULING_INTERVAL_S
        while t < limit:
            ticks.append(t)
            t = t + SCHEDULING_INTERVAL_S
        if self.mode == "npa":
            self._last_time = 0.0
        active = np.zeros(len(ticks), dtype=np.int64)
        power = np.zeros(len(ticks))
        per_tick = np.zeros(len(ticks), dtype=np.int64)
        frame_start = 0.0
        for k, now in enumerate(ticks):
            self._run_completions(completions, before=now)
            self.full_update(now, tick=True)
            active[k] = int((st.host_cur > 0).sum())
            power[k] = self._frame_energy / (now - frame_start)
            self._frame_energy = 0.0
            frame_start = now
            if self.optimizer is not None:
                pairs = self.optimizer.optimize(k + 1)
                if pairs:
                    per_tick[k] = len(pairs)
                    self.start_migrations(now, pairs, completions)
            if progress is not None:
                progress(k + 1, len(ticks))
        self._run_completions(completions, before=float("inf"))
        self.metrics.close()
        return RunOutcome(
            energy_ws=self.energy_ws,
            migrations=st.migrations,
            metrics=self.metrics,
            migration_time_sum=st.migration_time_sum,
            active_hosts=active,
            power_w=power,
            migrations_per_tick=per_tick,
            vms=self.dc.vms,
            hosts=self.dc.hosts,
            removed_vms=int((~st.alive).sum()),
        )

    def _run_completions(
        self, completions: list[tuple[float, int, int, int]], before: float
    ) -> None:
        while completions and completions[0][0] < before:
            t_c = completions[0][0]
            self.full_update(t_c, tick=False)
            while completions and completions[0][0] == t_c:
                _, _, v, dst = heapq.heappop(completions)
                self.complete_migration(v, dst)
            self.full_update(t_c, tick=False)


def _clamp(u: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    out: npt.NDArray[np.float64] = np.where((u > 1.0) & (u < 1.01), 1.0, u)
    return out


def run_cloudsim(
    traces: TraceSet,
    mode: Mode,
    detector: CloudSimDetector | None = None,
    selection: str = "mmt",
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    hosts: int = 800,
) -> RunOutcome:
    """Simulate one day of ``traces`` in the CloudSim model."""
    return CloudSimRun(traces, mode, detector, selection, seed, hosts).run(progress)
