"""The global manager's decision: where requested VMs go, which hosts wake and sleep.

:func:`plan_reallocation` takes a snapshot of the cluster and this round's
reallocation requests and returns a :class:`Solution` (unordered actions). It plans
on a working copy, so requests handled later in the round see the effect of earlier
ones and no host is booked twice. Overload requests go first (they protect service
levels), then maintenance drains, then underload requests from the least-utilised
host up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal, Self

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, model_validator

from fleetwise.core.local_manager import AlgorithmChoice
from fleetwise.core.placement import PLACEMENT, HostCapacity, HostTable, Placement, VmDemand
from fleetwise.core.power import PowerModel
from fleetwise.core.types import FloatArray
from fleetwise.errors import InputError

__all__ = [
    "ClusterSnapshot",
    "GlobalManagerConfig",
    "HostState",
    "Migration",
    "PlacedVm",
    "ReallocationRequest",
    "Solution",
    "plan_reallocation",
]


class GlobalManagerConfig(BaseModel):
    """Placement algorithm, the VMs' demand window and the host-power policy."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    placement: AlgorithmChoice = AlgorithmChoice(
        name="bfd", params={"cpu_threshold": 0.8, "ram_threshold": 0.95}
    )
    spare_hosts: int = Field(0, ge=0, description="empty hosts kept awake")
    sleep_empty_hosts: bool = True
    demand_samples: int = Field(
        2, ge=1, le=1000, description="a VM's CPU demand: mean of its last n samples"
    )

    @model_validator(mode="after")
    def _known_placement(self) -> Self:
        """An unknown placement algorithm or bad parameters fail when the configuration loads."""
        try:
            PLACEMENT.params(self.placement.name, self.placement.params)
        except InputError as exc:
            raise ValueError(str(exc)) from None
        return self


@dataclass(frozen=True)
class HostState:
    """A host as the global manager sees it (CPU in MHz, RAM in MB).

    ``can_sleep`` is False for hosts without power control: they are never put to sleep.
    """

    host_id: str
    cpu_total: float
    ram_total: float
    awake: bool = True
    maintenance: bool = False
    hypervisor_mhz: float = 0.0
    power_model: PowerModel | None = None
    can_sleep: bool = True


@dataclass(frozen=True)
class PlacedVm:
    """A VM: its host, recent CPU demand (MHz) and RAM (MB)."""

    vm_id: str
    host_id: str
    cpu: float
    ram: float


@dataclass(frozen=True)
class ClusterSnapshot:
    """Hosts and the VMs on them; VMs as columns (one row per VM).

    Build it from records with :meth:`of`; ``vm_cpu`` is each VM's CPU demand (MHz).
    """

    hosts: tuple[HostState, ...]
    vm_ids: tuple[str, ...] = ()
    vm_hosts: tuple[str, ...] = ()
    vm_cpu: FloatArray = field(default_factory=lambda: np.zeros(0))
    vm_ram: FloatArray = field(default_factory=lambda: np.zeros(0))

    @staticmethod
    def of(hosts: Sequence[HostState], vms: Sequence[PlacedVm]) -> ClusterSnapshot:
        """The snapshot of ``hosts`` and ``vms``."""
        return ClusterSnapshot(
            hosts=tuple(hosts),
            vm_ids=tuple(v.vm_id for v in vms),
            vm_hosts=tuple(v.host_id for v in vms),
            vm_cpu=np.array([v.cpu for v in vms], dtype=np.float64),
            vm_ram=np.array([v.ram for v in vms], dtype=np.float64),
        )

    @property
    def vms(self) -> tuple[PlacedVm, ...]:
        """The VMs as records."""
        return tuple(
            PlacedVm(vm_id, host, cpu, ram)
            for vm_id, host, cpu, ram in zip(
                self.vm_ids, self.vm_hosts, self.vm_cpu.tolist(), self.vm_ram.tolist(), strict=True
            )
        )


@dataclass(frozen=True)
class ReallocationRequest:
    """From a local manager: ``underload`` (all VMs) or ``overload`` (the listed VMs)."""

    host_id: str
    reason: Literal["underload", "overload"]
    vm_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Migration:
    vm_id: str
    source: str
    destination: str


@dataclass(frozen=True)
class Solution:
    """What to do: migrations, hosts to wake (before), hosts to put to sleep (after)."""

    migrations: tuple[Migration, ...] = ()
    wake: tuple[str, ...] = ()
    sleep: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def empty(self) -> bool:
        return not (self.migrations or self.wake or self.sleep)


