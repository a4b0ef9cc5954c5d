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
(:mod:`fleetwise.sim.cloudsim.consolidate`, :mod:`fleetwise.sim.cloudsim.selection`).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from fleetwise.sim.cloudsim.codes import SELECTION_KINDS
from fleetwise.sim.cloudsim.consolidate import Fleet, begin, overloaded_hosts, place
from fleetwise.sim.cloudsim.detectors import FALLBACK_THRESHOLD, CloudSimDetector
from fleetwise.sim.cloudsim.kernels import fleet_views
from fleetwise.sim.cloudsim.rules import rule_for
from fleetwise.sim.cloudsim.selection import select
from fleetwise.sim.cloudsim.state import RunState

__all__ = ["Optimizer"]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]


class Optimizer:
    """The consolidation step for one run."""

    def __init__(self, st: RunState, detector: CloudSimDetector, selection: str, seed: int) -> None:
        self.st = st
        self.detector = detector
        self.rule = rule_for(detector.kind, detector.param, detector.lr_weighting)
        self.kind = SELECTION_KINDS[selection]
        self.seed = seed
        dc = st.dc
        self._flat_tables = np.ascontiguousarray(dc.power_table).reshape(-1)

    @property
    def initial_limit(self) -> float:
        """Utilisation above which a host is overloaded at t = 0, with no history yet."""
        return self.detector.param if self.detector.kind == "thr" else FALLBACK_THRESHOLD

    def _fleet(self) -> Fleet:
        """The step's inputs at the current tick."""
        st, dc = self.st, self.st.dc
        shares, stale, watts = fleet_views(
            st.history, st.history_len, dc.vm_mips, dc.type_totals, st.host_cur,
            dc.host_total, self._flat_tables,
        )  # fmt: skip
        return Fleet(
            dc.host_total, dc.host_pe, dc.host_type, self._flat_tables, st.request, shares,
            stale, watts, dc.vm_hash,
        )  # fmt: skip

    def optimize(self, tick: int) -> list[tuple[int, int]]:
        """The migrations CloudSim would start at this tick, in order."""
        st = self.st
        fleet = self._fleet()
        w = begin(st.lists, st.host_cur, st.host_req, fleet, st.maps)
        over = overloaded_hosts(w, fleet, self.rule)
        selected = select(
            w, fleet, self.rule, over, self.kind, st.dc.vm_ram, st.dc.vm_mips, st.history,
            st.history_len, self.seed, tick,
        )  # fmt: skip
        vms, dsts = place(w, fleet, self.rule, selected, over)
        return list(zip(vms.tolist(), dsts.tolist(), strict=True))
