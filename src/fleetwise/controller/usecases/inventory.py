"""What the admin reads and changes of the fleet: hosts, VMs, migrations, figures."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Literal

from sqlalchemy.orm import Session

from fleetwise.api import schemas
from fleetwise.controller.context import ControllerContext
from fleetwise.controller.observation import is_unreachable
from fleetwise.controller.usecases import rounds
from fleetwise.controller.usecases.figures import fleet_stats, read_figures
from fleetwise.controller.usecases.shapes import aware, host_out, migration_out, vm_out
from fleetwise.core.lifecycle import ActionState
from fleetwise.errors import DriverError
from fleetwise.ids import check_vm_uuid
from fleetwise.store.attempts import resolve_migration as resolve_migration_in_store
from fleetwise.store.fleet import get_vm, ping, probe_write, vm_counts_by_host
from fleetwise.store.inventory import get_host, list_hosts, list_vms, set_maintenance
from fleetwise.store.migration_log import get_migration, list_migrations
from fleetwise.store.plans import open_plans, transition_action
from fleetwise.store.samples import last_vm_samples

__all__ = [
    "evacuate",
    "health",
    "host",
    "hosts",
    "maintenance",
    "migration",
    "migrations",
    "resolve_migration",
    "stats",
    "vm",
    "vms",
]

logger = logging.getLogger(__name__)


def _hosts(session: Session, now: datetime, timeout_s: float) -> list[schemas.HostOut]:
    counts = vm_counts_by_host(session)
    return [
        host_out(h, counts.get(h.name, 0), unreachable=is_unreachable(h, now, timeout_s))
        for h in list_hosts(session)
    ]


def hosts(ctx: ControllerContext) -> list[schemas.HostOut]:
    """Every host, by name, with how many VMs it holds and whether it is heard."""
    return ctx.store.read(_hosts, ctx.now(), ctx.config.heartbeat_timeout_s)


def _host(session: Session, name: str, now: datetime, timeout_s: float) -> schemas.HostOut:
    view = get_host(session, name)
    count = vm_counts_by_host(session).get(name, 0)
    return host_out(view, count, unreachable=is_unreachable(view, now, timeout_s))


def host(ctx: ControllerContext, name: str) -> schemas.HostOut:
    """One host."""
    return ctx.store.read(_host, name, ctx.now(), ctx.config.heartbeat_timeout_s)


def _end_drains(session: Session, name: str, now: datetime) -> int:
    """Skip the migrations that would still empty ``name`` for its maintenance."""
    skipped = 0
    for plan in open_plans(session):
        if name not in plan.drained:
            continue
        for action in plan.actions:
            if action.state is ActionState.PENDING and action.source_host == name:
                transition_action(
                    session,
                    action.id,
                    ActionState.PENDING,
                    ActionState.SKIPPED,
                    now=now,
                    error=f"maintenance of {name} ended",
                )
                skipped += 1
    return skipped


def _maintenance(
    session: Session, name: str, on: bool, now: datetime, timeout_s: float
) -> tuple[schemas.HostOut, int]:
    set_maintenance(session, name, on, now=now)
    skipped = 0 if on else _end_drains(session, name, now)
    return _host(session, name, now, timeout_s), skipped


def maintenance(ctx: ControllerContext, name: str, on: bool) -> schemas.HostOut:
    """Put a host into maintenance (it is drained and kept out of placement) or back;
    ending maintenance skips the drain's migrations that have not started."""
    view, skipped = ctx.store.run(_maintenance, name, on, ctx.now(), ctx.config.heartbeat_timeout_s)
    logger.info(
        "host %s maintenance %s%s",
        name,
        "on" if on else "off",
        f" ({skipped} pending migrations of its drain skipped)" if skipped else "",
    )
    return view


def evacuate(ctx: ControllerContext, name: str) -> schemas.Evacuation:
    """Drain a host now: maintenance on, and a round at once (instead of at the next
    spacing); it stays out of placement until maintenance is turned off."""
    view = maintenance(ctx, name, True)
    result = rounds.run_round(ctx)
    plan = result.plan
    drains = plan is not None and name in plan.drained
    return schemas.Evacuation(
        host=view, plan_id=plan.id if plan is not None and drains else None, waiting=not drains
    )


def _vms(session: Session, host_name: str | None) -> list[schemas.VmOut]:
    found = list_vms(session, host_name)
    latest = last_vm_samples(session, 1, [v.uuid for v in found]) if found else {}
    return [
        vm_out(vm, latest[vm.uuid][-1].cpu_mhz if latest.get(vm.uuid) else None) for vm in found
    ]


def vms(ctx: ControllerContext, host_name: str | None = None) -> list[schemas.VmOut]:
    """Every VM (or those on one host) with its latest CPU sample."""
    return ctx.store.read(_vms, host_name)


def _vm(session: Session, uuid: str) -> schemas.VmOut:
    found = get_vm(session, uuid)
    latest = last_vm_samples(session, 1, [found.uuid]).get(found.uuid, ())
    return vm_out(found, latest[-1].cpu_mhz if latest else None)


def vm(ctx: ControllerContext, uuid: str) -> schemas.VmOut:
    """One VM with its latest CPU sample."""
    return ctx.store.read(_vm, uuid)


def migration(ctx: ControllerContext, migration_id: int) -> schemas.MigrationOut:
    """One migration attempt."""
    return migration_out(ctx.store.read(get_migration, migration_id))


def resolve_migration(ctx: ControllerContext, migration_id: int, host: str) -> schemas.MigrationOut:
    """Say where the VM of a stuck or unknown migration is (its source or destination)."""
    resolved = ctx.store.run(resolve_migration_in_store, migration_id, host, now=ctx.now())
    logger.info(
        "migration %s resolved by the admin: VM %s is on %s (%s)",
        migration_id,
        resolved.vm_uuid,
        host,
        resolved.outcome.value if resolved.outcome else "running",
    )
    return migration_out(resolved)


def migrations(
    ctx: ControllerContext, vm: str | None, since: datetime | None, limit: int
) -> list[schemas.MigrationOut]:
    """Migration attempts, oldest first."""
    found = ctx.store.read(
        list_migrations,
        vm_uuid=None if vm is None else check_vm_uuid(vm),
        since=None if since is None else aware(since, "since"),
        limit=limit,
    )
    return [migration_out(m) for m in found]


def stats(ctx: ControllerContext) -> schemas.FleetStats:
    """Efficacy figures: hosts by power state, VMs, migrations, AOTF, AITF, energy."""
    return fleet_stats(read_figures(ctx))


def health(ctx: ControllerContext) -> schemas.Health:
    """Whether the controller answers, its database takes writes, and every host that
    should be awake is heard and not quarantined."""
    reasons: list[str] = []
    database: Literal["ok", "read-only"] = "ok"
    ctx.store.read(ping)  # an unreachable database is a 503
    try:
        ctx.store.run(probe_write, now=ctx.now())
    except DriverError as exc:
        database = "read-only"
        reasons.append(f"the database takes no writes: {exc}")
    figures = read_figures(ctx)
    if figures.unreachable:
        reasons.append(f"unreachable hosts: {', '.join(figures.unreachable)}")
    if figures.quarantined:
        reasons.append(f"quarantined hosts: {', '.join(figures.quarantined)}")
    return schemas.Health(
        status="degraded" if reasons else "ok", database=database, reasons=reasons
    )
