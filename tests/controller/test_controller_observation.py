"""From the store to the decision core and back: observation, waves, dependencies, retention."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from fleetwise.controller.observation import observe_fleet
from fleetwise.controller.plan_draft import action_drafts
from fleetwise.core.global_manager import Migration, Solution
from fleetwise.core.lifecycle import ActionKind, HostPowerState
from fleetwise.core.lifecycle import VmState as Observed
from fleetwise.core.planner import PlannedAction, build_plan, dependencies
from fleetwise.core.round import RoundConfig, plan_round
from fleetwise.store.fleet import FleetData
from fleetwise.store.samples import last_vm_samples
from fleetwise.store.views import CpuSample, HostCpuSample, HostView, MigrationView, VmView
from tests.helpers.controller import T0, Harness, host_view, vm_uuid


def _vm(uuid: str, host: str | None, capacity: int = 2000) -> VmView:
    return VmView(1, uuid, None, host, 1024, 1, capacity, Observed.RUNNING, T0, T0)


def _heard(name: str, state: HostPowerState, seconds_ago: float) -> HostView:
    return replace(host_view(name, state), last_heartbeat=T0 - timedelta(seconds=seconds_ago))


def test_observation_keeps_what_the_store_holds_and_the_round_excludes_unavailable_hosts() -> None:
    running = MigrationView(7, "x", "busy", "target", 3, T0, None, None, None)
    fleet = FleetData(
        hosts=(
            _heard("up", HostPowerState.ACTIVE, 10),
            _heard("silent", HostPowerState.ACTIVE, 901),
            _heard("asleep", HostPowerState.ASLEEP, 5000),
            _heard("waking", HostPowerState.WAKING, 1),
            _heard("busy", HostPowerState.ACTIVE, 1),
            _heard("target", HostPowerState.ACTIVE, 1),
        ),
        vms=(_vm("a", "up"), _vm("b", "up", capacity=3000), _vm("c", "silent"), _vm("d", None)),
        vm_samples={"a": (CpuSample(T0, 300.0), CpuSample(T0, 500.0))},
        host_samples={"up": (HostCpuSample(T0, 1000.0, 150.0),)},
        requests=(),
        open_plans=0,
        migrations=(running,),
    )
    observation = observe_fleet(fleet, now=T0, power_control=lambda host: host != "up")
    hosts = {h.host_id: h for h in observation.hosts}
    assert hosts["up"].cpu_mhz == 8000 and hosts["up"].hypervisor_mhz == 150.0
    assert hosts["silent"].last_heard_s == (T0 - timedelta(seconds=901)).timestamp()
    assert not hosts["up"].power_control and hosts["asleep"].power_control
    assert observation.vms.demand(2).tolist() == [400.0, 3000.0, 2000.0, 2000.0]
    decision = plan_round(observation, RoundConfig(heartbeat_timeout_s=900))
    assert set(decision.excluded) == {"silent", "waking", "busy", "target"}
    assert "unreachable" in decision.excluded["silent"]
    assert "migration" in decision.excluded["busy"]


SOLUTION = Solution(
    migrations=(Migration(vm_uuid(1), "a", "b"), Migration(vm_uuid(2), "c", "d")),
    wake=("d",),
    sleep=("a", "c"),
)


def test_waves_follow_dependencies_and_keep_order() -> None:
    drafts = action_drafts(build_plan(SOLUTION), max_attempts=3)
    assert [(d.kind, d.wave, d.vm_uuid or d.host) for d in drafts] == [
        (ActionKind.WAKE, 0, "d"),
        (ActionKind.MIGRATE, 0, vm_uuid(1)),
        (ActionKind.MIGRATE, 1, vm_uuid(2)),
        (ActionKind.SLEEP, 1, "a"),
        (ActionKind.SLEEP, 2, "c"),
    ]
    assert {d.max_attempts for d in drafts} == {3}


def test_dependencies_of_stored_actions() -> None:
    actions = [
        PlannedAction(10, ActionKind.WAKE, "d"),
        PlannedAction(11, ActionKind.MIGRATE, "a", "1", "b"),
        PlannedAction(12, ActionKind.MIGRATE, "c", "2", "d"),
        PlannedAction(13, ActionKind.MIGRATE, "b", "3", "d"),
        PlannedAction(14, ActionKind.MIGRATE, "d", "4", "a"),
        PlannedAction(15, ActionKind.SLEEP, "a"),
        PlannedAction(16, ActionKind.SLEEP, "c"),
    ]
    assert dependencies(actions) == {
        10: (),
        11: (),
        12: (10,),
        13: (10,),
        14: (11,),  # arrives on a, which sends VM 1 away first
        15: (11,),
        16: (12,),
    }


def test_old_samples_are_pruned_but_the_latest_two_kept(harness: Harness) -> None:
    harness.build_fleet({"h1": {1: 100.0, 2: 200.0}})
    harness.advance(2 * 86_400)
    harness.register("h1", [{"uuid": vm_uuid(3), "vcpus": 1, "ram_mb": 512}])
    harness.samples("h1", {3: 50.0})
    # Every VM still has only its two newest samples; h1's oldest host sample goes.
    assert harness.global_manager.prune_samples() == 1
    for _ in range(3):
        harness.advance(300)
        harness.samples("h1", {3: 60.0})
    harness.advance(2 * 86_400)
    assert harness.global_manager.prune_samples() == 2 + 3  # VM 3's and the host's extras
    kept = harness.context.store.read(last_vm_samples, 10)
    assert {uuid: len(series) for uuid, series in kept.items()} == {
        vm_uuid(1): 2,
        vm_uuid(2): 2,
        vm_uuid(3): 2,
    }
