"""The local managers' reallocation requests."""

from __future__ import annotations

from fastapi import APIRouter

from fleetwise.api import schemas
from fleetwise.controller.api.errors import ERROR_RESPONSES, ErrorBody
from fleetwise.controller.api.security import ACCESS_AGENT, Caller, Context
from fleetwise.controller.usecases import requests

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=[ACCESS_AGENT], responses=ERROR_RESPONSES)


@router.put(
    "/reallocations",
    status_code=202,
    response_model=schemas.Accepted,
    responses={412: {"model": ErrorBody, "description": "The request is stale"}},
)
def reallocate(body: schemas.ReallocationBody, ctx: Context, principal: Caller) -> schemas.Accepted:
    """Queue a request to move VMs away from a host; the next planning round handles it."""
    return requests.reallocate(ctx, principal, body)
