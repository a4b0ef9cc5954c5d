"""CloudSim 3.0.3's consolidation step (``optimizeAllocation``) with power-aware BFD.

Runs at every tick on a working copy of the host lists:

1. overloaded hosts (by the policy's detector), in id order;
2. VM selection on each until it is no longer overloaded;
3. those VMs, largest request first, placed by PABFD away from overloaded hosts;
4. every other active host, least utilised first, is emptied if *all* its VMs can be
   placed (hosts that received VMs here are not emptied later, but stay targets);
5. the working copy is discarded and the chosen (VM, destination) pairs returned.

PABFD picks, among hosts that fit the VM and would not become overloaded, the one
whose power grows least, measured from the host's utilisation at the tick (stale)
to its live allocation plus the VM. Costs are computed for all hosts at once and
the detector is evaluated lazily in cost order.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from fleetwise.core.power import interpolate_tables
from fleetwise.core.selection import SELECTION
from fleetwise.core.types import SelectionContext, VmObservation, VmSelector
from fleetwise.sim.cloudsim.detectors import FALLBACK_THRESHOLD, CloudSimDetector
from fleetwise.sim.cloudsim.kernels import IQR, LR, MAD, THR, pabfd_candidates
from fleetwise.sim.cloudsim.kernels import overloaded as overloaded_kernel
from fleetwise.sim.cloudsim.state import RunState

__all__ = ["Optimizer"]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


class _Working:
    """Live (tentative) host state during one consolidation step."""

    def __init__(self, st: RunState) -> None:
        dc = st.dc
        self.st = st
        self.lists = [list(entries) for entries in st.host_lists]
        self.request = st.request
        vm, host, _ = st.members()
        capped = np.minimum(st.request[vm], dc.host_pe[host])
        sum_capped = np.bincount(host, capped, minlength=dc.hosts)
        over = sum_capped > dc.host_total
        self.alloc_sum = st.host_cur.copy()  # no migrations in flight at a tick
        self.avail = np.where(over, 0.0, dc.host_total - sum_capped)
        self.req_sum = st.host_req.copy()
        self._history: dict[int, FloatArray] = {}
        # Per host type: every VM's history as a share of that type's capacity, computed
        # as CloudSim does, (u · MIPS) / host MIPS, newest first.
        self._host_type = dc.host_type
        scaled = st.history[:, : max(st.history_len, 1)] * dc.vm_mips[:, None]
        self._shares = [scaled / total for total in _type_totals(dc.host_type, dc.host_total)]

    def recompute(self, h: int) -> None:
        """Re-derive host ``h``'s sums from its list (after a removal)."""
        dc, st = self.st.dc, self.st
        total, pe = float(dc.host_total[h]), float(dc.host_pe[h])
        alloc_sum = 0.0
        capped_sum = 0.0
        req_sum = 0.0
        capped = [min(float(self.request[v]), pe) for v in self.lists[h]]
        for c in capped:
            capped_sum += c
        if capped_sum > total:
            f = total / capped_sum
            for c in capped:
                alloc_sum += float(np.floor(c * f))
            self.avail[h] = 0.0
        else:
            for c in capped:
                alloc_sum += c
            self.avail[h] = total - capped_sum
        for v in self.lists[h]:
            req_sum += float(st.request[v])
        self.alloc_sum[h] = alloc_sum
        self.req_sum[h] = req_sum
        self._history.pop(h, None)

    def add(self, h: int, v: int) -> None:
        r = float(self.request[v])
        self.lists[h].append(v)
        self.alloc_sum[h] += r
        self.avail[h] -= r
        self.req_sum[h] += r
        cached = self._history.get(h)
        if cached is not None:
            self._history[h] = cached + self.contribution(h, v)

    def remove(self, h: int, v: int) -> None:
        entries = self.lists[h]
        for i in range(len(entries) - 1, -1, -1):
            if entries[i] == v:
                del entries[i]
                break
        self.recompute(h)

    def contribution(self, h: int, v: int) -> FloatArray:
        """VM ``v``'s history as a share of host ``h``'s capacity (newest first)."""
        row: FloatArray = self._shares[self._host_type[h]][v]
        return row

    def history(self, h: int) -> FloatArray:
        """Host ``h``'s summed utilisation history over its live list (newest first)."""
        cached = self._history.get(h)
        if cached is None:
            shares = self._shares[self._host_type[h]]
            cached = np.zeros(shares.shape[1])
            for v in self.lists[h]:
                cached = cached + shares[v]
            self._history[h] = cached
        return cached


def _type_totals(types: npt.NDArray[np.intp], totals: FloatArray) -> list[float]:
    """Capacity of each host type, indexed by type."""
    return [float(totals[np.argmax(types == t)]) for t in range(int(types.max()) + 1)]


def _trim(history: FloatArray) -> FloatArray:
    """Drop the zero tail (CloudSim trims the unused part of the fixed-length array)."""
    if history[-1] != 0.0:
        return history
    nz = np.flatnonzero(history)
    if nz.size == 0:
        return history[:1]
    return history[: nz[-1] + 1]


