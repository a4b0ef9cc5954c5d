"""``fleetwise demo`` run non-interactively: it starts, reports, and leaves nothing behind."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from rich.console import Console

from fleetwise.api.schemas import FleetStats
from fleetwise.demo.observe import FleetStatus, HostRow, energy_figures
from fleetwise.demo.view import render, status_line

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

HOSTS = 3


def _command(state_dir: Path, duration: float) -> list[str]:
    return [
        sys.executable, "-m", "fleetwise", "demo",
        "--duration", str(duration), "--hosts", str(HOSTS), "--vms", "6",
        "--state-dir", str(state_dir),
    ]  # fmt: skip


def _processes_mentioning(text: str) -> list[int]:
    """PIDs of live processes whose command line contains ``text``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in cmdline:
            found.append(int(entry.name))
    return found


def _child_pids(output: str) -> list[int]:
    [started] = [line for line in output.splitlines() if line.startswith("started ")]
    return [int(pid) for pid in re.findall(r"\(pid (\d+)\)", started)]


def _check_ran_and_cleaned_up(output: str, state_dir: Path) -> None:
    assert f"started {HOSTS + 1} processes: controller (pid" in output
    assert len(_child_pids(output)) == HOSTS + 1
    assert f"stopped {HOSTS + 1} processes cleanly" in output
    assert "migrations:" in output and "energy (simulated time):" in output
    logs = state_dir / "logs"
    assert "controller starting" in (logs / "controller.log").read_text()
    for host in range(1, HOSTS + 1):
        assert "registered with the controller" in (logs / f"host{host}.log").read_text()
    # Each agent has a token of its own, kept private and never logged.
    tokens = [(state_dir / "tokens" / f"host{h}").read_text().strip() for h in range(1, HOSTS + 1)]
    assert len(set(tokens)) == HOSTS
    assert all(
        (state_dir / "tokens" / f"host{h}").stat().st_mode & 0o077 == 0 for h in range(1, HOSTS + 1)
    )
    everything = output + "".join(log.read_text() for log in logs.iterdir())
    assert not any(token in everything for token in tokens)
    leftovers = _processes_mentioning(str(state_dir))
    assert leftovers == []
    assert not set(_child_pids(output)) & set(leftovers)


def _inspect_with_the_admin_cli(output: str) -> None:
    """List the running demo's hosts with the URL and token it printed."""
    found = re.search(r"^controller: (\S+) \(admin token (\S+)\)$", output, re.MULTILINE)
    assert found is not None, output
    env = {**os.environ, "FLEETWISE_URL": found[1], "FLEETWISE_TOKEN": found[2]}
    listed = subprocess.run(
        [sys.executable, "-m", "fleetwise", "hosts", "list"],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    assert f"{HOSTS} hosts" in listed.stdout
    assert "source " in output and "lab.env; fleetwise hosts list" in output


def test_demo_runs_for_its_duration_and_stops_everything(tmp_path: Path) -> None:
    state_dir = tmp_path / "demo"
    done = subprocess.run(
        _command(state_dir, 6), capture_output=True, text=True, timeout=100, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    output = done.stdout
    status = [line for line in output.splitlines() if line.startswith("t=")]
    assert status, output
    assert re.search(r"awake=\d+ asleep=\d+ vms=6 migrations=\d+", status[-1])
    # By the end every host has registered: none is still "starting".
    assert "starting" not in status[-1] and status[-1].count("host") == HOSTS
    _check_ran_and_cleaned_up(output, state_dir)


def test_demo_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    state_dir = tmp_path / "demo"
    lines: queue.Queue[str] = queue.Queue()
    seen: list[str] = []
    with subprocess.Popen(
        _command(state_dir, 90), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as demo:
        stream = demo.stdout
        assert stream is not None

        def pump() -> None:
            for line in stream:
                lines.put(line)

        reader = threading.Thread(target=pump)
        reader.start()
        try:
            deadline = time.monotonic() + 60
            # Wait until every host is up, then press Ctrl-C.
            while not any(line.startswith("t=") and "starting" not in line for line in seen):
                assert time.monotonic() < deadline, "".join(seen)
                try:
                    seen.append(lines.get(timeout=1))
                except queue.Empty:
                    assert demo.poll() is None, "".join(seen)
            _inspect_with_the_admin_cli("".join(seen))
            demo.send_signal(signal.SIGINT)
            assert demo.wait(timeout=40) == 0
        finally:
            if demo.poll() is None:
                demo.kill()
            reader.join(10)
    while not lines.empty():
        seen.append(lines.get())
    output = "".join(seen)
    assert "stopping the agents and the controller" in output
    _check_ran_and_cleaned_up(output, state_dir)


def test_energy_figures_and_the_live_view() -> None:
    # Half of the host time asleep at 10 W instead of 200 W saves 47.5 %.
    stats = FleetStats(
        hosts_by_state={"active": 1, "asleep": 1},
        vms=3,
        migrations_total=2,
        aotf=0.0,
        aitf=0.5,
        estimated_energy_kwh=0.001,
    )
    energy = energy_figures(stats, speedup=300.0, active_w=200.0, asleep_w=10.0)
    assert energy.kwh == pytest.approx(0.3)
    assert energy.saving == pytest.approx(0.475)
    status = FleetStatus(
        sim_s=2 * 3600 + 5 * 60,
        hosts=(HostRow("n1", "active", 3, 91.0), HostRow("n2", "asleep", 0, None)),
        vms=3,
        migrations=2,
        plans={"succeeded": 1},
        energy=energy,
        controller_ok=True,
    )
    console = Console(record=True, width=100, color_system=None)
    console.print(render(status, elapsed_s=12, duration_s=60, speedup=300))
    text = console.export_text()
    assert "simulated 02:05 (300× real time), real 12 / 60 s" in text
    assert "1 awake, 1 asleep of 2; 3 VMs" in text
    assert "0.30 kWh vs 0.57 kWh all awake (48% saved)" in text
    assert re.search(r"n1\s+│ awake\s+│\s+3 │ 91%", text)
    assert re.search(r"n2\s+│ asleep\s+│\s+0 │\s+│", text)
    line = status_line(status, elapsed_s=12)
    assert line.startswith("t=12s sim=02:05 awake=1 asleep=1 vms=3 migrations=2 plans=1 |")
    assert line.endswith("n1:awake/3vm/91% n2:asleep/0vm")
