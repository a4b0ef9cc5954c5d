"""Compiled inner loops of the CloudSim model (numba).

Each kernel performs exactly the floating-point operations, in the same order, as the
array code it replaces, so results are bit-for-bit the same; it only removes the
per-call overhead of many small array operations.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numba import njit

__all__ = ["allocate", "pabfd_candidates"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]


@njit(cache=True)
def _power(flat: FloatArray, host: int, u: float) -> float:
    base = host * 11
    if np.fmod(u, 0.1) == 0.0:
        return float(flat[base + int(u * 10)])
    scaled = u * 10
    lo = math.floor(scaled)
    hi = math.ceil(scaled)
    p_lo = flat[base + lo]
    return float(p_lo + (flat[base + hi] - p_lo) / 10 * (u - lo / 10) * 100)


@njit(cache=True)
def pabfd_candidates(
    request: float,
    excluded: BoolArray,
    pe: FloatArray,
    avail: FloatArray,
    alloc_sum: FloatArray,
    total: FloatArray,
    flat_tables: FloatArray,
    stale_power: FloatArray,
    stale_zero: BoolArray,
    host_type: IntArray,
) -> IntArray:
    """Hosts that fit the request, cheapest power increase first (ties: lower id).

    Idle hosts of one type all cost the same, so only the first of each is listed.
    """
    n = total.size
    seen = np.zeros(64, dtype=np.bool_)
    hosts = np.empty(n, dtype=np.intp)
    delta = np.empty(n, dtype=np.float64)
    m = 0
    for h in range(n):
        if excluded[h] or pe[h] < request or avail[h] < request:
            continue
        if alloc_sum[h] == 0.0 and stale_zero[h]:
            t = host_type[h]
            if seen[t]:
                continue
            seen[t] = True
        u = (alloc_sum[h] + request) / total[h]
        u = min(u, 1.0)
        hosts[m] = h
        delta[m] = _power(flat_tables, h, u) - stale_power[h]
        m += 1
    order = np.argsort(delta[:m], kind="mergesort")
    return hosts[:m][order]


@njit(cache=True)
def allocate(
    vm: IntArray,
    host: IntArray,
    is_in: BoolArray,
    request: FloatArray,
    pe: FloatArray,
    total: FloatArray,
    in_migration: BoolArray,
    hosts: int,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Time-shared allocation of every list entry: (allocated, host allocated, host requested).

    A VM migrating in needs and gets 10 % of its capped request; one migrating out gets
    90 %; an over-subscribed host scales every need to fit and floors the result.
    """
    m = vm.size
    capped = np.empty(m)
    need = np.zeros(hosts)
    for i in range(m):
        r = request[vm[i]]
        cap = pe[host[i]]
        a = r if r < cap else cap
        capped[i] = a
        need[host[i]] += a * 0.1 if is_in[i] else a
    alloc = np.empty(m)
    cur = np.zeros(hosts)
    req = np.zeros(hosts)
    for i in range(m):
        h = host[i]
        a = capped[i]
        out = (not is_in[i]) and in_migration[vm[i]]
        if need[h] > total[h]:
            f = total[h] / need[h]
            if is_in[i]:
                x = math.floor(a * 0.1 * f)
            elif out:
                x = math.floor(a * f * 0.9)
            else:
                x = math.floor(a * f)
        elif is_in[i]:
            x = a * 0.1
        elif out:
            x = a * 0.9
        else:
            x = a
        alloc[i] = x
        cur[h] += x / 0.9 if out else x
        req[h] += request[vm[i]]
    return alloc, cur, req


THR, MAD, IQR, LR = 0, 1, 2, 3  # overload rules compiled below (LR: unweighted)


@njit(cache=True)
def _median_of_sorted(values: FloatArray, n: int) -> float:
    """CloudSim's percentile-50 estimator on sorted values (position (n + 1) / 2)."""
    pos = (n + 1) / 2.0
    if pos < 1.0:
        return float(values[0])
    if pos >= n:
        return float(values[n - 1])
    k = math.floor(pos)
    lower = values[k - 1]
    return float(lower + (pos - k) * (values[k] - lower))


@njit(cache=True)
def _sum10(y: FloatArray) -> float:
    """Sum of 10 values in numpy's pairwise order (8 partial sums, then the tail)."""
    total = ((y[0] + y[1]) + (y[2] + y[3])) + ((y[4] + y[5]) + (y[6] + y[7]))
    total += y[8]
    total += y[9]
    return float(total)


@njit(cache=True)
def overloaded(rule: int, param: float, history: FloatArray, rho: float) -> bool:
    """CloudSim 3.0.3's overload test on a host's trimmed newest-first history.

    Same arithmetic as :class:`~fleetwise.sim.cloudsim.detectors.CloudSimDetector`.
    """
    if rule == THR:
        return rho > param
    n = history.size
    if rule in (MAD, IQR):
        if n < 12:
            return rho > 0.7
        ordered = np.sort(history)
        if rule == MAD:
            med = _median_of_sorted(ordered, n)
            spread = _median_of_sorted(np.sort(np.abs(med - history)), n)
        else:
            q1 = min(max(math.floor(0.25 * (n + 1) + 0.5) - 1, 0), n - 1)
            q3 = min(max(math.floor(0.75 * (n + 1) + 0.5) - 1, 0), n - 1)
            spread = ordered[q3] - ordered[q1]
        return rho > 1.0 - param * spread
    if n < 10:
        return rho > 0.7
    y = np.empty(10)
    for i in range(10):
        y[i] = history[9 - i]
    dot = 0.0
    for i in range(10):
        dot += (i + 1.0 - 5.5) * y[i]
    slope = dot / 82.5
    return param * (_sum10(y) / 10.0 + 5.5 * slope) >= 1.0