class Optimizer:
    """The consolidation step for one run."""

    def __init__(self, st: RunState, detector: CloudSimDetector, selection: str, seed: int) -> None:
        self.st = st
        self.detector = detector
        self.selection_name = selection
        self.select: VmSelector = SELECTION.build(selection)
        self.seed = seed
        self._tick = 0
        self._flat_tables = np.ascontiguousarray(st.dc.power_table).reshape(-1)
        # Compiled overload rule, or -1 for the 2012 weighted regression (Python).
        rules = {"thr": THR, "mad": MAD, "iqr": IQR, "lr": LR, "lrr": LR}
        self._rule = rules[detector.kind] if detector.lr_weighting == "none" else -1

    def initially_overloaded(self, rho: FloatArray) -> BoolArray:
        """Overload test at t = 0, when histories are empty (THR or the 0.7 fallback)."""
        limit = self.detector.param if self.detector.kind == "thr" else FALLBACK_THRESHOLD
        out: BoolArray = rho > limit
        return out

    # -------------------------------------------------------------- detectors
    def overloaded(self, w: _Working, h: int, extra: int = -1) -> bool:
        dc = self.st.dc
        req = w.req_sum[h]
        if extra >= 0:
            req = req + float(self.st.request[extra])
        rho = float(req / dc.host_total[h])
        if not self.detector.uses_history:
            return self.detector.overloaded(np.zeros(0), rho)
        history = w.history(h)
        if extra >= 0:
            history = history + w.contribution(h, extra)
        if self._rule < 0:
            return self.detector.overloaded(_trim(history), rho)
        return bool(overloaded_kernel(self._rule, self.detector.param, _trim(history), rho))

    # -------------------------------------------------------------- selection
    def _observation(self, v: int) -> VmObservation:
        cached = self._observations.get(v)
        if cached is None:
            st = self.st
            cached = VmObservation(
                vm_id=str(v),
                ram_mb=float(st.dc.vm_ram[v]),
                capacity=1.0,
                cpu_history=st.history[v, : st.history_len][::-1],
            )
            self._observations[v] = cached
        return cached

    def _select(self, w: _Working, h: int, pick: int) -> int | None:
        entries = w.lists[h]
        if not entries:
            return None
        vms = tuple(self._observation(v) for v in entries)
        seed = ((self.seed * 1_000_003 + self._tick) * 1_000_003 + h) * 1_000_003 + pick
        index = self.select(vms, SelectionContext(seed=seed))
        return None if index is None else entries[index]

    # -------------------------------------------------------------- placement
    def pabfd(self, w: _Working, v: int, excluded: BoolArray) -> int:
        """Destination of VM ``v`` by power-aware BFD, or -1."""
        dc = self.st.dc
        r = float(self.st.request[v])
        candidates = pabfd_candidates(
            r, excluded, dc.host_pe, w.avail, w.alloc_sum, dc.host_total, self._flat_tables,
            self._stale_power, self._stale_zero, dc.host_type,
        )  # fmt: skip
        for h in candidates:
            hi = int(h)
            if w.alloc_sum[hi] == 0.0 or not self.overloaded(w, hi, extra=v):
                return hi
        return -1

    # ------------------------------------------------------------------- step
    def optimize(self, tick: int) -> list[tuple[int, int]]:
        """The migrations CloudSim would start at this tick, in order."""
        st, dc = self.st, self.st.dc
        self._tick = tick
        self._observations: dict[int, VmObservation] = {}
        w = _Working(st)
        stale = st.host_cur / dc.host_total
        stale = np.where((stale > 1.0) & (stale < 1.01), 1.0, stale)
        self._stale_power = interpolate_tables(dc.power_table, stale)
        self._stale_zero = stale == 0.0
        n = dc.hosts
        over = np.zeros(n, dtype=bool)
        for h in range(n):
            if w.lists[h] and self.overloaded(w, h):
                over[h] = True
        pairs: list[tuple[int, int]] = []
        # selection on overloaded hosts
        selected: list[int] = []
        for overloaded_host in np.flatnonzero(over):
            hi = int(overloaded_host)
            pick = 0
            while True:
                v = self._select(w, hi, pick)
                pick += 1
                if v is None:
                    break
                selected.append(v)
                w.remove(hi, v)
                if not self.overloaded(w, hi):
                    break
        # overload placement
        selected.sort(key=lambda vm: -float(st.request[vm]))
        for v in selected:
            dst = self.pabfd(w, v, over)
            if dst >= 0:
                w.add(dst, v)
                pairs.append((v, dst))
        # underload phase
        off = stale == 0.0
        excluded_under = over | off
        excluded_place = over | off
        order = np.lexsort((np.arange(n), stale))
        for h in order:
            hi = int(h)
            u = stale[hi]
            if excluded_under[hi] or not (0.0 < u < 1.0) or not w.lists[hi]:
                continue
            excluded_under[hi] = True
            excluded_place[hi] = True
            vms = sorted(w.lists[hi], key=lambda vm: -float(st.request[vm]))
            placed: list[tuple[int, int]] = []
            for v in vms:
                dst = self.pabfd(w, v, excluded_place)
                if dst < 0:
                    for pv, pdst in reversed(placed):
                        w.remove(pdst, pv)
                    placed = []
                    break
                w.add(dst, v)
                placed.append((v, dst))
            if placed:
                for _, pdst in placed:
                    excluded_under[pdst] = True
                pairs.extend(placed)
        return pairs
