"""Mutable state of one CloudSim-model run: VM placement, migrations, histories.

Host VM lists are kept in arrival order, the order CloudSim iterates them in. An
entry ``e >= 0`` is VM ``e`` hosted normally (or migrating *out* while the VM is
flagged in migration); ``e < 0`` is VM ``-e - 1`` migrating *in*.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from fleetwise.sim.cloudsim.datacenter import Datacenter

__all__ = ["HISTORY_LENGTH", "RunState", "incoming"]

HISTORY_LENGTH = 30


def incoming(vm: int) -> int:
    """List entry of a VM migrating in."""
    return -vm - 1


@dataclass
class RunState:
    """Everything that changes during a run."""

    dc: Datacenter
    samples: npt.NDArray[np.float64]  # VMs × 289 utilisation fractions
    host_lists: list[list[int]] = field(init=False)
    vm_host: npt.NDArray[np.intp] = field(init=False)
    alive: npt.NDArray[np.bool_] = field(init=False)
    in_migration: npt.NDArray[np.bool_] = field(init=False)
    history: npt.NDArray[np.float64] = field(init=False)  # VMs × 30, newest first
    history_len: int = 0
    request: npt.NDArray[np.float64] = field(init=False)  # current requested MIPS
    utilisation: npt.NDArray[np.float64] = field(init=False)  # current requested fraction
    alloc: npt.NDArray[np.float64] = field(init=False)  # MIPS allocated at the VM's host
    host_cur: npt.NDArray[np.float64] = field(init=False)  # allocated MIPS (entry value)
    host_req: npt.NDArray[np.float64] = field(init=False)
    migrations: int = 0
    migration_time_sum: float = 0.0
    _members: tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.bool_]] | None = None

    def __post_init__(self) -> None:
        n, m = self.dc.hosts, self.dc.vms
        self.host_lists = [[] for _ in range(n)]
        self.vm_host = np.full(m, -1, dtype=np.intp)
        self.alive = np.ones(m, dtype=bool)
        self.in_migration = np.zeros(m, dtype=bool)
        self.history = np.zeros((m, HISTORY_LENGTH))
        self.request = self.dc.vm_mips.copy()
        self.utilisation = np.ones(m)
        self.alloc = np.zeros(m)
        self.host_cur = np.zeros(n)
        self.host_req = np.zeros(n)

    def lists_changed(self) -> None:
        self._members = None

    def members(
        self,
    ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.bool_]]:
        """(vm, host, migrating-in) of every list entry, by host then list position."""
        if self._members is None:
            lengths = [len(entries) for entries in self.host_lists]
            raw = np.fromiter(
                itertools.chain.from_iterable(self.host_lists), dtype=np.intp, count=sum(lengths)
            )
            hosts = np.repeat(np.arange(len(lengths), dtype=np.intp), lengths)
            is_in = raw < 0
            vm = np.where(is_in, -raw - 1, raw)
            self._members = (vm, hosts, is_in)
        return self._members

    def push_history(self, utilisation: npt.NDArray[np.float64]) -> None:
        """Add the current utilisation of every live VM to the front of its history."""
        self.history[:, 1:] = self.history[:, :-1]
        self.history[:, 0] = np.where(self.alive, utilisation, 0.0)
        self.history_len = min(self.history_len + 1, HISTORY_LENGTH)
