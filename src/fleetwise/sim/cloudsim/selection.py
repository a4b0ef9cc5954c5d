"""VM selection on the overloaded hosts of a consolidation step, compiled (numba).

Each policy repeats the core's choice (:mod:`fleetwise.core.selection`) to the last
bit, with VMs seen as CloudSim's policies see them:

* MMT, MU and MMT-max-CPU are keyed (the first VM with the least key); MU ranks the
  use in MIPS over the MIPS, ``(u·M)/M``, MMT-max-CPU averages use in MIPS;
* MC regresses the utilisation fractions through the commons-math-exact Householder
  QR, falling back to MMT as CloudSim does;
* RS draws from SplitMix64, seeded per run, tick, host and choice (CloudSim's own RS
  is unseeded, so only the distribution can be compared).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numba import njit

from fleetwise.core.selection._householder import all_r_squared
from fleetwise.sim.cloudsim.codes import MAX_CPU_LAST_N, MC, MMT, MU, RS
from fleetwise.sim.cloudsim.consolidate import (
    Fleet,
    Working,
    host_vms,
    listed_vms,
    select_keyed,
    still_overloaded,
    take_off,
)
from fleetwise.sim.cloudsim.rules import Rule

__all__ = ["mc_index", "seeded_index", "select", "vm_key"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

_MIX = np.uint64(1_000_003)


@njit(cache=True)
def vm_key(
    kind: int, v: int, ram: FloatArray, mips: FloatArray, history: FloatArray, length: int
) -> tuple[float, float]:
    """Key of VM ``v`` under keyed policy ``kind`` (histories newest first)."""
    if kind == MMT:
        return ram[v], 0.0
    if kind == MU:
        use = history[v, 0] * mips[v] if length > 0 else 0.0
        return use / mips[v], 0.0
    n = min(MAX_CPU_LAST_N, length)
    if n == 0:
        return ram[v], -0.0
    total = 0.0
    for i in range(n - 1, -1, -1):  # oldest first, as numpy sums the window
        total += history[v, i] * mips[v]
    return ram[v], -(total / n)


@njit(cache=True)
def seeded_index(seed: int, tick: int, host: int, pick: int, n: int) -> int:
    """RS: a uniform index below ``n`` for this choice (one SplitMix64 step)."""
    z = np.uint64(seed)
    for part in (tick, host, pick):
        z = z * _MIX + np.uint64(part)
    z = z + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return int(np.int64(z % np.uint64(n)))


@njit(cache=True)
def mc_index(vms: IntArray, ram: FloatArray, history: FloatArray, length: int) -> int:
    """MC: the VM with the largest R² on the others; MMT when MC cannot decide."""
    n = vms.size
    if 2 <= n <= length:
        columns = np.empty((length, n))
        for j in range(n):
            columns[:, j] = history[vms[j], :length]
        regular, scores = all_r_squared(columns)
        if regular:
            best, best_value = 0, 5e-324  # the smallest positive double
            for i in range(n):
                if scores[i] > best_value:
                    best, best_value = i, scores[i]
            return best
    best = 0
    for i in range(1, n):
        if ram[vms[i]] < ram[vms[best]]:
            best = i
    return best


@njit(cache=True)
def select(
    w: Working,
    fleet: Fleet,
    rule: Rule,
    over: BoolArray,
    kind: int,
    ram: FloatArray,
    mips: FloatArray,
    history: FloatArray,
    length: int,
    seed: int,
    tick: int,
) -> IntArray:
    """VMs taken off the overloaded hosts, each host until it is no longer overloaded."""
    if kind not in (RS, MC):
        keys = np.zeros((fleet.request.size, 2))
        for v in listed_vms(w, over):
            keys[v, 0], keys[v, 1] = vm_key(kind, v, ram, mips, history, length)
        keyed: IntArray = select_keyed(w, fleet, rule, over, keys)
        return keyed
    selected = np.empty(fleet.request.size, dtype=np.int64)
    k = 0
    for host in np.flatnonzero(over):
        h = int(host)
        pick = 0
        while True:
            vms = host_vms(w, h)
            if vms.size == 0:
                break
            if kind == RS:
                index = seeded_index(seed, tick, h, pick, vms.size)
            else:
                index = mc_index(vms, ram, history, length)
            pick += 1
            selected[k] = vms[index]
            k += 1
            take_off(w, fleet, h, vms[index])
            if not still_overloaded(w, fleet, rule, h):
                break
    return selected[:k]
