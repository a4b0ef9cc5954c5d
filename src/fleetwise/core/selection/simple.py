"""Simple VM-selection policies: RS, MMT, MMT-max-CPU and MU.

Ties always go to the first VM in the given order.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from fleetwise.core.registry import AlgorithmSpec, Params
from fleetwise.core.selection.registry import SELECTION
from fleetwise.core.types import SelectionContext, VmObservation

__all__ = [
    "minimum_migration_time",
    "minimum_migration_time_max_cpu",
    "minimum_utilisation",
    "random_selection",
]


class NoParams(Params):
    """No parameters."""


class MaxCpuParams(Params):
    """MMT-max-CPU: among the smallest-RAM VMs, the highest mean of the last ``last_n`` samples."""

    last_n: int = Field(2, ge=1)


class MinimumUtilisationParams(Params):
    """MU: ``relative=True`` compares use / capacity (CloudSim), else absolute use (Neat)."""

    relative: bool = True


def random_selection(
    vms: tuple[VmObservation, ...], ctx: SelectionContext, *, params: NoParams
) -> int | None:
    """RS: a uniformly random VM, reproducible for a given ``ctx.seed``."""
    if not vms:
        return None
    return int(np.random.default_rng(ctx.seed).integers(len(vms)))


def minimum_migration_time(
    vms: tuple[VmObservation, ...], ctx: SelectionContext, *, params: NoParams
) -> int | None:
    """MMT: the VM with the least RAM (shortest live migration)."""
    if not vms:
        return None
    best = 0
    for i in range(1, len(vms)):
        if vms[i].ram_mb < vms[best].ram_mb:
            best = i
    return best


def _current(vm: VmObservation) -> float:
    return float(vm.cpu_history[-1]) if vm.cpu_history.size else 0.0


def minimum_migration_time_max_cpu(
    vms: tuple[VmObservation, ...], ctx: SelectionContext, *, params: MaxCpuParams
) -> int | None:
    """Among the least-RAM VMs, the one with the highest recent CPU use."""
    if not vms:
        return None
    least_ram = min(vm.ram_mb for vm in vms)
    best: int | None = None
    best_cpu = -1.0
    for i, vm in enumerate(vms):
        if vm.ram_mb != least_ram:
            continue
        tail = vm.cpu_history[-params.last_n :]
        cpu = float(tail.mean()) if tail.size else 0.0
        if cpu > best_cpu:
            best, best_cpu = i, cpu
    return best


def minimum_utilisation(
    vms: tuple[VmObservation, ...], ctx: SelectionContext, *, params: MinimumUtilisationParams
) -> int | None:
    """MU: the VM with the lowest current CPU use."""
    if not vms:
        return None

    def key(vm: VmObservation) -> float:
        use = _current(vm)
        return use / vm.capacity if params.relative and vm.capacity > 0 else use

    best = 0
    best_key = key(vms[0])
    for i in range(1, len(vms)):
        k = key(vms[i])
        if k < best_key:
            best, best_key = i, k
    return best


SELECTION.register(AlgorithmSpec("rs", random_selection, NoParams, "random selection"))
SELECTION.register(AlgorithmSpec("mmt", minimum_migration_time, NoParams, "minimum migration time"))
SELECTION.register(
    AlgorithmSpec(
        "mmt-max-cpu", minimum_migration_time_max_cpu, MaxCpuParams, "MMT, busiest VM first"
    )
)
SELECTION.register(
    AlgorithmSpec("mu", minimum_utilisation, MinimumUtilisationParams, "minimum utilisation")
)
