"""``fleetwise controller --config FILE`` as a process: serves over loopback, stops on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import httpx

from tests.helpers.controller import (
    ADMIN_TOKEN,
    agent_token,
    free_port,
    start_controller_process,
    token_hashes,
    vm,
)


def test_serves_the_api_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    admin, agents = token_hashes()
    agent_hash = dict(agents)["h1"]
    port = free_port()
    config = tmp_path / "controller.yaml"
    config.write_text(
        f"state_dir: {tmp_path / 'state'}\n"
        f"listen: {{host: 127.0.0.1, port: {port}}}\n"
        f"admin_token_hash: '{admin}'\n"
        f"hosts: [{{name: h1, token_hash: '{agent_hash}', power: {{driver: simulated}}}}]\n",
        encoding="utf-8",
    )
    base = f"http://127.0.0.1:{port}"
    process = start_controller_process(config, base, stderr=subprocess.PIPE)
    try:
        body = {
            "cpu_cores": 4,
            "core_mhz": 2000.0,
            "ram_mb": 8192,
            "hypervisor_uri": "qemu+tcp://h1/system",
            "vms": [vm(1)],
        }
        agent_headers = {"Authorization": f"Bearer {agent_token('h1')}"}
        response = httpx.put(f"{base}/v1/agents/h1", json=body, headers=agent_headers)
        assert response.status_code == 200 and response.json()["vms"] == 1
        assert response.json()["hypervisor_uri"] == "qemu+tcp://h1/system"
        assert httpx.get(f"{base}/metrics").status_code == 401
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert "controller stopped" in stderr
    assert ADMIN_TOKEN not in stderr and agent_token("h1") not in stderr
    assert (tmp_path / "state" / "controller.db").exists()
