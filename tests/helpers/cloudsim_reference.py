"""A plain-Python reference of CloudSim 3.0.3's consolidation step, for differential tests.

It works on Python lists and the readable pieces (``CloudSimDetector`` on the core's
statistics, the core's selection policies, ``interpolate_tables``), one host and one
VM at a time, exactly as the step is described in
:mod:`fleetwise.sim.cloudsim.optimize`. The compiled step must choose the same
migrations in the same order.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from fleetwise.core.power import interpolate_tables
from fleetwise.core.selection import SELECTION
from fleetwise.core.types import SelectionContext, VmObservation
from fleetwise.sim.cloudsim.codes import rs_seed, splitmix_index
from fleetwise.sim.cloudsim.detectors import CloudSimDetector
from fleetwise.sim.cloudsim.state import RunState

FloatArray = npt.NDArray[np.float64]


class ReferenceStep:
    """The consolidation step of one run, from the run's state at each tick."""

    def __init__(self, st: RunState, detector: CloudSimDetector, selection: str, seed: int):
        self.st = st
        self.detector = detector
        self.selection = selection
        self.select = SELECTION.build(selection)
        self.seed = seed

    # ------------------------------------------------------------ tentative host state
    def _begin(self) -> None:
        st, dc = self.st, self.st.dc
        self.lists = [list(entries) for entries in st.host_lists]
        assert all(e >= 0 for row in self.lists for e in row), "migration in flight at a tick"
        self.alloc = [float(x) for x in st.host_cur]
        self.req = [float(x) for x in st.host_req]
        self.capacity = [int(c) for c in st.maps.capacity]
        self.avail = [
            self._remapped(h) if st.maps.left[h] else self._free(h, row)
            for h, row in enumerate(self.lists)
        ]
        first_of_type = {int(t): int(np.argmax(dc.host_type == t)) for t in set(dc.host_type)}
        scaled = st.history[:, : max(st.history_len, 1)] * dc.vm_mips[:, None]
        self.shares = {t: scaled / dc.host_total[h] for t, h in first_of_type.items()}

    # ------------------------------------------------- the hosts' VM scheduler maps
    def _free(self, h: int, order: list[int]) -> float:
        """Free MIPS after allocating ``order`` one VM at a time (0 once over-subscribed)."""
        st, dc = self.st, self.st.dc
        free = float(dc.host_total[h])
        for v in order:
            need = min(float(st.request[v]), float(dc.host_pe[h]))
            free = free - need if free >= need else 0.0
        return free

    def _remapped(self, h: int) -> float:
        """Free MIPS after re-allocation in the map's order (bucket, then arrival)."""
        mask = self.capacity[h] - 1
        hashes = self.st.dc.vm_hash
        return self._free(h, sorted(self.lists[h], key=lambda v: int(hashes[v]) & mask))

    def _grow(self, h: int, size: int) -> None:
        while size > self.capacity[h] * 3 // 4:
            self.capacity[h] *= 2

    def _share(self, h: int, v: int) -> FloatArray:
        row: FloatArray = self.shares[int(self.st.dc.host_type[h])][v]
        return row

    def _history(self, h: int, extra: int) -> FloatArray:
        summed = np.zeros(self.shares[0].shape[1])
        for v in self.lists[h]:
            summed = summed + self._share(h, v)
        if extra >= 0:
            summed = summed + self._share(h, extra)
        nonzero = np.flatnonzero(summed)
        return summed[: nonzero[-1] + 1] if nonzero.size else summed[:1]

    def _overloaded(self, h: int, extra: int = -1) -> bool:
        req = self.req[h] + (float(self.st.request[extra]) if extra >= 0 else 0.0)
        rho = req / float(self.st.dc.host_total[h])
        return self.detector.overloaded(self._history(h, extra), rho)

    def _add(self, h: int, v: int) -> None:
        r = float(self.st.request[v])
        self.lists[h].append(v)
        self._grow(h, len(self.lists[h]))
        self.alloc[h] += r
        self.avail[h] -= r
        self.req[h] += r

    def _remove(self, h: int, v: int) -> None:
        row = self.lists[h]
        del row[len(row) - 1 - row[::-1].index(v)]
        st, dc = self.st, self.st.dc
        total, pe = float(dc.host_total[h]), float(dc.host_pe[h])
        capped = [min(float(st.request[u]), pe) for u in row]
        capped_sum = 0.0
        for c in capped:
            capped_sum += c
        alloc = 0.0
        if capped_sum > total:
            for c in capped:
                alloc += float(np.floor(c * (total / capped_sum)))
        else:
            for c in capped:
                alloc += c
        self.avail[h] = self._remapped(h)
        req = 0.0
        for u in row:
            req += float(st.request[u])
        self.alloc[h], self.req[h] = alloc, req

    def _observation(self, v: int) -> VmObservation:
        """MC reads utilisation fractions; the other policies use in MIPS of a MIPS capacity."""
        st, dc = self.st, self.st.dc
        history = st.history[v, : st.history_len][::-1]
        if self.selection == "mc":
            return VmObservation(str(v), float(dc.vm_ram[v]), 1.0, history)
        mips = float(dc.vm_mips[v])
        return VmObservation(str(v), float(dc.vm_ram[v]), mips, history * mips)

    # ------------------------------------------------------------------------- PABFD
    def _pabfd(self, v: int, excluded: list[bool]) -> int:
        dc = self.st.dc
        r = float(self.st.request[v])
        candidates: list[tuple[float, int]] = []
        idle_seen: set[int] = set()
        for h in range(dc.hosts):
            if excluded[h] or dc.host_pe[h] < r or self.avail[h] < r:
                continue
            if self.alloc[h] == 0.0 and self.stale[h] == 0.0:
                if int(dc.host_type[h]) in idle_seen:
                    continue  # idle hosts of one type cost the same: the first stands for all
                idle_seen.add(int(dc.host_type[h]))
            u = min((self.alloc[h] + r) / float(dc.host_total[h]), 1.0)
            after = float(interpolate_tables(dc.power_table[h : h + 1], np.array([u]))[0])
            candidates.append((after - float(self.stale_power[h]), h))
            if self.alloc[h] != 0.0:  # the overload test adds v to h and takes it back
                self._grow(h, len(self.lists[h]) + 1)
                self.avail[h] = self._remapped(h)
        for _, h in sorted(candidates):
            if self.alloc[h] == 0.0 or not self._overloaded(h, extra=v):
                return h
        return -1

    # -------------------------------------------------------------------------- step
    def optimize(self, tick: int) -> list[tuple[int, int]]:
        st, dc = self.st, self.st.dc
        self._begin()
        stale = st.host_cur / dc.host_total
        self.stale = np.where((stale > 1.0) & (stale < 1.01), 1.0, stale)
        self.stale_power = interpolate_tables(dc.power_table, self.stale)
        over = [bool(self.lists[h]) and self._overloaded(h) for h in range(dc.hosts)]
        selected: list[int] = []
        for h in range(dc.hosts):
            pick = 0
            while over[h] and self.lists[h]:
                observed = tuple(self._observation(v) for v in self.lists[h])
                if self.selection == "rs":  # the model's own seeded stream
                    index = splitmix_index(rs_seed(self.seed, tick, h, pick), len(observed))
                else:
                    index = self.select(observed, SelectionContext())
                pick += 1
                if index is None:
                    break
                v = self.lists[h][index]
                selected.append(v)
                self._remove(h, v)
                if not self._overloaded(h):
                    break
        pairs: list[tuple[int, int]] = []
        for v in sorted(selected, key=lambda u: -float(st.request[u])):
            dst = self._pabfd(v, over)
            if dst >= 0:
                self._add(dst, v)
                pairs.append((v, dst))
        off = [float(u) == 0.0 for u in self.stale]
        no_source = [o or f for o, f in zip(over, off, strict=True)]
        no_target = list(no_source)
        for h in sorted(range(dc.hosts), key=lambda i: (float(self.stale[i]), i)):
            if no_source[h] or not 0.0 < self.stale[h] < 1.0 or not self.lists[h]:
                continue
            no_source[h] = no_target[h] = True
            placed: list[tuple[int, int]] = []
            for v in sorted(self.lists[h], key=lambda u: -float(st.request[u])):
                dst = self._pabfd(v, no_target)
                if dst < 0:
                    for pv, pdst in reversed(placed):
                        self._remove(pdst, pv)
                    placed = []
                    break
                self._add(dst, v)
                placed.append((v, dst))
            for _, pdst in placed:
                no_source[pdst] = True
            pairs.extend(placed)
        return pairs
