"""Hosts and VMs: registration, agent reports, power state, maintenance, overload log.

Every function takes an open :class:`~sqlalchemy.orm.Session` inside a transaction
(see :class:`fleetwise.store.repository.Store`) and the current time as ``now``.

Where a VM is follows one rule: the newest observation wins. An agent report at
time ``t`` moves a VM to the reporting host unless the store already holds a newer
observation of that VM (a later report, or a migration that finished later). An
incoming copy (state MIGRATING) never takes a VM away from the host it runs on.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, selectinload

from fleetwise.core.lifecycle import HostPowerState, VmState, advance
from fleetwise.errors import ConflictError, ParameterError
from fleetwise.store.coltypes import require_utc
from fleetwise.store.lookup import host_by_name, insert_ignoring_duplicates, rowcount
from fleetwise.store.models import HostPowerLogRow, HostRow, OverloadLogRow, VmRow
from fleetwise.store.records import HostSpec, ReportedVm
from fleetwise.store.views import (
    HostView,
    OverloadEntry,
    PowerLogEntry,
    ReportOutcome,
    VmView,
    host_view,
    overload_entry,
    power_log_entry,
    vm_view,
)

__all__ = [
    "agent_credential_hash",
    "get_host",
    "list_hosts",
    "list_vms",
    "overload_history",
    "power_history",
    "quarantine_hosts",
    "record_heartbeat",
    "record_overload_state",
    "register_host",
    "report_vms",
    "set_agent_credential_hash",
    "set_host_power_state",
    "set_maintenance",
]


def register_host(session: Session, spec: HostSpec, *, now: datetime) -> HostView:
    """Add the host or update its inventory; power state and maintenance are kept."""
    now = require_utc(now)
    host = session.scalars(
        select(HostRow).where(HostRow.name == spec.name).with_for_update()
    ).first()
    if host is None:
        host = HostRow(
            name=spec.name,
            power_state=HostPowerState.ACTIVE,
            maintenance=False,
            registered_at=now,
        )
        session.add(host)
    host.cpu_cores = spec.cpu_cores
    host.core_mhz = spec.core_mhz
    host.cpu_mhz = spec.cpu_mhz
    host.ram_mb = spec.ram_mb
    host.mac = spec.mac
    host.power_address = spec.power_address
    host.power_kind = spec.power_kind
    host.hypervisor_uri = spec.hypervisor_uri
    host.migration_uri = spec.migration_uri
    host.updated_at = now
    session.flush()
    return host_view(host)


def get_host(session: Session, name: str) -> HostView:
    """The host called ``name``."""
    return host_view(host_by_name(session, name))


def list_hosts(session: Session) -> tuple[HostView, ...]:
    """Every host, by name."""
    return tuple(host_view(h) for h in session.scalars(select(HostRow).order_by(HostRow.name)))


def set_agent_credential_hash(session: Session, host: str, credential_hash: str) -> None:
    """Store the hash of the credential the host's agent authenticates with."""
    if not credential_hash or len(credential_hash) > 255:
        raise ParameterError("credential hash must be 1-255 characters")
    host_by_name(session, host, lock=True).agent_credential_hash = credential_hash


def agent_credential_hash(session: Session, host: str) -> str | None:
    """The stored credential hash of the host's agent (None if none was set)."""
    return host_by_name(session, host).agent_credential_hash


def record_heartbeat(session: Session, host: str, *, now: datetime) -> None:
    """Note that the host's agent was alive at ``now`` (an older heartbeat changes nothing)."""
    now = require_utc(now)
    row = host_by_name(session, host, lock=True)
    if row.last_heartbeat is None or row.last_heartbeat < now:
        row.last_heartbeat = now


def quarantine_hosts(session: Session, hosts: Sequence[str], reason: str, *, now: datetime) -> None:
    """Keep ``hosts`` out of placement until each reports its VMs again."""
    now = require_utc(now)
    for name in sorted(set(hosts)):
        row = host_by_name(session, name, lock=True)
        row.quarantined_at = now
        row.quarantine_reason = reason[:255]


