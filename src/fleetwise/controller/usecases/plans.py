"""Plans as the admin sees and steers them: list, show, approve, cancel; skip actions."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from fleetwise.api import schemas
from fleetwise.controller.context import ControllerContext
from fleetwise.controller.usecases.shapes import action_out, plan_out
from fleetwise.core.lifecycle import ActionState, PlanState
from fleetwise.errors import ConflictError
from fleetwise.store.plans import (
    get_action,
    get_plan,
    list_plans,
    supersede_expired_plans,
    transition_action,
    transition_plan,
)
from fleetwise.store.views import ActionView

__all__ = ["approve", "cancel", "plan", "plans", "skip_action"]

logger = logging.getLogger(__name__)


def plans(
    ctx: ControllerContext, states: Sequence[PlanState] | None, limit: int
) -> list[schemas.PlanOut]:
    """Plans, newest first (optionally only in some states)."""
    return [plan_out(p) for p in ctx.store.read(list_plans, states, limit)]


def plan(ctx: ControllerContext, plan_id: int) -> schemas.PlanOut:
    """One plan with its actions."""
    return plan_out(ctx.store.read(get_plan, plan_id))


def _approve(session: Session, plan_id: int, now: datetime) -> schemas.PlanOut:
    current = get_plan(session, plan_id).state
    if current is not PlanState.RECOMMENDED:
        raise ConflictError(
            f"plan {plan_id} is {current.value}; only recommended plans can be approved"
        )
    return plan_out(
        transition_plan(session, plan_id, PlanState.RECOMMENDED, PlanState.PENDING, now=now)
    )


def approve(ctx: ControllerContext, plan_id: int) -> schemas.PlanOut:
    """Approve a recommended plan (one that has not expired): it starts at the executor's
    next pass."""
    now = ctx.now()
    # Expiry is recorded even when the approval is then refused.
    ctx.store.run(supersede_expired_plans, now=now)
    approved = ctx.store.run(_approve, plan_id, now)
    logger.info("plan %s approved", plan_id)
    return approved


def _cancel(session: Session, plan_id: int, now: datetime) -> schemas.PlanOut:
    current = get_plan(session, plan_id)
    cancelled = transition_plan(
        session,
        plan_id,
        current.state,
        PlanState.CANCELLED,
        now=now,
        message="cancelled by the admin",
    )
    return plan_out(cancelled)


def cancel(ctx: ControllerContext, plan_id: int) -> schemas.PlanOut:
    """Cancel a plan: actions not started are cancelled, running ones finish."""
    cancelled = ctx.store.run(_cancel, plan_id, ctx.now())
    logger.info("plan %s cancelled by the admin", plan_id)
    return cancelled


def _skip(session: Session, action_id: int, now: datetime) -> ActionView:
    current = get_action(session, action_id).state
    if current is not ActionState.PENDING:
        raise ConflictError(f"action {action_id} is {current.value}; only pending ones skip")
    return transition_action(
        session,
        action_id,
        ActionState.PENDING,
        ActionState.SKIPPED,
        now=now,
        error="skipped by the admin",
    )


def skip_action(ctx: ControllerContext, action_id: int) -> schemas.ActionOut:
    """Skip an action that has not started."""
    action = ctx.store.run(_skip, action_id, ctx.now())
    logger.info("action %s of plan %s skipped by the admin", action_id, action.plan_id)
    return action_out(action)
