"""Operations the controller needs beyond the basic ones: each is one transaction's work.

They compose the operations of :mod:`.inventory`, :mod:`.samples`, :mod:`.plans`,
:mod:`.migration_log` and :mod:`.reallocation` so that what must change together
(a registration and its VM report, a migration's end and its action's state, a new
plan and the requests it answers) commits or rolls back as one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Table, func, literal, select
from sqlalchemy.orm import Session, selectinload

from fleetwise.core.lifecycle import (
    ActionKind,
    ActionState,
    HostPowerState,
    PlanState,
    is_terminal,
)
from fleetwise.core.round import RequestVerdict
from fleetwise.store.coltypes import require_utc
from fleetwise.store.enums import MigrationOutcome
from fleetwise.store.errors import ConflictError, NotFoundError
from fleetwise.store.inventory import (
    get_host,
    list_hosts,
    list_vms,
    record_heartbeat,
    record_overload_state,
    register_host,
    report_vms,
    set_host_power_state,
)
from fleetwise.store.lookup import chunks, host_by_name, insert_ignoring_duplicates
from fleetwise.store.migration_log import finish_migration, start_migration
from fleetwise.store.models import (
    Action,
    Host,
    HostSample,
    Migration,
    OverloadLog,
    Plan,
    ReallocationRequest,
    Vm,
    VmSample,
)
from fleetwise.store.plans import (
    create_plan,
    get_action,
    record_failed_attempt,
    transition_action,
)
from fleetwise.store.reallocation import set_request_outcome
from fleetwise.store.records import HostSpec, PlanDraft, VmReport, canonical_uuid
from fleetwise.store.samples import last_host_samples, last_vm_samples
from fleetwise.store.views import (
    ActionView,
    CpuSample,
    HostCpuSample,
    HostView,
    MigrationView,
    PlanView,
    ReportOutcome,
    RequestView,
    VmView,
    migration_view,
    request_view,
    vm_view,
)

__all__ = [
    "FleetCounts",
    "FleetData",
    "begin_migration_attempt",
    "begin_power_attempt",
    "commit_round",
    "fail_attempt",
    "fleet_counts",
    "get_vm",
    "ingest_samples",
    "migration_of_action",
    "ongoing_actions",
    "overload_states_before",
    "pending_requests",
    "ping",
    "read_fleet",
    "record_agent_report",
    "register_agent",
    "settle_migration",
    "succeed_action",
    "unfinished_migrations",
    "vm_counts_by_host",
]


def register_agent(
    session: Session, spec: HostSpec, vms: Sequence[VmReport], *, now: datetime
) -> tuple[HostView, ReportOutcome]:
    """Upsert a host, apply its complete VM report and count it as a heartbeat."""
    register_host(session, spec, now=now)
    outcome = report_vms(session, spec.name, vms, now, complete=True)
    record_heartbeat(session, spec.name, now=now)
    return get_host(session, spec.name), outcome


def record_agent_report(
    session: Session,
    host: str,
    *,
    now: datetime,
    vms: Sequence[VmReport] | None = None,
    reported_at: datetime | None = None,
) -> ReportOutcome | None:
    """A heartbeat at ``now``, with the host's complete VM list if it sent one."""
    record_heartbeat(session, host, now=now)
    if vms is None:
        return None
    return report_vms(session, host, vms, reported_at or now, complete=True)


def ingest_samples(
    session: Session,
    host: str,
    *,
    taken_at: datetime,
    host_cpu_mhz: float,
    hypervisor_mhz: float,
    vm_samples: Sequence[tuple[str, float]],
    overloaded: bool | None,
) -> int:
    """Store one collection interval of a host; returns how many VM samples were new.

    Samples of VMs the store does not know yet are dropped (the agent's next report
    creates them); a sample sent twice is stored once.
    """
    taken_at = require_utc(taken_at, "sample time")
    host_row = host_by_name(session, host)
    host_table = HostSample.__table__
    vm_table = VmSample.__table__
    assert isinstance(host_table, Table) and isinstance(vm_table, Table)
    session.execute(
        insert_ignoring_duplicates(session, host_table),
        [
            {
                "host_id": host_row.id,
                "ts": taken_at,
                "host_cpu_mhz": host_cpu_mhz,
                "hypervisor_mhz": hypervisor_mhz,
            }
        ],
    )
    stored = 0
    if vm_samples:
        by_uuid = {canonical_uuid(uuid): mhz for uuid, mhz in vm_samples}
        ids: dict[str, int] = {}
        for part in chunks(sorted(by_uuid)):
            found = session.execute(select(Vm.uuid, Vm.id).where(Vm.uuid.in_(part)))
            ids.update((uuid, vm_id) for uuid, vm_id in found)
        rows = [
            {"vm_id": vm_id, "ts": taken_at, "cpu_mhz": by_uuid[uuid]}
            for uuid, vm_id in ids.items()
        ]
        if rows:
            statement = insert_ignoring_duplicates(session, vm_table).returning(vm_table.c.id)
            stored = len(session.execute(statement, rows).all())
    if overloaded is not None:
        record_overload_state(session, host, taken_at, overloaded)
    return stored