def set_host_power_state(
    session: Session,
    host: str,
    expected: HostPowerState,
    target: HostPowerState,
    *,
    now: datetime,
    reason: str,
) -> HostView:
    """Move the host's power state along one edge of its cycle and log the change.

    Raises IllegalTransition if ``expected → target`` is not an edge and ConflictError
    if the host is no longer in ``expected``.
    """
    now = require_utc(now)
    advance(expected, target)
    if not reason or len(reason) > 255:
        raise ParameterError("a power change needs a reason of 1-255 characters")
    row = host_by_name(session, host)
    changed = rowcount(
        session,
        update(HostRow)
        .where(HostRow.id == row.id, HostRow.power_state == expected)
        .values(power_state=target, updated_at=now),
    )
    if changed != 1:
        session.refresh(row)
        raise ConflictError(
            f"host {host} is {row.power_state.value}, not {expected.value}; power state unchanged"
        )
    session.add(
        HostPowerLogRow(host_id=row.id, ts=now, from_state=expected, to_state=target, reason=reason)
    )
    session.flush()
    session.refresh(row)
    return host_view(row)


def set_maintenance(session: Session, host: str, enabled: bool, *, now: datetime) -> HostView:
    """Put the host into maintenance (kept out of placement) or take it out."""
    now = require_utc(now)
    row = host_by_name(session, host, lock=True)
    if row.maintenance != enabled:
        row.maintenance = enabled
        row.updated_at = now
    return host_view(row)


def record_overload_state(session: Session, host: str, ts: datetime, overloaded: bool) -> bool:
    """Log the host's overload state if it differs from the last logged one.

    Returns whether a row was written; a state older than the last logged one is
    ignored.
    """
    ts = require_utc(ts)
    row = host_by_name(session, host, lock=True)
    last = session.scalars(
        select(OverloadLogRow)
        .where(OverloadLogRow.host_id == row.id)
        .order_by(OverloadLogRow.ts.desc(), OverloadLogRow.id.desc())
        .limit(1)
    ).first()
    if last is not None and (last.overloaded == overloaded or ts <= last.ts):
        return False
    session.add(OverloadLogRow(host_id=row.id, ts=ts, overloaded=overloaded))
    return True


def report_vms(
    session: Session,
    host: str,
    reports: Sequence[ReportedVm],
    reported_at: datetime,
    *,
    complete: bool = True,
) -> ReportOutcome:
    """Apply an agent's report of the VMs on ``host`` as seen at ``reported_at``.

    New VMs are created on the host; known ones are updated or moved here by the
    newest-observation rule. With ``complete`` (the report lists every VM of the
    host), VMs recorded on this host but absent from the report are released: no
    host, state MISSING. A VM is never deleted, and its single ``host_id`` means it
    is on at most one host. A complete report made after the host was quarantined
    lifts the quarantine.
    """
    reported_at = require_utc(reported_at)
    uuids = [r.uuid for r in reports]
    if len(set(uuids)) != len(uuids):
        raise ParameterError(f"host {host} reported the same VM twice")
    host_row = host_by_name(session, host, lock=True)
    if complete and host_row.quarantined_at is not None and host_row.quarantined_at <= reported_at:
        # The host told where each of its VMs is: what the quarantine waited for.
        host_row.quarantined_at = None
        host_row.quarantine_reason = None
    created = _insert_new_vms(session, host_row.id, reports, reported_at)
    pending = {r.uuid: r for r in reports if r.uuid not in created}
    moved: list[str] = []
    updated: list[str] = []
    released: list[str] = []
    ignored: list[str] = []
    # Lock every VM this report may touch in one statement, in id order, so that
    # concurrent reports from different hosts cannot deadlock.
    reported = VmRow.uuid.in_(sorted(pending))
    touched = select(VmRow).where(
        or_(reported, VmRow.host_id == host_row.id) if complete else reported,
        VmRow.uuid.not_in(sorted(created)),
    )
    for vm in session.scalars(touched.order_by(VmRow.id).with_for_update()):
        report = pending.get(vm.uuid)
        if report is None:  # on this host, missing from its complete report
            if not _newer_known(vm, reported_at):
                vm.host_id = None
                vm.located_at = reported_at
                vm.reported_at = reported_at
                vm.state = VmState.MISSING
                released.append(vm.uuid)
            continue
        if _newer_known(vm, reported_at) or (
            vm.host_id not in (None, host_row.id) and report.state is VmState.MIGRATING
        ):
            ignored.append(vm.uuid)
            continue
        (updated if vm.host_id == host_row.id else moved).append(vm.uuid)
        if vm.host_id != host_row.id:
            vm.host_id = host_row.id
            vm.located_at = reported_at
        _apply(vm, report, reported_at)
    session.flush()
    return ReportOutcome(
        created=tuple(sorted(created)),
        moved=tuple(moved),
        updated=tuple(updated),
        released=tuple(released),
        ignored=tuple(ignored),
    )


