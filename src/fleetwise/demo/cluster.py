"""A controller and one agent per host of a shared simulated fleet, as local processes.

:class:`LocalCluster` writes every configuration file into its state directory (fresh
tokens, each agent with its own, kept in files readable by the owner only), listens
on a free loopback port, and starts, stops, kills and restarts its members. The
controller controls the hosts' power through the fleet file, so a host it puts to
sleep is asleep for its agent too.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from fleetwise.api.client import AdminClient
from fleetwise.controller.tokens import DEFAULT_LOG2_N, generate_token, hash_token
from fleetwise.demo.processes import (
    DEFAULT_GRACE_S,
    ManagedProcess,
    ProcessGroup,
    fleetwise_command,
)
from fleetwise.errors import DriverError

__all__ = [
    "CONTROLLER",
    "ClusterSettings",
    "LocalCluster",
    "admin_http",
    "controller_answers",
    "deep_merge",
    "free_port",
]

CONTROLLER = "controller"
"""Name of the controller process in the cluster's process group."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def controller_answers(client: httpx.Client) -> bool:
    """Whether the controller behind ``client`` (its base URL and admin token set)
    answers ``GET /v1/health`` with 200."""
    try:
        return client.get("/v1/health").status_code == 200
    except httpx.HTTPError:
        return False


def admin_http(url: str, token: str, timeout_s: float = 2.0) -> httpx.Client:
    """An HTTP client of the controller at ``url`` that sends the admin token."""
    return httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout_s
    )


def deep_merge(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``overrides`` applied; nested mappings are merged key by key."""
    merged = dict(base)
    for key, value in overrides.items():
        old = merged.get(key)
        if isinstance(old, Mapping) and isinstance(value, Mapping):
            merged[key] = deep_merge(old, value)
        else:
            merged[key] = value
    return merged


@dataclass(frozen=True)
class ClusterSettings:
    """What to run: the fleet file, its hosts and configuration overrides.

    ``controller`` and ``agent`` are merged into every controller and agent
    configuration, ``agents`` into the named host's only. ``power`` is the
    controller's ``power_default`` (default: the fleet file itself).
    """

    fleet_path: Path
    hosts: Sequence[str]
    state_dir: Path
    controller: Mapping[str, Any] = field(default_factory=dict)
    agent: Mapping[str, Any] = field(default_factory=dict)
    agents: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    power: Mapping[str, Any] | None = None
    database_url: str | None = None
    token_cost: int = DEFAULT_LOG2_N
    port: int | None = None


class LocalCluster:
    """The processes of one local cluster and their configuration files."""

    def __init__(self, settings: ClusterSettings) -> None:
        self.settings = settings
        self.state_dir = settings.state_dir
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.port = settings.port if settings.port is not None else free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.processes = ProcessGroup()
        self.admin_token = generate_token()
        self._agent_tokens = {host: generate_token() for host in settings.hosts}
        self.controller_config = self._write_controller_config()
        self.agent_configs = {host: self._write_agent_config(host) for host in settings.hosts}

    # -- configuration ---------------------------------------------------------------

    def _secret_file(self, name: str, secret: str) -> Path:
        path = self.state_dir / "tokens" / name
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(secret + "\n")
        return path

    def _write_yaml(self, name: str, data: Mapping[str, Any]) -> Path:
        path = self.state_dir / name
        path.write_text(yaml.safe_dump(dict(data), sort_keys=False), encoding="utf-8")
        return path

    def _write_controller_config(self) -> Path:
        settings = self.settings
        cost = settings.token_cost
        power = settings.power
        if power is None:
            power = {"driver": "shared-fleet", "fleet_path": str(settings.fleet_path)}
        base: dict[str, Any] = {
            "state_dir": str(self.state_dir / CONTROLLER),
            "listen": {"host": "127.0.0.1", "port": self.port},
            "admin_token_hash": str(hash_token(self.admin_token, log2_n=cost)),
            "hosts": [
                {"name": host, "token_hash": str(hash_token(token, log2_n=cost))}
                for host, token in self._agent_tokens.items()
            ],
            "power_default": dict(power),
        }
        if settings.database_url is not None:
            base["database_url"] = settings.database_url
        return self._write_yaml("controller.yaml", deep_merge(base, settings.controller))

    def _write_agent_config(self, host: str) -> Path:
        settings = self.settings
        base: dict[str, Any] = {
            "host": host,
            "controller_url": self.url,
            "agent_token_file": str(self._secret_file(host, self._agent_tokens[host])),
            "state_dir": str(self.state_dir / "agents" / host),
            "hypervisor": {"kind": "simulated", "fleet_path": str(settings.fleet_path)},
        }
        merged = deep_merge(deep_merge(base, settings.agent), settings.agents.get(host, {}))
        return self._write_yaml(f"agent-{host}.yaml", merged)

    def log_path(self, name: str) -> Path:
        """Where process ``name`` writes its log."""
        return self.state_dir / "logs" / f"{name}.log"

    def command(self, name: str) -> list[str]:
        """The command line of process ``name`` (the controller or a host's agent)."""
        if name == CONTROLLER:
            return fleetwise_command("controller", "--config", str(self.controller_config))
        return fleetwise_command("agent", "--config", str(self.agent_configs[name]))

    # -- processes --------------------------------------------------------------------

    def start(self, ready_timeout_s: float = 60.0) -> None:
        """Start the controller, wait until it answers, then start every agent."""
        self.start_controller(ready_timeout_s)
        for host in self.settings.hosts:
            self.start_agent(host)

    def start_controller(self, ready_timeout_s: float = 60.0) -> ManagedProcess:
        """Start the controller and wait until its API answers."""
        process = self.processes.start(
            CONTROLLER, self.command(CONTROLLER), self.log_path(CONTROLLER)
        )
        self.wait_ready(ready_timeout_s)
        return process

    def start_agent(self, host: str) -> ManagedProcess:
        """Start the agent of ``host``."""
        return self.processes.start(host, self.command(host), self.log_path(host))

    def controller(self) -> ManagedProcess:
        return self.processes.get(CONTROLLER)

    def agent(self, host: str) -> ManagedProcess:
        return self.processes.get(host)

    def wait_ready(self, timeout_s: float) -> None:
        """Wait until ``GET /v1/health`` answers 200; DriverError if the controller died."""
        deadline = time.monotonic() + timeout_s
        with admin_http(self.url, self.admin_token) as client:
            while time.monotonic() < deadline:
                if not self.controller().running():
                    tail = self.controller().log_text()[-2000:]
                    raise DriverError(f"the controller exited while starting:\n{tail}")
                if controller_answers(client):
                    return
                time.sleep(0.1)
        raise DriverError(f"the controller did not answer within {timeout_s:g} s")

    def stop(self, grace_s: float = DEFAULT_GRACE_S) -> dict[str, int | None]:
        """Stop every process (agents and controller together); their exit statuses."""
        return self.processes.stop(grace_s=grace_s)

    def admin(self, timeout_s: float = 10.0) -> AdminClient:
        """A client of the admin API (close it after use)."""
        return AdminClient(self.url, self.admin_token, timeout_s)

    def agent_token(self, host: str) -> str:
        """The token of ``host``'s agent."""
        return self._agent_tokens[host]
