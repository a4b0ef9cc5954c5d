"""Metric accumulators of the CloudSim model (CloudSim 3.0.3's ``Helper.printResults``).

Host and VM *entries* are recorded at every update instant; an entry recorded again
at the same instant replaces the previous one. Metrics are accumulated over
consecutive entries, using the earlier entry's values over the time between them.
Recording is compiled (numba); sums follow numpy's summation order.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numba import njit

from fleetwise.sim.cloudsim.hostlists import HostLists
from fleetwise.sim.cloudsim.kernels import pairwise_sum
from fleetwise.sim.cloudsim.outcome import (
    EPISODE_SUM,
    EPISODES,
    LAST_TIME,
    SHUTDOWNS,
    UNDER_COUNT,
    UNDER_SUM,
    WAIT_SQ,
    WAIT_SUM,
    EntryMetrics,
    new_metrics,
)

__all__ = ["EntryMetrics", "close", "new_metrics", "record"]

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@njit(cache=True)
def _count_transitions(m: EntryMetrics, entry_time: float) -> None:
    n = m.host_active.size
    waits = np.empty(n)
    squares = np.empty(n)
    k = 0
    for h in range(n):
        if m.host_prev_active[h] and not m.host_active[h]:
            waits[k] = entry_time - m.host_switch_on[h]
            squares[k] = waits[k] * waits[k]
            k += 1
        elif m.host_active[h] and not m.host_prev_active[h]:
            m.host_switch_on[h] = entry_time
        m.host_prev_active[h] = m.host_active[h]
    if k:
        m.totals[SHUTDOWNS] += k
        m.totals[WAIT_SUM] += pairwise_sum(waits[:k])
        m.totals[WAIT_SQ] += pairwise_sum(squares[:k])


@njit(cache=True)
def final_vm_entry(m: EntryMetrics, v: int, entry_time: float) -> None:
    """VM ``v``'s entry at ``entry_time`` is final: time its in-migration runs by it."""
    migrating = m.vm_migrating[v]
    if migrating and not m.vm_prev_migrating[v]:
        m.vm_migration_start[v] = entry_time
    elif m.vm_prev_migrating[v] and not migrating:
        m.totals[EPISODES] += 1
        m.totals[EPISODE_SUM] += entry_time - m.vm_migration_start[v]
    m.vm_prev_migrating[v] = migrating


@njit(cache=True)
def _finalise(m: EntryMetrics, t: float) -> None:
    """Close the pending entries (recorded at the last time) with the next instant ``t``."""
    last = m.totals[LAST_TIME]
    dt = t - last
    for h in range(m.host_active.size):
        if m.host_active[h]:
            m.host_active_time[h] += dt
            if m.host_cur[h] < m.host_req[h]:
                m.host_violation_time[h] += dt
    _count_transitions(m, last)
    ratios = np.empty(m.vm_req.size)
    k = 0
    for v in range(m.vm_req.size):
        if not m.vm_has_entry[v]:
            continue
        final_vm_entry(m, v, last)
        req = m.vm_req[v]
        alloc = m.vm_alloc[v]
        m.vm_req_time[v] += req * dt
        m.vm_alloc_time[v] += alloc * dt
        if alloc < req:
            ratios[k] = (req - alloc) / req
            k += 1
            if m.vm_migrating[v]:
                m.vm_mig_shortfall[v] += (req - alloc) * dt
    if k:
        m.totals[UNDER_SUM] += pairwise_sum(ratios[:k])
        m.totals[UNDER_COUNT] += k


@njit(cache=True)
def record(
    m: EntryMetrics,
    t: float,
    host_cur: FloatArray,
    host_req: FloatArray,
    lists: HostLists,
    vm_alloc: FloatArray,
    request: FloatArray,
    in_migration: BoolArray,
) -> None:
    """Record the entries of every host and of every hosted VM at instant ``t``."""
    last = m.totals[LAST_TIME]
    if t > last:
        if last >= 0.0:
            _finalise(m, t)
        m.vm_has_entry[:] = False
    m.totals[LAST_TIME] = t
    m.host_cur[:] = host_cur
    m.host_req[:] = host_req
    for h in range(host_cur.size):
        m.host_active[h] = host_cur[h] > 0.0
    vms = request.size
    for h in range(host_cur.size):
        node = lists.head[h]
        while node >= 0:
            if node < vms:
                m.vm_has_entry[node] = True
                m.vm_alloc[node] = vm_alloc[node]
                m.vm_req[node] = request[node]
                m.vm_migrating[node] = in_migration[node]
            node = lists.nxt[node]


@njit(cache=True)
def close(m: EntryMetrics) -> None:
    """Count the transitions of the final entries (no time is added)."""
    last = m.totals[LAST_TIME]
    if last >= 0.0:
        _count_transitions(m, last)
        for v in range(m.vm_req.size):
            if m.vm_has_entry[v]:
                final_vm_entry(m, v, last)
