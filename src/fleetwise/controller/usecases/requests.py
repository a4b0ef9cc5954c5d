"""Reallocation requests sent by the hosts' local managers."""

from __future__ import annotations

import logging
from datetime import timedelta

from fleetwise.api import schemas
from fleetwise.controller.auth import Principal
from fleetwise.controller.context import ControllerContext
from fleetwise.controller.errors import ForbiddenError, StaleRequestError
from fleetwise.controller.usecases.shapes import aware
from fleetwise.errors import ConflictError
from fleetwise.store.enums import ReallocationReason
from fleetwise.store.reallocation import record_request

__all__ = ["reallocate"]

logger = logging.getLogger(__name__)


def reallocate(
    ctx: ControllerContext,
    principal: Principal,
    body: schemas.UnderloadRequest | schemas.OverloadRequest,
) -> schemas.Accepted:
    """Queue a request to move VMs away from a host; the next round handles it.

    A request older than the staleness window is refused (the state it saw may be
    gone); one from the future means the host's clock is wrong.
    """
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
        raise ConflictError("sent_at lies in the future; check the host's clock")
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
