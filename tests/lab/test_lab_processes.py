"""``fleetwise lab`` with real processes: up, status, the admin CLI, crash, kill, start, down."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from fleetwise.demo.cluster import admin_http
from fleetwise.lab.paths import LabPaths
from fleetwise.lab.prepare import prepare
from fleetwise.lab.record import LabShape, read_token
from tests.helpers.lab import collections_of, eventually, lab, lab_status, running

HOSTS = ("host1", "host2", "host3")


def _alive(state_dir: Path) -> dict[str, bool]:
    return {p["name"]: p["alive"] for p in lab_status(state_dir)["processes"]}


def _ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _refused_once(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, done.stdout + done.stderr
    [line] = done.stderr.splitlines()
    return line


def _break_config(path: Path, **settings: Any) -> None:
    config = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**config, **settings}))


class _Controller:
    """The lab's controller through its REST API, with the token from lab.env."""

    def __init__(self, state_dir: Path) -> None:
        status = lab_status(state_dir)
        token = read_token(LabPaths.of(state_dir))
        self.http = admin_http(status["url"], token, timeout_s=10.0)

    def get(self, path: str) -> Any:
        response = self.http.get(path)
        assert response.status_code == 200, response.text
        return response.json()

    def vm(self, uuid: str) -> dict[str, Any]:
        return next(vm for vm in self.get("/v1/vms") if vm["uuid"] == uuid)

    def last_heartbeat(self, host: str) -> datetime:
        return datetime.fromisoformat(self.get(f"/v1/hosts/{host}")["last_heartbeat"])


@pytest.fixture
def state_dir(tmp_path: Path) -> Any:
    """The lab's state directory; whatever happens, the lab is down afterwards."""
    path = tmp_path / "lab"
    yield path
    if (path / "lab.json").exists():
        lab(path, "down")


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_lab_from_up_to_down(state_dir: Path) -> None:
    out = _ok(lab(state_dir, "up", "--hosts", "3"))
    status = lab_status(state_dir)
    assert [(p["name"], p["role"], p["host"]) for p in status["processes"]] == [
        ("controller", "controller", None),
        *[(h, "agent", h) for h in HOSTS],
    ]
    assert all(p["alive"] for p in status["processes"])
    assert f"URL: {status['url']}" in out and f"source {state_dir}/lab.env" in out
    assert status["env_file"] == str(state_dir / "lab.env")
    assert state_dir.stat().st_mode & 0o777 == 0o700
    assert (state_dir / "lab.env").stat().st_mode & 0o777 == 0o600
    line = _refused_once(lab(state_dir, "up"))
    assert line.startswith(f"error: a lab is already running in {state_dir}")

    # The admin CLI works with what lab.env sets.
    shell = f". {state_dir}/lab.env && {sys.executable} -m fleetwise hosts list"
    listed = subprocess.run(["sh", "-c", shell], capture_output=True, text=True, check=False)
    assert listed.returncode == 0, listed.stderr
    assert all(host in listed.stdout for host in HOSTS) and "3 hosts" in listed.stdout

    # A VM crashes: its host's agent reports it gone.
    controller = _Controller(state_dir)
    vm = next(v for v in controller.get("/v1/vms") if v["host"] is not None)
    crashed = _ok(lab(state_dir, "crash", vm["uuid"]))
    host = crashed.split(" crashed on ")[1].split(";")[0]
    eventually(
        lambda: controller.vm(vm["uuid"])["state"] == "missing",
        f"the controller sees VM {vm['uuid']} missing",
        progress=collections_of(state_dir, host),
        steps=5,
    )
    assert controller.vm(vm["uuid"])["host"] is None
    assert "no VM" in _refused_once(lab(state_dir, "crash", vm["uuid"]))

    # An agent killed and started again registers again and keeps its history.
    busy = next(v["host"] for v in controller.get("/v1/vms") if v["host"] is not None)
    assert _ok(lab(state_dir, "kill", busy)).startswith(f"killed {busy} (pid ")
    assert _alive(state_dir) == {**dict.fromkeys(("controller", *HOSTS), True), busy: False}
    history = state_dir / "agents" / busy / "history.json"
    before = history.read_bytes()
    kept = len(json.loads(before)["hypervisor"])
    restarted_at = datetime.now(UTC)
    assert "it registered with the controller" in _ok(lab(state_dir, "start", busy))
    assert all(_alive(state_dir).values())
    assert controller.last_heartbeat(busy) >= restarted_at
    log = (state_dir / "logs" / f"{busy}.log").read_text()
    assert log.count("registered with the controller") == 2
    eventually(
        lambda: history.read_bytes() != before,
        f"{busy} collects again",
        progress=collections_of(state_dir, busy),
        steps=5,
    )
    assert len(json.loads(history.read_bytes())["hypervisor"]) >= min(kept, 2)

    # The controller killed and started again answers with its database.
    _ok(lab(state_dir, "kill", "controller"))
    assert not _alive(state_dir)["controller"]
    assert "it answers" in _ok(lab(state_dir, "start", "controller"))
    assert {h["name"] for h in controller.get("/v1/hosts")} == set(HOSTS)

    # Down stops every process and keeps the state; twice is fine.
    pids = [p["pid"] for p in lab_status(state_dir)["processes"]]
    assert "stopped controller, host1, host2, host3" in _ok(lab(state_dir, "down"))
    assert not any(running(pid) for pid in pids)
    assert not any(_alive(state_dir).values())
    assert all((state_dir / name).exists() for name in ("lab.json", "lab.env", "fleet.db"))
    assert "was running" in _ok(lab(state_dir, "down"))
    controller.http.close()


@pytest.mark.timeout(300)
def test_a_process_that_fails_to_start_is_named_and_nothing_is_left_running(
    state_dir: Path,
) -> None:
    paths = LabPaths.of(state_dir)
    prepare(paths, LabShape.of(hosts=2), created=paths.create())
    _break_config(state_dir / "controller.yaml", plan_round_spacing_s=-1)
    done = lab(state_dir, "up")
    assert done.returncode == 1, done.stdout + done.stderr
    [line] = done.stderr.splitlines()
    assert line.startswith("error: controller exited while starting (status 2): error: ")
    assert line.endswith(f"log: {state_dir}/logs/controller.log")
    assert not any(_alive(state_dir).values())


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_an_agent_that_fails_stops_the_whole_lab(state_dir: Path) -> None:
    paths = LabPaths.of(state_dir)
    prepare(paths, LabShape.of(hosts=2), created=paths.create())
    _break_config(state_dir / "agent-host2.yaml", history_length=1)
    done = lab(state_dir, "up")
    assert done.returncode == 1, done.stdout + done.stderr
    [line] = done.stderr.splitlines()
    assert line.startswith("error: host2 exited while starting (status 2): error: ")
    assert "history_length" in line
    assert not any(_alive(state_dir).values())
