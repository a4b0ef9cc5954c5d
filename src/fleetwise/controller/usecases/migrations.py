"""Migration actions in the executor's pass: starting attempts, learning how they ended.

A migration attempt is a row of the store's migration log; the source host's agent
runs it (see :mod:`.agents`) and reports the result. When no result comes (the agent
died, or the controller restarted and cannot know what happened), the outcome is
taken from what the agents report about the VM, never assumed:

* the destination reports the VM running after the attempt started → it succeeded;
* after the attempt's timeout, the source still reports the VM running → it failed;
* otherwise the attempt stays open and the VM stays where the store last saw it.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from fleetwise.controller.context import ControllerContext
from fleetwise.controller.observation import is_unreachable
from fleetwise.core.execution import MigrationSlots, RunningMigration, migration_end
from fleetwise.core.lifecycle import MigrationOutcome
from fleetwise.errors import ConflictError, NotFoundError
from fleetwise.store.attempts import (
    begin_migration_attempt,
    fail_attempt,
    settle_migration,
    succeed_action,
)
from fleetwise.store.fleet import get_vm
from fleetwise.store.inventory import get_host, list_hosts, quarantine_hosts
from fleetwise.store.migration_log import unfinished_migrations
from fleetwise.store.views import ActionView, MigrationView, VmView

__all__ = ["attempt_migration", "resolve_migrations", "running_migration"]

logger = logging.getLogger(__name__)


def running_migration(
    migration: MigrationView,
    vm: VmView,
    source_heard: datetime | None = None,
    destination_heard: datetime | None = None,
) -> RunningMigration:
    """What the decision core needs to know of a migration under way."""
    return RunningMigration(
        source=migration.source_host,
        destination=migration.destination_host,
        started_s=migration.started_at.timestamp(),
        vm_host=vm.host,
        vm_state=vm.state,
        vm_located_s=None if vm.located_at is None else vm.located_at.timestamp(),
        vm_reported_s=vm.reported_at.timestamp(),
        source_heard_s=None if source_heard is None else source_heard.timestamp(),
        destination_heard_s=None if destination_heard is None else destination_heard.timestamp(),
    )


def attempt_migration(
    context: ControllerContext, action: ActionView, slots: MigrationSlots, now: datetime
) -> None:
    """Start the next attempt of a migration action, within the caps."""
    assert action.vm_uuid and action.source_host and action.destination_host
    store = context.store
    source, destination = action.source_host, action.destination_host
    vm = store.read(get_vm, action.vm_uuid)
    if vm.host == destination:
        logger.info("VM %s was already on %s (action %s)", vm.uuid, destination, action.id)
        store.run(succeed_action, action.id, now=now)
        return
    if vm.host != source:
        where = f"on {vm.host}" if vm.host else "missing from its host's reports"
        store.run(
            fail_attempt,
            action.id,
            f"VM {vm.uuid} is {where}, not on {source}",
            now=now,
            final=True,
        )
        return
    for end in (source, destination):
        view = store.read(get_host, end)
        if is_unreachable(view, now, context.config.heartbeat_timeout_s):
            store.run(
                fail_attempt,
                action.id,
                f"host {end} is unreachable: its agent has gone silent",
                now=now,
                final=True,
            )
            return
    if _destination_uris(context, destination) is None:
        store.run(
            fail_attempt,
            action.id,
            f"destination {destination} has not registered a hypervisor URI",
            now=now,
        )
        return
    if not slots.take(source, destination):
        return
    try:
        migration = store.run(begin_migration_attempt, action.id, now=now)
    except ConflictError as exc:
        slots.release(source, destination)
        store.run(fail_attempt, action.id, str(exc), now=now)
        return
    logger.info(
        "migration %s started: action=%s vm=%s %s -> %s",
        migration.id,
        action.id,
        vm.uuid,
        source,
        destination,
    )


def _watch(session: Session) -> list[tuple[MigrationView, RunningMigration]]:
    heard = {h.name: h.last_heartbeat for h in list_hosts(session)}
    return [
        (
            migration,
            running_migration(
                migration,
                get_vm(session, migration.vm_uuid),
                heard.get(migration.source_host),
                heard.get(migration.destination_host),
            ),
        )
        for migration in unfinished_migrations(session)
    ]


def _settle_unknown(session: Session, migration: MigrationView, reason: str, now: datetime) -> None:
    settle_migration(session, migration.id, MigrationOutcome.UNKNOWN, reason, now=now)
    quarantine_hosts(
        session,
        (migration.source_host, migration.destination_host),
        f"migration {migration.id} of VM {migration.vm_uuid} ended unknown",
        now=now,
    )


def resolve_migrations(context: ControllerContext, now: datetime, warned: set[int]) -> None:
    """Settle open attempts whose outcome the agents' reports now tell (see
    :func:`fleetwise.core.execution.migration_end`); a migration nobody can tell about
    ends UNKNOWN, failing its plan and quarantining both its hosts."""
    store = context.store
    config = context.config
    for migration, watch in store.read(_watch):
        outcome, reason = migration_end(
            watch,
            now.timestamp(),
            timeout_s=config.migration_timeout_s,
            heartbeat_timeout_s=config.heartbeat_timeout_s,
            grace_s=config.dead_host_grace_s,
        )
        if outcome is MigrationOutcome.UNKNOWN:
            logger.warning("migration %s: outcome unknown: %s", migration.id, reason)
            store.run(_settle_unknown, migration, reason, now)
        elif outcome is not None:
            log = logger.info if outcome is MigrationOutcome.SUCCEEDED else logger.warning
            log("migration %s %s: %s", migration.id, outcome.value, reason)
            error = None if outcome is MigrationOutcome.SUCCEEDED else reason
            store.run(settle_migration, migration.id, outcome, error, now=now)
        elif (
            now.timestamp() > watch.started_s + config.migration_timeout_s
            and migration.id not in warned
        ):
            warned.add(migration.id)
            logger.warning(
                "migration %s of VM %s: no result yet; waiting for a report of the VM",
                migration.id,
                migration.vm_uuid,
            )


def _destination_uris(context: ControllerContext, host: str) -> tuple[str, str | None] | None:
    """The hypervisor and migration URIs ``host``'s agent registered, if it did."""
    try:
        view = context.store.read(get_host, host)
    except NotFoundError:
        return None
    if view.hypervisor_uri is None:
        return None
    return view.hypervisor_uri, view.migration_uri
