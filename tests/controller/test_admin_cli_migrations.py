"""``fleetwise migrations list|show|resolve`` on the migrations of a drain, against a
real controller process whose agents never report (so a migration runs until resolved);
the tests run in order on one fleet."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.helpers.admin_cli import AdminFleet, admin_fleet, fields, one_error_line, shown
from tests.helpers.controller import vm_uuid
from tests.helpers.lab import eventually

LAYOUT = {"h1": {1: 500.0, 2: 300.0}, "h2": {3: 900.0}, "h3": {4: 700.0}}


def running(fleet: AdminFleet) -> list[dict[str, Any]]:
    """The migrations under way."""
    return [m for m in fleet.api("GET", "/v1/migrations") if m["outcome"] is None]


def progress(fleet: AdminFleet) -> Callable[[], tuple[tuple[int, str | None], ...]]:
    """What moves while the executor works: each migration and its outcome."""
    return lambda: tuple((m["id"], m["outcome"]) for m in fleet.api("GET", "/v1/migrations"))


def wait_for_a_running_migration(fleet: AdminFleet) -> dict[str, Any]:
    eventually(lambda: bool(running(fleet)), "a migration runs", progress=progress(fleet), steps=5)
    (migration,) = running(fleet)
    return migration


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdminFleet]:
    """A fleet draining h1 with one migration under way."""
    with admin_fleet(
        tmp_path_factory.mktemp("admin-cli-migrations"), LAYOUT, executor_spacing_s=0.2
    ) as running_fleet:
        plan_id = running_fleet.api("POST", "/v1/hosts/h1/evacuate")["plan_id"]
        running_fleet.api("POST", f"/v1/plans/{plan_id}/approve")
        wait_for_a_running_migration(running_fleet)
        yield running_fleet


def test_migrations_list_shows_each_attempt(fleet: AdminFleet) -> None:
    (migration,) = fleet.api("GET", "/v1/migrations")
    out = fleet.out("migrations", "list", columns=80)
    lines = out.splitlines()
    assert lines[0] == "1 migration"
    assert max(len(line) for line in lines) <= 80
    (cells,) = [line.split() for line in lines if migration["vm_uuid"] in line.split()]
    assert cells[:2] == [str(migration["id"]), migration["vm_uuid"]]
    assert cells[2:5] == [migration["source"], "→", migration["destination"]]
    assert cells[-2:] == ["running", "-"]
    assert fleet.json("migrations", "list") == [migration]


@pytest.mark.parametrize(
    ("options", "found"),
    [
        (("--vm", vm_uuid(1)), 1),
        (("--vm", vm_uuid(3)), 0),
        (("--since", "1h"), 1),
        (("--since", (datetime.now(UTC) + timedelta(days=1)).isoformat()), 0),
        (("--since", "2000-01-01T00:00:00"), 1),
        (("--limit", "1"), 1),
    ],
)
def test_migrations_list_filters(fleet: AdminFleet, options: tuple[str, ...], found: int) -> None:
    assert len(fleet.json("migrations", "list", *options)) == found


def test_migrations_show_gives_every_field(fleet: AdminFleet) -> None:
    (migration,) = running(fleet)
    out = fleet.out("migrations", "show", str(migration["id"]))
    assert out.splitlines()[0] == f"migration {migration['id']}"
    assert fields(out) == {
        "VM": vm_uuid(1),
        "source": "h1",
        "destination": migration["destination"],
        "action": str(migration["action_id"]),
        "started": shown(migration["started_at"]),
        "finished": "-",
        "outcome": "running",
        "error": "-",
    }
    assert fleet.json("migrations", "show", str(migration["id"])) == migration


@pytest.mark.parametrize(
    ("target", "on", "message"),
    [
        ("running", "h3", "409 host h3 is neither the source nor the destination of migration"),
        ("running", "nowhere", "404 unknown host"),
        ("unknown", "h1", "404 unknown migration: 999"),
    ],
)
def test_resolve_refuses_what_cannot_be(
    fleet: AdminFleet, target: str, on: str, message: str
) -> None:
    migration_id = running(fleet)[0]["id"] if target == "running" else 999
    result = fleet.cli("migrations", "resolve", str(migration_id), "--on", on)
    assert message in one_error_line(result, 2)


def test_resolve_on_the_source_fails_the_attempt(fleet: AdminFleet) -> None:
    (migration,) = running(fleet)
    body = fleet.json("migrations", "resolve", str(migration["id"]), "--on", "h1")
    assert (body["outcome"], body["error"]) == ("failed", "resolved by the admin: the VM is on h1")
    assert body == fleet.api("GET", f"/v1/migrations/{migration['id']}")
    assert fleet.api("GET", f"/v1/vms/{vm_uuid(1)}")["host"] == "h1"


def test_resolve_on_the_destination_settles_it(fleet: AdminFleet) -> None:
    migration = wait_for_a_running_migration(fleet)  # the next attempt, or the next VM
    destination = migration["destination"]
    out = fleet.out("migrations", "resolve", str(migration["id"]), "--on", destination)
    assert out == (
        f"migration {migration['id']}: succeeded; VM {migration['vm_uuid']} is on "
        f"{destination} (its destination)\n"
    )
    assert fleet.api("GET", f"/v1/vms/{migration['vm_uuid']}")["host"] == destination
    again = fleet.cli("migrations", "resolve", str(migration["id"]), "--on", destination)
    assert f"409 migration {migration['id']} already succeeded" in one_error_line(again, 2)
