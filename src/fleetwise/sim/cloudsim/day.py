"""A whole simulated day in one compiled call (numba).

The compiled twin of :meth:`fleetwise.sim.cloudsim.engine.CloudSimRun.run`: the same
start-up placement, update instants, consolidation steps and migrations, through
the same kernels, in the same order, so its results equal the engine's to the last
bit. Everything comes in as arrays and scalars, and the metric accumulators and
per-tick series are filled in place, so that the function can also be compiled
ahead of time (:mod:`fleetwise.sim.cloudsim.aot`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from numba import njit

from fleetwise.sim.cloudsim.consolidate import Fleet, begin, overloaded_hosts, place
from fleetwise.sim.cloudsim.hostlists import HostLists, append, new_host_lists
from fleetwise.sim.cloudsim.instant import update_instant
from fleetwise.sim.cloudsim.kernels import fleet_views, startup_placement
from fleetwise.sim.cloudsim.metrics import close
from fleetwise.sim.cloudsim.moves import finish_moves, start_moves
from fleetwise.sim.cloudsim.outcome import EntryMetrics
from fleetwise.sim.cloudsim.rules import Rule
from fleetwise.sim.cloudsim.schedmap import SchedulerMaps, new_maps
from fleetwise.sim.cloudsim.selection import select

__all__ = ["DVFS", "MIGRATE", "NPA", "run_day"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

NPA, DVFS, MIGRATE = 0, 1, 2
HISTORY_LENGTH = 30
INTERVAL = 300.0


class Constants(NamedTuple):
    """The day's fixed inputs."""

    samples_t: FloatArray  # one row per sample time
    vm_mips: FloatArray
    host_pe: FloatArray
    host_total: FloatArray
    flat_tables: FloatArray
    npa_watts: float


class State(NamedTuple):
    """What changes during the day (scalars in ``clock``: last instant, history length)."""

    lists: HostLists
    alive: BoolArray
    in_migration: BoolArray
    history: FloatArray
    request: FloatArray
    alloc: FloatArray
    host_cur: FloatArray
    host_req: FloatArray
    clock: FloatArray  # [time of the last instant, history length]
    maps: SchedulerMaps


@njit(cache=True)
def _update(
    c: Constants, s: State, m: EntryMetrics, t: float, tick: bool, remove_idle: bool
) -> float:
    """Update every host at ``t`` (and push histories at a tick); the energy since the last."""
    frac, request, cur, req, energy = update_instant(
        t, t - s.clock[0], c.samples_t, INTERVAL, c.vm_mips, s.lists, c.host_pe, c.host_total,
        c.flat_tables, s.alive, s.in_migration, s.alloc, s.host_cur, c.npa_watts, m,
        remove_idle, s.maps,
    )  # fmt: skip
    if tick:
        for i in range(HISTORY_LENGTH - 1, 0, -1):
            s.history[:, i] = s.history[:, i - 1]
        for v in range(frac.size):
            s.history[v, 0] = frac[v] if s.alive[v] else 0.0
        s.clock[1] = min(s.clock[1] + 1.0, HISTORY_LENGTH)
    s.request[:] = request
    s.host_cur[:] = cur
    s.host_req[:] = req
    s.clock[0] = t
    return energy


@njit(cache=True)
def _complete(
    c: Constants,
    s: State,
    m: EntryMetrics,
    free: IntArray,
    vm_host: IntArray,
    times: FloatArray,
    nodes: IntArray,
    before: float,
    energy: FloatArray,
) -> int:
    """Complete the pending migrations due before ``before``, by time then start order.

    Returns how many stay pending (moved to the front of ``times`` and ``nodes``).
    """
    order = np.argsort(times, kind="mergesort")
    i = 0
    while i < order.size and times[order[i]] < before:
        t_c = times[order[i]]
        j = i
        while j < order.size and times[order[j]] == t_c:
            j += 1
        _charge(energy, _update(c, s, m, t_c, False, True))
        finish_moves(s.lists, free, vm_host, s.in_migration, nodes[order[i:j]])
        _charge(energy, _update(c, s, m, t_c, False, True))
        i = j
    rest = order[i:]
    times[: rest.size] = times[rest].copy()
    nodes[: rest.size] = nodes[rest].copy()
    return rest.size


@njit(cache=True, inline="always")
def _charge(energy: FloatArray, amount: float) -> None:
    energy[0] += amount  # the day's total
    energy[1] += amount  # the current frame's


class Day(NamedTuple):
    """The day's inputs (see :func:`run_day`)."""

    samples_t: FloatArray
    ticks: FloatArray
    vm_mips: FloatArray
    vm_ram: FloatArray
    migration_time: FloatArray
    vm_hash: IntArray
    host_type: IntArray
    host_total: FloatArray
    host_pe: FloatArray
    flat_tables: FloatArray
    type_totals: FloatArray
    mode: int
    rule_kind: int
    rule_param: float
    weighted: bool
    tricube: FloatArray
    selection: int
    seed: int
    initial_limit: float
    npa_watts: float
    host_ram: float
    max_per_host: int


