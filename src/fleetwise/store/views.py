"""What the store hands back: frozen snapshots, detached from any session.

Hosts are named by name and VMs by UUID, as the API shows them. Credential hashes
never appear in a view.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fleetwise.core.lifecycle import (
    ActionKind,
    ActionState,
    HostPowerState,
    MigrationOutcome,
    PlanMode,
    PlanState,
    VmState,
)
from fleetwise.core.round import RequestOutcome
from fleetwise.store.enums import ReallocationReason
from fleetwise.store.models import (
    ActionRow,
    HostPowerLogRow,
    HostRow,
    MigrationRow,
    OverloadLogRow,
    PlanRow,
    RequestRow,
    VmRow,
)

__all__ = [
    "ActionView",
    "CpuSample",
    "HostCpuSample",
    "HostView",
    "MigrationView",
    "OverloadEntry",
    "PlanView",
    "PowerLogEntry",
    "ReportOutcome",
    "RequestView",
    "VmView",
    "action_view",
    "host_view",
    "migration_view",
    "overload_entry",
    "plan_view",
    "power_log_entry",
    "request_view",
    "vm_view",
]


def _name(host: HostRow | None) -> str | None:
    return None if host is None else host.name


@dataclass(frozen=True, slots=True)
class HostView:
    """A host's inventory, power and maintenance state."""

    id: int
    name: str
    cpu_cores: int
    core_mhz: int
    cpu_mhz: int
    ram_mb: int
    mac: str | None
    power_address: str | None
    power_kind: str | None
    hypervisor_uri: str | None
    migration_uri: str | None
    power_state: HostPowerState
    maintenance: bool
    last_heartbeat: datetime | None
    registered_at: datetime
    updated_at: datetime
    quarantined_at: datetime | None = None
    quarantine_reason: str | None = None


def host_view(host: HostRow) -> HostView:
    """Snapshot of ``host`` (without its credential hash)."""
    return HostView(
        id=host.id,
        name=host.name,
        cpu_cores=host.cpu_cores,
        core_mhz=host.core_mhz,
        cpu_mhz=host.cpu_mhz,
        ram_mb=host.ram_mb,
        mac=host.mac,
        power_address=host.power_address,
        power_kind=host.power_kind,
        hypervisor_uri=host.hypervisor_uri,
        migration_uri=host.migration_uri,
        power_state=host.power_state,
        maintenance=host.maintenance,
        last_heartbeat=host.last_heartbeat,
        registered_at=host.registered_at,
        updated_at=host.updated_at,
        quarantined_at=host.quarantined_at,
        quarantine_reason=host.quarantine_reason,
    )


@dataclass(frozen=True, slots=True)
class VmView:
    """A VM and the host it is on (None while unplaced or not seen anywhere)."""

    id: int
    uuid: str
    name: str | None
    host: str | None
    ram_mb: int
    vcpus: int
    capacity_mhz: int
    state: VmState
    located_at: datetime | None
    reported_at: datetime


def vm_view(vm: VmRow) -> VmView:
    """Snapshot of ``vm`` (its host relationship must be loadable)."""
    return VmView(
        id=vm.id,
        uuid=vm.uuid,
        name=vm.name,
        host=_name(vm.host),
        ram_mb=vm.ram_mb,
        vcpus=vm.vcpus,
        capacity_mhz=vm.capacity_mhz,
        state=vm.state,
        located_at=vm.located_at,
        reported_at=vm.reported_at,
    )


@dataclass(frozen=True, slots=True)
class ReportOutcome:
    """What an agent's VM report changed, by VM UUID.

    ``moved`` VMs were taken over from another host (or from nowhere); ``released``
    ones were on the reporting host but missing from its complete report; ``ignored``
    reports were older than what the store knows, or an incoming copy of a VM that
    still runs elsewhere.
    """

    created: tuple[str, ...] = ()
    moved: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    released: tuple[str, ...] = ()
    ignored: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CpuSample:
    """A VM's CPU use (MHz) over the interval ending at ``ts``."""

    ts: datetime
    cpu_mhz: float


@dataclass(frozen=True, slots=True)
class HostCpuSample:
    """A host's CPU use and the hypervisor's share of it (MHz), ending at ``ts``."""

    ts: datetime
    host_cpu_mhz: float
    hypervisor_mhz: float


