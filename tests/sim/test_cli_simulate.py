"""The ``fleetwise simulate`` command: results, outputs and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def _fleetwise(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fleetwise", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_npa_day_reports_closed_form_energy_and_writes_json_and_plot(tmp_path: Path) -> None:
    out_json = tmp_path / "npa.json"
    out_png = tmp_path / "npa.png"
    proc = _fleetwise(
        "simulate", "--day", "20110303", "--policy", "npa",
        "--json", str(out_json), "--plot", str(out_png),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "2410.80 kWh" in proc.stdout
    data = json.loads(out_json.read_text())
    # 400 G4 at 117 W + 400 G5 at 135 W, charged from 0 to the last tick at 86100.1 s.
    assert data["energy_kwh"] == pytest.approx(100_800 * 86_100.1 / 3.6e6, rel=1e-12)
    for key in ("migrations", "slatah", "pdm", "slav", "esv", "host_shutdowns", "sla_overall",
                "wall_seconds"):  # fmt: skip
        assert key in data
    assert data["migrations"] == 0
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--policy", "xyz-mmt-1.0"], "unknown overload detector 'xyz'"),
        (["--policy", "thr-mmt-1.7"], "out of range"),
        (["--policy", "lr-abc-1.2"], "unknown VM selection 'abc'"),
        (["--policy", "lr-mmt-high"], "is not a number"),
        (["--day", "19990101"], "unknown day '19990101'"),
        (["--model", "quantum", "--policy", "npa"], "unknown model 'quantum'"),
        (["--plot", "no/such/folder/day.png"], "the folder no/such/folder does not exist"),
        (["--json", "/"], "is a folder, not a file"),
    ],
)
def test_bad_input_gives_one_error_line_and_exit_2(args: list[str], message: str) -> None:
    proc = _fleetwise("simulate", *args)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ")
    assert message in lines[0]
    assert "Traceback" not in proc.stderr


def test_malformed_trace_folder_is_reported_with_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "vm-a").write_text("10\n20\n")
    (tmp_path / "vm-b").write_text("10\noops\n")
    proc = _fleetwise("simulate", "--traces", str(tmp_path), "--policy", "thr-mmt-0.8")
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert "vm-b:2" in proc.stderr and "Traceback" not in proc.stderr


def test_trace_folder_runs_end_to_end(tmp_path: Path) -> None:
    for i in range(6):
        (tmp_path / f"vm{i}").write_text("\n".join(str((i * 7 + k) % 60) for k in range(12)))
    out_json = tmp_path / "r.json"
    proc = _fleetwise(
        "simulate", "--traces", str(tmp_path), "--policy", "mad-mmt-2.5", "--json", str(out_json)
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out_json.read_text())
    assert data["vms"] == 6 and data["day"] == tmp_path.name
    assert data["energy_kwh"] > 0


def test_published_figures_come_with_the_reason_they_differ() -> None:
    proc = _fleetwise("simulate", "--day", "20110303", "--policy", "dvfs")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert any("613.60 kWh" in line for line in lines)  # the published DVFS median
    (gap,) = [line for line in lines if line.strip().startswith("published:")]
    assert "docs/simulation.md" in gap and len(gap) <= 120
    native = _fleetwise("simulate", "--model", "native", "--policy", "dvfs", "--day", "20110303")
    assert native.returncode == 0, native.stderr
    assert "published:" not in native.stdout
