"""The admin's routes: inspect hosts, VMs, plans and migrations; approve, cancel, drain."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from fleetwise.api import schemas
from fleetwise.controller.api.errors import ERROR_RESPONSES
from fleetwise.controller.api.params import (
    HostInPath,
    HostInQuery,
    Limit,
    MigrationId,
    PlanId,
    SinceInQuery,
    VmInPath,
    VmInQuery,
)
from fleetwise.controller.api.security import ACCESS_ADMIN, ACCESS_ANY, Admin, Caller, Context
from fleetwise.controller.usecases import inventory, plans
from fleetwise.core.lifecycle import PlanState

__all__ = ["health_router", "router"]

router = APIRouter(prefix="/v1", tags=[ACCESS_ADMIN], responses=ERROR_RESPONSES)
health_router = APIRouter(prefix="/v1", tags=[ACCESS_ANY], responses=ERROR_RESPONSES)


@router.get("/hosts", response_model=list[schemas.HostOut])
def hosts(ctx: Context, _: Admin) -> list[schemas.HostOut]:
    """Every host, by name."""
    return inventory.hosts(ctx)


@router.get("/hosts/{host}", response_model=schemas.HostOut)
def host(host: HostInPath, ctx: Context, _: Admin) -> schemas.HostOut:
    """One host."""
    return inventory.host(ctx, host)


@router.post("/hosts/{host}/maintenance", response_model=schemas.HostOut)
def maintenance(
    host: HostInPath, body: schemas.MaintenanceBody, ctx: Context, _: Admin
) -> schemas.HostOut:
    """Put a host into maintenance (it is drained and kept out of placement) or back."""
    return inventory.maintenance(ctx, host, body.on)


@router.post("/hosts/{host}/evacuate", response_model=schemas.Evacuation)
def evacuate(host: HostInPath, ctx: Context, _: Admin) -> schemas.Evacuation:
    """Drain a host now (maintenance on and a planning round at once); it stays out of
    placement until maintenance is turned off."""
    return inventory.evacuate(ctx, host)


@router.get("/vms", response_model=list[schemas.VmOut])
def vms(
    ctx: Context,
    _: Admin,
    host: HostInQuery = None,
) -> list[schemas.VmOut]:
    """Every VM (or those on one host) with its latest CPU sample."""
    return inventory.vms(ctx, host)


@router.get("/vms/{uuid}", response_model=schemas.VmOut)
def vm(uuid: VmInPath, ctx: Context, _: Admin) -> schemas.VmOut:
    """One VM with its latest CPU sample."""
    return inventory.vm(ctx, uuid)


@router.get("/plans", response_model=list[schemas.PlanOut])
def list_plans(
    ctx: Context,
    _: Admin,
    state: Annotated[list[PlanState] | None, Query()] = None,
    limit: Limit = 100,
) -> list[schemas.PlanOut]:
    """Plans, newest first (optionally only in some states)."""
    return plans.plans(ctx, state, limit)


@router.get("/plans/{plan_id}", response_model=schemas.PlanOut)
def plan(plan_id: PlanId, ctx: Context, _: Admin) -> schemas.PlanOut:
    """One plan with its actions."""
    return plans.plan(ctx, plan_id)


@router.post("/plans/{plan_id}/approve", response_model=schemas.PlanOut)
def approve(plan_id: PlanId, ctx: Context, _: Admin) -> schemas.PlanOut:
    """Approve a recommended plan: it starts at the executor's next pass."""
    return plans.approve(ctx, plan_id)


@router.post("/plans/{plan_id}/cancel", response_model=schemas.PlanOut)
def cancel(plan_id: PlanId, ctx: Context, _: Admin) -> schemas.PlanOut:
    """Cancel a plan: actions not started are cancelled, running ones finish."""
    return plans.cancel(ctx, plan_id)


@router.get("/migrations", response_model=list[schemas.MigrationOut])
def migrations(
    ctx: Context,
    _: Admin,
    vm: VmInQuery = None,
    since: SinceInQuery = None,
    limit: Limit = 1000,
) -> list[schemas.MigrationOut]:
    """Migration attempts, oldest first."""
    return inventory.migrations(ctx, vm, since, limit)


@router.get("/migrations/{migration_id}", response_model=schemas.MigrationOut)
def migration(migration_id: MigrationId, ctx: Context, _: Admin) -> schemas.MigrationOut:
    """One migration attempt."""
    return inventory.migration(ctx, migration_id)


@router.post("/migrations/{migration_id}/resolve", response_model=schemas.MigrationOut)
def resolve(
    migration_id: MigrationId, body: schemas.ResolveBody, ctx: Context, _: Admin
) -> schemas.MigrationOut:
    """Say where the VM of a stuck or unknown migration is: on its source (the migration
    failed) or its destination (it succeeded); both hosts leave quarantine."""
    return inventory.resolve_migration(ctx, migration_id, body.on)


@router.get("/stats", response_model=schemas.FleetStats)
def stats(ctx: Context, _: Admin) -> schemas.FleetStats:
    """Efficacy figures: hosts by power state, VMs, migrations, AOTF, AITF, energy."""
    return inventory.stats(ctx)


@health_router.get("/health", response_model=schemas.Health)
def health(ctx: Context, _: Caller) -> schemas.Health:
    """Whether the controller and its database answer."""
    return inventory.health(ctx)
