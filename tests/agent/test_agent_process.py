"""A real agent process on a shared simulated fleet, talking HTTP to a controller on loopback."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from fleetwise.agent.sim_fleet import FleetPlan, create_fleet
from fleetwise.drivers.hypervisor.shared_fleet import SharedFleet
from tests.helpers.agent import TOKEN, FakeController, LoopbackController


def wait_for(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def controller() -> Iterator[LoopbackController]:
    server = LoopbackController(FakeController())
    yield server
    server.close()


@pytest.mark.timeout(90)
def test_agent_process_registers_reports_migrates_and_stops_on_sigterm(
    tmp_path: Path, controller: LoopbackController
) -> None:
    fleet_path = tmp_path / "fleet.db"
    create_fleet(fleet_path, FleetPlan(hosts=2, vms=4, day="20110306", speedup=1000.0)).close()

    config = tmp_path / "agent.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "host": "host1",
                "controller_url": controller.url,
                "agent_token": TOKEN,
                "state_dir": str(tmp_path / "state"),
                "hypervisor": {"kind": "simulated", "fleet_path": str(fleet_path)},
                # Real seconds (the fleet runs 1000 times faster): collect every 300
                # simulated seconds.
                "intervals": {
                    "collect_s": 0.3,
                    "heartbeat_s": 0.1,
                    "assignment_poll_s": 0.1,
                    "delivery_s": 0.05,
                },
            }
        )
    )
    agent = subprocess.Popen(
        [sys.executable, "-m", "fleetwise", "agent", "--config", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    fake = controller.fake
    try:
        assert wait_for(lambda: len(fake.routes(r"POST /v1/agents/host1/samples")) >= 2, 30)
        [registration] = fake.bodies(r"PUT /v1/agents/host1")
        assert registration["hypervisor_uri"] == "sim://host1" and len(registration["vms"]) == 2

        fleet = SharedFleet.open(fleet_path)
        vm = fleet.placement()["host1"][0]
        fake.assignments = [
            {
                "action_id": 1,
                "vm_uuid": vm,
                "destination_host": "host2",
                "destination_uri": "sim://host2",
                "timeout_s": 600,
            }
        ]
        assert wait_for(lambda: bool(fake.routes(r"POST /v1/actions/1/result")), 30)
        assert fake.bodies(r"POST /v1/actions/1/result") == [{"ok": True, "error": ""}]
        assert fleet.locate(vm) == "host2"
        fleet.close()
    finally:
        agent.send_signal(signal.SIGTERM)
        _out, err = agent.communicate(timeout=30)
    assert agent.returncode == 0, err
    assert "service stopped" in err
    assert TOKEN not in err
    assert (tmp_path / "state" / "history.json").exists()