@dataclass(frozen=True, slots=True)
class ActionView:
    """One action of a plan."""

    id: int
    plan_id: int
    seq: int
    wave: int
    kind: ActionKind
    state: ActionState
    vm_uuid: str | None
    source_host: str | None
    destination_host: str | None
    host: str | None
    attempts: int
    max_attempts: int
    last_error: str | None
    started_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime


def action_view(action: ActionRow) -> ActionView:
    """Snapshot of ``action`` (its VM and host relationships must be loadable)."""
    return ActionView(
        id=action.id,
        plan_id=action.plan_id,
        seq=action.seq,
        wave=action.wave,
        kind=action.kind,
        state=action.state,
        vm_uuid=None if action.vm is None else action.vm.uuid,
        source_host=_name(action.source_host),
        destination_host=_name(action.destination_host),
        host=_name(action.host),
        attempts=action.attempts,
        max_attempts=action.max_attempts,
        last_error=action.last_error,
        started_at=action.started_at,
        finished_at=action.finished_at,
        updated_at=action.updated_at,
    )


@dataclass(frozen=True, slots=True)
class PlanView:
    """A plan with its actions in order."""

    id: int
    state: PlanState
    mode: PlanMode
    reason: str
    message: str | None
    source_host: str | None
    request_id: int | None
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None
    actions: tuple[ActionView, ...]
    drained: tuple[str, ...] = ()


def plan_view(plan: PlanRow) -> PlanView:
    """Snapshot of ``plan`` and its actions."""
    return PlanView(
        id=plan.id,
        state=plan.state,
        mode=plan.mode,
        reason=plan.reason,
        message=plan.message,
        source_host=_name(plan.source_host),
        request_id=plan.request_id,
        created_at=plan.created_at,
        updated_at=plan.updated_at,
        expires_at=plan.expires_at,
        actions=tuple(action_view(a) for a in plan.actions),
        drained=tuple(plan.drained or ()),
    )


@dataclass(frozen=True, slots=True)
class MigrationView:
    """One live migration, finished or not."""

    id: int
    vm_uuid: str
    source_host: str
    destination_host: str
    action_id: int | None
    started_at: datetime
    finished_at: datetime | None
    outcome: MigrationOutcome | None
    error: str | None


def migration_view(migration: MigrationRow) -> MigrationView:
    """Snapshot of ``migration``."""
    return MigrationView(
        id=migration.id,
        vm_uuid=migration.vm.uuid,
        source_host=migration.source_host.name,
        destination_host=migration.destination_host.name,
        action_id=migration.action_id,
        started_at=migration.started_at,
        finished_at=migration.finished_at,
        outcome=migration.outcome,
        error=migration.error,
    )


@dataclass(frozen=True, slots=True)
class PowerLogEntry:
    """One change of a host's power state."""

    host: str
    ts: datetime
    from_state: HostPowerState
    to_state: HostPowerState
    reason: str


def power_log_entry(row: HostPowerLogRow, host: str) -> PowerLogEntry:
    """Snapshot of a power-log row of ``host``."""
    return PowerLogEntry(host, row.ts, row.from_state, row.to_state, row.reason)


@dataclass(frozen=True, slots=True)
class OverloadEntry:
    """A change of a host's overload state."""

    host: str
    ts: datetime
    overloaded: bool


def overload_entry(row: OverloadLogRow, host: str) -> OverloadEntry:
    """Snapshot of an overload-log row of ``host``."""
    return OverloadEntry(host, row.ts, row.overloaded)


@dataclass(frozen=True, slots=True)
class RequestView:
    """A reallocation request and what became of it."""

    id: int
    host: str
    reason: ReallocationReason
    vm_uuids: tuple[str, ...]
    sent_at: datetime | None
    received_at: datetime
    outcome: RequestOutcome | None
    note: str | None
    handled_at: datetime | None


def request_view(request: RequestRow) -> RequestView:
    """Snapshot of ``request``."""
    return RequestView(
        id=request.id,
        host=request.host.name,
        reason=request.reason,
        vm_uuids=tuple(request.vm_uuids),
        sent_at=request.sent_at,
        received_at=request.received_at,
        outcome=request.outcome,
        note=request.note,
        handled_at=request.handled_at,
    )
