"""What the hosts' agents do: register, send heartbeats and samples, run migrations.

A running migration is handed to its source host's agent as an
:class:`~fleetwise.api.schemas.Assignment` while it runs; the agent reports the
result. Migrations started before this controller process are not handed out again:
only a report of the VM (or the agent's late result) settles them.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from fleetwise.api import schemas
from fleetwise.controller.auth import Principal
from fleetwise.controller.context import ControllerContext
from fleetwise.controller.errors import ForbiddenError
from fleetwise.controller.usecases.migrations import running_migration
from fleetwise.controller.usecases.shapes import aware, host_out, host_spec, vm_reports
from fleetwise.core.execution import arrived
from fleetwise.core.lifecycle import ActionKind, ActionState, MigrationOutcome
from fleetwise.errors import ConflictError
from fleetwise.ids import check_host_name
from fleetwise.store.attempts import settle_migration
from fleetwise.store.fleet import get_vm
from fleetwise.store.inventory import get_host, list_hosts
from fleetwise.store.migration_log import migration_of_action, unfinished_migrations
from fleetwise.store.plans import get_action
from fleetwise.store.reports import ingest_samples, record_agent_report, register_agent
from fleetwise.store.views import ActionView, MigrationView, VmView

__all__ = [
    "assignments",
    "heartbeat",
    "migration_progress",
    "migration_result",
    "register",
    "samples",
]

logger = logging.getLogger(__name__)


def register(ctx: ControllerContext, host: str, body: schemas.HostRegistration) -> schemas.HostOut:
    """Register the host (or update it) with every VM it runs; only hosts the
    configuration lists may register (whoever calls)."""
    check_host_name(host)
    if ctx.config.host(host) is None:
        raise ForbiddenError(
            f"host {host} is not in the controller's configuration (add it under hosts:)"
        )
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


def _heartbeat(
    session: Session, host: str, body: schemas.Heartbeat, now: datetime, sent_at: datetime
) -> None:
    reports = None
    if body.vms is not None:
        reports = vm_reports(body.vms, get_host(session, host).core_mhz)
    record_agent_report(session, host, now=now, vms=reports, reported_at=min(sent_at, now))


def heartbeat(ctx: ControllerContext, host: str, body: schemas.Heartbeat) -> None:
    """Note that the host's agent is alive, with its VM list if it sent one."""
    sent_at = aware(body.sent_at, "sent_at")
    if sent_at > ctx.now() + timedelta(seconds=ctx.config.staleness_window_s):
        raise ConflictError("sent_at lies in the future; check the host's clock")
    ctx.store.run(_heartbeat, host, body, ctx.now(), sent_at)


def samples(ctx: ControllerContext, host: str, body: schemas.SampleBatch) -> schemas.IngestResult:
    """Store one collection interval of the host (VMs it does not know yet are skipped)."""
    taken_at = aware(body.taken_at, "taken_at")
    now = ctx.now()
    if taken_at > now + timedelta(seconds=ctx.config.staleness_window_s):
        raise ConflictError("taken_at lies in the future; check the host's clock")
    if taken_at < now - timedelta(seconds=ctx.config.sample_retention_s):
        raise ConflictError(
            f"taken_at is older than the {ctx.config.sample_retention_s:g} s samples are kept"
        )
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


def _assignments(
    session: Session, host: str, now: datetime, since: datetime, timeout_s: float
) -> list[schemas.Assignment]:
    get_host(session, host)  # an unknown host is a 404
    endpoints = {h.name: (h.hypervisor_uri, h.migration_uri) for h in list_hosts(session)}
    out: list[schemas.Assignment] = []
    for migration in unfinished_migrations(session):
        if migration.source_host != host or migration.action_id is None:
            continue
        if migration.started_at < since:
            continue  # outcome unknown since a restart: settled from reports only
        remaining = timeout_s - (now - migration.started_at).total_seconds()
        uri, migration_uri = endpoints.get(migration.destination_host, (None, None))
        if remaining <= 0 or uri is None:
            continue
        out.append(
            schemas.Assignment(
                action_id=migration.action_id,
                vm_uuid=migration.vm_uuid,
                destination_host=migration.destination_host,
                destination_uri=uri,
                migration_uri=migration_uri,
                timeout_s=remaining,
            )
        )
    return out


def assignments(ctx: ControllerContext, host: str) -> list[schemas.Assignment]:
    """The migrations ``host``'s agent must run now."""
    return ctx.store.read(
        _assignments, host, ctx.now(), ctx.started_at, ctx.config.migration_timeout_s
    )


def _reported_action(
    session: Session, principal: Principal, action_id: int
) -> tuple[ActionView, MigrationView | None, VmView | None]:
    """The migration action ``action_id`` if ``principal`` may report on it, its running
    migration and the VM."""
    action = get_action(session, action_id)
    if action.kind is not ActionKind.MIGRATE or action.source_host is None:
        raise ConflictError(f"action {action_id} is a {action.kind.value}, not a migration")
    if not principal.may_act_for(action.source_host):
        raise ForbiddenError(f"action {action_id} belongs to host {action.source_host}")
    migration = migration_of_action(session, action_id)
    vm = get_vm(session, migration.vm_uuid) if migration is not None else None
    return action, migration, vm


def migration_progress(
    ctx: ControllerContext, principal: Principal, action_id: int, body: schemas.ActionProgress
) -> None:
    """Progress of a running migration (for the log; the timeout is not extended)."""
    _, migration, _ = ctx.store.read(_reported_action, principal, action_id)
    if migration is None:
        raise ConflictError(f"action {action_id} has no migration in progress")
    logger.info(
        "migration %s of action %s: %.0f%% %r", migration.id, action_id, body.percent, body.note
    )


def _record_result(
    session: Session,
    principal: Principal,
    action_id: int,
    ok: bool,
    error: str,
    now: datetime,
) -> None:
    action, migration, vm = _reported_action(session, principal, action_id)
    if migration is None:
        # The destination's report may have settled the migration first: a result that
        # agrees with the recorded outcome is accepted again, anything else conflicts.
        settled = ActionState.SUCCEEDED if ok else ActionState.FAILED
        if action.state is settled:
            return
        raise ConflictError(f"action {action_id} has no migration in progress")
    assert vm is not None
    if not ok and arrived(running_migration(migration, vm)):
        logger.warning(
            "migration %s reported failed, but the destination runs the VM: recorded as done",
            migration.id,
        )
        ok = True
    logger.info(
        "migration %s of action %s %s%s",
        migration.id,
        action.id,
        "succeeded" if ok else "failed",
        "" if ok else f": {error}",
    )
    settle_migration(
        session,
        migration.id,
        MigrationOutcome.SUCCEEDED if ok else MigrationOutcome.FAILED,
        None if ok else error or None,
        now=now,
    )


def migration_result(
    ctx: ControllerContext, principal: Principal, action_id: int, body: schemas.ActionResult
) -> None:
    """Record the agent's result for the running attempt of a migration action."""
    ctx.store.run(_record_result, principal, action_id, body.ok, body.error, ctx.now())
