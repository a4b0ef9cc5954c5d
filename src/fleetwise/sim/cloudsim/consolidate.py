"""CloudSim 3.0.3's consolidation step, compiled (numba), on a working copy of the hosts.

The step works on *tentative* host state: VM lists, allocated and requested MIPS,
free capacity and summed utilisation histories, changed as VMs are taken off and
placed, then thrown away. Lists are a node pool over :class:`HostLists`, since a VM
can sit on its source and on a tentative destination at once. Phases:

* :func:`overloaded_hosts`: the policy's overload test on every host with VMs;
* :func:`select_keyed`: keyed VM selection on overloaded hosts until each is no
  longer overloaded (other policies run the same loop from Python, one choice at a
  time, through :func:`host_vms`, :func:`take_off` and :func:`still_overloaded`);
* :func:`place`: the selected VMs by power-aware BFD, then every other host, least
  utilised first, emptied if all its VMs can go elsewhere.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from numba import njit

from fleetwise.core.fit import power_at
from fleetwise.sim.cloudsim.hostlists import HostLists, append, new_host_lists, unlink
from fleetwise.sim.cloudsim.rules import THR, Rule, overloaded
from fleetwise.sim.cloudsim.schedmap import SchedulerMaps, grow, map_order, sequential_free

__all__ = [
    "Fleet",
    "Working",
    "begin",
    "host_vms",
    "listed_vms",
    "overloaded_hosts",
    "place",
    "select_keyed",
    "still_overloaded",
    "take_off",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

_LAZY_PICKS = 8  # PABFD candidates tried by repeated minimum before sorting them all


class Fleet(NamedTuple):
    """What the step reads: the data centre and the observations at the tick."""

    total: FloatArray  # host capacity (MIPS)
    pe: FloatArray  # MIPS of one PE
    host_type: IntArray
    flat_tables: FloatArray  # hosts × 11 power table, flattened
    request: FloatArray  # each VM's requested MIPS
    shares: FloatArray  # types × VMs × history: VM history as a share of each host type
    stale: FloatArray  # each host's utilisation at the tick
    stale_power: FloatArray  # and its power there
    vm_hash: IntArray  # VM uid hashes, which order the hosts' scheduler maps


class Working(NamedTuple):
    """Tentative host state."""

    lists: HostLists  # over a node pool, every node a hosted VM
    used: IntArray  # [nodes taken from the pool]
    alloc_sum: FloatArray
    avail: FloatArray
    req_sum: FloatArray
    history: FloatArray  # hosts × history, valid where ``history_ok``
    history_ok: BoolArray
    scratch: FloatArray  # one host history with a VM added
    maps: SchedulerMaps  # the run's scheduler maps (they grow with tentative placements)
    remapped: FloatArray  # free MIPS after re-allocation in map order, valid where ``remap_ok``
    remap_ok: BoolArray


@njit(cache=True)
def begin(
    lists: HostLists, host_cur: FloatArray, host_req: FloatArray, fleet: Fleet, maps: SchedulerMaps
) -> Working:
    """A working copy of the lists (hosted VMs only) and host sums at a tick.

    Free MIPS are what the tick's update left: its VMs allocated one by one in list
    order, or re-allocated in map order on a host that a VM has just left.
    """
    n = fleet.total.size
    vms = fleet.request.size
    pool = 4 * vms + 8  # each VM listed once, then at most twice more during one step
    work = new_host_lists(n, pool)
    used = 0
    for h in range(n):
        node = lists.head[h]
        while node >= 0:
            if node >= vms:
                raise ValueError("a migration is in flight at a consolidation tick")
            work.vm[used] = node
            append(work, h, used)
            used += 1
            node = lists.nxt[node]
    history = np.zeros((n, fleet.shares.shape[2]))
    w = Working(
        work, np.array([used]), host_cur.copy(), np.empty(n), host_req.copy(), history,
        np.zeros(n, dtype=np.bool_), np.empty(history.shape[1]), maps, np.empty(n),
        np.zeros(n, dtype=np.bool_),
    )  # fmt: skip
    for h in range(n):
        if maps.left[h]:
            w.avail[h] = _remapped_free(w, fleet, h)
        else:
            w.avail[h] = sequential_free(fleet.total[h], fleet.pe[h], fleet.request, host_vms(w, h))
    return w


@njit(cache=True)
def host_vms(w: Working, h: int) -> IntArray:
    """VMs on host ``h``, in list order."""
    count = 0
    node = w.lists.head[h]
    while node >= 0:
        count += 1
        node = w.lists.nxt[node]
    out = np.empty(count, dtype=np.int64)
    node = w.lists.head[h]
    for i in range(count):
        out[i] = w.lists.vm[node]
        node = w.lists.nxt[node]
    return out


@njit(cache=True)
def _remapped_free(w: Working, fleet: Fleet, h: int) -> float:
    """Host ``h``'s free MIPS after its scheduler re-allocated its VMs in map order."""
    if not w.remap_ok[h]:
        ordered = map_order(fleet.vm_hash, host_vms(w, h), w.maps.capacity[h])
        w.remapped[h] = sequential_free(fleet.total[h], fleet.pe[h], fleet.request, ordered)
        w.remap_ok[h] = True
    free: float = w.remapped[h]
    return free


