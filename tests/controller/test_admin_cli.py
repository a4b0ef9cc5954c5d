"""``fleetwise hosts|vms|plans`` against a real controller process over loopback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from tests.helpers.controller import (
    ADMIN_TOKEN,
    agent_token,
    free_port,
    start_controller_process,
    token_hashes,
    vm,
)


@pytest.fixture(scope="module")
def controller(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("admin-cli")
    admin, agents = token_hashes()
    h1_hash = dict(agents)["h1"]
    port = free_port()
    config = tmp / "controller.yaml"
    config.write_text(
        f"state_dir: {tmp / 'state'}\n"
        f"listen: {{host: 127.0.0.1, port: {port}}}\n"
        f"admin_token_hash: '{admin}'\n"
        f"mode: recommend\n"
        f"hosts: [{{name: h1, token_hash: '{h1_hash}', power: {{driver: simulated}}}}]\n",
        encoding="utf-8",
    )
    base = f"http://127.0.0.1:{port}"
    process = start_controller_process(config, base)
    try:
        body = {
            "cpu_cores": 4,
            "core_mhz": 2000.0,
            "ram_mb": 8192,
            "hypervisor_uri": "qemu+tcp://h1/system",
            "vms": [vm(1), vm(2)],
        }
        agent = {"Authorization": f"Bearer {agent_token('h1')}"}
        assert httpx.put(f"{base}/v1/agents/h1", json=body, headers=agent).status_code == 200
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def _cli(
    base: str, *args: str, token: str | None = ADMIN_TOKEN
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEETWISE_")}
    env["FLEETWISE_URL"] = base
    env["COLUMNS"] = "200"
    if token is not None:
        env["FLEETWISE_TOKEN"] = token
    return subprocess.run(
        [sys.executable, "-m", "fleetwise", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_hosts_and_vms_are_listed(controller: str) -> None:
    hosts = _cli(controller, "hosts", "list")
    assert hosts.returncode == 0, hosts.stderr
    assert "1 hosts" in hosts.stdout and "h1" in hosts.stdout
    vms = _cli(controller, "vms", "list")
    assert vms.returncode == 0, vms.stderr
    assert "2 VMs" in vms.stdout


def test_maintenance_switches_on_and_off(controller: str) -> None:
    on = _cli(controller, "hosts", "maintenance", "h1", "on")
    assert on.returncode == 0 and "maintenance on" in on.stdout
    shown = _cli(controller, "hosts", "list")
    assert "yes" in shown.stdout
    off = _cli(controller, "hosts", "maintenance", "h1", "off")
    assert off.returncode == 0 and "maintenance off" in off.stdout


def test_plans_list_works_when_empty(controller: str) -> None:
    plans = _cli(controller, "plans", "list")
    assert plans.returncode == 0, plans.stderr
    assert "plans" in plans.stdout


@pytest.mark.parametrize(
    ("args", "token", "message"),
    [
        (("hosts", "list"), "wrong-token", "401"),
        (("hosts", "show", "nope"), ADMIN_TOKEN, "404"),
        (("hosts", "maintenance", "h1", "sideways"), ADMIN_TOKEN, "'on' or 'off'"),
        (("plans", "approve", "999"), ADMIN_TOKEN, "404"),
        (("vms", "list"), None, "no admin token"),
    ],
)
def test_errors_are_one_line_with_exit_2(
    controller: str, args: tuple[str, ...], token: str | None, message: str
) -> None:
    result = _cli(controller, *args, token=token)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
