"""Migration assignments: run once, report progress and result, survive restarts."""

from __future__ import annotations

import random
import threading
from pathlib import Path
from typing import Any

import httpx

from fleetwise.agent.journal import ActionJournal, JournalState
from fleetwise.agent.persist import JsonFile
from fleetwise.agent.service import Agent
from fleetwise.drivers.hypervisor.base import (
    DEFAULT_MIGRATION_TIMEOUT_S,
    MigrationResult,
    MigrationTarget,
    ProgressCallback,
)
from fleetwise.drivers.hypervisor.simulated import SimulatedFleet, SimulatedHypervisor
from fleetwise.service.clock import VirtualClock
from tests.helpers.agent import VM1, VM2, FakeController, config_for, trace_vm, two_host_fleet


class GatedHypervisor(SimulatedHypervisor):
    """A simulated host whose migrations wait for ``gate`` before they begin."""

    def __init__(self, fleet: SimulatedFleet, host: str) -> None:
        super().__init__(fleet, host)
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.calls: list[str] = []

    def migrate(
        self,
        uuid: str,
        destination: MigrationTarget,
        *,
        progress: ProgressCallback | None = None,
        timeout_s: float = DEFAULT_MIGRATION_TIMEOUT_S,
    ) -> MigrationResult:
        self.calls.append(uuid)
        self.entered.set()
        assert self.gate.wait(10), "test never opened the gate"
        return super().migrate(uuid, destination, progress=progress, timeout_s=timeout_s)


def assignment(action_id: int, vm: str, dest: str = "b", timeout_s: float = 60.0) -> dict[str, Any]:
    return {
        "action_id": action_id,
        "vm_uuid": vm,
        "destination_host": dest,
        "destination_uri": f"sim://{dest}",
        "timeout_s": timeout_s,
    }


def setup(
    tmp_path: Path, *, bandwidth_mb_s: float = 100.0
) -> tuple[SimulatedFleet, VirtualClock, FakeController]:
    clock = VirtualClock()
    fleet = two_host_fleet(clock, bandwidth_mb_s=bandwidth_mb_s)
    fleet.add_vm("a", trace_vm(VM1, [0.3], ram_mb=1000))
    fleet.add_vm("a", trace_vm(VM2, [0.3], ram_mb=1000))
    return fleet, clock, FakeController()


def agent_on(
    tmp_path: Path,
    fleet: SimulatedFleet,
    clock: VirtualClock,
    controller: FakeController,
    hypervisor: SimulatedHypervisor | None = None,
) -> Agent:
    agent = Agent(
        config_for(tmp_path),
        hypervisor=hypervisor or fleet.hypervisor("a"),
        clock=clock,
        transport=httpx.MockTransport(controller.handle),
        rng=random.Random(1),
    )
    agent.pre_start()  # registers
    return agent


def test_an_assignment_runs_and_reports_progress_and_result(tmp_path: Path) -> None:
    fleet, clock, controller = setup(tmp_path)
    agent = agent_on(tmp_path, fleet, clock, controller)
    controller.assignments = [assignment(7, VM1)]
    agent.assignments()
    assert agent.executor.wait_idle(10)
    agent.assignments()

    assert fleet.locate(VM1) == "b" and fleet.locate(VM2) == "a"
    progress = [b["percent"] for b in controller.bodies(r"POST /v1/actions/7/progress")]
    assert progress and progress == sorted(progress) and progress[0] >= 0 and progress[-1] < 100
    assert controller.bodies(r"POST /v1/actions/7/result") == [{"ok": True, "error": ""}]
    agent.stop()


def test_a_failed_migration_is_reported_as_failed(tmp_path: Path) -> None:
    fleet, clock, controller = setup(tmp_path)
    fleet.fail_next_migrations(VM1, message="link dropped")
    agent = agent_on(tmp_path, fleet, clock, controller)
    controller.assignments = [assignment(3, VM1)]
    agent.assignments()
    assert agent.executor.wait_idle(10)
    agent.assignments()
    [result] = controller.bodies(r"POST /v1/actions/3/result")
    assert result["ok"] is False and "link dropped" in result["error"]
    assert fleet.locate(VM1) == "a"
    agent.stop()


def test_a_running_action_is_not_started_twice(tmp_path: Path) -> None:
    fleet, clock, controller = setup(tmp_path)
    gated = GatedHypervisor(fleet, "a")
    agent = agent_on(tmp_path, fleet, clock, controller, gated)
    controller.assignments = [assignment(5, VM1)]
    agent.assignments()
    assert gated.entered.wait(10)
    agent.assignments()
    agent.assignments()
    assert agent.executor.leaving() == {VM1}
    gated.gate.set()
    assert agent.executor.wait_idle(10)
    agent.assignments()
    agent.assignments()
    assert gated.calls == [VM1]
    assert len(controller.bodies(r"POST /v1/actions/5/result")) == 1
    assert len(fleet.migration_history()) == 1
    agent.stop()


