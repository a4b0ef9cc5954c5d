"""Live migrations: their start and end, and the VM's move on success.

A successful migration moves the VM to its destination in the same transaction
that records the outcome, unless the store already holds a newer observation of
the VM (then that observation stands). At most one migration per VM is unfinished;
the database enforces it with a partial unique index.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from fleetwise.core.lifecycle import HostPowerState, MigrationOutcome
from fleetwise.errors import ConflictError, NotFoundError, ParameterError
from fleetwise.store.coltypes import require_utc
from fleetwise.store.lookup import host_by_name, vm_by_uuid
from fleetwise.store.models import ActionRow, HostRow, MigrationRow, VmRow
from fleetwise.store.views import MigrationView, migration_view

__all__ = [
    "finish_migration",
    "found_on",
    "get_migration",
    "list_migrations",
    "migration_of_action",
    "start_migration",
    "unfinished_migrations",
]

_MAX_ERROR = 4000


def _load(session: Session, migration_id: int, *, lock: bool = False) -> MigrationRow:
    stmt = (
        select(MigrationRow)
        .where(MigrationRow.id == migration_id)
        .options(
            selectinload(MigrationRow.vm),
            selectinload(MigrationRow.source_host),
            selectinload(MigrationRow.destination_host),
        )
        .execution_options(populate_existing=True)
    )
    migration = session.scalars(stmt.with_for_update(of=MigrationRow) if lock else stmt).first()
    if migration is None:
        raise NotFoundError(f"unknown migration: {migration_id}")
    return migration


def start_migration(
    session: Session,
    vm_uuid: str,
    source: str,
    destination: str,
    *,
    now: datetime,
    action_id: int | None = None,
) -> MigrationView:
    """Record that ``vm_uuid`` starts moving from ``source`` to ``destination``.

    The VM must be on ``source`` and have no unfinished migration; the destination
    must be awake and not in maintenance.
    """
    now = require_utc(now)
    if source == destination:
        raise ParameterError(f"migration of {vm_uuid} from {source} to itself")
    vm = vm_by_uuid(session, vm_uuid, lock=True)
    src = host_by_name(session, source)
    dst = host_by_name(session, destination)
    if vm.host_id != src.id:
        raise ConflictError(f"VM {vm_uuid} is not on {source}")
    if dst.power_state is not HostPowerState.ACTIVE or dst.maintenance:
        state = "in maintenance" if dst.maintenance else dst.power_state.value
        raise ConflictError(f"destination {destination} is {state}")
    if action_id is not None and session.get(ActionRow, action_id) is None:
        raise NotFoundError(f"unknown action: {action_id}")
    running = session.scalar(
        select(MigrationRow.id).where(
            MigrationRow.vm_id == vm.id, MigrationRow.finished_at.is_(None)
        )
    )
    if running is not None:
        raise ConflictError(f"VM {vm_uuid} is already migrating (migration {running})")
    migration = MigrationRow(
        vm_id=vm.id,
        source_host_id=src.id,
        destination_host_id=dst.id,
        action_id=action_id,
        started_at=now,
    )
    session.add(migration)
    session.flush()
    return migration_view(_load(session, migration.id))


def finish_migration(
    session: Session,
    migration_id: int,
    outcome: MigrationOutcome,
    *,
    now: datetime,
    error: str | None = None,
) -> MigrationView:
    """Record how a migration ended; when it SUCCEEDED the VM is now on the destination
    (otherwise it stays where the store last saw it)."""
    now = require_utc(now)
    migration = _load(session, migration_id, lock=True)
    if migration.finished_at is not None:
        raise ConflictError(f"migration {migration_id} already finished")
    if now < migration.started_at:
        raise ParameterError(f"migration {migration_id} cannot finish before it started")
    migration.finished_at = now
    migration.outcome = outcome
    migration.error = None if error is None else error[:_MAX_ERROR]
    if outcome is MigrationOutcome.SUCCEEDED:
        _locate(session, migration.vm_id, migration.destination_host_id, now)
    session.flush()
    return migration_view(migration)


def _locate(session: Session, vm_id: int, host_id: int, now: datetime) -> None:
    """Put the VM on ``host_id`` unless a newer observation placed it already."""
    vm = session.scalars(select(VmRow).where(VmRow.id == vm_id).with_for_update()).one()
    newest = vm.reported_at if vm.located_at is None else max(vm.reported_at, vm.located_at)
    if newest <= now:
        vm.host_id = host_id
        vm.located_at = now


def get_migration(session: Session, migration_id: int) -> MigrationView:
    """One migration attempt."""
    return migration_view(_load(session, migration_id))


def found_on(
    session: Session, migration_id: int, host: str, *, now: datetime, note: str
) -> tuple[MigrationView, MigrationOutcome]:
    """Someone who looked says the VM of a migration is on ``host``, one of its two ends:
    the VM is placed there and both hosts leave quarantine. Returns the migration and
    the outcome this means (SUCCEEDED on the destination, FAILED on the source). A
    migration that ended unknown takes that outcome; a running one is left for the
    caller to settle."""
    now = require_utc(now)
    migration = _load(session, migration_id, lock=True)
    if migration.outcome not in (None, MigrationOutcome.UNKNOWN):
        raise ConflictError(f"migration {migration_id} already {migration.outcome.value}")
    row = host_by_name(session, host)
    if row.id not in (migration.source_host_id, migration.destination_host_id):
        raise ConflictError(
            f"host {host} is neither the source nor the destination of migration {migration_id}"
        )
    outcome = (
        MigrationOutcome.SUCCEEDED
        if row.id == migration.destination_host_id
        else MigrationOutcome.FAILED
    )
    if migration.outcome is MigrationOutcome.UNKNOWN:
        migration.outcome = outcome
        migration.error = note[:_MAX_ERROR]
    _locate(session, migration.vm_id, row.id, now)
    for host_id in (migration.source_host_id, migration.destination_host_id):
        end = session.get(HostRow, host_id)
        if end is not None:
            end.quarantined_at = None
            end.quarantine_reason = None
    session.flush()
    return migration_view(migration), outcome


def list_migrations(
    session: Session,
    *,
    vm_uuid: str | None = None,
    since: datetime | None = None,
    limit: int = 1000,
) -> tuple[MigrationView, ...]:
    """Migrations (of one VM, or started since a time), oldest first."""
    if limit < 1:
        raise ParameterError(f"limit must be positive, got {limit}")
    stmt = (
        select(MigrationRow)
        .options(
            selectinload(MigrationRow.vm),
            selectinload(MigrationRow.source_host),
            selectinload(MigrationRow.destination_host),
        )
        .order_by(MigrationRow.started_at, MigrationRow.id)
        .limit(limit)
    )
    if vm_uuid is not None:
        stmt = stmt.where(MigrationRow.vm_id == vm_by_uuid(session, vm_uuid).id)
    if since is not None:
        stmt = stmt.where(MigrationRow.started_at >= require_utc(since))
    return tuple(migration_view(m) for m in session.scalars(stmt))


def unfinished_migrations(session: Session) -> tuple[MigrationView, ...]:
    """Migrations without an outcome yet, oldest first."""
    stmt = (
        select(MigrationRow)
        .where(MigrationRow.finished_at.is_(None))
        .options(
            selectinload(MigrationRow.vm),
            selectinload(MigrationRow.source_host),
            selectinload(MigrationRow.destination_host),
        )
        .order_by(MigrationRow.started_at, MigrationRow.id)
    )
    return tuple(migration_view(m) for m in session.scalars(stmt))


def migration_of_action(session: Session, action_id: int) -> MigrationView | None:
    """The unfinished migration of an action, if one is running."""
    stmt = (
        select(MigrationRow)
        .where(MigrationRow.action_id == action_id, MigrationRow.finished_at.is_(None))
        .options(
            selectinload(MigrationRow.vm),
            selectinload(MigrationRow.source_host),
            selectinload(MigrationRow.destination_host),
        )
    )
    migration = session.scalars(stmt).first()
    return None if migration is None else migration_view(migration)
