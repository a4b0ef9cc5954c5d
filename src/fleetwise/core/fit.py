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

__all__ = ["best_fit_assign", "cheapest_power_increase", "least_fitting", "power_at"]

IntArray = npt.NDArray[np.intp]

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
def least_fitting(
    awake: BoolArray,
    want_awake: bool,
    cpu_free: FloatArray,
    ram_free: FloatArray,
    first_key: FloatArray,
    second_key: FloatArray,
    cpu: float,
    ram: float,
) -> int:
    """Among hosts awake (or asleep) that fit, the least ``(first_key, second_key)``; or -1.

    BFD takes the awake host with the least free CPU, then RAM, and else wakes the
    sleeping host with the least total CPU, then RAM.
    """
    best = -1
    for i in range(cpu_free.size):
        if awake[i] != want_awake or cpu_free[i] < cpu or ram_free[i] < ram:
            continue
        if (
            best < 0
            or first_key[i] < first_key[best]
            or (first_key[i] == first_key[best] and second_key[i] < second_key[best])
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


@njit(cache=True)
def best_fit_assign(
    awake: BoolArray,
    cpu_free: FloatArray,
    ram_free: FloatArray,
    cpu_total: FloatArray,
    ram_total: FloatArray,
    vm_cpu: FloatArray,
    vm_ram: FloatArray,
) -> IntArray:
    """BFD over VMs already in order: each VM's host index (-1: no host fits).

    Each VM goes to the awake host with the least free CPU, then RAM, that fits it;
    else the sleeping host with the least total CPU, then RAM, that fits is woken
    (``awake`` is updated). ``cpu_free`` and ``ram_free`` are updated in place.
    """
    chosen = np.full(vm_cpu.size, -1, dtype=np.intp)
    for k in range(vm_cpu.size):
        cpu = vm_cpu[k]
        ram = vm_ram[k]
        index = least_fitting(awake, True, cpu_free, ram_free, cpu_free, ram_free, cpu, ram)
        if index < 0:
            index = least_fitting(awake, False, cpu_free, ram_free, cpu_total, ram_total, cpu, ram)
            if index >= 0:
                awake[index] = True
        if index < 0:
            continue
        cpu_free[index] -= cpu
        ram_free[index] -= ram
        chosen[k] = index
    return chosen