def _newer_known(vm: VmRow, observed_at: datetime) -> bool:
    newest = vm.reported_at if vm.located_at is None else max(vm.reported_at, vm.located_at)
    return observed_at < newest


def _apply(vm: VmRow, report: ReportedVm, reported_at: datetime) -> None:
    vm.state = report.state
    vm.ram_mb = report.ram_mb
    vm.vcpus = report.vcpus
    vm.capacity_mhz = report.capacity_mhz
    if report.name is not None:
        vm.name = report.name
    vm.reported_at = reported_at


def _insert_new_vms(
    session: Session, host_id: int, reports: Sequence[ReportedVm], reported_at: datetime
) -> set[str]:
    """Insert the reported VMs the store does not know yet; returns their UUIDs.

    A VM inserted concurrently by another transaction is skipped here (the insert
    ignores duplicates) and handled as a known VM.
    """
    known = set(
        session.scalars(select(VmRow.uuid).where(VmRow.uuid.in_([r.uuid for r in reports])))
    )
    fresh = [r for r in reports if r.uuid not in known]
    if not fresh:
        return set()
    rows = [
        {
            "uuid": r.uuid,
            "name": r.name,
            "host_id": host_id,
            "ram_mb": r.ram_mb,
            "vcpus": r.vcpus,
            "capacity_mhz": r.capacity_mhz,
            "state": r.state,
            "located_at": reported_at,
            "reported_at": reported_at,
            "created_at": reported_at,
        }
        for r in fresh
    ]
    statement = insert_ignoring_duplicates(session, VmRow).returning(VmRow.uuid)
    return set(session.scalars(statement, rows))


def list_vms(session: Session, host: str | None = None) -> tuple[VmView, ...]:
    """Every VM (or those on ``host``), by UUID."""
    stmt = select(VmRow).options(selectinload(VmRow.host)).order_by(VmRow.uuid)
    if host is not None:
        stmt = stmt.where(VmRow.host_id == host_by_name(session, host).id)
    return tuple(vm_view(vm) for vm in session.scalars(stmt))


def power_history(
    session: Session, host: str | None = None, since: datetime | None = None
) -> tuple[PowerLogEntry, ...]:
    """Logged power-state changes, oldest first."""
    stmt = (
        select(HostPowerLogRow, HostRow.name)
        .join(HostRow)
        .order_by(HostPowerLogRow.ts, HostPowerLogRow.id)
    )
    if host is not None:
        stmt = stmt.where(HostRow.name == host)
    if since is not None:
        stmt = stmt.where(HostPowerLogRow.ts >= require_utc(since))
    return tuple(power_log_entry(row, name) for row, name in session.execute(stmt))


def overload_history(
    session: Session, host: str | None = None, since: datetime | None = None
) -> tuple[OverloadEntry, ...]:
    """Logged overload-state changes, oldest first."""
    stmt = (
        select(OverloadLogRow, HostRow.name)
        .join(HostRow)
        .order_by(OverloadLogRow.ts, OverloadLogRow.id)
    )
    if host is not None:
        stmt = stmt.where(HostRow.name == host)
    if since is not None:
        stmt = stmt.where(OverloadLogRow.ts >= require_utc(since))
    return tuple(overload_entry(row, name) for row, name in session.execute(stmt))
