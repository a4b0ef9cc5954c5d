"""VM placement: where should VMs go?

Two algorithms over one snapshot of the cluster, both pure:

* ``bfd`` — Best Fit Decreasing with CPU and RAM caps (Neat style): VMs by CPU demand,
  largest first, each to the awake host that fits it most tightly under the caps
  (least free CPU, then least free RAM, then first in order); a sleeping host (the
  smallest that fits) is woken only when no awake host fits. Unlike Neat, the caps
  also apply to woken hosts and the fit is recomputed after every placement.
* ``pabfd`` — power-aware BFD: each VM goes to the host whose power draw grows the
  least (a sleeping host counts from its sleep power, so it is chosen only when it is
  cheaper than any awake one).

Hosts are a :class:`HostTable` (one array per attribute), so thousands of hosts cost
a few array operations per VM. Every choice updates the working copy, so one round
never books a host twice. By default the result is all-or-nothing (nothing assigned
when any VM fails to fit), as a consolidation step that half-empties a host saves
nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from pydantic import Field

from fleetwise.core.fit import best_fit_assign, cheapest_power_increase
from fleetwise.core.power import PowerModel, interpolate_tables, power_table
from fleetwise.core.registry import AlgorithmSpec, Params, Registry
from fleetwise.core.types import FloatArray
from fleetwise.errors import InputError

__all__ = [
    "PLACEMENT",
    "HostCapacity",
    "HostTable",
    "Placement",
    "PlacementFn",
    "PlacementFunction",
    "VmDemand",
    "best_fit_decreasing",
    "power_aware_best_fit_decreasing",
]

BoolArray = npt.NDArray[np.bool_]


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
class HostTable:
    """Hosts as parallel arrays; ``power`` (hosts × 11 watts) and ``sleep_w`` are optional."""

    host_ids: npt.NDArray[np.object_]
    cpu_total: FloatArray
    ram_total: FloatArray
    cpu_used: FloatArray
    ram_used: FloatArray
    awake: BoolArray
    power: FloatArray | None = None
    sleep_w: FloatArray | None = None

    @staticmethod
    def of(hosts: Sequence[HostCapacity]) -> HostTable:
        """Build a table from host records."""
        with_power = all(h.power is not None for h in hosts)
        return HostTable(
            host_ids=np.array([h.host_id for h in hosts], dtype=object),
            cpu_total=np.array([h.cpu_total for h in hosts], dtype=np.float64),
            ram_total=np.array([h.ram_total for h in hosts], dtype=np.float64),
            cpu_used=np.array([h.cpu_used for h in hosts], dtype=np.float64),
            ram_used=np.array([h.ram_used for h in hosts], dtype=np.float64),
            awake=np.array([h.awake for h in hosts], dtype=bool),
            power=(
                np.array(
                    [power_table(h.power) for h in hosts if h.power is not None], dtype=np.float64
                ).reshape(-1, 11)
                if with_power and hosts
                else None
            ),
            sleep_w=(
                np.array([h.power.sleep_w for h in hosts if h.power is not None])
                if with_power and hosts
                else None
            ),
        )

    def take(self, index: npt.NDArray[np.intp]) -> HostTable:
        """The hosts at ``index``, in that order."""
        return HostTable(
            host_ids=self.host_ids[index],
            cpu_total=self.cpu_total[index],
            ram_total=self.ram_total[index],
            cpu_used=self.cpu_used[index],
            ram_used=self.ram_used[index],
            awake=self.awake[index],
            power=None if self.power is None else self.power[index],
            sleep_w=None if self.sleep_w is None else self.sleep_w[index],
        )

    def __len__(self) -> int:
        return len(self.host_ids)


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


Hosts = HostTable | Sequence[HostCapacity]


class PlacementFn(Protocol):
    """A placement algorithm with its parameters bound."""

    def __call__(self, hosts: Hosts, vms: tuple[VmDemand, ...]) -> Placement: ...


class PlacementFunction(Protocol):
    """A placement algorithm as registered: parameters last, by keyword (``params``)."""

    def __call__(self, hosts: Hosts, vms: tuple[VmDemand, ...], *, params: Any) -> Placement: ...


PLACEMENT: Registry[PlacementFunction, PlacementFn] = Registry("placement")


class BfdParams(Params):
    """Caps as fractions of each host's totals; ``all_or_nothing`` rejects partial results."""

    cpu_threshold: float = Field(0.8, gt=0.0, le=1.0)
    ram_threshold: float = Field(0.95, gt=0.0, le=1.0)
    all_or_nothing: bool = True


def _table(hosts: Hosts) -> HostTable:
    return hosts if isinstance(hosts, HostTable) else HostTable.of(hosts)


