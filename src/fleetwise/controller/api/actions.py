"""Routes on single actions: agents report on migrations, the admin skips actions."""

from __future__ import annotations

from fastapi import APIRouter, Response

from fleetwise.api import schemas
from fleetwise.controller.api.errors import ERROR_RESPONSES
from fleetwise.controller.api.params import ActionId
from fleetwise.controller.api.security import ACCESS_ADMIN, ACCESS_AGENT, Admin, Caller, Context
from fleetwise.controller.usecases import agents, plans

__all__ = ["router"]

router = APIRouter(prefix="/v1/actions", responses=ERROR_RESPONSES)


@router.post("/{action_id}/progress", status_code=204, response_class=Response, tags=[ACCESS_AGENT])
def progress(
    action_id: ActionId, body: schemas.ActionProgress, ctx: Context, principal: Caller
) -> Response:
    """Progress of a running migration (for the log; the timeout is not extended)."""
    agents.migration_progress(ctx, principal, action_id, body)
    return Response(status_code=204)


@router.post("/{action_id}/result", status_code=204, response_class=Response, tags=[ACCESS_AGENT])
def result(
    action_id: ActionId, body: schemas.ActionResult, ctx: Context, principal: Caller
) -> Response:
    """How the running migration of the action ended."""
    agents.migration_result(ctx, principal, action_id, body)
    return Response(status_code=204)


@router.post("/{action_id}/skip", response_model=schemas.ActionOut, tags=[ACCESS_ADMIN])
def skip(action_id: ActionId, ctx: Context, _: Admin) -> schemas.ActionOut:
    """Skip an action that has not started."""
    return plans.skip_action(ctx, action_id)
