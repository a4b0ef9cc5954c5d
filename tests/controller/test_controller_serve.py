"""``fleetwise controller --config FILE`` as a process: serves over loopback, stops on SIGTERM."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from controller_helpers import ADMIN_TOKEN, agent_token, token_hashes, vm


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_serves_the_api_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    admin, agents = token_hashes()
    agent_hash = dict(agents)["h1"]
    port = _free_port()
    config = tmp_path / "controller.yaml"
    config.write_text(
        f"state_dir: {tmp_path / 'state'}\n"
        f"listen: {{host: 127.0.0.1, port: {port}}}\n"
        f"admin_token_hash: '{admin}'\n"
        f"hosts: [{{name: h1, token_hash: '{agent_hash}', power: {{driver: simulated}}}}]\n",
        encoding="utf-8",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "fleetwise", "controller", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    admin_headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.communicate()[1]
            try:
                if httpx.get(f"{base}/v1/health", headers=admin_headers).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
            assert time.monotonic() < deadline, "the controller did not come up"
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
        assert httpx.get(f"{base}/metrics").status_code == 401
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert "controller stopped" in stderr
    assert ADMIN_TOKEN not in stderr and agent_token("h1") not in stderr
    assert (tmp_path / "state" / "controller.db").exists()
    assert "qemu+tcp://h1/system" in (tmp_path / "state" / "endpoints.json").read_text()