def _sorted_vms(vms: tuple[VmDemand, ...]) -> list[VmDemand]:
    for vm in vms:
        if not (vm.cpu >= 0 and vm.ram >= 0 and math.isfinite(vm.cpu) and math.isfinite(vm.ram)):
            raise InputError(f"VM {vm.vm_id}: demand must be finite and >= 0")
    if len({vm.vm_id for vm in vms}) != len(vms):
        raise InputError("a VM is listed twice")
    return sorted(vms, key=lambda v: (-v.cpu, -v.ram, v.vm_id))


def _finish(
    table: HostTable,
    chosen: dict[str, int],
    woken: list[int],
    unplaced: list[str],
    all_or_nothing: bool,
) -> Placement:
    if unplaced and all_or_nothing:
        return Placement(unplaced=tuple(unplaced))
    ids = table.host_ids
    return Placement(
        assignments={v: str(ids[i]) for v, i in chosen.items()},
        wake=tuple(str(ids[i]) for i in woken),
        unplaced=tuple(unplaced),
    )


def best_fit_decreasing(hosts: Hosts, vms: tuple[VmDemand, ...], *, params: BfdParams) -> Placement:
    """BFD under CPU/RAM caps; wakes the smallest sleeping host that fits when needed."""
    table = _table(hosts)
    order = _sorted_vms(vms)
    awake = table.awake.copy()
    chosen = best_fit_assign(
        awake,
        params.cpu_threshold * table.cpu_total - table.cpu_used,
        params.ram_threshold * table.ram_total - table.ram_used,
        table.cpu_total,
        table.ram_total,
        np.array([vm.cpu for vm in order], dtype=np.float64),
        np.array([vm.ram for vm in order], dtype=np.float64),
    )
    placed = chosen >= 0
    woken = np.flatnonzero(awake & ~table.awake)
    # Hosts are woken in the order VMs first needed them.
    first_use = {int(i): k for k, i in reversed(list(enumerate(chosen.tolist()))) if i >= 0}
    return _finish(
        table,
        {vm.vm_id: int(i) for vm, i in zip(order, chosen.tolist(), strict=True) if i >= 0},
        sorted((int(i) for i in woken), key=lambda i: first_use[i]),
        [vm.vm_id for vm, ok in zip(order, placed.tolist(), strict=True) if not ok],
        params.all_or_nothing,
    )


class PabfdParams(BfdParams):
    """Power-aware BFD; by default it may fill a host's CPU completely."""

    cpu_threshold: float = Field(1.0, gt=0.0, le=1.0)


def power_aware_best_fit_decreasing(
    hosts: Hosts, vms: tuple[VmDemand, ...], *, params: PabfdParams
) -> Placement:
    """Each VM to the host whose power draw increases least (ties: first host)."""
    table = _table(hosts)
    if len(table) == 0:
        return _finish(table, {}, [], [v.vm_id for v in _sorted_vms(vms)], params.all_or_nothing)
    if table.power is None or table.sleep_w is None:
        records = [] if isinstance(hosts, HostTable) else list(hosts)
        missing = next((h.host_id for h in records if h.power is None), None)
        name = f" (host {missing})" if missing else ""
        raise InputError(f"pabfd needs a power model for every host{name}")
    order = _sorted_vms(vms)
    cpu_free = params.cpu_threshold * table.cpu_total - table.cpu_used
    ram_free = params.ram_threshold * table.ram_total - table.ram_used
    used = table.cpu_used.copy()
    awake = table.awake.copy()
    tables = table.power
    # Power each host draws now: by load if awake, its sleep power otherwise.
    before = np.where(
        awake, interpolate_tables(tables, np.clip(used / table.cpu_total, 0.0, 1.0)), table.sleep_w
    )
    chosen: dict[str, int] = {}
    woken: list[int] = []
    unplaced: list[str] = []
    flat_tables = np.ascontiguousarray(tables).reshape(-1)
    for vm in order:
        cpu, ram = float(vm.cpu), float(vm.ram)
        index, after = cheapest_power_increase(
            cpu_free, ram_free, used, table.cpu_total, flat_tables, before, cpu, ram
        )
        if index < 0:
            unplaced.append(vm.vm_id)
            continue
        if not awake[index]:
            awake[index] = True
            woken.append(index)
        cpu_free[index] -= vm.cpu
        ram_free[index] -= vm.ram
        used[index] += vm.cpu
        before[index] = after
        chosen[vm.vm_id] = index
    return _finish(table, chosen, woken, unplaced, params.all_or_nothing)


PLACEMENT.register(
    AlgorithmSpec("bfd", best_fit_decreasing, BfdParams, "best fit decreasing under caps")
)
PLACEMENT.register(
    AlgorithmSpec(
        "pabfd",
        power_aware_best_fit_decreasing,
        PabfdParams,
        "power-aware best fit decreasing",
        needs_power_models=True,
    )
)
