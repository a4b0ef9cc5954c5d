"""Metric accumulators of the CloudSim model (CloudSim 3.0.3's ``Helper.printResults``).

Host and VM *entries* are recorded at every update instant; an entry recorded again
at the same instant replaces the previous one. Metrics are accumulated over
consecutive entries, using the earlier entry's values over the time between them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

__all__ = ["EntryMetrics"]

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]


@dataclass
class EntryMetrics:
    """Running sums over host and VM entries."""

    hosts: int
    vms: int
    last_time: float = -1.0
    # the pending (not yet superseded) entry of every host
    host_cur: FloatArray = field(init=False)
    host_req: FloatArray = field(init=False)
    host_active: BoolArray = field(init=False)
    # finalised-entry state for shutdown counting
    host_prev_active: BoolArray = field(init=False)
    host_switch_on: FloatArray = field(init=False)
    host_active_time: FloatArray = field(init=False)
    host_violation_time: FloatArray = field(init=False)
    shutdowns: int = 0
    shutdown_wait_sum: float = 0.0
    shutdown_wait_sq: float = 0.0
    # the pending entry of every VM (has_entry: recorded at the last instant)
    vm_alloc: FloatArray = field(init=False)
    vm_req: FloatArray = field(init=False)
    vm_migrating: BoolArray = field(init=False)
    vm_has_entry: BoolArray = field(init=False)
    vm_req_time: FloatArray = field(init=False)
    vm_alloc_time: FloatArray = field(init=False)
    vm_mig_shortfall: FloatArray = field(init=False)
    under_ratio_sum: float = 0.0
    under_ratio_count: int = 0

    def __post_init__(self) -> None:
        n, m = self.hosts, self.vms
        self.host_cur = np.zeros(n)
        self.host_req = np.zeros(n)
        self.host_active = np.zeros(n, dtype=bool)
        self.host_prev_active = np.ones(n, dtype=bool)
        self.host_switch_on = np.zeros(n)
        self.host_active_time = np.zeros(n)
        self.host_violation_time = np.zeros(n)
        self.vm_alloc = np.zeros(m)
        self.vm_req = np.zeros(m)
        self.vm_migrating = np.zeros(m, dtype=bool)
        self.vm_has_entry = np.zeros(m, dtype=bool)
        self.vm_req_time = np.zeros(m)
        self.vm_alloc_time = np.zeros(m)
        self.vm_mig_shortfall = np.zeros(m)

    def _finalise(self, t: float) -> None:
        """Close the pending entries (recorded at ``last_time``) with the next instant ``t``."""
        dt = t - self.last_time
        active = self.host_active
        self.host_active_time[active] += dt
        violated = active & (self.host_cur < self.host_req)
        self.host_violation_time[violated] += dt
        self._count_transitions(self.last_time)
        m = self.vm_has_entry
        req = self.vm_req[m]
        alloc = self.vm_alloc[m]
        self.vm_req_time[m] += req * dt
        self.vm_alloc_time[m] += alloc * dt
        under = alloc < req
        if under.any():
            self.under_ratio_sum += float(((req[under] - alloc[under]) / req[under]).sum())
            self.under_ratio_count += int(under.sum())
            mig = self.vm_migrating[m] & under
            if mig.any():
                idx = np.flatnonzero(m)[mig]
                self.vm_mig_shortfall[idx] += (self.vm_req[idx] - self.vm_alloc[idx]) * dt

    def _count_transitions(self, entry_time: float) -> None:
        now = self.host_active
        down = self.host_prev_active & ~now
        up = ~self.host_prev_active & now
        if down.any():
            waits = entry_time - self.host_switch_on[down]
            self.shutdowns += int(down.sum())
            self.shutdown_wait_sum += float(waits.sum())
            self.shutdown_wait_sq += float((waits * waits).sum())
        if up.any():
            self.host_switch_on[up] = entry_time
        self.host_prev_active = now.copy()

    def record(
        self,
        t: float,
        host_cur: FloatArray,
        host_req: FloatArray,
        vm_ids: npt.NDArray[np.intp],
        vm_alloc: FloatArray,
        vm_req: FloatArray,
        vm_migrating: BoolArray,
    ) -> None:
        """Record the entries of every host and of the VMs ``vm_ids`` at instant ``t``."""
        if t > self.last_time and self.last_time >= 0.0:
            self._finalise(t)
            self.vm_has_entry[:] = False
        elif t > self.last_time:
            self.vm_has_entry[:] = False
        self.last_time = t
        self.host_cur = host_cur.copy()
        self.host_req = host_req.copy()
        self.host_active = host_cur > 0.0
        self.vm_has_entry[vm_ids] = True
        self.vm_alloc[vm_ids] = vm_alloc
        self.vm_req[vm_ids] = vm_req
        self.vm_migrating[vm_ids] = vm_migrating

    def drop_vms(self, vm_ids: npt.NDArray[np.intp]) -> None:
        """Removed VMs keep their last entry but get no successor, so it is never counted."""
        self.vm_has_entry[vm_ids] = False

    def close(self) -> None:
        """Count the transitions of the final entries (no time is added)."""
        if self.last_time >= 0.0:
            self._count_transitions(self.last_time)
