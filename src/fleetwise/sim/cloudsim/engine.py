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
from typing import Literal

import numpy as np

from fleetwise.errors import InputError
from fleetwise.sim.cloudsim.datacenter import (
    HOST_RAM_MB,
    SCHEDULING_INTERVAL_S,
    Datacenter,
    build_datacenter,
)
from fleetwise.sim.cloudsim.detectors import CloudSimDetector
from fleetwise.sim.cloudsim.hostlists import append
from fleetwise.sim.cloudsim.instant import update_instant
from fleetwise.sim.cloudsim.kernels import startup_placement
from fleetwise.sim.cloudsim.metrics import close, new_metrics
from fleetwise.sim.cloudsim.moves import finish_moves, start_moves
from fleetwise.sim.cloudsim.optimize import Optimizer
from fleetwise.sim.cloudsim.outcome import RunOutcome
from fleetwise.sim.cloudsim.state import RunState
from fleetwise.traces.loader import TraceSet

__all__ = ["CloudSimRun", "RunOutcome", "run_cloudsim"]

MAX_VMS_PER_HOST = 10  # host BW 1 Gbit/s / VM BW 100 Mbit/s, binding only at t = 0

Mode = Literal["npa", "dvfs", "migrate"]


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
        samples = np.concatenate([samples, samples[:, -1:]], axis=1)
        self._samples_t = np.ascontiguousarray(samples.T)  # one row per sample time
        self.dc: Datacenter = build_datacenter(traces.vm_count, hosts)
        self.mode = mode
        self.state = RunState(self.dc)
        self.metrics = new_metrics(self.dc.hosts, self.dc.vms)
        self._flat_tables = np.ascontiguousarray(self.dc.power_table).reshape(-1)
        # NPA: every host at full power all the time
        self._npa_watts = float(self.dc.power_table[:, 10].sum()) if mode == "npa" else 0.0
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
        # A VM that is alone on its host is never refused, whatever its load.
        limit = np.inf
        if self.optimizer is not None:
            limit = self.optimizer.initial_limit
        hosts = startup_placement(
            dc.vm_mips, dc.vm_ram, dc.host_pe, dc.host_total, self._flat_tables, HOST_RAM_MB,
            MAX_VMS_PER_HOST, self.mode == "migrate", limit,
        )  # fmt: skip
        if (hosts < 0).any():
            v = int(np.argmax(hosts < 0))
            raise InputError(
                f"VM {v} of {dc.vms} does not fit on any of the {dc.hosts} hosts at start-up"
            )
        for v, h in enumerate(hosts.tolist()):
            append(st.lists, h, v)
            st.vm_host[v] = h

    # ------------------------------------------------------------------ updates
    def update_hosts(self, t: float, tick: bool, remove_idle: bool = True) -> None:
        """Update every host at instant ``t`` (allocation, entries, energy, idle VMs)."""
        dc, st = self.dc, self.state
        frac, request, cur, req, energy = update_instant(
            t, t - self._last_time, self._samples_t, SCHEDULING_INTERVAL_S, dc.vm_mips, st.lists,
            dc.host_pe, dc.host_total, self._flat_tables, st.alive, st.in_migration, st.alloc,
            st.host_cur, self._npa_watts, self.metrics, remove_idle, st.maps,
        )  # fmt: skip
        if tick:
            st.push_history(frac)
        st.request = request
        st.host_cur = cur
        st.host_req = req
        self._last_time = t
        self.energy_ws += energy
        self._frame_energy += energy

    # --------------------------------------------------------------- migrations
    def start_migrations(
        self, t: float, pairs: list[tuple[int, int]], completions: list[tuple[float, int, int]]
    ) -> None:
        st = self.state
        vms = np.array([v for v, _ in pairs], dtype=np.int64)
        dsts = np.array([d for _, d in pairs], dtype=np.int64)
        nodes = start_moves(st.lists, st.free_nodes, st.in_migration, vms, dsts)
        for v, node in zip(vms.tolist(), nodes.tolist(), strict=True):
            st.migrations += 1
            delay = float(self.dc.migration_time[v])
            st.migration_time_sum += delay
            heapq.heappush(completions, (t + delay, st.migrations, node))
        self.update_hosts(t, tick=False, remove_idle=False)

    # ----------------------------------------------------------------- main loop
    def run(self, progress: Callable[[int, int], None] | None = None) -> RunOutcome:
        self.initial_placement()
        st = self.state
        completions: list[tuple[float, int, int]] = []
        ticks: list[float] = []
        # The day's length follows the traces: 288 samples of 300 s are 86,400 s.
        limit = SCHEDULING_INTERVAL_S * (self._samples_t.shape[0] - 1)
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
            self.update_hosts(now, tick=True)
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
        close(self.metrics)
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

    def _run_completions(self, completions: list[tuple[float, int, int]], before: float) -> None:
        while completions and completions[0][0] < before:
            t_c = completions[0][0]
            self.update_hosts(t_c, tick=False)
            nodes: list[int] = []
            while completions and completions[0][0] == t_c:
                nodes.append(heapq.heappop(completions)[2])
            st = self.state
            finish_moves(
                st.lists,
                st.free_nodes,
                st.vm_host,
                st.in_migration,
                np.array(nodes, dtype=np.int64),
            )
            self.update_hosts(t_c, tick=False)


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
