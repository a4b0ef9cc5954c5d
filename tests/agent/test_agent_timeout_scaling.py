"""Real seconds scaled to the agent's clock: its intervals and an assignment's time-out."""

from __future__ import annotations

import random
from pathlib import Path

import httpx
import pytest

from fleetwise.agent.service import Agent
from fleetwise.service.clock import VirtualClock
from tests.helpers.agent import (
    VM1,
    FakeController,
    config_for,
    make_agent,
    trace_vm,
    two_host_fleet,
)


def test_intervals_are_real_seconds_scaled_by_the_clock_speed(tmp_path: Path) -> None:
    # A fleet 300 times faster than real time: collecting every real second covers one
    # 300 s step of the traces, which is also the detectors' time step.
    clock = VirtualClock()
    config = config_for(
        tmp_path,
        intervals={"collect_s": 1, "heartbeat_s": 5, "assignment_poll_s": 0.5, "delivery_s": 2},
    )
    agent = Agent(
        config,
        hypervisor=two_host_fleet(clock).hypervisor("a"),
        clock=clock,
        transport=httpx.MockTransport(FakeController().handle),
        clock_speed=300.0,
    )
    spacing = {task.name: task.spacing for task in agent.periodic_schedule()}
    assert spacing == {
        "collect": 300.0,
        "heartbeat": 1500.0,
        "assignments": 150.0,
        "deliver": 600.0,
    }
    assert agent.decider._manager.config.time_step_s == 300.0
    assert config.local_manager.time_step_s == 1.0  # the configuration itself is unchanged
    agent.stop()


def test_on_a_real_clock_intervals_are_used_as_given(tmp_path: Path) -> None:
    clock = VirtualClock()
    agent = make_agent(config_for(tmp_path), two_host_fleet(clock), clock, FakeController())
    spacing = {task.name: task.spacing for task in agent.periodic_schedule()}
    assert spacing == {"collect": 300.0, "heartbeat": 30.0, "assignments": 5.0, "deliver": 1.0}
    assert agent.decider._manager.config.time_step_s == 300.0
    agent.stop()


@pytest.mark.parametrize(("clock_speed", "moved"), [(30.0, True), (1.0, False)])
def test_migration_time_out_follows_the_clock_speed(
    tmp_path: Path, clock_speed: float, moved: bool
) -> None:
    # The move takes 100 clock seconds (1000 MB at 10 MB/s); the controller allows 10
    # real seconds, which is 300 clock seconds on a clock running 30 times faster.
    clock = VirtualClock()
    fleet = two_host_fleet(clock, bandwidth_mb_s=10.0)
    fleet.add_vm("a", trace_vm(VM1, [0.3], ram_mb=1000))
    controller = FakeController()
    agent = Agent(
        config_for(tmp_path),
        hypervisor=fleet.hypervisor("a"),
        clock=clock,
        transport=httpx.MockTransport(controller.handle),
        rng=random.Random(1),
        clock_speed=clock_speed,
    )
    agent.pre_start()
    controller.assignments = [
        {
            "action_id": 1,
            "vm_uuid": VM1,
            "destination_host": "b",
            "destination_uri": "sim://b",
            "timeout_s": 10.0,
        }
    ]
    agent.assignments()
    assert agent.executor.wait_idle(10)
    agent.assignments()
    [result] = controller.bodies(r"POST /v1/actions/1/result")
    assert result["ok"] is moved
    assert fleet.locate(VM1) == ("b" if moved else "a")
    if not moved:
        assert "timed_out" in result["error"]
    agent.stop()
