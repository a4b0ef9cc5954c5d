"""Action plans and their actions: creation, state transitions, queries.

Every state change is computed by the life cycle first
(:func:`fleetwise.core.lifecycle.move_plan` and :func:`~fleetwise.core.lifecycle.move_action`
return the plan's new status with every consequence; an illegal change raises before
the database is touched). The store writes the difference row by row with an
optimistic check, ``UPDATE … WHERE state = expected``: if another writer got there
first, no row matches and :class:`ConflictError` is raised. Plans that are not
terminal are plain rows, so a restarted controller finds them with
:func:`open_plans`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session, selectinload

from fleetwise.core.lifecycle import (
    ActionKind,
    ActionState,
    IllegalTransition,
    PlanState,
    PlanStatus,
    advance,
    after_failed_attempt,
    initial_plan_state,
    is_terminal,
    move_action,
    move_plan,
)
from fleetwise.core.round import RequestVerdict
from fleetwise.errors import ConflictError, NotFoundError, ParameterError
from fleetwise.store.coltypes import require_utc
from fleetwise.store.lookup import host_ids, rowcount, vm_by_uuid
from fleetwise.store.models import ActionRow, PlanRow, RequestRow
from fleetwise.store.reallocation import set_request_outcome
from fleetwise.store.records import PlanDraft
from fleetwise.store.views import ActionView, PlanView, action_view, plan_view

__all__ = [
    "create_plan",
    "get_action",
    "get_plan",
    "list_plans",
    "ongoing_actions",
    "open_plans",
    "record_failed_attempt",
    "record_round",
    "supersede_expired_plans",
    "transition_action",
    "transition_plan",
]

OPEN_PLAN_STATES = tuple(s for s in PlanState if not is_terminal(s))
_MAX_ERROR = 4000


def _with_actions(stmt: Select[PlanRow]) -> Select[PlanRow]:
    return stmt.options(
        selectinload(PlanRow.source_host),
        selectinload(PlanRow.actions).options(
            selectinload(ActionRow.vm),
            selectinload(ActionRow.source_host),
            selectinload(ActionRow.destination_host),
            selectinload(ActionRow.host),
        ),
    )


def _load_plan(session: Session, plan_id: int) -> PlanRow:
    stmt = _with_actions(select(PlanRow).where(PlanRow.id == plan_id)).execution_options(
        populate_existing=True
    )
    plan = session.scalars(stmt).one_or_none()
    if plan is None:
        raise NotFoundError(f"unknown plan: {plan_id}")
    return plan


def _load_action(session: Session, action_id: int) -> ActionRow:
    stmt = (
        select(ActionRow)
        .where(ActionRow.id == action_id)
        .options(
            selectinload(ActionRow.vm),
            selectinload(ActionRow.source_host),
            selectinload(ActionRow.destination_host),
            selectinload(ActionRow.host),
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
    if draft.request_id is not None and session.get(RequestRow, draft.request_id) is None:
        raise NotFoundError(f"unknown reallocation request: {draft.request_id}")
    plan = PlanRow(
        state=initial_plan_state(draft.mode),
        mode=draft.mode,
        reason=draft.reason,
        drained=list(draft.drained) or None,
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
            ActionRow(
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
    stmt = select(PlanRow).order_by(PlanRow.id.desc()).limit(limit)
    if states is not None:
        stmt = stmt.where(PlanRow.state.in_(list(states)))
    return tuple(plan_view(p) for p in session.scalars(_with_actions(stmt)))


def open_plans(session: Session) -> tuple[PlanView, ...]:
    """Every plan that is not terminal, oldest first: the work to resume after a restart."""
    stmt = select(PlanRow).where(PlanRow.state.in_(OPEN_PLAN_STATES)).order_by(PlanRow.id)
    return tuple(plan_view(p) for p in session.scalars(_with_actions(stmt)))


def _error_text(error: str | None) -> str | None:
    return None if error is None else error[:_MAX_ERROR]


def _status(session: Session, plan_id: int) -> PlanStatus:
    state = session.scalar(select(PlanRow.state).where(PlanRow.id == plan_id))
    if state is None:
        raise NotFoundError(f"unknown plan: {plan_id}")
    rows = session.execute(
        select(ActionRow.id, ActionRow.state).where(ActionRow.plan_id == plan_id)
    )
    return PlanStatus(state, {action_id: action_state for action_id, action_state in rows})


def _write(
    session: Session,
    plan_id: int,
    before: PlanStatus,
    after: PlanStatus,
    *,
    now: datetime,
    message: str | None = None,
    changed: Mapping[int, Mapping[str, object]] | None = None,
) -> None:
    """Write the difference between ``before`` and ``after``, each row only if it still
    holds its ``before`` state (compare-and-set); ``changed`` adds columns per action."""
    extra = changed or {}
    # The plan's row is always checked, so a change made meanwhile by another writer
    # (a cancelled plan, say) makes this one fail instead of building on it.
    values: dict[str, object] = {"state": after.state, "updated_at": now}
    if message is not None:
        values["message"] = _error_text(message)
    stmt = update(PlanRow).where(PlanRow.id == plan_id, PlanRow.state == before.state)
    if rowcount(session, stmt.values(**values)) != 1:
        _raise_plan_conflict(session, plan_id, before.state)
    for action_id, target in after.actions.items():
        current = before.actions[action_id]
        if target is current and action_id not in extra:
            continue
        values = {"state": target, "updated_at": now, **extra.get(action_id, {})}
        if target is not current and is_terminal(target):
            values["finished_at"] = now
        stmt = update(ActionRow).where(ActionRow.id == action_id, ActionRow.state == current)
        if rowcount(session, stmt.values(**values)) != 1:
            found = session.scalar(select(ActionRow.state).where(ActionRow.id == action_id))
            raise ConflictError(
                f"action {action_id} is {found.value if found else 'gone'}, not {current.value}"
            )


def transition_plan(
    session: Session,
    plan_id: int,
    expected: PlanState,
    target: PlanState,
    *,
    now: datetime,
    message: str | None = None,
) -> PlanView:
    """Move a plan from ``expected`` to ``target`` with the consequences the life cycle
    gives (see :func:`fleetwise.core.lifecycle.settle`)."""
    now = require_utc(now)
    advance(expected, target)
    before = _status(session, plan_id)
    if before.state is not expected:
        raise ConflictError(f"plan {plan_id} is {before.state.value}, not {expected.value}")
    try:
        after = move_plan(before, target)
    except IllegalTransition as exc:
        raise ConflictError(f"plan {plan_id}: {exc}") from None
    _write(session, plan_id, before, after, now=now, message=message)
    return plan_view(_load_plan(session, plan_id))


def _raise_plan_conflict(session: Session, plan_id: int, expected: PlanState) -> None:
    current = session.scalar(select(PlanRow.state).where(PlanRow.id == plan_id))
    if current is None:
        raise NotFoundError(f"unknown plan: {plan_id}")
    raise ConflictError(f"plan {plan_id} is {current.value}, not {expected.value}")


def _plan_of(session: Session, action_id: int) -> int:
    plan_id = session.scalar(select(ActionRow.plan_id).where(ActionRow.id == action_id))
    if plan_id is None:
        raise NotFoundError(f"unknown action: {action_id}")
    return plan_id


def transition_action(
    session: Session,
    action_id: int,
    expected: ActionState,
    target: ActionState,
    *,
    now: datetime,
    error: str | None = None,
) -> ActionView:
    """Move an action from ``expected`` to ``target``, with what follows for its plan.

    Starting an action (ONGOING) counts its first attempt; ``error`` is kept as
    ``last_error``. The life cycle decides what else changes (a failed action fails
    its plan, the last finished action ends it).
    """
    now = require_utc(now)
    advance(expected, target)
    plan_id = _plan_of(session, action_id)
    before = _status(session, plan_id)
    if before.actions[action_id] is not expected:
        current = before.actions[action_id]
        raise ConflictError(f"action {action_id} is {current.value}, not {expected.value}")
    try:
        after = move_action(before, action_id, target)
    except IllegalTransition as exc:
        raise ConflictError(f"action {action_id}: {exc}") from None
    columns: dict[str, object] = {}
    if target is ActionState.ONGOING:
        columns.update(started_at=now, attempts=ActionRow.attempts + 1)
    if error is not None:
        columns["last_error"] = _error_text(error)
    message = f"action {action_id} failed: {error}" if target is ActionState.FAILED else None
    _write(
        session,
        plan_id,
        before,
        after,
        now=now,
        message=message if after.state is not before.state else None,
        changed={action_id: columns},
    )
    return action_view(_load_action(session, action_id))


def record_failed_attempt(
    session: Session, action_id: int, attempts: int, error: str, *, now: datetime
) -> ActionView:
    """Record that attempt number ``attempts`` of an ONGOING action failed.

    While attempts remain the action stays ONGOING and the next attempt is counted
    (the caller retries it); after the last one it is FAILED, and so is its plan.
    ``attempts`` is the count the caller saw, checked optimistically like a state.
    """
    now = require_utc(now)
    action = _load_action(session, action_id)
    if action.state is not ActionState.ONGOING or action.attempts != attempts:
        raise ConflictError(
            f"action {action_id} is {action.state.value} after {action.attempts} attempts, "
            f"not ongoing after {attempts}"
        )
    if after_failed_attempt(attempts, action.max_attempts) is ActionState.FAILED:
        return transition_action(
            session, action_id, ActionState.ONGOING, ActionState.FAILED, now=now, error=error
        )
    changed = rowcount(
        session,
        update(ActionRow)
        .where(
            ActionRow.id == action_id,
            ActionRow.state == ActionState.ONGOING,
            ActionRow.attempts == attempts,
        )
        .values(last_error=_error_text(error), updated_at=now, attempts=attempts + 1),
    )
    if changed != 1:
        raise ConflictError(f"action {action_id} changed while recording its failure")
    return action_view(_load_action(session, action_id))


def supersede_expired_plans(session: Session, *, now: datetime) -> tuple[int, ...]:
    """Supersede plans that expired before they started; returns their ids."""
    now = require_utc(now)
    expired = session.execute(
        select(PlanRow.id, PlanRow.state)
        .where(
            PlanRow.state.in_([PlanState.RECOMMENDED, PlanState.PENDING]),
            PlanRow.expires_at.is_not(None),
            PlanRow.expires_at <= now,
        )
        .order_by(PlanRow.id)
    )
    done: list[int] = []
    for plan_id, state in list(expired):
        transition_plan(session, plan_id, state, PlanState.SUPERSEDED, now=now, message="expired")
        done.append(plan_id)
    return tuple(done)


def record_round(
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
        select(ActionRow.id, PlanRow.state)
        .join(PlanRow, PlanRow.id == ActionRow.plan_id)
        .where(ActionRow.state == ActionState.ONGOING)
        .order_by(ActionRow.plan_id, ActionRow.seq)
    )
    return tuple((get_action(session, action_id), state) for action_id, state in list(rows))