def test_concurrency_is_capped_by_the_configuration(tmp_path: Path) -> None:
    fleet, clock, controller = setup(tmp_path)
    gated = GatedHypervisor(fleet, "a")
    agent = Agent(
        config_for(tmp_path, max_concurrent_migrations=1),
        hypervisor=gated,
        clock=clock,
        transport=httpx.MockTransport(controller.handle),
    )
    agent.pre_start()
    controller.assignments = [assignment(1, VM1), assignment(2, VM2)]
    agent.assignments()
    assert gated.entered.wait(10)
    assert gated.calls == [VM1]
    gated.gate.set()
    assert agent.executor.wait_idle(10)
    agent.assignments()  # reports action 1, starts action 2
    assert agent.executor.wait_idle(10)
    agent.assignments()
    assert gated.calls == [VM1, VM2]
    assert fleet.locate(VM1) == fleet.locate(VM2) == "b"
    agent.stop()


def interrupted_journal(tmp_path: Path, action_id: int, vm: str) -> None:
    """What an agent leaves behind when it dies right after starting a migration."""
    journal = ActionJournal(JsonFile(tmp_path / "actions.json", JournalState))
    journal.start(action_id, vm, "b")


def test_after_a_restart_a_completed_move_is_reported_without_running_it_again(
    tmp_path: Path,
) -> None:
    fleet, clock, controller = setup(tmp_path)
    interrupted_journal(tmp_path, 9, VM1)
    fleet.start_migration(VM1, "b")  # carried on by the hypervisor while the agent was down
    clock.advance(30.0)
    gated = GatedHypervisor(fleet, "a")
    gated.gate.set()
    controller.assignments = [assignment(9, VM1)]
    agent = agent_on(tmp_path, fleet, clock, controller, gated)
    agent.assignments()
    agent.assignments()
    assert gated.calls == []
    [result] = controller.bodies(r"POST /v1/actions/9/result")
    assert result["ok"] is True and "left this host" in result["error"]
    agent.stop()


def test_after_a_restart_a_move_that_never_happened_is_reported_failed(tmp_path: Path) -> None:
    fleet, clock, controller = setup(tmp_path)
    interrupted_journal(tmp_path, 4, VM1)
    gated = GatedHypervisor(fleet, "a")
    gated.gate.set()
    controller.assignments = [assignment(4, VM1)]
    agent = agent_on(tmp_path, fleet, clock, controller, gated)
    agent.assignments()
    agent.assignments()
    assert gated.calls == []  # not started again blindly
    [result] = controller.bodies(r"POST /v1/actions/4/result")
    assert result["ok"] is False and "still on the source" in result["error"]
    assert fleet.locate(VM1) == "a"
    agent.stop()


def test_after_a_restart_a_move_still_under_way_is_awaited(tmp_path: Path) -> None:
    fleet, clock, controller = setup(tmp_path, bandwidth_mb_s=10.0)  # 100 s per move
    interrupted_journal(tmp_path, 6, VM1)
    fleet.start_migration(VM1, "b")
    controller.assignments = [assignment(6, VM1)]
    gated = GatedHypervisor(fleet, "a")
    gated.gate.set()
    agent = agent_on(tmp_path, fleet, clock, controller, gated)
    agent.assignments()
    assert controller.bodies(r"POST /v1/actions/6/result") == []
    clock.advance(120.0)
    agent.assignments()
    assert gated.calls == []
    assert [b["ok"] for b in controller.bodies(r"POST /v1/actions/6/result")] == [True]
    agent.stop()


def test_a_failed_action_assigned_again_is_retried(tmp_path: Path) -> None:
    fleet, clock, controller = setup(tmp_path)
    fleet.fail_next_migrations(VM1)
    agent = agent_on(tmp_path, fleet, clock, controller)
    controller.assignments = [assignment(8, VM1)]
    agent.assignments()
    assert agent.executor.wait_idle(10)
    agent.assignments()  # failure reported
    controller.assignments = [assignment(8, VM1)]  # the controller tries again
    agent.assignments()
    assert agent.executor.wait_idle(10)
    agent.assignments()
    assert [b["ok"] for b in controller.bodies(r"POST /v1/actions/8/result")] == [False, True]
    assert fleet.locate(VM1) == "b"
    agent.stop()


def test_results_owed_when_the_controller_was_down_are_sent_later(tmp_path: Path) -> None:
    fleet, clock, controller = setup(tmp_path)
    agent = agent_on(tmp_path, fleet, clock, controller)
    controller.assignments = [assignment(2, VM1)]
    agent.assignments()
    controller.down = True
    assert agent.executor.wait_idle(10)
    agent.assignments()
    clock.advance(30.0)  # past the back-off
    controller.down = False
    agent.stop()  # the agent restarts before the result got through
    again = agent_on(tmp_path, fleet, clock, controller)
    again.assignments()
    assert [
        b["ok"] for b in controller.bodies(r"POST /v1/actions/2/result", answered_only=True)
    ] == [True]
    again.stop()
