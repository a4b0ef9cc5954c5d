"""The local managers' reallocation requests."""

from __future__ import annotations

import logging
from datetime import timedelta

from fastapi import APIRouter

from fleetwise.api import schemas
from fleetwise.controller.api.convert import aware
from fleetwise.controller.api.errors import ERROR_RESPONSES, ErrorBody
from fleetwise.controller.api.security import ACCESS_AGENT, Caller, Context
from fleetwise.controller.errors import ForbiddenError, StaleRequestError
from fleetwise.errors import ParameterError
from fleetwise.store.enums import ReallocationReason
from fleetwise.store.reallocation import record_request

__all__ = ["router"]

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/v1", tags=[ACCESS_AGENT], responses=ERROR_RESPONSES)


@router.put(
    "/reallocations",
    status_code=202,
    response_model=schemas.Accepted,
    responses={412: {"model": ErrorBody, "description": "The request is stale"}},
)
def reallocate(body: schemas.ReallocationBody, ctx: Context, principal: Caller) -> schemas.Accepted:
    """Queue a request to move VMs away from a host; the next planning round handles it."""
    if not principal.may_act_for(body.host):
        raise ForbiddenError(f"the {principal} may not send requests for host {body.host}")
    now = ctx.now()
    sent_at = aware(body.sent_at, "sent_at")
    window = timedelta(seconds=ctx.config.staleness_window_s)
    if sent_at + window < now:
        raise StaleRequestError(
            f"the request was sent {(now - sent_at).total_seconds():.0f} s ago, more than the "
            f"{window.total_seconds():g} s staleness window; the state it saw may be gone"
        )
    if sent_at - window > now:
        raise ParameterError("sent_at lies in the future; check the host's clock")
    request = ctx.store.run(
        record_request,
        body.host,
        ReallocationReason(body.reason),
        body.vm_uuids,
        received_at=now,
        sent_at=sent_at,
    )
    logger.info(
        "request %s: %s of %s (%d VMs named)",
        request.id,
        body.reason,
        body.host,
        len(body.vm_uuids),
    )
    return schemas.Accepted(request_id=request.id)
