"""Attempts of plan actions: starting, succeeding and failing them, and the migrations
they run.

A migration's end and its action's new state are written together; a failed attempt
is retried while attempts remain, and the life cycle decides what else follows (a
failed action fails its plan)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleetwise.core.lifecycle import (
    ActionKind,
    ActionState,
    HostPowerState,
    MigrationOutcome,
    PlanState,
    is_terminal,
)
from fleetwise.errors import ConflictError, NotFoundError
from fleetwise.store.inventory import (
    set_host_power_state,
)
from fleetwise.store.migration_log import (
    finish_migration,
    found_on,
    get_migration,
    start_migration,
)
from fleetwise.store.models import (
    PlanRow,
)
from fleetwise.store.plans import (
    get_action,
    record_failed_attempt,
    transition_action,
)
from fleetwise.store.views import (
    ActionView,
    MigrationView,
)

__all__ = [
    "begin_migration_attempt",
    "begin_power_attempt",
    "fail_attempt",
    "resolve_migration",
    "settle_migration",
    "succeed_action",
]


def _plan_state(session: Session, plan_id: int) -> PlanState:
    state = session.scalar(select(PlanRow.state).where(PlanRow.id == plan_id))
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
    session: Session,
    migration_id: int,
    outcome: MigrationOutcome,
    error: str | None,
    *,
    now: datetime,
) -> ActionView | None:
    """Record how a migration ended and advance its action; returns the action, if any.

    A failure counts as a failed attempt of the action (see :func:`fail_attempt`); an
    UNKNOWN outcome fails the action for good (nobody can tell where the VM is).
    """
    migration = finish_migration(session, migration_id, outcome, now=now, error=error)
    if migration.action_id is None:
        return None
    action = get_action(session, migration.action_id)
    if action.state is not ActionState.ONGOING:
        return action
    if outcome is MigrationOutcome.SUCCEEDED:
        return transition_action(
            session, action.id, ActionState.ONGOING, ActionState.SUCCEEDED, now=now
        )
    final = outcome is MigrationOutcome.UNKNOWN
    return fail_attempt(session, action.id, error or "migration failed", now=now, final=final)


def resolve_migration(
    session: Session, migration_id: int, host: str, *, now: datetime
) -> MigrationView:
    """The admin says where the VM of a stuck or unknown migration is: on ``host``.

    A running migration is settled accordingly (on the destination it succeeded, on
    the source it failed and its action may be retried); one that ended unknown takes
    the outcome; either way the VM is recorded on ``host`` and both hosts leave
    quarantine.
    """
    note = f"resolved by the admin: the VM is on {host}"
    before = get_migration(session, migration_id)
    migration, outcome = found_on(session, migration_id, host, now=now, note=note)
    if before.outcome is None:
        settle_migration(
            session,
            migration_id,
            outcome,
            None if outcome is MigrationOutcome.SUCCEEDED else note,
            now=now,
        )
        migration = get_migration(session, migration_id)
    return migration
