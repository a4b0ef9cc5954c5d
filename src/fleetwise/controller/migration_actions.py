"""Migration actions: starting attempts, handing them to agents, learning how they ended.

A migration attempt is a row of the store's migration log. The source host's agent
sees it as an :class:`~fleetwise.api.schemas.Assignment` while it runs and reports
the result. When no result comes (the agent died, or the controller restarted and
cannot know what happened), the outcome is taken from what the agents report about
the VM, never assumed:

* the destination reports the VM running after the attempt started → it succeeded;
* after the attempt's timeout, the source still reports the VM running → it failed;
* otherwise the attempt stays open and the VM stays where the store last saw it.

Attempts started before this controller process are not handed out again; only a
report of the VM (or the agent's late result) settles them.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from fleetwise.api.schemas import Assignment
from fleetwise.controller.auth import Principal
from fleetwise.controller.context import ControllerContext
from fleetwise.controller.errors import ForbiddenError
from fleetwise.core.execution import MigrationSlots
from fleetwise.core.lifecycle import ActionKind, ActionState, VmState
from fleetwise.errors import ConflictError, NotFoundError
from fleetwise.store.attempts import (
    begin_migration_attempt,
    fail_attempt,
    settle_migration,
    succeed_action,
)
from fleetwise.store.fleet import get_vm
from fleetwise.store.inventory import get_host
from fleetwise.store.migration_log import migration_of_action, unfinished_migrations
from fleetwise.store.plans import get_action
from fleetwise.store.views import ActionView, MigrationView, VmView

__all__ = [
    "arrival_confirmed",
    "assignments_for",
    "attempt_migration",
    "check_reporter",
    "report_result",
    "resolve_migrations",
]

logger = logging.getLogger(__name__)


def arrival_confirmed(vm: VmView, migration: MigrationView) -> bool:
    """Whether the destination reported ``vm`` running since ``migration`` started."""
    return (
        vm.host == migration.destination_host
        and vm.state is VmState.RUNNING
        and vm.located_at is not None
        and vm.located_at >= migration.started_at
    )


def _still_on_source(vm: VmView, migration: MigrationView, deadline: datetime) -> bool:
    return (
        vm.host == migration.source_host
        and vm.state is not VmState.MIGRATING
        and vm.reported_at > deadline
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


def resolve_migrations(context: ControllerContext, now: datetime, warned: set[int]) -> None:
    """Settle open attempts whose outcome the VM's reported location now tells."""
    store = context.store
    timeout = timedelta(seconds=context.config.migration_timeout_s)
    for migration in store.read(unfinished_migrations):
        vm = store.read(get_vm, migration.vm_uuid)
        deadline = migration.started_at + timeout
        if arrival_confirmed(vm, migration):
            logger.info("migration %s confirmed by the destination's report", migration.id)
            store.run(settle_migration, migration.id, True, None, now=now)
        elif now > deadline and _still_on_source(vm, migration, deadline):
            error = (
                f"no result within {context.config.migration_timeout_s:g} s "
                "and the source still reports the VM"
            )
            logger.warning("migration %s failed: %s", migration.id, error)
            store.run(settle_migration, migration.id, False, error, now=now)
        elif now > deadline and migration.id not in warned:
            warned.add(migration.id)
            logger.warning(
                "migration %s of VM %s: outcome unknown; waiting for a report of the VM",
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


def assignments_for(context: ControllerContext, host: str, now: datetime) -> list[Assignment]:
    """The migrations ``host``'s agent must run now."""
    timeout = context.config.migration_timeout_s
    out: list[Assignment] = []
    for migration in context.store.read(unfinished_migrations):
        if migration.source_host != host or migration.action_id is None:
            continue
        if migration.started_at < context.started_at:
            continue  # outcome unknown since a restart: settled from reports only
        remaining = timeout - (now - migration.started_at).total_seconds()
        uris = _destination_uris(context, migration.destination_host)
        if remaining <= 0 or uris is None:
            continue
        out.append(
            Assignment(
                action_id=migration.action_id,
                vm_uuid=migration.vm_uuid,
                destination_host=migration.destination_host,
                destination_uri=uris[0],
                migration_uri=uris[1],
                timeout_s=remaining,
            )
        )
    return out


def check_reporter(context: ControllerContext, principal: Principal, action_id: int) -> ActionView:
    """The migration action ``action_id``, if ``principal`` may report on it."""
    action = context.store.read(get_action, action_id)
    if action.kind is not ActionKind.MIGRATE or action.source_host is None:
        raise ConflictError(f"action {action_id} is a {action.kind.value}, not a migration")
    if not principal.may_act_for(action.source_host):
        raise ForbiddenError(f"action {action_id} belongs to host {action.source_host}")
    return action


def report_result(
    context: ControllerContext, principal: Principal, action_id: int, ok: bool, error: str
) -> ActionView | None:
    """Record an agent's result for the running attempt of a migration action."""
    action = check_reporter(context, principal, action_id)
    store = context.store
    migration = store.read(migration_of_action, action_id)
    if migration is None:
        # The destination's report may have settled the migration first: a result that
        # agrees with the recorded outcome is accepted again, anything else conflicts.
        settled = ActionState.SUCCEEDED if ok else ActionState.FAILED
        if action.state is settled:
            return action
        raise ConflictError(f"action {action_id} has no migration in progress")
    now = context.now()
    if not ok and arrival_confirmed(store.read(get_vm, migration.vm_uuid), migration):
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
    return store.run(settle_migration, migration.id, ok, None if ok else error or None, now=now)
