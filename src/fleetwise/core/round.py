"""One round of the global manager, from an observation of the fleet to a decision.

:func:`plan_round` holds every rule of a round, so the live controller and the
``native`` simulator, which both call it, decide alike:

1. **Triage.** A request older than ``request_max_age_s`` is STALE (its local manager
   asks again if the need persists); of several requests from one host only the
   newest counts, the others are DUPLICATE.
2. **Gating.** While a plan is open nothing new is planned, so no two plans ever book
   the same VM or host: the remaining requests are WAITING (they stay pending).
3. **Eligibility.** A host takes part if it is asleep, or active with an agent heard
   within ``heartbeat_timeout_s``, no migration in flight leaves or enters it, and it
   is not quarantined.
   Requests from other hosts are HOST_UNAVAILABLE; those from hosts the fleet does not
   know are UNKNOWN_HOST.
4. **Demand.** A VM's CPU demand is the mean of its last ``demand_samples`` samples
   (its full capacity when it has none, so it is never squeezed in by mistake).
5. **Planning.** :func:`~fleetwise.core.global_manager.plan_reallocation` places the
   requested VMs, drains hosts in maintenance and puts idle hosts to sleep; every
   request it considered is PLANNED, NOTHING_TO_DO or NO_PLACEMENT.

A round runs even without requests: hosts in maintenance are drained and idle hosts
go to sleep.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum, auto
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from fleetwise.core.global_manager import (
    ClusterSnapshot,
    GlobalManagerConfig,
    HostState,
    ReallocationRequest,
    Solution,
    plan_reallocation,
)
from fleetwise.core.lifecycle import HostPowerState
from fleetwise.core.power import PowerModel
from fleetwise.core.types import FloatArray

__all__ = [
    "FleetHost",
    "FleetObservation",
    "FleetVm",
    "MigrationInFlight",
    "PendingRequest",
    "RequestOutcome",
    "RequestVerdict",
    "RoundConfig",
    "RoundDecision",
    "VmTable",
    "plan_round",
    "unavailability",
    "unreachable",
]

Reason = Literal["underload", "overload"]


@dataclass(frozen=True)
class FleetHost:
    """A host as the round sees it (CPU in MHz usable by VMs, RAM in MB).

    ``last_heard_s`` is when its agent was last heard from (same time base as the
    observation's ``now_s``), None if never; ``power_control`` is whether it can be put
    to sleep and woken; ``quarantined`` keeps it out of placement until its agent reports
    again (a migration to or from it ended with the VM's whereabouts unknown).
    """

    host_id: str
    cpu_mhz: float
    ram_mb: float
    power: HostPowerState = HostPowerState.ACTIVE
    last_heard_s: float | None = None
    maintenance: bool = False
    hypervisor_mhz: float = 0.0
    power_model: PowerModel | None = None
    power_control: bool = True
    quarantined: bool = False


@dataclass(frozen=True)
class FleetVm:
    """A VM: where it runs (None if no host reports it), its size and recent CPU samples.

    ``cpu_mhz`` holds the VM's latest CPU samples in MHz, oldest first.
    """

    vm_id: str
    host_id: str | None
    ram_mb: float
    capacity_mhz: float
    cpu_mhz: Sequence[float] = ()


@dataclass(frozen=True)
class VmTable:
    """The fleet's VMs as columns, one row per VM.

    ``cpu_mhz`` is a (VMs × samples) matrix of each VM's latest CPU samples in MHz,
    oldest first and aligned on the newest; NaN where a VM has fewer samples.
    """

    vm_ids: tuple[str, ...]
    host_ids: tuple[str | None, ...]
    ram_mb: FloatArray
    capacity_mhz: FloatArray
    cpu_mhz: FloatArray

    @staticmethod
    def of(vms: Sequence[FleetVm]) -> VmTable:
        """The table of ``vms`` (samples aligned on each VM's newest one)."""
        width = max((len(vm.cpu_mhz) for vm in vms), default=0)
        samples = np.full((len(vms), width), np.nan)
        for row, vm in enumerate(vms):
            if len(vm.cpu_mhz):
                samples[row, width - len(vm.cpu_mhz) :] = vm.cpu_mhz
        return VmTable(
            vm_ids=tuple(vm.vm_id for vm in vms),
            host_ids=tuple(vm.host_id for vm in vms),
            ram_mb=np.array([vm.ram_mb for vm in vms], dtype=np.float64),
            capacity_mhz=np.array([vm.capacity_mhz for vm in vms], dtype=np.float64),
            cpu_mhz=samples,
        )

    def __len__(self) -> int:
        return len(self.vm_ids)

    def demand(self, samples: int) -> FloatArray:
        """Each VM's CPU demand: mean of its last ``samples`` samples, else its capacity."""
        recent = self.cpu_mhz[:, max(0, self.cpu_mhz.shape[1] - samples) :]
        present = ~np.isnan(recent)
        count = present.sum(axis=1)
        total = np.where(present, recent, 0.0).sum(axis=1)
        out: FloatArray = np.where(count > 0, total / np.maximum(count, 1), self.capacity_mhz)
        return out


@dataclass(frozen=True)
class PendingRequest:
    """A reallocation request not handled yet; ``received_s`` on the observation's time base."""

    request_id: int
    host_id: str
    reason: Reason
    vm_ids: tuple[str, ...]
    received_s: float


@dataclass(frozen=True)
class MigrationInFlight:
    """A migration that has started and whose outcome is not known yet."""

    vm_id: str
    source: str
    destination: str


@dataclass(frozen=True)
class FleetObservation:
    """Everything one round may know, observed at ``now_s`` (seconds).

    ``requests`` are the pending requests, oldest first; ``open_plans`` counts plans
    not finished yet (recommended, pending or ongoing).
    """

    now_s: float
    hosts: tuple[FleetHost, ...]
    vms: VmTable
    requests: tuple[PendingRequest, ...] = ()
    open_plans: int = 0
    migrations: tuple[MigrationInFlight, ...] = ()


class RoundConfig(BaseModel):
    """The global manager's configuration plus the round's time limits."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    global_manager: GlobalManagerConfig = Field(default_factory=GlobalManagerConfig)
    request_max_age_s: float = Field(
        90.0, gt=0, allow_inf_nan=False, description="older pending requests are stale"
    )
    heartbeat_timeout_s: float = Field(
        90.0, gt=0, allow_inf_nan=False, description="a silent agent's host is unreachable"
    )


class RequestOutcome(StrEnum):
    """What a round made of a reallocation request."""

    PLANNED = auto()
    NO_PLACEMENT = auto()
    NOTHING_TO_DO = auto()
    STALE = auto()
    DUPLICATE = auto()
    HOST_UNAVAILABLE = auto()
    UNKNOWN_HOST = auto()
    WAITING = auto()
    """Not final: the request stays pending because a plan is open."""

    @property
    def final(self) -> bool:
        """Whether the request is handled (every outcome but WAITING)."""
        return self is not RequestOutcome.WAITING


@dataclass(frozen=True)
class RequestVerdict:
    """One request's outcome, with a sentence saying why."""

    request_id: int
    host_id: str
    outcome: RequestOutcome
    note: str = ""


@dataclass(frozen=True)
class RoundDecision:
    """The round's answer: what to do, what became of each request, and why.

    ``considered`` are the requests the plan answers; ``drained`` the hosts in
    maintenance it empties; ``excluded`` maps each host left out of the round to the
    reason; ``waiting`` is True when an open plan held the round back.
    """

    solution: Solution
    verdicts: tuple[RequestVerdict, ...]
    considered: tuple[PendingRequest, ...] = ()
    drained: tuple[str, ...] = ()
    excluded: Mapping[str, str] = field(default_factory=dict)
    waiting: bool = False

    @property
    def reason(self) -> str:
        """A short account of what the plan answers, e.g. ``overload of n1; maintenance of n4``."""
        parts: list[str] = []
        for kind in ("overload", "underload"):
            hosts = sorted({r.host_id for r in self.considered if r.reason == kind})
            if hosts:
                parts.append(f"{kind} of {', '.join(hosts)}")
        if self.drained:
            parts.append(f"maintenance of {', '.join(self.drained)}")
        return "; ".join(parts) or "host power"


def unreachable(host: FleetHost, now_s: float, heartbeat_timeout_s: float) -> bool:
    """Whether ``host`` should be awake but its agent was never heard or has been silent
    longer than the heartbeat timeout."""
    if host.power is not HostPowerState.ACTIVE:
        return False
    return host.last_heard_s is None or now_s - host.last_heard_s > heartbeat_timeout_s


def unavailability(host: FleetHost, now_s: float, heartbeat_timeout_s: float) -> str | None:
    """Why ``host`` cannot take part in a plan (None if it can): it must be asleep, or
    active with an agent heard within the timeout."""
    if host.power is HostPowerState.ASLEEP:
        return None
    if host.power is not HostPowerState.ACTIVE:
        return f"{host.power.value.replace('_', ' ')}"
    if host.last_heard_s is None:
        return "its agent was never heard from"
    silent = now_s - host.last_heard_s
    if silent > heartbeat_timeout_s:
        return f"unreachable: its agent has been silent for {silent:.0f} s"
    return None


def _exclusion(host: FleetHost, now_s: float, timeout_s: float, migrating: set[str]) -> str | None:
    """Why ``host`` takes no part in the round, or None if it does."""
    if host.host_id in migrating:
        return "in a migration whose outcome is not known yet"
    if host.quarantined:
        return "quarantined until its agent reports its VMs again"
    return unavailability(host, now_s, timeout_s)


def _triage(
    observation: FleetObservation, max_age_s: float
) -> tuple[list[RequestVerdict], list[PendingRequest]]:
    """Stale and superseded requests; the newest request per host stays live."""
    verdicts: list[RequestVerdict] = []
    newest: dict[str, PendingRequest] = {}
    ordered = sorted(observation.requests, key=lambda r: (r.received_s, r.request_id))
    for request in ordered:
        age = observation.now_s - request.received_s
        if age > max_age_s:
            note = f"received {age:.0f} s ago, more than the {max_age_s:g} s a request stays valid"
            verdicts.append(
                RequestVerdict(request.request_id, request.host_id, RequestOutcome.STALE, note)
            )
            continue
        previous = newest.get(request.host_id)
        if previous is not None:
            verdicts.append(
                RequestVerdict(
                    previous.request_id,
                    previous.host_id,
                    RequestOutcome.DUPLICATE,
                    f"superseded by request {request.request_id} from the same host",
                )
            )
        newest[request.host_id] = request
    return verdicts, list(newest.values())


def _snapshot(
    observation: FleetObservation, hosts: list[FleetHost], demand_samples: int
) -> ClusterSnapshot:
    names = {h.host_id for h in hosts}
    table = observation.vms
    rows = [row for row, host in enumerate(table.host_ids) if host is not None and host in names]
    index = np.array(rows, dtype=np.intp)
    return ClusterSnapshot(
        hosts=tuple(
            HostState(
                host_id=h.host_id,
                cpu_total=h.cpu_mhz,
                ram_total=h.ram_mb,
                awake=h.power is not HostPowerState.ASLEEP,
                maintenance=h.maintenance,
                hypervisor_mhz=h.hypervisor_mhz,
                power_model=h.power_model,
                can_sleep=h.power_control,
            )
            for h in hosts
        ),
        vm_ids=tuple(table.vm_ids[row] for row in rows),
        vm_hosts=tuple(str(table.host_ids[row]) for row in rows),
        vm_cpu=table.demand(demand_samples)[index],
        vm_ram=table.ram_mb[index],
    )


def _plan_verdicts(
    requests: list[PendingRequest], solution: Solution, snapshot: ClusterSnapshot
) -> list[RequestVerdict]:
    """PLANNED if VMs leave the host (or it sleeps); NOTHING_TO_DO if none of the VMs it
    names (underload: none at all) is there any more; otherwise NO_PLACEMENT."""
    leaving = {m.source for m in solution.migrations}
    asking = {r.host_id for r in requests}
    on_host: dict[str, set[str]] = {}
    for vm_id, host in zip(snapshot.vm_ids, snapshot.vm_hosts, strict=True):
        if host in asking:
            on_host.setdefault(host, set()).add(vm_id)
    verdicts: list[RequestVerdict] = []
    for request in requests:
        present = on_host.get(request.host_id, set())
        if request.reason == "overload":
            present = present & set(request.vm_ids)
        if request.host_id in leaving or request.host_id in solution.sleep:
            moved = sum(1 for m in solution.migrations if m.source == request.host_id)
            outcome, note = RequestOutcome.PLANNED, f"{moved} VM(s) leave the host"
        elif not present:
            outcome, note = RequestOutcome.NOTHING_TO_DO, "none of its VMs is on the host any more"
        else:
            outcome, note = RequestOutcome.NO_PLACEMENT, "no room for its VMs elsewhere"
        verdicts.append(RequestVerdict(request.request_id, request.host_id, outcome, note))
    return verdicts


def _work_without_requests(
    hosts: list[FleetHost], vms: VmTable, config: GlobalManagerConfig
) -> bool:
    """Whether a round without requests has anything to do: a host in maintenance to
    drain, or more idle hosts awake than the spares (the test is exact, so skipping the
    planning when it fails changes no decision)."""
    occupied = set(vms.host_ids)
    if any(h.maintenance and h.host_id in occupied for h in hosts):
        return True
    if not config.sleep_empty_hosts:
        return False
    idle = [
        h
        for h in hosts
        if h.power is not HostPowerState.ASLEEP and not h.maintenance and h.host_id not in occupied
    ]
    sleepable = sum(1 for h in idle if h.power_control)
    return sleepable > max(0, config.spare_hosts - (len(idle) - sleepable))


def plan_round(observation: FleetObservation, config: RoundConfig) -> RoundDecision:
    """Decide one round: the solution to carry out and the outcome of every request."""
    verdicts, live = _triage(observation, config.request_max_age_s)
    if observation.open_plans:
        verdicts += [
            RequestVerdict(r.request_id, r.host_id, RequestOutcome.WAITING, "a plan is still open")
            for r in live
        ]
        return RoundDecision(Solution(), tuple(verdicts), waiting=True)
    migrating = {h for m in observation.migrations for h in (m.source, m.destination)}
    excluded: dict[str, str] = {}
    eligible: list[FleetHost] = []
    for host in observation.hosts:
        why = _exclusion(host, observation.now_s, config.heartbeat_timeout_s, migrating)
        if why is None:
            eligible.append(host)
        else:
            excluded[host.host_id] = why
    known = {h.host_id for h in observation.hosts}
    considered: list[PendingRequest] = []
    for request in live:
        if request.host_id not in known:
            verdicts.append(
                RequestVerdict(
                    request.request_id,
                    request.host_id,
                    RequestOutcome.UNKNOWN_HOST,
                    "the fleet has no such host",
                )
            )
        elif request.host_id in excluded:
            verdicts.append(
                RequestVerdict(
                    request.request_id,
                    request.host_id,
                    RequestOutcome.HOST_UNAVAILABLE,
                    f"host {request.host_id} is {excluded[request.host_id]}",
                )
            )
        else:
            considered.append(request)
    gm = config.global_manager
    if not considered and not _work_without_requests(eligible, observation.vms, gm):
        return RoundDecision(Solution(), tuple(verdicts), excluded=excluded)
    snapshot = _snapshot(observation, eligible, gm.demand_samples)
    core_requests = tuple(ReallocationRequest(r.host_id, r.reason, r.vm_ids) for r in considered)
    solution = plan_reallocation(snapshot, core_requests, gm)
    occupied = set(snapshot.vm_hosts)
    drained = tuple(
        sorted(h.host_id for h in snapshot.hosts if h.maintenance and h.host_id in occupied)
    )
    verdicts += _plan_verdicts(considered, solution, snapshot)
    return RoundDecision(
        solution=solution,
        verdicts=tuple(verdicts),
        considered=tuple(considered),
        drained=drained,
        excluded=excluded,
    )
