"""IPMI power control against OpenIPMI's BMC simulator (ipmi_sim) on 127.0.0.1."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleetwise.drivers.power.base import PowerState
from fleetwise.drivers.power.ipmi import BmcAddress, IpmiPowerDriver
from fleetwise.errors import DriverError, ParameterError

pytest.importorskip("pyghmi", reason="pyghmi is not installed")
if shutil.which("ipmi_sim") is None:
    pytest.skip("ipmi_sim not found (Debian package openipmi)", allow_module_level=True)

USER, PASSWORD = "admin", "s3cret"

LAN_CONF = """\
name "fleetwise-test"
set_working_mc 0x20
  startlan 1
    addr 127.0.0.1 {port}
    priv_limit admin
    allowed_auths_callback none md2 md5 straight
    allowed_auths_user none md2 md5 straight
    allowed_auths_operator none md2 md5 straight
    allowed_auths_admin none md2 md5 straight
    guid a123456789abcdefa123456789abcdef
  endlan
  chassis_control "{chassis}"
  user 2 true "{user}" "{password}" admin 10 none md2 md5 straight
"""

EMU_COMMANDS = """\
mc_setbmc 0x20
mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr
mc_enable 0x20
"""

# The simulator runs "<prog> set power 1", "<prog> set shutdown 1" and "<prog> get power".
CHASSIS_SCRIPT = """\
#!/bin/sh
state="{state}"
case "$1" in
  set) shift
       while [ $# -ge 2 ]; do
         case "$1" in power) echo "$2" > "$state" ;; shutdown) echo 0 > "$state" ;; esac
         shift 2
       done ;;
  get) echo "power:$(cat "$state" 2>/dev/null || echo 0)" ;;
esac
"""


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def bmc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[BmcAddress, Path]]:
    work = tmp_path_factory.mktemp("ipmi")
    state = work / "power"
    chassis = work / "chassis.sh"
    chassis.write_text(CHASSIS_SCRIPT.format(state=state))
    chassis.chmod(0o755)
    port = free_udp_port()
    (work / "lan.conf").write_text(
        LAN_CONF.format(port=port, chassis=chassis, user=USER, password=PASSWORD)
    )
    (work / "emu.cmd").write_text(EMU_COMMANDS)
    (work / "state").mkdir()
    log = (work / "ipmi_sim.log").open("w")
    proc = subprocess.Popen(
        [
            "ipmi_sim",
            "-c",
            str(work / "lan.conf"),
            "-f",
            str(work / "emu.cmd"),
            "-s",
            str(work / "state"),
            "-n",
        ],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    address = BmcAddress("127.0.0.1", USER, PASSWORD, port=port)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                IpmiPowerDriver({"probe": address}).status("probe")
                break
            except DriverError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    pytest.skip(f"ipmi_sim did not come up: {(work / 'ipmi_sim.log').read_text()}")
                time.sleep(0.3)
        yield address, state
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_power_cycle_through_the_bmc(bmc: tuple[BmcAddress, Path]) -> None:
    address, state = bmc
    driver = IpmiPowerDriver({"node1": address})
    state.write_text("0\n")
    assert driver.status("node1") is PowerState.OFF
    driver.wake("node1")
    assert state.read_text().strip() == "1"
    assert driver.status("node1") is PowerState.ON
    driver.sleep("node1")  # soft-off by default
    assert driver.status("node1") is PowerState.OFF


def test_hard_off(bmc: tuple[BmcAddress, Path]) -> None:
    address, state = bmc
    state.write_text("1\n")
    driver = IpmiPowerDriver({"node1": address}, sleep_action="off")
    driver.sleep("node1")
    assert state.read_text().strip() == "0"


def test_wrong_password_is_a_driver_error_without_the_secret(
    bmc: tuple[BmcAddress, Path],
) -> None:
    address, _ = bmc
    wrong = BmcAddress(address.address, USER, "not-the-password", port=address.port)
    with pytest.raises(DriverError, match="cannot log in") as caught:
        IpmiPowerDriver({"node1": wrong}).status("node1")
    assert "not-the-password" not in str(caught.value)
    assert "not-the-password" not in repr(wrong)


def test_unknown_host_and_bad_settings_are_bad_input() -> None:
    address = BmcAddress("127.0.0.1", USER, PASSWORD)
    with pytest.raises(ParameterError, match="no BMC"):
        IpmiPowerDriver({"node1": address}).status("node2")
    with pytest.raises(ParameterError):
        IpmiPowerDriver({}, sleep_action="reboot")
    with pytest.raises(ParameterError):
        BmcAddress("127.0.0.1", USER, PASSWORD, port=70000)
