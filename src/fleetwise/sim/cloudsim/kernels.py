"""Compiled arithmetic of the CloudSim model (numba): power, sums, allocation, energy.

Each kernel performs exactly the floating-point operations, in the same order, as the
array code it stands for (numpy's pairwise summation included), so results are
bit-for-bit what the straightforward numpy formulation gives.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numba import njit

from fleetwise.core.fit import power_at
from fleetwise.sim.cloudsim.hostlists import HostLists
from fleetwise.sim.cloudsim.schedmap import SchedulerMaps, grow

__all__ = [
    "allocate",
    "charge_energy",
    "fleet_views",
    "pairwise_sum",
    "stale_power",
    "startup_placement",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

_BLOCK = 128  # numpy's pairwise-summation block


@njit(cache=True)
def _block_sum(values: FloatArray, lo: int, n: int) -> float:
    """numpy's sum of at most one block: 8 running sums, then the tail."""
    if n < 8:
        total = 0.0
        for i in range(lo, lo + n):
            total += values[i]
        return total
    r = values[lo : lo + 8].copy()
    i = 8
    end = n - n % 8
    while i < end:
        for j in range(8):
            r[j] += values[lo + i + j]
        i += 8
    total = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
    while i < n:
        total += values[lo + i]
        i += 1
    return float(total)


@njit(cache=True)
def pairwise_sum(values: FloatArray) -> float:
    """``values.sum()`` with numpy's summation order (contiguous float64).

    numpy halves a long array (the first half a multiple of 8 long) until the parts
    fit a block; the halving is walked here with explicit stacks.
    """
    spans = np.empty((64, 3), dtype=np.int64)  # start, length, halves done
    partial = np.empty(64)
    depth = 0
    done = 0
    spans[0, 0], spans[0, 1], spans[0, 2] = 0, values.size, 0
    while depth >= 0:
        lo, n, stage = spans[depth, 0], spans[depth, 1], spans[depth, 2]
        if n <= _BLOCK:
            partial[done] = _block_sum(values, lo, n)
            done += 1
            depth -= 1
            continue
        half = n // 2
        half -= half % 8
        if stage == 2:
            done -= 1
            partial[done - 1] = partial[done - 1] + partial[done]
            depth -= 1
            continue
        spans[depth, 2] = stage + 1
        depth += 1
        if stage == 0:
            spans[depth, 0], spans[depth, 1] = lo, half
        else:
            spans[depth, 0], spans[depth, 1] = lo + half, n - half
        spans[depth, 2] = 0
    return float(partial[0])


@njit(cache=True)
def _clamp(u: float) -> float:
    """CloudSim forgives utilisations up to 1 % above 1."""
    return 1.0 if 1.0 < u < 1.01 else u


@njit(cache=True)
def _checked_power(flat_tables: FloatArray, host: int, u: float) -> float:
    if not 0.0 <= u <= 1.0:
        raise ValueError("utilisation outside [0, 1]")
    return power_at(flat_tables, host, u)


