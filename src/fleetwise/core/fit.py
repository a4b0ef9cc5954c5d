"""Compiled host searches of the placement algorithms (numba).

Each search is one pass over the hosts; ties go to the lower index, as a stable sort
would give. Power is interpolated with the exact arithmetic of
:func:`fleetwise.core.power.interpolate_tables`.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numba import njit

__all__ = ["best_fit", "cheapest_power_increase", "power_at", "smallest_sleeping"]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@njit(cache=True)
def power_at(flat_tables: FloatArray, host: int, u: float) -> float:
    """Power of host ``host`` at utilisation ``u`` from its 11-point table (flattened rows)."""
    base = host * 11
    if np.fmod(u, 0.1) == 0.0:
        return float(flat_tables[base + int(u * 10)])
    scaled = u * 10
    lo = math.floor(scaled)
    hi = math.ceil(scaled)
    p_lo = flat_tables[base + lo]
    return float(p_lo + (flat_tables[base + hi] - p_lo) / 10 * (u - lo / 10) * 100)


@njit(cache=True)
def best_fit(
    awake: BoolArray, cpu_free: FloatArray, ram_free: FloatArray, cpu: float, ram: float
) -> int:
    """The awake host that fits and has the least free CPU, then RAM; -1 if none fits."""
    best = -1
    for i in range(cpu_free.size):
        if not awake[i] or cpu_free[i] < cpu or ram_free[i] < ram:
            continue
        if (
            best < 0
            or cpu_free[i] < cpu_free[best]
            or (cpu_free[i] == cpu_free[best] and ram_free[i] < ram_free[best])
        ):
            best = i
    return best


@njit(cache=True)
def smallest_sleeping(
    awake: BoolArray,
    cpu_free: FloatArray,
    ram_free: FloatArray,
    cpu_total: FloatArray,
    ram_total: FloatArray,
    cpu: float,
    ram: float,
) -> int:
    """The sleeping host that fits with the least total CPU, then RAM; -1 if none fits."""
    best = -1
    for i in range(cpu_free.size):
        if awake[i] or cpu_free[i] < cpu or ram_free[i] < ram:
            continue
        if (
            best < 0
            or cpu_total[i] < cpu_total[best]
            or (cpu_total[i] == cpu_total[best] and ram_total[i] < ram_total[best])
        ):
            best = i
    return best


@njit(cache=True)
def cheapest_power_increase(
    cpu_free: FloatArray,
    ram_free: FloatArray,
    used: FloatArray,
    cpu_total: FloatArray,
    flat_tables: FloatArray,
    before: FloatArray,
    cpu: float,
    ram: float,
) -> tuple[int, float]:
    """The fitting host whose power grows least with ``cpu`` more load, and its new power."""
    best = -1
    best_delta = 0.0
    best_power = 0.0
    for i in range(cpu_free.size):
        if cpu_free[i] < cpu or ram_free[i] < ram:
            continue
        u = min(max((used[i] + cpu) / cpu_total[i], 0.0), 1.0)
        after = power_at(flat_tables, i, u)
        delta = after - before[i]
        if best < 0 or delta < best_delta:
            best, best_delta, best_power = i, delta, after
    return best, best_power
