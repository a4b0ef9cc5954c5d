"""Plan life cycles: rounds, automatic and recommend modes, approval, skip, expiry, retries."""

from __future__ import annotations

import pytest

from fleetwise.core.round import RequestOutcome
from fleetwise.store.reallocation import list_requests
from tests.helpers.controller import Harness, HarnessFactory, vm_uuid

# h1 is nearly idle; its VM fits best on h2. Capacity 8000 MHz per host (cap 6400).
LAYOUT = {"h1": {1: 400.0}, "h2": {2: 1500.0, 3: 1500.0}, "h3": {4: 1000.0}}


def _underload_plan(harness: Harness) -> int:
    harness.build_fleet(LAYOUT)
    assert harness.reallocate("h1", "underload").status_code == 202
    plan = harness.plan_round()
    assert plan is not None
    return plan.id


def test_automatic_plan_runs_to_success(harness: Harness) -> None:
    plan_id = _underload_plan(harness)
    assert harness.state_of(plan_id) == ("pending", [("migrate", "pending"), ("sleep", "pending")])
    outcome = harness.context.store.read(list_requests)[0].outcome
    assert outcome is RequestOutcome.PLANNED

    harness.execute()
    assert harness.state_of(plan_id) == ("ongoing", [("migrate", "ongoing"), ("sleep", "pending")])
    (assignment,) = harness.assignments("h1")
    assert assignment["destination_host"] == "h2"
    assert assignment["destination_uri"] == "qemu+tcp://h2/system"
    assert harness.assignments("h2") == []

    harness.execute()  # nothing changes while the migration runs
    assert harness.state_of(plan_id)[1] == [("migrate", "ongoing"), ("sleep", "pending")]

    harness.finish_assignments("h1")
    assert harness.vm_hosts() == {1: "h2", 2: "h2", 3: "h2", 4: "h3"}
    harness.execute()
    assert harness.state_of(plan_id) == (
        "succeeded",
        [("migrate", "succeeded"), ("sleep", "succeeded")],
    )
    assert harness.ok("GET", "/v1/hosts/h1")["power_state"] == "asleep"
    assert harness.power.status("h1").value == "off"
    (migration,) = harness.ok("GET", "/v1/migrations")
    assert (migration["source"], migration["destination"], migration["outcome"]) == (
        "h1",
        "h2",
        "succeeded",
    )


def test_recommended_plan_waits_for_approval(make_harness: HarnessFactory) -> None:
    harness = make_harness(mode="recommend")
    plan_id = _underload_plan(harness)
    harness.execute()
    assert harness.state_of(plan_id)[0] == "recommended"
    assert harness.assignments("h1") == []

    approved = harness.ok("POST", f"/v1/plans/{plan_id}/approve")
    assert approved["state"] == "pending"
    harness.execute()
    assert harness.state_of(plan_id)[0] == "ongoing"
    assert len(harness.assignments("h1")) == 1
    again = harness.call("POST", f"/v1/plans/{plan_id}/approve")
    assert again.status_code == 409 and "only recommended" in again.json()["detail"]


def test_skipped_action_is_not_carried_out(make_harness: HarnessFactory) -> None:
    harness = make_harness(mode="recommend")
    plan_id = _underload_plan(harness)
    sleep_id = harness.plan(plan_id)["actions"][1]["id"]
    assert harness.ok("POST", f"/v1/actions/{sleep_id}/skip")["state"] == "skipped"
    harness.ok("POST", f"/v1/plans/{plan_id}/approve")
    harness.execute()
    harness.finish_assignments("h1")
    harness.execute()
    assert harness.state_of(plan_id) == (
        "succeeded",
        [("migrate", "succeeded"), ("sleep", "skipped")],
    )
    assert harness.ok("GET", "/v1/hosts/h1")["power_state"] == "active"
    running = harness.call("POST", f"/v1/actions/{sleep_id}/skip")
    assert running.status_code == 409


def test_unapproved_plan_expires(make_harness: HarnessFactory) -> None:
    harness = make_harness(mode="recommend", plan_expiry_s=120)
    plan_id = _underload_plan(harness)
    harness.advance(121)
    harness.execute()
    plan = harness.plan(plan_id)
    assert plan["state"] == "superseded"
    assert {a["state"] for a in plan["actions"]} == {"cancelled"}
    response = harness.call("POST", f"/v1/plans/{plan_id}/approve")
    assert response.status_code == 409 and "superseded" in response.json()["detail"]
    assert harness.vm_hosts()[1] == "h1"


def test_approval_after_expiry_is_refused_even_before_the_executor_runs(
    make_harness: HarnessFactory,
) -> None:
    harness = make_harness(mode="recommend", plan_expiry_s=120)
    plan_id = _underload_plan(harness)
    harness.advance(121)
    assert harness.call("POST", f"/v1/plans/{plan_id}/approve").status_code == 409
    assert harness.state_of(plan_id)[0] == "superseded"


def test_cancel_stops_what_has_not_started_and_lets_running_work_finish(
    harness: Harness,
) -> None:
    plan_id = _underload_plan(harness)
    harness.execute()
    cancelled = harness.ok("POST", f"/v1/plans/{plan_id}/cancel")
    assert cancelled["state"] == "cancelled"
    assert [a["state"] for a in cancelled["actions"]] == ["ongoing", "cancelled"]
    harness.finish_assignments("h1")  # the running migration still reports its end
    harness.execute()
    assert harness.state_of(plan_id)[1] == [("migrate", "succeeded"), ("sleep", "cancelled")]
    assert harness.vm_hosts()[1] == "h2"
    assert harness.ok("GET", "/v1/hosts/h1")["power_state"] == "active"


