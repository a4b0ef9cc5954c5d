"""Migrations starting and completing on the run's host lists, compiled (numba)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numba import njit

from fleetwise.sim.cloudsim.hostlists import HostLists, append, unlink

__all__ = ["finish_moves", "start_moves"]

IntArray = npt.NDArray[np.int64]


@njit(cache=True)
def start_moves(
    lists: HostLists,
    free: IntArray,
    in_migration: npt.NDArray[np.bool_],
    vms: IntArray,
    dsts: IntArray,
) -> IntArray:
    """VMs start migrating: each is listed at its destination as incoming (its node returned)."""
    nodes = np.empty(vms.size, dtype=np.int64)
    for i in range(vms.size):
        top = free[0]
        if top == 0:
            raise ValueError("too many migrations in flight")
        node = free[top]
        free[0] = top - 1
        lists.vm[node] = vms[i]
        in_migration[vms[i]] = True
        append(lists, dsts[i], node)
        nodes[i] = node
    return nodes


@njit(cache=True)
def finish_moves(
    lists: HostLists,
    free: IntArray,
    vm_host: npt.NDArray[np.intp],
    in_migration: npt.NDArray[np.bool_],
    nodes: IntArray,
) -> None:
    """Migrations complete, in order: each VM leaves its source and is hosted at its target."""
    for node in nodes:
        v = lists.vm[node]
        dst = lists.owner[node]
        unlink(lists, v)
        unlink(lists, node)
        free[0] += 1
        free[free[0]] = node
        in_migration[v] = False
        append(lists, dst, v)
        vm_host[v] = dst
