"""One update instant of the CloudSim model, compiled (numba).

At every tick and migration completion all hosts are updated together: requests
read from the traces, time-shared allocation, energy since the last instant, host
and VM entries, and (outside migration starts) removal of VMs requesting nothing.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numba import njit

from fleetwise.sim.cloudsim.hostlists import HostLists, unlink
from fleetwise.sim.cloudsim.kernels import allocate, charge_energy
from fleetwise.sim.cloudsim.metrics import EntryMetrics, final_vm_entry, record
from fleetwise.sim.cloudsim.schedmap import SchedulerMaps

__all__ = ["Instant", "update_instant"]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@njit(cache=True)
def _requested_fraction(samples_t: FloatArray, t: float, interval: float) -> FloatArray:
    """Utilisation of every VM at ``t``, interpolated between samples (rows of ``samples_t``)."""
    if t % interval == 0.0:
        exact: FloatArray = samples_t[int(t) // int(interval)].copy()
        return exact
    i = math.floor(t / interval)
    j = math.ceil(t / interval)
    lo = samples_t[i]
    if j == i:  # t / interval rounded to a whole number
        exact_enough: FloatArray = lo.copy()
        return exact_enough
    delta = (samples_t[j] - lo) / ((j - i) * interval)
    between: FloatArray = lo + delta * (t - i * interval)
    return between


Instant = tuple[FloatArray, FloatArray, FloatArray, FloatArray, float]


@njit(cache=True)
def update_instant(
    t: float,
    dt: float,
    samples_t: FloatArray,
    interval: float,
    vm_mips: FloatArray,
    lists: HostLists,
    pe: FloatArray,
    total: FloatArray,
    flat_tables: FloatArray,
    alive: BoolArray,
    in_migration: BoolArray,
    vm_alloc: FloatArray,
    prev_cur: FloatArray,
    npa_watts: float,
    metrics: EntryMetrics,
    remove_idle: bool,
    maps: SchedulerMaps,
) -> Instant:
    """Update every host at ``t``, ``dt`` after the last instant.

    Returns the VMs' requested fractions and MIPS, each host's allocated and requested
    MIPS, and the energy (W·s) since the last instant (``npa_watts`` per second if
    given, all hosts at full power). ``maps.left`` marks the hosts that VMs left.
    """
    frac = _requested_fraction(samples_t, t, interval)
    request = frac * vm_mips
    cur, req = allocate(lists, request, pe, total, in_migration, vm_alloc, maps)
    maps.left[:] = False
    energy = 0.0
    if dt > 0.0:
        if npa_watts > 0.0:
            energy = npa_watts * dt
        else:
            energy = charge_energy(prev_cur, cur, total, flat_tables, dt)
    record(metrics, t, cur, req, lists, vm_alloc, request, in_migration)
    if remove_idle:
        for v in range(request.size):
            if alive[v] and not in_migration[v] and request[v] == 0.0:
                # gone for good: its last entry gets no successor, so it adds no time
                alive[v] = False
                maps.left[lists.owner[v]] = True
                unlink(lists, v)
                final_vm_entry(metrics, v, t)
                metrics.vm_has_entry[v] = False
    return frac, request, cur, req, energy
