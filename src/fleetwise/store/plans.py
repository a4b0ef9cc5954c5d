"""Action plans and their actions: creation, state transitions, queries.

Every state change is computed by :func:`fleetwise.core.lifecycle.advance` first (an
illegal one raises before the database is touched) and then written with an
optimistic check, ``UPDATE … WHERE state = expected``: if another writer got there
first, no row matches and :class:`ConflictError` is raised. Plans that are not
terminal are plain rows, so a restarted controller finds them with
:func:`open_plans`.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session, selectinload

from fleetwise.core.lifecycle import (
    ActionKind,
    ActionState,
    PlanState,
    advance,
    after_failed_attempt,
    initial_plan_state,
    is_terminal,
    plan_outcome,
)
from fleetwise.errors import ParameterError
from fleetwise.store.coltypes import require_utc
from fleetwise.store.errors import ConflictError, NotFoundError
from fleetwise.store.lookup import host_ids, rowcount, vm_by_uuid
from fleetwise.store.models import Action, Plan, ReallocationRequest
from fleetwise.store.records import PlanDraft
from fleetwise.store.views import ActionView, PlanView, action_view, plan_view

__all__ = [
    "OPEN_PLAN_STATES",
    "complete_plan_if_done",
    "create_plan",
    "get_action",
    "get_plan",
    "list_plans",
    "open_plans",
    "record_failed_attempt",
    "supersede_expired_plans",
    "transition_action",
    "transition_plan",
]

OPEN_PLAN_STATES = tuple(s for s in PlanState if not is_terminal(s))
_CLOSING_PLAN_STATES = frozenset({PlanState.FAILED, PlanState.CANCELLED, PlanState.SUPERSEDED})
_MAX_ERROR = 4000


def _with_actions(stmt: Select[Plan]) -> Select[Plan]:
    return stmt.options(
        selectinload(Plan.source_host),
        selectinload(Plan.actions).options(
            selectinload(Action.vm),
            selectinload(Action.source_host),
            selectinload(Action.destination_host),
            selectinload(Action.host),
        ),
    )


def _load_plan(session: Session, plan_id: int) -> Plan:
    stmt = _with_actions(select(Plan).where(Plan.id == plan_id)).execution_options(
        populate_existing=True
    )
    plan = session.scalars(stmt).one_or_none()
    if plan is None:
        raise NotFoundError(f"unknown plan: {plan_id}")
    return plan


def _load_action(session: Session, action_id: int) -> Action:
    stmt = (
        select(Action)
        .where(Action.id == action_id)
        .options(
            selectinload(Action.vm),
            selectinload(Action.source_host),
            selectinload(Action.destination_host),
            selectinload(Action.host),
        )
        .execution_options(populate_existing=True)
    )
    action = session.scalars(stmt).one_or_none()
    if action is None:
        raise NotFoundError(f"unknown action: {action_id}")
    return action


def create_plan(session: Session, draft: PlanDraft, *, now: datetime) -> PlanView:
    """Store a new plan with its actions (all PENDING), in recommend or automatic mode.

    Migrations must start where their VM is: on its current host for the VM's first
    migration in the plan and on the previous destination for the next ones; a plan
    computed from an outdated view of the cluster raises ConflictError.
    """
    now = require_utc(now)
    if draft.expires_at is not None and draft.expires_at <= now:
        raise ParameterError("the plan would expire before it is created")
    names = {draft.source_host} if draft.source_host else set()
    for a in draft.actions:
        names.update(n for n in (a.source_host, a.destination_host, a.host) if n is not None)
    hosts = host_ids(session, names)
    if draft.request_id is not None and session.get(ReallocationRequest, draft.request_id) is None:
        raise NotFoundError(f"unknown reallocation request: {draft.request_id}")
    plan = Plan(
        state=initial_plan_state(draft.mode),
        mode=draft.mode,
        reason=draft.reason,
        source_host_id=hosts[draft.source_host] if draft.source_host else None,
        request_id=draft.request_id,
        created_at=now,
        updated_at=now,
        expires_at=draft.expires_at,
    )
    where: dict[str, int | None] = {}
    for seq, a in enumerate(draft.actions):
        vm_id = None
        if a.kind is ActionKind.MIGRATE:
            assert a.vm_uuid is not None and a.source_host and a.destination_host
            vm = vm_by_uuid(session, a.vm_uuid)
            vm_id = vm.id
            at = where.get(a.vm_uuid, vm.host_id)
            if at != hosts[a.source_host]:
                raise ConflictError(
                    f"VM {a.vm_uuid} is not on {a.source_host} at action {seq}; "
                    "the plan was computed from outdated state"
                )
            where[a.vm_uuid] = hosts[a.destination_host]
        plan.actions.append(
            Action(
                seq=seq,
                wave=a.wave,
                kind=a.kind,
                vm_id=vm_id,
                source_host_id=hosts[a.source_host] if a.source_host else None,
                destination_host_id=hosts[a.destination_host] if a.destination_host else None,
                host_id=hosts[a.host] if a.host else None,
                state=ActionState.PENDING,
                attempts=0,
                max_attempts=a.max_attempts,
                updated_at=now,
            )
        )
    session.add(plan)
    session.flush()
    return plan_view(_load_plan(session, plan.id))


def get_plan(session: Session, plan_id: int) -> PlanView:
    """The plan with its actions."""
    return plan_view(_load_plan(session, plan_id))


def get_action(session: Session, action_id: int) -> ActionView:
    """One action."""
    return action_view(_load_action(session, action_id))


def list_plans(
    session: Session, states: Collection[PlanState] | None = None, limit: int = 100
) -> tuple[PlanView, ...]:
    """Plans (optionally only in ``states``), newest first."""
    if limit < 1:
        raise ParameterError(f"limit must be positive, got {limit}")
    stmt = select(Plan).order_by(Plan.id.desc()).limit(limit)
    if states is not None:
        stmt = stmt.where(Plan.state.in_(list(states)))
    return tuple(plan_view(p) for p in session.scalars(_with_actions(stmt)))


def open_plans(session: Session) -> tuple[PlanView, ...]:
    """Every plan that is not terminal, oldest first: the work to resume after a restart."""
    stmt = select(Plan).where(Plan.state.in_(OPEN_PLAN_STATES)).order_by(Plan.id)
    return tuple(plan_view(p) for p in session.scalars(_with_actions(stmt)))


def _error_text(error: str | None) -> str | None:
    return None if error is None else error[:_MAX_ERROR]


def transition_plan(
    session: Session,
    plan_id: int,
    expected: PlanState,
    target: PlanState,
    *,
    now: datetime,
    message: str | None = None,
) -> PlanView:
    """Move a plan from ``expected`` to ``target``.

    A plan may only succeed once every action is finished and none failed or was
    cancelled. When a plan fails, is cancelled or superseded, its actions that have
    not started are cancelled with it; running ones are left to finish.
    """
    now = require_utc(now)
    advance(expected, target)
    if target is PlanState.SUCCEEDED:
        states = session.scalars(select(Action.state).where(Action.plan_id == plan_id)).all()
        if plan_outcome(states) is not PlanState.SUCCEEDED:
            raise ConflictError(f"plan {plan_id} cannot succeed: its actions are {list(states)}")
    values: dict[str, object] = {"state": target, "updated_at": now}
    if message is not None:
        values["message"] = _error_text(message)
    changed = rowcount(
        session,
        update(Plan).where(Plan.id == plan_id, Plan.state == expected).values(**values),
    )
    if changed != 1:
        _raise_plan_conflict(session, plan_id, expected)
    if target in _CLOSING_PLAN_STATES:
        session.execute(
            update(Action)
            .where(Action.plan_id == plan_id, Action.state == ActionState.PENDING)
            .values(state=ActionState.CANCELLED, finished_at=now, updated_at=now)
        )
    return plan_view(_load_plan(session, plan_id))


def _raise_plan_conflict(session: Session, plan_id: int, expected: PlanState) -> None:
    current = session.scalar(select(Plan.state).where(Plan.id == plan_id))
    if current is None:
        raise NotFoundError(f"unknown plan: {plan_id}")
    raise ConflictError(f"plan {plan_id} is {current.value}, not {expected.value}")


def transition_action(
    session: Session,
    action_id: int,
    expected: ActionState,
    target: ActionState,
    *,
    now: datetime,
    error: str | None = None,
) -> ActionView:
    """Move an action from ``expected`` to ``target``.

    Starting an action (ONGOING) counts its first attempt and needs its plan to be
    ONGOING; skipping or cancelling needs the plan not to be finished. Finishing
    sets ``finished_at``; ``error`` is kept as ``last_error``.
    """
    now = require_utc(now)
    advance(expected, target)
    plan_state = session.scalar(
        select(Plan.state).join(Action, Action.plan_id == Plan.id).where(Action.id == action_id)
    )
    if plan_state is None:
        raise NotFoundError(f"unknown action: {action_id}")
    if target is ActionState.ONGOING and plan_state is not PlanState.ONGOING:
        raise ConflictError(f"action {action_id} cannot start: its plan is {plan_state.value}")
    if target in (ActionState.SKIPPED, ActionState.CANCELLED) and is_terminal(plan_state):
        raise ConflictError(f"action {action_id} belongs to a {plan_state.value} plan")
    values: dict[str, object] = {"state": target, "updated_at": now}
    if target is ActionState.ONGOING:
        values.update(started_at=now, attempts=Action.attempts + 1)
    if is_terminal(target):
        values["finished_at"] = now
    if error is not None:
        values["last_error"] = _error_text(error)
    changed = rowcount(
        session,
        update(Action).where(Action.id == action_id, Action.state == expected).values(**values),
    )
    if changed != 1:
        current = session.scalar(select(Action.state).where(Action.id == action_id))
        raise ConflictError(
            f"action {action_id} is {current.value if current else 'gone'}, not {expected.value}"
        )
    return action_view(_load_action(session, action_id))


def record_failed_attempt(
    session: Session, action_id: int, attempts: int, error: str, *, now: datetime
) -> ActionView:
    """Record that attempt number ``attempts`` of an ONGOING action failed.

    While attempts remain the action stays ONGOING and the next attempt is counted
    (the caller retries it); after the last one it is FAILED. ``attempts`` is the
    count the caller saw, checked optimistically like a state.
    """
    now = require_utc(now)
    action = _load_action(session, action_id)
    if action.state is not ActionState.ONGOING or action.attempts != attempts:
        raise ConflictError(
            f"action {action_id} is {action.state.value} after {action.attempts} attempts, "
            f"not ongoing after {attempts}"
        )
    target = after_failed_attempt(attempts, action.max_attempts)
    values: dict[str, object] = {"last_error": _error_text(error), "updated_at": now}
    if target is ActionState.ONGOING:
        values["attempts"] = attempts + 1
    else:
        values.update(state=advance(action.state, target), finished_at=now)
    changed = rowcount(
        session,
        update(Action)
        .where(
            Action.id == action_id,
            Action.state == ActionState.ONGOING,
            Action.attempts == attempts,
        )
        .values(**values),
    )
    if changed != 1:
        raise ConflictError(f"action {action_id} changed while recording its failure")
    return action_view(_load_action(session, action_id))


def complete_plan_if_done(session: Session, plan_id: int, *, now: datetime) -> PlanView:
    """Finish an ONGOING plan whose actions are all finished (see ``plan_outcome``).

    A plan that is not ONGOING, or still has unfinished actions, is returned as is.
    """
    plan = _load_plan(session, plan_id)
    if plan.state is not PlanState.ONGOING:
        return plan_view(plan)
    outcome = plan_outcome(a.state for a in plan.actions)
    if outcome is None:
        return plan_view(plan)
    return transition_plan(session, plan_id, PlanState.ONGOING, outcome, now=now)


def supersede_expired_plans(session: Session, *, now: datetime) -> tuple[int, ...]:
    """Supersede plans that expired before they started; returns their ids."""
    now = require_utc(now)
    expired = session.execute(
        select(Plan.id, Plan.state)
        .where(
            Plan.state.in_([PlanState.RECOMMENDED, PlanState.PENDING]),
            Plan.expires_at.is_not(None),
            Plan.expires_at <= now,
        )
        .order_by(Plan.id)
    )
    done: list[int] = []
    for plan_id, state in list(expired):
        transition_plan(session, plan_id, state, PlanState.SUPERSEDED, now=now, message="expired")
        done.append(plan_id)
    return tuple(done)
