"""The admin's routes: inspect hosts, VMs, plans and migrations; approve, cancel, drain."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query

from fleetwise.api import schemas
from fleetwise.controller.api.convert import (
    aware,
    host_out,
    migration_out,
    plan_out,
    vm_out,
)
from fleetwise.controller.api.errors import ERROR_RESPONSES
from fleetwise.controller.api.security import ACCESS_ADMIN, ACCESS_ANY, Admin, Caller, Context
from fleetwise.controller.stats import fleet_stats, read_figures
from fleetwise.core.lifecycle import PlanState
from fleetwise.errors import ConflictError
from fleetwise.store.fleet import ping, vm_counts_by_host
from fleetwise.store.inventory import get_host, list_hosts, list_vms, set_maintenance
from fleetwise.store.migration_log import list_migrations
from fleetwise.store.plans import get_plan, list_plans, supersede_expired_plans, transition_plan
from fleetwise.store.records import canonical_uuid
from fleetwise.store.samples import last_vm_samples

__all__ = ["health_router", "router"]

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/v1", tags=[ACCESS_ADMIN], responses=ERROR_RESPONSES)
health_router = APIRouter(prefix="/v1", tags=[ACCESS_ANY], responses=ERROR_RESPONSES)

HostName = Annotated[str, Path(min_length=1, max_length=255, description="the host's name")]
PlanId = Annotated[int, Path(ge=1, le=2**62, description="the plan's id")]
Limit = Annotated[int, Query(ge=1, le=10_000)]


@router.get("/hosts", response_model=list[schemas.HostOut])
def hosts(ctx: Context, _: Admin) -> list[schemas.HostOut]:
    """Every host, by name."""
    counts = ctx.store.read(vm_counts_by_host)
    return [host_out(h, counts.get(h.name, 0)) for h in ctx.store.read(list_hosts)]


@router.get("/hosts/{host}", response_model=schemas.HostOut)
def host(host: HostName, ctx: Context, _: Admin) -> schemas.HostOut:
    """One host."""
    view = ctx.store.read(get_host, host)
    return host_out(view, ctx.store.read(vm_counts_by_host).get(host, 0))


@router.post("/hosts/{host}/maintenance", response_model=schemas.HostOut)
def maintenance(
    host: HostName, body: schemas.MaintenanceBody, ctx: Context, _: Admin
) -> schemas.HostOut:
    """Put a host into maintenance (it is drained and kept out of placement) or back."""
    view = ctx.store.run(set_maintenance, host, body.on, now=ctx.now())
    logger.info("host %s maintenance %s", host, "on" if body.on else "off")
    return host_out(view, ctx.store.read(vm_counts_by_host).get(host, 0))


@router.get("/vms", response_model=list[schemas.VmOut])
def vms(
    ctx: Context,
    _: Admin,
    host: Annotated[str | None, Query(min_length=1, max_length=255)] = None,
) -> list[schemas.VmOut]:
    """Every VM (or those on one host) with its latest CPU sample."""
    found = ctx.store.read(list_vms, host)
    latest = ctx.store.read(last_vm_samples, 1, [v.uuid for v in found]) if found else {}
    return [
        vm_out(vm, latest[vm.uuid][-1].cpu_mhz if latest.get(vm.uuid) else None) for vm in found
    ]


@router.get("/plans", response_model=list[schemas.PlanOut])
def plans(
    ctx: Context,
    _: Admin,
    state: Annotated[list[PlanState] | None, Query()] = None,
    limit: Limit = 100,
) -> list[schemas.PlanOut]:
    """Plans, newest first (optionally only in some states)."""
    return [plan_out(p) for p in ctx.store.read(list_plans, state, limit)]


@router.get("/plans/{plan_id}", response_model=schemas.PlanOut)
def plan(plan_id: PlanId, ctx: Context, _: Admin) -> schemas.PlanOut:
    """One plan with its actions."""
    return plan_out(ctx.store.read(get_plan, plan_id))


@router.post("/plans/{plan_id}/approve", response_model=schemas.PlanOut)
def approve(plan_id: PlanId, ctx: Context, _: Admin) -> schemas.PlanOut:
    """Approve a recommended plan: it starts at the executor's next pass."""
    now = ctx.now()
    ctx.store.run(supersede_expired_plans, now=now)
    current = ctx.store.read(get_plan, plan_id)
    if current.state is not PlanState.RECOMMENDED:
        raise ConflictError(
            f"plan {plan_id} is {current.state.value}; only recommended plans can be approved"
        )
    approved = ctx.store.run(
        transition_plan, plan_id, PlanState.RECOMMENDED, PlanState.PENDING, now=now
    )
    logger.info("plan %s approved", plan_id)
    return plan_out(approved)


@router.post("/plans/{plan_id}/cancel", response_model=schemas.PlanOut)
def cancel(plan_id: PlanId, ctx: Context, _: Admin) -> schemas.PlanOut:
    """Cancel a plan: actions not started are cancelled, running ones finish."""
    current = ctx.store.read(get_plan, plan_id)
    cancelled = ctx.store.run(
        transition_plan,
        plan_id,
        current.state,
        PlanState.CANCELLED,
        now=ctx.now(),
        message="cancelled by the admin",
    )
    logger.info("plan %s cancelled by the admin", plan_id)
    return plan_out(cancelled)


@router.get("/migrations", response_model=list[schemas.MigrationOut])
def migrations(
    ctx: Context,
    _: Admin,
    vm: Annotated[str | None, Query(description="only this VM's migrations")] = None,
    since: Annotated[datetime | None, Query(description="started at or after")] = None,
    limit: Limit = 1000,
) -> list[schemas.MigrationOut]:
    """Migration attempts, oldest first."""
    found = ctx.store.read(
        list_migrations,
        vm_uuid=None if vm is None else canonical_uuid(vm),
        since=None if since is None else aware(since, "since"),
        limit=limit,
    )
    return [migration_out(m) for m in found]


@router.get("/stats", response_model=schemas.FleetStats)
def stats(ctx: Context, _: Admin) -> schemas.FleetStats:
    """Efficacy figures: hosts by power state, VMs, migrations, AOTF, AITF, energy."""
    return fleet_stats(read_figures(ctx))


@health_router.get("/health", response_model=schemas.Health)
def health(ctx: Context, _: Caller) -> schemas.Health:
    """Whether the controller and its database answer."""
    ctx.store.read(ping)
    return schemas.Health(status="ok", database="ok")