class _Model:
    """Working copy: which host each VM is on, per-host use as arrays, host power."""

    def __init__(self, snapshot: ClusterSnapshot) -> None:
        hosts = snapshot.hosts
        self.hosts: dict[str, HostState] = {h.host_id: h for h in hosts}
        self.index: dict[str, int] = {h.host_id: i for i, h in enumerate(hosts)}
        self.vm_ids = snapshot.vm_ids
        self.cpu = snapshot.vm_cpu.tolist()
        self.ram = snapshot.vm_ram.tolist()
        self.on_host: dict[str, set[str]] = {}
        self.table = HostTable.of(
            [
                HostCapacity(
                    h.host_id, h.cpu_total, h.ram_total, h.hypervisor_mhz, 0.0,
                    h.awake, h.power_model,
                )
                for h in hosts
            ]
        )  # fmt: skip
        self.maintenance = np.array([h.maintenance for h in hosts], dtype=bool)
        index = self.index
        rows = np.array(
            [row for row, host in enumerate(snapshot.vm_hosts) if host in index], dtype=np.intp
        )
        ids = [snapshot.vm_ids[row] for row in rows.tolist()]
        names = [snapshot.vm_hosts[row] for row in rows.tolist()]
        where = np.array([index[name] for name in names], dtype=np.intp)
        n = len(hosts)
        self.vm_count = np.bincount(where, minlength=n).astype(np.intp)
        self.table.cpu_used[:] += np.bincount(where, snapshot.vm_cpu[rows], minlength=n)
        self.table.ram_used[:] += np.bincount(where, snapshot.vm_ram[rows], minlength=n)
        self.row = dict(zip(ids, rows.tolist(), strict=True))
        self.vm_host = dict(zip(ids, names, strict=True))
        order = np.argsort(where, kind="stable")
        bounds = np.searchsorted(where[order], np.arange(n + 1))
        ordered = np.array(ids, dtype=object)[order] if ids else np.array([], dtype=object)
        for i, h in enumerate(hosts):
            self.on_host[h.host_id] = set(ordered[bounds[i] : bounds[i + 1]].tolist())

    def demand(self, vm_id: str) -> VmDemand:
        """The VM as placement sees it."""
        row = self.row[vm_id]
        return VmDemand(vm_id, self.cpu[row], self.ram[row])

    def _attach(self, vm_id: str, host_id: str) -> None:
        row = self.row[vm_id]
        i = self.index[host_id]
        self.vm_host[vm_id] = host_id
        self.on_host[host_id].add(vm_id)
        self.vm_count[i] += 1
        self.table.cpu_used[i] += self.cpu[row]
        self.table.ram_used[i] += self.ram[row]

    def move(self, vm_id: str, host_id: str) -> None:
        old = self.vm_host[vm_id]
        row = self.row[vm_id]
        i = self.index[old]
        self.on_host[old].discard(vm_id)
        self.vm_count[i] -= 1
        self.table.cpu_used[i] -= self.cpu[row]
        self.table.ram_used[i] -= self.ram[row]
        self._attach(vm_id, host_id)

    def wake(self, host_id: str) -> None:
        self.hosts[host_id] = replace(self.hosts[host_id], awake=True)
        self.table.awake[self.index[host_id]] = True

    def utilisation(self, host_id: str) -> float:
        i = self.index[host_id]
        return float(self.table.cpu_used[i] / self.table.cpu_total[i])

    def vms_on(self, host_id: str) -> list[str]:
        return sorted(self.on_host[host_id])

    def has_vms(self) -> BoolArray:
        out: BoolArray = self.vm_count > 0
        return out


BoolArray = npt.NDArray[np.bool_]


class _Placer:
    """The configured placement algorithm, built once per round for both modes."""

    def __init__(self, config: GlobalManagerConfig) -> None:
        self._built = {
            flag: PLACEMENT.build(
                config.placement.name, dict(config.placement.params) | {"all_or_nothing": flag}
            )
            for flag in (False, True)
        }

    def __call__(
        self, model: _Model, vm_ids: list[str], targets: npt.NDArray[np.intp], all_or_nothing: bool
    ) -> Placement:
        vms = tuple(model.demand(v) for v in vm_ids)
        result: Placement = self._built[all_or_nothing](model.table.take(targets), vms)
        return result


