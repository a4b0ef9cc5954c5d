"""Read models of the fleet: what a planning round, the metrics and the admin read.

Each function reads in the session it is given, so a caller that needs several of
them in one consistent view calls them inside one transaction."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, literal, select, update
from sqlalchemy.orm import Session, selectinload

from fleetwise.core.lifecycle import (
    HostPowerState,
    MigrationOutcome,
    PlanState,
)
from fleetwise.errors import NotFoundError
from fleetwise.ids import check_vm_uuid
from fleetwise.store.coltypes import require_utc
from fleetwise.store.inventory import (
    list_hosts,
    list_vms,
)
from fleetwise.store.lookup import rowcount
from fleetwise.store.migration_log import unfinished_migrations
from fleetwise.store.models import (
    HostRow,
    MigrationRow,
    OverloadLogRow,
    PlanRow,
    ProbeRow,
    RequestRow,
    VmRow,
)
from fleetwise.store.samples import last_host_samples, last_vm_samples
from fleetwise.store.views import (
    CpuSample,
    HostCpuSample,
    HostView,
    MigrationView,
    RequestView,
    VmView,
    request_view,
    vm_view,
)

__all__ = [
    "FleetCounts",
    "FleetData",
    "fleet_counts",
    "get_vm",
    "overload_states_before",
    "pending_requests",
    "ping",
    "probe_write",
    "read_fleet",
    "vm_counts_by_host",
]


def get_vm(session: Session, uuid: str) -> VmView:
    """One VM by UUID."""
    stmt = (
        select(VmRow)
        .where(VmRow.uuid == check_vm_uuid(uuid))
        .options(selectinload(VmRow.host))
        .execution_options(populate_existing=True)
    )
    vm = session.scalars(stmt).one_or_none()
    if vm is None:
        raise NotFoundError(f"unknown VM: {uuid}")
    return vm_view(vm)


def vm_counts_by_host(session: Session) -> dict[str, int]:
    """Host name → number of VMs recorded on it (hosts without VMs are absent)."""
    stmt = (
        select(HostRow.name, func.count(VmRow.id))
        .join(VmRow, VmRow.host_id == HostRow.id)
        .group_by(HostRow.name)
    )
    return {name: count for name, count in session.execute(stmt)}


def pending_requests(session: Session) -> tuple[RequestView, ...]:
    """Reallocation requests not handled yet, oldest first."""
    stmt = (
        select(RequestRow)
        .where(RequestRow.outcome.is_(None))
        .options(selectinload(RequestRow.host))
        .order_by(RequestRow.received_at, RequestRow.id)
    )
    return tuple(request_view(r) for r in session.scalars(stmt))


@dataclass(frozen=True, slots=True)
class FleetData:
    """Everything a planning round reads, from one consistent transaction."""

    hosts: tuple[HostView, ...]
    vms: tuple[VmView, ...]
    vm_samples: Mapping[str, tuple[CpuSample, ...]]
    host_samples: Mapping[str, tuple[HostCpuSample, ...]]
    requests: tuple[RequestView, ...]
    open_plans: int
    migrations: tuple[MigrationView, ...]


def read_fleet(session: Session, samples_per_vm: int = 2) -> FleetData:
    """Hosts, VMs, their latest samples, pending requests, open plans, running migrations."""
    open_count = session.scalar(
        select(func.count(PlanRow.id)).where(
            PlanRow.state.in_([PlanState.RECOMMENDED, PlanState.PENDING, PlanState.ONGOING])
        )
    )
    return FleetData(
        hosts=list_hosts(session),
        vms=list_vms(session),
        vm_samples=last_vm_samples(session, samples_per_vm),
        host_samples=last_host_samples(session, 1),
        requests=pending_requests(session),
        open_plans=int(open_count or 0),
        migrations=unfinished_migrations(session),
    )


@dataclass(frozen=True, slots=True)
class FleetCounts:
    """Totals for the metrics: hosts per power state, VMs, migrations per outcome."""

    hosts_by_state: Mapping[HostPowerState, int]
    vms: int
    migrations_started: int
    migrations_by_outcome: Mapping[MigrationOutcome, int]


def fleet_counts(session: Session) -> FleetCounts:
    """Current totals of hosts, VMs and migrations."""
    by_state = dict.fromkeys(HostPowerState, 0)
    for state, count in session.execute(
        select(HostRow.power_state, func.count(HostRow.id)).group_by(HostRow.power_state)
    ):
        by_state[state] = count
    outcomes = dict.fromkeys(MigrationOutcome, 0)
    for outcome, count in session.execute(
        select(MigrationRow.outcome, func.count(MigrationRow.id))
        .where(MigrationRow.outcome.is_not(None))
        .group_by(MigrationRow.outcome)
    ):
        if outcome is not None:
            outcomes[outcome] = count
    return FleetCounts(
        hosts_by_state=by_state,
        vms=int(
            session.scalar(select(func.count(VmRow.id)).where(VmRow.host_id.is_not(None))) or 0
        ),
        migrations_started=int(session.scalar(select(func.count(MigrationRow.id))) or 0),
        migrations_by_outcome=outcomes,
    )


def overload_states_before(session: Session, ts: datetime) -> dict[str, bool]:
    """Host name → its last logged overload state before ``ts`` (hosts with none absent)."""
    ts = require_utc(ts)
    latest = (
        select(OverloadLogRow.host_id, func.max(OverloadLogRow.id).label("last_id"))
        .where(OverloadLogRow.ts < ts)
        .group_by(OverloadLogRow.host_id)
        .subquery()
    )
    stmt = (
        select(HostRow.name, OverloadLogRow.overloaded)
        .join(latest, latest.c.last_id == OverloadLogRow.id)
        .join(HostRow, HostRow.id == OverloadLogRow.host_id)
    )
    return {name: overloaded for name, overloaded in session.execute(stmt)}


def ping(session: Session) -> None:
    """Do nothing but reach the database (a health check)."""
    session.execute(select(literal(1))).one()


def probe_write(session: Session, *, now: datetime) -> None:
    """Write one row (the health check's proof that the database takes writes)."""
    now = require_utc(now)
    # A statement, not an attribute change: it writes even when the time is the same.
    if rowcount(session, update(ProbeRow).values(checked_at=now)) == 0:
        session.add(ProbeRow(id=1, checked_at=now))
    session.flush()
