"""Store views and API bodies, each way."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Literal

from fleetwise.api import schemas
from fleetwise.core.lifecycle import ActionKind, MigrationOutcome, PlanMode, VmState
from fleetwise.errors import ParameterError
from fleetwise.store import records, views

__all__ = [
    "action_out",
    "aware",
    "host_out",
    "host_spec",
    "migration_out",
    "plan_out",
    "vm_out",
    "vm_reports",
]

_VM_STATES: Mapping[str, VmState] = {
    "running": VmState.RUNNING,
    "paused": VmState.PAUSED,
    "migrating": VmState.MIGRATING,
    "shutoff": VmState.SHUTOFF,
    "other": VmState.CRASHED,
}
"""API VM states → store VM states; ``other`` (crashed, blocked, suspended…) is kept
as CRASHED, the store's state for a VM that neither runs nor was shut off."""

_ACTION_KINDS: Mapping[ActionKind, Literal["wake", "migrate", "sleep"]] = {
    ActionKind.WAKE: "wake",
    ActionKind.MIGRATE: "migrate",
    ActionKind.SLEEP: "sleep",
}
_OUTCOMES: Mapping[MigrationOutcome, Literal["succeeded", "failed", "timed_out", "unknown"]] = {
    MigrationOutcome.SUCCEEDED: "succeeded",
    MigrationOutcome.FAILED: "failed",
    MigrationOutcome.TIMED_OUT: "timed_out",
    MigrationOutcome.UNKNOWN: "unknown",
}


def _core_mhz(body: schemas.HostRegistration) -> int:
    return max(1, round(body.core_mhz))


MAX_STORED_INT = 2**31 - 1
"""Largest integer every back end stores in an ``INTEGER`` column."""


def host_spec(name: str, body: schemas.HostRegistration) -> records.HostSpec:
    """The store's record of a registering host; usable MHz = cores × MHz × usable fraction."""
    if body.ram_mb > MAX_STORED_INT:
        raise ParameterError(f"ram_mb must be at most {MAX_STORED_INT}")
    core_mhz = _core_mhz(body)
    usable = math.floor(body.cpu_cores * body.core_mhz * body.usable_fraction)
    return records.HostSpec(
        name=name,
        cpu_cores=body.cpu_cores,
        core_mhz=core_mhz,
        cpu_mhz=max(1, min(body.cpu_cores * core_mhz, usable)),
        ram_mb=body.ram_mb,
        mac=body.mac,
        hypervisor_uri=body.hypervisor_uri,
        migration_uri=body.migration_uri,
    )


def vm_reports(vms: Sequence[schemas.VmReport], core_mhz: int) -> list[records.ReportedVm]:
    """The store's records of the VMs a host reports (capacity = vCPUs × core MHz)."""
    return [
        records.ReportedVm(
            uuid=vm.uuid,
            state=_VM_STATES[vm.state],
            ram_mb=vm.ram_mb,
            vcpus=vm.vcpus,
            capacity_mhz=vm.vcpus * core_mhz,
            name=vm.name or None,
        )
        for vm in vms
    ]


def host_out(host: views.HostView, vm_count: int, *, unreachable: bool = False) -> schemas.HostOut:
    """API view of a host."""
    return schemas.HostOut(
        name=host.name,
        power_state=host.power_state.value,
        maintenance=host.maintenance,
        cpu_mhz=float(host.cpu_mhz),
        ram_mb=host.ram_mb,
        vms=vm_count,
        last_heartbeat=host.last_heartbeat,
        hypervisor_uri=host.hypervisor_uri,
        migration_uri=host.migration_uri,
        cpu_cores=host.cpu_cores,
        core_mhz=host.core_mhz,
        registered_at=host.registered_at,
        unreachable=unreachable,
        quarantined=host.quarantined_at is not None,
        quarantine_reason=host.quarantine_reason,
    )


def vm_out(vm: views.VmView, cpu_mhz: float | None) -> schemas.VmOut:
    """API view of a VM with its latest CPU sample."""
    return schemas.VmOut(
        uuid=vm.uuid,
        host=vm.host,
        state=vm.state.value,
        ram_mb=vm.ram_mb,
        vcpus=vm.vcpus,
        cpu_mhz=cpu_mhz,
        name=vm.name,
        capacity_mhz=vm.capacity_mhz,
        located_at=vm.located_at,
        reported_at=vm.reported_at,
    )


def action_out(action: views.ActionView) -> schemas.ActionOut:
    """API view of an action."""
    return schemas.ActionOut(
        id=action.id,
        kind=_ACTION_KINDS[action.kind],
        state=action.state.value,
        vm_uuid=action.vm_uuid,
        source=action.source_host,
        destination=action.destination_host,
        attempts=action.attempts,
        last_error=action.last_error,
        host=action.host,
    )


def plan_out(plan: views.PlanView) -> schemas.PlanOut:
    """API view of a plan and its actions."""
    return schemas.PlanOut(
        id=plan.id,
        state=plan.state.value,
        mode="recommend" if plan.mode is PlanMode.RECOMMEND else "automatic",
        reason=plan.reason,
        created_at=plan.created_at,
        expires_at=plan.expires_at,
        actions=[action_out(a) for a in plan.actions],
    )


def migration_out(migration: views.MigrationView) -> schemas.MigrationOut:
    """API view of a migration attempt."""
    return schemas.MigrationOut(
        id=migration.id,
        vm_uuid=migration.vm_uuid,
        source=migration.source_host,
        destination=migration.destination_host,
        action_id=migration.action_id,
        started_at=migration.started_at,
        finished_at=migration.finished_at,
        outcome=_OUTCOMES.get(migration.outcome) if migration.outcome else None,
        error=migration.error,
    )


def aware(value: datetime, what: str) -> datetime:
    """``value`` in UTC; a time without a zone is bad input."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ParameterError(f"{what} must include a time zone, e.g. 2024-01-01T12:00:00Z")
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ParameterError(f"{what} is out of range") from None
