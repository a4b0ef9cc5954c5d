"""Operators steering around trouble: resolving migrations, evacuating hosts, ending drains."""

from __future__ import annotations

from tests.helpers.controller import Harness, HarnessFactory, vm_uuid

LAYOUT = {"h1": {1: 400.0, 2: 300.0}, "h2": {3: 1500.0}, "h3": {4: 1000.0}}


def _migrating(harness: Harness) -> tuple[int, int]:
    """A plan whose first migration (VM 1 away from h1, in maintenance) runs; its ids."""
    harness.build_fleet(LAYOUT)
    harness.ok("POST", "/v1/hosts/h1/maintenance", json={"on": True})
    plan = harness.plan_round()
    assert plan is not None and plan.drained == ("h1",)
    harness.execute()
    (migration,) = harness.ok("GET", "/v1/migrations")
    return plan.id, migration["id"]


def test_a_stuck_migration_is_resolved_on_its_destination(make_harness: HarnessFactory) -> None:
    harness = make_harness()
    plan_id, migration_id = _migrating(harness)
    running = harness.ok("GET", f"/v1/migrations/{migration_id}")
    assert running["outcome"] is None
    wrong = harness.call("POST", f"/v1/migrations/{migration_id}/resolve", json={"on": "h3"})
    if running["destination"] != "h3":
        assert wrong.status_code == 409 and "neither the source" in wrong.json()["detail"]
    resolved = harness.ok(
        "POST", f"/v1/migrations/{migration_id}/resolve", json={"on": running["destination"]}
    )
    assert resolved["outcome"] == "succeeded"
    vm = harness.ok("GET", f"/v1/vms/{running['vm_uuid']}")
    assert vm["host"] == running["destination"]
    again = harness.call("POST", f"/v1/migrations/{migration_id}/resolve", json={"on": "h1"})
    assert again.status_code == 409 and "already succeeded" in again.json()["detail"]
    actions = harness.plan(plan_id)["actions"]
    assert actions[0]["state"] == "succeeded"


def test_resolving_on_the_source_fails_the_attempt_and_keeps_the_vm(
    make_harness: HarnessFactory,
) -> None:
    harness = make_harness(max_attempts=1)
    plan_id, migration_id = _migrating(harness)
    resolved = harness.ok("POST", f"/v1/migrations/{migration_id}/resolve", json={"on": "h1"})
    assert resolved["outcome"] == "failed" and "resolved by the admin" in resolved["error"]
    assert harness.vm_hosts()[1] == "h1"
    assert harness.plan(plan_id)["state"] == "failed"


def test_ending_maintenance_skips_the_drain_that_has_not_started(
    make_harness: HarnessFactory,
) -> None:
    harness = make_harness()
    plan_id, _ = _migrating(harness)
    harness.ok("POST", "/v1/hosts/h1/maintenance", json={"on": False})
    states = {a["vm_uuid"]: a["state"] for a in harness.plan(plan_id)["actions"] if a["vm_uuid"]}
    running = harness.ok("GET", "/v1/migrations")[0]["vm_uuid"]
    assert states[running] == "ongoing"  # a move under way finishes
    assert {s for vm, s in states.items() if vm != running} == {"skipped"}
    harness.finish_assignments("h1")
    harness.execute()
    assert harness.plan(plan_id)["state"] == "succeeded"


def test_evacuating_a_host_plans_its_drain_at_once(make_harness: HarnessFactory) -> None:
    harness = make_harness()
    harness.build_fleet(LAYOUT)
    evacuation = harness.ok("POST", "/v1/hosts/h1/evacuate")
    assert evacuation["host"]["maintenance"] and not evacuation["waiting"]
    plan = harness.plan(evacuation["plan_id"])
    moved = {a["vm_uuid"] for a in plan["actions"] if a["kind"] == "migrate"}
    assert moved == {vm_uuid(1), vm_uuid(2)} and "maintenance of h1" in plan["reason"]
    # While that plan is open, evacuating another host waits for it.
    second = harness.ok("POST", "/v1/hosts/h3/evacuate")
    assert second["waiting"] and second["plan_id"] is None