@njit(cache=True)
def stale_power(
    host_cur: FloatArray, total: FloatArray, flat_tables: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Each host's utilisation at the tick (clamped) and its power there."""
    n = total.size
    util = np.empty(n)
    watts = np.empty(n)
    for h in range(n):
        util[h] = _clamp(host_cur[h] / total[h])
        watts[h] = _checked_power(flat_tables, h, util[h])
    return util, watts


@njit(cache=True)
def fleet_views(
    history: FloatArray,
    length: int,
    mips: FloatArray,
    type_totals: FloatArray,
    host_cur: FloatArray,
    total: FloatArray,
    flat_tables: FloatArray,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """What the consolidation step reads at a tick.

    Every VM's history as a share of each host type's capacity, ``(u·MIPS) / host MIPS``
    as CloudSim computes it (newest first, at least one column), and each host's
    utilisation at the tick with its power there.
    """
    width = max(length, 1)
    shares = np.empty((type_totals.size, mips.size, width))
    for t in range(type_totals.size):
        for v in range(mips.size):
            for i in range(width):
                shares[t, v, i] = (history[v, i] * mips[v]) / type_totals[t]
    stale, watts = stale_power(host_cur, total, flat_tables)
    return shares, stale, watts


@njit(cache=True)
def charge_energy(
    prev: FloatArray, cur: FloatArray, total: FloatArray, flat_tables: FloatArray, dt: float
) -> float:
    """Energy (W·s) over ``dt`` of every host that was on, power averaged linearly."""
    n = total.size
    frame = np.empty(n)
    k = 0
    for h in range(n):
        p = _clamp(prev[h] / total[h])
        if p > 0.0:
            p_prev = _checked_power(flat_tables, h, p)
            p_cur = _checked_power(flat_tables, h, _clamp(cur[h] / total[h]))
            frame[k] = (p_prev + (p_cur - p_prev) / 2) * dt
            k += 1
    return pairwise_sum(frame[:k])


@njit(cache=True)
def allocate(
    lists: HostLists,
    request: FloatArray,
    pe: FloatArray,
    total: FloatArray,
    in_migration: BoolArray,
    vm_alloc: FloatArray,
    maps: SchedulerMaps,
) -> tuple[FloatArray, FloatArray]:
    """Time-shared allocation of every list entry: (host allocated, host requested).

    A VM migrating in needs and gets 10 % of its capped request; one migrating out gets
    90 %; an over-subscribed host scales every need to fit and floors the result. The
    MIPS allocated to each hosted VM go to ``vm_alloc``. Nodes from ``request.size`` on
    are VMs migrating in. Each host's scheduler map grows to hold its list.
    """
    n = total.size
    vms = request.size
    cur = np.zeros(n)
    req = np.zeros(n)
    for h in range(n):
        need = 0.0
        size = 0
        node = lists.head[h]
        while node >= 0:
            v = lists.vm[node]
            a = min(request[v], pe[h])
            need += a * 0.1 if node >= vms else a
            size += 1
            node = lists.nxt[node]
        grow(maps, h, size)
        scale = total[h] / need if need > total[h] else 0.0
        node = lists.head[h]
        while node >= 0:
            is_in = node >= vms
            v = lists.vm[node]
            a = min(request[v], pe[h])
            out = (not is_in) and in_migration[v]
            if scale > 0.0:
                if is_in:
                    x = math.floor(a * 0.1 * scale)
                elif out:
                    x = math.floor(a * scale * 0.9)
                else:
                    x = math.floor(a * scale)
            elif is_in:
                x = a * 0.1
            elif out:
                x = a * 0.9
            else:
                x = a
            if not is_in:
                vm_alloc[v] = x
            cur[h] += x / 0.9 if out else x
            req[h] += request[v]
            node = lists.nxt[node]
    return cur, req


@njit(cache=True)
def startup_placement(
    mips: FloatArray,
    ram: FloatArray,
    pe: FloatArray,
    total: FloatArray,
    flat_tables: FloatArray,
    host_ram: float,
    max_per_host: int,
    power_aware: bool,
    limit: float,
) -> npt.NDArray[np.int64]:
    """Host of each VM at t = 0, in VM order, or -1 where none fits.

    A host fits if its PEs, free MIPS, free RAM and VM count allow; with
    ``power_aware`` a host that already has VMs must also stay at or below ``limit``
    with the new VM alone counted (earlier VMs request nothing before their first
    update), and the fitting host whose power grows least wins; otherwise the first.
    """
    n = total.size
    placed_mips = np.zeros(n)
    placed_ram = np.zeros(n)
    counts = np.zeros(n, dtype=np.int64)
    out = np.full(mips.size, -1, dtype=np.int64)
    for v in range(mips.size):
        best = -1
        best_cost = np.inf
        for h in range(n):
            if (
                pe[h] < mips[v]
                or total[h] - placed_mips[h] < mips[v]
                or host_ram - placed_ram[h] < ram[v]
                or counts[h] >= max_per_host
            ):
                continue
            if not power_aware:
                best = h
                break
            if counts[h] > 0 and mips[v] / total[h] > limit:
                continue
            after = min((placed_mips[h] + mips[v]) / total[h], 1.0)
            cost = _checked_power(flat_tables, h, after) - flat_tables[h * 11]
            if best < 0 or cost < best_cost:
                best, best_cost = h, cost
        if best < 0:
            return out
        out[v] = best
        placed_mips[best] += mips[v]
        placed_ram[best] += ram[v]
        counts[best] += 1
    return out
