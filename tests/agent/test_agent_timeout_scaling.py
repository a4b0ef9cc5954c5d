"""An assignment's time-out is in the controller's real seconds, scaled to the agent's clock."""

from __future__ import annotations

import random
from pathlib import Path

import httpx
import pytest

from fleetwise.agent.service import Agent
from fleetwise.service.clock import VirtualClock
from tests.helpers.agent import VM1, FakeController, config_for, trace_vm, two_host_fleet


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