@njit(cache=True)
def _simulate(
    d: Day, metrics: EntryMetrics, active: IntArray, power: FloatArray, per_tick: IntArray
) -> tuple[float, int, float, int, int]:
    """The day, as :meth:`fleetwise.sim.cloudsim.engine.CloudSimRun.run` steps through it."""
    samples_t, ticks, vm_mips, vm_ram = d.samples_t, d.ticks, d.vm_mips, d.vm_ram
    host_type, host_total, host_pe = d.host_type, d.host_total, d.host_pe
    flat_tables = d.flat_tables
    n, vms = host_total.size, vm_mips.size
    pool = 4 * vms + 8  # migrations in flight: at most those of one step (≤ 3 per VM)
    lists = new_host_lists(n, vms + pool)
    lists.vm[:vms] = np.arange(vms)
    free = np.empty(pool + 1, dtype=np.int64)
    free[0] = pool
    free[1:] = np.arange(vms + pool - 1, vms - 1, -1)
    vm_host = np.full(vms, -1, dtype=np.int64)
    c = Constants(samples_t, vm_mips, host_pe, host_total, flat_tables, d.npa_watts)
    s = State(
        lists, np.ones(vms, dtype=np.bool_), np.zeros(vms, dtype=np.bool_),
        np.zeros((vms, HISTORY_LENGTH)), vm_mips.copy(), np.zeros(vms), np.zeros(n), np.zeros(n),
        np.zeros(2), new_maps(n),
    )  # fmt: skip
    hosts = startup_placement(
        vm_mips, vm_ram, host_pe, host_total, flat_tables, d.host_ram, d.max_per_host,
        d.mode == MIGRATE, d.initial_limit,
    )  # fmt: skip
    for v in range(vms):
        if hosts[v] < 0:
            return 0.0, 0, 0.0, 0, v
        append(lists, hosts[v], v)
        vm_host[v] = hosts[v]
    rule = Rule(d.rule_kind, d.rule_param, d.weighted, d.tricube)
    times = np.empty(pool)
    nodes = np.empty(pool, dtype=np.int64)
    pending = 0
    energy = np.zeros(2)
    migrations = 0
    planned = 0.0
    frame_start = 0.0
    for k in range(ticks.size):
        now = ticks[k]
        pending = _complete(
            c, s, metrics, free, vm_host, times[:pending], nodes[:pending], now, energy
        )
        _charge(energy, _update(c, s, metrics, now, True, True))
        active[k] = np.count_nonzero(s.host_cur > 0)
        power[k] = energy[1] / (now - frame_start)
        energy[1] = 0.0
        frame_start = now
        if d.mode != MIGRATE:
            continue
        length = int(s.clock[1])
        shares, stale, watts = fleet_views(
            s.history, length, vm_mips, d.type_totals, s.host_cur, host_total, flat_tables
        )
        fleet = Fleet(
            host_total, host_pe, host_type, flat_tables, s.request, shares, stale, watts,
            d.vm_hash,
        )  # fmt: skip
        w = begin(lists, s.host_cur, s.host_req, fleet, s.maps)
        over = overloaded_hosts(w, fleet, rule)
        chosen = select(
            w, fleet, rule, over, d.selection, vm_ram, vm_mips, s.history, length, d.seed, k + 1
        )
        moved, dsts = place(w, fleet, rule, chosen, over)
        if moved.size == 0:
            continue
        per_tick[k] = moved.size
        started = start_moves(lists, free, s.in_migration, moved, dsts)
        for i in range(moved.size):
            migrations += 1
            delay = d.migration_time[moved[i]]
            planned += delay
            times[pending] = now + delay
            nodes[pending] = started[i]
            pending += 1
        _charge(energy, _update(c, s, metrics, now, False, False))
    _complete(c, s, metrics, free, vm_host, times[:pending], nodes[:pending], np.inf, energy)
    close(metrics)
    return energy[0], migrations, planned, vms - int(np.count_nonzero(s.alive)), -1


@njit(cache=True)
def run_day(
    samples_t: FloatArray,
    ticks: FloatArray,
    vm_mips: FloatArray,
    vm_ram: FloatArray,
    migration_time: FloatArray,
    vm_hash: IntArray,
    host_type: IntArray,
    host_total: FloatArray,
    host_pe: FloatArray,
    flat_tables: FloatArray,
    type_totals: FloatArray,
    mode: int,
    rule_kind: int,
    rule_param: float,
    weighted: bool,
    tricube: FloatArray,
    selection: int,
    seed: int,
    initial_limit: float,
    npa_watts: float,
    host_ram: float,
    max_per_host: int,
    host_cur: FloatArray,
    host_req: FloatArray,
    host_active: BoolArray,
    host_prev_active: BoolArray,
    host_switch_on: FloatArray,
    host_active_time: FloatArray,
    host_violation_time: FloatArray,
    vm_alloc: FloatArray,
    vm_req: FloatArray,
    vm_migrating: BoolArray,
    vm_has_entry: BoolArray,
    vm_req_time: FloatArray,
    vm_alloc_time: FloatArray,
    vm_mig_shortfall: FloatArray,
    vm_prev_migrating: BoolArray,
    vm_migration_start: FloatArray,
    totals: FloatArray,
    active: IntArray,
    power: FloatArray,
    per_tick: IntArray,
) -> tuple[float, int, float, int, int]:
    """Simulate the day; returns energy (W·s), migrations, their planned time, VMs removed
    and the first VM that fits no host at start-up (-1 if all fit).

    The metric accumulators (the fields of :class:`EntryMetrics`) and the per-tick
    ``active``, ``power`` and ``per_tick`` are filled in place.
    """
    metrics = EntryMetrics(
        host_cur, host_req, host_active, host_prev_active, host_switch_on, host_active_time,
        host_violation_time, vm_alloc, vm_req, vm_migrating, vm_has_entry, vm_req_time,
        vm_alloc_time, vm_mig_shortfall, vm_prev_migrating, vm_migration_start, totals,
    )  # fmt: skip
    day = Day(
        samples_t, ticks, vm_mips, vm_ram, migration_time, vm_hash, host_type, host_total,
        host_pe,
        flat_tables, type_totals, mode, rule_kind, rule_param, weighted, tricube, selection,
        seed, initial_limit, npa_watts, host_ram, max_per_host,
    )  # fmt: skip
    return _simulate(day, metrics, active, power, per_tick)
