"""Wake-on-LAN packets (checked on loopback only) and the command-based sleep side."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleetwise.drivers.power.base import PowerState
from fleetwise.drivers.power.command import CommandTemplate
from fleetwise.drivers.power.wol import (
    WakeOnLanPowerDriver,
    WakeOnLanSender,
    magic_packet,
    parse_mac,
)
from fleetwise.errors import DriverError, ParameterError

MAC = "52:54:00:12:34:56"
MAC_BYTES = bytes([0x52, 0x54, 0x00, 0x12, 0x34, 0x56])


@pytest.fixture
def receiver() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(2.0)
    yield sock
    sock.close()


def test_magic_packet_layout() -> None:
    packet = magic_packet(MAC)
    assert len(packet) == 102
    assert packet[:6] == b"\xff" * 6
    assert [packet[6 + 6 * i : 12 + 6 * i] for i in range(16)] == [MAC_BYTES] * 16


@pytest.mark.parametrize("text", [MAC, MAC.upper(), "52-54-00-12-34-56", "525400123456"])
def test_mac_spellings(text: str) -> None:
    assert parse_mac(text) == MAC_BYTES


@pytest.mark.parametrize(
    "text",
    [
        "",
        "52:54:00:12:34",
        "52:54:00:12:34:56:78",
        "52:54-00:12:34:56",
        "zz:54:00:12:34:56",
        "ff:ff:ff:ff:ff:ff",
        "01:00:5e:00:00:01",
    ],
)
def test_bad_or_group_macs_are_rejected(text: str) -> None:
    with pytest.raises(ParameterError):
        parse_mac(text)


def test_packet_reaches_a_loopback_listener(receiver: socket.socket) -> None:
    port = receiver.getsockname()[1]
    driver = WakeOnLanPowerDriver(
        {"node1": MAC}, sender=WakeOnLanSender("127.0.0.1", port, repeat=2)
    )
    driver.wake("node1")
    received = [receiver.recvfrom(1024) for _ in range(2)]
    assert all(data == b"\xff" * 6 + MAC_BYTES * 16 for data, _ in received)
    assert all(addr[0] == "127.0.0.1" for _, addr in received)


def test_sender_validates_its_settings() -> None:
    with pytest.raises(ParameterError):
        WakeOnLanSender("not-an-ip")
    with pytest.raises(ParameterError):
        WakeOnLanSender("127.0.0.1", port=0)
    with pytest.raises(ParameterError):
        WakeOnLanSender("127.0.0.1", repeat=0)


def test_unknown_host_or_bad_mac_is_bad_input() -> None:
    with pytest.raises(ParameterError):
        WakeOnLanPowerDriver({"node1": "nonsense"})
    driver = WakeOnLanPowerDriver({"node1": MAC}, sender=WakeOnLanSender("127.0.0.1", 9))
    with pytest.raises(ParameterError, match="no MAC"):
        driver.wake("node2")


def test_sleep_runs_the_command_for_the_host(tmp_path: Path) -> None:
    marker = tmp_path / "asleep-{host}"
    driver = WakeOnLanPowerDriver(
        {"node1": MAC}, sleep_command=CommandTemplate(("touch", str(marker)), timeout_s=5)
    )
    driver.sleep("node1")
    assert (tmp_path / "asleep-node1").exists()


def test_failing_sleep_command_is_a_driver_error() -> None:
    template = CommandTemplate.parse("sh -c 'echo cannot suspend {host} >&2; exit 3'")
    driver = WakeOnLanPowerDriver({"node1": MAC}, sleep_command=template)
    with pytest.raises(DriverError, match=r"status 3: cannot suspend node1"):
        driver.sleep("node1")


def test_sleep_command_times_out_and_is_killed() -> None:
    # The shell's child keeps the output pipe open; the whole group must be killed.
    template = CommandTemplate.parse("sh -c 'sleep 30; true'", timeout_s=0.3)
    driver = WakeOnLanPowerDriver({"node1": MAC}, sleep_command=template)
    started = time.monotonic()
    with pytest.raises(DriverError, match=r"did not finish within 0\.3 s"):
        driver.sleep("node1")
    assert time.monotonic() - started < 5.0


def test_status_from_exit_code_or_unknown() -> None:
    def driver(status: CommandTemplate | None) -> WakeOnLanPowerDriver:
        return WakeOnLanPowerDriver({"node1": MAC}, status_command=status)

    assert driver(CommandTemplate(("true",))).status("node1") is PowerState.ON
    assert driver(CommandTemplate(("false",))).status("node1") is PowerState.OFF
    assert driver(None).status("node1") is PowerState.UNKNOWN
    slow = CommandTemplate(("sleep", "10"), timeout_s=0.2)
    assert driver(slow).status("node1") is PowerState.UNKNOWN


def test_default_sleep_command_is_ssh_suspend() -> None:
    argv = CommandTemplate.parse(
        "ssh -o BatchMode=yes -o ConnectTimeout=10 {host} systemctl suspend"
    ).render("node1")
    assert argv[-3:] == ["node1", "systemctl", "suspend"]


@pytest.mark.parametrize("host", ["-oProxyCommand=evil", "a b", "a;reboot", "", "x$(id)"])
def test_host_names_cannot_inject_arguments(host: str) -> None:
    with pytest.raises(ParameterError, match="host name"):
        CommandTemplate.parse("ssh {host} systemctl suspend").render(host)


def test_template_allows_only_the_host_placeholder() -> None:
    with pytest.raises(ParameterError, match="placeholder"):
        CommandTemplate.parse("ssh {user}@{host} true")
    with pytest.raises(ParameterError):
        CommandTemplate.parse("ssh 'unterminated")
    with pytest.raises(ParameterError):
        CommandTemplate(())


def test_missing_program_is_a_driver_error() -> None:
    template = CommandTemplate(("/nonexistent/fleetwise-sleep", "{host}"))
    with pytest.raises(DriverError, match="cannot run"):
        template.run("node1")