def get_vm(session: Session, uuid: str) -> VmView:
    """One VM by UUID."""
    stmt = (
        select(Vm)
        .where(Vm.uuid == canonical_uuid(uuid))
        .options(selectinload(Vm.host))
        .execution_options(populate_existing=True)
    )
    vm = session.scalars(stmt).one_or_none()
    if vm is None:
        raise NotFoundError(f"unknown VM: {uuid}")
    return vm_view(vm)


def vm_counts_by_host(session: Session) -> dict[str, int]:
    """Host name → number of VMs recorded on it (hosts without VMs are absent)."""
    stmt = select(Host.name, func.count(Vm.id)).join(Vm, Vm.host_id == Host.id).group_by(Host.name)
    return {name: count for name, count in session.execute(stmt)}


def pending_requests(session: Session) -> tuple[RequestView, ...]:
    """Reallocation requests not handled yet, oldest first."""
    stmt = (
        select(ReallocationRequest)
        .where(ReallocationRequest.outcome.is_(None))
        .options(selectinload(ReallocationRequest.host))
        .order_by(ReallocationRequest.received_at, ReallocationRequest.id)
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
        select(func.count(Plan.id)).where(
            Plan.state.in_([PlanState.RECOMMENDED, PlanState.PENDING, PlanState.ONGOING])
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


def commit_round(
    session: Session,
    draft: PlanDraft | None,
    verdicts: Sequence[RequestVerdict],
    *,
    now: datetime,
) -> PlanView | None:
    """Store a round's plan (if any) and the final outcome of each request it handled."""
    plan = create_plan(session, draft, now=now) if draft is not None else None
    for verdict in sorted(verdicts, key=lambda v: v.request_id):
        if verdict.outcome.final:
            set_request_outcome(
                session, verdict.request_id, verdict.outcome, now=now, note=verdict.note
            )
    return plan


def ongoing_actions(session: Session) -> tuple[tuple[ActionView, PlanState], ...]:
    """Every ONGOING action (of any plan, finished or not) with its plan's state."""
    rows = session.execute(
        select(Action.id, Plan.state)
        .join(Plan, Plan.id == Action.plan_id)
        .where(Action.state == ActionState.ONGOING)
        .order_by(Action.plan_id, Action.seq)
    )
    return tuple((get_action(session, action_id), state) for action_id, state in list(rows))


def unfinished_migrations(session: Session) -> tuple[MigrationView, ...]:
    """Migrations without an outcome yet, oldest first."""
    stmt = (
        select(Migration)
        .where(Migration.finished_at.is_(None))
        .options(
            selectinload(Migration.vm),
            selectinload(Migration.source_host),
            selectinload(Migration.destination_host),
        )
        .order_by(Migration.started_at, Migration.id)
    )
    return tuple(migration_view(m) for m in session.scalars(stmt))


def migration_of_action(session: Session, action_id: int) -> MigrationView | None:
    """The unfinished migration of an action, if one is running."""
    stmt = (
        select(Migration)
        .where(Migration.action_id == action_id, Migration.finished_at.is_(None))
        .options(
            selectinload(Migration.vm),
            selectinload(Migration.source_host),
            selectinload(Migration.destination_host),
        )
    )
    migration = session.scalars(stmt).first()
    return None if migration is None else migration_view(migration)


def _plan_state(session: Session, plan_id: int) -> PlanState:
    state = session.scalar(select(Plan.state).where(Plan.id == plan_id))
    if state is None:
        raise NotFoundError(f"unknown plan: {plan_id}")
    return state


def _start(session: Session, action_id: int, *, now: datetime) -> ActionView:
    """The action, moved from PENDING to ONGOING if it was pending."""
    action = get_action(session, action_id)
    if action.state is ActionState.PENDING:
        return transition_action(
            session, action_id, ActionState.PENDING, ActionState.ONGOING, now=now
        )
    if action.state is not ActionState.ONGOING:
        raise ConflictError(f"action {action_id} is {action.state.value}")
    return action


def begin_migration_attempt(session: Session, action_id: int, *, now: datetime) -> MigrationView:
    """Start (or retry) a migration action: it becomes ONGOING with a running migration."""
    action = _start(session, action_id, now=now)
    if action.kind is not ActionKind.MIGRATE:
        raise ConflictError(f"action {action_id} is a {action.kind.value}, not a migration")
    assert action.vm_uuid and action.source_host and action.destination_host
    return start_migration(
        session,
        action.vm_uuid,
        action.source_host,
        action.destination_host,
        now=now,
        action_id=action_id,
    )


def begin_power_attempt(
    session: Session,
    action_id: int,
    expected: HostPowerState,
    target: HostPowerState,
    *,
    now: datetime,
    reason: str,
) -> ActionView:
    """Start (or retry) a wake-up or sleep: the action is ONGOING, the host in transition."""
    action = _start(session, action_id, now=now)
    assert action.host is not None
    set_host_power_state(session, action.host, expected, target, now=now, reason=reason)
    return action


def succeed_action(
    session: Session,
    action_id: int,
    *,
    now: datetime,
    power: tuple[HostPowerState, HostPowerState] | None = None,
    reason: str = "",
    note: str | None = None,
    skip: bool = False,
) -> ActionView:
    """Finish an action well: SUCCEEDED (or SKIPPED from PENDING with ``skip``).

    ``power`` moves the action's host along one power edge in the same transaction.
    """
    action = get_action(session, action_id)
    if power is not None:
        assert action.host is not None
        set_host_power_state(session, action.host, *power, now=now, reason=reason or "done")
    if skip:
        return transition_action(
            session, action_id, ActionState.PENDING, ActionState.SKIPPED, now=now, error=note
        )
    if action.state is ActionState.PENDING:
        transition_action(session, action_id, ActionState.PENDING, ActionState.ONGOING, now=now)
    return transition_action(
        session, action_id, ActionState.ONGOING, ActionState.SUCCEEDED, now=now, error=note
    )


def fail_attempt(
    session: Session,
    action_id: int,
    error: str,
    *,
    now: datetime,
    final: bool = False,
    power: tuple[HostPowerState, HostPowerState] | None = None,
) -> ActionView:
    """Record a failed attempt of an action (starting it first if it was PENDING).

    The action stays ONGOING for a retry while attempts remain, unless ``final`` or
    its plan is already finished; otherwise it FAILS (and the life cycle fails its
    plan and cancels what had not started). ``power`` reverts the host's power state.
    """
    action = _start(session, action_id, now=now)
    if power is not None:
        assert action.host is not None
        set_host_power_state(session, action.host, *power, now=now, reason=error[:255])
    if final or is_terminal(_plan_state(session, action.plan_id)):
        return transition_action(
            session, action_id, ActionState.ONGOING, ActionState.FAILED, now=now, error=error
        )
    return record_failed_attempt(session, action_id, action.attempts, error, now=now)


def settle_migration(
    session: Session, migration_id: int, succeeded: bool, error: str | None, *, now: datetime
) -> ActionView | None:
    """Record how a migration ended and advance its action; returns the action, if any.

    A failure counts as a failed attempt of the action (see :func:`fail_attempt`).
    """
    migration = finish_migration(session, migration_id, succeeded, now=now, error=error)
    if migration.action_id is None:
        return None
    action = get_action(session, migration.action_id)
    if action.state is not ActionState.ONGOING:
        return action
    if succeeded:
        return transition_action(
            session, action.id, ActionState.ONGOING, ActionState.SUCCEEDED, now=now
        )
    return fail_attempt(session, action.id, error or "migration failed", now=now)


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
        select(Host.power_state, func.count(Host.id)).group_by(Host.power_state)
    ):
        by_state[state] = count
    outcomes = dict.fromkeys(MigrationOutcome, 0)
    for outcome, count in session.execute(
        select(Migration.outcome, func.count(Migration.id))
        .where(Migration.outcome.is_not(None))
        .group_by(Migration.outcome)
    ):
        if outcome is not None:
            outcomes[outcome] = count
    return FleetCounts(
        hosts_by_state=by_state,
        vms=int(session.scalar(select(func.count(Vm.id)).where(Vm.host_id.is_not(None))) or 0),
        migrations_started=int(session.scalar(select(func.count(Migration.id))) or 0),
        migrations_by_outcome=outcomes,
    )


def overload_states_before(session: Session, ts: datetime) -> dict[str, bool]:
    """Host name → its last logged overload state before ``ts`` (hosts with none absent)."""
    ts = require_utc(ts)
    latest = (
        select(OverloadLog.host_id, func.max(OverloadLog.id).label("last_id"))
        .where(OverloadLog.ts < ts)
        .group_by(OverloadLog.host_id)
        .subquery()
    )
    stmt = (
        select(Host.name, OverloadLog.overloaded)
        .join(latest, latest.c.last_id == OverloadLog.id)
        .join(Host, Host.id == OverloadLog.host_id)
    )
    return {name: overloaded for name, overloaded in session.execute(stmt)}


def ping(session: Session) -> None:
    """Do nothing but reach the database (a health check)."""
    session.execute(select(literal(1))).one()
