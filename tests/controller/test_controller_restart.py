"""A restarted controller resumes open plans from the store and never guesses an outcome."""

from __future__ import annotations

from tests.helpers.controller import Harness, HarnessFactory, vm

LAYOUT = {"h1": {1: 400.0}, "h2": {2: 1500.0, 3: 1500.0}, "h3": {4: 1000.0}}


def _migrating(make_harness: HarnessFactory, **config: object) -> tuple[Harness, int]:
    """A controller whose plan has its migration of VM 1 (h1 → h2) running."""
    harness = make_harness(**config)
    harness.build_fleet(LAYOUT)
    harness.reallocate("h1", "underload")
    plan = harness.plan_round()
    assert plan is not None
    harness.execute()
    assert len(harness.assignments("h1")) == 1
    return harness, plan.id


def _restart(make_harness: HarnessFactory, old: Harness, **config: object) -> Harness:
    old.close()  # the process dies: nothing is finished or handed over
    old.advance(30)
    return make_harness(**config)


def test_unknown_outcome_is_settled_by_the_destinations_report(
    make_harness: HarnessFactory,
) -> None:
    before, plan_id = _migrating(make_harness)
    after = _restart(make_harness, before)
    after.execute()
    assert after.state_of(plan_id)[1] == [("migrate", "ongoing"), ("sleep", "pending")]
    assert after.assignments("h1") == []  # not handed out again: it may have happened
    assert after.vm_hosts()[1] == "h1"
    after.heartbeat("h2", [vm(1), vm(2), vm(3)])  # h2 runs VM 1 now
    after.heartbeat("h1", [])
    after.execute()
    after.execute()
    assert after.state_of(plan_id) == (
        "succeeded",
        [("migrate", "succeeded"), ("sleep", "succeeded")],
    )
    assert after.vm_hosts()[1] == "h2"
    (migration,) = after.ok("GET", "/v1/migrations")
    assert migration["outcome"] == "succeeded"


def test_the_agents_late_result_is_still_taken(make_harness: HarnessFactory) -> None:
    before, plan_id = _migrating(make_harness)
    action_id = before.assignments("h1")[0]["action_id"]
    after = _restart(make_harness, before)
    after.ok("POST", f"/v1/actions/{action_id}/result", "h1", {"ok": True})
    after.execute()
    assert after.state_of(plan_id)[0] == "succeeded"


def test_vm_still_on_the_source_after_the_timeout_is_a_failed_attempt(
    make_harness: HarnessFactory,
) -> None:
    before, plan_id = _migrating(make_harness, migration_timeout_s=120)
    after = _restart(make_harness, before, migration_timeout_s=120)
    after.advance(60)
    after.heartbeat("h1", [vm(1)])  # before the deadline: proves nothing
    after.execute()
    assert after.ok("GET", "/v1/migrations")[0]["outcome"] is None
    after.advance(60)
    after.heartbeat("h1", [vm(1)])  # after it: the attempt failed, VM 1 never left
    after.execute()
    migrations = after.ok("GET", "/v1/migrations")
    assert [m["outcome"] for m in migrations] == ["failed", None]  # retried at once
    (assignment,) = after.assignments("h1")  # the new attempt is handed out
    assert "no result within 120 s" in after.plan(plan_id)["actions"][0]["last_error"]
    after.ok("POST", f"/v1/actions/{assignment['action_id']}/result", "h1", {"ok": True})
    after.execute()
    assert after.state_of(plan_id)[0] == "succeeded"


def test_silent_hosts_end_the_migration_unknown_and_are_quarantined(
    make_harness: HarnessFactory,
) -> None:
    settings = {"migration_timeout_s": 120, "heartbeat_timeout_s": 180, "dead_host_grace_s": 120}
    before, plan_id = _migrating(make_harness, **settings)
    after = _restart(make_harness, before, **settings)
    after.advance(250)  # nobody reports VM 1, but the grace period is not over
    after.execute()
    assert after.state_of(plan_id)[1][0] == ("migrate", "ongoing")
    after.advance(60)  # now both ends have been silent for longer than 180 + 120 s
    after.execute()
    state, actions = after.state_of(plan_id)
    assert state == "failed" and actions[0] == ("migrate", "failed")
    assert after.ok("GET", "/v1/migrations")[0]["outcome"] == "unknown"
    assert after.vm_hosts()[1] == "h1"  # where the store last saw it
    hosts = {h["name"]: h for h in after.ok("GET", "/v1/hosts")}
    assert hosts["h1"]["quarantined"] and hosts["h1"]["unreachable"]
    health = after.ok("GET", "/v1/health")
    assert health["status"] == "degraded" and any("quarantined" in r for r in health["reasons"])
    after.heartbeat("h1", [vm(1)])  # its agent is back and says where VM 1 is
    assert not {h["name"]: h for h in after.ok("GET", "/v1/hosts")}["h1"]["quarantined"]


def test_approved_and_recommended_plans_survive_a_restart(make_harness: HarnessFactory) -> None:
    before = make_harness(mode="recommend")
    before.build_fleet(LAYOUT)
    before.reallocate("h1", "underload")
    plan = before.plan_round()
    assert plan is not None
    after = _restart(make_harness, before, mode="recommend")
    assert after.state_of(plan.id)[0] == "recommended"
    after.ok("POST", f"/v1/plans/{plan.id}/approve")
    third = _restart(make_harness, after, mode="recommend")
    third.execute()
    assert third.state_of(plan.id)[0] == "ongoing"
    assert len(third.assignments("h1")) == 1


def test_result_after_the_destination_settled_the_migration_is_accepted(
    make_harness: HarnessFactory,
) -> None:
    harness, plan_id = _migrating(make_harness)
    action_id = harness.assignments("h1")[0]["action_id"]
    harness.heartbeat("h2", [vm(1), vm(2), vm(3)])  # the destination reports VM 1 first
    harness.heartbeat("h1", [])
    harness.execute()
    assert harness.state_of(plan_id)[1][0] == ("migrate", "succeeded")
    # The source's own (agreeing) result arrives late: accepted, nothing changes.
    late = harness.call("POST", f"/v1/actions/{action_id}/result", "h1", {"ok": True})
    assert late.status_code == 204
    # A result that contradicts the recorded outcome still conflicts.
    wrong = harness.call("POST", f"/v1/actions/{action_id}/result", "h1", {"ok": False})
    assert wrong.status_code == 409
    assert harness.vm_hosts()[1] == "h2"