def test_failed_migration_is_retried_up_to_the_limit_then_the_plan_fails(
    make_harness: HarnessFactory,
) -> None:
    harness = make_harness(max_attempts=3)
    plan_id = _underload_plan(harness)
    for attempt in range(1, 4):
        harness.execute()
        assert len(harness.finish_assignments("h1", ok=False, error=f"link down {attempt}")) == 1
        action = harness.plan(plan_id)["actions"][0]
        assert action["attempts"] == min(attempt + 1, 3)
        assert action["last_error"] == f"link down {attempt}"
    harness.execute()
    assert harness.state_of(plan_id) == ("failed", [("migrate", "failed"), ("sleep", "cancelled")])
    assert harness.assignments("h1") == []
    outcomes = [m["outcome"] for m in harness.ok("GET", "/v1/migrations")]
    assert outcomes == ["failed", "failed", "failed"]
    assert harness.vm_hosts()[1] == "h1"
    assert harness.ok("GET", "/v1/hosts/h1")["power_state"] == "active"


def test_a_failure_report_is_overruled_when_the_destination_runs_the_vm(
    harness: Harness,
) -> None:
    plan_id = _underload_plan(harness)
    harness.execute()
    harness.advance(5)
    harness.heartbeat("h2", [{"uuid": u, "vcpus": 1, "ram_mb": 1024} for u in _uuids(1, 2, 3)])
    harness.finish_assignments("h1", ok=False, error="lost connection after switch-over")
    assert harness.state_of(plan_id)[1][0] == ("migrate", "succeeded")
    assert harness.vm_hosts()[1] == "h2"


def _uuids(*numbers: int) -> list[str]:
    return [vm_uuid(n) for n in numbers]


def test_result_for_an_action_without_a_running_migration_is_409(harness: Harness) -> None:
    plan_id = _underload_plan(harness)
    migrate_id = harness.plan(plan_id)["actions"][0]["id"]
    response = harness.call("POST", f"/v1/actions/{migrate_id}/result", "h1", {"ok": True})
    assert response.status_code == 409 and "no migration in progress" in response.json()["detail"]
    sleep_id = harness.plan(plan_id)["actions"][1]["id"]
    response = harness.call("POST", f"/v1/actions/{sleep_id}/result", "h1", {"ok": True})
    assert response.status_code == 409 and "not a migration" in response.json()["detail"]


def test_stale_and_duplicate_requests_are_rejected_at_the_round(harness: Harness) -> None:
    harness.build_fleet(LAYOUT)
    first = harness.reallocate("h1", "underload").json()["request_id"]
    harness.advance(1)
    second = harness.reallocate("h1", "underload").json()["request_id"]
    harness.advance(1)
    old = harness.reallocate("h3", "underload").json()["request_id"]
    harness.advance(95)  # h3's request is now older than staleness window + round spacing
    for host in ("h1", "h2", "h3"):
        harness.heartbeat(host)
    earlier = harness.reallocate("h1", "underload").json()["request_id"]
    harness.advance(1)
    fresh = harness.reallocate("h1", "underload").json()["request_id"]
    plan = harness.plan_round()
    assert plan is not None and plan.request_id == fresh
    handled = {r.id: (r.outcome, r.note) for r in harness.context.store.read(list_requests)}
    assert {key: outcome for key, (outcome, _) in handled.items()} == {
        first: RequestOutcome.STALE,
        second: RequestOutcome.STALE,
        old: RequestOutcome.STALE,
        earlier: RequestOutcome.DUPLICATE,
        fresh: RequestOutcome.PLANNED,
    }
    assert f"superseded by request {fresh}" in (handled[earlier][1] or "")
    assert "more than the 90 s" in (handled[old][1] or "")


def test_no_new_plan_while_one_is_open(harness: Harness) -> None:
    _underload_plan(harness)
    request_id = harness.reallocate("h3", "underload").json()["request_id"]
    assert harness.plan_round() is None
    (pending,) = [r for r in harness.context.store.read(list_requests) if r.id == request_id]
    assert pending.outcome is None  # it waits for the next round


def test_request_that_cannot_be_placed_is_recorded(harness: Harness) -> None:
    harness.build_fleet({"h1": {1: 6000.0}, "h2": {2: 6000.0}})
    harness.reallocate("h1", "underload")
    assert harness.plan_round() is None
    assert harness.context.store.read(list_requests)[0].outcome is RequestOutcome.NO_PLACEMENT


@pytest.mark.parametrize("mode", ["automatic", "recommend"])
def test_plans_are_listed_newest_first(make_harness: HarnessFactory, mode: str) -> None:
    harness = make_harness(mode=mode)
    plan_id = _underload_plan(harness)
    (listed,) = harness.ok("GET", "/v1/plans")
    assert (listed["id"], listed["mode"], listed["reason"]) == (plan_id, mode, "underload of h1")
    state = "recommended" if mode == "recommend" else "pending"
    assert [p["id"] for p in harness.ok("GET", f"/v1/plans?state={state}")] == [plan_id]
    assert harness.ok("GET", "/v1/plans?state=failed") == []