@njit(cache=True)
def _size(w: Working, h: int) -> int:
    count = 0
    node = w.lists.head[h]
    while node >= 0:
        count += 1
        node = w.lists.nxt[node]
    return count


@njit(cache=True)
def listed_vms(w: Working, hosts: BoolArray) -> IntArray:
    """VMs on any of ``hosts``, host by host."""
    parts = [host_vms(w, int(h)) for h in np.flatnonzero(hosts)]
    total = 0
    for p in parts:
        total += p.size
    out = np.empty(total, dtype=np.int64)
    k = 0
    for p in parts:
        out[k : k + p.size] = p
        k += p.size
    return out


@njit(cache=True, inline="always")
def _history(w: Working, fleet: Fleet, h: int) -> FloatArray:
    """Host ``h``'s summed utilisation history over its list (newest first)."""
    if not w.history_ok[h]:
        row = w.history[h]
        row[:] = 0.0
        shares = fleet.shares[fleet.host_type[h]]
        node = w.lists.head[h]
        while node >= 0:
            row += shares[w.lists.vm[node]]
            node = w.lists.nxt[node]
        w.history_ok[h] = True
    summed: FloatArray = w.history[h]
    return summed


@njit(cache=True, inline="always")
def _trimmed(history: FloatArray) -> FloatArray:
    """Drop the zero tail (CloudSim trims the unused part of its fixed-length array)."""
    end = history.size
    while end > 0 and history[end - 1] == 0.0:
        end -= 1
    return history[: max(end, 1)]


@njit(cache=True, inline="always")
def _overloaded(w: Working, fleet: Fleet, rule: Rule, h: int, extra: int) -> bool:
    """The overload test on host ``h``, with VM ``extra`` added if ``extra >= 0``."""
    req = w.req_sum[h]
    if extra >= 0:
        req = req + fleet.request[extra]
    rho = req / fleet.total[h]
    if rule.kind == THR:
        return bool(rho > rule.param)
    history = _history(w, fleet, h)
    if extra >= 0:
        share = fleet.shares[fleet.host_type[h], extra]
        for i in range(history.size):
            w.scratch[i] = history[i] + share[i]
        history = w.scratch
    return overloaded(rule, _trimmed(history), rho)


@njit(cache=True)
def _recompute(w: Working, fleet: Fleet, h: int) -> None:
    """Re-derive host ``h``'s sums from its list after a VM left (re-allocated in map order)."""
    total, pe = fleet.total[h], fleet.pe[h]
    capped_sum = 0.0
    node = w.lists.head[h]
    while node >= 0:
        capped_sum += min(fleet.request[w.lists.vm[node]], pe)
        node = w.lists.nxt[node]
    alloc_sum = 0.0
    req_sum = 0.0
    scale = total / capped_sum if capped_sum > total else 0.0
    node = w.lists.head[h]
    while node >= 0:
        r = fleet.request[w.lists.vm[node]]
        capped = min(r, pe)
        alloc_sum += np.floor(capped * scale) if scale > 0.0 else capped
        req_sum += r
        node = w.lists.nxt[node]
    w.remap_ok[h] = False
    w.avail[h] = _remapped_free(w, fleet, h)
    w.alloc_sum[h] = alloc_sum
    w.req_sum[h] = req_sum
    w.history_ok[h] = False


