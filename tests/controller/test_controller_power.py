"""Host power: wake-ups before the migrations that need them, sleeps only of empty hosts."""

from __future__ import annotations

from tests.helpers.controller import Harness, HarnessFactory, vm

# h1 is overloaded; h2 has no room for VM 1, so the sleeping h3 must be woken for it.
OVERLOAD = {"h1": {1: 3000.0, 2: 3000.0}, "h2": {3: 3000.0, 4: 2500.0}, "h3": {}}


def _overload_plan(harness: Harness) -> int:
    harness.build_fleet(OVERLOAD)
    harness.put_to_sleep("h3")
    assert harness.reallocate("h1", "overload", [1]).status_code == 202
    plan = harness.plan_round()
    assert plan is not None
    assert harness.state_of(plan.id)[1] == [("wake", "pending"), ("migrate", "pending")]
    return plan.id


def test_migration_waits_until_the_woken_host_is_back(harness: Harness) -> None:
    plan_id = _overload_plan(harness)
    harness.execute()
    assert harness.state_of(plan_id)[1] == [("wake", "ongoing"), ("migrate", "pending")]
    assert harness.ok("GET", "/v1/hosts/h3")["power_state"] == "waking"
    for _ in range(3):  # the host powers up, but its agent has not spoken yet
        harness.advance(20)
        harness.execute()
        assert harness.assignments("h1") == []
    assert harness.power.status("h3").value == "on"
    harness.register("h3", [])  # the agent starts and registers
    harness.execute()
    assert harness.state_of(plan_id)[1] == [("wake", "succeeded"), ("migrate", "ongoing")]
    assert harness.ok("GET", "/v1/hosts/h3")["power_state"] == "active"
    (assignment,) = harness.assignments("h1")
    assert assignment["destination_host"] == "h3"
    harness.finish_assignments("h1")
    harness.execute()
    assert harness.state_of(plan_id)[0] == "succeeded"
    assert harness.vm_hosts()[1] == "h3"


def test_a_heartbeat_also_confirms_the_wake_up(harness: Harness) -> None:
    plan_id = _overload_plan(harness)
    harness.execute()
    harness.advance(40)
    harness.heartbeat("h3")
    harness.execute()
    assert harness.state_of(plan_id)[1][0] == ("wake", "succeeded")


def test_host_that_never_comes_back_fails_the_plan_after_the_retries(
    make_harness: HarnessFactory,
) -> None:
    harness = make_harness(wake_timeout_s=100, max_attempts=2)
    plan_id = _overload_plan(harness)
    harness.power.fail_next_wakes("h3", 5)  # every magic packet gets lost
    harness.execute()
    harness.advance(101)
    harness.execute()  # first attempt timed out: host back to asleep, retried at once
    assert harness.ok("GET", "/v1/hosts/h3")["power_state"] in ("asleep", "waking")
    action = harness.plan(plan_id)["actions"][0]
    assert action["attempts"] == 2 and "did not come back within 100 s" in action["last_error"]
    harness.execute()
    harness.advance(101)
    harness.execute()
    assert harness.state_of(plan_id) == ("failed", [("wake", "failed"), ("migrate", "cancelled")])
    assert harness.ok("GET", "/v1/hosts/h3")["power_state"] == "asleep"
    assert harness.ok("GET", "/v1/migrations") == []
    assert harness.vm_hosts()[1] == "h1"


UNDERLOAD_TWO = {"h1": {1: 300.0, 2: 300.0}, "h2": {3: 1500.0}}


def test_sleep_waits_for_every_migration_away(harness: Harness) -> None:
    harness.build_fleet(UNDERLOAD_TWO)
    harness.reallocate("h1", "underload")
    plan = harness.plan_round()
    assert plan is not None
    harness.execute()
    assert len(harness.finish_assignments("h1")) == 1  # one at a time out of a host
    harness.execute()
    kinds = harness.state_of(plan.id)[1]
    assert kinds == [("migrate", "succeeded"), ("migrate", "ongoing"), ("sleep", "pending")]
    assert harness.ok("GET", "/v1/hosts/h1")["power_state"] == "active"
    assert len(harness.finish_assignments("h1")) == 1
    harness.execute()
    assert harness.state_of(plan.id)[0] == "succeeded"
    assert harness.ok("GET", "/v1/hosts/h1")["power_state"] == "asleep"


def test_a_host_that_is_not_empty_is_not_put_to_sleep(harness: Harness) -> None:
    harness.build_fleet(UNDERLOAD_TWO)
    harness.reallocate("h1", "underload")
    plan = harness.plan_round()
    assert plan is not None
    for _ in range(2):
        harness.execute()
        harness.finish_assignments("h1")
    harness.advance(1)
    harness.heartbeat("h1", [vm(9)])  # a VM was started on h1 meanwhile
    harness.execute()
    state, actions = harness.state_of(plan.id)
    assert state == "succeeded" and actions[-1] == ("sleep", "skipped")
    assert "still has 1 VMs" in harness.plan(plan.id)["actions"][-1]["last_error"]
    assert harness.ok("GET", "/v1/hosts/h1")["power_state"] == "active"


def test_spare_hosts_stay_awake(make_harness: HarnessFactory) -> None:
    harness = make_harness(global_manager={"spare_hosts": 1})
    harness.build_fleet({**UNDERLOAD_TWO, "h4": {}})
    harness.reallocate("h1", "underload")
    plan = harness.plan_round()
    assert plan is not None
    actions = harness.plan(plan.id)["actions"]
    assert [(a["kind"], a["host"]) for a in actions if a["kind"] == "sleep"] == [("sleep", "h1")]
    for _ in range(2):
        harness.execute()
        harness.finish_assignments("h1")
    harness.register("h4", [vm(7)])  # the spare got a VM: h1 must now stay up as the spare
    harness.execute()
    assert harness.state_of(plan.id)[1][-1] == ("sleep", "skipped")
    assert "spare" in harness.plan(plan.id)["actions"][-1]["last_error"]
    assert harness.ok("GET", "/v1/hosts/h1")["power_state"] == "active"


def test_failing_sleep_command_returns_the_host_to_active(make_harness: HarnessFactory) -> None:
    harness = make_harness(max_attempts=1)
    harness.build_fleet(UNDERLOAD_TWO)
    harness.reallocate("h1", "underload")
    plan = harness.plan_round()
    assert plan is not None
    for _ in range(2):
        harness.execute()
        harness.finish_assignments("h1")
    # The simulated driver refuses to put a host to sleep while it is still waking up.
    harness.power.sleep("h1")
    harness.power.wake("h1")
    harness.execute()
    assert harness.state_of(plan.id) == (
        "failed",
        [("migrate", "succeeded"), ("migrate", "succeeded"), ("sleep", "failed")],
    )
    assert harness.ok("GET", "/v1/hosts/h1")["power_state"] == "active"
