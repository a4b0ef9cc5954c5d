"""Routes the agents call for their own host: registration, heartbeats, samples, work."""

from __future__ import annotations

import logging
import math
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Response

from fleetwise.api import schemas
from fleetwise.controller.api.convert import aware, host_out, host_spec, vm_reports
from fleetwise.controller.api.errors import ERROR_RESPONSES
from fleetwise.controller.api.security import ACCESS_AGENT, Context, HostAgent
from fleetwise.controller.migration_actions import assignments_for
from fleetwise.drivers.ids import check_host_name
from fleetwise.errors import ParameterError
from fleetwise.store.inventory import get_host
from fleetwise.store.reports import ingest_samples, record_agent_report, register_agent

__all__ = ["router"]

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/agents", tags=[ACCESS_AGENT], responses=ERROR_RESPONSES)

HostName = Annotated[str, Path(min_length=1, max_length=255, description="the host's name")]


@router.put("/{host}", response_model=schemas.HostOut)
def register(
    host: HostName, body: schemas.HostRegistration, ctx: Context, _: HostAgent
) -> schemas.HostOut:
    """Register the host (or update it) with every VM it runs."""
    check_host_name(host)
    spec = host_spec(host, body)
    view, outcome = ctx.store.run(
        register_agent, spec, vm_reports(body.vms, spec.core_mhz), now=ctx.now()
    )
    logger.info(
        "host %s registered: %d VMs (%d new, %d moved here, %d released)",
        host,
        len(body.vms),
        len(outcome.created),
        len(outcome.moved),
        len(outcome.released),
    )
    return host_out(view, len(body.vms) - len(outcome.ignored))


@router.post("/{host}/heartbeat", status_code=204, response_class=Response)
def heartbeat(host: HostName, body: schemas.Heartbeat, ctx: Context, _: HostAgent) -> Response:
    """Note that the host's agent is alive, with its VM list if it sent one."""
    now = ctx.now()
    sent_at = aware(body.sent_at, "sent_at")
    reports = None
    if body.vms is not None:
        reports = vm_reports(body.vms, ctx.store.read(get_host, host).core_mhz)
    ctx.store.run(record_agent_report, host, now=now, vms=reports, reported_at=min(sent_at, now))
    return Response(status_code=204)


@router.post("/{host}/samples", response_model=schemas.IngestResult)
def samples(
    host: HostName, body: schemas.SampleBatch, ctx: Context, _: HostAgent
) -> schemas.IngestResult:
    """Store one collection interval of the host (VMs it does not know yet are skipped)."""
    values = [body.host_cpu_mhz, body.hypervisor_mhz, *(s.cpu_mhz for s in body.vms)]
    if not all(math.isfinite(v) for v in values):
        raise ParameterError("CPU figures must be finite numbers")
    taken_at = aware(body.taken_at, "taken_at")
    if taken_at > ctx.now() + timedelta(seconds=ctx.config.staleness_window_s):
        raise ParameterError("taken_at lies in the future; check the host's clock")
    stored = ctx.store.run(
        ingest_samples,
        host,
        taken_at=taken_at,
        host_cpu_mhz=body.host_cpu_mhz,
        hypervisor_mhz=body.hypervisor_mhz,
        vm_samples=[(s.uuid, s.cpu_mhz) for s in body.vms],
        overloaded=body.overloaded,
    )
    return schemas.IngestResult(stored=stored)


@router.get("/{host}/assignments", response_model=list[schemas.Assignment])
def assignments(host: HostName, ctx: Context, _: HostAgent) -> list[schemas.Assignment]:
    """The migrations the host's agent must run now."""
    ctx.store.read(get_host, host)  # 404 for an unknown host
    return assignments_for(ctx, host, ctx.now())