@njit(cache=True)
def _add(w: Working, fleet: Fleet, h: int, v: int) -> None:
    """Tentatively place VM ``v`` on host ``h``."""
    node = w.used[0]
    if node >= w.lists.vm.size:
        raise ValueError("consolidation step ran out of list nodes")
    w.used[0] = node + 1
    w.lists.vm[node] = v
    append(w.lists, h, node)
    grow(w.maps, h, _size(w, h))
    w.remap_ok[h] = False
    r = fleet.request[v]
    w.alloc_sum[h] += r
    w.avail[h] -= r
    w.req_sum[h] += r
    if w.history_ok[h]:
        w.history[h] += fleet.shares[fleet.host_type[h], v]


@njit(cache=True)
def take_off(w: Working, fleet: Fleet, h: int, v: int) -> None:
    """Take VM ``v`` (its last entry) off host ``h``."""
    node = w.lists.tail[h]
    while node >= 0 and w.lists.vm[node] != v:
        node = w.lists.prv[node]
    if node < 0:
        raise ValueError("VM is not on the host")
    unlink(w.lists, node)
    _recompute(w, fleet, h)


@njit(cache=True)
def still_overloaded(w: Working, fleet: Fleet, rule: Rule, h: int) -> bool:
    """The overload test on host ``h`` as it stands."""
    return _overloaded(w, fleet, rule, h, -1)


@njit(cache=True)
def overloaded_hosts(w: Working, fleet: Fleet, rule: Rule) -> BoolArray:
    """Hosts with VMs that the policy finds overloaded."""
    n = fleet.total.size
    over = np.zeros(n, dtype=np.bool_)
    for h in range(n):
        if w.lists.head[h] >= 0 and _overloaded(w, fleet, rule, h, -1):
            over[h] = True
    return over


@njit(cache=True)
def select_keyed(
    w: Working, fleet: Fleet, rule: Rule, over: BoolArray, key: FloatArray
) -> IntArray:
    """Keyed selection (least ``key[v]`` pair, first in list order) on every overloaded host."""
    selected = np.empty(fleet.request.size, dtype=np.int64)
    k = 0
    for host in np.flatnonzero(over):
        h = int(host)
        while True:
            node = w.lists.head[h]
            if node < 0:
                break
            best = w.lists.vm[node]
            node = w.lists.nxt[node]
            while node >= 0:
                v = w.lists.vm[node]
                if key[v, 0] < key[best, 0] or (
                    key[v, 0] == key[best, 0] and key[v, 1] < key[best, 1]
                ):
                    best = v
                node = w.lists.nxt[node]
            selected[k] = best
            k += 1
            take_off(w, fleet, h, best)
            if not _overloaded(w, fleet, rule, h, -1):
                break
    return selected[:k]


@njit(cache=True)
def _candidates(
    w: Working, fleet: Fleet, r: float, excluded: BoolArray, scan: IntArray
) -> tuple[IntArray, FloatArray]:
    """Hosts of ``scan`` that fit ``r`` MIPS and their power increase (idle hosts: one per type)."""
    seen = np.zeros(fleet.stale_power.size, dtype=np.bool_)  # by host type (< hosts)
    hosts = np.empty(scan.size, dtype=np.int64)
    delta = np.empty(scan.size)
    m = 0
    for h in scan:
        if excluded[h] or fleet.pe[h] < r or w.avail[h] < r:
            continue
        if w.alloc_sum[h] == 0.0 and fleet.stale[h] == 0.0:
            t = fleet.host_type[h]
            if seen[t]:
                continue
            seen[t] = True
        u = min((w.alloc_sum[h] + r) / fleet.total[h], 1.0)
        hosts[m] = h
        delta[m] = power_at(fleet.flat_tables, h, u) - fleet.stale_power[h]
        m += 1
    return hosts[:m], delta[:m]


