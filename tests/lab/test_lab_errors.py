"""Bad input to ``fleetwise lab``: one ``error:`` line, exit status 2, nothing half-done."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleetwise.drivers.hypervisor.shared_fleet import SharedFleet
from fleetwise.lab.paths import LabPaths
from fleetwise.lab.prepare import prepare
from fleetwise.lab.record import LabShape
from tests.helpers.lab import lab


def _refused(state_dir: Path, *args: str) -> str:
    """Run the command; check it failed with exit 2 and one error line; that line."""
    done = lab(state_dir, *args)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stdout == ""
    [line] = done.stderr.splitlines()
    assert line.startswith("error: ")
    return line


@pytest.fixture
def stopped_lab(tmp_path: Path) -> Path:
    """A lab written but never started (two hosts, four VMs)."""
    paths = LabPaths.of(tmp_path / "lab")
    prepare(paths, LabShape.of(hosts=2), created=paths.create())
    return paths.root


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--hosts", "0"), "--hosts: Input should be greater than or equal to 1"),
        (("--speedup", "5000"), "--speedup: Input should be less than or equal to 1000"),
        (("--day", "19990101"), "unknown day"),
        (("--hosts", "1", "--vms", "9"), "do not fit into the RAM"),
    ],
)
def test_bad_options_leave_no_state_directory(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    state_dir = tmp_path / "lab"
    assert message in _refused(state_dir, "up", *args)
    assert not state_dir.exists()


def test_an_existing_empty_directory_stays_empty(tmp_path: Path) -> None:
    assert "unknown day" in _refused(tmp_path, "up", "--day", "19990101")
    assert list(tmp_path.iterdir()) == []


def test_unusable_state_directories(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert "cannot create the state directory" in _refused(blocker / "lab", "up")
    assert "is not a directory" in _refused(blocker, "up")
    assert "is not empty and holds no lab" in _refused(tmp_path, "up")
    assert blocker.read_text() == "x"


@pytest.mark.parametrize("command", ["status", "down", "kill host1", "start host1", "crash vm1"])
def test_commands_need_a_lab(tmp_path: Path, command: str) -> None:
    line = _refused(tmp_path / "none", *command.split())
    assert line == f"error: no lab in {tmp_path / 'none'}; start one with 'fleetwise lab up'"


def test_unknown_names_and_stopped_processes(stopped_lab: Path) -> None:
    known = "its processes: controller, host1, host2"
    assert _refused(stopped_lab, "kill", "host9").endswith(f"no process 'host9'; {known}")
    assert _refused(stopped_lab, "start", "nobody").endswith(f"no process 'nobody'; {known}")
    assert _refused(stopped_lab, "kill", "host1") == "error: host1 is not running"
    assert "no VM 'vm99'" in _refused(stopped_lab, "crash", "vm99")


def test_a_stopped_lab_is_resumed_only_in_its_own_shape(stopped_lab: Path) -> None:
    line = _refused(stopped_lab, "up", "--hosts", "3")
    assert line.startswith(f"error: the stopped lab in {stopped_lab} has --hosts 2, not 3;")
    line = _refused(stopped_lab, "up", "--speedup", "60")
    assert "has --speedup 300, not 60;" in line


def test_crash_removes_the_vm_from_the_fleet(stopped_lab: Path) -> None:
    fleet = SharedFleet.open(stopped_lab / "fleet.db")
    try:
        placement = fleet.placement()
        vm = placement["host2"][0]
        done = lab(stopped_lab, "crash", vm[:8])
        assert done.returncode == 0, done.stderr
        assert f"({vm}) crashed on host2" in done.stdout
        assert fleet.locate(vm) is None
        assert sum(len(v) for v in fleet.placement().values()) == 3
    finally:
        fleet.close()


def test_down_with_nothing_running_is_fine(stopped_lab: Path) -> None:
    for _ in range(2):
        done = lab(stopped_lab, "down")
        assert done.returncode == 0, done.stderr
        assert "was running" in done.stdout
