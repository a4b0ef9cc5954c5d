"""From the store to the decision core and back: snapshot, waves, dependencies, retention."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from fleetwise.controller.dependencies import action_dependencies
from fleetwise.controller.plan_draft import action_drafts
from fleetwise.controller.snapshot import build_snapshot
from fleetwise.core.global_manager import Migration, Solution
from fleetwise.core.lifecycle import ActionKind, ActionState, HostPowerState, PlanMode, PlanState
from fleetwise.core.lifecycle import VmState as Observed
from fleetwise.core.planner import build_plan
from fleetwise.store.controller_ops import FleetData
from fleetwise.store.samples import last_vm_samples
from fleetwise.store.views import ActionView, CpuSample, HostCpuSample, HostView, PlanView, VmView
from tests.helpers.controller import T0, Harness, host_view, vm_uuid


def _vm(uuid: str, host: str | None, capacity: int = 2000) -> VmView:
    return VmView(1, uuid, None, host, 1024, 1, capacity, Observed.RUNNING, T0, T0)


def _heard(name: str, state: HostPowerState, seconds_ago: float) -> HostView:
    return replace(host_view(name, state), last_heartbeat=T0 - timedelta(seconds=seconds_ago))


def test_snapshot_demand_capacity_and_reachability() -> None:
    fleet = FleetData(
        hosts=(
            _heard("up", HostPowerState.ACTIVE, 10),
            _heard("silent", HostPowerState.ACTIVE, 901),
            _heard("asleep", HostPowerState.ASLEEP, 5000),
            _heard("waking", HostPowerState.WAKING, 1),
            _heard("busy", HostPowerState.ACTIVE, 1),
        ),
        vms=(_vm("a", "up"), _vm("b", "up", capacity=3000), _vm("c", "silent"), _vm("d", None)),
        vm_samples={"a": (CpuSample(T0, 100.0), CpuSample(T0, 300.0), CpuSample(T0, 500.0))},
        host_samples={"up": (HostCpuSample(T0, 1000.0, 150.0),)},
        open_plans=0,
        migrating_hosts=frozenset({"busy"}),
    )
    snapshot = build_snapshot(fleet, now=T0, heartbeat_timeout_s=900)
    hosts = {h.host_id: h for h in snapshot.hosts}
    assert set(hosts) == {"up", "asleep"}
    assert (hosts["up"].power, hosts["asleep"].power) == ("awake", "asleep")
    assert hosts["up"].cpu_total == 8000 and hosts["up"].hypervisor_mhz == 150.0
    demand = {v.vm_id: v.cpu for v in snapshot.vms}
    assert demand == {"a": 400.0, "b": 3000.0}  # mean of the last two; capacity without data


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


def test_dependencies_of_a_stored_plan() -> None:
    def action(i: int, kind: ActionKind, **where: str) -> ActionView:
        return ActionView(
            id=i,
            plan_id=1,
            seq=i,
            wave=0,
            kind=kind,
            state=ActionState.PENDING,
            vm_uuid=where.get("vm"),
            source_host=where.get("source"),
            destination_host=where.get("destination"),
            host=where.get("host"),
            attempts=0,
            max_attempts=3,
            last_error=None,
            started_at=None,
            finished_at=None,
            updated_at=T0,
        )

    actions = (
        action(10, ActionKind.WAKE, host="d"),
        action(11, ActionKind.MIGRATE, vm="1", source="a", destination="b"),
        action(12, ActionKind.MIGRATE, vm="2", source="c", destination="d"),
        action(13, ActionKind.MIGRATE, vm="3", source="a", destination="d"),
        action(14, ActionKind.SLEEP, host="a"),
        action(15, ActionKind.SLEEP, host="c"),
    )
    plan = PlanView(
        1, PlanState.ONGOING, PlanMode.AUTOMATIC, "r", None, None, None, T0, T0, None, actions
    )
    assert action_dependencies(plan) == {
        10: (),
        11: (),
        12: (10,),
        13: (10,),
        14: (11, 13),
        15: (12,),
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
