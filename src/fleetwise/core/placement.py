"""VM placement: where should VMs go?

Two algorithms over one snapshot of the cluster, both pure:

* ``bfd`` — Best Fit Decreasing with CPU and RAM caps (Neat style): VMs by CPU demand,
  largest first, each to the awake host that fits it most tightly under the caps;
  a sleeping host is woken only when no awake host fits. Unlike Neat, the caps also
  apply to woken hosts and the fit is recomputed after every placement.
* ``pabfd`` — power-aware BFD: each VM goes to the host whose power draw grows the
  least (a sleeping host counts from its sleep power, so it is chosen only when it is
  cheaper than any awake one).

Placements are planned on a working copy: every choice updates the copy, so one
round never books a host twice. By default the result is all-or-nothing (``{}``
when any VM fails to fit), as a consolidation step that half-empties a host saves
nothing.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from pydantic import Field

from fleetwise.core.power import PowerModel
from fleetwise.core.registry import AlgorithmSpec, Params, Registry

__all__ = [
    "PLACEMENT",
    "HostCapacity",
    "Placement",
    "VmDemand",
    "best_fit_decreasing",
    "power_aware_best_fit_decreasing",
]


@dataclass(frozen=True)
class HostCapacity:
    """A candidate host: totals, current use, whether it is awake, its power model."""

    host_id: str
    cpu_total: float
    ram_total: float
    cpu_used: float = 0.0
    ram_used: float = 0.0
    awake: bool = True
    power: PowerModel | None = None


@dataclass(frozen=True)
class VmDemand:
    """A VM to place: CPU demand (same unit as the hosts) and RAM."""

    vm_id: str
    cpu: float
    ram: float


@dataclass(frozen=True)
class Placement:
    """Chosen destinations, the sleeping hosts that must be woken, and what did not fit."""

    assignments: Mapping[str, str] = field(default_factory=dict)
    wake: tuple[str, ...] = ()
    unplaced: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        return not self.unplaced


class PlacementFn:
    """Call signature of a placement algorithm (documentation only)."""

    def __call__(
        self, hosts: tuple[HostCapacity, ...], vms: tuple[VmDemand, ...], *, params: Params
    ) -> Placement: ...


PLACEMENT: Registry[PlacementFn] = Registry("placement")


class BfdParams(Params):
    """Caps as fractions of each host's totals; ``all_or_nothing`` rejects partial results."""

    cpu_threshold: float = Field(0.8, gt=0.0, le=1.0)
    ram_threshold: float = Field(0.95, gt=0.0, le=1.0)
    all_or_nothing: bool = True


@dataclass
class _Working:
    host: HostCapacity
    cpu_free: float
    ram_free: float
    awake: bool


def _working_copy(hosts: tuple[HostCapacity, ...], params: BfdParams) -> list[_Working]:
    return [
        _Working(
            h,
            params.cpu_threshold * h.cpu_total - h.cpu_used,
            params.ram_threshold * h.ram_total - h.ram_used,
            h.awake,
        )
        for h in hosts
    ]


def _sorted_vms(vms: tuple[VmDemand, ...]) -> list[VmDemand]:
    return sorted(vms, key=lambda v: (-v.cpu, -v.ram, v.vm_id))


def _finish(
    chosen: dict[str, str], woken: list[str], unplaced: list[str], all_or_nothing: bool
) -> Placement:
    if unplaced and all_or_nothing:
        return Placement(unplaced=tuple(unplaced))
    return Placement(assignments=chosen, wake=tuple(woken), unplaced=tuple(unplaced))


def best_fit_decreasing(
    hosts: tuple[HostCapacity, ...], vms: tuple[VmDemand, ...], *, params: BfdParams
) -> Placement:
    """BFD under CPU/RAM caps; wakes the smallest sleeping host that fits when needed.

    Awake hosts are kept sorted by (free CPU, free RAM, position), so each VM goes to
    the tightest fit found by bisection: O(log n) per VM plus the scan past hosts
    short of RAM.
    """
    work = _working_copy(hosts, params)
    awake = sorted((w.cpu_free, w.ram_free, i) for i, w in enumerate(work) if w.awake)
    asleep = sorted(
        (w.host.cpu_total, w.host.ram_total, i) for i, w in enumerate(work) if not w.awake
    )
    chosen: dict[str, str] = {}
    woken: list[str] = []
    unplaced: list[str] = []
    for vm in _sorted_vms(vms):
        pos = bisect.bisect_left(awake, (vm.cpu, -math.inf, -1))
        while pos < len(awake) and awake[pos][1] < vm.ram:
            pos += 1
        if pos < len(awake):
            index = awake.pop(pos)[2]
        else:
            index = -1
            for k, (_, _, i) in enumerate(asleep):
                if work[i].cpu_free >= vm.cpu and work[i].ram_free >= vm.ram:
                    index = i
                    del asleep[k]
                    work[i].awake = True
                    woken.append(work[i].host.host_id)
                    break
        if index < 0:
            unplaced.append(vm.vm_id)
            continue
        w = work[index]
        w.cpu_free -= vm.cpu
        w.ram_free -= vm.ram
        bisect.insort(awake, (w.cpu_free, w.ram_free, index))
        chosen[vm.vm_id] = w.host.host_id
    return _finish(chosen, woken, unplaced, params.all_or_nothing)


class PabfdParams(BfdParams):
    """Power-aware BFD; by default it may fill a host's CPU completely."""

    cpu_threshold: float = Field(1.0, gt=0.0, le=1.0)


def _power(host: HostCapacity, cpu_used: float, awake: bool) -> float:
    if host.power is None:
        raise ValueError(f"host {host.host_id} has no power model (needed by pabfd)")
    if not awake:
        return host.power.sleep_w
    return host.power.power(min(max(cpu_used / host.cpu_total, 0.0), 1.0))


def power_aware_best_fit_decreasing(
    hosts: tuple[HostCapacity, ...], vms: tuple[VmDemand, ...], *, params: PabfdParams
) -> Placement:
    """Each VM to the host whose power draw increases least (ties: first host)."""
    work = _working_copy(hosts, params)
    used = {w.host.host_id: w.host.cpu_used for w in work}
    chosen: dict[str, str] = {}
    woken: list[str] = []
    unplaced: list[str] = []
    for vm in _sorted_vms(vms):
        best: _Working | None = None
        best_delta = float("inf")
        for w in work:
            if w.cpu_free < vm.cpu or w.ram_free < vm.ram:
                continue
            before = used[w.host.host_id]
            delta = _power(w.host, before + vm.cpu, True) - _power(w.host, before, w.awake)
            if delta < best_delta:
                best, best_delta = w, delta
        if best is None:
            unplaced.append(vm.vm_id)
            continue
        if not best.awake:
            best.awake = True
            woken.append(best.host.host_id)
        best.cpu_free -= vm.cpu
        best.ram_free -= vm.ram
        used[best.host.host_id] += vm.cpu
        chosen[vm.vm_id] = best.host.host_id
    return _finish(chosen, woken, unplaced, params.all_or_nothing)


PLACEMENT.register(
    AlgorithmSpec("bfd", best_fit_decreasing, BfdParams, "best fit decreasing under caps")
)
PLACEMENT.register(
    AlgorithmSpec(
        "pabfd", power_aware_best_fit_decreasing, PabfdParams, "power-aware best fit decreasing"
    )
)
