"""Live-migration records: start, finish, and the VM's move in the same transaction."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from fleetwise.core.lifecycle import HostPowerState, MigrationOutcome
from fleetwise.store import ConflictError, NotFoundError, Store
from fleetwise.store.inventory import (
    list_vms,
    register_host,
    report_vms,
    set_host_power_state,
    set_maintenance,
)
from fleetwise.store.migration_log import finish_migration, list_migrations, start_migration
from tests.helpers.store import at, host_spec, vm_report, vm_uuid


@pytest.fixture
def fleet(store: Store) -> Store:
    for name in ("h0", "h1", "h2"):
        store.run(register_host, host_spec(name), now=at(0))
    store.run(report_vms, "h0", [vm_report(1), vm_report(2)], at(0))
    return store


def _host_of(store: Store, n: int) -> str | None:
    (vm,) = [v for v in store.read(list_vms) if v.uuid == vm_uuid(n)]
    return vm.host


def test_successful_migration_moves_the_vm(fleet: Store) -> None:
    started = fleet.run(start_migration, vm_uuid(1), "h0", "h1", now=at(10))
    assert _host_of(fleet, 1) == "h0"  # still on the source while it runs
    done = fleet.run(finish_migration, started.id, MigrationOutcome.SUCCEEDED, now=at(40))
    assert (done.outcome, done.finished_at) == (MigrationOutcome.SUCCEEDED, at(40))
    assert _host_of(fleet, 1) == "h1"
    assert [(m.source_host, m.destination_host) for m in fleet.read(list_migrations)] == [
        ("h0", "h1")
    ]


def test_failed_migration_leaves_the_vm_where_it_was(fleet: Store) -> None:
    started = fleet.run(start_migration, vm_uuid(1), "h0", "h1", now=at(10))
    done = fleet.run(
        finish_migration, started.id, MigrationOutcome.FAILED, now=at(40), error="connection reset"
    )
    assert (done.outcome, done.error) == (MigrationOutcome.FAILED, "connection reset")
    assert _host_of(fleet, 1) == "h0"
    again = fleet.run(start_migration, vm_uuid(1), "h0", "h2", now=at(50))  # a retry may start
    assert again.destination_host == "h2"


def test_newer_report_beats_a_late_migration_record(fleet: Store) -> None:
    started = fleet.run(start_migration, vm_uuid(1), "h0", "h1", now=at(10))
    fleet.run(report_vms, "h2", [vm_report(1)], at(60), complete=False)
    fleet.run(finish_migration, started.id, MigrationOutcome.SUCCEEDED, now=at(40))
    assert _host_of(fleet, 1) == "h2"


def test_one_unfinished_migration_per_vm(fleet: Store) -> None:
    fleet.run(start_migration, vm_uuid(1), "h0", "h1", now=at(10))
    with pytest.raises(ConflictError, match="already migrating"):
        fleet.run(start_migration, vm_uuid(1), "h0", "h2", now=at(11))
    assert len(fleet.read(list_migrations)) == 1


def test_database_itself_refuses_two_unfinished_migrations(fleet: Store, engine: Engine) -> None:
    fleet.run(start_migration, vm_uuid(1), "h0", "h1", now=at(10))
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO migrations (vm_id, source_host_id, destination_host_id, started_at) "
                "SELECT vm_id, source_host_id, destination_host_id, started_at FROM migrations"
            )
        )


@pytest.mark.parametrize(
    ("move", "error", "match"),
    [
        ((1, "h1", "h2"), ConflictError, "not on h1"),
        ((9, "h0", "h1"), NotFoundError, "unknown VM"),
        ((1, "h0", "h9"), NotFoundError, "unknown host"),
    ],
)
def test_start_checks_where_the_vm_is(
    fleet: Store, move: tuple[int, str, str], error: type[Exception], match: str
) -> None:
    vm, source, destination = move
    with pytest.raises(error, match=match):
        fleet.run(start_migration, vm_uuid(vm), source, destination, now=at(10))
    assert fleet.read(list_migrations) == ()


def test_destination_must_be_awake_and_not_in_maintenance(fleet: Store) -> None:
    fleet.run(
        set_host_power_state,
        "h1",
        HostPowerState.ACTIVE,
        HostPowerState.GOING_TO_SLEEP,
        now=at(1),
        reason="idle",
    )
    fleet.run(set_maintenance, "h2", True, now=at(1))
    with pytest.raises(ConflictError, match="h1 is going_to_sleep"):
        fleet.run(start_migration, vm_uuid(1), "h0", "h1", now=at(10))
    with pytest.raises(ConflictError, match="h2 is in maintenance"):
        fleet.run(start_migration, vm_uuid(1), "h0", "h2", now=at(10))


def test_a_migration_finishes_once(fleet: Store) -> None:
    started = fleet.run(start_migration, vm_uuid(1), "h0", "h1", now=at(10))
    fleet.run(finish_migration, started.id, MigrationOutcome.FAILED, now=at(20))
    with pytest.raises(ConflictError, match="already finished"):
        fleet.run(finish_migration, started.id, MigrationOutcome.SUCCEEDED, now=at(30))
    assert _host_of(fleet, 1) == "h0"
    with pytest.raises(NotFoundError):
        fleet.run(finish_migration, started.id + 100, MigrationOutcome.SUCCEEDED, now=at(30))
