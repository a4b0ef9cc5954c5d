"""Mutable state of one CloudSim-model run: VM placement, migrations, histories.

Host VM lists (:mod:`fleetwise.sim.cloudsim.hostlists`) are kept in arrival order,
the order CloudSim iterates them in.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from fleetwise.sim.cloudsim.datacenter import Datacenter
from fleetwise.sim.cloudsim.hostlists import HostLists, entries, new_host_lists
from fleetwise.sim.cloudsim.schedmap import SchedulerMaps, new_maps

__all__ = ["HISTORY_LENGTH", "RunState"]

HISTORY_LENGTH = 30


@dataclass
class RunState:
    """Everything that changes during a run."""

    dc: Datacenter
    lists: HostLists = field(init=False)  # nodes: VMs, then a pool for VMs migrating in
    free_nodes: npt.NDArray[np.int64] = field(init=False)  # [count, unused pool nodes…]
    vm_host: npt.NDArray[np.intp] = field(init=False)
    alive: npt.NDArray[np.bool_] = field(init=False)
    in_migration: npt.NDArray[np.bool_] = field(init=False)
    history: npt.NDArray[np.float64] = field(init=False)  # VMs × 30, newest first
    history_len: int = 0
    request: npt.NDArray[np.float64] = field(init=False)  # current requested MIPS
    alloc: npt.NDArray[np.float64] = field(init=False)  # MIPS allocated at the VM's host
    host_cur: npt.NDArray[np.float64] = field(init=False)  # allocated MIPS (entry value)
    host_req: npt.NDArray[np.float64] = field(init=False)
    maps: SchedulerMaps = field(init=False)
    migrations: int = 0
    migration_time_sum: float = 0.0

    def __post_init__(self) -> None:
        n, m = self.dc.hosts, self.dc.vms
        pool = 4 * m + 8  # migrations in flight: at most those of one step (≤ 3 per VM)
        self.lists = new_host_lists(n, m + pool)
        self.lists.vm[:m] = np.arange(m)
        self.free_nodes = np.concatenate([[pool], np.arange(m + pool - 1, m - 1, -1)])
        self.vm_host = np.full(m, -1, dtype=np.intp)
        self.alive = np.ones(m, dtype=bool)
        self.in_migration = np.zeros(m, dtype=bool)
        self.history = np.zeros((m, HISTORY_LENGTH))
        self.request = self.dc.vm_mips.copy()
        self.alloc = np.zeros(m)
        self.host_cur = np.zeros(n)
        self.host_req = np.zeros(n)
        self.maps = new_maps(n)

    @property
    def host_lists(self) -> list[list[int]]:
        """Each host's list: ``v`` hosted (or migrating out), ``-v - 1`` migrating in."""
        return entries(self.lists, self.dc.vms)

    def push_history(self, utilisation: npt.NDArray[np.float64]) -> None:
        """Add the current utilisation of every live VM to the front of its history."""
        self.history[:, 1:] = self.history[:, :-1]
        self.history[:, 0] = np.where(self.alive, utilisation, 0.0)
        self.history_len = min(self.history_len + 1, HISTORY_LENGTH)
