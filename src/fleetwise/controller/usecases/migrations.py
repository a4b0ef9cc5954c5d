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
from datetime import datetime, timedelta

from fleetwise.controller.context import ControllerContext
from fleetwise.core.execution import MigrationSlots
from fleetwise.core.lifecycle import VmState
from fleetwise.errors import ConflictError, NotFoundError
from fleetwise.store.attempts import (
    begin_migration_attempt,
    fail_attempt,
    settle_migration,
    succeed_action,
)
from fleetwise.store.fleet import get_vm
from fleetwise.store.inventory import get_host
from fleetwise.store.migration_log import unfinished_migrations
from fleetwise.store.views import ActionView, MigrationView, VmView

__all__ = ["arrival_confirmed", "attempt_migration", "resolve_migrations"]

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
