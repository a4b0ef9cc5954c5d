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
to its live allocation plus the VM. The phases run compiled
(:mod:`fleetwise.sim.cloudsim.consolidate`); selection policies whose choice depends
on the other VMs (RS, MC) are called from here, one choice at a time.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from fleetwise.core.selection import SELECTION
from fleetwise.core.selection.simple import selection_key
from fleetwise.core.types import SelectionContext, VmObservation, VmSelector
from fleetwise.sim.cloudsim.consolidate import (
    Fleet,
    Working,
    begin,
    host_vms,
    listed_vms,
    overloaded_hosts,
    place,
    select_keyed,
    still_overloaded,
    take_off,
)
from fleetwise.sim.cloudsim.detectors import FALLBACK_THRESHOLD, CloudSimDetector
from fleetwise.sim.cloudsim.kernels import stale_power
from fleetwise.sim.cloudsim.rules import rule_for
from fleetwise.sim.cloudsim.state import RunState

__all__ = ["Optimizer"]

# CloudSim's MC regresses the VMs' utilisation fractions u; every other policy reads
# CPU use in MIPS, u·M (MU ranks (u·M)/M, which is not always u to the last bit).
_FRACTION_INPUTS = frozenset({"mc"})

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]


class Optimizer:
    """The consolidation step for one run.

    ``compiled_selection=False`` makes keyed policies choose one VM at a time from
    Python too, like RS and MC (slower, same choices).
    """

    def __init__(
        self,
        st: RunState,
        detector: CloudSimDetector,
        selection: str,
        seed: int,
        compiled_selection: bool = True,
    ) -> None:
        self.st = st
        self.detector = detector
        self.rule = rule_for(detector.kind, detector.param, detector.lr_weighting)
        self.select: VmSelector = SELECTION.build(selection)
        self.key = selection_key(selection) if compiled_selection else None
        self.seed = seed
        self._in_mips = selection not in _FRACTION_INPUTS
        self._static_keys: FloatArray | None = None
        dc = st.dc
        self._flat_tables = np.ascontiguousarray(dc.power_table).reshape(-1)
        types = int(dc.host_type.max()) + 1
        # capacity of each host type (that of its first host)
        self._type_totals = np.array(
            [float(dc.host_total[np.argmax(dc.host_type == t)]) for t in range(types)]
        )

    @property
    def initial_limit(self) -> float:
        """Utilisation above which a host is overloaded at t = 0, with no history yet."""
        return self.detector.param if self.detector.kind == "thr" else FALLBACK_THRESHOLD

    def _fleet(self) -> Fleet:
        """The step's inputs at the current tick."""
        st, dc = self.st, self.st.dc
        # Every VM's history as a share of each host type's capacity, computed as
        # CloudSim does, (u · MIPS) / host MIPS, newest first.
        scaled = st.history[:, : max(st.history_len, 1)] * dc.vm_mips[:, None]
        shares = np.stack([scaled / total for total in self._type_totals])
        stale, watts = stale_power(st.host_cur, dc.host_total, self._flat_tables)
        return Fleet(
            dc.host_total, dc.host_pe, dc.host_type, self._flat_tables, st.request, shares,
            stale, watts,
        )  # fmt: skip

    def _observation(self, v: int) -> VmObservation:
        """VM ``v`` as the selection policy sees it: use in MIPS, or fractions for MC."""
        st = self.st
        history = st.history[v, : st.history_len][::-1]
        if not self._in_mips:
            return VmObservation(str(v), float(st.dc.vm_ram[v]), 1.0, history)
        mips = float(st.dc.vm_mips[v])
        return VmObservation(str(v), float(st.dc.vm_ram[v]), mips, history * mips)

    def _keys(self, w: Working, over: BoolArray) -> FloatArray:
        """Selection keys of the VMs on overloaded hosts (of all VMs, if they never change)."""
        assert self.key is not None
        if self._static_keys is not None:
            return self._static_keys
        keys = np.zeros((self.st.dc.vms, 2))
        if not self.key.uses_history:
            for v in range(self.st.dc.vms):
                keys[v] = self.key(self._observation(v))
            self._static_keys = keys
            return keys
        for v in listed_vms(w, over):
            keys[v] = self.key(self._observation(int(v)))
        return keys

    def _select_keyed(self, w: Working, fleet: Fleet, over: BoolArray) -> IntArray:
        keys = self._keys(w, over)
        selected: IntArray = select_keyed(w, fleet, self.rule, over, keys)
        return selected

    def _select_each(self, w: Working, fleet: Fleet, over: BoolArray, tick: int) -> IntArray:
        """Selection by a policy that sees all the host's VMs at every choice."""
        selected: list[int] = []
        observations: dict[int, VmObservation] = {}  # histories do not change within a tick

        def observe(v: int) -> VmObservation:
            if v not in observations:
                observations[v] = self._observation(v)
            return observations[v]

        for host in np.flatnonzero(over):
            h = int(host)
            pick = 0
            while True:
                vms = host_vms(w, h)
                if vms.size == 0:
                    break
                seed = ((self.seed * 1_000_003 + tick) * 1_000_003 + h) * 1_000_003 + pick
                pick += 1
                observed = tuple(observe(int(v)) for v in vms)
                index = self.select(observed, SelectionContext(seed=seed))
                if index is None:
                    break
                v = int(vms[index])
                selected.append(v)
                take_off(w, fleet, h, v)
                if not still_overloaded(w, fleet, self.rule, h):
                    break
        return np.array(selected, dtype=np.int64)

    def optimize(self, tick: int) -> list[tuple[int, int]]:
        """The migrations CloudSim would start at this tick, in order."""
        st = self.st
        fleet = self._fleet()
        w = begin(st.lists, st.host_cur, st.host_req, fleet)
        over = overloaded_hosts(w, fleet, self.rule)
        if self.key is not None:
            selected = self._select_keyed(w, fleet, over)
        else:
            selected = self._select_each(w, fleet, over, tick)
        vms, dsts = place(w, fleet, self.rule, selected, over)
        return list(zip(vms.tolist(), dsts.tolist(), strict=True))
