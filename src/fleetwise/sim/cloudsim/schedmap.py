"""The order in which a host's VM scheduler re-allocates its VMs, compiled (numba).

CloudSim's time-shared scheduler keeps the requests of a host's VMs in a Java
``HashMap`` keyed by the VM's uid. Adding a VM subtracts its request from the free
MIPS; removing one (a VM that requests nothing, a tentative placement taken back, a
trial allocation in PABFD's overload test) re-allocates all the others in the map's
iteration order: buckets ``hash & (capacity − 1)`` in ascending order, arrival order
within a bucket. The map's capacity starts at 16 and doubles whenever it holds more
than three quarters of it, and never shrinks. Which order the free MIPS are
subtracted in changes their last bits, and so, at the margin, whether a VM fits.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from numba import njit

__all__ = ["SchedulerMaps", "grow", "map_order", "new_maps", "sequential_free"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

INITIAL_CAPACITY = 16


class SchedulerMaps(NamedTuple):
    """Per host: the map's capacity, and whether a VM left it at the last update."""

    capacity: IntArray
    left: BoolArray


@njit(cache=True)
def new_maps(hosts: int) -> SchedulerMaps:
    """Empty maps of ``hosts`` hosts."""
    return SchedulerMaps(
        np.full(hosts, INITIAL_CAPACITY, dtype=np.int64), np.zeros(hosts, dtype=np.bool_)
    )


@njit(cache=True)
def grow(maps: SchedulerMaps, h: int, size: int) -> bool:
    """Host ``h``'s map holds ``size`` VMs: double its capacity as Java does; whether it grew."""
    capacity = maps.capacity[h]
    while size > capacity * 3 // 4:
        capacity *= 2
    grown = bool(capacity != maps.capacity[h])
    maps.capacity[h] = capacity
    return grown


@njit(cache=True)
def map_order(vm_hash: IntArray, vms: IntArray, capacity: int) -> IntArray:
    """``vms`` (in arrival order) in the map's iteration order."""
    buckets = np.empty(vms.size, dtype=np.int64)
    for i in range(vms.size):
        buckets[i] = vm_hash[vms[i]] & (capacity - 1)
    ordered: IntArray = vms[np.argsort(buckets, kind="mergesort")]
    return ordered


@njit(cache=True)
def sequential_free(total: float, pe: float, request: FloatArray, vms: IntArray) -> float:
    """Free MIPS after allocating ``vms`` one by one (capped at a PE); 0 once over-subscribed."""
    free = total
    for v in vms:
        need = min(request[v], pe)
        free = free - need if free >= need else 0.0
    return free
