"""Power control through a shared simulated fleet file (``driver: shared-fleet``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleetwise.agent.sim_fleet import FleetPlan, create_fleet
from fleetwise.controller.config import load_config
from fleetwise.controller.power import ConfiguredPower
from fleetwise.drivers.power.base import PowerState
from fleetwise.errors import DriverError, FleetwiseError, ParameterError
from tests.helpers.controller import make_config, token_hashes


def _no_mac(host: str) -> str | None:
    return None


def test_the_controller_sleeps_and_wakes_hosts_of_the_fleet_file(tmp_path: Path) -> None:
    path = tmp_path / "fleet.db"
    # The only VM runs on host1; host2 and host3 are empty.
    fleet = create_fleet(path, FleetPlan(hosts=3, vms=1, day="20110303", wake_latency_s=60.0))
    config = make_config(
        tmp_path, power_default={"driver": "shared-fleet", "fleet_path": str(path)}
    )
    power = ConfiguredPower(config, _no_mac)
    try:
        assert power.can_control("host2") and power.can_control("host3")
        driver = power.driver_for("host2")
        assert driver is not None
        driver.sleep("host2")
        # Another process's view of the same file (an agent's) sees the host asleep.
        assert fleet.power_status("host2") is PowerState.OFF
        with pytest.raises(DriverError, match="not reachable"):
            fleet.hypervisor("host2").list_vms()
        driver.wake("host2")
        assert driver.status("host2") is PowerState.OFF  # still waking
        fleet.advance_clock(60.0)
        assert driver.status("host2") is PowerState.ON
        assert fleet.hypervisor("host2").list_vms() == []
    finally:
        power.close()
        fleet.close()
    with pytest.raises(FleetwiseError, match="closed"):  # its fleet connection was released
        driver.status("host2")


def test_a_missing_fleet_file_is_a_configuration_error(tmp_path: Path) -> None:
    admin, _ = token_hashes()
    path = tmp_path / "controller.yaml"
    path.write_text(
        f"admin_token_hash: '{admin}'\n"
        f"power_default: {{driver: shared-fleet, fleet_path: {tmp_path / 'nowhere.db'}}}\n",
        encoding="utf-8",
    )
    with pytest.raises(ParameterError, match=r"power_default\.shared-fleet\.fleet_path: no fleet"):
        load_config(path)
