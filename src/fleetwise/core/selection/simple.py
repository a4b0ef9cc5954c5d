"""Simple VM-selection policies: RS, MMT, MMT-max-CPU and MU.

MMT, MMT-max-CPU and MU are *keyed*: each VM gets a key computed from that VM alone
and the policy picks the first VM with the least key. Callers that select many times
(the simulator) can compute the keys once and pick in compiled code. Ties always go
to the first VM in the given order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import Field

from fleetwise.core.registry import AlgorithmSpec, NoParams, Params
from fleetwise.core.selection.registry import SELECTION
from fleetwise.core.types import SelectionContext, SelectorFunction, VmObservation

__all__ = ["BoundKey", "KeyedSelectionSpec", "random_selection", "selection_key"]


class MaxCpuParams(Params):
    """MMT-max-CPU: among the smallest-RAM VMs, the highest mean of the last ``last_n`` samples."""

    last_n: int = Field(2, ge=1)


class MinimumUtilisationParams(Params):
    """MU: ``relative=True`` compares use / capacity (CloudSim), else absolute use (Neat)."""

    relative: bool = True


@dataclass(frozen=True)
class KeyedSelectionSpec(AlgorithmSpec[SelectorFunction]):
    """A policy choosing the first VM with the least ``key(vm, params)``, a pair compared in order.

    ``uses_history=False`` says the key ignores ``cpu_history``, so it never changes.
    """

    key: Callable[..., tuple[float, float]] | None = None
    uses_history: bool = True


@dataclass(frozen=True)
class BoundKey:
    """A keyed policy's key with its parameters bound."""

    key: Callable[..., tuple[float, float]]
    params: Params
    uses_history: bool

    def __call__(self, vm: VmObservation) -> tuple[float, float]:
        return self.key(vm, self.params)


def _first_least(
    vms: tuple[VmObservation, ...], key: Callable[..., tuple[float, float]], params: Params
) -> int | None:
    if not vms:
        return None
    best = 0
    best_key = key(vms[0], params)
    for i in range(1, len(vms)):
        k = key(vms[i], params)
        if k < best_key:
            best, best_key = i, k
    return best


def _keyed(
    name: str,
    key: Callable[..., tuple[float, float]],
    model: type[Params],
    summary: str,
    uses_history: bool = True,
) -> KeyedSelectionSpec:
    def select(
        vms: tuple[VmObservation, ...], ctx: SelectionContext, *, params: Params
    ) -> int | None:
        return _first_least(vms, key, params)

    select.__name__ = select.__qualname__ = name.replace("-", "_")
    return KeyedSelectionSpec(name, select, model, summary, key=key, uses_history=uses_history)


def selection_key(name: str, params: Mapping[str, Any] | Params | None = None) -> BoundKey | None:
    """The bound key of keyed policy ``name``, or None if its choice depends on the other VMs."""
    spec = SELECTION.spec(name)
    if not isinstance(spec, KeyedSelectionSpec) or spec.key is None:
        return None
    return BoundKey(spec.key, SELECTION.params(name, params), spec.uses_history)


def random_selection(
    vms: tuple[VmObservation, ...], ctx: SelectionContext, *, params: NoParams
) -> int | None:
    """RS: a uniformly random VM, reproducible for a given ``ctx.seed``."""
    if not vms:
        return None
    return int(np.random.default_rng(ctx.seed).integers(len(vms)))


def _current(vm: VmObservation) -> float:
    return float(vm.cpu_history[-1]) if vm.cpu_history.size else 0.0


def migration_time_key(vm: VmObservation, params: NoParams) -> tuple[float, float]:
    """MMT: least RAM (shortest live migration)."""
    return (vm.ram_mb, 0.0)


def migration_time_max_cpu_key(vm: VmObservation, params: MaxCpuParams) -> tuple[float, float]:
    """MMT-max-CPU: least RAM, then the highest mean of the last ``last_n`` samples."""
    tail = vm.cpu_history[-params.last_n :]
    cpu = float(tail.mean()) if tail.size else 0.0
    return (vm.ram_mb, -cpu)


def utilisation_key(vm: VmObservation, params: MinimumUtilisationParams) -> tuple[float, float]:
    """MU: the lowest current CPU use (relative to capacity unless ``relative=False``)."""
    use = _current(vm)
    return (use / vm.capacity if params.relative and vm.capacity > 0 else use, 0.0)


_MMT = _keyed("mmt", migration_time_key, NoParams, "minimum migration time", uses_history=False)
_MMT_MAX_CPU = _keyed(
    "mmt-max-cpu", migration_time_max_cpu_key, MaxCpuParams, "MMT, busiest VM first"
)
_MU = _keyed("mu", utilisation_key, MinimumUtilisationParams, "minimum utilisation")

SELECTION.register(AlgorithmSpec("rs", random_selection, NoParams, "random selection"))
SELECTION.register(_MMT)
SELECTION.register(_MMT_MAX_CPU)
SELECTION.register(_MU)
