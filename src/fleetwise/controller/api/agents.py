"""Routes the agents call for their own host: registration, heartbeats, samples, work."""

from __future__ import annotations

from fastapi import APIRouter, Response

from fleetwise.api import schemas
from fleetwise.controller.api.errors import ERROR_RESPONSES
from fleetwise.controller.api.params import HostInPath
from fleetwise.controller.api.security import ACCESS_AGENT, Context, HostAgent
from fleetwise.controller.usecases import agents

__all__ = ["router"]

router = APIRouter(prefix="/v1/agents", tags=[ACCESS_AGENT], responses=ERROR_RESPONSES)


@router.put("/{host}", response_model=schemas.HostOut)
def register(
    host: HostInPath, body: schemas.HostRegistration, ctx: Context, _: HostAgent
) -> schemas.HostOut:
    """Register the host (or update it) with every VM it runs."""
    return agents.register(ctx, host, body)


@router.post("/{host}/heartbeat", status_code=204, response_class=Response)
def heartbeat(host: HostInPath, body: schemas.Heartbeat, ctx: Context, _: HostAgent) -> Response:
    """Note that the host's agent is alive, with its VM list if it sent one."""
    agents.heartbeat(ctx, host, body)
    return Response(status_code=204)


@router.post("/{host}/samples", response_model=schemas.IngestResult)
def samples(
    host: HostInPath, body: schemas.SampleBatch, ctx: Context, _: HostAgent
) -> schemas.IngestResult:
    """Store one collection interval of the host (VMs it does not know yet are skipped)."""
    return agents.samples(ctx, host, body)


@router.get("/{host}/assignments", response_model=list[schemas.Assignment])
def assignments(host: HostInPath, ctx: Context, _: HostAgent) -> list[schemas.Assignment]:
    """The migrations the host's agent must run now."""
    return agents.assignments(ctx, host)
