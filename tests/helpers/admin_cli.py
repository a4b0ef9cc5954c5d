"""A controller process with a small registered fleet, and the admin CLI run against it.

:func:`admin_fleet` starts ``fleetwise controller`` on loopback (SQLite in a temporary
state directory, simulated power), registers each host's agent with its VMs and two CPU
samples of each VM, and hands back an :class:`AdminFleet` to run ``fleetwise …`` as an
operator does (a fresh process, ``FLEETWISE_URL``/``FLEETWISE_TOKEN``, a terminal of
``COLUMNS`` width) and to compare its answers with the API's.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from fleetwise.store import Store, sqlite_url
from tests.helpers.controller import (
    ADMIN_TOKEN,
    agent_token,
    free_port,
    start_controller_process,
    token_hashes,
    vm,
    vm_uuid,
)

__all__ = ["AdminFleet", "admin_fleet", "fields", "one_error_line", "shown"]

Layout = Mapping[str, Mapping[int, float]]
"""Host → its VMs (numbers, see :func:`~tests.helpers.controller.vm`) → CPU use in MHz."""


@dataclass(frozen=True)
class AdminFleet:
    """A running controller at ``base`` with its state in ``state_dir``."""

    base: str
    state_dir: Path

    def cli(
        self, *args: str, columns: int = 200, token: str | None = ADMIN_TOKEN
    ) -> subprocess.CompletedProcess[str]:
        """Run ``fleetwise ARGS`` against this controller in a terminal ``columns`` wide."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLEETWISE_")}
        env["FLEETWISE_URL"] = self.base
        env["COLUMNS"] = str(columns)
        if token is not None:
            env["FLEETWISE_TOKEN"] = token
        return subprocess.run(
            [sys.executable, "-m", "fleetwise", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )

    def out(self, *args: str, columns: int = 200) -> str:
        """What ``fleetwise ARGS`` prints; it must succeed without a word on stderr."""
        result = self.cli(*args, columns=columns)
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""
        return result.stdout

    def json(self, *args: str) -> Any:
        """The JSON ``fleetwise ARGS --json`` prints (nothing else on stdout)."""
        return json.loads(self.out(*args, "--json"))

    def api(self, method: str, path: str, body: Any = None, *, host: str | None = None) -> Any:
        """Call the API as the admin (or as ``host``'s agent); it must succeed."""
        token = ADMIN_TOKEN if host is None else agent_token(host)
        response = httpx.request(
            method,
            f"{self.base}{path}",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert response.status_code < 300, (response.status_code, response.text)
        return response.json() if response.content else None

    def store(self) -> Store:
        """The controller's database, opened beside it (close it after use)."""
        return Store.open(sqlite_url(self.state_dir / "controller.db"), migrate=False)

    def register(self, host: str, vms: Mapping[int, float]) -> None:
        """Register ``host``'s agent with ``vms`` and report two samples of their CPU use."""
        body = {
            "cpu_cores": 4,
            "core_mhz": 2000.0,
            "ram_mb": 8192,
            "hypervisor_uri": f"qemu+tcp://{host}/system",
            "vms": [vm(n) for n in vms],
        }
        self.api("PUT", f"/v1/agents/{host}", body, host=host)
        now = datetime.now(UTC)
        for age_s in (1, 0):
            sample = {
                "taken_at": (now - timedelta(seconds=age_s)).isoformat(),
                "host_cpu_mhz": sum(vms.values()),
                "hypervisor_mhz": 0.0,
                "vms": [{"uuid": vm_uuid(n), "cpu_mhz": mhz} for n, mhz in vms.items()],
            }
            self.api("POST", f"/v1/agents/{host}/samples", sample, host=host)


@contextmanager
def admin_fleet(tmp: Path, layout: Layout, **settings: object) -> Iterator[AdminFleet]:
    """A controller in ``mode: recommend`` knowing the hosts of ``layout``, each with
    simulated power, registered with its VMs. ``settings`` are more configuration keys;
    planning rounds only run when asked for and silent agents stay heard for an hour
    (``plan_round_spacing_s``, ``heartbeat_timeout_s``), however slow the machine."""
    admin, agents = token_hashes()
    hashes = dict(agents)
    port = free_port()
    config = {
        "state_dir": str(tmp / "state"),
        "listen": {"host": "127.0.0.1", "port": port},
        "admin_token_hash": admin,
        "mode": "recommend",
        "plan_round_spacing_s": 3600,
        "heartbeat_timeout_s": 3600,
        "hosts": [
            {"name": h, "token_hash": hashes[h], "power": {"driver": "simulated"}} for h in layout
        ],
        **settings,
    }
    path = tmp / "controller.yaml"
    path.write_text(json.dumps(config, indent=2), encoding="utf-8")  # JSON is YAML
    base = f"http://127.0.0.1:{port}"
    process = start_controller_process(path, base)
    try:
        fleet = AdminFleet(base, tmp / "state")
        for host, vms in layout.items():
            fleet.register(host, vms)
        yield fleet
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)


def one_error_line(result: subprocess.CompletedProcess[str], status: int) -> str:
    """The one ``error:`` line a failed command printed (nothing on stdout), its status
    being ``status``."""
    assert result.returncode == status, (result.returncode, result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def fields(out: str) -> dict[str, str]:
    """The key/value lines a ``show`` command printed (key and value two spaces apart)."""
    pairs = (re.split(r"\s{2,}", line.strip(), maxsplit=1) for line in out.splitlines())
    return {pair[0]: pair[1] for pair in pairs if len(pair) == 2}


def shown(moment: str | None) -> str:
    """How the CLI shows a time the API gave: UTC to the second, ``-`` for none."""
    if moment is None:
        return "-"
    return datetime.fromisoformat(moment).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