@njit(cache=True, inline="always")
def _accepts(w: Working, fleet: Fleet, rule: Rule, h: int, v: int) -> bool:
    return w.alloc_sum[h] == 0.0 or not _overloaded(w, fleet, rule, h, v)


@njit(cache=True)
def _pabfd(
    w: Working, fleet: Fleet, rule: Rule, v: int, excluded: BoolArray, scan: IntArray
) -> int:
    """Destination of VM ``v`` by power-aware BFD among ``scan`` (ids in order), or -1.

    Candidates are tried cheapest first (ties: lower id) until one would not become
    overloaded; the cheapest few by repeated minimum, the rest after a stable sort.
    """
    hosts, delta = _candidates(w, fleet, fleet.request[v], excluded, scan)
    m = hosts.size
    for h in hosts:
        # CloudSim tries v on every fitting host with VMs (overload test) and takes it
        # back, so the host's scheduler re-allocates its VMs in map order
        if w.alloc_sum[h] != 0.0:
            if grow(w.maps, h, _size(w, h) + 1):
                w.remap_ok[h] = False
            w.avail[h] = _remapped_free(w, fleet, h)
    tried = np.zeros(m, dtype=np.bool_)
    for _ in range(min(m, _LAZY_PICKS)):
        best = -1
        for i in range(m):
            if not tried[i] and (best < 0 or delta[i] < delta[best]):
                best = i
        tried[best] = True
        if _accepts(w, fleet, rule, hosts[best], v):
            return int(hosts[best])
    for i in np.argsort(delta, kind="mergesort"):
        if not tried[i] and _accepts(w, fleet, rule, hosts[i], v):
            return int(hosts[i])
    return -1


@njit(cache=True)
def _by_request(fleet: Fleet, vms: IntArray) -> IntArray:
    """``vms`` largest request first (stable)."""
    keys = np.empty(vms.size)
    for i in range(vms.size):
        keys[i] = -fleet.request[vms[i]]
    return vms[np.argsort(keys, kind="mergesort")]


@njit(cache=True)
def place(
    w: Working, fleet: Fleet, rule: Rule, selected: IntArray, over: BoolArray
) -> tuple[IntArray, IntArray]:
    """The step's migrations as (VM, destination) arrays, in the order they start."""
    pool = w.lists.vm.size
    pair_vm = np.empty(pool, dtype=np.int64)
    pair_dst = np.empty(pool, dtype=np.int64)
    k = 0
    everywhere = np.arange(fleet.total.size)
    for v in _by_request(fleet, selected):
        dst = _pabfd(w, fleet, rule, v, over, everywhere)
        if dst >= 0:
            _add(w, fleet, dst, v)
            pair_vm[k] = v
            pair_dst[k] = dst
            k += 1
    off = fleet.stale == 0.0
    excluded_source = over | off
    excluded_target = over | off
    on = np.flatnonzero(~off)  # hosts switched off at the tick are never targets here
    for h in np.argsort(fleet.stale, kind="mergesort"):
        u = fleet.stale[h]
        if excluded_source[h] or not (0.0 < u < 1.0) or w.lists.head[h] < 0:
            continue
        excluded_source[h] = True
        excluded_target[h] = True
        first = k
        for v in _by_request(fleet, host_vms(w, h)):
            dst = _pabfd(w, fleet, rule, v, excluded_target, on)
            if dst < 0:
                for i in range(k - 1, first - 1, -1):
                    take_off(w, fleet, pair_dst[i], pair_vm[i])
                k = first
                break
            _add(w, fleet, dst, v)
            pair_vm[k] = v
            pair_dst[k] = dst
            k += 1
        for i in range(first, k):
            excluded_source[pair_dst[i]] = True
    return pair_vm[:k], pair_dst[:k]
