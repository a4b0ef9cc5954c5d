"""What the admin reads and changes of the fleet: hosts, VMs, migrations, figures."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from fleetwise.api import schemas
from fleetwise.controller.context import ControllerContext
from fleetwise.controller.usecases.figures import fleet_stats, read_figures
from fleetwise.controller.usecases.shapes import aware, host_out, migration_out, vm_out
from fleetwise.store.fleet import ping, vm_counts_by_host
from fleetwise.store.inventory import get_host, list_hosts, list_vms, set_maintenance
from fleetwise.store.migration_log import list_migrations
from fleetwise.store.records import canonical_uuid
from fleetwise.store.samples import last_vm_samples

__all__ = ["health", "host", "hosts", "maintenance", "migrations", "stats", "vms"]

logger = logging.getLogger(__name__)


def _hosts(session: Session) -> list[schemas.HostOut]:
    counts = vm_counts_by_host(session)
    return [host_out(h, counts.get(h.name, 0)) for h in list_hosts(session)]


def hosts(ctx: ControllerContext) -> list[schemas.HostOut]:
    """Every host, by name, with how many VMs it holds."""
    return ctx.store.read(_hosts)


def _host(session: Session, name: str) -> schemas.HostOut:
    view = get_host(session, name)
    return host_out(view, vm_counts_by_host(session).get(name, 0))


def host(ctx: ControllerContext, name: str) -> schemas.HostOut:
    """One host."""
    return ctx.store.read(_host, name)


def _maintenance(session: Session, name: str, on: bool, now: datetime) -> schemas.HostOut:
    set_maintenance(session, name, on, now=now)
    return _host(session, name)


def maintenance(ctx: ControllerContext, name: str, on: bool) -> schemas.HostOut:
    """Put a host into maintenance (it is drained and kept out of placement) or back."""
    view = ctx.store.run(_maintenance, name, on, ctx.now())
    logger.info("host %s maintenance %s", name, "on" if on else "off")
    return view


def _vms(session: Session, host_name: str | None) -> list[schemas.VmOut]:
    found = list_vms(session, host_name)
    latest = last_vm_samples(session, 1, [v.uuid for v in found]) if found else {}
    return [
        vm_out(vm, latest[vm.uuid][-1].cpu_mhz if latest.get(vm.uuid) else None) for vm in found
    ]


def vms(ctx: ControllerContext, host_name: str | None = None) -> list[schemas.VmOut]:
    """Every VM (or those on one host) with its latest CPU sample."""
    return ctx.store.read(_vms, host_name)


def migrations(
    ctx: ControllerContext, vm: str | None, since: datetime | None, limit: int
) -> list[schemas.MigrationOut]:
    """Migration attempts, oldest first."""
    found = ctx.store.read(
        list_migrations,
        vm_uuid=None if vm is None else canonical_uuid(vm),
        since=None if since is None else aware(since, "since"),
        limit=limit,
    )
    return [migration_out(m) for m in found]


def stats(ctx: ControllerContext) -> schemas.FleetStats:
    """Efficacy figures: hosts by power state, VMs, migrations, AOTF, AITF, energy."""
    return fleet_stats(read_figures(ctx))


def health(ctx: ControllerContext) -> schemas.Health:
    """Whether the controller and its database answer."""
    ctx.store.read(ping)
    return schemas.Health(status="ok", database="ok")