def plan_reallocation(
    snapshot: ClusterSnapshot,
    requests: tuple[ReallocationRequest, ...],
    config: GlobalManagerConfig,
) -> Solution:
    """Plan this round's migrations and power changes."""
    model = _Model(snapshot)
    place = _Placer(config)
    moves: dict[str, Migration] = {}
    wake: list[str] = []
    notes: list[str] = []
    draining: set[str] = {h.host_id for h in snapshot.hosts if h.maintenance}
    underloaded = {r.host_id for r in requests if r.reason == "underload"}

    def move(vm_id: str, source: str, dst: str) -> None:
        origin = moves[vm_id].source if vm_id in moves else source
        if origin == dst:
            moves.pop(vm_id, None)
        else:
            moves[vm_id] = Migration(vm_id, origin, dst)
        model.move(vm_id, dst)

    def apply(placement: Placement, source: str) -> None:
        for vm_id, dst in placement.assignments.items():
            move(vm_id, source, dst)
        for h in placement.wake:
            model.wake(h)
            wake.append(h)

    def eligible(exclude: set[str], allow_asleep: bool, need_vms: bool) -> npt.NDArray[np.intp]:
        mask = ~model.maintenance.copy()
        for h in exclude:
            if h in model.index:
                mask[model.index[h]] = False
        awake = model.table.awake
        if not allow_asleep:
            mask &= awake
        if need_vms:
            mask &= ~awake | model.has_vms()
        return np.flatnonzero(mask)

    known = {r.host_id for r in requests} - set(model.hosts)
    if known:
        notes.append(f"requests from unknown hosts ignored: {', '.join(sorted(known))}")
    # 1. overload: move the selected VMs of all overloaded hosts in one placement, away
    #    from every overloaded or underloaded host, waking hosts if needed; partial
    #    relief is kept.
    over_reqs = [r for r in requests if r.reason == "overload" and r.host_id in model.hosts]
    overloaded = {r.host_id for r in over_reqs}
    by_vm: dict[str, str] = {}
    for req in over_reqs:
        for v in req.vm_ids:
            if model.vm_host.get(v) == req.host_id:
                by_vm[v] = req.host_id
    if by_vm:
        targets = eligible(overloaded | underloaded, allow_asleep=True, need_vms=False)
        placement = place(model, list(by_vm), targets, all_or_nothing=False)
        for vm_id, dst in placement.assignments.items():
            move(vm_id, by_vm[vm_id], dst)
        apply(Placement(wake=placement.wake), "")
        if placement.unplaced:
            notes.append(f"no room for {', '.join(sorted(placement.unplaced))}")
    # 2. maintenance: drain every VM, waking hosts if needed.
    for host_id in sorted(draining):
        vm_ids = model.vms_on(host_id)
        if not vm_ids:
            continue
        targets = eligible({host_id} | overloaded, allow_asleep=True, need_vms=False)
        placement = place(model, vm_ids, targets, all_or_nothing=False)
        apply(placement, host_id)
        if placement.unplaced:
            notes.append(f"{host_id}: cannot drain {', '.join(placement.unplaced)}")
    # 3. underload: empty the host completely onto awake hosts that keep VMs, or not at all.
    under_reqs = [r for r in requests if r.reason == "underload" and r.host_id in model.hosts]
    under_reqs.sort(key=lambda r: (model.utilisation(r.host_id), r.host_id))
    emptied: set[str] = set()
    for req in under_reqs:
        vm_ids = model.vms_on(req.host_id)
        if not vm_ids:
            continue
        # Hosts being relieved this round are no targets: VMs would race the ones leaving.
        targets = eligible({req.host_id} | emptied | overloaded, allow_asleep=False, need_vms=True)
        placement = place(model, vm_ids, targets, all_or_nothing=True)
        if placement.complete:
            apply(placement, req.host_id)
            emptied.add(req.host_id)
    # 4. host power: sleep empty awake hosts beyond the spares. Hosts in maintenance stay
    #    as they are; an empty host without power control stays awake and is a spare.
    sleep: list[str] = []
    if config.sleep_empty_hosts:
        empty = [
            h
            for h in model.hosts.values()
            if model.table.awake[model.index[h.host_id]]
            and not model.on_host[h.host_id]
            and h.host_id not in wake
            and not h.maintenance
        ]
        fixed = sum(1 for h in empty if not h.can_sleep)
        # Prefer keeping hosts that were empty already (their VMs are not in flight).
        candidates = sorted(
            (h.host_id for h in empty if h.can_sleep), key=lambda h: (h in emptied, h)
        )
        sleep = candidates[max(0, config.spare_hosts - fixed) :]
    return Solution(
        migrations=tuple(moves[v] for v in sorted(moves)),
        wake=tuple(wake),
        sleep=tuple(sleep),
        notes=tuple(notes),
    )
