"""What a CloudSim-model run produces: metric accumulators and raw outcome (numpy only).

Kept apart from the compiled code so that reading results needs no compiler.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

__all__ = ["EntryMetrics", "RunOutcome", "new_metrics"]

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]

# indices into EntryMetrics.totals
LAST_TIME, UNDER_SUM, UNDER_COUNT, SHUTDOWNS, WAIT_SUM, WAIT_SQ = range(6)
EPISODES, EPISODE_SUM = 6, 7


class EntryMetrics(NamedTuple):
    """Running sums over host and VM entries."""

    # the pending (not yet superseded) entry of every host
    host_cur: FloatArray
    host_req: FloatArray
    host_active: BoolArray
    # finalised-entry state for shutdown counting
    host_prev_active: BoolArray
    host_switch_on: FloatArray
    host_active_time: FloatArray
    host_violation_time: FloatArray
    # the pending entry of every VM (has_entry: recorded at the last instant)
    vm_alloc: FloatArray
    vm_req: FloatArray
    vm_migrating: BoolArray
    vm_has_entry: BoolArray
    vm_req_time: FloatArray
    vm_alloc_time: FloatArray
    vm_mig_shortfall: FloatArray
    # the last final entry's in-migration flag, and when the VM's migration began
    vm_prev_migrating: BoolArray
    vm_migration_start: FloatArray
    totals: FloatArray  # last entry time, under-allocation ratio sum and count, shutdowns…

    @property
    def under_ratio_sum(self) -> float:
        return float(self.totals[UNDER_SUM])

    @property
    def under_ratio_count(self) -> int:
        return int(self.totals[UNDER_COUNT])

    @property
    def shutdowns(self) -> int:
        return int(self.totals[SHUTDOWNS])

    @property
    def shutdown_wait_sum(self) -> float:
        return float(self.totals[WAIT_SUM])

    @property
    def migration_episodes(self) -> int:
        """Runs of in-migration VM entries (a VM moved twice at one tick counts once)."""
        return int(self.totals[EPISODES])

    @property
    def migration_episode_sum(self) -> float:
        """Their durations: the first in-migration entry to the first entry after the run."""
        return float(self.totals[EPISODE_SUM])


def new_metrics(hosts: int, vms: int) -> EntryMetrics:
    """Accumulators before the first entry."""
    totals = np.zeros(8)
    totals[LAST_TIME] = -1.0
    return EntryMetrics(
        host_cur=np.zeros(hosts),
        host_req=np.zeros(hosts),
        host_active=np.zeros(hosts, dtype=bool),
        host_prev_active=np.ones(hosts, dtype=bool),
        host_switch_on=np.zeros(hosts),
        host_active_time=np.zeros(hosts),
        host_violation_time=np.zeros(hosts),
        vm_alloc=np.zeros(vms),
        vm_req=np.zeros(vms),
        vm_migrating=np.zeros(vms, dtype=bool),
        vm_has_entry=np.zeros(vms, dtype=bool),
        vm_req_time=np.zeros(vms),
        vm_alloc_time=np.zeros(vms),
        vm_mig_shortfall=np.zeros(vms),
        vm_prev_migrating=np.zeros(vms, dtype=bool),
        vm_migration_start=np.zeros(vms),
        totals=totals,
    )


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
