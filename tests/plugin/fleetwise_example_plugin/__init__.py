"""An example plugin written only against ``fleetwise.plugins``.

* overload ``example-peak``: overloaded when the highest of the last ``window``
  samples exceeds ``threshold``;
* selection ``example-largest-ram``: the VM with the most RAM (first one on ties);
* placement ``example-first-fit``: each VM, largest first, on the first awake host
  with room under ``cpu_cap``; all or nothing.
"""

from __future__ import annotations

from pydantic import Field

from fleetwise.plugins import (
    AlgorithmSpec,
    DetectorContext,
    DetectorFunction,
    FloatArray,
    Hosts,
    HostTable,
    JsonState,
    Params,
    Placement,
    PlacementFunction,
    SelectionContext,
    SelectorFunction,
    VmDemand,
    VmObservation,
)

__all__ = ["FIRST_FIT", "LARGEST_RAM", "PEAK"]


class PeakParams(Params):
    """Overloaded when the highest of the last ``window`` samples exceeds ``threshold``."""

    threshold: float = Field(0.9, gt=0.0, le=1.0)
    window: int = Field(3, ge=1)


def peak(
    history: FloatArray, ctx: DetectorContext, state: JsonState, *, params: PeakParams
) -> tuple[bool, JsonState]:
    recent = history[-params.window :]
    return bool(recent.size and recent.max() > params.threshold), state


class NoOptions(Params):
    """No parameters."""


def largest_ram(
    vms: tuple[VmObservation, ...], ctx: SelectionContext, *, params: NoOptions
) -> int | None:
    if not vms:
        return None
    return max(range(len(vms)), key=lambda i: (vms[i].ram_mb, -i))


class FirstFitParams(Params):
    """First fit under a CPU cap (a fraction of each host's CPU)."""

    cpu_cap: float = Field(0.9, gt=0.0, le=1.0)
    all_or_nothing: bool = True


def first_fit(hosts: Hosts, vms: tuple[VmDemand, ...], *, params: FirstFitParams) -> Placement:
    table = hosts if isinstance(hosts, HostTable) else HostTable.of(hosts)
    cpu_free = (params.cpu_cap * table.cpu_total - table.cpu_used).tolist()
    ram_free = (table.ram_total - table.ram_used).tolist()
    chosen: dict[str, str] = {}
    unplaced: list[str] = []
    for vm in sorted(vms, key=lambda v: (-v.cpu, v.vm_id)):
        for i, awake in enumerate(table.awake.tolist()):
            if awake and cpu_free[i] >= vm.cpu and ram_free[i] >= vm.ram:
                cpu_free[i] -= vm.cpu
                ram_free[i] -= vm.ram
                chosen[vm.vm_id] = str(table.host_ids[i])
                break
        else:
            unplaced.append(vm.vm_id)
    if unplaced and params.all_or_nothing:
        return Placement(unplaced=tuple(unplaced))
    return Placement(assignments=chosen, unplaced=tuple(unplaced))


PEAK: AlgorithmSpec[DetectorFunction] = AlgorithmSpec(
    "example-peak", peak, PeakParams, "peak of the last samples over a threshold"
)
LARGEST_RAM: AlgorithmSpec[SelectorFunction] = AlgorithmSpec(
    "example-largest-ram", largest_ram, NoOptions, "the VM with the most RAM"
)
FIRST_FIT: AlgorithmSpec[PlacementFunction] = AlgorithmSpec(
    "example-first-fit", first_fit, FirstFitParams, "first fit under a CPU cap"
)
