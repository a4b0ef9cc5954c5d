"""Routes on single actions: agents report on migrations, the admin skips actions."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Path, Response

from fleetwise.api import schemas
from fleetwise.controller.api.convert import action_out
from fleetwise.controller.api.errors import ERROR_RESPONSES
from fleetwise.controller.api.security import ACCESS_ADMIN, ACCESS_AGENT, Admin, Caller, Context
from fleetwise.controller.migration_actions import check_reporter, report_result
from fleetwise.core.lifecycle import ActionState
from fleetwise.errors import ConflictError
from fleetwise.store.migration_log import migration_of_action
from fleetwise.store.plans import get_action, transition_action

__all__ = ["router"]

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/actions", responses=ERROR_RESPONSES)

ActionId = Annotated[int, Path(ge=1, le=2**62, description="the action's id")]


@router.post("/{action_id}/progress", status_code=204, response_class=Response, tags=[ACCESS_AGENT])
def progress(
    action_id: ActionId, body: schemas.ActionProgress, ctx: Context, principal: Caller
) -> Response:
    """Progress of a running migration (for the log; the timeout is not extended)."""
    check_reporter(ctx, principal, action_id)
    migration = ctx.store.read(migration_of_action, action_id)
    if migration is None:
        raise ConflictError(f"action {action_id} has no migration in progress")
    logger.info(
        "migration %s of action %s: %.0f%% %r", migration.id, action_id, body.percent, body.note
    )
    return Response(status_code=204)


@router.post("/{action_id}/result", status_code=204, response_class=Response, tags=[ACCESS_AGENT])
def result(
    action_id: ActionId, body: schemas.ActionResult, ctx: Context, principal: Caller
) -> Response:
    """How the running migration of the action ended."""
    report_result(ctx, principal, action_id, body.ok, body.error)
    return Response(status_code=204)


@router.post("/{action_id}/skip", response_model=schemas.ActionOut, tags=[ACCESS_ADMIN])
def skip(action_id: ActionId, ctx: Context, _: Admin) -> schemas.ActionOut:
    """Skip an action that has not started."""
    current = ctx.store.read(get_action, action_id)
    if current.state is not ActionState.PENDING:
        raise ConflictError(f"action {action_id} is {current.state.value}; only pending ones skip")
    action = ctx.store.run(
        transition_action,
        action_id,
        ActionState.PENDING,
        ActionState.SKIPPED,
        now=ctx.now(),
        error="skipped by the admin",
    )
    logger.info("action %s of plan %s skipped by the admin", action_id, action.plan_id)
    return action_out(action)
